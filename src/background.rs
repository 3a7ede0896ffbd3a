//! Background purger (`HAKMEM_BACKGROUND=1`, off by default): one detached thread that sweeps the
//! pool and the large cache on the purge clock, so a process that has gone idle (no slow path
//! runs) still gives its emptied memory back after the purge delay.
//!
//! The thread never allocates and has no heap; each sweep takes the pool lock, the span cache lock
//! and the large cache lock, one after the other (never nested), exactly as a slow path would. It sleeps half
//! the purge delay (10 ms to 1 s) between sweeps, with every signal blocked so that no signal
//! handler of the program ever runs on it. With delay -1 it exits.
//!
//! Start: at a thread-heap creation (the process's first allocation among them) and at
//! `collect()`, never inside a heap operation (pthread_create allocates, which re-enters the
//! allocator at a safe point). Fork: the child has no such thread; an atfork child handler marks
//! it not running, so the child starts its own at its next thread-heap creation or `collect()`.
//! A sweep in progress holds the pool or cache lock, which the fork prepare handler takes like
//! any other, so `fork` waits for the sweep to finish and the child inherits released locks.
//!
//! Last thread: glibc ends a process when its last thread exits (`pthread_exit` from main, or a
//! return from a start routine: the last one calls `exit(0)`); the purger counts among those
//! threads, so after each sleep it reads `/proc/self/stat` and, when the thread-group leader has
//! exited (state `Z`, which only a leader whose group still has threads shows) and it is the only
//! other thread, returns, and glibc's `exit(0)` runs on it (`config::BG_LAST_THREAD`). A fork
//! child of a worker thread never exited before (session 20, bgfork20).

use crate::env::OneShot;
use crate::purge::{self, Sweep};
use crate::sync::plain::{AtomicU8, Ordering};

const IDLE: u8 = 0;
const RUNNING: u8 = 1;
/// `pthread_create` failed: not retried.
const FAILED: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(IDLE);
static ATFORK: AtomicU8 = AtomicU8::new(0);
static SPAWN_FAILED: OneShot = OneShot::new();

/// Whether the purger thread runs in this process now (tests).
#[cfg(feature = "fault-injection")]
pub fn running() -> bool {
    // ORDERING: Relaxed — a status flag; nothing is published with it.
    STATE.load(Ordering::Relaxed) == RUNNING
}

/// Starts the purger if `HAKMEM_BACKGROUND=1` and it is not running in this process. Call only
/// where re-entering the allocator is safe (no heap operation in progress, no hakmem lock held).
pub fn start_if_wanted() {
    // ORDERING: Relaxed — the CAS below elects the one starter; the thread reads only statics.
    if !purge::background_wanted() || STATE.load(Ordering::Relaxed) != IDLE {
        return;
    }
    if STATE
        .compare_exchange(IDLE, RUNNING, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    // ORDERING: Relaxed — as above, once per process image.
    if ATFORK.swap(1, Ordering::Relaxed) == 0 {
        // SAFETY: a plain C callback that neither allocates nor unwinds.
        unsafe { libc::pthread_atfork(None, None, Some(child_after_fork)) };
    }
    if !spawn() {
        // ORDERING: Relaxed — see `running`.
        STATE.store(FAILED, Ordering::Relaxed);
        SPAWN_FAILED.log("background", "pthread_create failed; no purger", 0);
    }
}

extern "C" fn child_after_fork() {
    // ORDERING: Relaxed — the child has one thread.
    if STATE.load(Ordering::Relaxed) == RUNNING {
        STATE.store(IDLE, Ordering::Relaxed);
    }
}

/// Creates the detached purger thread with every signal blocked (the mask is inherited).
fn spawn() -> bool {
    // SAFETY: plain pthread calls on local, initialised structures; the thread function is a
    // C callback that never unwinds.
    unsafe {
        let mut all: libc::sigset_t = core::mem::zeroed();
        let mut old: libc::sigset_t = core::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        let mut ok = libc::pthread_attr_init(&mut attr) == 0;
        if ok {
            libc::pthread_attr_setdetachstate(&mut attr, libc::PTHREAD_CREATE_DETACHED);
            // 1 MiB of address space (pages fault in only when touched): with BG_LAST_THREAD the
            // process's `exit(0)` — the program's atexit handlers and stdio flush — may run on
            // this thread, and they expect an ordinary stack, not the purger's own few KiB.
            libc::pthread_attr_setstacksize(&mut attr, 1024 * 1024);
            let mut tid: libc::pthread_t = core::mem::zeroed();
            ok = libc::pthread_create(&mut tid, &attr, run, core::ptr::null_mut()) == 0;
            libc::pthread_attr_destroy(&mut attr);
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, core::ptr::null_mut());
        ok
    }
}

extern "C" fn run(_: *mut libc::c_void) -> *mut libc::c_void {
    while let Some(delay) = purge::delay() {
        let ms = (delay / 2).clamp(10, 1000);
        let ts = libc::timespec {
            tv_sec: (ms / 1000) as libc::time_t,
            tv_nsec: ((ms % 1000) * 1_000_000) as libc::c_long,
        };
        // SAFETY: a valid timespec; an early wake-up (signal) only sweeps sooner.
        unsafe { libc::nanosleep(&ts, core::ptr::null_mut()) };
        if crate::config::BG_LAST_THREAD && last_thread() {
            break;
        }
        if let Some(sweep) = Sweep::due() {
            sweep_all(sweep);
        }
    }
    // ORDERING: Relaxed — see `running`.
    STATE.store(IDLE, Ordering::Relaxed);
    core::ptr::null_mut()
}

/// Whether the purger is the process's last live thread: `/proc/self/stat` shows the leader
/// exited (`Z`) and 2 threads (the zombie leader and the purger). Once true it stays true (no
/// other thread is left to create one). An unreadable file answers false (the old behaviour).
fn last_thread() -> bool {
    let mut buf = [0u8; 512];
    let n = crate::os::read_file(c"/proc/self/stat", &mut buf);
    let text = &buf[..n];
    // The command name (field 2) is in parentheses and may hold any byte: fields after its
    // last `)` are state (3) .. num_threads (20).
    let Some(close) = text.iter().rposition(|&b| b == b')') else {
        return false;
    };
    let mut fields = text[close + 1..]
        .split(|&b| b == b' ')
        .filter(|f| !f.is_empty());
    if fields.next() != Some(b"Z".as_slice()) {
        return false;
    }
    fields.nth(16) == Some(b"2".as_slice())
}

/// One sweep of every box that holds emptied memory.
pub fn sweep_all(sweep: Sweep) {
    crate::pool::purge(sweep);
    crate::span::SPANS.purge(sweep);
    crate::large::purge(sweep);
}
