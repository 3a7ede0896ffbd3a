//! Purge box: the decay clock that decides when emptied memory goes back to the OS.
//!
//! Memory that empties (a free slab, a retired SuperSlab, an empty span, a cached large block) is
//! not given back at once: the program often needs it again a moment later, and a purge followed by
//! a refault costs a system call and a page fault per page. Instead each such range is stamped
//! with the time it emptied and purged once it has stayed empty for the purge delay (decay, as
//! jemalloc's `dirty_decay_ms` and mimalloc's `purge_delay`). The check runs only on slow paths
//! (refill, the large and middle tiers' slow paths, `collect`, the background purger), never per
//! block.
//!
//! ## API (for every box that holds emptied memory)
//! - [`now`]: milliseconds on a coarse monotonic clock (`CLOCK_MONOTONIC_COARSE`, a vDSO read:
//!   no system call, no allocation, a few ms resolution). Stamp a range with it when it empties.
//! - [`Sweep`]: what a purge pass may take. `Sweep::due()` for a slow path: ranges whose delay
//!   has passed (nothing when the delay is -1). `Sweep::All` for `collect()`: everything, whatever
//!   the delay. `sweep.covers(emptied_at)` says whether a range stamped `emptied_at` goes now.
//! - [`Ticker`]: a process-wide rate limit, so a hot slow path scans its lists at most once per
//!   tick (`ticker.ready(now)`; one caller per tick wins). A box keeps one static `Ticker`.
//! - [`pages`]: purges `[ptr, ptr + len)` with the configured advice (`MADV_DONTNEED`, or
//!   `MADV_FREE` with `HAKMEM_PURGE_MADV_FREE=1`), counting `purged_bytes`. False when the OS
//!   refuses (counted as an OS failure and reported once by the `os` box): the range is then
//!   still committed; keep it stamped and retry on a later sweep.
//!
//! ```ignore
//! // When a span empties (under its owner's lock):
//! span.emptied_at = purge::now();
//! // On a slow path:
//! if let Some(sweep) = purge::Sweep::due_ticked(&MY_TICKER) {
//!     for span in empty_spans { if sweep.covers(span.emptied_at) && purge::pages(p, len) { … } }
//! }
//! ```
//!
//! - [`Retired`]: a heap's current slabs and spans that emptied, one stamp per class id. A heap
//!   keeps the current slab (span) of a class when it empties, so that a churning size does not
//!   bounce it through the pool; `Retired` puts it on the clock all the same: the heap's next
//!   bind (`front::small`, `front::medium`) gives back those that stayed empty for the delay,
//!   with the time they emptied, so the pool or the span cache purges them at once.
//!
//! ## Switches (read once by the `env` box)
//! `HAKMEM_PURGE_DELAY_MS` (default `config::PURGE_DELAY_MS`, 0 = purge at once, -1 = never on
//! the clock; `collect()` still purges), `HAKMEM_PURGE_MADV_FREE=1`, `HAKMEM_BACKGROUND=1`.
//!
//! Boundary: time, the policy and the purge call; no lists. Each box keeps its own emptied ranges
//! and their stamps under its own lock. Depends on `config`, `sync`, `os`, `env`, `stats`.

use core::ptr::NonNull;

use crate::env;
use crate::os;
use crate::size_class::{NUM_CLASSES, NUM_MEDIUM, TOTAL_CLASSES};
use crate::stats::GLOBALS;
use crate::sync::plain::{AtomicU64, Ordering};

const _: () = assert!(
    NUM_MEDIUM <= 64,
    "Retired's rung masks hold one bit per medium class"
);

/// A time in milliseconds on the purge clock.
pub type Stamp = u64;

/// Test hook: milliseconds added to the OS clock (`testing::advance_purge_clock`), so tests can
/// "wait" the purge delay without sleeping.
static SKEW: AtomicU64 = AtomicU64::new(0);

/// Now, in milliseconds on a coarse monotonic clock. Cheap (a vDSO read); for slow paths.
#[inline]
pub fn now() -> Stamp {
    // ORDERING: Relaxed — a test offset; nothing is published with it.
    os::now_ms().wrapping_add(SKEW.load(Ordering::Relaxed))
}

/// Moves the purge clock forward by `ms` (tests only).
#[cfg(feature = "fault-injection")]
pub fn advance(ms: u64) {
    // ORDERING: Relaxed — see `now`.
    SKEW.fetch_add(ms, Ordering::Relaxed);
}

/// The purge delay: `Some(ms)`, or `None` for never (`HAKMEM_PURGE_DELAY_MS=-1`).
#[inline]
pub fn delay() -> Option<u64> {
    u64::try_from(env::purge_delay_ms()).ok()
}

