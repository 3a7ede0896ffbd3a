//! The used-slot word of a sampled-block arena (`prof::arena`): bit `i` is set while slot `i`
//! holds a live sampled block. With `config::PROF_LOCKFREE_SLOTS` a small sample claims its slot
//! and its free releases it without the profiler's lock: a claim is one CAS of the word, a
//! release one `fetch_and`.
//!
//! Claim (the loom model `loom_tests/slots.rs`): whatever the interleaving, a slot is held by at
//! most one claimer at a time, and a claimer's writes of the slot (its record, then the
//! program's use of the block) happen after the previous holder's last reads of it (the
//! release's Release pairs with the claim's Acquire). Mutants caught: `slot_claim_plain_store`
//! (a load and a store instead of the CAS: two claimers take one slot) and `slot_claim_relaxed`
//! (the claim's CAS Relaxed: the previous holder's read of the record races the new write).
//!
//! Boundary: the word only; the arena's records and blocks are its callers'.

use crate::mutant;
use crate::sync::{AtomicU64, Ordering};

pub struct SlotMask {
    used: AtomicU64,
}

impl Default for SlotMask {
    /// As `new` (clippy's `new_without_default` under `--cfg hakmem_loom`, where `new` is not a
    /// `const fn`).
    fn default() -> Self {
        Self::new()
    }
}

impl SlotMask {
    crate::sync::const_fn! {
        /// No slot held but slot 0 (an arena's header).
        pub fn new() -> Self {
            Self {
                used: AtomicU64::new(1),
            }
        }
    }

    /// Claims the lowest free slot below `slots` (at most 64); `None` when every one is held.
    #[inline]
    pub fn claim(&self, slots: usize) -> Option<usize> {
        let full = u64::MAX >> (64 - slots);
        // ORDERING: Relaxed — a guess at the word; the CAS below decides.
        let mut w = self.used.load(Ordering::Relaxed);
        loop {
            if w & full == full {
                return None;
            }
            let slot = (!w).trailing_zeros() as usize;
            let bit = 1u64 << slot;
            if mutant::SLOT_CLAIM_PLAIN_STORE {
                // ORDERING: Relaxed — the mutant: no RMW.
                self.used.store(w | bit, Ordering::Relaxed);
                return Some(slot);
            }
            // ORDERING: Acquire on success — pairs with the Release `fetch_and` of the slot's
            // last `release`: the previous holder's reads of the slot (its record, the program's
            // last use of the block) happen before this claimer writes them. Relaxed on failure:
            // only a new guess.
            match self
                .used
                .compare_exchange_weak(w, w | bit, mutant::SLOT_CLAIM, Ordering::Relaxed)
            {
                Ok(_) => return Some(slot),
                Err(now) => w = now,
            }
        }
    }

    /// Releases `slot`, whose block the caller has finished with; false if it was not held (a
    /// double free, the caller reports it).
    #[inline]
    pub fn release(&self, slot: usize) -> bool {
        let bit = 1u64 << slot;
        // ORDERING: Release — see `claim`. An RMW: other slots' bits change concurrently.
        self.used.fetch_and(!bit, Ordering::Release) & bit != 0
    }

    /// Whether `slot` is held. Exact for a slot whose block the caller holds (its claim reached
    /// the caller with the block); for another slot, a hint.
    #[inline]
    pub fn held(&self, slot: usize) -> bool {
        // ORDERING: Relaxed — the caller's own slot's bit is ordered by the block's hand-off to
        // it (the claim precedes it in the claimer's thread); other bits are not relied on.
        self.used.load(Ordering::Relaxed) & (1u64 << slot) != 0
    }
}
