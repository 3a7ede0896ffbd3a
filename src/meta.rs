//! Internal metadata memory: an mmap-backed bump allocator for hakmem's own records (thread
//! heaps). Never `Box`, `Vec` or `System`: those would re-enter the global allocator.
//!
//! Boundary: hands out zeroed, 64-byte aligned pieces that are never returned (callers recycle
//! their records themselves, e.g. the heap pool). Backed by `os`; a slow path under a spin lock.

use core::ptr::NonNull;

use crate::lock::{ForkReset, Rank, SpinLock};
use crate::os;

const CHUNK: usize = 1 << 20;

struct Bump {
    cur: usize,
    end: usize,
    base: *mut u8,
}

// SAFETY: the raw pointer is only used under the lock.
unsafe impl Send for Bump {}

/// Fork: a holder that did not survive the fork may have been between reading `cur` and bumping
/// it; the child starts a fresh chunk (the rest of the old one is leaked, in the child only).
impl ForkReset for Bump {
    fn reset_after_fork(&mut self) {
        self.cur = 0;
        self.end = 0;
    }
}

static BUMP: SpinLock<Bump> = SpinLock::new(
    Rank::Meta,
    Bump {
        cur: 0,
        end: 0,
        base: core::ptr::null_mut(),
    },
);

/// Returns `size` zeroed bytes aligned to 64, or `None` if the OS refuses.
pub fn alloc(size: usize) -> Option<NonNull<u8>> {
    let size = (size + 63) & !63;
    if size > CHUNK {
        return None;
    }
    BUMP.with(|b| {
        if b.end - b.cur < size {
            let p = os::reserve_aligned(CHUNK, crate::config::PAGE_SIZE)?;
            b.base = p.as_ptr();
            b.cur = 0;
            b.end = CHUNK;
        }
        // Strict provenance: derived from the chunk's pointer.
        let p = b.base.wrapping_add(b.cur);
        b.cur += size;
        NonNull::new(p)
    })
}
