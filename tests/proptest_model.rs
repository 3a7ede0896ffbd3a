//! Model-based test of the allocator: random sequences of operations against a shadow model.
//!
//! Operations: `alloc(size, align)`, `alloc_zeroed`, `realloc`, `free`, and handing a live block to
//! another thread that verifies and frees it. Sizes run from 0 to 4 MiB, weighted to small
//! (0–64 bytes most often, every size class, the large path up to 4 MiB rarely); alignments from 1
//! to 4096. Zero-sized requests go through the C-semantics entry points (`raw::aligned_alloc`,
//! `raw::calloc`), which return a unique block; everything else through `GlobalAlloc`.
//!
//! Invariants, after every operation: every live block is aligned as asked; no two live blocks
//! overlap (checked against the model's address map on every insertion); the head and tail of
//! every live block still hold the pattern derived from its id (the whole block is checked before
//! it is freed, reallocated or handed off, and at the end of each sequence); a zeroed block reads
//! zero before it is filled; a reallocated block keeps its prefix. The thread that frees
//! handed-off blocks checks their contents first and reports mismatches back. After every
//! `VALIDATE_EVERY` operations and at the end of each sequence, the allocator's own structure is
//! sound: the structural validator (`hakmem::testing::debug_check`) walks the thread's heap.
//!
//! Cases: `PROPTEST_CASES` (default 2,000) sequences of up to 200 operations. Failing sequences are
//! persisted in `proptest-regressions/proptest_model.txt` and replayed first on every run. The
//! allocator is process-wide, so a replayed case starts from a different heap state than the run
//! that found it; the sequence still reproduces what it can.

mod support;

use std::alloc::{GlobalAlloc, Layout};
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::thread;

use hakmem::HakMem;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, FileFailurePersistence};
use support::pattern::{fill_raw, first_mismatch, first_mismatch_at};
use support::{KIB, MIB};

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const MAX_SIZE: usize = 4 * MIB;
const MAX_OPS: usize = 200;
/// Operations between two runs of the structural validator.
const VALIDATE_EVERY: usize = 16;
/// Bytes checked at each end of every live block after every operation.
const EDGE: usize = 64;

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        size: usize,
        align: usize,
        zeroed: bool,
    },
    Realloc {
        which: Index,
        size: usize,
    },
    Free {
        which: Index,
    },
    HandOff {
        which: Index,
    },
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        50 => 0..=64usize,
        25 => 65..=KIB,
        15 => KIB + 1..=32 * KIB,
        7 => 32 * KIB + 1..=256 * KIB,
        3 => 256 * KIB + 1..=MAX_SIZE,
    ]
}

fn align() -> impl Strategy<Value = usize> {
    prop_oneof![
        80 => (0u32..=4).prop_map(|l| 1usize << l),
        20 => (5u32..=12).prop_map(|l| 1usize << l),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => (size(), align(), prop::bool::weighted(0.25))
            .prop_map(|(size, align, zeroed)| Op::Alloc { size, align, zeroed }),
        15 => (any::<Index>(), size()).prop_map(|(which, size)| Op::Realloc { which, size }),
        30 => any::<Index>().prop_map(|which| Op::Free { which }),
        15 => any::<Index>().prop_map(|which| Op::HandOff { which }),
    ]
}

/// How a block was obtained, hence how it is resized and freed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `GlobalAlloc` with `Layout(size, align)`.
    Global,
    /// The C entry points (zero-sized requests): `raw::free`, `raw::realloc`.
    Raw,
}

#[derive(Debug)]
struct Live {
    ptr: *mut u8,
    size: usize,
    align: usize,
    id: u64,
    api: Api,
}

// SAFETY: a block is handed to the other thread whole, and the model forgets it.
unsafe impl Send for Live {}

impl Live {
    fn bytes(&self) -> &[u8] {
        // SAFETY: the block is live for `size` bytes.
        unsafe { std::slice::from_raw_parts(self.ptr, self.size) }
    }

