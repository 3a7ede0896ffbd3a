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
//! address must be 16-aligned, above the previous one and less than `MAX_STEP` above it (the
//! first: above the stack pointer and less than `FIRST_STEP` above it), and is only read after
//! the kernel said its page is readable (`os::is_readable`, checked once per page; the stack
//! pointer's page is readable already).
//!
//! Why 16: both ABIs this walks keep the frame record 16-aligned (x86-64 SysV: the stack is
//! 16-aligned at each call, so `push rbp; mov rbp, rsp` leaves `rbp` at a multiple of 16;
//! AArch64: `sp`, and so `x29`, is always 16-aligned). A 16-byte record at a 16-aligned address
//! never straddles a page, so each frame needs one page check, not two, and its address can
//! neither be 0 after an ascending first frame nor overflow `fp + 8` (~10 instructions per frame
//! less than with 8: a 30-frame stack costs ~300 fewer per sample). Code that breaks the ABI's
//! alignment ends the walk there, as a frame without a frame pointer does.

use core::mem::MaybeUninit;

/// Deepest stack recorded; deeper ones are truncated at the root end.
pub const MAX_FRAMES: usize = 64;
/// Largest distance between two frames accepted (a bigger step means a broken chain).
const MAX_STEP: usize = 16 << 20;
/// Largest distance from the stack pointer to the first frame accepted. The first frame is the
/// sampling function's own record (a build with frame pointers: its frame is a few hundred bytes)
/// or, in a build without them, the record of the program's function that called `malloc` (the
/// register untouched in between): the allocator's frames down to here are under 16 KiB, so 64
/// KiB leaves that function 48 KiB of locals. A bound as loose as `MAX_STEP` let a frame pointer
/// register holding a heap address (code built without frame pointers uses it as a general
/// register; hakmem's SuperSlabs can be mapped a few MiB above a thread's stack) through: each
/// sample then probed the heap's pages (one system call each, ~350 ns: 13,058 in one
/// glibc-thread run, ~2.4% of its CPU) and recorded heap words as return addresses.
const FIRST_STEP: usize = 64 << 10;
const PAGE: usize = crate::config::PAGE_SIZE;

/// The frame pointer and the stack pointer registers: the first is the frame address of the
/// caller of `capture`; the second's page is mapped and readable (this thread runs on it), so a
/// frame on that page needs no `is_readable` check. `(0, usize::MAX)` where no walk is known.
#[inline(always)]
fn registers() -> (usize, usize) {
    let (fp, sp): (usize, usize);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads two registers; no memory access.
    unsafe {
        core::arch::asm!("mov {}, rbp", "mov {}, rsp", out(reg) fp, out(reg) sp,
            options(nomem, nostack, preserves_flags))
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: reads two registers; no memory access.
    unsafe {
        core::arch::asm!("mov {}, x29", "mov {}, sp", out(reg) fp, out(reg) sp,
            options(nomem, nostack, preserves_flags))
    };
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        (fp, sp) = (0, usize::MAX);
    }
    (fp, sp)
}

/// The return addresses of the calling stack, innermost first, written into `out` (left
/// uninitialised by the caller: a sample's stack is usually far shorter than `MAX_FRAMES`, and
/// zeroing or copying the whole array cost more than the walk). Frames of the allocator itself
/// come first (symbolizers drop them by name). Inlined into the sample that calls it (the walk
/// starts at that function's frame record): a call of its own, with six saved registers, was ~20
/// of the ~30 instructions a sample spent here when the chain is absent (callgrind, medium-churn:
/// `begin_sample_into` with `capture` 145 -> 127 per sample; 20 frames deep with frame pointers
/// 903 -> 858).
#[inline(always)]
pub fn capture(out: &mut [MaybeUninit<usize>; MAX_FRAMES]) -> &[usize] {
    let n = walk(out);
    // SAFETY: `walk` initialised `out[..n]`; `MaybeUninit<usize>` has `usize`'s layout.
    unsafe { core::slice::from_raw_parts(out.as_ptr().cast::<usize>(), n) }
}

/// Writes the frames into `out[..n]`, returns `n`.
#[inline(always)]
fn walk(out: &mut [MaybeUninit<usize>; MAX_FRAMES]) -> usize {
    let (fp, sp) = registers();
    walk_from(fp, sp, out)
}

