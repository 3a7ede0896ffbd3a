//! What every loom model shares: a slab over mock memory, blocks that can cross threads, a
//! "user payload" cell inside each block, and the model runner with its default bounds.
//!
//! Nothing here re-implements allocator logic: the models call the production `Slab`,
//! `RemoteQueue`, `Owner`, `PublishList` and `HintCache` compiled with `--cfg hakmem_loom`, whose
//! atomics and cells are loom's (through `hakmem`'s `sync` shim), and whose block links are loom
//! cells written into the blocks themselves (`slab::block`). This module only provides memory and
//! bookkeeping for the assertions.

#![allow(dead_code)] // each model uses a different part of this module

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeSet;
use std::ptr::NonNull;

use hakmem::model::config::SLAB_SIZE;
use hakmem::model::Slab;
use hakmem::model::{Block, LINK_BYTES};

#[cfg(not(debug_assertions))]
compile_error!(
    "loom models need debug assertions: build with `-C debug-assertions` (scripts/loom.sh)"
);

/// The class every model uses: 64-byte blocks, 8 per loom slab (512 bytes). A block holds the link
/// cell (`LINK_BYTES`) and, after it, the payload cell.
pub const CLASS: usize = 3;
/// Another class, for rebinding a slab (hint model): 48-byte blocks.
pub const OTHER_CLASS: usize = 2;

type Payload = loom::cell::UnsafeCell<u64>;

const _: () = assert!(LINK_BYTES + std::mem::size_of::<Payload>() <= 48);

/// Memory from the system allocator, freed when the model iteration ends.
pub struct Region {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: plain memory; the models synchronise every access through the code under test.
unsafe impl Send for Region {}
// SAFETY: as above.
unsafe impl Sync for Region {}

impl Region {
    /// `size` zeroed bytes aligned to `align`.
    pub fn new(size: usize, align: usize) -> Self {
        let layout = Layout::from_size_align(size, align).expect("layout");
        // SAFETY: non-zero size.
        let ptr = NonNull::new(unsafe { System.alloc_zeroed(layout) }).expect("out of memory");
        Self { ptr, layout }
    }

    pub fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { System.dealloc(self.ptr.as_ptr(), self.layout) };
    }
}

/// A fresh owner and a fresh slab bound to it, held by the calling thread (the owner) from now
/// on, with its first `n` blocks carved and handed out: the start of the remote-free models.
pub fn owned_slab(
    n: usize,
) -> (
    loom::sync::Arc<hakmem::model::Owner>,
    loom::sync::Arc<TestSlab>,
    Vec<Blk>,
) {
    let owner = loom::sync::Arc::new(hakmem::model::Owner::new());
    let s = loom::sync::Arc::new(TestSlab::new());
    // SAFETY: a fresh slab; this thread binds it and holds it from now on.
    let blocks = unsafe {
        s.slab.bind(CLASS, &*owner);
        take_blocks(&s.slab, n)
    };
    (owner, s, blocks)
}

/// A slab whose blocks live in their own `SLAB_SIZE` region (models 1–3 need no SuperSlab).
pub struct TestSlab {
    pub slab: Slab,
    _mem: Region,
}

impl TestSlab {
    /// A free, unbound slab.
    pub fn new() -> Self {
        let mem = Region::new(SLAB_SIZE, SLAB_SIZE);
        Self {
            slab: Slab::new(mem.ptr()),
            _mem: mem,
        }
    }

    /// The slab's class, as a free through a table entry, or the pool's next taker, reads it.
    pub fn class(&self) -> u32 {
        // ORDERING: Relaxed — as `free_remote` reads it; the models order it otherwise.
        self.slab.class.load(loom::sync::atomic::Ordering::Relaxed)
    }
}

/// A block that crosses threads in a model. The model's protocol decides who may touch it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Blk(pub NonNull<Block>);

// SAFETY: a pointer handed between model threads; the code under test orders every access.
unsafe impl Send for Blk {}
// SAFETY: as above.
unsafe impl Sync for Blk {}

