//! The freed-block mark's key: one random word per process, drawn before the first heap exists.
//! Headerless mode writes the key into the second word of every freed block
//! (`Block::mark_free`); a free that finds it already there aborts as a double free. A random
//! key makes a program's own data unlikely to match (glibc's tcache key, the same idea).
//!
//! Boundary: `init_key` runs once, in the process set-up (`front::thread`), before any block
//! exists; `key` is a plain load on the free path.

use crate::sync::plain::{AtomicUsize, Ordering as PlainOrdering};

/// The per-process key of the freed-block mark (headerless double-free detection); set once from
/// the OS's random source before the first heap exists.
static FREE_KEY: AtomicUsize = AtomicUsize::new(0x9e37_79b9_7f4a_7c15);

/// Draws the freed-block key (called once, when the first heap is created, before any block
/// exists).
pub fn init_key() {
    let mut k: usize = 0;
    // SAFETY: getrandom writes at most `size_of::<usize>()` bytes into `k`.
    let n = unsafe {
        libc::getrandom(
            (&raw mut k).cast(),
            core::mem::size_of::<usize>(),
            libc::GRND_NONBLOCK,
        )
    };
    if n != core::mem::size_of::<usize>() as isize {
        k = (&raw const k as usize).rotate_left(29) ^ 0x2545_f491_4f6c_dd1d;
    }
    // ORDERING: Relaxed — written before any block exists; every block's later hand-off between
    // threads orders it for the threads that free.
    FREE_KEY.store(k | 1, PlainOrdering::Relaxed);
}

#[inline(always)]
pub fn key() -> usize {
    // ORDERING: Relaxed — see `init_key`.
    FREE_KEY.load(PlainOrdering::Relaxed)
}
