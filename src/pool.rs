//! Pool box: the global supply of free slabs, SuperSlab by SuperSlab.
//!
//! Boundary: `acquire_slab` hands out an unbound slab (mapping and registering a new SuperSlab, or
//! reusing a retired one, when none is free); `release_slab` takes back an empty, unbound slab and
//! retires its SuperSlab once every data slab is free. Everything here runs under one spin lock: it
//! is reached once per slab (64 KiB of blocks), never per block.
//!
//! SuperSlab life cycle: mapped → (partial ↔ full) → retired (unregistered, generation bumped,
//! kept on the empty list) → reused (generation bumped, registered again). SuperSlab memory is
//! never unmapped.
//!
//! Purge on the clock: a slab given back is stamped (`freed_at`) and marked dirty; once it has
//! stayed free for the purge delay its pages go back to the OS (`purge::pages`), checked when the
//! pool is entered anyway (`acquire_slab`, `release_slab`, at most once per tick), by `collect()`
//! and by the background purger. Purging happens under the pool lock, so a slab is never purged
//! while it is handed out again. Before the delay, on a budget (`config::DIRTY_BUDGET`): when a
//! release leaves more dirty free slabs than `DIRTY_BUDGET_MIN_SLABS` and than the slabs handed
//! out, every dirty slab is purged at once (threads exiting in rounds) — once a thread has exited
//! since the budget's last sweep (`config::DIRTY_BUDGET_AFTER_EXIT`, `note_thread_exit`), so that
//! a live program's phases keep their slabs for the delay.
//!
//! Which free slab: `take_free_slab` prefers a dirty slab last bound to the class asked for (the
//! warm list of that class), then any dirty slab, then a clean one. A slab's resident pages are
//! the pages its bindings touched: the heads of carved blocks and whatever the program wrote. A
//! new binding of the same class touches the same offsets, so it costs no page fault and no new
//! resident page; another class touches other pages (measured on `mixed-stress`, where blocks of
//! 4–32 KiB are written at their two ends: docs/benchmarks.md, "Issue 11, third pass").
//!
//! Huge pages for a growing heap (`config::THP_GROWTH`): the first time a SuperSlab fills up (its
//! last free slab handed out), `mincore` says how many of its pages are resident; two dense fills
//! in a row (3/4 of the pages or more) with no slab given back in between, and each new
//! SuperSlab is collapsed into one transparent huge page at birth (`os::collapse`), until a
//! sparse fill, a slab given back or a refused collapse resets the streak; the process's first
//! fill, if 5/8 dense, makes the streak alone (`config::THP_GROWTH_FIRST`). `HAKMEM_THP=1`
//! collapses every new SuperSlab regardless.
//!
//! Invariants: `dirty ⊆ free_mask` per SuperSlab; `Pool::dirty_slabs == Σ |dirty|`;
//! `Pool::handed_out` == the data slabs of this epoch's SuperSlabs that are not free; a slab is on
//! `warm[c]` ⇔ it is dirty, `PoolLinks::class` says `c`, and its SuperSlab is on the partial
//! list (the slabs of a retired SuperSlab leave the warm lists and come back on its reuse).

use core::ptr::NonNull;

use crate::config::{CHECKED, SLAB_SIZE, SUPERSLAB_SIZE};
use crate::debug::{fatal, Where};
use crate::list::{self, Links};
use crate::lock::{ForkReset, Rank, SpinLock};
use crate::os;
use crate::purge::{self, Sweep, Ticker};
use crate::registry::{self, RegionHead};
use crate::size_class::NUM_CLASSES;
use crate::slab::slab::Slab;
use crate::slab::superslab::{PoolLinks, SuperSlab, ALL_FREE};
use crate::stats::GLOBALS;
use crate::sync::plain::{AtomicBool, Ordering as PlainOrdering};
use crate::trace::{self, Event};

const LIST_NONE: u8 = 0;
const LIST_PARTIAL: u8 = 1;
const LIST_EMPTY: u8 = 2;