impl Blk {
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }

    fn payload(self) -> *mut Payload {
        self.0.as_ptr().cast::<u8>().wrapping_add(LINK_BYTES).cast()
    }

    /// Starts the block's life as a user block: places the payload cell (the "allocation").
    ///
    /// # Safety
    /// The caller just took the block from its slab and no other thread knows it.
    pub unsafe fn allocate(self, v: u64) {
        // SAFETY: blocks are 64 bytes; the payload lies after the link.
        unsafe { self.payload().write(Payload::new(v)) };
    }

    /// The user writes its data (before a free). loom checks that this write happens-after every
    /// earlier access to the payload and happens-before every later one.
    ///
    /// # Safety
    /// `allocate` placed the payload.
    pub unsafe fn user_write(self, v: u64) {
        // SAFETY: per the contract.
        unsafe { (*self.payload()).with_mut(|p| *p = v) };
    }

    /// Reads the data the last user wrote (after the block came back through a free list).
    ///
    /// # Safety
    /// `allocate` placed the payload.
    pub unsafe fn user_read(self) -> u64 {
        // SAFETY: per the contract.
        unsafe { (*self.payload()).with(|p| *p) }
    }
}

/// Takes `n` blocks from a slab the caller holds (the owner's refill) and gives each its payload,
/// `100 + i`.
///
/// # Safety
/// The caller holds `slab`, which is bound to `CLASS`.
pub unsafe fn take_blocks(slab: &Slab, n: usize) -> Vec<Blk> {
    // SAFETY: per the contract.
    let (mut head, _tail, got) = unsafe { slab.take_batch(n) };
    assert_eq!(
        got, n,
        "the slab had fewer free blocks than the model needs"
    );
    let mut v = Vec::with_capacity(n);
    for _ in 0..got {
        let b = NonNull::new(head).expect("batch shorter than its count");
        v.push(Blk(b));
        // SAFETY: the batch was linked by the holder (this thread); the tail's link is readable.
        head = unsafe { Block::next(b) };
    }
    for (i, b) in v.iter().enumerate() {
        // SAFETY: fresh blocks of ours.
        unsafe { b.allocate(100 + i as u64) };
    }
    v
}

/// The blocks on the slab's local free list, in order; panics on a cycle or a repeated block.
///
/// # Safety
/// The caller holds `slab`.
pub unsafe fn free_list(slab: &Slab) -> Vec<Blk> {
    // SAFETY: per the contract.
    let (mut cur, capacity) = unsafe { slab.local(|l| (l.free, l.capacity as usize)) };
    let mut seen = BTreeSet::new();
    let mut v = Vec::new();
    while let Some(b) = NonNull::new(cur) {
        assert!(
            seen.insert(b.as_ptr() as usize),
            "block on the free list twice"
        );
        assert!(v.len() < capacity.max(1), "free list longer than the slab");
        v.push(Blk(b));
        // SAFETY: links on the holder's free list were written by a holder.
        cur = unsafe { Block::next(b) };
    }
    v
}

/// Blocks out of the slab (its `used` count).
///
/// # Safety
/// The caller holds `slab`.
pub unsafe fn used(slab: &Slab) -> u32 {
    // SAFETY: per the contract.
    unsafe { slab.used() }
}

/// Runs `f` under loom with the repository's default bounds: `LOOM_MAX_PREEMPTIONS` if set, else 3.
pub fn model<F>(f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    let mut b = loom::model::Builder::new();
    if b.preemption_bound.is_none() {
        b.preemption_bound = Some(3);
    }
    b.check(f);
}

/// A medium span over mock memory: a real `SpanHeader` (magic, size, cache links, slab) at the
/// start of a `MIN_SPAN_BYTES` region, its blocks after `SPAN_HEADER_BYTES`, as `span::map` lays
/// it out.
pub struct TestSpan {
    pub span: NonNull<hakmem::model::span::SpanHeader>,
    _mem: Region,
}

// SAFETY: the header is shared the way the allocator shares it (atomics, and local state under
// the holder rules the models check).
unsafe impl Send for TestSpan {}
// SAFETY: as above.
unsafe impl Sync for TestSpan {}

