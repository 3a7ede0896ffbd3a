//! Internal metadata memory: an mmap-backed bump allocator for hakmem's own records (thread
//! heaps). Never `Box`, `Vec` or `System`: those would re-enter the global allocator.
//!
//! Boundary: hands out zeroed, 64-byte aligned pieces that are never returned (callers recycle
//! their records themselves, e.g. the heap pool). Backed by `os`; a slow path under a spin lock.

use core::ptr::NonNull;

use crate::config::META_RELEASE_UNUSED;
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
            let page = crate::config::PAGE_SIZE;
            // `config::META_RELEASE_UNUSED`: a refused chunk falls back to the record's pages.
            let (p, len) = match os::reserve_aligned(CHUNK, page) {
                Some(p) => (p, CHUNK),
                None if META_RELEASE_UNUSED => {
                    let len = size.next_multiple_of(page);
                    (os::reserve_aligned(len, page)?, len)
                }
                None => return None,
            };
            b.base = p.as_ptr();
            b.cur = 0;
            b.end = len;
        }
        // Strict provenance: derived from the chunk's pointer.
        let p = b.base.wrapping_add(b.cur);
        b.cur += size;
        NonNull::new(p)
    })
}

/// `config::META_RELEASE_UNUSED`: unmaps the whole pages of the current chunk past its last
/// record (never handed out, so never touched), so that a refused mapping may be retried where
/// every mapped byte is charged (`mlockall(MCL_FUTURE)` under `RLIMIT_MEMLOCK`). True if any
/// bytes went back.
#[cold]
pub fn release_unused() -> bool {
    if !META_RELEASE_UNUSED {
        return false;
    }
    BUMP.with(|b| {
        if b.base.is_null() {
            return false;
        }
        let used = b.cur.next_multiple_of(crate::config::PAGE_SIZE);
        if used >= b.end {
            return false;
        }
        // Strict provenance: derived from the chunk's pointer.
        let Some(tail) = NonNull::new(b.base.wrapping_add(used)) else {
            return false;
        };
        // SAFETY: `[used, end)` lies in the chunk mapped by `alloc` and holds no record (records
        // end at `cur <= used`); nothing else points into it. A refused `munmap` is counted and
        // decommitted by `os`; the tail is given up either way.
        let _released = unsafe { os::release(tail, b.end - used) };
        b.end = used;
        true
    })
}
