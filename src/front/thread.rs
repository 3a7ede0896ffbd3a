//! Thread box: which heap the calling thread uses, heap creation, thread exit, and the heap pool.
//!
//! Boundary: `current()` is the one accessor of thread state; the TLS mechanism behind it can be
//! swapped (the preload library needs an initial-exec slot) without touching any other box.
//!
//! Life cycle: a thread starts on the `EMPTY` sentinel; its first slow path creates a heap,
//! points the TLS slot at it and only then registers the exit hook (a pthread key destructor —
//! no `thread_local!` destructor, which would register through the C runtime and call malloc).
//! At exit the hook points the slot at `DEAD` first, then flushes the heap (returning TLS blocks,
//! publishing or releasing slabs) and recycles it. Frees that arrive later (other TLS destructors)
//! see `DEAD`, whose owner owns nothing, and take the remote path; allocations use the shared
//! fallback heap under a lock.

use core::ptr::NonNull;

use crate::config::VALIDATE;
use crate::debug::{fatal, Where};
use crate::env;
use crate::front::heap::{Heap, HeapCensus, HeapKind};
use crate::front::mark;
use crate::front::medium;
use crate::front::small;
use crate::lock::{ForkReset, Rank, SpinLock};
use crate::meta;
use crate::stats::{self, GLOBALS};
use crate::sync::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};

/// The heap of threads that have not allocated yet.
pub static EMPTY: Heap = Heap::new(HeapKind::Empty);
/// The heap of threads whose heap was torn down.
pub static DEAD: Heap = Heap::new(HeapKind::Dead);

/// The TLS slot behind `current`. Contract of both implementations: `get` returns what the
/// calling thread last passed to `set`, or `&EMPTY` if it never called it; neither allocates,
/// locks or registers a destructor.
///
/// Default: Rust's `thread_local!` (a const-initialised `Cell`, no destructor). With the
/// `initial-exec-tls` feature (the preload library): a raw initial-exec slot whose zero initial
/// value stands for `EMPTY`, because a `thread_local!` in a `cdylib` is general-dynamic and its
/// `__tls_get_addr` may call `malloc`. See src/front/tls_initial_exec.rs and docs/preload.md.
#[cfg(not(feature = "initial-exec-tls"))]
mod slot {
    use core::cell::Cell;

    use super::{Heap, EMPTY};

    thread_local! {
        static CURRENT: Cell<*const Heap> = const { Cell::new(&raw const EMPTY) };
    }

    #[inline(always)]
    pub fn get() -> *const Heap {
        CURRENT.with(|c| c.get())
    }

    #[inline(always)]
    pub fn set(h: *const Heap) {
        CURRENT.with(|c| c.set(h));
    }
}

#[cfg(feature = "initial-exec-tls")]
#[path = "tls_initial_exec.rs"]
mod slot;

/// The calling thread's heap (possibly a sentinel).
#[inline(always)]
pub fn current() -> &'static Heap {
    // SAFETY: the slot always holds a sentinel or a live heap, and heaps are never freed.
    unsafe { &*slot::get() }
}

#[inline]
fn set_current(h: *const Heap) {
    slot::set(h);
}

/// Recycled heaps: the stack's top, and how many it holds (`config::RECYCLE_PURGE_DEPTH`).
struct HeapPool(*mut Heap, usize);
// SAFETY: only touched under the lock.
unsafe impl Send for HeapPool {}
/// Fork: a holder that did not survive the fork may have been relinking the stack; the child
/// abandons it (the pooled heaps are leaked, in the child only).
impl ForkReset for HeapPool {
    fn reset_after_fork(&mut self) {
        self.0 = core::ptr::null_mut();
        self.1 = 0;
    }
}
static HEAP_POOL: SpinLock<HeapPool> =
    SpinLock::new(Rank::HeapPool, HeapPool(core::ptr::null_mut(), 0));

