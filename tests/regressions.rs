//! Regression tests for the seven root-cause candidates of the crashes in the allocator hakmem
//! descends from (TLS SLL integrity failures, invalid `free()` pointers, hangs). Each test builds
//! its scenario on purpose — through the public API and the `hakmem::testing` hooks — and asserts
//! that the allocator stays correct, or that it aborts at once with the message that names the
//! failing box.
//!
//! Every scenario runs in a child process of this binary (tests/support): a SuperSlab can only be
//! retired when nothing else in the process uses it, and an abort must not take the test runner
//! down. This binary keeps the system allocator as its global allocator, so the scenario's calls
//! to `HakMem` are the only ones that reach hakmem.
//!
//! | # | candidate | scenario | expected |
//! |---|---|---|---|
//! | 1 | stale hint after SuperSlab reuse | free a block, retire and reuse its SuperSlab, free a block of the new incarnation | hint reports `Stale`, the free goes through the registry and is correct; the hint is refreshed |
//! | 2 | header-mode pointer on a headerless path, or the reverse | free `p + 16` (headerless build) / the block start `p - 16` (header build) | abort: `free` (not on a block boundary) / `header` (bad magic) |
//! | 3 | registry returning a retired SuperSlab | retire a SuperSlab, ask the registry, free a pointer into it | "not ours" while retired, known again after reuse; the free aborts in `registry` |
//! | 4 | class-index drift between slab and block | every class: block on its slab's class grid; a block whose class no longer matches its slab | correct grid; abort: `free` (headerless: stale pointer into a slab rebound to another class) / `header` (class differs) |
//! | 5 | magazine storing a block pointer where a user pointer is expected, or the reverse | cycle blocks through TLS spill, refill, remote free and drain at every alignment | every pointer handed out is a user pointer: offset to its block = header unit (0 headerless) |
//! | 6 | remote queue merged into the free list twice | drain twice; a queue holding a block twice, drained or taken by a refill as its pending chain; a queued link cut after the free | second drain finds nothing, no block handed out twice; abort: `remote` (drained more than are out / chain shorter than its count) |
//! | 7 | header offset applied twice or skipped | offsets at every alignment across block reuse; a header offset of 0 / twice the unit | offset = header unit always; abort: `header` (offset impossible) / `free` (not on a block boundary) |

#![cfg(unix)]

mod support;

use std::alloc::{GlobalAlloc, Layout};
use std::collections::HashSet;
use std::hint::black_box;

use hakmem::testing::{self, HintState, HEADER_MODE};
use hakmem::HakMem;
use support::child::{announce, continued};
use support::pattern::{fill_raw, verify_raw};

/// Size of a slab (SLAB_SIZE in the default configuration).
const SLAB: usize = 64 * 1024;

// ---- child side ------------------------------------------------------------------------------

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size.max(1), align).expect("layout")
}

fn alloc(size: usize, align: usize) -> *mut u8 {
    // SAFETY: a non-zero size.
    let p = unsafe { HakMem.alloc(layout(size, align)) };
    assert!(!p.is_null(), "alloc({size}, {align}) failed");
    assert_eq!(p as usize % align, 0, "alloc({size}, {align}) misaligned");
    p
}

/// Allocates and fills with `id`'s pattern.
fn alloc_filled(size: usize, align: usize, id: u64) -> *mut u8 {
    let p = alloc(size, align);
    // SAFETY: live for `size` bytes.
    unsafe { fill_raw(p, size, id) };
    p
}

/// Verifies `id`'s pattern, then frees.
fn free_checked(p: *mut u8, size: usize, align: usize, id: u64) {
    // SAFETY: `p` is live for `size` bytes and was allocated with this layout.
    unsafe {
        verify_raw(p, size, id, "before its free");
        HakMem.dealloc(black_box(p), layout(size, align));
    }
}

/// The bad operation: frees `p` (announced first, so the parent can match the abort line).
fn free_bad(p: *mut u8) {
    free_bad_naming(p, p);
}

/// As `free_bad`, where the abort line names `named` (the block the free path computed).
fn free_bad_naming(p: *mut u8, named: *mut u8) {
    announce(named);
    // SAFETY: deliberately wrong; the allocator must abort before doing anything with it.
    unsafe { HakMem.dealloc(black_box(p), layout(16, 16)) };
    continued();
}

