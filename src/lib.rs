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
//! ## Boxes, in dependency order (a module uses only those listed before it)
//! 1. `config`, `sync`, `mutant`, `list`, `tls_slot`, `hook`, `os`, `msg`, `trace`, `lock`,
//!    `fork`, `debug`, `env`, `valgrind` — constants and A/B switches; the loom shim; the loom
//!    models' seeded mutants; the intrusive doubly-linked list (and the profiler's lock-free
//!    publication words: push-only list, once-installed pointer, sealed word); initial-exec
//!    TLS words; test hooks; the OS contract; the allocation-free message writer; the event
//!    ring; the lock (ranks, checker, fork takeover); the atfork handler; fail-fast reports;
//!    runtime switches; memcheck requests.
//! 2. `size_class` — request size → class.
//! 3. `stats` — the counters (some per class).
//! 4. `purge` — the decay clock: when emptied memory goes back to the OS.
//! 5. `slab::block` — the link word inside free blocks.
//! 6. `remote` — the per-slab remote-free queue and the owner's notification word.
//! 7. `slab` — slab metadata, SuperSlab header, per-block header (header mode).
//! 8. `registry` — address → region, lock-free, no allocation.
//! 9. `meta`, `pool` — metadata memory; the slab supply (SuperSlab map/retire/reuse).
//! 10. `adopt` — publish lists, adoption and the reclaim pass.
//! 11. `prof` — the sampled heap profiler: countdown, stack capture, sampled blocks' records,
//!     output.
//! 12. `large`, `span`, `background` — mappings for sizes above the classes and their cache; the
//!     memory of the medium classes (one mapping per span, a `Slab` in its header, a cache of
//!     empty spans); the optional purger thread.
//! 13. `locate` — address → the region holding it (small slab and class, medium span, large or
//!     sampled block).
//! 14. `front::mark`, `front::tls_sll`, `front::tls_limit`, `front::hint`, `front::owned`,
//!     `front::remote_batch`, `front::heap`, `front::small`, `front::foreign`, `front::profiling`,
//!     `front::medium`, `front::thread`, `front::free`, `front::alloc` — the thread front end: the
//!     freed-block mark's key, TLS SLL, TLS caps that grow with use, hint cache, owned-slab table, remote-free batches, thread heaps,
//!     small-class refill/spill, the freer's kept blocks of other threads' slabs, the profiler's class countdowns on the TLS lists, medium refill and free, the
//!     thread's heap (and the profiler's `start`/`stop`), the free paths, the alloc paths (realloc
//!     frees).
//! 15. `global`, `raw` — `HakMem`; C semantics for the preload crate.
//! 16. `testing` — hooks for the integration tests.
//!
//! `tests/layers.rs` checks this order against every `crate::` path in the source.
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
mod list;
mod msg;
mod mutant;
mod os;
mod size_class;
mod stats;
mod sync;
#[cfg(feature = "initial-exec-tls")]
mod tls_slot;
mod trace;
// After `trace`, `msg` and `os`, which it reports through.
mod lock;
mod valgrind;

mod purge;

mod remote;
mod slab;

mod adopt;
#[cfg(not(hakmem_loom))]
mod background;
#[cfg(not(hakmem_loom))]
mod fork;
#[cfg(not(hakmem_loom))]
mod front;
/// Under loom only the hint cache and the remote-free batches of the front end are compiled: the rest lives in statics and
/// thread-locals, which loom's types cannot.
#[cfg(hakmem_loom)]
mod front {
    pub mod hint;
    pub mod remote_batch;
}
#[cfg(not(hakmem_loom))]
mod global;
#[cfg(not(hakmem_loom))]
mod large;
#[cfg(not(hakmem_loom))]
mod locate;
#[cfg(not(hakmem_loom))]
mod meta;
#[cfg(not(hakmem_loom))]
mod pool;
#[cfg(not(hakmem_loom))]
mod prof;
/// Under loom only the arenas' used-slot word of the profiler is compiled (the rest needs the OS
/// box and statics).
#[cfg(hakmem_loom)]
mod prof {
    pub mod slots;
}
#[cfg(not(hakmem_loom))]
pub mod raw;
mod registry;
mod span;
/// Test hooks for the integration tests, only with the `fault-injection` feature (which the
/// crate's own dev-dependency turns on): not part of the API.
#[cfg(all(feature = "fault-injection", not(hakmem_loom)))]
#[doc(hidden)]
pub mod testing;

