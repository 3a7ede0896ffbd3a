//! `realloc` through `HakMem` as the global allocator.
//!
//! Claims checked: growing or shrinking a block keeps the first `min(old, new)` bytes and the
//! layout's alignment, across size class boundaries, across the small/large boundary (32 KiB) in
//! both directions, between large sizes, and for blocks first allocated by a thread that has
//! since exited. Every block is filled with a pattern derived from its id; the kept prefix is
//! checked after each `realloc` and the whole block is refilled and checked before `dealloc`.
//!
//! Large blocks that cannot grow in place move their pages, not their bytes
//! (`config::LARGE_MOVE`): `large_growth_moves_pages` (in a child process of its own, for its RSS
//! reading) fills a 16 MiB block, blocks its in-place growth with a page mapped right after it,
//! grows it to 48 MiB (the test fills the new 32 MiB), and checks the contents and that RSS grew by
//! less than 36 MiB (a copy makes the old 16 MiB resident twice more: the new block's copy and the
//! old block, kept committed in the large cache).
//!
//! `HAKMEM_TEST_SCALE` (default 1) multiplies the number of random steps.

mod support;

use support::child;
use support::pattern::TestBlock;
use support::{class_sizes, scale, Rng, KIB, MIB};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

/// A size with a roughly log-uniform distribution over `1..=max`.
fn log_size(rng: &mut Rng, max: usize) -> usize {
    let bits = rng.below(max.ilog2() as usize + 1);
    (rng.below(2 << bits) + 1).min(max)
}

// ---- tests -----------------------------------------------------------------------------------

/// A buffer grown 16 bytes at a time from 16 bytes to 32 KiB (a log or string buffer in C) moves
/// about twice per doubling, not at each of the 64 fine classes below 1 KiB and the 4 per doubling
/// above; its contents survive every move.
#[test]
fn small_step_growth_through_the_small_classes_moves_rarely() {
    let mut b = TestBlock::new(16, 16, 21);
    let mut moves = 0;
    let mut size = 16;
    while size < 32 * KIB {
        size += 16;
        let at = b.addr();
        b.resize(size);
        moves += usize::from(b.addr() != at);
    }
    // 16 B -> 32 KiB is 11 doublings; at every class boundary it would be 63 + 20 = 83 moves.
    assert!(moves <= 30, "{moves} moves for eleven doublings");
}

/// The same buffer moves about once per doubling (`front::alloc::grown_size`: one rung per
/// doubling, `2^k`), so its chain passes through one class per doubling. With the two-rung ladder
/// of session 4 (`config::GROWTH_LADDER_HALF_STEPS`) it moved 21 times, with a move at 1.5x a
/// power of two in every doubling.
#[test]
fn small_step_growth_moves_about_once_per_doubling() {
    let points = move_points(16, 0, 32 * KIB);
    assert!(
        points.len() <= 14,
        "{} moves for eleven doublings: {points:?}",
        points.len()
    );
    let mut b = TestBlock::new(16, 16, 22);
    let mut size = 16;
    while size < 32 * KIB {
        size += 16;
        b.resize(size);
        // SAFETY: a live block of this allocator.
        let usable = unsafe { hakmem::raw::usable_size(b.addr() as *mut u8) };
        // In header mode the class (`2^k`) holds the block's 16-byte header too.
        let class = if cfg!(feature = "headerless") {
            usable
        } else {
            usable + 16
        };
        // (Up to 16 KiB: the last doubling leaves the small classes in header mode.)
        assert!(
            !(256..=16 * KIB).contains(&size) || class.is_power_of_two(),
            "a buffer of {size} bytes grown in small steps sits in a block of {usable}, not a power of two"
        );
    }
}

/// The sizes (rounded up to 16 bytes) at which a buffer grown 16 bytes at a time from `start` up
/// to `end` moved, above `from`.
fn move_points(start: usize, from: usize, end: usize) -> Vec<usize> {
    let mut b = TestBlock::new(start, 16, start as u64);
    let (mut size, mut points) = (start, Vec::new());
    while size < end {
        size += 16;
        let at = b.addr();
        b.resize(size);
        if b.addr() != at && size > from {
            points.push(size.next_multiple_of(16));
        }
    }
    points
}

/// Buffers that start at different sizes and grow in small steps meet on the same classes (a
/// ladder of one size per doubling), so they share slabs and spans instead of each keeping its
/// own partly used ones.
#[test]
fn small_step_growth_from_different_starts_meets_on_the_same_classes() {
    let end = if cfg!(feature = "medium") {
        500 * KIB
    } else {
        30 * KIB
    };
    let a = move_points(16, 2 * KIB, end);
    for start in [48, 80, 200] {
        assert_eq!(
            move_points(start, 2 * KIB, end),
            a,
            "a buffer started at {start} bytes moved at other sizes than one started at 16"
        );
    }
}

