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

use core::cell::Cell;
use core::ptr::NonNull;

use crate::front::heap::{Heap, HeapKind};
use crate::front::magazine;
use crate::meta;
use crate::sync::SpinLock;

/// The heap of threads that have not allocated yet.
pub static EMPTY: Heap = Heap::new(HeapKind::Empty);
/// The heap of threads whose heap was torn down.
pub static DEAD: Heap = Heap::new(HeapKind::Dead);

thread_local! {
    static CURRENT: Cell<*const Heap> = const { Cell::new(&raw const EMPTY) };
}

/// The calling thread's heap (possibly a sentinel).
#[inline(always)]
pub fn current() -> &'static Heap {
    // SAFETY: the slot always holds a sentinel or a live heap, and heaps are never freed.
    unsafe { &*CURRENT.with(|c| c.get()) }
}

#[inline]
fn set_current(h: *const Heap) {
    CURRENT.with(|c| c.set(h));
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
    Some(mem)
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
    let h = new_heap()?;
    // The slot first: anything below that re-enters the allocator (the pthread key's second-level
    // table is allocated with calloc) then finds a live heap.
    set_current(h.as_ptr());
    if let Some(key) = exit_key() {
        // SAFETY: the key exists; the value is our heap pointer.
        unsafe { libc::pthread_setspecific(key, h.as_ptr().cast()) };
    }
    // SAFETY: heaps are never freed.
    Some(unsafe { h.as_ref() })
}

extern "C" fn on_thread_exit(p: *mut libc::c_void) {
    let Some(h) = NonNull::new(p.cast::<Heap>()) else {
        return;
    };
    set_current(&raw const DEAD);
    // SAFETY: the exiting thread's own heap; the slot no longer points at it.
    unsafe {
        magazine::flush(h.as_ref(), true);
        magazine::reclaim(h.as_ref(), 64);
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
        unsafe { magazine::flush(h, false) };
    }
}

/// The locks of this box, in the fork order (heap pool, fallback heap).
pub fn fork_locks(f: &mut impl FnMut(&'static dyn crate::sync::ForkLock)) {
    f(&HEAP_POOL);
    f(&FALLBACK);
}
