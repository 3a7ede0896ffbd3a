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

use crate::env;
use crate::front::free;
use crate::front::heap::{Heap, HeapKind};
use crate::front::magazine;
use crate::front::medium;
use crate::meta;
use crate::stats::{self, GLOBALS};
use crate::sync::SpinLock;
use crate::sync::{AtomicPtr, Ordering};

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

/// Recycled heaps.
struct HeapPool(*mut Heap);
// SAFETY: only touched under the lock.
unsafe impl Send for HeapPool {}
static HEAP_POOL: SpinLock<HeapPool> = SpinLock::new(HeapPool(core::ptr::null_mut()));

fn new_heap() -> Option<NonNull<Heap>> {
    let recycled = HEAP_POOL.with(|p| {
        let h = NonNull::new(p.0)?;
        // SAFETY: pooled heaps are used by nobody but the pool.
        p.0 = unsafe {
            core::mem::replace(&mut h.as_ref().local_mut().next_free, core::ptr::null_mut())
        };
        Some(h)
    });
    if recycled.is_some() {
        return recycled;
    }
    let mem = meta::alloc(core::mem::size_of::<Heap>())?.cast::<Heap>();
    // SAFETY: fresh metadata memory, 64-byte aligned and large enough.
    unsafe { mem.as_ptr().write(Heap::new(HeapKind::Live)) };
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
    HEAP_POOL.with(|p| {
        // SAFETY: per the contract.
        unsafe { h.as_ref().local_mut().next_free = p.0 };
        p.0 = h.as_ptr();
    });
}

struct Key(Option<libc::pthread_key_t>);
static KEY: SpinLock<Key> = SpinLock::new(Key(None));

fn exit_key() -> Option<libc::pthread_key_t> {
    let (key, first) = KEY.with(|k| {
        if k.0.is_none() {
            let mut key: libc::pthread_key_t = 0;
            // SAFETY: plain key creation with a C destructor; allocates nothing in glibc.
            if unsafe { libc::pthread_key_create(&mut key, Some(on_thread_exit)) } == 0 {
                k.0 = Some(key);
                return (k.0, true);
            }
        }
        (k.0, false)
    });
    if first {
        crate::fork::register();
    }
    key
}

/// Creates the calling thread's heap. `None` if metadata memory cannot be had.
#[cold]
pub fn init_current() -> Option<&'static Heap> {
    if env::init() {
        process_init();
    }
    let h = new_heap()?;
    // SAFETY: heaps are never freed. The alloc route (own lists, or the profiler's) before anyone
    // can allocate from the heap.
    unsafe { h.as_ref() }.route_by_switch();
    // The slot first: anything below that re-enters the allocator (the pthread key's second-level
    // table is allocated with calloc) then finds a live heap.
    set_current(h.as_ptr());
    if let Some(key) = exit_key() {
        // SAFETY: the key exists; the value is our heap pointer.
        unsafe { libc::pthread_setspecific(key, h.as_ptr().cast()) };
    }
    GLOBALS.threads_started.bump_shared();
    // SAFETY: heaps are never freed.
    Some(unsafe { h.as_ref() })
}

/// Once per process, before the first heap exists: the freed-block key, and the exit report.
#[cold]
fn process_init() {
    free::init_free_key();
    crate::prof::process_init();
    if env::stats() {
        // A private copy of stderr: programs may close fd 2 in an atexit handler that runs before
        // ours (ours is registered at the first allocation, so it runs last).
        let fd = crate::os::dup_stderr().unwrap_or(2);
        // ORDERING: Relaxed — read by the same thread's exit path or after `exit` synchronises.
        STATS_FD.store(fd, crate::sync::plain::Ordering::Relaxed);
        // SAFETY: registers a plain C callback; glibc's atexit may allocate, which finds the
        // allocator usable (nothing here holds a lock).
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
    // SAFETY: the exiting thread's own heap; the slot no longer points at it.
    unsafe {
        magazine::flush(h.as_ref(), true);
        magazine::reclaim(64);
        medium::flush(h.as_ref(), true);
        medium::reclaim(64);
        recycle_heap(h);
    }
}

/// The heap shared by threads past their teardown, used under its lock.
struct Fallback(*mut Heap);
// SAFETY: only touched under the lock.
unsafe impl Send for Fallback {}
static FALLBACK: SpinLock<Fallback> = SpinLock::new(Fallback(core::ptr::null_mut()));

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

/// Flushes the calling thread's heap without giving up its slabs (for `collect`).
pub fn flush_current() {
    let h = current();
    if h.kind == HeapKind::Live {
        // SAFETY: our own live heap.
        unsafe {
            magazine::flush(h, false);
            medium::flush(h, false);
        }
    }
}

/// The locks of this box, in the fork order (heap pool, fallback heap).
pub fn fork_locks(f: &mut impl FnMut(&'static dyn crate::sync::ForkLock)) {
    // The exit-key lock nests nothing, so it can go first.
    f(&KEY);
    f(&HEAP_POOL);
    f(&FALLBACK);
}