fn new_heap() -> Option<NonNull<Heap>> {
    let recycled = HEAP_POOL.with(|p| {
        let h = NonNull::new(p.0)?;
        // SAFETY: pooled heaps are used by nobody but the pool.
        p.0 = unsafe {
            core::mem::replace(&mut h.as_ref().local_mut().next_free, core::ptr::null_mut())
        };
        p.1 = p.1.saturating_sub(1);
        Some(h)
    });
    if recycled.is_some() {
        GLOBALS.heaps_reused.bump_shared();
        return recycled;
    }
    let mem = meta::alloc(core::mem::size_of::<Heap>())?.cast::<Heap>();
    // SAFETY: fresh metadata memory, 64-byte aligned, large enough and zeroed (`meta::alloc`).
    unsafe { Heap::init(mem.as_ptr(), HeapKind::Live, true) };
    // Link it into the list of every heap (for `stats()`); never unlinked.
    // ORDERING: Relaxed load — only a CAS expected value; the Release CAS publishes the heap's
    // initialisation to `for_each_heap`'s Acquire loads.
    let mut head = ALL_HEAPS.load(Ordering::Relaxed);
    loop {
        // SAFETY: the heap is not yet visible to anyone.
        unsafe { mem.as_ref().next_all.store(head, Ordering::Relaxed) };
        match ALL_HEAPS.compare_exchange_weak(
            head,
            mem.as_ptr(),
            Ordering::Release,
            Ordering::Relaxed,
        ) {
            Ok(_) => break,
            Err(h) => head = h,
        }
    }
    Some(mem)
}

/// Every heap ever created (heaps are never freed).
static ALL_HEAPS: AtomicPtr<Heap> = AtomicPtr::new(core::ptr::null_mut());

/// Calls `f` on every heap ever created (live, pooled and the fallback heap).
pub fn for_each_heap(mut f: impl FnMut(&Heap)) {
    // ORDERING: Acquire — pairs with the Release CAS in `new_heap`.
    let mut h = ALL_HEAPS.load(Ordering::Acquire);
    while !h.is_null() {
        // SAFETY: heaps are never freed.
        let r = unsafe { &*h };
        f(r);
        // ORDERING: Acquire — as above (the link was written before the heap was published).
        h = r.next_all.load(Ordering::Acquire);
    }
}

/// # Safety
/// Nobody uses `h` any more: its thread has exited and it owns no slab.
unsafe fn recycle_heap(h: NonNull<Heap>) {
    // SAFETY: per the contract; the heap is not in the pool yet.
    unsafe { h.as_ref().reset_for_reuse() };
    // Read apart from the push, so that the `madvise` runs without the lock: a heuristic, a
    // race with another exit or a new thread only moves the depth by one.
    if crate::config::RECYCLE_PURGE && HEAP_POOL.with(|p| p.1) >= crate::config::RECYCLE_PURGE_DEPTH
    {
        // SAFETY: per the contract. A refusal is counted by `os` and harmless (see the callee).
        let _ = unsafe { h.as_ref().local_mut().owned_mut().decommit_interior() };
    }
    HEAP_POOL.with(|p| {
        // SAFETY: per the contract.
        unsafe { h.as_ref().local_mut().next_free = p.0 };
        p.0 = h.as_ptr();
        p.1 += 1;
    });
}

/// The exit key plus one (0: not created yet). Lock-free, so that nothing of the thread box can be
/// found held by a thread that did not survive a `fork`.
static KEY: AtomicUsize = AtomicUsize::new(0);