    /// Full check against the pattern.
    fn check(&self) -> Result<(), String> {
        match first_mismatch(self.bytes(), self.id) {
            None => Ok(()),
            Some(off) => Err(format!("{self:?}: byte {off} corrupted")),
        }
    }

    /// Head and tail check.
    fn check_edges(&self) -> Result<(), String> {
        let b = self.bytes();
        let head = b.len().min(EDGE);
        let tail = b.len().saturating_sub(EDGE).max(head);
        let bad = first_mismatch_at(&b[..head], self.id, 0)
            .or_else(|| first_mismatch_at(&b[tail..], self.id, tail));
        match bad {
            None => Ok(()),
            Some(off) => Err(format!("{self:?}: byte {off} corrupted")),
        }
    }

    /// Extent for the overlap check: zero-sized blocks still own one byte.
    fn extent(&self) -> (usize, usize) {
        (self.ptr as usize, self.ptr as usize + self.size.max(1))
    }

    /// Frees the block through the API it came from.
    fn free(self) {
        // SAFETY: a live block of ours, freed once, with the layout it was allocated with.
        unsafe {
            match self.api {
                Api::Global => HakMem.dealloc(self.ptr, layout(self.size, self.align)),
                Api::Raw => hakmem::raw::free(self.ptr),
            }
        }
    }
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("valid layout")
}

fn is_zero(b: &[u8]) -> bool {
    static ZEROS: [u8; 4096] = [0; 4096];
    b.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// The shadow model: live blocks, by index for the operations and by address for overlaps.
struct Model {
    live: Vec<Live>,
    extents: BTreeMap<usize, usize>,
    next_id: u64,
    to_freer: mpsc::Sender<Live>,
}

impl Model {
    fn insert(&mut self, b: Live) -> Result<(), String> {
        if b.ptr as usize % b.align != 0 {
            return Err(format!("{b:?}: misaligned"));
        }
        let (start, end) = b.extent();
        if let Some((&s, &e)) = self.extents.range(..end).next_back() {
            if e > start {
                return Err(format!("{b:?} overlaps the live block [{s:#x}, {e:#x})"));
            }
        }
        self.extents.insert(start, end);
        self.live.push(b);
        Ok(())
    }

    fn take(&mut self, which: &Index) -> Option<Live> {
        if self.live.is_empty() {
            return None;
        }
        let b = self.live.swap_remove(which.index(self.live.len()));
        self.extents.remove(&(b.ptr as usize));
        Some(b)
    }

    fn new_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn apply(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Alloc {
                size,
                align,
                zeroed,
            } => {
                let (ptr, api) = if size == 0 {
                    // SAFETY: the C entry points have no preconditions.
                    let p = unsafe {
                        if zeroed {
                            hakmem::raw::calloc(1, 0)
                        } else {
                            hakmem::raw::aligned_alloc(align, 0)
                        }
                    };
                    (p, Api::Raw)
                } else {
                    let l = layout(size, align);
                    // SAFETY: a non-zero size.
                    let p = unsafe {
                        if zeroed {
                            HakMem.alloc_zeroed(l)
                        } else {
                            HakMem.alloc(l)
                        }
                    };
                    (p, Api::Global)
                };
                if ptr.is_null() {
                    return Err(format!("alloc({size}, {align}) returned null"));
                }
                let align = if api == Api::Raw && zeroed { 16 } else { align };
                let id = self.new_id();
                let b = Live {
                    ptr,
                    size,
                    align,
                    id,
                    api,
                };
                if zeroed && !is_zero(b.bytes()) {
                    return Err(format!("{b:?}: alloc_zeroed returned dirty memory"));
                }
                // SAFETY: live for `size` bytes.
                unsafe { fill_raw(ptr, size, id) };
                self.insert(b)
            }
            Op::Realloc { ref which, size } => {
                let Some(mut b) = self.take(which) else {
                    return Ok(());
                };
                b.check()?;
                let new_size = size.max(1);
                // SAFETY: a live block of ours with the layout it was allocated with; the new
                // size is non-zero.
                let p = unsafe {
                    match b.api {
                        Api::Global => HakMem.realloc(b.ptr, layout(b.size, b.align), new_size),
                        Api::Raw => hakmem::raw::realloc(b.ptr, new_size),
                    }
                };
                if p.is_null() {
                    return Err(format!("realloc({b:?}, {new_size}) returned null"));
                }
                let keep = b.size.min(new_size);
                // SAFETY: the new block is live for `new_size >= keep` bytes.
                let prefix = unsafe { std::slice::from_raw_parts(p, keep) };
                if let Some(off) = first_mismatch(prefix, b.id) {
                    return Err(format!(
                        "realloc({b:?}, {new_size}) -> {p:p}: prefix byte {off} of {keep} lost"
                    ));
                }
                if b.api == Api::Raw {
                    // C realloc keeps only the minimum alignment.
                    b.align = b.align.min(16);
                }
                b.ptr = p;
                b.size = new_size;
                // SAFETY: live for `new_size` bytes; rewriting the prefix leaves it unchanged.
                unsafe { fill_raw(p, new_size, b.id) };
                self.insert(b)
            }
            Op::Free { ref which } => {
                if let Some(b) = self.take(which) {
                    b.check()?;
                    b.free();
                }
                Ok(())
            }
            Op::HandOff { ref which } => {
                if let Some(b) = self.take(which) {
                    b.check()?;
                    self.to_freer
                        .send(b)
                        .map_err(|_| "the freeing thread died".to_string())?;
                }
                Ok(())
            }
        }
    }

    fn check_all_edges(&self) -> Result<(), String> {
        self.live.iter().try_for_each(Live::check_edges)
    }
}

