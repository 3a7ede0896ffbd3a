//! `HakMem` as an `allocator_api2::alloc::Allocator`: collections with an explicit allocator.
//!
//! Claims checked: `allocator_api2` `Vec::new_in(HakMem)` keeps every element through growth from
//! empty to the large path, truncation and `shrink_to_fit`; `Box::new_in(HakMem)` honours the
//! value's alignment (up to 4 KiB) and keeps its contents; the `Allocator` methods themselves
//! (`allocate`, `allocate_zeroed`, `grow`, `grow_zeroed`, `shrink`, `deallocate`) return blocks at
//! least as large and as aligned as asked, keep the prefix, and zero what they promise to zero,
//! also for recycled dirty blocks; collections built on one thread are verified and dropped on
//! another. All contents are patterns derived from an id, verified before they are freed.
//!
//! The suites are generic over the allocator; they also run against the system allocator, so that
//! a failure under `HakMem` is the allocator's and not the suite's.

mod support;

use std::alloc::Layout;
use std::ptr::NonNull;
use support::pattern::{fill, first_mismatch};
use support::{mix, Rng, KIB, MIB};

use allocator_api2::alloc::Allocator;
use allocator_api2::boxed::Box;
use allocator_api2::vec::Vec;

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

// ---- the suites with HakMem as the allocator -------------------------------------------------

#[test]
fn vec_new_in() {
    vec_suite(hakmem::HakMem);
}

#[test]
fn box_new_in() {
    box_suite(hakmem::HakMem);
}

#[test]
fn allocator_methods() {
    methods_suite(hakmem::HakMem);
}

#[test]
fn collections_cross_threads() {
    threads_suite(hakmem::HakMem);
}

/// The suites also run against the system allocator, so a failure under `HakMem` is the
/// allocator's and not the suite's. (`allocator_api2::alloc::Global` would not do: it forwards to
/// the global allocator, which is `HakMem` here.)
#[test]
fn suites_hold_for_the_system_allocator() {
    vec_suite(SystemRef);
    box_suite(SystemRef);
    methods_suite(SystemRef);
    threads_suite(SystemRef);
}

/// `std::alloc::System` as an `allocator_api2` allocator (hakmem builds allocator_api2 without its
/// `std` feature, which is what provides that impl).
#[derive(Clone, Copy)]
struct SystemRef;