struct Pool {
    /// SuperSlabs with at least one free data slab (and at least one bound).
    partial: *mut SuperSlab,
    /// Retired SuperSlabs.
    empty: *mut SuperSlab,
    /// Free slabs that may hold committed pages, over all SuperSlabs.
    dirty_slabs: usize,
    /// Slabs handed out (`take`) and not given back yet, of this epoch's SuperSlabs: the measure
    /// of the dirty-slab budget (`config::DIRTY_BUDGET`).
    handed_out: usize,
    /// Bumped when a forked child abandons the lists; every SuperSlab records the epoch in which
    /// it joined (`PoolLinks::pool_epoch`), and the pool ignores those of older epochs.
    epoch: u32,
    /// Per small class, its dirty free slabs (see the invariants above), most recently freed
    /// first, linked through the slabs' own list links (unused while a slab is free).
    warm: [*mut Slab; NUM_CLASSES],
    /// Dense fills in a row with no slab given back meanwhile (`config::THP_GROWTH`): SuperSlabs
    /// that filled up for the first time with most of their pages resident. Reset by a sparse
    /// fill and by every `release_slab`.
    growth: u32,
    /// The SuperSlabs whose dense fills make up the streak (the first `THP_GROWTH_STREAK`).
    dense: Due,
    /// The SuperSlab whose first fill just counted sparse, recounted at the next dense fill
    /// (`config::THP_GROWTH_RECOUNT`); null where none, and cleared by a slab given back or a
    /// refused collapse.
    sparse: *mut SuperSlab,
    /// A first fill was counted (`config::THP_GROWTH_FIRST`: only the process's first may complete
    /// the streak alone). Not reset by a fork: the child's heap is its parent's, not young.
    counted: bool,
    /// SuperSlabs to collapse once the lock is dropped (`take_due`): the streak's own, when it
    /// reaches `THP_GROWTH_STREAK`.
    due: Due,
    /// A collapse was refused by the kernel: the streak's own SuperSlabs are no longer collapsed
    /// (only new ones, one attempt per streak), so a kernel short of huge pages is asked rarely. A
    /// skip in a quiet period does not set it (`config::THP_SKIP_NOT_REFUSAL`).
    refused: bool,
}

/// SuperSlabs to collapse, null where none.
type Due = [*mut SuperSlab; crate::config::THP_GROWTH_STREAK as usize];

const NO_DUE: Due = [core::ptr::null_mut(); crate::config::THP_GROWTH_STREAK as usize];

// SAFETY: the raw pointers are only used under the pool lock.
unsafe impl Send for Pool {}

/// Fork: a holder that did not survive the fork may have been relinking the doubly linked lists,
/// so neither the lists nor the links inside their SuperSlabs can be trusted. The child abandons
/// every SuperSlab the pool knew: the lists start empty in a new epoch, and a slab released into a
/// SuperSlab of an older epoch is left alone (`release_slab`) — its links are never followed again.
/// The cost is a leak in the child only: free slabs and retired SuperSlabs of the parent.
impl ForkReset for Pool {
    fn reset_after_fork(&mut self) {
        self.partial = core::ptr::null_mut();
        self.empty = core::ptr::null_mut();
        self.dirty_slabs = 0;
        // The parent's slabs are of the old epoch: their release is ignored, not counted.
        self.handed_out = 0;
        self.epoch = self.epoch.wrapping_add(1);
        self.warm = [core::ptr::null_mut(); NUM_CLASSES];
        self.growth = 0;
        self.dense = NO_DUE;
        self.sparse = core::ptr::null_mut();
        self.due = NO_DUE;
        self.refused = false;
    }
}

static POOL: SpinLock<Pool> = SpinLock::new(
    Rank::Pool,
    Pool {
        partial: core::ptr::null_mut(),
        empty: core::ptr::null_mut(),
        dirty_slabs: 0,
        handed_out: 0,
        epoch: 0,
        warm: [core::ptr::null_mut(); NUM_CLASSES],
        growth: 0,
        dense: NO_DUE,
        sparse: core::ptr::null_mut(),
        counted: false,
        due: NO_DUE,
        refused: false,
    },
);

const _: () = assert!(
    NUM_CLASSES <= u8::MAX as usize,
    "PoolLinks::class is a byte"
);

static TICKER: Ticker = Ticker::new();

/// Runs `f` on the pool links of `ss`.
///
/// # Safety
/// The pool lock is held.
unsafe fn links<R>(ss: *mut SuperSlab, f: impl FnOnce(&mut PoolLinks) -> R) -> R {
    // SAFETY: under the pool lock nobody else touches the links.
    unsafe { (*ss).pool.with_mut(|p| f(&mut *p)) }
}

/// # Safety
/// The pool lock is held and `ss` is on no list.
unsafe fn push(list: &mut *mut SuperSlab, ss: *mut SuperSlab, kind: u8) {
    // SAFETY: under the pool lock.
    unsafe {
        links(ss, |l| l.list = kind);
        list::push_front(list, ss);
    }
}

