//! Test hooks (feature `fault-injection`, like `os::fault`): named points on slow paths where a
//! test can run its own code, so that a regression test forces the interleaving it needs (a
//! thread paused inside a critical section, a signal raised inside `fork`) instead of hoping
//! for it. Without the feature `at` compiles to nothing.
//!
//! Boundary: depends on nothing; the allocator only calls `at`. A hook must not allocate on a
//! path where the allocator would deadlock on itself (a test's business, not the allocator's).

use crate::sync::plain::{AtomicUsize, Ordering};

/// Where a hook is called from. (Without the feature no hook can be installed, so the points
/// some call sites name are never looked at.)
#[cfg_attr(not(feature = "fault-injection"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    /// A spin lock of this rank (`sync::Rank as u8`) was just acquired by the calling thread.
    LockAcquired(u8),
    /// The reclaim pass holds the published slab whose data starts at this address (ownership
    /// CAS won, remote queue not yet drained).
    ReclaimAcquired(usize),
    /// The calling thread runs the process set-up and is about to draw the freed-block key.
    FreeKeyElected,
    /// The calling thread found the process set-up not done yet: it runs it or waits for it.
    SetupWait,
    /// The first heap's thread is about to register the exit report (`atexit`).
    ProcessInit,
    /// A sampled block's counts are half written in the profile table (profile lock held): the
    /// tear a fork at this instant leaves to the child (`prof::State`'s `ForkReset`).
    ProfCounting,
}

static HOOK: AtomicUsize = AtomicUsize::new(0);
/// How many hooks are running now (`running`).
static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// True while a test hook runs (on any thread; always false without `fault-injection`). A hook
/// may run with the allocator's locks held, so what the allocator does on the hook's behalf must
/// not take more: a free made by a hook does not create the freeing thread's heap
/// (`config::FREER_HEAP`, which takes the heap pool lock).
#[inline(always)]
pub fn running() -> bool {
    // ORDERING: Relaxed — see `call`.
    cfg!(feature = "fault-injection") && RUNNING.load(Ordering::Relaxed) != 0
}

/// Installs `f` (or removes the hook with `None`).
#[cfg(feature = "fault-injection")]
pub fn set(f: Option<fn(Point)>) {
    // ORDERING: Release — a thread that sees the pointer sees the function it names (code, but
    // also whatever the test initialised before installing it); pairs with the Acquire in `at`.
    HOOK.store(f.map_or(0, |f| f as usize), Ordering::Release);
}

/// Runs `f` from inside a hook as if no hook were running (`running` false meanwhile): a signal a
/// hook raises then reaches the allocator as a program's signal would, e.g. a free in its handler
/// may create the thread's heap.
#[cfg(feature = "fault-injection")]
pub fn outside(f: impl FnOnce()) {
    // ORDERING: Relaxed — see `running`.
    RUNNING.fetch_sub(1, Ordering::Relaxed);
    f();
    RUNNING.fetch_add(1, Ordering::Relaxed);
}

/// Calls the installed hook, if any (only with `fault-injection`).
#[inline(always)]
pub fn at(p: Point) {
    if cfg!(feature = "fault-injection") {
        call(p);
    }
}

#[cold]
fn call(p: Point) {
    // ORDERING: Acquire — pairs with the Release in `set`.
    let f = HOOK.load(Ordering::Acquire);
    if f != 0 {
        // SAFETY: `set` stored a `fn(Point)` there.
        let f: fn(Point) = unsafe { core::mem::transmute::<usize, fn(Point)>(f) };
        // ORDERING: Relaxed — read back by the hook's own thread (`running`); other threads only
        // see a test-only switch.
        RUNNING.fetch_add(1, Ordering::Relaxed);
        f(p);
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}