/// `config::REALLOC_OWNED_MOVE`: small blocks of a slab this thread owns move between small
/// classes without `memcpy` (16-byte moves up to 64 bytes of prefix, `memcpy` above), upward and
/// downward (a shrink below a quarter of the class moves too), with each target class's list
/// warm (the move's own pop) and with it empty (the general move). Every prefix survives, a
/// neighbour of the same class is untouched, and the old block is free again: the next request
/// of its size gets it back off its class's list (LIFO; nothing in between allocates), and frees
/// of both blocks pass the freed-mark check. Runs on a fresh thread, so that its lists start
/// empty.
#[test]
fn small_moves_keep_the_prefix_and_free_the_old_block() {
    fn byte(id: usize, i: usize) -> u8 {
        (id.wrapping_mul(31) ^ i.wrapping_mul(7)) as u8 | 1
    }
    /// A block of `size` bytes (alignment 16) filled with `id`'s bytes.
    fn filled(size: usize, id: usize) -> *mut u8 {
        let layout = std::alloc::Layout::from_size_align(size, 16).expect("layout");
        // SAFETY: a non-zero size.
        let p = unsafe { std::alloc::alloc(layout) };
        assert!(!p.is_null());
        for i in 0..size {
            // SAFETY: live for `size` bytes.
            unsafe { p.add(i).write(byte(id, i)) };
        }
        p
    }
    fn check(p: *const u8, len: usize, id: usize, what: &str) {
        for i in 0..len {
            // SAFETY: live for at least `len` bytes.
            let b = unsafe { p.add(i).read() };
            assert_eq!(b, byte(id, i), "{what}: byte {i} of {len} changed");
        }
    }
    fn free(p: *mut u8, size: usize) {
        let layout = std::alloc::Layout::from_size_align(size, 16).expect("layout");
        // SAFETY: a live block of `layout`.
        unsafe { std::alloc::dealloc(p, layout) };
    }
    std::thread::spawn(|| {
        let mut id = 1;
        let mut moves = 0;
        for warm in [false, true] {
            for old in (1..=160).chain([255, 256, 257, 1000, 1024]) {
                for new in [
                    1,
                    old / 5,
                    old + 1,
                    old + old / 2 + 1,
                    2 * old,
                    3 * old + 7,
                    1100,
                ] {
                    let new = new.max(1);
                    if warm {
                        // One block of the target size freed first: its class's list has it.
                        free(filled(new, 0), new);
                    }
                    id += 1;
                    let neighbour = filled(old, id + 1_000_000);
                    let p = filled(old, id);
                    let layout = std::alloc::Layout::from_size_align(old, 16).expect("layout");
                    // SAFETY: a live block of `layout`; a non-zero new size.
                    let q = unsafe { std::alloc::realloc(p, layout, new) };
                    assert!(!q.is_null() && q as usize % 16 == 0);
                    check(q, old.min(new), id, "the moved prefix");
                    if q != p {
                        moves += 1;
                        let again = filled(old, id + 2_000_000);
                        assert_eq!(
                            again, p,
                            "realloc {old} -> {new} moved, but the old block is not the next of \
                             its class"
                        );
                        free(again, old);
                    }
                    check(neighbour, old, id + 1_000_000, "the neighbour");
                    free(q, new);
                    free(neighbour, old);
                }
            }
        }
        assert!(moves > 1000, "only {moves} reallocs moved");
    })
    .join()
    .expect("realloc thread");
}

#[test]
fn chain_across_class_and_large_boundaries() {
    let chain = [8, 24, 1000, 1025, 40_000, 3 * MIB, 100, 8];
    let mut id = 0;
    for align in [1, 8, 16, 64, 4096, 64 * KIB] {
        for sizes in [
            &chain[..],
            &[3 * MIB, 40_000, 32 * KIB + 1, 32 * KIB, 1, 70_000],
        ] {
            id += 1;
            // A neighbour allocated right after, so growth cannot always extend in place.
            let neighbour = TestBlock::new(sizes[0], align, id + 1000);
            let mut block = TestBlock::new(sizes[0], align, id);
            for &size in &sizes[1..] {
                block.resize(size);
                block.resize(size); // same size: a no-op that must keep everything
            }
            drop(block);
            drop(neighbour);
        }
    }
}

#[test]
fn walk_every_class_up_and_down() {
    let mut up: Vec<usize> = class_sizes()
        .into_iter()
        .flat_map(|s| [s - 1, s, s + 1])
        .collect();
    up.extend([64 * KIB, MIB, 2 * MIB + 1, 5 * MIB]);
    let down: Vec<usize> = up.iter().rev().copied().collect();
    for (i, align) in [8, 16, 64, 4096].into_iter().enumerate() {
        let mut block = TestBlock::new(1, align, 100 + i as u64);
        for &size in up.iter().chain(&down) {
            block.resize(size);
        }
        drop(block);
    }
}