/// # Safety
/// The pool lock is held and `ss` is on `list`.
unsafe fn unlink(list: &mut *mut SuperSlab, ss: *mut SuperSlab) {
    // SAFETY: under the pool lock.
    unsafe {
        links(ss, |l| l.list = LIST_NONE);
        list::unlink(list, ss);
    }
}

/// Slab `idx` of `ss`.
fn slab_at(ss: *mut SuperSlab, idx: usize) -> *mut Slab {
    // SAFETY: a SuperSlab header is mapped for ever; no reference is made.
    unsafe { core::ptr::addr_of_mut!((*ss).slabs[idx]) }
}

/// Puts the dirty free slab `idx` of `ss` (on the partial list) on its class's warm list.
///
/// # Safety
/// The pool lock is held; the slab is on no list.
unsafe fn warm_push(p: &mut Pool, ss: *mut SuperSlab, idx: usize) {
    let s = slab_at(ss, idx);
    // SAFETY: under the pool lock we hold the free slab and its links (a free slab is on no
    // owner or publish list; they may hold stale values from its last binding).
    unsafe {
        let c = links(ss, |l| l.class[idx]) as usize;
        (*s).local(|l| l.links = Links::new());
        list::push_front(&mut p.warm[c], s);
    }
}

/// Takes the slab `idx` of `ss` off its class's warm list.
///
/// # Safety
/// The pool lock is held; the slab is on its warm list.
unsafe fn warm_unlink(p: &mut Pool, ss: *mut SuperSlab, idx: usize) {
    // SAFETY: per the contract.
    unsafe {
        let c = links(ss, |l| l.class[idx]) as usize;
        list::unlink(&mut p.warm[c], slab_at(ss, idx));
    }
}

/// Puts every dirty free slab of `ss` on (`on`) or off its warm list, as `ss` joins or leaves
/// the partial list.
///
/// # Safety
/// The pool lock is held; the slabs are (`!on`) or are not (`on`) on their warm lists.
unsafe fn warm_all(p: &mut Pool, ss: *mut SuperSlab, on: bool) {
    // SAFETY: per the contract.
    let mut m = unsafe { links(ss, |l| l.dirty) };
    while m != 0 {
        let idx = m.trailing_zeros() as usize;
        m &= m - 1;
        // SAFETY: per the contract.
        unsafe {
            if on {
                warm_push(p, ss, idx);
            } else {
                warm_unlink(p, ss, idx);
            }
        }
    }
}

/// Hands out the free slab `idx` of `ss` (on the partial list), off its warm list already.
///
/// # Safety
/// The pool lock is held; the slab is free and on no warm list.
unsafe fn take(p: &mut Pool, ss: *mut SuperSlab, idx: usize) -> NonNull<Slab> {
    let bit = 1u64 << idx;
    // SAFETY: per the contract.
    unsafe {
        let (was_dirty, now_full, first_fill, collapse) = links(ss, |l| {
            let was_dirty = l.dirty & bit != 0;
            l.free_mask &= !bit;
            l.dirty &= !bit;
            let now_full = l.free_mask == 0;
            let first_fill = now_full && !l.filled;
            l.filled |= now_full;
            // `config::THP_HALF_COLLAPSE`: bound = every slab but the free ones.
            let collapse = crate::config::THP_HALF_COLLAPSE
                && l.collapse_pending
                && crate::config::SLABS_PER_SUPERSLAB as u32 - l.free_mask.count_ones()
                    >= crate::config::THP_COLLAPSE_AT_SLABS;
            if collapse {
                l.collapse_pending = false;
            }
            (was_dirty, now_full, first_fill, collapse)
        });
        if collapse && !p.refused {
            // Collapsed by the caller once the lock is dropped (`take_due`, `collapse_due`); with
            // no slot free (the streak's own are due), it stays on base pages.
            if let Some(slot) = p.due.iter_mut().find(|d| d.is_null()) {
                *slot = ss;
            }
        }
        if was_dirty {
            p.dirty_slabs -= 1;
        }
        p.handed_out += 1;
        if now_full {
            unlink(&mut p.partial, ss);
        }
        if crate::config::THP_GROWTH && first_fill {
            count_fill(p, ss);
        }
        NonNull::new_unchecked(slab_at(ss, idx))
    }
}