/// True when frees consult the hint cache in this run (compiled in and not switched off).
fn hint_on() -> bool {
    cfg!(feature = "tls-hint") && hakmem::switches().tls_hint
}

/// Frees `a` (48 bytes) and retires its SuperSlab, which must hold nothing else; returns where it
/// was. Precondition checks fail loudly: the scenarios depend on them.
fn free_and_retire(a: *mut u8, id: u64) -> testing::BlockInfo {
    let info = testing::block_info(a).expect("a small block of ours");
    free_checked(a, 48, 16, id);
    if hint_on() {
        assert_eq!(
            testing::hint_state(a),
            HintState::Hit,
            "free did not fill the hint"
        );
    }
    hakmem::collect();
    assert!(
        !testing::registry_knows(a),
        "precondition: the SuperSlab was not retired by collect()"
    );
    // SAFETY: the base came from `block_info`.
    let g = unsafe { testing::superslab_generation(info.superslab) };
    assert_eq!(g, info.generation + 1, "retire must bump the generation");
    info
}

/// 1: stale hint after SuperSlab reuse.
fn stale_hint() {
    let a = alloc_filled(48, 16, 1);
    let old = free_and_retire(a, 1);
    if hint_on() {
        assert_eq!(
            testing::hint_state(a),
            HintState::Stale,
            "retired SuperSlab still hinted"
        );
    }
    let b = alloc_filled(48, 16, 2);
    let new = testing::block_info(b).expect("a small block of ours");
    assert_eq!(
        new.superslab, old.superslab,
        "precondition: the retired SuperSlab is reused"
    );
    assert_eq!(
        new.generation,
        old.generation + 2,
        "reuse must bump the generation"
    );
    if hint_on() && hakmem::config::OWNED_TABLE {
        // Binding the slab of `b` entered it in the owned-slab table and its SuperSlab in the
        // hint cache at the new generation: the first incarnation's entry is gone.
        assert_eq!(
            testing::hint_state(b),
            HintState::Hit,
            "the hint was not refreshed when the reused SuperSlab's slab was bound"
        );
    } else if hint_on() {
        assert_eq!(
            testing::hint_state(b),
            HintState::Stale,
            "a hint from the first incarnation answers for the second"
        );
    }
    free_checked(b, 48, 16, 2);
    if hint_on() && !hakmem::config::OWNED_TABLE {
        assert_eq!(testing::hint_state(b), HintState::Hit, "hint not refreshed");
        assert!(
            !cfg!(feature = "stats") || hakmem::stats().hint_stale >= 1,
            "stale hint not counted"
        );
    }
    // The allocator keeps working in the reused SuperSlab.
    let blocks: Vec<_> = (0..500)
        .map(|i| (alloc_filled(48, 16, 10 + i), 10 + i))
        .collect();
    for (p, id) in blocks {
        free_checked(p, 48, 16, id);
    }
}

/// 2: a pointer of the other mode's shape.
fn other_mode_pointer() {
    // Three blocks, so the one we pass is neither first nor last in its slab.
    let blocks: Vec<_> = (0..3).map(|i| alloc_filled(64, 16, 20 + i)).collect();
    let p = blocks[1];
    if HEADER_MODE {
        // The block start: what a headerless path would hand to free.
        free_bad(p.wrapping_sub(16));
    } else {
        // A header-mode user pointer (block + 16) on the headerless free path.
        free_bad(p.wrapping_add(16));
    }
}

/// 3: the registry never answers for a retired SuperSlab.
fn retired_registry() {
    let a = alloc_filled(48, 16, 3);
    free_and_retire(a, 3);
    // A free of a pointer into the retired SuperSlab must be rejected as "not ours".
    free_bad(a);
}

/// 4, correct side: every block lies on its slab's class grid, at the offset its mode implies.
fn class_grid() {
    let sizes = (1..=1024).step_by(7).chain((1025..=32 * 1024).step_by(331));
    for size in sizes {
        for align in [1usize, 16, 64, 256, 4096] {
            let unit = if HEADER_MODE {
                testing::header_unit(align)
            } else {
                0
            };
            let Some(class) = testing::class_for(size + unit, align) else {
                continue;
            };
            let p = alloc_filled(size, align, size as u64);
            let info = testing::block_info(p).expect("a small block of ours");
            assert_eq!(info.class, class, "size {size} align {align}: slab class");
            assert_eq!(
                p as usize - info.block,
                unit,
                "size {size} align {align}: offset"
            );
            assert!(
                info.block + info.class_size >= p as usize + size,
                "block too small"
            );
            free_checked(p, size, align, size as u64);
        }
    }
}

