//! `config::POW2_HEADER_CLASSES`: a request of a power of two in 1-4 KiB plus a small header
//! (sqlite3's page buffers: 1,032 and 4,104 bytes, most of its live bytes at its peak) takes a
//! block 16 bytes over the power of two, and its blocks lie that far apart in their slab: 63 of
//! 1,040 bytes in a 64 KiB slab where 56 of 1,152 did. Before (and under
//! `--cfg hakmem_no_pow2_header_classes`, which the backout arm asserts) they took 1,152, 2,304
//! and 4,608 bytes, 11-12% over the request. Header mode puts its 16-byte header in the block, so
//! these requests need more than 16 bytes over the power of two there: the old classes.

use std::alloc::{alloc, dealloc, Layout};

use hakmem::testing::block_info;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

#[test]
fn a_power_of_two_plus_a_header_takes_sixteen_bytes_more() {
    let on = hakmem::config::POW2_HEADER_CLASSES && hakmem::config::HEADERLESS;
    for (n, new, old) in [
        (1032usize, 1040usize, 1152usize),
        (1040, 1040, 1152),
        (2056, 2064, 2304),
        (4104, 4112, 4608),
        (8200, 9216, 9216),
    ] {
        let want = if on { new } else { old };
        let layout = Layout::from_size_align(n, 8).unwrap();
        // SAFETY: `layout` has a non-zero size.
        let ptrs: Vec<*mut u8> = (0..32).map(|_| unsafe { alloc(layout) }).collect();
        let mut apart = Vec::new();
        for (i, &p) in ptrs.iter().enumerate() {
            assert!(!p.is_null(), "alloc({n}) failed");
            // SAFETY: `p` is a live block of `n` bytes.
            unsafe { p.write_bytes(0xa5, n) };
            let info = block_info(p).expect("a small block");
            assert_eq!(info.class_size, want, "n={n}: block size");
            if i > 0 {
                let prev = block_info(ptrs[i - 1]).unwrap();
                if prev.superslab == info.superslab && prev.slab == info.slab {
                    apart.push(info.block.abs_diff(prev.block));
                }
            }
        }
        // Consecutive blocks of one slab sit whole blocks apart, the smallest gap one block.
        assert_eq!(apart.iter().min(), Some(&want), "n={n}: blocks apart");
        for p in ptrs {
            // SAFETY: allocated above with `layout`, freed once.
            unsafe { dealloc(p, layout) };
        }
    }
}