// SAFETY: forwards to `System`, which meets the `GlobalAlloc` contract; a block is returned with
// exactly the requested size, so `deallocate` gets the layout it was allocated with.
unsafe impl Allocator for SystemRef {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, allocator_api2::alloc::AllocError> {
        let ptr = if layout.size() == 0 {
            // A dangling, aligned pointer: zero-sized blocks are never dereferenced.
            std::ptr::without_provenance_mut::<u8>(layout.align())
        } else {
            // SAFETY: the size is non-zero.
            unsafe { std::alloc::GlobalAlloc::alloc(&std::alloc::System, layout) }
        };
        let ptr = NonNull::new(ptr).ok_or(allocator_api2::alloc::AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() != 0 {
            // SAFETY: `ptr` came from `allocate(layout)`, i.e. from `System.alloc(layout)`.
            unsafe { std::alloc::GlobalAlloc::dealloc(&std::alloc::System, ptr.as_ptr(), layout) };
        }
    }
}

// ---- suites ----------------------------------------------------------------------------------

fn vec_suite<A: Allocator + Copy>(a: A) {
    // Elements one by one: growth walks every class into the large path.
    let mut words: Vec<u64, A> = Vec::new_in(a);
    for i in 0..(64 * KIB) as u64 {
        words.push(mix(i));
    }
    let check = |w: &[u64]| {
        if let Some(i) = (0..w.len()).find(|&i| w[i] != mix(i as u64)) {
            panic!("Vec<u64> element {i} of {} lost", w.len());
        }
    };
    check(&words);
    words.truncate(100);
    words.shrink_to_fit();
    assert!(words.capacity() >= 100);
    check(&words);
    words.shrink_to(0);
    words.clear();
    words.shrink_to_fit();
    assert_eq!(words.capacity(), 0);

    // Bytes appended in uneven chunks of a pattern.
    let mut rng = Rng::new(3, 0);
    let mut reference = vec![0u8; 300 * KIB];
    fill(&mut reference, 42);
    let mut bytes: Vec<u8, A> = Vec::with_capacity_in(0, a);
    while bytes.len() < reference.len() {
        let n = (1 + rng.below(5000)).min(reference.len() - bytes.len());
        bytes.extend_from_slice(&reference[bytes.len()..bytes.len() + n]);
    }
    assert_eq!(
        first_mismatch(&bytes, 42),
        None,
        "Vec<u8> appended in chunks lost bytes"
    );

    // Vectors of vectors, all in `a`, dropped in a different order than built.
    let mut outer: Vec<Vec<u8, A>, A> = Vec::new_in(a);
    for i in 0..300 {
        let mut inner = Vec::with_capacity_in(1 + rng.below(4 * KIB), a);
        inner.resize(inner.capacity(), 0);
        fill(&mut inner, 1000 + i);
        outer.push(inner);
    }
    while !outer.is_empty() {
        let i = rng.below(outer.len());
        let inner = outer.swap_remove(i);
        let id = first_id(&inner, 1000..1300).expect("inner Vec matches no id: corrupted");
        assert_eq!(first_mismatch(&inner, id), None);
    }
}

/// The id in `ids` whose pattern `bytes` holds.
fn first_id(bytes: &[u8], ids: std::ops::Range<u64>) -> Option<u64> {
    ids.into_iter()
        .find(|&id| first_mismatch(bytes, id).is_none())
}

#[repr(C, align(4096))]
struct Page([u8; 4096]);

#[repr(C, align(64))]
struct Line([u64; 8]);

fn box_suite<A: Allocator + Copy>(a: A) {
    let small = Box::new_in(0x1234_5678_9ABC_DEF0u64, a);
    assert_eq!(*small, 0x1234_5678_9ABC_DEF0);

    let mut page = Box::new_in(Page([0; 4096]), a);
    assert_eq!(
        &page.0 as *const _ as usize % 4096,
        0,
        "Box<Page> misaligned"
    );
    fill(&mut page.0, 7);

    let mut lines: Vec<Box<Line, A>, A> = Vec::new_in(a);
    for i in 0..500u64 {
        let line = Box::new_in(Line([mix(i); 8]), a);
        assert_eq!(
            &*line as *const Line as usize % 64,
            0,
            "Box<Line> misaligned"
        );
        lines.push(line);
    }
    let mut slice_vec: Vec<u8, A> = Vec::with_capacity_in(100_000, a);
    slice_vec.resize(100_000, 0);
    fill(&mut slice_vec, 8);
    let slice: Box<[u8], A> = slice_vec.into_boxed_slice();

    assert_eq!(first_mismatch(&page.0, 7), None, "Box<Page> corrupted");
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.0.iter().all(|&w| w == mix(i as u64)),
            "Box<Line> {i} corrupted"
        );
    }
    assert_eq!(slice.len(), 100_000);
    assert_eq!(first_mismatch(&slice, 8), None, "Box<[u8]> corrupted");
    assert_eq!(*small, 0x1234_5678_9ABC_DEF0);
}

/// Checks a block returned by an `Allocator` method and gives its pointer.
fn checked(
    block: Result<NonNull<[u8]>, allocator_api2::alloc::AllocError>,
    layout: Layout,
) -> *mut u8 {
    let block = block.unwrap_or_else(|_| panic!("allocation of {layout:?} failed"));
    assert!(
        block.len() >= layout.size(),
        "{} bytes returned for {layout:?}",
        block.len()
    );
    let p = block.as_ptr() as *mut u8;
    assert_eq!(
        p as usize % layout.align(),
        0,
        "{p:p} misaligned for {layout:?}"
    );
    p
}