/// 4, drift: a block whose recorded or implied class differs from its slab's.
fn class_drift() {
    if HEADER_MODE {
        let p = alloc_filled(64, 16, 4);
        let class = testing::block_info(p).expect("ours").class;
        // SAFETY: a live header-mode block; freeing it afterwards must abort.
        unsafe { testing::corrupt_header_class(p, class as u16 + 1) };
        free_bad(p);
    } else {
        // Two neighbouring 48-byte blocks: one of them is off the 64-byte grid.
        let a1 = alloc_filled(48, 16, 5);
        let a2 = alloc_filled(48, 16, 6);
        let offset = |p: *mut u8| {
            let i = testing::block_info(p).expect("ours");
            p as usize - (i.superslab + i.slab * SLAB)
        };
        let ((stale, stale_id), (other, other_id)) = if offset(a1) % 64 != 0 {
            ((a1, 5), (a2, 6))
        } else {
            ((a2, 6), (a1, 5))
        };
        assert_ne!(offset(stale) % 64, 0, "precondition: off the 64-byte grid");
        let i2 = testing::block_info(stale).expect("ours");
        free_checked(other, 48, 16, other_id);
        free_and_retire(stale, stale_id);
        // The SuperSlab comes back with the same slab bound to the 64-byte class.
        let b = alloc_filled(64, 16, 7);
        let ib = testing::block_info(b).expect("ours");
        assert_eq!(
            (ib.superslab, ib.slab),
            (i2.superslab, i2.slab),
            "precondition: same slab"
        );
        assert_ne!(ib.class, i2.class);
        // A stale pointer of the old class, off the new class's grid.
        free_bad(stale);
    }
}

/// 5: every pointer that leaves the magazine/TLS path is a user pointer.
fn magazine_pointers() {
    for align in [1usize, 16, 32, 64, 256, 4096] {
        let size = 200;
        let unit = if HEADER_MODE {
            testing::header_unit(align)
        } else {
            0
        };
        let check = |p: *mut u8| {
            let info = testing::block_info(p).expect("a small block of ours");
            assert_eq!(
                p as usize - info.block,
                unit,
                "align {align}: {p:p} is no user pointer"
            );
            if HEADER_MODE {
                // SAFETY: a live block.
                let recorded = unsafe { testing::header_offset(p) };
                assert_eq!(recorded, Some(unit), "header offset");
            }
        };
        let mut id = align as u64 * 10_000;
        let mut live = Vec::new();
        for round in 0..3 {
            // More than a TLS list holds: frees spill to the slab, allocations refill from it.
            while live.len() < 600 {
                id += 1;
                let p = alloc_filled(size, align, id);
                check(p);
                live.push((p, id));
            }
            let distinct: HashSet<usize> = live.iter().map(|&(p, _)| p as usize).collect();
            assert_eq!(distinct.len(), live.len(), "a block handed out twice");
            // Half freed here (local: TLS list, spill), half by another thread (remote queue).
            let remote: Vec<(usize, u64)> =
                live.drain(..300).map(|(p, id)| (p as usize, id)).collect();
            for (p, id) in live.drain(..) {
                free_checked(p, size, align, id);
            }
            std::thread::spawn(move || {
                for (p, id) in remote {
                    free_checked(p as *mut u8, size, align, id);
                }
            })
            .join()
            .expect("remote freer panicked");
            if round == 1 {
                hakmem::collect();
            }
        }
    }
}

/// 6: 64 blocks of the calling thread freed by another thread; returns the first block's address
/// and every block's start.
fn freed_remotely() -> (*mut u8, HashSet<usize>) {
    let blocks: Vec<(usize, u64)> = (0..64)
        .map(|i| (alloc_filled(48, 16, 60 + i) as usize, 60 + i))
        .collect();
    let first = blocks[0].0 as *mut u8;
    let starts = blocks
        .iter()
        .map(|&(p, _)| testing::block_info(p as *const u8).expect("ours").block)
        .collect();
    std::thread::spawn(move || {
        for (p, id) in blocks {
            free_checked(p as *mut u8, 48, 16, id);
        }
    })
    .join()
    .expect("remote freer panicked");
    (first, starts)
}

