//! The recent-event ring: a fixed-size ring of the last boundary events (remote push, drain, bind,
//! owner acquire, publish, adopt, retire, hint stale), recorded under `trace` (implied by `checked`
//! and debug builds), dumped by the fail-fast abort and by `hakmem::dump_events()`.
//!
//! Boundary: record and dump; no allocation, no formatting machinery. Writers claim a slot with one
//! `fetch_add` and fill it with Relaxed stores; a dump racing with writers may show a half-written
//! entry, which is acceptable for a diagnostic.

use crate::sync::plain::{AtomicU64, AtomicUsize, Ordering};

use crate::config::{EVENT_RING, TRACE};
use crate::msg::Msg;

/// Declares the events once: variant, code in the ring, name in the dump.
macro_rules! events {
    ($($variant:ident = $code:literal => $name:literal,)*) => {
        #[derive(Clone, Copy, PartialEq, Eq, Debug)]
        #[repr(u8)]
        pub enum Event {
            $($variant = $code,)*
        }

        /// The dump's name of the event whose code is `code`.
        fn name(code: u64) -> &'static str {
            $(if code == $code {
                return $name;
            })*
            "?"
        }
    };
}

events! {
    RemotePush = 1 => "remote-push",
    Drain = 2 => "drain",
    Bind = 3 => "bind",
    OwnerAcquire = 4 => "owner-acquire",
    Publish = 5 => "publish",
    Adopt = 6 => "adopt",
    Retire = 7 => "retire",
    Reuse = 8 => "reuse",
    HintStale = 9 => "hint-stale",
    Reclaim = 10 => "reclaim",
}

struct Slot {
    /// kind | class << 8 | slab << 16 | seq << 32
    head: AtomicU64,
    ptr: AtomicU64,
    superslab: AtomicU64,
    generation: AtomicU64,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);
#[allow(clippy::declare_interior_mutable_const)]
const EMPTY_SLOT: Slot = Slot {
    head: AtomicU64::new(0),
    ptr: AtomicU64::new(0),
    superslab: AtomicU64::new(0),
    generation: AtomicU64::new(0),
};
static RING: [Slot; EVENT_RING] = [EMPTY_SLOT; EVENT_RING];

/// Records an event (a no-op without `trace`).
#[inline]
pub fn record(
    kind: Event,
    ptr: usize,
    superslab: usize,
    slab: usize,
    class: usize,
    generation: u64,
) {
    if !TRACE {
        return;
    }
    // ORDERING: Relaxed — claims a slot; the ring publishes nothing to anyone.
    let seq = NEXT.fetch_add(1, Ordering::Relaxed);
    let s = &RING[seq % EVENT_RING];
    let head = kind as u64
        | ((class as u64 & 0xff) << 8)
        | ((slab as u64 & 0xffff) << 16)
        | ((seq as u64) << 32);
    // ORDERING: Relaxed — diagnostic data only.
    s.ptr.store(ptr as u64, Ordering::Relaxed);
    s.superslab.store(superslab as u64, Ordering::Relaxed);
    s.generation.store(generation, Ordering::Relaxed);
    s.head.store(head, Ordering::Relaxed);
}

/// Writes the recorded events to stderr, oldest first.
pub fn dump() {
    if !TRACE {
        return;
    }
    // ORDERING: Relaxed — diagnostic.
    let end = NEXT.load(Ordering::Relaxed);
    let start = end.saturating_sub(EVENT_RING);
    let mut m = Msg::new();
    m.str("hakmem: events: last ")
        .dec(end - start)
        .str(" of ")
        .dec(end);
    m.emit();
    for seq in start..end {
        let s = &RING[seq % EVENT_RING];
        // ORDERING: Relaxed — diagnostic.
        let head = s.head.load(Ordering::Relaxed);
        let mut m = Msg::new();
        m.str("  #").dec(seq).str(" ").str(name(head & 0xff));
        m.field_hex("ptr", s.ptr.load(Ordering::Relaxed) as usize);
        m.field_hex("superslab", s.superslab.load(Ordering::Relaxed) as usize);
        m.field_dec("slab", ((head >> 16) & 0xffff) as usize);
        m.field_dec("class", ((head >> 8) & 0xff) as usize);
        m.field_dec("gen", s.generation.load(Ordering::Relaxed) as usize);
        m.emit();
    }
}

#[cfg(all(test, not(hakmem_loom)))]
mod tests {
    use super::*;

    #[test]
    fn each_code_has_its_name() {
        assert_eq!(name(Event::RemotePush as u64), "remote-push");
        assert_eq!(name(Event::Reclaim as u64), "reclaim");
        assert_eq!(name(0), "?");
        assert_eq!(name(u8::MAX as u64), "?");
    }
}