/// The pthread key whose destructor is the exit hook, created by the first caller. Racing first
/// callers each create a key; the CAS keeps one and the others delete theirs. The winner also
/// registers the fork handler.
fn exit_key() -> Option<libc::pthread_key_t> {
    // ORDERING: Acquire — pairs with the AcqRel CAS below: the key value is complete.
    let k = KEY.load(Ordering::Acquire);
    if k != 0 {
        return Some((k - 1) as libc::pthread_key_t);
    }
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: plain key creation with a C destructor; allocates nothing in glibc.
    if unsafe { libc::pthread_key_create(&mut key, Some(on_thread_exit)) } != 0 {
        return None;
    }
    // ORDERING: AcqRel on success (publishes the key), Acquire on failure (reads the winner's).
    match KEY.compare_exchange(0, key as usize + 1, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            crate::fork::register();
            // SAFETY: a plain C callback that neither allocates nor unwinds.
            unsafe { libc::pthread_atfork(None, None, Some(forget_creation_after_fork)) };
            Some(key)
        }
        Err(won) => {
            // SAFETY: our own key, never handed out.
            unsafe { libc::pthread_key_delete(key) };
            Some((won - 1) as libc::pthread_key_t)
        }
    }
}

/// Whether the calling thread is inside `init_current` (a thread-local word that is never
/// allocated: initial-exec in the preload library, like the slot).
#[cfg(not(feature = "initial-exec-tls"))]
mod creating {
    use core::cell::Cell;

    // A const-initialised `Cell` without destructor: no registration, no allocation.
    thread_local! {
        static CREATING: Cell<bool> = const { Cell::new(false) };
    }

    #[inline(always)]
    pub fn get() -> bool {
        CREATING.with(|c| c.get())
    }

    #[inline(always)]
    pub fn set(v: bool) {
        CREATING.with(|c| c.set(v));
    }
}

#[cfg(feature = "initial-exec-tls")]
mod creating {
    crate::tls_slot::initial_exec_word! {
        fn get_word, set_word: usize = "__hakmem_tls_creating_heap";
    }

    #[inline(always)]
    pub fn get() -> bool {
        get_word() != 0
    }

    #[inline(always)]
    pub fn set(v: bool) {
        set_word(usize::from(v));
    }
}

/// The thread box's fork child handler (registered with the fork box's, by the exit key's
/// creator): the forking thread is the child's only thread. If it forked from a signal handler
/// that interrupted its heap creation, that creation never resumes in the child (the locks it
/// held are taken over there), so the child's thread may create a heap.
extern "C" fn forget_creation_after_fork() {
    creating::set(false);
    // The forking thread's heap is the one heap bound before the fork that still has its thread
    // (`take_over_dead_heaps`): a TLS read and a store, nothing that allocates or locks.
    // ORDERING: Relaxed — the child has one thread now; every later one is created after this.
    SURVIVOR.store(slot::get().cast_mut(), Ordering::Relaxed);
}

/// The heap of the thread that forked this process (set in the child by its handler).
static SURVIVOR: AtomicPtr<Heap> = AtomicPtr::new(core::ptr::null_mut());

/// The fork epoch whose dead heaps were taken over (or are being taken over).
static TAKEN_OVER_AT: crate::sync::plain::AtomicU64 = crate::sync::plain::AtomicU64::new(0);

/// Heaps taken over in this process (tests).
pub static HEAPS_TAKEN_OVER: crate::sync::plain::AtomicUsize =
    crate::sync::plain::AtomicUsize::new(0);
/// Dead heaps left alone in this process because their thread was inside a slow path at the
/// fork (tests).
pub static HEAPS_LEFT_BUSY: crate::sync::plain::AtomicUsize =
    crate::sync::plain::AtomicUsize::new(0);

/// In a forked child, once per fork epoch: takes over the heaps of the parent's threads that do
/// not exist here (`config::FORK_TAKEOVER`). Called from `alloc_slow` (the calling thread's
/// outermost slow path: no lock of ours held), `take_over_if_forked_from` (the medium refill,
/// the profiled miss, a large request) and `collect`. Two loads in the parent.
#[inline]
pub fn take_over_if_forked() {
    if !crate::config::FORK_TAKEOVER {
        return;
    }
    let e = crate::lock::fork::epoch();
    // ORDERING: Relaxed — a hint; the CAS in `take_over_dead_heaps` elects the one taker.
    if e != TAKEN_OVER_AT.load(crate::sync::plain::Ordering::Relaxed) {
        take_over_dead_heaps(e);
    }
}