/// 6: 256 blocks of the same class handed out afterwards are distinct.
fn reuse_hands_out_distinct_blocks() {
    let again: Vec<*mut u8> = (0..256).map(|i| alloc_filled(48, 16, 200 + i)).collect();
    let distinct: HashSet<usize> = again.iter().map(|&p| p as usize).collect();
    assert_eq!(distinct.len(), again.len(), "a block handed out twice");
    for (i, p) in again.into_iter().enumerate() {
        free_checked(p, 48, 16, 200 + i as u64);
    }
}

/// 6, the bug: a remote queue that holds block x twice (it reads x, y, x, …) while exactly x and
/// y are out. Returns x.
fn queue_holding_a_block_twice() -> *mut u8 {
    let x = alloc_filled(48, 16, 8);
    let y = alloc_filled(48, 16, 9);
    // Everything but x and y goes back to the slab, so exactly two blocks are out.
    hakmem::collect();
    // SAFETY: deliberate corruption: x is pushed twice.
    unsafe {
        testing::push_remote_unchecked(x);
        testing::push_remote_unchecked(y);
        testing::push_remote_unchecked(x);
    }
    announce(testing::block_info(x).expect("ours").block as *const u8);
    x
}

/// 6, a link cut: the queue holds x then y (y's link points at x) while exactly they are out,
/// and y's link is overwritten with null after its free (a use after free). The count the pushes
/// kept says 2; the walk finds 1.
fn remote_link_cut() {
    let x = alloc_filled(48, 16, 8);
    let y = alloc_filled(48, 16, 9);
    hakmem::collect();
    let yb = testing::block_info(y).expect("ours").block;
    // SAFETY: deliberate corruption: both pushed once, then y's link (its first word) cleared.
    unsafe {
        testing::push_remote_unchecked(x);
        testing::push_remote_unchecked(y);
        (yb as *mut usize).write(0);
    }
    announce(yb as *const u8);
    testing::drain_remote_of(y);
    continued();
}

/// 6, correct side: a drained queue is merged once.
fn remote_drain_once() {
    let (first, _) = freed_remotely();
    let n1 = testing::drain_remote_of(first).expect("we own the slab");
    let n2 = testing::drain_remote_of(first).expect("we own the slab");
    assert_eq!(n1, 64, "the first drain takes every remote free");
    assert_eq!(n2, 0, "the second drain finds nothing");
    reuse_hands_out_distinct_blocks();
}

/// 6, the bug: the queue drained.
fn remote_merged_twice() {
    let x = queue_holding_a_block_twice();
    testing::drain_remote_of(x);
    continued();
}

/// 6, correct side, the refill's path: the queue taken as the pending chain hands each remotely
/// freed block out once.
fn remote_refill_once() {
    let (first, freed) = freed_remotely();
    let mut seen = HashSet::new();
    let mut from_queue = 0;
    let got = testing::take_remote_of(first, usize::MAX, |b| {
        assert!(seen.insert(b as usize), "a block handed out twice");
        from_queue += usize::from(freed.contains(&(b as usize)));
    })
    .expect("we own the slab");
    assert_eq!(got, seen.len());
    assert_eq!(from_queue, 64, "every remotely freed block comes out once");
    reuse_hands_out_distinct_blocks();
}

/// 6, the bug on the refill's path: the queue taken as the pending chain.
fn remote_refill_twice() {
    let x = queue_holding_a_block_twice();
    testing::take_remote_of(x, usize::MAX, |_| {});
    continued();
}

/// 7, correct side: the offset between block and user pointer is the header unit, every time a
/// block is reused at a different alignment.
fn offset_once() {
    // One class (256-byte blocks), cycled through alignments; LIFO reuse hands back the same
    // block, so a free that applied the offset twice or not at all would shift it.
    let mut block = None;
    for round in 0..4 {
        for align in [1usize, 16, 32, 64, 128] {
            let unit = if HEADER_MODE {
                testing::header_unit(align)
            } else {
                0
            };
            let size = 256 - unit;
            let p = alloc_filled(size, align, (round * 1000 + align) as u64);
            let info = testing::block_info(p).expect("a small block of ours");
            assert_eq!(info.class_size, 256, "precondition: one class");
            assert_eq!(p as usize - info.block, unit, "align {align}: offset");
            if HEADER_MODE {
                // SAFETY: a live block.
                assert_eq!(unsafe { testing::header_offset(p) }, Some(unit));
            }
            assert_eq!(
                *block.get_or_insert(info.block),
                info.block,
                "the freed block is reused"
            );
            free_checked(p, size, align, (round * 1000 + align) as u64);
        }
    }
}