/// Counts a SuperSlab that just filled up for the first time towards `Pool::growth`: dense (most
/// of its pages resident) extends the streak, sparse resets it. One `mincore` per SuperSlab
/// mapped or reused, under the pool lock (it reads page tables only; the owners of its slabs may
/// be writing to them meanwhile). If the OS cannot say, the streak resets. A dense fill that
/// starts a streak first recounts the SuperSlab that filled sparse just before it
/// (`config::THP_GROWTH_RECOUNT`: a second `mincore`): dense by now, it starts the streak. The
/// process's first fill completes the streak alone at `THP_GROWTH_FIRST_DENSE`
/// (`config::THP_GROWTH_FIRST`).
///
/// # Safety
/// The pool lock is held; `ss` is a SuperSlab of the pool (mapped for good).
unsafe fn count_fill(p: &mut Pool, ss: *mut SuperSlab) {
    // SAFETY: a SuperSlab is never unmapped, so its range is ours to ask about.
    let resident = unsafe { resident_pages(ss) };
    let first = !core::mem::replace(&mut p.counted, true);
    if crate::config::THP_GROWTH_FIRST && first && resident >= crate::config::THP_GROWTH_FIRST_DENSE
    {
        // The process's first fill, dense though it holds every class's first slab: the streak
        // is complete at once (`config::THP_GROWTH_FIRST`).
        p.sparse = core::ptr::null_mut();
        p.dense = NO_DUE;
        p.dense[0] = ss;
        p.growth = crate::config::THP_GROWTH_STREAK;
        note_grown();
        if !p.refused {
            p.due = p.dense;
        }
        return;
    }
    if resident < crate::config::THP_GROWTH_DENSE {
        p.growth = 0;
        p.sparse = if crate::config::THP_GROWTH_RECOUNT {
            ss
        } else {
            core::ptr::null_mut()
        };
        return;
    }
    let sparse = core::mem::replace(&mut p.sparse, core::ptr::null_mut());
    // SAFETY: `sparse` filled before `ss`, and SuperSlabs are never unmapped.
    if p.growth == 0 && !sparse.is_null() && unsafe { is_dense(sparse) } {
        dense_fill(p, sparse);
    }
    dense_fill(p, ss);
}

/// Whether 3/4 or more of the pages of `ss` are resident (`config::THP_GROWTH_DENSE`): one
/// `mincore`. False if the OS cannot say.
///
/// # Safety
/// `ss` is a SuperSlab of the pool (mapped for good).
unsafe fn is_dense(ss: *mut SuperSlab) -> bool {
    // SAFETY: per the contract.
    unsafe { resident_pages(ss) >= crate::config::THP_GROWTH_DENSE }
}

/// How many of the 512 pages of `ss` are resident (scaled to 512 for other page sizes): one
/// `mincore`; 0 if the OS cannot say.
///
/// # Safety
/// `ss` is a SuperSlab of the pool (mapped for good).
unsafe fn resident_pages(ss: *mut SuperSlab) -> usize {
    // SAFETY: per the contract, the range is ours to ask about.
    let resident = unsafe { os::resident_pages(NonNull::new_unchecked(ss.cast()), SUPERSLAB_SIZE) };
    let pages = SUPERSLAB_SIZE / crate::config::PAGE_SIZE;
    resident.map_or(0, |r| r * 512 / pages)
}

/// A growth streak of dense SuperSlab fills has completed in this process (`THP_GROWTH_STREAK`):
/// the small heap has shown that it fills densely (`config::SPAN_THP_SMALL_EVIDENCE`). Set once,
/// never cleared (a fork's child inherits it with the heap it describes).
static GROWN: AtomicBool = AtomicBool::new(false);

/// Marks `GROWN` (under the pool lock).
fn note_grown() {
    // ORDERING: Relaxed — a hint about the heap's shape (see `grown`); it publishes no data.
    GROWN.store(true, PlainOrdering::Relaxed);
}

/// Whether the small heap has completed a growth streak of dense SuperSlab fills
/// (`note_grown`): the evidence `span::map` lets stand for the medium heap's own before that has
/// counted any fill (`config::SPAN_THP_SMALL_EVIDENCE`).
#[inline]
pub fn grown() -> bool {
    // ORDERING: Relaxed — a hint: a stale false maps one span more on base pages, a stale true
    // cannot be (the flag is never cleared).
    GROWN.load(PlainOrdering::Relaxed)
}

/// Extends the streak by the dense fill of `ss` (under the pool lock).
fn dense_fill(p: &mut Pool, ss: *mut SuperSlab) {
    if let Some(slot) = p.dense.get_mut(p.growth as usize) {
        *slot = ss;
    }
    p.growth = p.growth.saturating_add(1);
    if p.growth == crate::config::THP_GROWTH_STREAK {
        note_grown();
    }
    if p.growth == crate::config::THP_GROWTH_STREAK && !p.refused {
        // The streak's own SuperSlabs are full and dense: collapse them too (their rest,
        // a quarter at most, becomes resident), so that the whole growing heap, not only
        // what comes after them, sits on huge pages.
        p.due = p.dense;
    }
}

