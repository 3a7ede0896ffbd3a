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

/// Loom's blocking mutex, which `lock::SpinLock` becomes under loom.
#[cfg(hakmem_loom)]
pub use loom::sync::Mutex;
