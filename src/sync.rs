//! The concurrency shim: the only module that names atomics, cells or loom.
//!
//! Boundary: every atomic and every cell shared between threads in the remote queue, slab
//! ownership, publish/adopt and hint code is imported from here, so `--cfg hakmem_loom` replaces
//! them all with loom's model-checked versions and the loom models test the code that ships.
//! Global statics (registry, pools) exist only outside loom: loom types cannot live in statics.
//!
//! One `inner` module per build says what each name is; nothing else in the crate tests
//! `hakmem_loom` to pick a primitive (sharded-slab's and tokio's shape).

/// `const_fn! { pub fn new() -> Self { … } }`: a `const fn` in the shipped build (statics need
/// it), a plain `fn` under loom, whose primitives have no const constructors. One body for both.
pub(crate) use inner::const_fn;
#[cfg(hakmem_loom)]
pub use inner::Mutex;
pub use inner::{atomic, init_zeroed_ptrs, link, null_ptrs, spin_loop, UnsafeCell};

pub use atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

/// Atomics that loom does not model, in every build: statistics, the event ring, runtime switches,
/// test hooks and the profiler's tables. None of them orders any memory of the allocator's own
/// structures; the profiler's stack table publishes its entries' frames with them
/// (src/prof/table.rs, docs/ordering.md); each use says so at its call site.
pub mod plain {
    pub use core::sync::atomic::fence;
    pub use core::sync::atomic::{
        AtomicBool, AtomicI32, AtomicI64, AtomicPtr, AtomicU16, AtomicU32, AtomicU64, AtomicU8,
        AtomicUsize, Ordering,
    };
}

/// The shipped build: core's atomics and cell.
#[cfg(not(hakmem_loom))]
mod inner {
    pub use core::sync::atomic;

    macro_rules! const_fn {
        ($(#[$m:meta])* $vis:vis fn $name:ident() -> $ret:ty $body:block) => {
            $(#[$m])* $vis const fn $name() -> $ret $body
        };
    }
    pub(crate) use const_fn;

    /// Busy-wait hint.
    #[inline]
    pub fn spin_loop() {
        core::hint::spin_loop();
    }

    /// `N` null atomic pointers (a static's table).
    pub const fn null_ptrs<T, const N: usize>() -> [atomic::AtomicPtr<T>; N] {
        [const { atomic::AtomicPtr::new(core::ptr::null_mut()) }; N]
    }

    /// Makes the `n` atomic pointers at `p` usable: nothing to do, zeroed memory is `n` null
    /// pointers already.
    ///
    /// # Safety
    /// `p` is zeroed memory for `n` pointers that nobody else reaches yet.
    #[inline(always)]
    pub unsafe fn init_zeroed_ptrs<T>(_p: *mut atomic::AtomicPtr<T>, _n: usize) {}

    /// A cell whose accesses loom can check for races: here `core::cell::UnsafeCell` behind
    /// loom's closure API, so both builds compile the same call sites.
    #[derive(Debug)]
    pub struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub const fn new(v: T) -> Self {
            Self(core::cell::UnsafeCell::new(v))
        }

        /// Read access through a raw pointer; the caller upholds the aliasing rules.
        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            f(self.0.get())
        }

        /// Write access through a raw pointer; the caller upholds the aliasing rules.
        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            f(self.0.get())
        }
    }

    /// The word a free list stores at the start of a freed block (`slab::block`).
    pub mod link {
        /// Bytes the link takes at the start of a block.
        pub const BYTES: usize = core::mem::size_of::<usize>();
        /// Whether the word after the link is free for the freed-block mark.
        pub const MARK_WORD: bool = true;

        /// Reads the link at `p`.
        ///
        /// # Safety
        /// `p` is a free block whose link was written by `write` and is visible to this thread.
        #[inline(always)]
        pub unsafe fn read(p: *mut u8) -> usize {
            // SAFETY: per the contract.
            unsafe { p.cast::<usize>().read() }
        }

        /// Writes the link at `p`.
        ///
        /// # Safety
        /// `p` is a block of at least `BYTES` that nobody else reads or writes now.
        #[inline(always)]
        pub unsafe fn write(p: *mut u8, v: usize) {
            // SAFETY: per the contract.
            unsafe { p.cast::<usize>().write(v) }
        }
    }
}

/// The loom build: loom's atomics, cell and mutex; the link inside a freed block is a loom cell,
/// so the models check the real accesses to it for races.
#[cfg(hakmem_loom)]
mod inner {
    pub use loom::sync::atomic;

    macro_rules! const_fn {
        ($(#[$m:meta])* $vis:vis fn $name:ident() -> $ret:ty $body:block) => {
            $(#[$m])* $vis fn $name() -> $ret $body
        };
    }
    pub(crate) use const_fn;
    /// Loom's blocking mutex, which `lock::SpinLock` becomes under loom.
    pub use loom::sync::Mutex;

    /// A yield, so the model can make progress.
    #[inline]
    pub fn spin_loop() {
        loom::thread::yield_now();
    }

    pub fn null_ptrs<T, const N: usize>() -> [atomic::AtomicPtr<T>; N] {
        core::array::from_fn(|_| atomic::AtomicPtr::new(core::ptr::null_mut()))
    }

    /// Places a fresh loom atomic in each of the `n` slots at `p`: loom records this thread's
    /// creation of each, so a thread that reaches them without a happens-before edge to this
    /// one is reported ("Causality violation").
    ///
    /// # Safety
    /// `p` is memory for `n` pointers that nobody else reaches yet.
    pub unsafe fn init_zeroed_ptrs<T>(p: *mut atomic::AtomicPtr<T>, n: usize) {
        for i in 0..n {
            // SAFETY: per the contract.
            unsafe {
                p.add(i)
                    .write(atomic::AtomicPtr::new(core::ptr::null_mut()))
            };
        }
    }

    #[derive(Debug)]
    pub struct UnsafeCell<T>(loom::cell::UnsafeCell<T>);

    impl<T> UnsafeCell<T> {
        pub fn new(v: T) -> Self {
            Self(loom::cell::UnsafeCell::new(v))
        }

        #[inline(always)]
        pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
            self.0.with(f)
        }

        #[inline(always)]
        pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
            self.0.with_mut(f)
        }
    }

    pub mod link {
        type Cell = loom::cell::UnsafeCell<usize>;
        pub const BYTES: usize = core::mem::size_of::<Cell>();
        /// A loom cell fills more than one word: no freed-block mark under loom.
        pub const MARK_WORD: bool = false;

        /// # Safety
        /// `write` placed a cell at `p`.
        #[inline(always)]
        pub unsafe fn read(p: *mut u8) -> usize {
            // SAFETY: per the contract.
            unsafe { (*p.cast::<Cell>()).with(|q| *q) }
        }

        /// # Safety
        /// `p` is a block of at least `BYTES` the caller owns. A fresh cell records this
        /// thread's write, so loom checks that the reader of the link synchronised with it.
        #[inline(always)]
        pub unsafe fn write(p: *mut u8, v: usize) {
            // SAFETY: per the contract.
            unsafe { p.cast::<Cell>().write(Cell::new(v)) }
        }
    }
}