/// The SuperSlabs `count_fill` marked for collapsing, taken (under the pool lock).
fn take_due(p: &mut Pool) -> Due {
    core::mem::replace(&mut p.due, NO_DUE)
}

/// Collapses the SuperSlabs `take_due` gave (outside the pool lock: a collapse copies up to
/// 2 MiB). They stay in use meanwhile: the kernel copies their pages with the page tables locked,
/// so their contents are unchanged, writers included. A refusal leaves one on base pages.
/// A skip in a quiet period after a slow collapse is not a refusal (`config::THP_SKIP_NOT_REFUSAL`):
/// the SuperSlab stays on base pages, and later streaks are caught up again.
fn collapse_due(due: Due) {
    let mut refused = false;
    for ss in due {
        if let Some(base) = NonNull::new(ss.cast::<u8>()) {
            // SAFETY: a SuperSlab of the pool, never unmapped; collapsing changes only how its
            // range is backed. One of its slabs purged meanwhile would read as zeroes before and
            // after, only resident again (RSS, not contents).
            let outcome = unsafe { os::collapse_outcome(base, SUPERSLAB_SIZE) };
            refused |= is_refusal(outcome);
        }
    }
    if refused {
        POOL.with(|p| p.refused = true);
    }
}

/// Whether the pool has stopped catching up the streaks' full SuperSlabs (`Pool::refused`): a
/// refusal of the kernel's seen (tests/thp_backoff.rs, through `testing`).
#[cfg(all(feature = "fault-injection", not(hakmem_loom)))]
pub(crate) fn catch_up_stopped() -> bool {
    POOL.with(|p| p.refused)
}

/// Whether a collapse's outcome stops the pool's catch-up collapses (`Pool::refused`): the
/// kernel's refusal, or a skip in a quiet period under the backout of
/// `config::THP_SKIP_NOT_REFUSAL`.
fn is_refusal(outcome: os::Collapse) -> bool {
    match outcome {
        os::Collapse::Huge => false,
        os::Collapse::Refused => true,
        os::Collapse::Skipped => !crate::config::THP_SKIP_NOT_REFUSAL,
    }
}

/// The class nearest to `class` (itself first, then its neighbours, whose blocks touch the most
/// similar pages) with a slab on its warm list. At most `NUM_CLASSES` loads, once per slab.
fn nearest_warm(p: &Pool, class: usize) -> Option<usize> {
    if p.dirty_slabs == 0 {
        return None;
    }
    (0..NUM_CLASSES).find_map(|d| {
        [
            class.checked_sub(d),
            Some(class + d).filter(|&c| c < NUM_CLASSES),
        ]
        .into_iter()
        .flatten()
        .find(|&c| !p.warm[c].is_null())
    })
}

/// Takes a free slab for class `class` from a SuperSlab that has one, reusing a retired
/// SuperSlab if needed: a dirty slab of the class, else of the nearest class that has one (see
/// the module doc), else the first partial SuperSlab's clean slabs. Never maps.
fn take_free_slab(p: &mut Pool, class: usize) -> Option<NonNull<Slab>> {
    if let Some(c) = nearest_warm(p, class) {
        let s = p.warm[c];
        let ss = s
            .map_addr(|a| a & !crate::config::SUPERSLAB_MASK)
            .cast::<SuperSlab>();
        // SAFETY: under the pool lock; a slab on a warm list is free, dirty, and its SuperSlab
        // is on the partial list.
        unsafe {
            let idx = SuperSlab::slab_index((*s).data() as usize);
            if CHECKED {
                let (free, dirty, list, last) =
                    links(ss, |l| (l.free_mask, l.dirty, l.list, l.class[idx]));
                let bit = 1u64 << idx;
                if free & dirty & bit == 0 || list != LIST_PARTIAL || last as usize != c {
                    fatal(
                        "pool",
                        "a slab on a warm list is not a dirty free slab of that class in a partial SuperSlab",
                        Where::ptr(s as usize),
                    );
                }
            }
            list::unlink(&mut p.warm[c], s);
            return Some(take(p, ss, idx));
        }
    }
    if p.partial.is_null() && !p.empty.is_null() {
        let ss = p.empty;
        // SAFETY: under the pool lock; `ss` is on the empty list.
        unsafe {
            unlink(&mut p.empty, ss);
            let generation = (*ss).bump_generation();
            trace::record(Event::Reuse, (*ss).base(), (*ss).base(), 0, 0, generation);
            GLOBALS.superslabs_reused.bump_shared();
            if !registry::register(
                (*ss).base(),
                NonNull::new_unchecked(ss.cast::<RegionHead>()),
            ) {
                push(&mut p.empty, ss, LIST_EMPTY);
                return None;
            }
            links(ss, |l| {
                l.free_mask = ALL_FREE;
                l.filled = false;
                l.collapse_pending = false;
            });
            push(&mut p.partial, ss, LIST_PARTIAL);
            warm_all(p, ss, true);
        }
    }
    let ss = p.partial;
    if ss.is_null() {
        return None;
    }
    // SAFETY: under the pool lock; `ss` is on the partial list and has a free slab.
    unsafe {
        let (idx, was_dirty) = links(ss, |l| {
            // Resident pages first: fewer faults for the new owner, and clean slabs stay clean.
            let warm = l.free_mask & l.dirty;
            let idx = (if warm != 0 { warm } else { l.free_mask }).trailing_zeros() as usize;
            (idx, warm != 0)
        });
        if was_dirty {
            warm_unlink(p, ss, idx);
        }
        Some(take(p, ss, idx))
    }
}