/// `take_over_if_forked` from a slow path of heap `h` that may be the calling thread's own heap
/// or the fallback heap (under its lock): only from the outermost window of the thread's own
/// heap (`busy == 1`: no lock of ours held, not a signal handler nested in a slow path). The
/// medium tier's refill calls it (`medium::alloc`'s `before_adopt`, passed by `front::alloc`:
/// `medium` is below this module), and so do the profiled
/// miss (`alloc_miss_profiled`) and large requests (`take_over_for_large`): a child that only
/// makes those requests takes over too (session 22, take22).
#[inline]
pub fn take_over_if_forked_from(h: &Heap) {
    if takeover_due() {
        take_over_from(h);
    }
}

/// `take_over_if_forked_from` once a takeover is due: out of line, so that its callers' frames
/// (the profiled miss, `alloc_general` through `medium::alloc`) do not grow.
#[cold]
#[inline(never)]
fn take_over_from(h: &Heap) {
    // ORDERING: Relaxed — the thread's own word.
    if h.busy.load(crate::sync::plain::Ordering::Relaxed) == 1 && core::ptr::eq(h, current()) {
        take_over_if_forked();
    }
}

/// Whether this process forked since the last takeover (`config::FORK_TAKEOVER`): two loads, for
/// a path with no heap window of its own (the large path) to test before `take_over_for_large`.
#[inline(always)]
pub fn takeover_due() -> bool {
    // ORDERING: Relaxed — a hint, as in `take_over_if_forked`.
    crate::config::FORK_TAKEOVER
        && crate::lock::fork::epoch() != TAKEN_OVER_AT.load(crate::sync::plain::Ordering::Relaxed)
}

/// The takeover from a large request (`takeover_due`), which holds no lock of ours: inside a
/// window of the calling thread's own live heap (so the takeover never takes it), and only where
/// that window is the outermost one. A thread with no heap yet leaves it to a later request.
#[cold]
#[inline(never)]
pub fn take_over_for_large() {
    let h = current();
    if h.kind != HeapKind::Live {
        return;
    }
    let _busy = h.busy();
    take_over_if_forked_from(h);
}