/// `walk` from the frame record at `fp`, the stack pointer being `sp`.
#[inline(always)]
fn walk_from(mut fp: usize, sp: usize, out: &mut [MaybeUninit<usize>; MAX_FRAMES]) -> usize {
    // The first frame is one of this stack's, above the stack pointer: a frame pointer register
    // holding anything else (code built without frame pointers uses it as a general register)
    // is no chain, and is not probed (a system call per page it names).
    if fp < sp || fp - sp > FIRST_STEP {
        return 0;
    }
    // The one page known readable so far (frames ascend, so most frames share a few pages): at
    // first the page of the stack pointer, which holds the first frames of the walk.
    let mut ok_page = sp & !(PAGE - 1);
    let mut n = 0;
    while n < MAX_FRAMES {
        // Not 0: the first frame lies above the stack pointer, each next one above the last.
        if fp % 16 != 0 {
            break;
        }
        // The frame record is two words: the caller's frame pointer, then the return address;
        // 16-aligned, so within one page (and `fp + 8` cannot overflow).
        let page = fp & !(PAGE - 1);
        if page != ok_page {
            if !crate::os::is_readable(page) {
                return n;
            }
            ok_page = page;
        }
        // SAFETY: both words lie in a page the kernel reported readable; stack memory above the
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
    fn a_first_frame_off_the_stack_is_not_walked() {
        // A readable, well-formed frame record that is not on this stack (a static, below the
        // stack pointer): a frame pointer register holding its address is garbage, not a chain.
        #[repr(align(16))]
        struct Record([usize; 2]);
        static OFF_STACK: Record = Record([0, 0x1234]);
        let mut out = [MaybeUninit::uninit(); MAX_FRAMES];
        let off = core::ptr::addr_of!(OFF_STACK.0) as usize;
        let sp = registers().1;
        assert!(off < sp, "statics lie below the stack here");
        assert_eq!(walk_from(off, sp, &mut out), 0);
        // The same record on this stack (above the callee's stack pointer) is walked.
        let on_stack = core::hint::black_box(Record([0, 0x5678]));
        let at = core::ptr::addr_of!(on_stack.0) as usize;
        assert_eq!(walk_from(at, registers().1, &mut out), 1);
        // SAFETY: the walk wrote one frame.
        assert_eq!(unsafe { out[0].assume_init() }, 0x5678);
    }

    #[test]
    fn a_first_frame_far_above_the_stack_pointer_is_not_walked() {
        // A readable, well-formed frame record 1 MiB above the stack pointer (the stack pointer
        // made up, the record real: a frame pointer register holding a heap address a few MiB
        // above a thread's stack, as prof10 saw): no chain. The old bound (16 MiB) walked it.
        #[repr(align(16))]
        struct Record([usize; 2]);
        let rec = core::hint::black_box(Record([0, 0x9abc]));
        let at = core::ptr::addr_of!(rec.0) as usize;
        let mut out = [MaybeUninit::uninit(); MAX_FRAMES];
        assert_eq!(walk_from(at, at - (1 << 20), &mut out), 0);
        // Within the bound the same record is walked.
        assert_eq!(walk_from(at, at - (FIRST_STEP - 16), &mut out), 1);
        // SAFETY: the walk wrote one frame.
        assert_eq!(unsafe { out[0].assume_init() }, 0x9abc);
    }

    #[test]
    fn a_frame_record_off_16_byte_alignment_ends_the_walk() {
        // A chain of three frame records on this stack: all 16-aligned, it is walked to its
        // end; with the second record 8 bytes off (`fp % 16 == 8`, as no ABI frame is), the walk
        // stops before it.
        #[repr(align(16))]
        struct Chain([usize; 10]);
        let mut c = Chain([0; 10]);
        let base = core::ptr::addr_of!(c.0) as usize;
        let link = |c: &mut Chain, at: [usize; 3]| {
            c.0 = [0; 10];
            for (k, &w) in at.iter().enumerate() {
                c.0[w] = at.get(k + 1).map_or(0, |&n| base + n * 8);
                c.0[w + 1] = 0x100 * (k + 1);
            }
            core::hint::black_box(&mut *c);
        };
        let mut out = [MaybeUninit::uninit(); MAX_FRAMES];
        link(&mut c, [0, 2, 4]);
        assert_eq!(walk_from(base, registers().1, &mut out), 3);
        // SAFETY: the walk wrote three frames.
        let got: [usize; 3] = core::array::from_fn(|i| unsafe { out[i].assume_init() });
        assert_eq!(got, [0x100, 0x200, 0x300]);
        link(&mut c, [0, 3, 6]);
        assert_eq!(walk_from(base, registers().1, &mut out), 1);
        assert_eq!(walk_from(base + 8, registers().1, &mut out), 0);
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