#[test]
fn random_reallocs_among_live_neighbours() {
    const SLOTS: usize = 64;
    let mut rng = Rng::new(7, 0);
    let mut slots: Vec<Option<TestBlock>> = (0..SLOTS).map(|_| None).collect();
    let mut id = 1 << 32;
    for step in 0..3000 * scale() {
        let slot = &mut slots[rng.below(SLOTS)];
        let max = if rng.below(16) == 0 {
            4 * MIB
        } else {
            96 * KIB
        };
        let size = log_size(&mut rng, max);
        match slot.take() {
            None => {
                id += 1;
                let align = [1, 8, 16, 32, 64, 128, 4096][rng.below(7)];
                *slot = Some(TestBlock::new(size, align, id));
            }
            Some(block) if rng.below(8) == 0 => drop(block),
            Some(mut block) => {
                block.resize(size);
                *slot = Some(block);
            }
        }
        if step % 256 == 0 {
            for block in slots.iter().flatten() {
                block.verify("(periodic check of all slots)");
            }
        }
    }
    for block in slots.into_iter().flatten() {
        drop(block);
    }
}

#[test]
fn realloc_blocks_of_an_exited_thread() {
    let sizes = [
        16,
        200,
        1024,
        1025,
        4000,
        32 * KIB,
        32 * KIB + 1,
        100_000,
        3 * MIB,
    ];
    let blocks = std::thread::spawn(move || {
        let mut blocks = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            for align in [8, 64, 4096] {
                blocks.push(TestBlock::new(
                    size,
                    align,
                    (200 + i * 8 + align.ilog2() as usize) as u64,
                ));
            }
        }
        blocks
    })
    .join()
    .expect("allocating thread panicked");
    for (i, mut block) in blocks.into_iter().enumerate() {
        let old = block.size();
        // Grow, shrink below the original, then return near the start: each crosses a class.
        block.resize(old * 2 + 1);
        block.resize((old / 3).max(1));
        block.resize(old + i);
        drop(block);
    }
}

// ---- large growth by moving pages (`config::LARGE_MOVE`) -------------------------------------

/// Resident set size of this process, bytes.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// The end of the mapping (`/proc/self/maps`) holding `addr`: the block's own end, or, where the
/// kernel merged it with the mapping after it, a point past a neighbour that already blocks its
/// growth in place.
fn mapping_end(addr: usize) -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    for line in maps.lines() {
        let range = line.split_whitespace().next().unwrap();
        let (lo, hi) = range.split_once('-').unwrap();
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).unwrap(),
            usize::from_str_radix(hi, 16).unwrap(),
        );
        if (lo..hi).contains(&addr) {
            return hi;
        }
    }
    panic!("{addr:#x} is in no mapping");
}

