//! The stack table: every distinct sampled call stack once, with its counters, in a fixed
//! open-addressing table mapped from the OS box on first use (never the global allocator).
//!
//! Counters per stack are already scaled by the sampling weight (see `sampler::weight`):
//! `alloc_*` only grow; `live_*` grow when a sampled block is handed out and shrink by the same
//! amount when it is freed, so (invariant) `live_objects == Σ weight` and
//! `live_bytes == Σ weight * size` over the stack's live sampled blocks.
//!
//! Entry 0 is the overflow bucket (no frames): stacks that no longer fit are counted there, so
//! totals stay right when the table is full. Used under the profile lock only.

use core::ptr::NonNull;

use super::stack::MAX_FRAMES;
use crate::os;

/// Entries of the table (distinct stacks kept, entry 0 included).
pub const CAPACITY: usize = 1 << 13;
/// The table refuses new stacks beyond this fill (keeps probe sequences short).
const MAX_USED: usize = CAPACITY * 7 / 8;

pub struct Entry {
    /// 0: empty slot.
    pub hash: u64,
    pub depth: usize,
    pub alloc_samples: u64,
    pub live_samples: u64,
    pub alloc_objects: f64,
    pub alloc_bytes: f64,
    pub live_objects: f64,
    pub live_bytes: f64,
    pub frames: [usize; MAX_FRAMES],
}

impl Entry {
    pub fn frames(&self) -> &[usize] {
        &self.frames[..self.depth]
    }

    /// Whether the entry holds a stack that was ever sampled.
    pub fn used(&self) -> bool {
        self.alloc_samples != 0
    }
}

pub struct Table {
    entries: *mut Entry,
    used: usize,
}

// SAFETY: the table's memory is only touched under the profile lock.
unsafe impl Send for Table {}

const BYTES: usize = CAPACITY * core::mem::size_of::<Entry>();

impl Table {
    pub const fn new() -> Self {
        Self {
            entries: core::ptr::null_mut(),
            used: 0,
        }
    }

    /// Maps the table if needed; false if the OS refuses.
    pub fn ready(&mut self) -> bool {
        if self.entries.is_null() {
            let Some(p) = os::reserve_aligned(BYTES.next_multiple_of(4096), 4096) else {
                return false;
            };
            // Zeroed memory is an all-empty table (hash 0, counters 0.0).
            self.entries = p.as_ptr().cast();
        }
        true
    }

    /// The entries (empty before `ready`).
    pub fn entries(&self) -> &[Entry] {
        match NonNull::new(self.entries) {
            // SAFETY: `CAPACITY` zero-initialised entries, touched only under the lock we hold.
            Some(p) => unsafe { core::slice::from_raw_parts(p.as_ptr(), CAPACITY) },
            None => &[],
        }
    }

    fn entries_mut(&mut self) -> &mut [Entry] {
        match NonNull::new(self.entries) {
            // SAFETY: as in `entries`; `&mut self` makes this the only reference.
            Some(p) => unsafe { core::slice::from_raw_parts_mut(p.as_ptr(), CAPACITY) },
            None => &mut [],
        }
    }

    /// Forgets every stack and count (a forked child whose profile lock was held at the fork
    /// instant: any entry may be half written). The pages are given back and read as zeros, an
    /// all-empty table; if the OS refuses, the table is abandoned and a fresh one mapped on the
    /// next `ready`.
    pub fn clear(&mut self) {
        if let Some(p) = NonNull::new(self.entries) {
            // SAFETY: the table's own mapping; nothing refers into it once `used` is 0 (indices
            // held by records are ignored after a reset: see `prof::State::epoch`).
            if !unsafe { os::decommit(p.cast(), BYTES.next_multiple_of(4096)) } {
                self.entries = core::ptr::null_mut();
            }
        }
        self.used = 0;
    }

    /// The index of `frames`' entry, created if new; 0 (overflow) when the table is full.
    /// Requires `ready()`. The probe for a stack already known is inline (the common case: a
    /// program samples few distinct stacks again and again); a new entry is made out of line.
    #[inline(always)]
    pub fn intern(&mut self, frames: &[usize]) -> u32 {
        let hash = hash(frames);
        debug_assert!(!self.entries.is_null());
        // The home slot from the hash's high bits (a mask, not a division), never entry 0.
        let mut i = ((hash >> 32) as usize & (CAPACITY - 1)).max(1);
        loop {
            // SAFETY: `ready()` mapped `CAPACITY` entries (the contract); `i < CAPACITY`; the
            // lock the caller holds makes this the only reference.
            let e = unsafe { &*self.entries.add(i) };
            if e.hash == hash && same_frames(e, frames) {
                return i as u32;
            }
            if e.hash == 0 {
                return self.insert(i, hash, frames);
            }
            i = if i + 1 == CAPACITY { 1 } else { i + 1 };
        }
    }

