//! Fork safety: `pthread_atfork` handlers that take every global lock of hakmem in one fixed
//! order before `fork` and release them after it, in the parent and in the child, so the child
//! never inherits a lock held by a thread that does not exist there.
//!
//! Lock order (also the nesting order used elsewhere): profiler switch → exit key → heap pool →
//! fallback heap → publish lists (by class) → slab pool → span cache → metadata bump → profile
//! tables. The profiler switch, exit-key and profile-table locks nest no other lock.
//!
//! Known limit: slabs owned by the parent's other threads stay owned by heaps that do not run in
//! the child; the child's frees of those blocks go to remote queues nobody drains (a leak bounded
//! by what those threads held, in the child only).

use crate::sync::ForkLock;

fn locks(mut f: impl FnMut(&'static dyn ForkLock)) {
    f(crate::front::profiling::fork_lock());
    crate::front::thread::fork_locks(&mut f);
    for list in crate::adopt::PUBLISHED.iter() {
        f(list.fork_lock());
    }
    f(crate::pool::fork_lock());
    f(crate::span::SPANS.fork_lock());
    f(crate::meta::fork_lock());
    f(crate::prof::fork_lock());
}

extern "C" fn prepare() {
    locks(|l| l.fork_prepare());
}

extern "C" fn parent() {
    // SAFETY: `prepare` took every lock on this thread.
    locks(|l| unsafe { l.fork_release() });
}

extern "C" fn child() {
    // SAFETY: the child's only thread is the copy of the one that ran `prepare`.
    locks(|l| unsafe { l.fork_release() });
}

/// Registers the handlers (once, from the first heap creation).
pub fn register() {
    // SAFETY: plain C callbacks that neither allocate nor unwind.
    unsafe {
        libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
    }
}