/// One-shot diagnostic: the OS would not back a SuperSlab with a huge page (`HAKMEM_DEBUG=1`).
static THP_REFUSED: crate::env::OneShot = crate::env::OneShot::new();

/// Hands out an unbound slab for small class `class`. `may_map`: whether a new SuperSlab may be
/// mapped when none is free. `None` when none is free and mapping is not allowed or the OS
/// refuses.
pub fn acquire_slab(class: usize, may_map: bool) -> Option<NonNull<Slab>> {
    let (taken, growth, due) = POOL.with(|p| {
        sweep_if_due(p);
        let s = take_free_slab(p, class);
        (s, p.growth, take_due(p))
    });
    collapse_due(due);
    if taken.is_some() {
        return taken;
    }
    if !may_map {
        return None;
    }
    let base = os::reserve_aligned(SUPERSLAB_SIZE, SUPERSLAB_SIZE)?;
    if crate::config::LOCKED_COARSE_CLASSES && !os::memory_locked() {
        // SAFETY: the last page of the fresh reservation, untouched yet (the header is written
        // below, at its start; a collapse comes after).
        let last = unsafe { base.add(SUPERSLAB_SIZE - crate::config::PAGE_SIZE) };
        // SAFETY: as above.
        if unsafe { os::came_resident(last) } {
            // `mlockall(MCL_FUTURE)` populated (and locked) all of it: small requests move to
            // coarser classes (`front::alloc::locked_class`).
            os::note_locked();
        }
    }
    // SAFETY: a fresh reservation of the right size and alignment, ours alone.
    let ss = unsafe { SuperSlab::init(base) };
    let growing = crate::config::THP_GROWTH && growth >= crate::config::THP_GROWTH_STREAK;
    // `config::THP_HALF_COLLAPSE`: a streak's SuperSlab is collapsed when half of it is bound.
    let defer = growing && crate::config::THP_HALF_COLLAPSE && !crate::env::thp();
    let mut huge = false;
    // Whether a base-page birth while growing stops the catch-up collapses (`Pool::refused`).
    let mut refusal = true;
    if crate::env::thp() || (growing && !defer) {
        // SAFETY: the fresh reservation, ours alone. Refused: the SuperSlab stays on base pages
        // (a refusal while growing is not reported: it asked unprompted).
        huge = unsafe {
            if crate::env::thp() {
                // Asked for by the user: not skipped in a quiet period after a slow collapse.
                os::collapse_asked(base, SUPERSLAB_SIZE)
            } else {
                let outcome = os::collapse_outcome(base, SUPERSLAB_SIZE);
                refusal = is_refusal(outcome);
                outcome == os::Collapse::Huge
            }
        };
        if !huge && crate::env::thp() {
            THP_REFUSED.log(
                "pool",
                "HAKMEM_THP=1 but MADV_COLLAPSE refused: base pages",
                base.as_ptr() as usize,
            );
        }
    }
    if !registry::register(base.as_ptr() as usize, ss.cast::<RegionHead>()) {
        // SAFETY: never published. A refused release is counted and decommitted by `os`; the
        // SuperSlab was only touched in its header, so it costs address space only.
        let _released = unsafe { os::release(base, SUPERSLAB_SIZE) };
        return None;
    }
    GLOBALS.superslabs_mapped.bump_shared();
    let (taken, due) = POOL.with(|p| {
        // SAFETY: under the pool lock; the new SuperSlab is on no list.
        unsafe {
            links(ss.as_ptr(), |l| {
                l.pool_epoch = p.epoch;
                // Born one huge page: all resident, says nothing about how the heap fills it.
                l.filled = huge;
                l.collapse_pending = defer;
            });
            if growing && !huge && !defer {
                // Refused (no free huge page, say): ask again only after two more dense fills,
                // and collapse no more full SuperSlabs, so that a refusing kernel is asked for one
                // SuperSlab in three at most.
                p.growth = 0;
                p.sparse = core::ptr::null_mut();
                // A skip in a quiet period starts the streak over too (nothing is asked of the
                // kernel until two more dense fills), but later streaks are caught up again.
                p.refused |= refusal;
            }
            push(&mut p.partial, ss.as_ptr(), LIST_PARTIAL);
        }
        let s = take_free_slab(p, class);
        (s, take_due(p))
    });
    collapse_due(due);
    taken
}

