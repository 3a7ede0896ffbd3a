//! The concurrency shim: the only module that names atomics, cells or loom.
//!
//! Boundary: every atomic and every cell shared between threads in the remote queue, slab
//! ownership, publish/adopt and hint code is imported from here, so `--cfg hakmem_loom` replaces
//! them all with loom's model-checked versions and the loom models test the code that ships.
//! Global statics (registry, pools) exist only outside loom: loom types cannot live in statics.

#[cfg(not(hakmem_loom))]
pub use core::sync::atomic;
#[cfg(hakmem_loom)]
pub use loom::sync::atomic;

pub use atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Atomics that loom does not model, in every build: statistics, the event ring, runtime switches
/// and test hooks. None of them orders any other memory; each use says so at its call site.
pub mod plain {
    pub use core::sync::atomic::{
        AtomicBool, AtomicI32, AtomicI64, AtomicU16, AtomicU64, AtomicU8, AtomicUsize, Ordering,
    };
}

/// Busy-wait hint; under loom a yield so the model can make progress.
#[inline]
pub fn spin_loop() {
    #[cfg(not(hakmem_loom))]
    core::hint::spin_loop();
    #[cfg(hakmem_loom)]
    loom::thread::yield_now();
}

/// A cell whose accesses loom can check for races. Outside loom it is `core::cell::UnsafeCell`
/// behind loom's closure API, so both builds compile the same call sites.
#[derive(Debug)]
pub struct UnsafeCell<T>(
    #[cfg(not(hakmem_loom))] core::cell::UnsafeCell<T>,
    #[cfg(hakmem_loom)] loom::cell::UnsafeCell<T>,
);

impl<T> UnsafeCell<T> {
    #[cfg(not(hakmem_loom))]
    pub const fn new(v: T) -> Self {
        Self(core::cell::UnsafeCell::new(v))
    }
    #[cfg(hakmem_loom)]
    pub fn new(v: T) -> Self {
        Self(loom::cell::UnsafeCell::new(v))
    }

    /// Read access through a raw pointer; the caller upholds the aliasing rules.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        #[cfg(not(hakmem_loom))]
        return f(self.0.get());
        #[cfg(hakmem_loom)]
        return self.0.with(f);
    }

    /// Write access through a raw pointer; the caller upholds the aliasing rules.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        #[cfg(not(hakmem_loom))]
        return f(self.0.get());
        #[cfg(hakmem_loom)]
        return self.0.with_mut(f);
    }
}

/// A test-and-test-and-set lock for slow paths. It never allocates (unlike parking_lot, which grows
/// a hash table through the global allocator on first contention) and yields to the OS after a
/// short spin, so a preempted holder on a 2-core machine does not burn the other core.
///
/// Under loom the lock is loom's blocking mutex instead: loom cannot finish a model in which two
/// threads spin on a lock a third holds (every yield is a free scheduling choice, so the spinners
/// can hand the processor to each other forever). Lock algorithms are not what the models check;
/// the Acquire/Release edges of taking and releasing the lock are the same.
pub struct SpinLock<T> {
    #[cfg(not(hakmem_loom))]
    locked: AtomicBool,
    #[cfg(hakmem_loom)]
    locked: loom::sync::Mutex<()>,
    value: UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `value`, so sharing the lock shares `T` only with
// one thread at a time; `T: Send` is what moving that access between threads needs.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock owns `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    #[cfg(not(hakmem_loom))]
    pub const fn new(v: T) -> Self {
        Self {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(v),
        }
    }
    #[cfg(hakmem_loom)]
    pub fn new(v: T) -> Self {
        Self {
            locked: loom::sync::Mutex::new(()),
            value: UnsafeCell::new(v),
        }
    }

    /// Runs `f` with the lock held.
    #[cfg(hakmem_loom)]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _held = self.locked.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the lock is held, so this is the only live reference to `value`.
        self.value.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Runs `f` with the lock held.
    #[cfg(not(hakmem_loom))]
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        self.lock();
        // SAFETY: the lock is held, so this is the only live reference to `value`.
        let r = self.value.with_mut(|p| f(unsafe { &mut *p }));
        // ORDERING: Release — publishes the writes made under the lock; pairs with the Acquire
        // exchange in `lock` of the next holder.
        self.locked.store(false, Ordering::Release);
        r
    }

    /// Runs `f` with the lock held if the lock is free now; `None` without waiting otherwise (for
    /// a signal handler, which must not wait on a lock the interrupted thread may hold).
    #[cfg(not(hakmem_loom))]
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        // ORDERING: Acquire — as in `lock`.
        if self.locked.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: the lock is held, so this is the only live reference to `value`.
        let r = self.value.with_mut(|p| f(unsafe { &mut *p }));
        // ORDERING: Release — as in `with`.
        self.locked.store(false, Ordering::Release);
        Some(r)
    }

    #[cfg(not(hakmem_loom))]
    fn lock(&self) {
        let mut spins = 0u32;
        loop {
            // ORDERING: Acquire — makes the previous holder's writes visible; pairs with the
            // Release store in `with`.
            if !self.locked.swap(true, Ordering::Acquire) {
                return;
            }
            // ORDERING: Relaxed — only a hint of when to retry; the swap above synchronises.
            while self.locked.load(Ordering::Relaxed) {
                spins += 1;
                if spins < 64 {
                    spin_loop();
                } else {
                    crate::os::yield_now();
                }
            }
        }
    }
}

/// A lock the fork handlers hold across `fork`, whatever it protects.
pub trait ForkLock: Sync {
    /// Takes the lock (prepare handler).
    fn fork_prepare(&self);
    /// Releases the lock taken by `fork_prepare`: in the parent a normal unlock; in the child,
    /// where the lock's memory is a copy and no other thread exists, the same store resets it.
    ///
    /// # Safety
    /// The calling thread took the lock with `fork_prepare` (or is the child of that thread's
    /// `fork`).
    unsafe fn fork_release(&self);
}

#[cfg(not(hakmem_loom))]
impl<T: Send> ForkLock for SpinLock<T> {
    fn fork_prepare(&self) {
        self.lock();
    }

    unsafe fn fork_release(&self) {
        // ORDERING: Release — as in `with`; in the child there is nobody to synchronise with.
        self.locked.store(false, Ordering::Release);
    }
}

/// Fork is not modelled: the fork handlers are compiled out under loom.
#[cfg(hakmem_loom)]
impl<T: Send> ForkLock for SpinLock<T> {
    fn fork_prepare(&self) {
        unreachable!("fork handlers do not run under loom")
    }

    unsafe fn fork_release(&self) {
        unreachable!("fork handlers do not run under loom")
    }
}
