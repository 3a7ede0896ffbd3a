//! TLS limit box: per-class caps of a thread's TLS lists that grow with use under a per-thread
//! byte budget (`config::TLS_SLOW_START`, gperftools tcmalloc's "slow start").
//!
//! Boundary: thread-private bookkeeping read and written only on the slow paths (`small::refill`,
//! `small::spill`); the fast path reads the list's own `cap`/`room` as before and never this box.
//!
//! Policy: a class's cap starts at `TLS_START_BYTES` of its blocks (`start_cap`). A refill whose
//! class last went to the slow path with a spill — the list walked from over its cap down to
//! empty: frees and allocations alternate — raises the cap by a batch, up to `TLS_GROW_MAX_BYTES`
//! (at most `TLS_GROW_MAX_BLOCKS`) and only while the thread's growth stays within
//! `TLS_GROW_BUDGET`. A class that only spills (a freeing consumer) or only refills (a producer)
//! never grows. Every `TLS_DECAY_REFILLS` refills of the heap, the classes not refilled since the
//! last such clock go back to their start caps, and their growth returns to the budget.
//!
//! Invariant: `grown == Σ_c (limit[c] - start_cap(c)) * size(c) <= TLS_GROW_BUDGET`, and
//! `start_cap(c) <= limit[c] <= max_cap(c)` (`debug_check`), so a thread's lists are bounded by
//! the start caps' bytes plus the budget, whatever its classes do.

use crate::config::{
    MAG_BATCH_MAX, TLS_CAP_MAX, TLS_DECAY_REFILLS, TLS_GROW_BUDGET, TLS_GROW_MAX_BLOCKS,
    TLS_GROW_MAX_BYTES, TLS_SLOW_START, TLS_START_BYTES,
};
use crate::front::tls_sll::TlsList;
use crate::size_class::{CLASS_SIZES, NUM_CLASSES};

/// The cap of a list of `size`-byte blocks holding `bytes`: at least 4 blocks, at most `max`.
pub const fn cap_for(size: u32, bytes: usize, max: usize) -> u32 {
    let c = bytes as u32 / size;
    let c = if c < 4 { 4 } else { c };
    if c > max as u32 {
        max as u32
    } else {
        c
    }
}

/// Blocks moved per refill/spill for a class: half the TLS cap, at most `MAG_BATCH_MAX`.
#[inline]
pub fn batch(cap: u32) -> usize {
    (cap as usize / 2).clamp(1, MAG_BATCH_MAX)
}

/// Class `c`'s cap before it grows.
#[inline]
pub const fn start_cap(c: usize) -> u32 {
    cap_for(CLASS_SIZES[c], TLS_START_BYTES, TLS_CAP_MAX)
}

/// The most class `c`'s cap grows to.
#[inline]
pub const fn max_cap(c: usize) -> u32 {
    let m = cap_for(CLASS_SIZES[c], TLS_GROW_MAX_BYTES, TLS_GROW_MAX_BLOCKS);
    let s = start_cap(c);
    if m < s {
        s
    } else {
        m
    }
}

/// Classes with a state: every small class with `TLS_SLOW_START`, none without it, so that a
/// build without the switch carries no state in `HeapLocal` (~520 bytes otherwise, written
/// through a stack temporary at every heap's start: a thread's first call went 2,120 bytes
/// deep, over preload's `c_small_stacks` bound of 2,048). Only code behind the switch indexes
/// the arrays.
const SLOTS: usize = if TLS_SLOW_START { NUM_CLASSES } else { 0 };

/// What the class did when it last took the slow path.
const NONE: u8 = 0;
const REFILL: u8 = 1;
const SPILL: u8 = 2;