fn methods_suite<A: Allocator>(a: A) {
    let sizes = [
        1,
        16,
        100,
        1024,
        1025,
        4096,
        32 * KIB,
        32 * KIB + 1,
        200 * KIB,
        3 * MIB,
    ];
    for (i, &size) in sizes.iter().enumerate() {
        for align in [8usize, 64, 4096] {
            let id = (i * 16 + align.ilog2() as usize) as u64;
            let layout = Layout::from_size_align(size, align).unwrap();

            // Dirty a block, free it, then ask for zeroes (likely the same block).
            let p = checked(a.allocate(layout), layout);
            // SAFETY: `p` is live for `size` bytes.
            unsafe { p.write_bytes(0xAB, size) };
            // SAFETY: `p` was allocated by `a` with `layout`.
            unsafe { a.deallocate(NonNull::new(p).unwrap(), layout) };
            let p = checked(a.allocate_zeroed(layout), layout);
            // SAFETY: `p` is live for `size` bytes.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p, size) };
            assert!(
                bytes.iter().all(|&b| b == 0),
                "allocate_zeroed({layout:?}) not zero"
            );
            fill(bytes, id);

            // grow: the prefix survives.
            let bigger = Layout::from_size_align(size * 3 + 7, align).unwrap();
            // SAFETY: `p` is live with `layout`; `bigger` is larger with the same alignment.
            let grown = unsafe { a.grow(NonNull::new(p).unwrap(), layout, bigger) };
            let p = checked(grown, bigger);
            // SAFETY: `p` is live for `bigger.size()` bytes; the first `size` were filled.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p, bigger.size()) };
            assert_eq!(
                first_mismatch(&bytes[..size], id),
                None,
                "grow({layout:?}) lost the prefix"
            );
            bytes[size..].fill(0xCD);

            // shrink: the prefix survives.
            let smaller = Layout::from_size_align(size.div_ceil(2), align).unwrap();
            // SAFETY: `p` is live with `bigger`; `smaller` is smaller with the same alignment.
            let shrunk = unsafe { a.shrink(NonNull::new(p).unwrap(), bigger, smaller) };
            let p = checked(shrunk, smaller);
            // SAFETY: `p` is live for `smaller.size()` bytes, which keep the pattern.
            let bytes = unsafe { std::slice::from_raw_parts(p, smaller.size()) };
            assert_eq!(
                first_mismatch(bytes, id),
                None,
                "shrink({bigger:?}) lost the prefix"
            );

            // grow_zeroed: the prefix survives and the new tail is zero, although the block may
            // be the one whose tail was dirtied above.
            // SAFETY: `p` is live with `smaller`; `bigger` is larger with the same alignment.
            let grown = unsafe { a.grow_zeroed(NonNull::new(p).unwrap(), smaller, bigger) };
            let p = checked(grown, bigger);
            // SAFETY: `p` is live for `bigger.size()` bytes.
            let bytes = unsafe { std::slice::from_raw_parts(p, bigger.size()) };
            let keep = smaller.size();
            assert_eq!(
                first_mismatch(&bytes[..keep], id),
                None,
                "grow_zeroed lost the prefix"
            );
            assert!(
                bytes[keep..].iter().all(|&b| b == 0),
                "grow_zeroed({bigger:?}) tail not zero"
            );
            // SAFETY: `p` was allocated by `a` with `bigger`.
            unsafe { a.deallocate(NonNull::new(p).unwrap(), bigger) };
        }
    }
}

fn threads_suite<A: Allocator + Copy + Send + 'static>(a: A) {
    // Built on another thread (which exits), verified and dropped here.
    let built = std::thread::spawn(move || {
        let mut v: Vec<Vec<u8, A>, A> = Vec::new_in(a);
        for i in 0..200u64 {
            let mut inner = Vec::new_in(a);
            inner.resize(1 + (mix(i) % 40_000) as usize, 0);
            fill(&mut inner, 5000 + i);
            v.push(inner);
        }
        v
    })
    .join()
    .expect("builder thread panicked");
    for (i, inner) in built.iter().enumerate() {
        assert_eq!(
            first_mismatch(inner, 5000 + i as u64),
            None,
            "Vec {i} corrupted in transit"
        );
    }
    // Built here, dropped on another thread.
    let mut boxes: Vec<Box<[u64; 16], A>, A> = Vec::new_in(a);
    for i in 0..1000u64 {
        boxes.push(Box::new_in([mix(i); 16], a));
    }
    std::thread::spawn(move || {
        for (i, b) in boxes.iter().enumerate() {
            assert!(
                b.iter().all(|&w| w == mix(i as u64)),
                "Box {i} corrupted in transit"
            );
        }
        drop(boxes);
        drop(built);
    })
    .join()
    .expect("dropping thread panicked");
}