/// Maps one inaccessible page at `at` unless something is mapped there already (either way the
/// mapping ending at `at` cannot grow in place); returns it if this call mapped it.
fn block_growth_at(at: usize) -> Option<usize> {
    // SAFETY: NOREPLACE maps only over free address space; the page is ours if it succeeds.
    let p = unsafe {
        libc::mmap(
            at as *mut libc::c_void,
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return None;
    }
    if p as usize != at {
        // A kernel without NOREPLACE put it elsewhere: of no use.
        // SAFETY: the page just mapped.
        unsafe { libc::munmap(p, 4096) };
        return None;
    }
    Some(at)
}

/// Grows large blocks (a colour offset, and a 4 MiB alignment) whose in-place growth is blocked,
/// twice each, and checks the contents, the alignment and the usable size after each move.
fn grow_blocked(from: usize, to: usize, align: usize, id: u64) -> (usize, usize) {
    let mut b = TestBlock::new(from, align, id);
    let guard = block_growth_at(mapping_end(b.addr()));
    let rss0 = rss();
    let at = b.addr();
    b.resize(to);
    let rss1 = rss();
    assert_ne!(
        b.addr(),
        at,
        "the block grew in place past the page mapped after it"
    );
    assert_eq!(b.addr() % align, 0, "moved block misaligned for {align}");
    assert!(
        mapping_end(b.addr()) >= b.addr() + to,
        "the moved block's mapping is short"
    );
    b.verify("after the move");
    // And once more, from the new place.
    b.resize(to + to / 2);
    b.verify("after the second growth");
    drop(b);
    if let Some(g) = guard {
        // SAFETY: the page `block_growth_at` mapped.
        unsafe { libc::munmap(g as *mut libc::c_void, 4096) };
    }
    (rss0, rss1)
}

fn large_growth_moves_pages() {
    let (rss0, rss1) = grow_blocked(16 * MIB, 48 * MIB, 16, 7001);
    // The new 32 MiB are filled (`TestBlock::resize`); a copy adds the old 16 MiB twice over (the
    // copy, and the old block kept committed in the large cache).
    assert!(
        rss1 < rss0 + 36 * MIB,
        "growing a filled 16 MiB block to 48 MiB made RSS grow by {} KiB (32 MiB filled: the \
         bytes were copied)",
        (rss1 - rss0.min(rss1)) / KIB
    );
    grow_blocked(8 * MIB, 24 * MIB, 4 * MIB, 7002);
    grow_blocked(5 * MIB, 70 * MIB, 4096, 7003);
}

/// With the profiler sampling every request, a sampled large block grows like an unsampled one
/// (`config::SAMPLED_LARGE_MOVE`): in place, or its pages moved, not its bytes copied; and the
/// profile counts the new size (the old sample ended, the new size sampled anew), or, with the
/// profiler stopped, nothing (the block then frees as an unsampled one).
#[cfg(feature = "profile")]
fn sampled_large_growth_moves_pages() {
    use hakmem::profile;
    profile::set_sample_interval(1);
    assert!(profile::start());
    let live_bytes = || profile::totals().live_bytes;
    let mut b = TestBlock::new(16 * MIB, 16, 7201);
    let sampled = |b: &TestBlock| profile::sampled_size(b.addr() as *const u8);
    assert_eq!(sampled(&b), Some(16 * MIB), "every request is sampled");
    let guard = block_growth_at(mapping_end(b.addr()));
    let (bytes0, rss0) = (live_bytes(), rss());
    let at = b.addr();
    b.resize(48 * MIB);
    let rss1 = rss();
    assert_ne!(
        b.addr(),
        at,
        "the block grew in place past the page mapped after it"
    );
    b.verify("after the move");
    assert!(
        rss1 < rss0 + 36 * MIB,
        "growing a filled sampled 16 MiB block to 48 MiB made RSS grow by {} KiB (32 MiB filled: \
         the bytes were copied)",
        (rss1 - rss0.min(rss1)) / KIB
    );
    assert_eq!(sampled(&b), Some(48 * MIB), "the new size is sampled anew");
    assert_eq!(
        live_bytes() - bytes0,
        (32 * MIB) as f64,
        "live bytes follow the new size"
    );
    // Grown in place (or moved again) from the new place.
    b.resize(56 * MIB);
    b.verify("after the second growth");
    assert_eq!(sampled(&b), Some(56 * MIB));
    assert_eq!(live_bytes() - bytes0, (40 * MIB) as f64);
    // Shrunk in place.
    b.resize(40 * MIB);
    b.verify("after the shrink");
    assert_eq!(sampled(&b), Some(40 * MIB));
    assert_eq!(live_bytes() - bytes0, (24 * MIB) as f64);
    // Stopped: the old sample ends, the new size is not sampled; the block frees unsampled.
    profile::stop();
    b.resize(64 * MIB);
    b.verify("after the growth unprofiled");
    assert_eq!(sampled(&b), None, "not sampled while stopped");
    assert_eq!(live_bytes() - bytes0, -((16 * MIB) as f64));
    drop(b);
    assert_eq!(live_bytes() - bytes0, -((16 * MIB) as f64));
    if let Some(g) = guard {
        // SAFETY: the page `block_growth_at` mapped.
        unsafe { libc::munmap(g as *mut libc::c_void, 4096) };
    }
}

#[test]
#[ignore = "child process entry point; run by the other tests"]
fn child() {
    let Some(name) = child::scenario() else {
        return;
    };
    match name.as_str() {
        "large_growth_moves_pages" => large_growth_moves_pages(),
        #[cfg(feature = "profile")]
        "sampled_large_growth_moves_pages" => sampled_large_growth_moves_pages(),
        other => panic!("unknown scenario {other:?}"),
    }
}

#[test]
#[cfg(not(hakmem_no_large_move))]
fn large_growth_moves_pages_instead_of_copying() {
    child::run("large_growth_moves_pages", &[]).assert_passed();
}

/// Needs both moves: with `--cfg hakmem_no_large_move` no large block moves its pages, sampled
/// or not (the copy is then what that backout's own step expects).
#[test]
#[cfg(all(
    feature = "profile",
    not(hakmem_no_sampled_large_move),
    not(hakmem_no_large_move)
))]
fn sampled_large_growth_moves_pages_instead_of_copying() {
    child::run("sampled_large_growth_moves_pages", &[]).assert_passed();
}

#[test]
fn large_growth_keeps_contents_and_alignment_when_blocked() {
    grow_blocked(6 * MIB, 20 * MIB, 16, 7101);
    grow_blocked(6 * MIB, 20 * MIB, 2 * MIB, 7102);
    grow_blocked(33 * KIB, 9 * MIB, 64, 7103);
}