impl TestSpan {
    /// A free, unbound span.
    pub fn new() -> Self {
        use hakmem::model::config::MIN_SPAN_BYTES;
        let mem = Region::new(MIN_SPAN_BYTES, MIN_SPAN_BYTES);
        let base = NonNull::new(mem.ptr()).expect("region");
        // SAFETY: a fresh zeroed region of `MIN_SPAN_BYTES`, ours alone.
        let span = unsafe { hakmem::model::span::SpanHeader::init(base, MIN_SPAN_BYTES) };
        Self { span, _mem: mem }
    }

    pub fn slab(&self) -> &Slab {
        // SAFETY: initialised in `new`, alive as long as `self`.
        unsafe { &self.span.as_ref().slab }
    }
}

/// The medium class ids of the loom build (96- and 128-byte blocks, 10 and 8 to a span).
pub const MEDIUM_CLASS: usize = hakmem::model::NUM_CLASSES;
pub const OTHER_MEDIUM_CLASS: usize = hakmem::model::NUM_CLASSES + 1;

thread_local! {
    /// The outcomes `reach` recorded in the current `model_reaching` call, with the number of
    /// executions that reached each. loom runs every model thread of an execution on the test's
    /// own OS thread (as coroutines), so a std thread-local sees all of them; it is bookkeeping
    /// outside the model (no loom operation, no scheduling point).
    static OUTCOMES: std::cell::RefCell<std::collections::BTreeMap<&'static str, usize>> =
        const { std::cell::RefCell::new(std::collections::BTreeMap::new()) };
    /// Executions `model_reaching` ran.
    static EXECUTIONS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Records that this execution reached `outcome` (an execution that reaches it twice counts once
/// more; the counts are for the audit, the check is only "reached at all").
pub fn reach(outcome: &'static str) {
    OUTCOMES.with(|o| *o.borrow_mut().entry(outcome).or_insert(0) += 1);
}

/// `model`, then a check that the exploration was not vacuous: every outcome in `expected` was
/// reached (`reach`) in at least one execution. A model whose claim is about a race must see the
/// race's every side, or a mutant that only shows on the unexplored side goes uncaught (session
/// 19, loom20: docs/verification.md, "Vacuity audit"). Prints the executions and the outcome
/// counts (`cargo test -- --nocapture` shows them).
pub fn model_reaching<F>(name: &str, expected: &[&'static str], f: F)
where
    F: Fn() + Sync + Send + 'static,
{
    OUTCOMES.with(|o| o.borrow_mut().clear());
    EXECUTIONS.with(|e| e.set(0));
    model(move || {
        EXECUTIONS.with(|e| e.set(e.get() + 1));
        f();
    });
    let runs = EXECUTIONS.with(|e| e.get());
    let seen = OUTCOMES.with(|o| o.borrow().clone());
    eprintln!("loom outcomes: {name}: {runs} executions, {seen:?}");
    for want in expected {
        assert!(
            seen.contains_key(want),
            "vacuous model {name}: outcome \"{want}\" never reached in {runs} executions ({seen:?})"
        );
    }
}

/// The outcomes of the exit models (3 and 6's `span_exit_remote_free_adopt`): how the exiting
/// owner left the slab, and whether the adopter drained the freed block.
pub const EXIT_OUTCOMES: &[&str] = &[
    "released",
    "published, adopted",
    "published, not adopted",
    "adopter drained the block",
];

/// Records how an exit model's execution ended (`EXIT_OUTCOMES`, all but the last).
pub fn reach_exit(released: bool, adopted: bool) {
    reach(match (released, adopted) {
        (true, _) => "released",
        (false, true) => "published, adopted",
        (false, false) => "published, not adopted",
    });
}

/// A holder's check of `s` (the models' `release_if_empty`): true if it released the slab.
///
/// # Safety
/// The calling thread holds the slab.
pub type ReleaseCheck = unsafe fn(&TestSlab, &hakmem::model::Owner) -> bool;

/// The exit/publish/adopt half the foreign-entry models (`loom_foreign_class`, `loom_batch`)
/// share, run beside the model's other thread: the holder (`owners[0]`) gives its own block `own`
/// back and, through `release`, releases the slab (bound again to `owners[2]`) or publishes it as
/// `small::flush(publish)` does (pins wanted released first); an adopter (`owners[1]`) takes it
/// from the list and checks it. Returns the two threads' handles; the adopter's answers whether it
/// adopted the slab. `released` counts releases (at most one, `after_exit_joins`).
pub fn spawn_exit_and_adopter(
    s: &loom::sync::Arc<TestSlab>,
    owners: &loom::sync::Arc<Vec<hakmem::model::Owner>>,
    own: Blk,
    release: ReleaseCheck,
) -> ExitModel {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;
    let list = Arc::new(hakmem::model::PublishList::new());
    let released = Arc::new(AtomicUsize::new(0));
    let exiting = {
        let (s, list, owners, released) =
            (s.clone(), list.clone(), owners.clone(), released.clone());
        loom::thread::spawn(move || {
            // SAFETY: this thread owns the slab until it releases or publishes it.
            unsafe {
                s.slab.put_local(own.0);
                if release(&s, &owners[2]) {
                    reach("exit released");
                    released.fetch_add(1, Ordering::Relaxed);
                } else {
                    reach("exit published");
                    s.slab.unpin_wanted();
                    list.publish(&s.slab);
                }
            }
        })
    };
    let adopter = {
        let (s, list, owners, released) =
            (s.clone(), list.clone(), owners.clone(), released.clone());
        loom::thread::spawn(move || {
            let Some(got) = list.adopt(&owners[1]) else {
                return false;
            };
            assert!(std::ptr::eq(got.as_ptr(), &s.slab));
            // SAFETY: adopt made this thread the holder.
            if unsafe { release(&s, &owners[2]) } {
                reach("adopter released it");
                released.fetch_add(1, Ordering::Relaxed);
            }
            true
        })
    };
    ExitModel {
        list,
        released,
        exiting,
        adopter,
    }
}

/// The exit/publish/adopt threads `spawn_exit_and_adopter` started, and what they share.
pub struct ExitModel {
    list: loom::sync::Arc<hakmem::model::PublishList>,
    released: loom::sync::Arc<loom::sync::atomic::AtomicUsize>,
    exiting: loom::thread::JoinHandle<()>,
    adopter: loom::thread::JoinHandle<bool>,
}

impl ExitModel {
    /// Joins the two threads (after the model's own). Released by neither: this thread adopts
    /// the slab if nobody did and holds it, every other thread gone; returns true then (the
    /// caller's check on the holder follows), false if a thread released it.
    pub fn join(self, s: &TestSlab, owners: &[hakmem::model::Owner]) -> bool {
        self.exiting.join().expect("exiting owner panicked");
        let adopted = self.adopter.join().expect("adopter panicked");
        let n = self.released.load(loom::sync::atomic::Ordering::Relaxed);
        assert!(n <= 1, "released twice");
        if n != 0 {
            return false;
        }
        reach("released after the joins");
        if !adopted {
            // Published and not adopted yet: this thread adopts it.
            let got = self.list.adopt(&owners[1]).expect("published slab lost");
            assert!(std::ptr::eq(got.as_ptr(), &s.slab));
        }
        true
    }
}

/// `n` owners, a slab bound to the first with three blocks out: the holder's own, and two for
/// the model's other thread (a pinner, a consumer).
pub fn slab_with_three_blocks(
    n: usize,
) -> (
    loom::sync::Arc<Vec<hakmem::model::Owner>>,
    loom::sync::Arc<TestSlab>,
    [Blk; 3],
) {
    let owners: loom::sync::Arc<Vec<hakmem::model::Owner>> =
        loom::sync::Arc::new((0..n).map(|_| hakmem::model::Owner::new()).collect());
    let s = loom::sync::Arc::new(TestSlab::new());
    // SAFETY: a fresh slab, bound and held by this thread until the holder's thread takes over.
    let b = unsafe {
        s.slab.bind(CLASS, &owners[0]);
        take_blocks(&s.slab, 3)
    };
    (owners, s, [b[0], b[1], b[2]])
}
