//! Call-stack capture by walking frame pointers.
//!
//! Why frame pointers and not an unwinder: a sampled request is captured *inside* malloc, so the
//! walk must not allocate, take a lock or re-enter the allocator. libgcc's `_Unwind_Backtrace`
//! finds FDEs through `dl_iterate_phdr`, which takes the loader's lock (a thread inside `dlopen`
//! calling malloc would deadlock against itself), and its first use can allocate (libgcc sorts
//! registered FDE tables with malloc; glibc's `backtrace()` even `dlopen`s libgcc_s). A frame
//! pointer walk is a loop of two loads per frame: no lock, no allocation, async-signal-safe.
//!
//! The cost is that every frame between the allocation site and here must keep a frame pointer:
//! build Rust programs with `RUSTFLAGS="-C force-frame-pointers=yes"` (the Rust standard library
//! is already built with frame pointers) and C/C++ programs with `-fno-omit-frame-pointer`. A
//! frame without one ends the walk early (or skips its caller), never crashes it: every frame
//! address must be 8-aligned, above the previous one and less than `MAX_STEP` above it, and is
//! only read after the kernel said its page is readable (`os::is_readable`, checked once per
//! page).

use core::mem::MaybeUninit;

/// Deepest stack recorded; deeper ones are truncated at the root end.
pub const MAX_FRAMES: usize = 64;
/// Largest distance between two frames accepted (a bigger step means a broken chain).
const MAX_STEP: usize = 16 << 20;
const PAGE: usize = crate::config::PAGE_SIZE;

/// The frame address of the caller of `capture` (the current frame pointer register).
#[inline(always)]
fn frame_pointer() -> usize {
    let fp: usize;
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads a register; no memory access.
    unsafe {
        core::arch::asm!("mov {}, rbp", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads a register; no memory access.
    unsafe {
        core::arch::asm!("mov {}, x29", out(reg) fp, options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        fp = 0;
    }
    fp
}

/// The return addresses of the calling stack, innermost first, written into `out` (left
/// uninitialised by the caller: a sample's stack is usually far shorter than `MAX_FRAMES`, and
/// zeroing or copying the whole array cost more than the walk). Frames of the allocator itself
/// come first (symbolizers drop them by name).
#[inline(never)]
pub fn capture(out: &mut [MaybeUninit<usize>; MAX_FRAMES]) -> &[usize] {
    let n = walk(out);
    // SAFETY: `walk` initialised `out[..n]`; `MaybeUninit<usize>` has `usize`'s layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<usize>(), n) }
}

/// Writes the frames into `out[..n]`, returns `n`.
#[inline(always)]
fn walk(out: &mut [MaybeUninit<usize>; MAX_FRAMES]) -> usize {
    let mut fp = frame_pointer();
    // The one page known readable so far (frames ascend, so most frames share a few pages).
    let mut ok_page = usize::MAX;
    let mut n = 0;
    while n < MAX_FRAMES {
        if fp == 0 || fp % 8 != 0 || fp > usize::MAX - 16 {
            break;
        }
        // The frame record is two words: the caller's frame pointer, then the return address.
        let (first, last) = (fp & !(PAGE - 1), (fp + 15) & !(PAGE - 1));
        for page in [first, last] {
            if page != ok_page {
                if !crate::os::is_readable(page) {
                    return n;
                }
                ok_page = page;
            }
        }
        // SAFETY: both words lie in pages the kernel reported readable; stack memory above the
        // current frame stays mapped while this thread runs.
        let (next, ret) = unsafe {
            (
                core::ptr::read_volatile(fp as *const usize),
                core::ptr::read_volatile((fp + 8) as *const usize),
            )
        };
        if ret == 0 {
            break;
        }
        out[n] = MaybeUninit::new(ret);
        n += 1;
        if next <= fp || next - fp > MAX_STEP {
            break;
        }
        fp = next;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(never)]
    fn two_deep(out: &mut [MaybeUninit<usize>; MAX_FRAMES]) -> &[usize] {
        core::hint::black_box(capture(out))
    }

    #[test]
    fn walk_is_bounded_and_never_faults() {
        let mut out = [MaybeUninit::uninit(); MAX_FRAMES];
        let frames = two_deep(&mut out);
        assert!(frames.len() <= MAX_FRAMES);
        // Without frame pointers in the test build the chain may end at once; with them the walk
        // sees at least this test's frames. Either way every recorded address is nonzero.
        assert!(frames.iter().all(|&a| a != 0));
    }
}
