//! # hakmem
//!
//! A pure-Rust general-purpose memory allocator, built from isolated **boxes** — one module each,
//! one job and one boundary each — whose concurrency is model-checked with loom.
//!
//! ```no_run
//! #[global_allocator]
//! static GLOBAL: hakmem::HakMem = hakmem::HakMem;
//! ```
//!
//! ## Boxes, in dependency order (a module uses only those above it)
//! 1. `config`, `sync`, `os`, `debug`, `env`, `stats`, `trace`, `valgrind` — constants and A/B
//!    switches; the loom shim; the OS contract; fail-fast messages; runtime switches; counters;
//!    the event ring; memcheck requests.
//! 2. `purge` — the decay clock: when emptied memory goes back to the OS.
//! 3. `size_class` — request size → class.
//! 4. `slab::block` — the link word inside free blocks.
//! 5. `remote` — the per-slab remote-free queue and the owner's notification word.
//! 6. `slab` — slab metadata, SuperSlab header, per-block header (header mode).
//! 7. `registry` — address → region, lock-free, no allocation.
//! 8. `meta`, `pool` — metadata memory; the slab supply (SuperSlab map/retire/reuse).
//! 9. `adopt` — publish lists, adoption and the reclaim pass.
//! 10. `large` — mappings for sizes above the classes.
//! 11. `front` — TLS SLL, magazine refill/spill, hint cache, thread heaps, alloc/free paths.
//! 12. `global` (`HakMem`), `raw` (C semantics for the preload crate).
//!
//! See docs/design.md for invariants, the slab life cycle and the orderings.
#![deny(unsafe_op_in_unsafe_fn)]
// Under loom only the modelled boxes are used; the rest of the crate is compiled but idle.
#![cfg_attr(hakmem_loom, allow(dead_code, unused_imports))]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod config;
mod debug;
mod env;
mod hook;
mod msg;
mod os;
mod size_class;
mod stats;
mod sync;
mod trace;
mod valgrind;

mod purge;

pub mod remote;
pub mod slab;

pub mod adopt;
#[cfg(not(hakmem_loom))]
mod fork;
#[cfg(not(hakmem_loom))]
mod front;
#[cfg(not(hakmem_loom))]
mod global;
/// Under loom only the boxes the models exercise are compiled; the hint box is one of them.
#[cfg(hakmem_loom)]
#[path = "front/hint.rs"]
pub mod hint;
#[cfg(not(hakmem_loom))]
mod large;
#[cfg(not(hakmem_loom))]
mod meta;
#[cfg(not(hakmem_loom))]
mod pool;
#[cfg(not(hakmem_loom))]
pub mod raw;
#[cfg(not(hakmem_loom))]
mod registry;
#[cfg(not(hakmem_loom))]
#[doc(hidden)]
pub mod testing;

pub use env::Switches;
#[cfg(not(hakmem_loom))]
pub use global::HakMem;
#[cfg(feature = "fault-injection")]
pub use os::fault;
pub use stats::Stats;

/// A snapshot of every counter, summed over all threads (exited ones included). All zero without
/// the `stats` feature.
#[cfg(not(hakmem_loom))]
pub fn stats() -> Stats {
    stats::snapshot(|f| front::thread::for_each_heap(|h| f(&h.counters)))
}

/// Writes the recent-event ring to stderr (events are recorded with `trace`, `checked`, and in
/// debug builds).
pub fn dump_events() {
    trace::dump();
}

/// The effective runtime switches (environment read at the first allocation, see `env`).
pub fn switches() -> Switches {
    env::switches()
}

/// Flushes the calling thread's caches back to their slabs, gives emptied slabs (the thread's own
/// and those of exited threads) back to the pool, and returns the pages of free slabs and retired
/// SuperSlabs to the OS. Like `mi_collect(true)`; never needed for correctness.
#[cfg(not(hakmem_loom))]
pub fn collect() {
    front::thread::flush_current();
    front::magazine::reclaim(usize::MAX);
    pool::decommit_free();
}
