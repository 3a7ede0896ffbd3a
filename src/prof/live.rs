//! The records of live sampled medium blocks, keyed by address.
//!
//! A sampled medium request is served by the medium tier like any other and marked by a bit in
//! its span's header (`front::medium::mark_sampled`), which `free` reads anyway; the record —
//! stack, size, weight — cannot live in the block (it is the program's), so it lives here: a
//! fixed open-addressing table (linear probing, backward-shift deletion, no tombstones) mapped
//! from the OS box on first use. Used under the profile lock only.
//!
//! Invariant: an address is in the table iff its block is live, sampled and marked in its span
//! (except after a fork that tore the table: the child forgets every record, and a marked block
//! whose record is gone ends its sample as a no-op).

use core::ptr::NonNull;

use super::arena::Record;
use crate::os;

/// Slots of the table. Live sampled medium blocks are about one per `mean` bytes of live medium
/// memory plus the sampled share of live blocks: 32,768 of them is over 16 GiB of live medium
/// memory at the default 512 KiB.
pub const CAPACITY: usize = 1 << 16;
/// The table refuses new records beyond this fill (keeps probe sequences short); the request is
/// then served unsampled.
const MAX_USED: usize = CAPACITY / 2;

#[derive(Clone, Copy)]
struct Slot {
    /// 0: empty.
    addr: usize,
    rec: Record,
}

pub struct Live {
    slots: *mut Slot,
    used: usize,
}

// SAFETY: the table's memory is only touched under the profile lock.
unsafe impl Send for Live {}

const BYTES: usize = CAPACITY * core::mem::size_of::<Slot>();

/// The home slot of `addr` (medium blocks are 4 KiB-aligned: the low bits carry nothing).
fn home(addr: usize) -> usize {
    ((addr as u64 >> 12).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - CAPACITY.trailing_zeros()))
        as usize
}

impl Live {
    pub const fn new() -> Self {
        Self {
            slots: core::ptr::null_mut(),
            used: 0,
        }
    }

    fn slots(&mut self) -> Option<&mut [Slot]> {
        if self.slots.is_null() {
            // Zeroed memory is an all-empty table (addr 0).
            self.slots = os::reserve_aligned(BYTES.next_multiple_of(4096), 4096)?
                .as_ptr()
                .cast();
        }
        // SAFETY: `CAPACITY` zero-initialised slots, touched only under the lock we hold
        // (`&mut self`).
        Some(unsafe { core::slice::from_raw_parts_mut(self.slots, CAPACITY) })
    }

    /// Records `rec` for the block at `addr` (not in the table). False if the table is full or
    /// cannot be mapped.
    pub fn insert(&mut self, addr: usize, rec: Record) -> bool {
        debug_assert!(addr != 0);
        if self.used >= MAX_USED {
            return false;
        }
        let Some(t) = self.slots() else { return false };
        let mut i = home(addr);
        while t[i].addr != 0 {
            debug_assert!(t[i].addr != addr, "recorded twice");
            i = (i + 1) % CAPACITY;
        }
        t[i] = Slot { addr, rec };
        self.used += 1;
        true
    }

    fn find(&mut self, addr: usize) -> Option<usize> {
        if self.used == 0 {
            return None;
        }
        let t = self.slots()?;
        let mut i = home(addr);
        loop {
            match t[i].addr {
                0 => return None,
                a if a == addr => return Some(i),
                _ => i = (i + 1) % CAPACITY,
            }
        }
    }

    /// The record of the block at `addr`, if any.
    pub fn get(&mut self, addr: usize) -> Option<Record> {
        let i = self.find(addr)?;
        self.slots().map(|t| t[i].rec)
    }

    /// Removes and returns the record of the block at `addr`, if any.
    pub fn remove(&mut self, addr: usize) -> Option<Record> {
        let mut hole = self.find(addr)?;
        let t = self.slots()?;
        let rec = t[hole].rec;
        // Backward-shift deletion: move later members of the probe run into the hole when their
        // home slot does not lie (cyclically) after the hole, so every run stays unbroken.
        let mut j = hole;
        loop {
            j = (j + 1) % CAPACITY;
            if t[j].addr == 0 {
                break;
            }
            let h = home(t[j].addr);
            let stays = if hole <= j {
                hole < h && h <= j
            } else {
                hole < h || h <= j
            };
            if !stays {
                t[hole] = t[j];
                hole = j;
            }
        }
        t[hole].addr = 0;
        self.used -= 1;
        Some(rec)
    }

    /// Forgets every record (a forked child whose profile lock was held at the fork instant: a
    /// shift may be half done). The pages are given back and read as zeros; if the OS refuses,
    /// the table is abandoned and a fresh one mapped on the next use.
    pub fn clear(&mut self) {
        if let Some(p) = NonNull::new(self.slots) {
            // SAFETY: the table's own mapping; nothing refers into it.
            if !unsafe { os::decommit(p.cast(), BYTES.next_multiple_of(4096)) } {
                self.slots = core::ptr::null_mut();
            }
        }
        self.used = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(size: usize) -> Record {
        Record {
            stack: 1,
            size,
            weight: 1.0,
            epoch: 0,
        }
    }

    #[test]
    fn insert_get_remove_against_a_model() {
        let mut t = Live::new();
        let mut model = std::collections::BTreeMap::new();
        // Addresses chosen to collide: 24 each with the last, the first and the third home slot,
        // so probe runs merge and wrap around the end; plus some that land anywhere.
        let mut addrs = Vec::new();
        let mut want = [(CAPACITY - 1, 24), (0, 24), (2, 24)];
        let mut a = 0usize;
        while want.iter().any(|w| w.1 > 0) {
            a += 1 << 12;
            if let Some(w) = want.iter_mut().find(|w| w.0 == home(a) && w.1 > 0) {
                w.1 -= 1;
                addrs.push(a);
            }
        }
        addrs.extend((1..200usize).map(|i| i << 12));
        let mut x = 12345u64;
        for round in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let a = addrs[(x % addrs.len() as u64) as usize];
            match model.remove(&a) {
                Some(size) => assert_eq!(t.remove(a).map(|r| r.size), Some(size)),
                None => {
                    assert!(t.insert(a, rec(round)));
                    model.insert(a, round);
                }
            }
            if round % 97 == 0 {
                for &b in &addrs {
                    assert_eq!(t.get(b).map(|r| r.size), model.get(&b).copied(), "{b:#x}");
                }
            }
        }
        assert_eq!(t.used, model.len());
    }

    #[test]
    fn full_table_refuses() {
        let mut t = Live::new();
        for i in 0..MAX_USED {
            assert!(t.insert((i + 1) << 12, rec(i)));
        }
        assert!(!t.insert((MAX_USED + 1) << 12, rec(0)));
        assert_eq!(t.remove(1 << 12).map(|r| r.size), Some(0));
        assert!(t.insert((MAX_USED + 1) << 12, rec(0)));
        t.clear();
        assert!(t.get(2 << 12).is_none());
    }
}
