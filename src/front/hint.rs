//! Hint box: a per-thread cache of recently used SuperSlabs, consulted by `free` before the
//! registry (feature `tls-hint`).
//!
//! Boundary: remembers `(SuperSlab, generation)` pairs and answers "this address is in SuperSlab
//! S" only if S's generation still equals the remembered one. A retired or reused SuperSlab has a
//! new generation, so a stale hint is detected and the caller falls back to the registry; a stale
//! hint is never used to free into the wrong slab or class.

use crate::config::{HINT_ENTRIES, SUPERSLAB_MASK};
use crate::mutant;
use crate::slab::superslab::SuperSlab;

pub struct HintCache {
    ss: [*const SuperSlab; HINT_ENTRIES],
    generation: [u64; HINT_ENTRIES],
    next: usize,
}

/// What a hint lookup found.
#[derive(Debug, PartialEq, Eq)]
pub enum Hint {
    Hit(*const SuperSlab),
    /// An entry matched the address but its generation changed.
    Stale,
    Miss,
}

impl HintCache {
    pub const fn new() -> Self {
        Self {
            ss: [core::ptr::null(); HINT_ENTRIES],
            generation: [0; HINT_ENTRIES],
            next: 0,
        }
    }

    /// Looks up the SuperSlab that would contain `addr`.
    #[inline(always)]
    pub fn lookup(&self, addr: usize) -> Hint {
        let base = addr & !SUPERSLAB_MASK;
        let mut i = 0;
        while i < HINT_ENTRIES {
            let ss = self.ss[i];
            if ss as usize == base && !ss.is_null() {
                // SAFETY: the pointer came from the registry; SuperSlab headers are never unmapped.
                let now = unsafe { (*ss).generation() };
                let valid = mutant::SKIP_GENERATION_CHECK || now == self.generation[i];
                return if valid { Hint::Hit(ss) } else { Hint::Stale };
            }
            i += 1;
        }
        Hint::Miss
    }

    /// Remembers `ss` at generation `generation` (read from it after the registry confirmed it),
    /// replacing a stale entry for the same SuperSlab or the oldest one.
    #[inline]
    pub fn insert(&mut self, ss: *const SuperSlab, generation: u64) {
        let slot = (0..HINT_ENTRIES)
            .find(|&i| self.ss[i] == ss)
            .unwrap_or_else(|| {
                let s = self.next;
                self.next = (s + 1) % HINT_ENTRIES;
                s
            });
        self.ss[slot] = ss;
        self.generation[slot] = generation;
    }

    /// Forgets everything (thread exit).
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

impl Default for HintCache {
    fn default() -> Self {
        Self::new()
    }
}
