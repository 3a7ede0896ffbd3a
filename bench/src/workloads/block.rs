//! `Block`: one heap allocation made through the process's global allocator, stamped with a
//! pattern derived from a tag and checked before it is freed.
//!
//! The stamp is the head word and the tail word of the block (the bytes of a block under
//! 16 bytes). It is cheap enough for tight loops and catches the usual allocator bugs: two
//! live blocks that overlap (one stamp overwrites the other), a live block handed out again,
//! and a free-list link written into a block that is still live (allocators keep their links
//! in the first word). `fill` stamps every byte, for workloads that use their memory fully.

use std::alloc::{alloc, dealloc, realloc, Layout};
use std::ptr::NonNull;

/// Alignment of every `Block`; what `malloc` promises for small blocks on 64-bit targets.
pub const ALIGN: usize = 8;

/// A live heap block of `size` bytes stamped with `tag`.
///
/// Invariant: `ptr` came from `alloc(Layout(size, ALIGN))` (or a `realloc` of such a block to
/// `size`) and has not been freed; the stamp of `tag` is in place unless the allocator broke it.
#[derive(Debug)]
pub struct Block {
    ptr: NonNull<u8>,
    size: usize,
    tag: u64,
}

// SAFETY: a Block owns its allocation exclusively, like a Box<[u8]>; the global allocator
// accepts frees from any thread.
unsafe impl Send for Block {}

/// The byte the stamp of `tag` puts at offset `i` (for blocks under 16 bytes).
fn stamp_byte(tag: u64, i: usize) -> u8 {
    (tag >> ((i & 7) * 8)) as u8 ^ (i as u8).wrapping_mul(31)
}

/// The word the stamp of `tag` puts at the tail of a block of `size` bytes.
fn tail_word(tag: u64, size: usize) -> u64 {
    tag.rotate_left(17) ^ size as u64
}