/// The boxes the loom models (`loom_tests/`) drive, and only under `--cfg hakmem_loom`: one
/// narrow door for the models instead of public modules. Not part of the API.
#[cfg(hakmem_loom)]
#[doc(hidden)]
pub mod model {
    pub use crate::adopt::PublishList;
    pub use crate::config;
    pub use crate::front::hint::{Hint, HintCache};
    pub use crate::front::remote_batch::{
        hit as batch_hit, link as batch_link, Batch, RemoteBatches,
    };
    pub use crate::list::{OncePtr, PushList, Pushed, Seal};
    pub use crate::purge::Sweep;
    pub use crate::remote::Owner;
    pub use crate::size_class::{blocks_per_slab, NUM_CLASSES};
    pub use crate::slab::block::{Block, LINK_BYTES};
    pub use crate::slab::slab::{RemoteTake, Slab, NO_CLASS};
    pub use crate::slab::superslab::SuperSlab;

    pub use crate::prof::slots::SlotMask;
    pub use crate::registry::{RegionHead, Table as RegistryTable};

    /// The medium tier's span box.
    pub mod span {
        pub use crate::span::{
            known_zero, release, retire_or_publish, take_block, Exit, SampledBits, SpanCache,
            SpanHeader,
        };
    }
}

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
    front::thread::publish_own_pops();
    stats::snapshot(|f| front::thread::for_each_heap(|h| f(&h.counters, &|i| h.room(i))))
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

/// Flushes the calling thread's caches back to their slabs, gives emptied slabs and spans (the
/// thread's own and those of exited threads) back to the pool and the span cache, returns the
/// pages of free slabs, retired SuperSlabs and cached spans to the OS and unmaps every cached large
/// block, whatever the purge delay. Like `mi_collect(true)`; never needed for correctness.
/// The thread's foreign-entry backoffs (front/foreign.rs, `KeepBackoff`) stay as they are: a
/// speed policy, not memory, and a reset one would keep more of other threads' blocks on this
/// thread's lists (tests/foreign_entries.rs `collect_keeps_the_foreign_backoff`).
#[cfg(not(hakmem_loom))]
pub fn collect() {
    if config::VALIDATE {
        // SAFETY: the calling thread's heap.
        unsafe { front::thread::current().debug_check() };
    }
    front::thread::flush_current();
    front::small::reclaim(usize::MAX);
    front::medium::reclaim(usize::MAX);
    background::sweep_all(purge::Sweep::All);
    background::start_if_wanted();
}

/// The sampled heap profiler (`profile` feature; docs/profiling.md): off until
/// `HAKMEM_PROF=1` or `start()`; dumps pprof protobuf or folded stacks that `hakmem-prof`
/// symbolizes and draws as flame graphs.
#[cfg(not(hakmem_loom))]
pub mod profile {
    pub use crate::front::thread::{start_profiling as start, stop_profiling as stop};
    pub use crate::prof::{
        dump, dump_folded, is_on, sample_interval, set_sample_interval, totals, DumpError, Totals,
        DEFAULT_MEAN, MAX_FRAMES,
    };

    /// The requested size of `ptr` if it is a live sampled block of this allocator, else
    /// `None`: a marked medium block's record is in its own tail (`front::medium`), the others'
    /// are the profile box's. `ptr` must not be freed meanwhile.
    pub fn sampled_size(ptr: *const u8) -> Option<usize> {
        let head = core::ptr::NonNull::new(crate::registry::lookup(ptr as usize))?;
        // SAFETY: registered regions start with a magic and are mapped while registered.
        if unsafe { head.as_ref().magic } == crate::span::SPAN_MAGIC {
            // SAFETY: a span header (its magic says so), mapped forever.
            let span = unsafe { head.cast::<crate::span::SpanHeader>().as_ref() };
            return crate::front::medium::sampled_record(span, ptr as *mut u8).map(|r| r.size);
        }
        crate::prof::sampled_size(ptr)
    }
}