/// The takeover (docs/design.md, "A forked child and the parent's other threads' heaps"). Every
/// heap bound to a thread before fork epoch `e` (`Heap::bound`), other than the forking thread's
/// (`SURVIVOR`), belongs to a thread that does not exist in this process. Such a heap whose
/// `busy` word is 0 was quiescent at the fork instant (its thread was on a fast path, which
/// touches only its TLS lists and remote batches, or outside the allocator): it is flushed as
/// thread exit flushes a heap, minus the TLS lists and the remote batches
/// (`small::flush(h, true, false, _)`; a list or batch caught mid-push is not walkable, and their
/// blocks stay counted in their slabs: leaked, at most `TLS_BYTES` per class and
/// `REMOTE_BATCH_ENTRIES * REMOTE_BATCH_BYTES` per heap): empty slabs and spans released, the
/// others published for the child's threads to adopt. A busy one is
/// left alone (leaked, in the child only). Taken heaps are marked `BOUND_TAKEN` before the flush
/// and never recycled (their TLS lists are unknown), so a fork during the takeover leaves them
/// alone in the grandchild. Lock-free election: the CAS winner takes over; other threads go on
/// (their refill may find the published slabs a moment later). Heaps bound in this child (bound
/// `e + 1`), pooled (0), the fallback heap (0) and the sentinels are skipped.
///
/// The caller is inside its own heap's slow-path window (`busy >= 1`), so the calling thread's
/// heap is never taken even where `SURVIVOR` is not set yet: a child whose handler has not run
/// (`lock::fork::catch_up` bumped the epoch) has one thread, the forking one, and it is the taker.
#[cold]
#[inline(never)]
fn take_over_dead_heaps(e: u64) {
    use crate::front::heap::BOUND_TAKEN;
    use crate::sync::plain::Ordering as O;
    // ORDERING: Relaxed — the CAS only elects one taker per epoch; the heaps' state it reads was
    // written by threads of the parent (the fork's copy is complete before any child thread
    // runs) or by this child's threads before they created this thread or under
    // `for_each_heap`'s Acquire loads.
    let seen = TAKEN_OVER_AT.load(O::Relaxed);
    if seen == e
        || TAKEN_OVER_AT
            .compare_exchange(seen, e, O::Relaxed, O::Relaxed)
            .is_err()
    {
        return;
    }
    // ORDERING: Relaxed — written by the child handler, before this thread existed or on it.
    let survivor = SURVIVOR.load(O::Relaxed).cast_const();
    for_each_heap(|h| {
        if h.kind != HeapKind::Live || core::ptr::eq(h, survivor) {
            return;
        }
        // ORDERING: Relaxed — a dead thread's words, frozen at the fork; a child thread's own
        // heap reads `e + 1` (it stored it before using the heap) or 0 (still creating it).
        let b = h.bound.load(O::Relaxed);
        if b == 0 || b == BOUND_TAKEN || b > e {
            return;
        }
        if h.busy.load(O::Relaxed) != 0 {
            HEAPS_LEFT_BUSY.fetch_add(1, O::Relaxed);
            return;
        }
        h.bound.store(BOUND_TAKEN, O::Relaxed);
        // ORDERING: Release fence — the mark is ordered before the flush's stores, so a
        // grandchild forked during the flush sees the heap taken and leaves it alone.
        crate::sync::plain::fence(O::Release);
        // SAFETY: the heap's thread does not exist in this process and was outside every slow
        // path at the fork instant (busy 0), so its slab and span lists, owned table and remote
        // batches are consistent; nobody else uses the heap (not pooled, not current anywhere,
        // marked taken). Its TLS lists are not touched.
        unsafe {
            small::flush(h, true, false, crate::config::TAKEOVER_SKIPS_TABLE);
            medium::flush(h, true, crate::config::TAKEOVER_KEEPS_PAGES);
        }
        HEAPS_TAKEN_OVER.fetch_add(1, O::Relaxed);
    });
}

/// Creates the calling thread's heap. `None` if metadata memory cannot be had, or if the calling
/// thread is inside its own heap's creation already: a signal handler that interrupted
/// `init_current` (holding the set-up, heap-pool or metadata lock, before the slot points at the
/// new heap) and frees or allocates. Waiting there would wait on the thread's own lock forever;
/// instead its free goes on heapless (the remote path, which takes none of those locks) and its
/// allocation fails (null). Allocations that `init_current` itself causes (`calloc` in
/// `pthread_setspecific`, `atexit`) come after the slot is set and never get here.
///
/// Order (issue 12.5): the process set-up every heap depends on completes before any heap exists
/// (`process_setup`: a thread that finds it in progress waits); then the heap, the TLS slot, the
/// exit key; and only then what may allocate (`atexit`), so that a nested allocation finds this
/// heap instead of creating a second one.
#[cold]
pub fn init_current() -> Option<&'static Heap> {
    if creating::get() {
        return None;
    }
    creating::set(true);
    let h = create_current();
    creating::set(false);
    h
}

#[cold]
fn create_current() -> Option<&'static Heap> {
    let first = process_setup();
    if first {
        // Before the first heap, which is profiled when profiling is on. Its exit handler is
        // registered after the heap, with the others (`register_exit_report`).
        crate::prof::process_init();
    }
    let h = new_heap()?;
    // SAFETY: heaps are never freed, and this thread has just taken this one: profiled or not by
    // the profiler's switch before anyone can allocate from it.
    unsafe { crate::front::profiling::sync(h.as_ref()) };
    // The slot first: anything below that re-enters the allocator (the pthread key's second-level
    // table is allocated with calloc, `atexit` may allocate) then finds a live heap.
    set_current(h.as_ptr());
    // SAFETY: heaps are never freed.
    let hr = unsafe { h.as_ref() };
    // ORDERING: Relaxed — read by a forked child of this process (a snapshot) or, in this
    // process, by `take_over_dead_heaps`, which skips both 0 and this value.
    hr.bound.store(
        crate::lock::fork::epoch() + 1,
        crate::sync::plain::Ordering::Relaxed,
    );
    if let Some(key) = exit_key() {
        // SAFETY: the key exists; the value is our heap pointer.
        unsafe { libc::pthread_setspecific(key, h.as_ptr().cast()) };
    }
    GLOBALS.threads_started.bump_shared();
    if first {
        register_exit_report();
    }
    // A safe point to start the purger thread (pthread_create allocates): the heap is set up.
    crate::background::start_if_wanted();
    // SAFETY: heaps are never freed.
    Some(unsafe { h.as_ref() })
}

