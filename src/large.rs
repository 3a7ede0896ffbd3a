//! Large box: allocations above the largest size class (or with an alignment no class serves) go
//! straight to the OS, one mapping each.
//!
//! Layout: the mapping starts on a `SUPERSLAB_SIZE` boundary (or the requested alignment, if
//! larger); the header sits in the page right before the user pointer, and the registry names the
//! chunk holding the user pointer (no other region can start in that chunk):
//! ```text
//! base ── … ── LargeHeader (user - PAGE_SIZE) ── user = base + max(PAGE_SIZE, align) ── … ── base + map_len
//! ```
//! Boundary: map, unmap and resize these mappings; register/unregister their first chunk.
//! `realloc` grows or shrinks in place where the OS allows (mremap without moving).

use core::ptr::NonNull;

use crate::config::{PAGE_SIZE, SUPERSLAB_SIZE};
use crate::debug::{fatal, Where};
use crate::os;
use crate::prof;
use crate::registry::{self, RegionHead};
use crate::stats::{self, GLOBALS};
use crate::valgrind;

pub const LARGE_MAGIC: u64 = 0x4841_4b4d_4c41_5247; // "HAKMLARG"

#[repr(C)]
pub struct LargeHeader {
    magic: u64,
    /// Start of the mapping.
    base: *mut u8,
    map_len: usize,
    /// `user - base`.
    offset: usize,
}

fn offset_for(align: usize) -> usize {
    align.max(PAGE_SIZE)
}

/// Maps a block of `size` bytes aligned to `align`. Null if the OS refuses or sizes overflow.
pub fn alloc(size: usize, align: usize) -> *mut u8 {
    let offset = offset_for(align);
    let Some(map_len) = offset.checked_add(size).and_then(os::page_round) else {
        return core::ptr::null_mut();
    };
    let Some(base) = os::reserve_aligned(map_len, align.max(SUPERSLAB_SIZE)) else {
        return core::ptr::null_mut();
    };
    let user = base.as_ptr().wrapping_add(offset);
    let head = user.wrapping_sub(PAGE_SIZE).cast::<LargeHeader>();
    // SAFETY: the page before `user` lies inside the fresh mapping (offset >= PAGE_SIZE).
    unsafe {
        head.write(LargeHeader {
            magic: LARGE_MAGIC,
            base: base.as_ptr(),
            map_len,
            offset,
        })
    };
    // SAFETY: `head` is non-null (inside the mapping).
    if !registry::register(user as usize, unsafe {
        NonNull::new_unchecked(head.cast::<RegionHead>())
    }) {
        // SAFETY: never published. A refused release is counted and decommitted by `os`.
        let _released = unsafe { os::release(base, map_len) };
        return core::ptr::null_mut();
    }
    GLOBALS.large_allocs.bump_shared();
    GLOBALS.large_bytes.add_shared((map_len - offset) as u64);
    stats::footprint_add(map_len);
    // valgrind: the usable part is a live block, zeroed by the OS (the header page is outside it).
    valgrind::malloclike(user, map_len - offset, true);
    user
}

/// Whether the registry's `head` is a sampled block's region (the profile box's): the registry
/// path of `free` sends those here, and this box forwards them.
#[inline]
fn is_sampled(head: NonNull<RegionHead>) -> bool {
    // SAFETY: registered regions start with a magic and are mapped while registered.
    crate::config::PROFILE && unsafe { head.as_ref().magic } == prof::SAMPLED_MAGIC
}

/// Checks that `ptr` is the user pointer of the large block at `head`.
fn check(head: &LargeHeader, ptr: *mut u8) {
    let base = head.base as usize;
    if ptr as usize != base + head.offset
        || head as *const LargeHeader as usize + PAGE_SIZE != ptr as usize
    {
        fatal(
            "large",
            "pointer is not the start of a large block",
            Where {
                ptr: ptr as usize,
                superslab: Some(base),
                ..Where::default()
            },
        );
    }
}

/// Unmaps a large block.
///
/// # Safety
/// `head` came from the registry for `ptr` and is a large header; the block is live.
pub unsafe fn free(head: NonNull<RegionHead>, ptr: *mut u8) {
    if is_sampled(head) {
        // SAFETY: per the contract, and the region is a sampled one.
        return unsafe { prof::free_sampled(head, ptr) };
    }
    let h = head.cast::<LargeHeader>();
    // SAFETY: per the contract the header is mapped and initialised.
    let (map_len, base) = unsafe {
        check(h.as_ref(), ptr);
        (h.as_ref().map_len, h.as_ref().base)
    };
    // valgrind: the block dies before its mapping goes away ("Invalid free()" if it was not live).
    valgrind::freelike(ptr);
    registry::unregister(ptr as usize);
    GLOBALS.large_frees.bump_shared();
    GLOBALS
        .large_bytes_freed
        .add_shared((map_len - (ptr as usize - base as usize)) as u64);
    // SAFETY: the mapping is ours and dead. A refused release (counted and reported by `os`) leaves
    // it mapped and decommitted: it stays in the footprint.
    if unsafe { os::release(NonNull::new_unchecked(base), map_len) } {
        stats::footprint_sub(map_len);
    }
}

/// Usable bytes of a live large block.
///
/// # Safety
/// As for `free`.
pub unsafe fn usable_size(head: NonNull<RegionHead>, ptr: *mut u8) -> usize {
    if is_sampled(head) {
        // SAFETY: per the contract, and the region is a sampled one.
        return unsafe { prof::usable_size(head, ptr) };
    }
    // SAFETY: per the contract.
    let h = unsafe { head.cast::<LargeHeader>().as_ref() };
    check(h, ptr);
    h.map_len - h.offset
}

/// Resizes a large block in place to hold `new_size` bytes. False if the OS cannot (the caller
/// then moves the block).
///
/// # Safety
/// As for `free`.
pub unsafe fn resize_in_place(head: NonNull<RegionHead>, ptr: *mut u8, new_size: usize) -> bool {
    if is_sampled(head) {
        // A sampled block moves, so its new size is what the profile counts.
        return false;
    }
    let h = head.cast::<LargeHeader>();
    // SAFETY: per the contract.
    let (map_len, offset, base) = unsafe {
        check(h.as_ref(), ptr);
        (h.as_ref().map_len, h.as_ref().offset, h.as_ref().base)
    };
    let Some(new_len) = offset.checked_add(new_size).and_then(os::page_round) else {
        return false;
    };
    if new_len <= map_len && new_len >= map_len / 2 {
        return true;
    }
    // SAFETY: the mapping is ours; on success it has the new length.
    if unsafe { os::resize_in_place(NonNull::new_unchecked(base), map_len, new_len) } {
        // SAFETY: the header page is still mapped (new_len > offset >= a page).
        unsafe { (*h.as_ptr()).map_len = new_len };
        // valgrind: the live block's usable size changed with the mapping.
        valgrind::resize_in_place(ptr, map_len - offset, new_len - offset);
        if new_len > map_len {
            GLOBALS.large_bytes.add_shared((new_len - map_len) as u64);
            stats::footprint_add(new_len - map_len);
        } else {
            GLOBALS
                .large_bytes_freed
                .add_shared((map_len - new_len) as u64);
            stats::footprint_sub(map_len - new_len);
        }
        true
    } else {
        false
    }
}