/// Per-class caps of one heap's TLS lists (a field of `HeapLocal`; thread-private).
pub struct TlsLimits {
    /// The class's cap: what a refill gives its list (`small::refill`) and what `small::spill`
    /// keeps a batch of.
    limit: [u32; SLOTS],
    /// `NONE`, `REFILL` or `SPILL`: the class's last slow-path event.
    last: [u8; SLOTS],
    /// Refilled since the last decay clock.
    busy: [bool; SLOTS],
    /// Bytes of cap above the start caps, over every class (see the invariant).
    grown: usize,
    /// Refills left until the next decay.
    clock: u32,
}

impl Default for TlsLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsLimits {
    pub const fn new() -> Self {
        let mut limit = [0; SLOTS];
        let mut c = 0;
        while c < limit.len() {
            limit[c] = start_cap(c);
            c += 1;
        }
        TlsLimits {
            limit,
            last: [NONE; SLOTS],
            busy: [false; SLOTS],
            grown: 0,
            clock: TLS_DECAY_REFILLS,
        }
    }

    /// Class `c`'s cap.
    #[inline]
    pub fn cap(&self, c: usize) -> u32 {
        self.limit[c]
    }

    /// Bytes of cap above the start caps (at most `TLS_GROW_BUDGET`).
    pub fn grown(&self) -> usize {
        self.grown
    }

    /// Class `c` spilled.
    #[inline]
    pub fn spilled(&mut self, c: usize) {
        self.last[c] = SPILL;
    }

    /// Class `c`'s list ran dry and is about to be refilled: grows its cap by a batch if its last
    /// slow-path event was a spill (and the budget allows), and runs the decay clock, which may
    /// shrink the idle classes' caps and lists in `tls` (their lengths are kept: a list left
    /// over its cap spills at its next push). `moved(k, d)` hears of each change `d` of list `k`'s
    /// room (`config::DERIVED_FREE_COUNT`).
    pub fn refilled(
        &mut self,
        c: usize,
        tls: &mut [TlsList; NUM_CLASSES],
        moved: impl FnMut(usize, i64),
    ) {
        if self.last[c] == SPILL {
            let cur = self.limit[c];
            let step = batch(cur) as u32;
            let new = (cur + step).min(max_cap(c));
            let bytes = (new - cur) as usize * CLASS_SIZES[c] as usize;
            if new > cur && self.grown + bytes <= TLS_GROW_BUDGET {
                self.limit[c] = new;
                self.grown += bytes;
            }
        }
        self.last[c] = REFILL;
        self.busy[c] = true;
        self.clock -= 1;
        if self.clock == 0 {
            self.clock = TLS_DECAY_REFILLS;
            self.decay(tls, moved);
        }
        self.debug_check();
    }

    /// The decay clock: every class not refilled since the last one goes back to its start cap.
    fn decay(&mut self, tls: &mut [TlsList; NUM_CLASSES], mut moved: impl FnMut(usize, i64)) {
        for (c, t) in tls.iter_mut().enumerate() {
            let start = start_cap(c);
            if !self.busy[c] && self.limit[c] > start {
                self.grown -= (self.limit[c] - start) as usize * CLASS_SIZES[c] as usize;
                self.limit[c] = start;
                let (len, room) = (t.len(), t.room());
                t.cap = start;
                t.set_len(len);
                moved(c, t.room() as i64 - room as i64);
            }
            self.busy[c] = false;
        }
    }

    /// Checks the invariant (debug builds; compiles to nothing in release).
    pub fn debug_check(&self) {
        if !cfg!(debug_assertions) {
            return;
        }
        let mut sum = 0;
        for (c, &l) in self.limit.iter().enumerate() {
            debug_assert!(
                start_cap(c) <= l && l <= max_cap(c),
                "tls_limit: cap out of range"
            );
            sum += (l - start_cap(c)) as usize * CLASS_SIZES[c] as usize;
        }
        debug_assert!(sum == self.grown(), "tls_limit: growth miscounted");
        debug_assert!(sum <= TLS_GROW_BUDGET, "tls_limit: growth over the budget");
    }
}