/// 7, the bug: the offset skipped (header says 0) or applied twice.
fn offset_wrong(twice: bool) {
    let blocks: Vec<_> = (0..3).map(|i| alloc_filled(64, 16, 70 + i)).collect();
    let p = blocks[1];
    if HEADER_MODE {
        // The unit is 16; "twice" makes the free path compute the block 32 bytes back.
        // SAFETY: a live header-mode block; freeing it afterwards must abort.
        unsafe { testing::corrupt_header_offset(p, if twice { 32 } else { 0 }) };
        free_bad_naming(p, if twice { p.wrapping_sub(32) } else { p });
    } else if twice {
        free_bad(p.wrapping_add(16));
    } else {
        free_bad(p.wrapping_sub(16));
    }
}

/// The child entry point: runs the scenario named by the parent.
#[test]
#[ignore = "runs only as a child process of the tests below"]
fn child() {
    let Some(s) = support::child::scenario() else {
        return;
    };
    match s.as_str() {
        "stale_hint" => stale_hint(),
        "other_mode_pointer" => other_mode_pointer(),
        "retired_registry" => retired_registry(),
        "class_grid" => class_grid(),
        "class_drift" => class_drift(),
        "magazine_pointers" => magazine_pointers(),
        "remote_drain_once" => remote_drain_once(),
        "remote_merged_twice" => remote_merged_twice(),
        "remote_refill_once" => remote_refill_once(),
        "remote_refill_twice" => remote_refill_twice(),
        "remote_link_cut" => remote_link_cut(),
        "offset_once" => offset_once(),
        "offset_skipped" => offset_wrong(false),
        "offset_twice" => offset_wrong(true),
        other => panic!("unknown scenario {other}"),
    }
}

// ---- parent side -----------------------------------------------------------------------------

fn passes(scenario: &str) {
    support::child::run(scenario, &[]).assert_passed();
}

fn aborts(scenario: &str, boxes: &[&str], words: &[&str]) -> String {
    support::child::run(scenario, &[]).assert_aborted(boxes, words, true)
}

#[test]
fn stale_hint_after_superslab_reuse() {
    passes("stale_hint");
}

#[test]
fn header_mode_pointer_on_headerless_path_or_reverse() {
    if HEADER_MODE {
        aborts("other_mode_pointer", &["header"], &["bad header magic"]);
    } else {
        aborts(
            "other_mode_pointer",
            &["free"],
            &["not on a block boundary"],
        );
    }
}

#[test]
fn registry_never_returns_a_retired_superslab() {
    aborts("retired_registry", &["registry"], &["not ours"]);
}

#[test]
fn class_index_drift_between_slab_and_block() {
    passes("class_grid");
    if HEADER_MODE {
        aborts("class_drift", &["header"], &["class differs"]);
    } else {
        aborts("class_drift", &["free"], &["not on a block boundary"]);
    }
}

#[test]
fn magazine_hands_out_user_pointers_only() {
    passes("magazine_pointers");
}

#[test]
fn remote_queue_merged_into_free_list_once() {
    passes("remote_drain_once");
    aborts(
        "remote_merged_twice",
        &["remote"],
        &["drained more blocks than are out"],
    );
    passes("remote_refill_once");
    aborts(
        "remote_refill_twice",
        &["remote"],
        &["drained more blocks than are out"],
    );
    // The count kept in the queue's head catches a chain cut short (the drain used to take the
    // shorter chain and lose the rest).
    aborts(
        "remote_link_cut",
        &["remote"],
        &["remote chain shorter than its count"],
    );
}

#[test]
fn header_offset_applied_exactly_once() {
    passes("offset_once");
    if HEADER_MODE {
        aborts("offset_skipped", &["header"], &["offset impossible"]);
    } else {
        aborts("offset_skipped", &["free"], &["not on a block boundary"]);
    }
    aborts("offset_twice", &["free"], &["not on a block boundary"]);
}