    /// Makes the empty entry `i` hold `frames` (of hash `hash`); 0 (overflow) when the table is
    /// full.
    #[cold]
    #[inline(never)]
    fn insert(&mut self, i: usize, hash: u64, frames: &[usize]) -> u32 {
        if self.used >= MAX_USED {
            return 0;
        }
        let e = &mut self.entries_mut()[i];
        e.hash = hash;
        e.depth = frames.len();
        e.frames[..frames.len()].copy_from_slice(frames);
        self.used += 1;
        i as u32
    }

    /// A sampled block of `size` bytes standing for `weight` requests was handed out.
    pub fn add(&mut self, idx: u32, size: usize, weight: f64) {
        let e = &mut self.entries_mut()[idx as usize];
        e.alloc_samples += 1;
        e.live_samples += 1;
        crate::hook::at(crate::hook::Point::ProfCounting);
        e.alloc_objects += weight;
        e.alloc_bytes += weight * bytes(size);
        e.live_objects += weight;
        e.live_bytes += weight * bytes(size);
    }

    /// Undoes `add(idx, size, weight)`: no block could be had for that sample.
    pub fn cancel(&mut self, idx: u32, size: usize, weight: f64) {
        self.remove(idx, size, weight);
        let e = &mut self.entries_mut()[idx as usize];
        e.alloc_samples -= 1;
        e.alloc_objects -= weight;
        e.alloc_bytes -= weight * bytes(size);
    }

    /// The sampled block recorded by `add(idx, size, weight)` was freed.
    pub fn remove(&mut self, idx: u32, size: usize, weight: f64) {
        let e = &mut self.entries_mut()[idx as usize];
        e.live_samples -= 1;
        e.live_objects -= weight;
        e.live_bytes -= weight * bytes(size);
        if e.live_samples == 0 {
            // No rounding residue once nothing is live.
            e.live_objects = 0.0;
            e.live_bytes = 0.0;
        }
    }
}

/// `size` as a float through `i64` (a `u64 → f64` conversion is half a dozen instructions on
/// x86-64, an `i64` one a single `cvtsi2sd`; a request is at most `isize::MAX` bytes).
#[inline(always)]
fn bytes(size: usize) -> f64 {
    size as i64 as f64
}

/// Whether `e` holds exactly `frames`: an inline loop, not the slice `==`, which calls `bcmp`
/// through the PLT (~40 instructions per sample for the few frames a stack usually has).
#[inline(always)]
fn same_frames(e: &Entry, frames: &[usize]) -> bool {
    e.depth == frames.len() && e.frames.iter().zip(frames).all(|(a, b)| a == b)
}

/// FNV-1a over the frame addresses; never 0.
fn hash(frames: &[usize]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &f in frames {
        h ^= f as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_stack_same_entry_and_counters_balance() {
        let mut t = Table::new();
        assert!(t.ready());
        let a = t.intern(&[1, 2, 3]);
        let b = t.intern(&[1, 2, 4]);
        assert_ne!(a, b);
        assert_eq!(t.intern(&[1, 2, 3]), a);
        t.add(a, 100, 2.0);
        t.add(a, 50, 1.0);
        t.remove(a, 100, 2.0);
        let e = &t.entries()[a as usize];
        assert_eq!((e.alloc_samples, e.live_samples), (2, 1));
        assert_eq!((e.alloc_bytes, e.live_bytes), (250.0, 50.0));
        t.remove(a, 50, 1.0);
        assert_eq!(t.entries()[a as usize].live_bytes, 0.0);
    }

    #[test]
    fn full_table_counts_in_the_overflow_entry() {
        let mut t = Table::new();
        assert!(t.ready());
        let mut last = 1;
        for i in 0..CAPACITY {
            last = t.intern(&[i + 1]);
        }
        assert_eq!(last, 0, "beyond MAX_USED stacks go to the overflow entry");
    }
}