/// Runs one sequence; the freeing thread lives for the sequence, so its exit (heap flush) is part
/// of every case.
fn run(ops: &[Op]) -> Result<(), String> {
    let (tx, rx) = mpsc::channel::<Live>();
    let freer = thread::spawn(move || {
        let mut errors = Vec::new();
        for b in rx {
            if let Err(e) = b.check() {
                errors.push(format!("on the freeing thread: {e}"));
            }
            b.free();
        }
        errors
    });
    let mut model = Model {
        live: Vec::new(),
        extents: BTreeMap::new(),
        next_id: 0,
        to_freer: tx,
    };
    let mut result = Ok(());
    for (i, op) in ops.iter().enumerate() {
        result = model
            .apply(op)
            .and_then(|()| model.check_all_edges())
            .map(|()| {
                // The structural validator: every owned slab's conservation equation, the owner
                // and TLS lists (aborts on a violation). Every few operations: it walks every
                // free list of the heap.
                if i % VALIDATE_EVERY == VALIDATE_EVERY - 1 || i == ops.len() - 1 {
                    hakmem::testing::debug_check();
                }
            })
            .map_err(|e| format!("op {i} ({op:?}): {e}"));
        if result.is_err() {
            break;
        }
    }
    if result.is_ok() {
        result = model.live.iter().try_for_each(Live::check);
    }
    for b in std::mem::take(&mut model.live) {
        b.free();
    }
    drop(model);
    let errors = freer
        .join()
        .map_err(|_| "the freeing thread panicked".to_string())?;
    result?;
    match errors.first() {
        Some(e) => Err(e.clone()),
        None => Ok(()),
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(Config {
        cases: cases(),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/proptest_model.txt",
        ))),
        ..Config::default()
    })]

    #[test]
    fn allocator_matches_shadow_model(ops in prop::collection::vec(op(), 1..=MAX_OPS)) {
        if let Err(e) = run(&ops) {
            prop_assert!(false, "{}", e);
        }
    }
}