/// Whether the process set-up ran (read without the lock once it has).
static SETUP_DONE: AtomicBool = AtomicBool::new(false);

/// The process set-up in progress.
struct Setup {
    done: bool,
}
/// Fork: a holder that did not survive the fork was reading the environment or drawing the
/// freed-block key, before any heap existed (every heap waits for the set-up): the taker simply
/// does both again (`done` is still false).
impl ForkReset for Setup {
    fn reset_after_fork(&mut self) {}
}
static SETUP: SpinLock<Setup> = SpinLock::new(Rank::Setup, Setup { done: false });

/// Once per process, before the first heap exists: the runtime switches and the freed-block key
/// (neither allocates). Every other thread creating its first heap meanwhile waits, so no block is
/// ever marked free with a key that is about to change. True on the thread that ran it.
#[cold]
fn process_setup() -> bool {
    // ORDERING: Acquire — pairs with the Release store below: the switches and the key are set.
    if SETUP_DONE.load(Ordering::Acquire) {
        return false;
    }
    crate::hook::at(crate::hook::Point::SetupWait);
    SETUP.with(|s| {
        if s.done {
            return false;
        }
        env::init();
        crate::hook::at(crate::hook::Point::FreeKeyElected);
        mark::init_key();
        s.done = true;
        // ORDERING: Release — publishes the switches and the key to the Acquire load above.
        SETUP_DONE.store(true, Ordering::Release);
        true
    })
}

/// Once per process, after the first heap is in place: the exit report and the profiler's exit
/// dump (`atexit` may allocate; issue 12.5).
#[cold]
fn register_exit_report() {
    crate::prof::register_exit();
    if env::stats() {
        // A private copy of stderr: programs may close fd 2 in an atexit handler that runs before
        // ours (ours is registered at the first allocation, so it runs last).
        let fd = crate::os::dup_stderr().unwrap_or(2);
        // ORDERING: Relaxed — read by the same thread's exit path or after `exit` synchronises.
        STATS_FD.store(fd, crate::sync::plain::Ordering::Relaxed);
        crate::hook::at(crate::hook::Point::ProcessInit);
        // SAFETY: registers a plain C callback; glibc's atexit may allocate, which finds this
        // thread's heap in place and no lock held.
        unsafe { libc::atexit(print_stats_at_exit) };
    }
}

static STATS_FD: crate::sync::plain::AtomicI32 = crate::sync::plain::AtomicI32::new(2);

extern "C" fn print_stats_at_exit() {
    // ORDERING: Relaxed — see `process_init`.
    stats::print(
        &crate::stats(),
        STATS_FD.load(crate::sync::plain::Ordering::Relaxed),
    );
}