/// Whether the background purger is wanted (`HAKMEM_BACKGROUND=1`).
#[inline]
pub fn background_wanted() -> bool {
    env::background()
}

/// What one purge pass may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// Ranges that emptied at least the purge delay before the stamp held here.
    Due { now: Stamp, delay: u64 },
    /// Everything empty, whatever the delay (`collect()`).
    All,
}

impl Sweep {
    /// The sweep for a slow path now; `None` when purging on the clock is off (delay -1).
    #[inline]
    pub fn due() -> Option<Sweep> {
        Some(Sweep::Due {
            now: now(),
            delay: delay()?,
        })
    }

    /// As `due`, but at most once per tick of `ticker` process-wide: `None` also when another
    /// caller already swept this tick.
    #[inline]
    pub fn due_ticked(ticker: &Ticker) -> Option<Sweep> {
        let sweep = Sweep::due()?;
        let Sweep::Due { now, delay } = sweep else {
            return Some(sweep);
        };
        ticker.ready(now, delay).then_some(sweep)
    }

    /// Whether a range stamped `emptied_at` is purged by this sweep.
    #[inline]
    pub fn covers(self, emptied_at: Stamp) -> bool {
        match self {
            Sweep::All => true,
            Sweep::Due { now, delay } => due(emptied_at, now, delay),
        }
    }
}

/// Whether something emptied at `emptied_at` is due at `now` with `delay` (a clock that went
/// backwards, or a stamp from the future, counts as not yet due).
#[inline]
pub fn due(emptied_at: Stamp, now: Stamp, delay: u64) -> bool {
    now.checked_sub(emptied_at).is_some_and(|age| age >= delay)
}

/// A process-wide rate limit for purge passes: `ready` answers true to one caller per tick.
/// A tick is an eighth of the purge delay, at least 1 ms, so a range is purged at most 12.5% (or
/// 1 ms) later than its delay. With delay 0, purge a range the moment it empties
/// (`Sweep::due().covers(now())` is then true at once); the ticked sweep only catches retries.
pub struct Ticker {
    next: AtomicU64,
}

impl Ticker {
    pub const fn new() -> Self {
        Self {
            next: AtomicU64::new(0),
        }
    }