/// Takes back an empty, unbound slab last bound to small class `class`; retires its SuperSlab
/// when every data slab is free.
///
/// # Safety
/// The caller held the slab, it is unbound (`Slab::unbind`) and nothing refers to its blocks.
pub unsafe fn release_slab(slab: &Slab, class: usize) {
    // SAFETY: forwarded contract.
    unsafe { release_slab_at(slab, class, purge::now()) }
}

/// As `release_slab`, for a slab empty since `emptied_at` (a heap's retired current slab,
/// `purge::Retired`): the purge clock counts from then.
///
/// # Safety
/// As `release_slab`.
pub unsafe fn release_slab_at(slab: &Slab, class: usize, emptied_at: purge::Stamp) {
    // Slab metadata lives in its SuperSlab's header: masking the metadata's own address gives the
    // header (strict provenance: derived from the slab's pointer).
    let ss = (slab as *const Slab as *mut Slab)
        .map_addr(|a| a & !crate::config::SUPERSLAB_MASK)
        .cast::<SuperSlab>();
    let idx = SuperSlab::slab_index(slab.data() as usize);
    POOL.with(|p| {
        // SAFETY: under the pool lock.
        unsafe {
            if links(ss, |l| l.pool_epoch) != p.epoch {
                // Abandoned by a forked child's pool (see `reset_after_fork`): leave it alone.
                return;
            }
            // The heap gave a slab back: it is not only growing (`config::THP_GROWTH`).
            p.growth = 0;
            p.sparse = core::ptr::null_mut();
            let (was_full, mask) = links(ss, |l| {
                let was_full = l.free_mask == 0;
                l.free_mask |= 1u64 << idx;
                l.dirty |= 1u64 << idx;
                l.freed_at[idx] = emptied_at;
                l.class[idx] = class as u8;
                (was_full, l.free_mask)
            });
            p.dirty_slabs += 1;
            p.handed_out = p.handed_out.saturating_sub(1);
            if was_full {
                push(&mut p.partial, ss, LIST_PARTIAL);
            }
            warm_push(p, ss, idx);
            if purge::delay() == Some(0) {
                purge_due(p, ss, Sweep::All);
            }
            if mask == ALL_FREE {
                retire(p, ss);
            }
        }
        if over_dirty_budget(p) {
            GLOBALS.dirty_budget_sweeps.bump_shared();
            sweep_pool(p, Sweep::All);
        } else {
            sweep_if_due(p);
        }
    });
}

/// Whether the dirty free slabs have passed their budget (`config::DIRTY_BUDGET`): more than
/// `DIRTY_BUDGET_MIN_SLABS` and more than the slabs handed out, i.e. most of the pool's bound
/// space lies free, as after a round of threads exited. Then they are all purged at once: at
/// least `DIRTY_BUDGET_MIN_SLABS` releases come before the next such sweep, so its cost (one
/// `madvise` per run of adjacent slabs) is spread over as many slab releases. Never with the
/// delay -1 (purge nothing on the clock).
fn over_dirty_budget(p: &Pool) -> bool {
    crate::config::DIRTY_BUDGET
        && p.dirty_slabs > crate::config::DIRTY_BUDGET_MIN_SLABS
        && p.dirty_slabs > p.handed_out
        && purge::delay().is_some()
        && (!crate::config::DIRTY_BUDGET_AFTER_EXIT
            // ORDERING: Relaxed — a hint for a purge policy; a sweep that comes one release
            // late or early changes no block's state.
            || EXITED_SINCE_SWEEP.swap(false, PlainOrdering::Relaxed))
}