impl Block {
    /// Allocates `size` (≥ 1) bytes and stamps them with `tag`. Aborts the process on
    /// allocation failure, like `Box::new`.
    pub fn new(size: usize, tag: u64) -> Block {
        let size = size.max(1);
        let layout = Layout::from_size_align(size, ALIGN).expect("block size overflows");
        // SAFETY: the layout has a nonzero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(layout)
        };
        let b = Block { ptr, size, tag };
        b.stamp();
        b
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The tag this block was stamped with.
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// The block's address (for reports only).
    pub fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The block's bytes. Only for blocks whose every byte has been written (after `fill`,
    /// or by the caller through `as_mut_ptr`): reading never-written bytes is undefined.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: by the invariant, `ptr` is a live allocation of `size` bytes owned by self;
        // the caller promises (see above) that every byte is initialised.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.size) }
    }

    /// The start of the block, for reading bytes the caller wrote.
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    /// The start of the block, for writing (possibly never-written) bytes `0..size`.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn stamp(&self) {
        let p = self.ptr.as_ptr();
        if self.size >= 16 {
            // SAFETY: both words lie inside the live block of `size` ≥ 16 bytes; unaligned
            // writes need no alignment.
            unsafe {
                p.cast::<u64>().write_unaligned(self.tag);
                p.add(self.size - 8)
                    .cast::<u64>()
                    .write_unaligned(tail_word(self.tag, self.size));
            }
        } else {
            for i in 0..self.size {
                // SAFETY: i < size, inside the live block.
                unsafe { p.add(i).write(stamp_byte(self.tag, i)) };
            }
        }
    }

    /// Stamps every byte (a block that is used fully, e.g. a buffer being filled).
    pub fn fill(&mut self) {
        let p = self.ptr.as_ptr();
        for i in 0..self.size {
            // SAFETY: i < size, inside the live block that `&mut self` owns.
            unsafe { p.add(i).write(stamp_byte(self.tag, i)) };
        }
        self.stamp();
    }

    /// Checks the stamp; `what` names the workload in the error.
    pub fn check(&self, what: &str) -> Result<(), String> {
        let p = self.ptr.as_ptr();
        let bad = |offset: usize, expected: u64, found: u64| {
            Err(format!(
                "{what}: block {:#x} of {} bytes (tag {:#x}) corrupted at offset {offset}: \
                 expected {expected:#x}, found {found:#x}",
                self.addr(),
                self.size,
                self.tag
            ))
        };
        if self.size >= 16 {
            // SAFETY: as in `stamp`.
            let (head, tail) = unsafe {
                (
                    p.cast::<u64>().read_unaligned(),
                    p.add(self.size - 8).cast::<u64>().read_unaligned(),
                )
            };
            if head != self.tag {
                return bad(0, self.tag, head);
            }
            let want = tail_word(self.tag, self.size);
            if tail != want {
                return bad(self.size - 8, want, tail);
            }
        } else {
            for i in 0..self.size {
                // SAFETY: i < size, inside the live block.
                let got = unsafe { p.add(i).read() };
                if got != stamp_byte(self.tag, i) {
                    return bad(i, stamp_byte(self.tag, i) as u64, got as u64);
                }
            }
        }
        Ok(())
    }

    /// Checks every byte stamped by `fill`.
    pub fn check_filled(&self, what: &str) -> Result<(), String> {
        self.check(what)?;
        let keep = if self.size >= 16 {
            8..self.size - 8
        } else {
            0..0
        };
        for (i, &b) in self
            .bytes()
            .iter()
            .enumerate()
            .skip(keep.start)
            .take(keep.len())
        {
            if b != stamp_byte(self.tag, i) {
                return Err(format!(
                    "{what}: block {:#x} of {} bytes corrupted at offset {i}",
                    self.addr(),
                    self.size
                ));
            }
        }
        Ok(())
    }

    /// Checks the stamp, then frees the block.
    pub fn free(self, what: &str) -> Result<(), String> {
        self.check(what)?;
        drop(self);
        Ok(())
    }

    /// Grows or shrinks the block with `realloc`; the first `min(old, new)` bytes are kept
    /// (the caller re-stamps or re-fills as it needs).
    pub fn realloc(&mut self, new_size: usize) {
        let new_size = new_size.max(1);
        let old = Layout::from_size_align(self.size, ALIGN).expect("valid layout");
        // SAFETY: `ptr` is live with layout `old`; new_size is nonzero and, rounded to ALIGN,
        // does not overflow isize for the sizes workloads use.
        let raw = unsafe { realloc(self.ptr.as_ptr(), old, new_size) };
        let Some(ptr) = NonNull::new(raw) else {
            std::alloc::handle_alloc_error(Layout::from_size_align(new_size, ALIGN).unwrap())
        };
        self.ptr = ptr;
        self.size = new_size;
    }

    /// Deliberately breaks the stamp (the fault-injection self test of the checks).
    pub fn corrupt(&mut self) {
        // SAFETY: byte 0 is inside the live block (size ≥ 1) and was written by `stamp`.
        unsafe { *self.ptr.as_ptr() ^= 0x5A };
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.size, ALIGN).expect("valid layout");
        // SAFETY: by the invariant `ptr` is live with exactly this layout.
        unsafe { dealloc(self.ptr.as_ptr(), layout) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_and_detects_corruption() {
        for size in [1, 7, 8, 15, 16, 17, 100, 4096] {
            let mut b = Block::new(size, 0xDEAD_BEEF_1234 + size as u64);
            b.check("t").unwrap();
            b.fill();
            b.check_filled("t").unwrap();
            b.corrupt();
            assert!(b.check("t").is_err(), "size {size}");
        }
    }

    #[test]
    fn realloc_keeps_prefix() {
        let mut b = Block::new(32, 7);
        b.fill();
        let before = b.bytes().to_vec();
        b.realloc(4000);
        assert_eq!(&b.bytes()[..24], &before[..24]);
    }
}