    /// True for the one caller that claims the tick containing `now`.
    #[inline]
    pub fn ready(&self, now: Stamp, delay: u64) -> bool {
        // ORDERING: Relaxed — a rate limit; the lists the winner then scans are under their own
        // locks, which order everything that matters.
        let next = self.next.load(Ordering::Relaxed);
        if now < next {
            return false;
        }
        let tick = (delay / 8).max(1);
        // ORDERING: Relaxed — as above; the CAS only elects one caller per tick.
        self.next
            .compare_exchange(next, now + tick, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

impl Default for Ticker {
    fn default() -> Self {
        Self::new()
    }
}

const RETIRED_WORDS: usize = TOTAL_CLASSES.div_ceil(64);

/// A heap's current slabs and spans that emptied (owner-only, in `HeapLocal`): a bit per class
/// id and the time its current slab or span emptied. Invariant: bit `c` set ⇒ the current slab
/// (span) of class `c` emptied at `at[c]` or later (it may have been used and emptied again
/// since: it is then given back up to one delay early, never late). The holder checks that the
/// current one is still empty before giving it back.
pub struct Retired {
    bits: [u64; RETIRED_WORDS],
    at: [Stamp; TOTAL_CLASSES],
    /// A bit per class id whose current slab (span) emptied at least once in this heap
    /// (`first_empty`, `config::SPAN_PURGE_FIRST_EMPTY`); never cleared.
    emptied: [u64; RETIRED_WORDS],
    /// `config::RETIRED_PURGE_HIGH`: a bit per medium class id retired at least once
    /// (`note_retire`), and one per class retired at least twice (a class that churns its span);
    /// never cleared.
    retired_once: [u64; RETIRED_WORDS],
    retired_again: [u64; RETIRED_WORDS],
    /// `config::RETIRED_PURGE_ROUNDS`, one bit per medium class (bit `c - NUM_CLASSES`): the purge
    /// on bind gave the class's retired span back and the class has not bound a span since
    /// (`note_purged_on_bind`, `note_bound`) ...
    purged: u64,
    /// ... and the classes that came back below the heap's high after such a purge: rungs of a
    /// ladder climbed round after round (`note_bound`), until the purge clock releases their
    /// span (`note_released`). Invariant: a bit here was set by a bind whose class had its bit in
    /// `purged`.
    rungs: u64,
}

impl Retired {
    pub const fn new() -> Self {
        Self {
            bits: [0; RETIRED_WORDS],
            at: [0; TOTAL_CLASSES],
            emptied: [0; RETIRED_WORDS],
            retired_once: [0; RETIRED_WORDS],
            retired_again: [0; RETIRED_WORDS],
            purged: 0,
            rungs: 0,
        }
    }

    /// Class `c`'s current span is being retired (`front::medium::retire_current`): remembers
    /// that it was, and whether it was before.
    #[inline]
    pub fn note_retire(&mut self, c: usize) {
        let (w, bit) = (c / 64, 1u64 << (c % 64));
        self.retired_again[w] |= self.retired_once[w] & bit;
        self.retired_once[w] |= bit;
    }

    /// `config::RETIRED_PURGE_ROUNDS`: the purge on bind gave medium class `c`'s retired span back
    /// purged.
    #[inline]
    pub fn note_purged_on_bind(&mut self, c: usize) {
        if let Some(i) = c.checked_sub(NUM_CLASSES) {
            self.purged |= 1 << i;
        }
    }

    /// `config::RETIRED_PURGE_ROUNDS`: whether the purge on bind took medium class `c`'s span and
    /// the class has not bound one since (`new_span`'s cheap first test).
    #[inline]
    pub fn purged_on_bind(&self, c: usize) -> bool {
        c.checked_sub(NUM_CLASSES)
            .is_some_and(|i| self.purged & (1 << i) != 0)
    }

    /// `config::RETIRED_PURGE_ROUNDS`: medium class `c` binds a span, the first since the purge on
    /// bind took its span; `below` says whether the heap's live span bytes, with this bind, stay
    /// at most their high (the heap came down since and climbs again). A comeback below the high
    /// makes the class a rung (`rung`). Whether it did.
    #[inline]
    pub fn note_bound(&mut self, c: usize, below: bool) -> bool {
        let Some(i) = c.checked_sub(NUM_CLASSES) else {
            return false;
        };
        let was = self.purged & (1 << i) != 0;
        self.purged &= !(1 << i);
        if was && below {
            self.rungs |= 1 << i;
        }
        was && below
    }

    /// `config::RETIRED_PURGE_ROUNDS`: the purge clock released medium class `c`'s retired span
    /// (it sat out a whole purge delay): the class climbs no ladder now.
    #[inline]
    pub fn note_released(&mut self, c: usize) {
        if let Some(i) = c.checked_sub(NUM_CLASSES) {
            self.rungs &= !(1 << i);
            self.purged &= !(1 << i);
        }
    }

    /// `config::RETIRED_PURGE_ROUNDS`: whether medium class `c` is a rung (`note_bound`): the
    /// purge on bind leaves its retired span alone.
    #[inline]
    pub fn rung(&self, c: usize) -> bool {
        c.checked_sub(NUM_CLASSES)
            .is_some_and(|i| self.rungs & (1 << i) != 0)
    }

    /// `config::RETIRED_PURGE_ROUNDS`: forgets every rung and purge (the heap is reset for another
    /// thread: its high starts again at 0).
    #[inline]
    pub fn forget_rounds(&mut self) {
        self.purged = 0;
        self.rungs = 0;
    }

    /// `config::RETIRED_PURGE_ROUNDS`: whether any medium class is a rung.
    #[inline]
    pub fn any_rung(&self) -> bool {
        self.rungs != 0
    }

    /// Whether class `c`'s current span was retired at least twice (`note_retire`).
    #[inline]
    pub fn churns(&self, c: usize) -> bool {
        self.retired_again[c / 64] & (1u64 << (c % 64)) != 0
    }

    /// Whether this is the first time class `c`'s current slab (span) emptied in this heap;
    /// remembers that it has.
    #[inline]
    pub fn first_empty(&mut self, c: usize) -> bool {
        let (w, bit) = (c / 64, 1u64 << (c % 64));
        let first = self.emptied[w] & bit == 0;
        self.emptied[w] |= bit;
        first
    }

    /// Class `c`'s current slab (span) emptied at `now`; an older stamp is kept.
    #[inline]
    pub fn mark(&mut self, c: usize, now: Stamp) {
        let (w, bit) = (c / 64, 1u64 << (c % 64));
        if self.bits[w] & bit == 0 {
            self.bits[w] |= bit;
            self.at[c] = now;
        }
    }

    /// Whether a class id in `classes` is marked.
    #[inline]
    pub fn any(&self, classes: core::ops::Range<usize>) -> bool {
        self.bits
            .iter()
            .enumerate()
            .any(|(w, &bits)| bits & Self::mask(w, &classes) != 0)
    }

    /// Forgets every class id in `classes` (their current slabs or spans were given back).
    pub fn clear(&mut self, classes: core::ops::Range<usize>) {
        for w in 0..RETIRED_WORDS {
            self.bits[w] &= !Self::mask(w, &classes);
        }
    }

    /// The first marked class id in `classes` and its stamp.
    pub fn first(&self, classes: core::ops::Range<usize>) -> Option<(usize, Stamp)> {
        (0..RETIRED_WORDS).find_map(|w| {
            let bits = self.bits[w] & Self::mask(w, &classes);
            let c = w * 64 + bits.trailing_zeros() as usize;
            (bits != 0).then(|| (c, self.at[c]))
        })
    }

    /// Whether class id `c` is marked.
    #[inline]
    pub fn marked(&self, c: usize) -> bool {
        self.bits[c / 64] & (1u64 << (c % 64)) != 0
    }

    /// Forgets class id `c`.
    #[inline]
    pub fn unmark(&mut self, c: usize) {
        self.bits[c / 64] &= !(1u64 << (c % 64));
    }

    /// The bits of word `w` that belong to `classes`.
    fn mask(w: usize, classes: &core::ops::Range<usize>) -> u64 {
        let (lo, hi) = (w * 64, w * 64 + 64);
        let (from, to) = (classes.start.clamp(lo, hi), classes.end.clamp(lo, hi));
        if from >= to {
            return 0;
        }
        let len = to - from;
        let ones = if len == 64 { !0 } else { (1u64 << len) - 1 };
        ones << (from - lo)
    }
}

impl Default for Retired {
    fn default() -> Self {
        Self::new()
    }
}

/// Purges the pages of `[ptr, ptr + len)` (`MADV_DONTNEED`, or `MADV_FREE` when switched on):
/// they read back as zero (or, with `MADV_FREE`, as zero or unchanged) and stop counting in RSS.
/// Counts `purged_bytes`. False if the OS refused (counted and reported by `os`): the range is
/// still committed.
///
/// # Safety
/// The range lies inside one reservation of the caller's and holds nothing anyone will read as
/// data again.
pub unsafe fn pages(ptr: NonNull<u8>, len: usize) -> bool {
    // SAFETY: forwarded contract.
    let ok = unsafe {
        if env::madv_free() {
            os::decommit_lazy(ptr, len)
        } else {
            os::decommit(ptr, len)
        }
    };
    if ok {
        GLOBALS.purged_bytes.add_shared(len as u64);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_after_the_delay_and_not_before() {
        assert!(!due(1000, 1000, 10));
        assert!(!due(1000, 1009, 10));
        assert!(due(1000, 1010, 10));
        assert!(due(1000, 1000, 0));
        // A stamp from the future (clock skew between threads) is not due.
        assert!(!due(1001, 1000, 0));
    }

    #[test]
    fn sweep_all_covers_everything() {
        assert!(Sweep::All.covers(u64::MAX));
        let s = Sweep::Due { now: 50, delay: 20 };
        assert!(s.covers(30) && !s.covers(31));
    }

    #[test]
    fn ticker_elects_one_caller_per_tick() {
        let t = Ticker::new();
        assert!(t.ready(100, 80));
        assert!(!t.ready(100, 80));
        assert!(!t.ready(109, 80));
        assert!(t.ready(110, 80));
        // Delay 0: one sweep per millisecond.
        assert!(t.ready(500, 0) && !t.ready(500, 0) && t.ready(501, 0));
    }

    #[test]
    fn retired_keeps_the_first_stamp_and_ranges_do_not_mix() {
        let mut r = Retired::new();
        let n = TOTAL_CLASSES;
        r.mark(0, 5);
        r.mark(63, 6);
        r.mark(64, 7);
        r.mark(n - 1, 8);
        r.mark(64, 99);
        assert!(r.any(0..1) && r.any(64..65) && !r.any(1..63) && r.any(n - 1..n));
        assert_eq!(r.first(1..n), Some((63, 6)));
        assert_eq!(r.first(64..n), Some((64, 7)));
        assert_eq!(r.first(65..n), Some((n - 1, 8)));
        assert_eq!(r.first(1..63), None);
        r.unmark(63);
        r.unmark(n - 1);
        assert_eq!(r.first(1..n), Some((64, 7)));
        assert!(r.any(0..1) && r.any(64..65) && !r.any(65..n) && !r.any(63..64));
        r.clear(0..64);
        assert!(!r.any(0..64) && r.any(0..n));
        r.clear(0..n);
        assert!(!r.any(0..n));
    }

    #[test]
    #[cfg(feature = "fault-injection")]
    fn clock_is_monotonic_and_moves() {
        let a = now();
        advance(5);
        let b = now();
        assert!(b >= a + 5);
    }
}