extern "C" fn on_thread_exit(p: *mut libc::c_void) {
    let Some(h) = NonNull::new(p.cast::<Heap>()) else {
        return;
    };
    set_current(&raw const DEAD);
    GLOBALS.threads_exited.bump_shared();
    crate::pool::note_thread_exit();
    // SAFETY: the exiting thread's own heap; the slot no longer points at it.
    unsafe {
        // Unbound before the flush changes anything: a child forked from now on leaves the heap
        // alone (`take_over_dead_heaps`).
        // ORDERING: Relaxed store, Release fence — ordered before every store of the flush.
        h.as_ref()
            .bound
            .store(0, crate::sync::plain::Ordering::Relaxed);
        crate::sync::plain::fence(crate::sync::plain::Ordering::Release);
        if VALIDATE {
            // The structural validator where the heap retires: what the thread left behind is
            // well formed before the flush spreads it over the pool and the publish lists.
            h.as_ref().debug_check();
        }
        // Its pops as the class countdowns counted them (`config::PROF_POP_COUNTDOWN`), for
        // stats readers; the next thread to take the heap goes on from there.
        h.as_ref().counters.publish_all_pops();
        h.as_ref().local_mut().remote.flush_all(env::force_notify());
        small::flush(h.as_ref(), true, true, false);
        small::reclaim(64);
        medium::flush(h.as_ref(), true, false);
        medium::reclaim_at_exit(64);
        if VALIDATE && h.as_ref().debug_check() != HeapCensus::default() {
            fatal(
                "heap",
                "a retiring heap still holds slabs or cached blocks after its flush",
                Where::ptr(h.as_ptr() as usize),
            );
        }
        recycle_heap(h);
    }
}

/// The heap shared by threads past their teardown, used under its lock.
struct Fallback(*mut Heap);
// SAFETY: only touched under the lock.
unsafe impl Send for Fallback {}
/// Fork: a holder that did not survive the fork was using the fallback heap (its TLS lists and
/// slab lists may be half-updated); the child abandons that heap — its slabs and cached blocks are
/// leaked, in the child only — and creates a new one on demand.
impl ForkReset for Fallback {
    fn reset_after_fork(&mut self) {
        self.0 = core::ptr::null_mut();
    }
}
static FALLBACK: SpinLock<Fallback> =
    SpinLock::new(Rank::Fallback, Fallback(core::ptr::null_mut()));

/// Runs `f` with the fallback heap locked. `None` if it cannot be created.
#[cold]
pub fn with_fallback<R>(f: impl FnOnce(&Heap) -> R) -> Option<R> {
    FALLBACK.with(|fb| {
        if fb.0.is_null() {
            fb.0 = new_heap()?.as_ptr();
        }
        // SAFETY: heaps are never freed; the lock makes us its only user.
        Some(f(unsafe { &*fb.0 }))
    })
}

/// Publishes the calling thread's heap's pops (`HeapCounters::publish_pops`), so that its own
/// `stats()` call counts them all.
pub fn publish_own_pops() {
    let h = current();
    if crate::config::PROF_POP_COUNTDOWN && h.kind == HeapKind::Live {
        // SAFETY: the calling thread's own live heap.
        unsafe { h.counters.publish_all_pops() };
    }
}

/// Starts the sampled heap profiler (`hakmem::profile::start`): the calling thread's heap at
/// once, every other thread's at its next refill or spill (src/front/profiling.rs). False when
/// the build has no `profile` feature.
pub fn start_profiling() -> bool {
    switch_profiling(true);
    crate::config::PROFILE
}

/// Stops the profiler (`hakmem::profile::stop`), as `start_profiling` starts it; sampled blocks
/// still live stay recorded until freed.
pub fn stop_profiling() {
    switch_profiling(false);
}

fn switch_profiling(on: bool) {
    if !crate::config::PROFILE {
        return;
    }
    crate::front::profiling::set_switch(on);
    let h = current();
    if h.kind == HeapKind::Live {
        let _busy = h.busy();
        // SAFETY: the calling thread's own live heap.
        unsafe { crate::front::profiling::sync(h) };
    }
}

/// Flushes the calling thread's heap without giving up its slabs (for `collect`).
pub fn flush_current() {
    let h = current();
    if h.kind == HeapKind::Live {
        let _busy = h.busy();
        take_over_if_forked();
        // SAFETY: our own live heap.
        unsafe {
            h.local_mut().remote.flush_all(env::force_notify());
            small::flush(h, false, true, false);
            medium::flush(h, false, false);
        }
    }
}
