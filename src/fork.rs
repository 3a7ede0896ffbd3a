//! Fork safety, by holding nothing across `fork` and letting the child take over what was held.
//!
//! hakmem registers only child handlers (`pthread_atfork(NULL, NULL, child)`, and the thread
//! box's, which clears the forking thread's "creating a heap" word): no hakmem lock is
//! taken before `fork` and none is held during it. Holding allocator locks across `fork` (what
//! glibc's malloc does for its arenas, and hakmem did before) deadlocks as soon as a thread that
//! holds a libc lock — a `FILE` lock inside `getline`, the dynamic loader's lock — waits on one of
//! them while the forking thread, inside `fork`, waits on that libc lock (issue 12.2); a fork from
//! a signal handler that interrupted the prepare handler spun on a lock its own thread held.
//!
//! In the child, the handler bumps the fork epoch (`lock::fork::child`). Each lock records the
//! epoch in which it was taken, so a lock found held in the child with an older epoch was held at
//! the fork instant by a thread that does not exist there; the first child thread that needs it
//! takes it over and resets what it protects (each lock's `ForkReset`, written at the lock: the
//! heap pool, the fallback heap, the publish lists and the slab pool are abandoned, the metadata
//! bump starts a fresh chunk — all leaks in the child only). A lock found free was free at the
//! fork instant, so what it protects is consistent. The exit key is lock-free.
//!
//! A program's own child handler registered before hakmem's (in a constructor, before the first
//! allocation) runs first in the child, before the epoch is bumped; if it allocates and meets a
//! lock a thread of the parent held, the waiting thread finds a page that every forked child sees
//! zeroed (`MADV_WIPEONFORK`) zeroed and bumps the epoch itself (`lock::fork::catch_up`,
//! `config::FORK_CATCH_UP`); a `vfork` child shares the page and never does.
//!
//! The parent's other threads' heaps are taken over lazily, at the child's first refill
//! (`front::thread::take_over_dead_heaps`, `config::FORK_TAKEOVER`); the handler only records the
//! forking thread's heap. Known limits, in the child only: a heap whose thread was inside a slow
//! path at the fork instant (`Heap::busy`) is left alone, and a taken heap's TLS lists and remote
//! batches are leaked (docs/design.md, "A forked child and the parent's other threads' heaps");
//! and a child forked from a signal handler that interrupted hakmem must not return into the
//! interrupted call (see `lock`).

extern "C" fn child() {
    crate::lock::fork::child();
    // Memory locks are not inherited: the child purges again (`config::LOCKED_MEMORY`).
    crate::os::forked_child();
}

/// Registers the handler (once, from the first heap creation).
pub fn register() {
    crate::lock::fork::arm();
    // SAFETY: a plain C callback that neither allocates nor unwinds.
    unsafe {
        libc::pthread_atfork(None, None, Some(child));
    }
}