/// A thread exited since the last sweep the dirty-slab budget made
/// (`config::DIRTY_BUDGET_AFTER_EXIT`). A plain flag, no lock: a forked child inherits it as a
/// hint like any other.
static EXITED_SINCE_SWEEP: AtomicBool = AtomicBool::new(false);

/// Called by a thread's exit, before its heap's slabs come back: the dirty-slab budget may sweep
/// the slabs it leaves (`config::DIRTY_BUDGET_AFTER_EXIT`).
pub fn note_thread_exit() {
    if crate::config::DIRTY_BUDGET && crate::config::DIRTY_BUDGET_AFTER_EXIT {
        // ORDERING: Relaxed — see `over_dirty_budget`.
        EXITED_SINCE_SWEEP.store(true, PlainOrdering::Relaxed);
    }
}

/// # Safety
/// The pool lock is held; every data slab of `ss` is free and `ss` is on the partial list.
unsafe fn retire(p: &mut Pool, ss: *mut SuperSlab) {
    // SAFETY: per the contract.
    unsafe {
        warm_all(p, ss, false);
        unlink(&mut p.partial, ss);
        registry::unregister((*ss).base());
        let generation = (*ss).bump_generation();
        trace::record(Event::Retire, (*ss).base(), (*ss).base(), 0, 0, generation);
        GLOBALS.superslabs_retired.bump_shared();
        push(&mut p.empty, ss, LIST_EMPTY);
    }
}

/// Purges the dirty slabs of `ss` that `sweep` covers, adjacent ones in one call. A slab whose
/// purge the OS refuses (counted by `os`) stays dirty and is retried by a later sweep.
///
/// # Safety
/// The pool lock is held.
unsafe fn purge_due(p: &mut Pool, ss: *mut SuperSlab, sweep: Sweep) {
    // SAFETY: under the pool lock.
    let (dirty, freed_at) = unsafe { links(ss, |l| (l.dirty, l.freed_at)) };
    let mut due = 0u64;
    let mut m = dirty;
    while m != 0 {
        let i = m.trailing_zeros() as usize;
        m &= m - 1;
        if sweep.covers(freed_at[i]) {
            due |= 1u64 << i;
        }
    }
    let mut purged = 0u64;
    while due != 0 {
        // The run of adjacent due slabs starting at the lowest one.
        let first = due.trailing_zeros() as usize;
        let len = (due >> first).trailing_ones() as usize;
        let run = if first + len >= 64 {
            !0u64 << first
        } else {
            ((1u64 << len) - 1) << first
        };
        due &= !run;
        // SAFETY: the slabs of the run are free and unbound (dirty ⊆ free) and nothing reads
        // their blocks; they lie inside the SuperSlab's reservation.
        let ok = unsafe {
            let data = (*ss).slabs[first].data();
            purge::pages(NonNull::new_unchecked(data), len * SLAB_SIZE)
        };
        if ok {
            purged |= run;
        }
    }
    if purged != 0 {
        // SAFETY: under the pool lock; the slabs of a partial SuperSlab that were dirty are on
        // their warm lists.
        unsafe {
            if links(ss, |l| l.list) == LIST_PARTIAL {
                let mut m = purged;
                while m != 0 {
                    let idx = m.trailing_zeros() as usize;
                    m &= m - 1;
                    warm_unlink(p, ss, idx);
                }
            }
            links(ss, |l| l.dirty &= !purged);
        }
        p.dirty_slabs -= purged.count_ones() as usize;
    }
}

/// Purges, in every SuperSlab with free slabs, the dirty slabs `sweep` covers.
fn sweep_pool(p: &mut Pool, sweep: Sweep) {
    if p.dirty_slabs == 0 {
        return;
    }
    for head in [p.partial, p.empty] {
        let mut ss = head;
        while !ss.is_null() && p.dirty_slabs != 0 {
            // SAFETY: under the pool lock; `ss` is on a pool list.
            unsafe {
                purge_due(p, ss, sweep);
                ss = list::next(ss);
            }
        }
    }
}

/// On a pool entry: sweeps what the clock says is due, at most once per tick process-wide.
fn sweep_if_due(p: &mut Pool) {
    if p.dirty_slabs != 0 {
        if let Some(s) = Sweep::due_ticked(&TICKER) {
            sweep_pool(p, s);
        }
    }
}

/// Purges the free slabs `sweep` covers (`Sweep::All`: every free slab, for `collect`).
pub fn purge(sweep: Sweep) {
    POOL.with(|p| sweep_pool(p, sweep));
}
