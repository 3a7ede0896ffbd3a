//! `fork` with hakmem (issue 12, points 2 and 3, and the lock-order checker).
//!
//! hakmem holds no lock across `fork`; a forked child takes over every lock that a thread which
//! did not survive the fork left held, and resets what it protects (src/lock.rs, src/fork.rs).
//! Each scenario runs in a child process of the test (see `support`; one that hangs is killed and
//! fails), installs a test hook (`testing::set_hook`) that pauses a thread or raises a signal at a
//! named point, and so forces the interleaving the bug needs: no timing is relied on. Every
//! forked grandchild arms `alarm`, so a hang there kills it too.
//!
//! Only the raw allocator, libc and raw pthreads are used between `fork` and `_exit` in a
//! grandchild: the Rust runtime's own locks (stdout, thread registry) may be held by a thread of
//! the parent that does not exist there.

#![cfg(all(target_os = "linux", target_arch = "x86_64"))]

mod support;

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};

use hakmem::testing::{self, HookPoint};
use hakmem::HakMem;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

/// Ranks, as numbered by `testing::lock_ranks` (docs/ordering.md).
const FALLBACK: u8 = 1;
const HEAP_POOL: u8 = 2;
const PUBLISHED: u8 = 3;
const POOL: u8 = 4;
const SPAN: u8 = 5;
const META: u8 = 6;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 16).unwrap()
}

fn alloc(size: usize) -> *mut u8 {
    // SAFETY: non-zero size.
    let p = unsafe { GLOBAL.alloc(layout(size)) };
    assert!(!p.is_null());
    p
}

fn free(p: *mut u8, size: usize) {
    // SAFETY: `p` came from `alloc(size)`.
    unsafe { GLOBAL.dealloc(p, layout(size)) };
}

type Entry = extern "C" fn(*mut libc::c_void) -> *mut libc::c_void;

fn spawn(f: Entry) -> libc::pthread_t {
    let mut t: libc::pthread_t = 0;
    // SAFETY: plain thread creation with a C entry point.
    let rc = unsafe { libc::pthread_create(&mut t, core::ptr::null(), f, null_mut()) };
    assert_eq!(rc, 0, "pthread_create");
    t
}

fn join(t: libc::pthread_t) {
    // SAFETY: a joinable thread we created.
    assert_eq!(unsafe { libc::pthread_join(t, null_mut()) }, 0);
}

fn self_id() -> libc::pthread_t {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() }
}

/// Spins (yielding) until `f` holds. Bounded by the harness's limit on the whole scenario.
fn wait_until(f: impl Fn() -> bool) {
    while !f() {
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }
}

/// Writes `msg` to stderr without the Rust runtime (usable in a forked child).
fn say(msg: &str) {
    // SAFETY: writes a valid buffer to fd 2.
    unsafe { libc::write(2, msg.as_ptr().cast(), msg.len()) };
}

// ---- what a forked child does --------------------------------------------------------------------

extern "C" fn child_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    for i in 1..500usize {
        let p = alloc(i * 7);
        // SAFETY: a fresh block of `i * 7` bytes.
        unsafe { p.write_bytes(i as u8, i * 7) };
        free(p, i * 7);
    }
    null_mut()
}

extern "C" fn alloc_in_destructor(_: *mut libc::c_void) {
    // Runs after hakmem's exit hook: the thread is past its teardown, so this is the fallback heap.
    free(alloc(200), 200);
}

extern "C" fn thread_with_late_destructor(_: *mut libc::c_void) -> *mut libc::c_void {
    free(alloc(16), 16);
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: a key created after hakmem's, so its destructor runs after hakmem's exit hook.
    unsafe {
        assert_eq!(
            libc::pthread_key_create(&mut key, Some(alloc_in_destructor)),
            0
        );
        libc::pthread_setspecific(key, std::ptr::NonNull::<u8>::dangling().as_ptr().cast());
    }
    null_mut()
}

/// Fills `blocks` with blocks of about 3000 bytes (new slabs from the pool), each written, then
/// checks and frees them; false if a block lost its contents.
fn churn_3000(blocks: &mut [*mut u8]) -> bool {
    let mut ok = true;
    for (i, p) in blocks.iter_mut().enumerate() {
        *p = alloc(3000 + i % 7);
        // SAFETY: a fresh block of at least 3000 bytes.
        unsafe { p.write_bytes(i as u8, 3000) };
    }
    for (i, p) in blocks.iter().enumerate() {
        // SAFETY: as above.
        ok &= unsafe { **p } == i as u8;
        free(*p, 3000 + i % 7);
    }
    ok
}

/// A forked child's work: allocate and free much (new slabs: the slab pool), free the parent's
/// blocks, collect (every publish list, the pool), run threads (the heap pool, metadata) and a
/// thread-exit destructor that allocates (the fallback heap), then take metadata directly. Exits
/// 0 when all went well and at least `takeovers` locks were taken over.
fn child_work(parent_blocks: &[(usize, usize)], takeovers: usize) -> ! {
    // SAFETY: async-signal-safe; the default action kills a hung child.
    unsafe { libc::alarm(20) };
    let mut ok = churn_3000(&mut [null_mut(); 1400]);
    for &(p, size) in parent_blocks {
        free(p as *mut u8, size);
    }
    hakmem::collect();
    let t = [spawn(child_thread), spawn(child_thread)];
    t.into_iter().for_each(join);
    join(spawn(thread_with_late_destructor));
    ok &= testing::meta_alloc(64);
    let got = testing::fork_takeovers();
    if got < takeovers {
        say("fork test child: expected a lock taken over from a dead holder, none was\n");
        ok = false;
    }
    if !ok {
        say("fork test child: FAILED\n");
    }
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// The child of a raw `fork` system call, in which no `pthread_atfork` child handler has run — as
/// in a child while a program's own handler, registered before hakmem's, allocates (glibc runs
/// child handlers in registration order; preload/tests/c/atfork_early.c): new slabs need the lock
/// a thread of the parent held at the fork instant, which must be taken over, not waited on
/// forever (`config::FORK_CATCH_UP`). Only the allocator and async-signal-safe calls: glibc's
/// own child-side state was not reset either.
fn raw_child_work() -> ! {
    // SAFETY: async-signal-safe; the default action kills a hung child.
    unsafe { libc::alarm(20) };
    let mut ok = churn_3000(&mut [null_mut(); 4000]);
    if testing::fork_takeovers() < 1 {
        say("raw fork child: expected a lock taken over from a dead holder, none was\n");
        ok = false;
    }
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// Fork by the raw system call (`raw_child_work`) instead of `fork()`.
static RAW_FORK: AtomicBool = AtomicBool::new(false);

/// Forks; the child runs `child_work` (`raw_child_work` after a raw fork). Returns the child's pid.
fn fork_worker(parent_blocks: &[(usize, usize)], takeovers: usize) -> libc::pid_t {
    if RAW_FORK.load(Ordering::Relaxed) {
        // SAFETY: the child only uses the allocator and async-signal-safe calls, then `_exit`s.
        let pid = unsafe { libc::syscall(libc::SYS_fork) } as libc::pid_t;
        assert!(pid >= 0, "fork system call");
        if pid == 0 {
            raw_child_work();
        }
        return pid;
    }
    // SAFETY: the child only uses the allocator, libc and raw threads, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        child_work(parent_blocks, takeovers);
    }
    pid
}

fn wait_ok(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: our own child.
    assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "forked child failed: status {status:#x}"
    );
}

fn parent_blocks() -> Vec<(usize, usize)> {
    (0..64)
        .map(|i| (alloc(40 + i * 9) as usize, 40 + i * 9))
        .collect()
}

// ---- scenario: fork while a thread holding a stdio lock allocates (issue 12.2) -------------------

/// glibc x86_64: `FILE::_lock` is at offset 136; `_IO_lock_t` is `{ int lock; int cnt; void
/// *owner; }`, and `lock` is 2 while a thread waits for it. Checked against `flockfile` first.
const FILE_LOCK_AT: usize = 136;

struct StdioLock(*mut libc::FILE);

impl StdioLock {
    fn word(&self) -> *const i32 {
        // SAFETY: reads the `_lock` pointer of a live FILE (layout checked in `check_owner`).
        unsafe { *(self.0 as *const u8).add(FILE_LOCK_AT).cast::<*const i32>() }
    }
    fn state(&self) -> i32 {
        // SAFETY: the lock word of a live FILE; read atomically like the futex it is.
        unsafe { (*(self.word() as *const AtomicI32)).load(Ordering::Acquire) }
    }
    fn check_owner(&self, owner: libc::pthread_t) {
        let w = self.word();
        // SAFETY: as above; `cnt` follows `lock`, `owner` follows at offset 8.
        let (cnt, own) = unsafe { (*w.add(1), *(w as *const u8).add(8).cast::<usize>()) };
        assert!(
            self.state() == 1 && cnt == 1 && own == owner as usize,
            "glibc FILE lock layout is not the one this test knows (state {}, cnt {cnt}, owner \
             {own:#x})",
            self.state()
        );
    }
}

extern "C" {
    fn flockfile(f: *mut libc::FILE);
    fn funlockfile(f: *mut libc::FILE);
}

static STREAM: AtomicUsize = AtomicUsize::new(0);
static G_ID: AtomicUsize = AtomicUsize::new(0);
static G_LOCKED: AtomicBool = AtomicBool::new(false);
static MAIN_ID: AtomicUsize = AtomicUsize::new(0);
/// `/proc/self/task/<main's tid>/syscall`, NUL-terminated (built before the scenario starts).
static MAIN_SYSCALL_PATH: std::sync::OnceLock<std::ffi::CString> = std::sync::OnceLock::new();

fn stream() -> *mut libc::FILE {
    STREAM.load(Ordering::Acquire) as *mut libc::FILE
}

/// True while the main thread sleeps in `futex` (syscall 202 on x86_64). Inside `fork`, the first
/// place it can sleep is the stdio list lock (hakmem's locks spin and yield; they never sleep).
/// Reads /proc with libc only: the calling thread must not allocate before it means to.
fn main_sleeps_in_futex() -> bool {
    let path = MAIN_SYSCALL_PATH.get().expect("path set");
    let mut buf = [0u8; 64];
    // SAFETY: a NUL-terminated path; reads into a stack buffer.
    let n = unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
        assert!(fd >= 0, "open /proc/self/task/<tid>/syscall");
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    n > 4 && buf.starts_with(b"202 ")
}

/// `getline`'s shape: the FILE lock held, then an allocation (a new thread's first: it needs the
/// heap pool's lock). It allocates once the forking thread waits for the stdio list lock inside
/// `fork`: after every prepare handler ran — hakmem's old one had taken every hakmem lock.
extern "C" fn holds_file_then_allocates(_: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: a live FILE.
    unsafe { flockfile(stream()) };
    G_ID.store(self_id() as usize, Ordering::Release);
    G_LOCKED.store(true, Ordering::Release);
    wait_until(main_sleeps_in_futex);
    free(alloc(100), 100);
    // SAFETY: we locked it.
    unsafe { funlockfile(stream()) };
    null_mut()
}

/// `fflush(NULL)`: takes the stdio list lock, then waits for the FILE lock.
extern "C" fn flushes_all(_: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: flushing every stream is always allowed.
    unsafe { libc::fflush(null_mut()) };
    null_mut()
}

fn stdio_cycle() {
    let blocks = parent_blocks();
    // SAFETY: no preconditions.
    let tid = unsafe { libc::gettid() };
    MAIN_SYSCALL_PATH
        .set(std::ffi::CString::new(format!("/proc/self/task/{tid}/syscall")).unwrap())
        .unwrap();
    // SAFETY: opening /dev/null for writing.
    let f = unsafe { libc::fopen(c"/dev/null".as_ptr(), c"w".as_ptr()) };
    assert!(!f.is_null());
    STREAM.store(f as usize, Ordering::Release);
    let g = spawn(holds_file_then_allocates);
    wait_until(|| G_LOCKED.load(Ordering::Acquire));
    let lock = StdioLock(f);
    lock.check_owner(G_ID.load(Ordering::Acquire) as libc::pthread_t);
    let h = spawn(flushes_all);
    // The flusher now holds the stdio list lock and waits for the FILE lock.
    wait_until(|| lock.state() == 2);
    let pid = fork_worker(&blocks, 0);
    wait_ok(pid);
    join(g);
    join(h);
}

// ---- scenario: fork from a signal handler inside fork / inside hakmem (issue 12.2) ---------------

static RAISE_ON_LOCK: AtomicBool = AtomicBool::new(false);
static RAISED: AtomicU8 = AtomicU8::new(0);
static HANDLER_CHILD_OK: AtomicU8 = AtomicU8::new(0);
static HANDLER_TAKEOVERS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn fork_in_handler(_: libc::c_int) {
    let pid = fork_worker(&[], HANDLER_TAKEOVERS.load(Ordering::Relaxed));
    let mut status = 0;
    // SAFETY: our own child; waitpid is async-signal-safe.
    let ok = unsafe { libc::waitpid(pid, &mut status, 0) } == pid
        && libc::WIFEXITED(status)
        && libc::WEXITSTATUS(status) == 0;
    HANDLER_CHILD_OK.fetch_add(u8::from(ok), Ordering::Relaxed);
}

fn raise_once() {
    RAISED.fetch_add(1, Ordering::Relaxed);
    // SAFETY: delivers SIGUSR1 to this thread, whose handler forks.
    unsafe { libc::raise(libc::SIGUSR1) };
}

/// A signal inside a hakmem critical section of the main thread (hakmem's old prepare handler
/// took its locks there).
fn raise_inside_lock(p: HookPoint) {
    if matches!(p, HookPoint::LockAcquired(_))
        && self_id() as usize == MAIN_ID.load(Ordering::Relaxed)
        && RAISE_ON_LOCK.swap(false, Ordering::Relaxed)
    {
        raise_once();
    }
}

/// The program's own parent handler: still inside `fork`.
extern "C" fn raise_inside_fork() {
    if RAISE_ON_LOCK.swap(false, Ordering::Relaxed) {
        raise_once();
    }
}

fn fork_in_signal_handler() {
    MAIN_ID.store(self_id() as usize, Ordering::Relaxed);
    // SAFETY: installs a plain C handler for SIGUSR1, and a parent atfork handler.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = fork_in_handler as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(libc::sigaction(libc::SIGUSR1, &sa, null_mut()), 0);
        assert_eq!(libc::pthread_atfork(None, Some(raise_inside_fork), None), 0);
    }
    testing::set_hook(Some(raise_inside_lock));

    // 1. The signal arrives inside `fork` (inside hakmem's handlers, if they take a lock).
    RAISE_ON_LOCK.store(true, Ordering::Relaxed);
    let pid = fork_worker(&[], 0);
    wait_ok(pid);
    assert_eq!(
        RAISED.load(Ordering::Relaxed),
        1,
        "the signal was raised once"
    );
    assert_eq!(
        HANDLER_CHILD_OK.load(Ordering::Relaxed),
        1,
        "the handler's child"
    );

    // 2. The signal arrives while the main thread holds a hakmem lock outside `fork` (in
    //    `collect`); the handler's child needs that lock and must take it over.
    HANDLER_TAKEOVERS.store(1, Ordering::Relaxed);
    RAISE_ON_LOCK.store(true, Ordering::Relaxed);
    hakmem::collect();
    assert_eq!(
        RAISED.load(Ordering::Relaxed),
        2,
        "the signal was raised inside collect"
    );
    assert_eq!(
        HANDLER_CHILD_OK.load(Ordering::Relaxed),
        2,
        "the handler's child"
    );
    testing::set_hook(None);
}

// ---- scenario: fallback heap vs fork (issue 12.3) ------------------------------------------------

static IN_FALLBACK: AtomicBool = AtomicBool::new(false);
static MAIN_HOLDS_HEAP_POOL: AtomicBool = AtomicBool::new(false);
static FORKED: AtomicBool = AtomicBool::new(false);

/// The exiting thread (in a destructor after hakmem's exit hook) holds the fallback lock: it tells
/// the main thread to fork and waits until the main thread holds the heap-pool lock (as hakmem's
/// old prepare handler did) or has forked; then goes on to create the fallback heap, which takes
/// the heap-pool lock.
fn fallback_vs_fork(p: HookPoint) {
    let main = self_id() as usize == MAIN_ID.load(Ordering::Relaxed);
    if p == HookPoint::LockAcquired(FALLBACK) && !main && !IN_FALLBACK.swap(true, Ordering::AcqRel)
    {
        wait_until(|| {
            MAIN_HOLDS_HEAP_POOL.load(Ordering::Acquire) || FORKED.load(Ordering::Acquire)
        });
    }
    if p == HookPoint::LockAcquired(HEAP_POOL) && main && IN_FALLBACK.load(Ordering::Acquire) {
        MAIN_HOLDS_HEAP_POOL.store(true, Ordering::Release);
    }
}

fn fallback_inversion() {
    let blocks = parent_blocks();
    MAIN_ID.store(self_id() as usize, Ordering::Relaxed);
    testing::set_hook(Some(fallback_vs_fork));
    let t = spawn(thread_with_late_destructor);
    wait_until(|| IN_FALLBACK.load(Ordering::Acquire));
    let pid = fork_worker(&blocks, 1);
    FORKED.store(true, Ordering::Release);
    wait_ok(pid);
    join(t);
    testing::set_hook(None);
}

// ---- scenario: a child takes over each lock left held --------------------------------------------

static TARGET: AtomicU8 = AtomicU8::new(0);
static PAUSED: AtomicBool = AtomicBool::new(false);
static RESUME: AtomicBool = AtomicBool::new(false);

/// The first thread other than the main one that takes a lock of the target rank stays inside
/// that critical section until the main thread has forked.
fn pause_in_target(p: HookPoint) {
    let target = TARGET.load(Ordering::Relaxed);
    if p == HookPoint::LockAcquired(target)
        && self_id() as usize != MAIN_ID.load(Ordering::Relaxed)
        && !PAUSED.swap(true, Ordering::AcqRel)
    {
        wait_until(|| RESUME.load(Ordering::Acquire));
    }
}

static STARTED: AtomicUsize = AtomicUsize::new(0);
static RELEASED_BATCH: AtomicUsize = AtomicUsize::new(0);
/// Batch of the next thread to start (written by the main thread before spawning it).
static NEXT_BATCH: AtomicUsize = AtomicUsize::new(0);

/// Takes each lock on real paths: a first heap (heap pool, metadata when none is pooled, a new
/// slab from the pool), a medium block (span cache), `collect` (every publish list, the pool), a
/// block left live at exit (publish list), and a destructor after hakmem's exit hook (fallback
/// heap). Threads of a batch hold their heaps at once, so that growing batches need heaps from the
/// metadata bump.
extern "C" fn takes_every_lock(_: *mut libc::c_void) -> *mut libc::c_void {
    let batch = NEXT_BATCH.load(Ordering::Acquire);
    let _live = alloc(5000);
    // A medium block: a span from the span cache (or a new one), and back to it when freed.
    free(alloc(100_000), 100_000);
    STARTED.fetch_add(1, Ordering::AcqRel);
    wait_until(|| {
        RELEASED_BATCH.load(Ordering::Acquire) >= batch || RESUME.load(Ordering::Acquire)
    });
    hakmem::collect();
    thread_with_late_destructor(null_mut())
}

fn takeover(rank: u8) {
    MAIN_ID.store(self_id() as usize, Ordering::Relaxed);
    TARGET.store(rank, Ordering::Relaxed);
    testing::set_hook(Some(pause_in_target));
    // Nothing below allocates on this thread (a paused thread may hold any lock): the vector is
    // allocated first, threads are never joined before the fork (one may be paused in its exit).
    let mut threads = Vec::with_capacity(64);
    let mut batch = 1;
    while !PAUSED.load(Ordering::Acquire) {
        assert!(
            threads.len() + 4 * batch <= 64,
            "no thread took the lock of rank {rank}"
        );
        NEXT_BATCH.store(batch, Ordering::Release);
        for _ in 0..4 * batch {
            threads.push(spawn(takes_every_lock));
        }
        let n = threads.len();
        wait_until(|| PAUSED.load(Ordering::Acquire) || STARTED.load(Ordering::Acquire) == n);
        RELEASED_BATCH.store(batch, Ordering::Release);
        batch += 1;
    }
    let pid = fork_worker(&[], 1);
    RESUME.store(true, Ordering::Release);
    wait_ok(pid);
    threads.into_iter().for_each(join);
    testing::set_hook(None);
}

// ---- scenario: the heaps of threads that did not survive the fork --------------------------------

const QUIET_BLOCKS: usize = 300;
const QUIET_SIZE: usize = 48;
static QUIET: [AtomicUsize; QUIET_BLOCKS] = [const { AtomicUsize::new(0) }; QUIET_BLOCKS];
static QUIET_READY: AtomicBool = AtomicBool::new(false);

/// Allocates and fills `QUIET_BLOCKS` blocks, then waits outside the allocator across the fork.
extern "C" fn quiet_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    for (i, q) in QUIET.iter().enumerate() {
        let p = alloc(QUIET_SIZE);
        // SAFETY: a fresh block of `QUIET_SIZE` bytes.
        unsafe { p.write_bytes(i as u8, QUIET_SIZE) };
        q.store(p as usize, Ordering::Relaxed);
    }
    QUIET_READY.store(true, Ordering::Release);
    wait_until(|| RESUME.load(Ordering::Acquire));
    null_mut()
}

/// A fresh thread whose first refill takes the pool lock, where `pause_in_target` holds it until
/// the main thread has forked: its heap is inside a slow path (`Heap::busy`) at the fork instant.
extern "C" fn busy_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    free(alloc(2000), 2000);
    null_mut()
}

/// The grandchild: its first refill takes over the quiet thread's heap (and any other quiescent
/// one of the parent's threads) and leaves the busy thread's alone; the quiet thread's blocks are
/// intact and free normally, and allocation goes on. Backout: nothing is taken over.
fn heaps_child() -> ! {
    // SAFETY: async-signal-safe; the default action kills a hung child.
    unsafe { libc::alarm(20) };
    let mut ok = churn_3000(&mut [null_mut(); 1400]);
    let (taken, left) = testing::fork_heaps();
    if hakmem::config::FORK_TAKEOVER {
        if taken < 1 {
            say("fork heaps child: the quiet thread's heap was not taken over\n");
            ok = false;
        }
        if left != 1 {
            say("fork heaps child: the busy thread's heap was not (only) the one left alone\n");
            ok = false;
        }
    } else if taken != 0 || left != 0 {
        say("fork heaps child: the backout took heaps over\n");
        ok = false;
    }
    for (i, q) in QUIET.iter().enumerate() {
        let p = q.load(Ordering::Relaxed) as *mut u8;
        // SAFETY: a live block of `QUIET_SIZE` bytes the quiet thread filled.
        let intact = unsafe { core::slice::from_raw_parts(p, QUIET_SIZE) }
            .iter()
            .all(|&b| b == i as u8);
        if !intact {
            say("fork heaps child: a quiet thread's block was overwritten\n");
            ok = false;
            break;
        }
        free(p, QUIET_SIZE);
    }
    ok &= churn_3000(&mut [null_mut(); 1400]);
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

fn dead_heaps() {
    MAIN_ID.store(self_id() as usize, Ordering::Relaxed);
    let quiet = spawn(quiet_thread);
    wait_until(|| QUIET_READY.load(Ordering::Acquire));
    TARGET.store(POOL, Ordering::Relaxed);
    testing::set_hook(Some(pause_in_target));
    let busy = spawn(busy_thread);
    wait_until(|| PAUSED.load(Ordering::Acquire));
    // SAFETY: the child only uses the allocator and async-signal-safe calls, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        heaps_child();
    }
    RESUME.store(true, Ordering::Release);
    wait_ok(pid);
    join(busy);
    join(quiet);
    testing::set_hook(None);
}

// ---- scenario: the pages a takeover writes in the child ------------------------------------------

const PAGES_MEDIUM: usize = 32;
const PAGES_MEDIUM_SIZE: usize = 96 << 10;
/// The medium blocks `pages_thread` freed (every other one it allocated).
static PAGES_FREED: [AtomicUsize; PAGES_MEDIUM / 2] =
    [const { AtomicUsize::new(0) }; PAGES_MEDIUM / 2];
static PAGES_READY: AtomicBool = AtomicBool::new(false);

/// Fills slabs of several small classes (entries in its heap's owned-slab table) and medium spans
/// whose every other block it frees (free blocks, resident, in spans that stay in use), then
/// waits outside the allocator across the fork. Its blocks stay live (the scenario's process
/// ends after the check).
extern "C" fn pages_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    for size in [16, 48, 96, 160, 256, 512, 1024, 2048, 4096] {
        for _ in 0..(256 << 10) / size {
            let p = alloc(size);
            // SAFETY: a fresh block of `size` bytes.
            unsafe { p.write_bytes(1, size) };
        }
    }
    if hakmem::config::MEDIUM {
        let mut live = [null_mut(); PAGES_MEDIUM];
        for p in &mut live {
            *p = alloc(PAGES_MEDIUM_SIZE);
            // SAFETY: a fresh block of `PAGES_MEDIUM_SIZE` bytes.
            unsafe { p.write_bytes(2, PAGES_MEDIUM_SIZE) };
        }
        for (i, q) in PAGES_FREED.iter().enumerate() {
            free(live[2 * i], PAGES_MEDIUM_SIZE);
            q.store(live[2 * i] as usize, Ordering::Relaxed);
        }
    }
    PAGES_READY.store(true, Ordering::Release);
    wait_until(|| RESUME.load(Ordering::Acquire));
    null_mut()
}

/// The `/proc/self/pagemap` entry of the page holding `addr` (bit 63: present; bit 56: mapped
/// only here, i.e. no longer shared with the parent: written since the fork). 0 if unreadable.
fn pagemap(addr: usize) -> u64 {
    // SAFETY: a NUL-terminated path; the descriptor is closed below.
    let fd = unsafe { libc::open(c"/proc/self/pagemap".as_ptr(), libc::O_RDONLY) };
    if fd < 0 {
        return 0;
    }
    let mut v = 0u64;
    // SAFETY: reads at most 8 bytes into `v`.
    let n = unsafe { libc::pread(fd, (&raw mut v).cast(), 8, (addr / 4096 * 8) as libc::off_t) };
    // SAFETY: our own descriptor.
    unsafe { libc::close(fd) };
    if n == 8 {
        v
    } else {
        0
    }
}

const PRESENT: u64 = 1 << 63;
const EXCLUSIVE: u64 = 1 << 56;

/// The grandchild: takes over the pages thread's heap (its first refill) and checks which of that
/// heap's pages the takeover wrote or dropped. With `config::TAKEOVER_SKIPS_TABLE` (and an
/// owned-slab table in the build) none of its owned-slab table's pages is written (each would be a copy-on-write fault); with
/// `config::TAKEOVER_KEEPS_PAGES` every free medium block's page resident before is resident
/// after (not purged: the parent's pages, shared). Before fork26 both failed: the table's pages
/// were copied (entries removed, then cleared) and the free blocks purged.
fn pages_child() -> ! {
    // SAFETY: async-signal-safe; the default action kills a hung child.
    unsafe { libc::alarm(20) };
    let mut ok = true;
    let mut resident = [false; PAGES_MEDIUM / 2];
    for (r, q) in resident.iter_mut().zip(&PAGES_FREED) {
        let p = q.load(Ordering::Relaxed);
        *r = p != 0 && pagemap(p + PAGES_MEDIUM_SIZE / 2) & PRESENT != 0;
    }
    ok &= churn_3000(&mut [null_mut(); 400]);
    if testing::fork_heaps().0 < 1 {
        say("fork pages child: the pages thread's heap was not taken over\n");
        ok = false;
    }
    if hakmem::config::TAKEOVER_KEEPS_PAGES && hakmem::config::MEDIUM {
        if !resident.iter().any(|&r| r) {
            say("fork pages child: no free medium block was resident before the takeover\n");
            ok = false;
        }
        for (r, q) in resident.iter().zip(&PAGES_FREED) {
            let p = q.load(Ordering::Relaxed);
            if *r && pagemap(p + PAGES_MEDIUM_SIZE / 2) & PRESENT == 0 {
                say("fork pages child: the takeover purged a taken heap's free medium block\n");
                ok = false;
                break;
            }
        }
    }
    if hakmem::config::TAKEOVER_SKIPS_TABLE && hakmem::config::OWNED_TABLE {
        let (mut present, mut written) = (0, 0);
        testing::for_each_taken_table(|a, n| {
            // The pages wholly inside the entries (the table's edges share pages with other
            // fields of the heap, and its tail holds the foreign-entry bits).
            let mut page = a.div_ceil(4096) * 4096;
            while page + 4096 <= a + n - 1024 {
                let e = pagemap(page);
                present += usize::from(e & PRESENT != 0);
                written += usize::from(e & PRESENT != 0 && e & EXCLUSIVE != 0);
                page += 4096;
            }
        });
        if present == 0 {
            say("fork pages child: no page of a taken heap's owned-slab table was resident\n");
            ok = false;
        }
        if written != 0 {
            say("fork pages child: the takeover wrote a taken heap's owned-slab table pages\n");
            ok = false;
        }
    }
    // SAFETY: ends the child without running the parent's exit handlers.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

fn takeover_pages() {
    let t = spawn(pages_thread);
    wait_until(|| PAGES_READY.load(Ordering::Acquire));
    // SAFETY: the child only uses the allocator and async-signal-safe calls, then `_exit`s.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        pages_child();
    }
    // The thread resumes only once the child is done: its exit writes its table here, after
    // which the child's copy of each page is mapped only there and reads as written.
    wait_ok(pid);
    RESUME.store(true, Ordering::Release);
    join(t);
}

// ---- scenario: the lock-order checker ------------------------------------------------------------

fn nest(outer: u8, inner: u8) {
    testing::nest_locks(outer, inner);
    println!("{}", support::child::CONTINUED);
}

// ---- child entry point and parent side -----------------------------------------------------------

#[test]
#[ignore = "runs only as a child process of the tests below"]
fn child() {
    let Some(s) = support::child::scenario() else {
        return;
    };
    match s.as_str() {
        "stdio_cycle" => stdio_cycle(),
        "fork_in_signal_handler" => fork_in_signal_handler(),
        "fallback_inversion" => fallback_inversion(),
        "takeover_fallback" => takeover(FALLBACK),
        "takeover_heap_pool" => takeover(HEAP_POOL),
        "takeover_published" => takeover(PUBLISHED),
        "takeover_pool" => takeover(POOL),
        "takeover_span" => takeover(SPAN),
        "takeover_meta" => takeover(META),
        "takeover_pool_raw_fork" => {
            RAW_FORK.store(true, Ordering::Relaxed);
            takeover(POOL)
        }
        "nest_in_order" => {
            for (outer, _) in testing::lock_ranks() {
                for (inner, _) in testing::lock_ranks() {
                    if inner > outer {
                        testing::nest_locks(outer, inner);
                    }
                }
            }
        }
        "dead_heaps" => dead_heaps(),
        "takeover_pages" => takeover_pages(),
        "nest_out_of_order" => nest(POOL, HEAP_POOL),
        "nest_same_rank" => nest(PUBLISHED, PUBLISHED),
        other => panic!("unknown scenario {other}"),
    }
}

/// Issue 12.2: one thread forks while another holds a FILE lock and allocates and a third, in
/// `fflush(NULL)`, holds the stdio list lock waiting for that FILE lock. With allocator locks
/// held across `fork` this is a cycle (hung in 8 of 13 runs before the fix).
#[test]
fn fork_while_a_stdio_lock_holder_allocates() {
    support::child::run("stdio_cycle", &[]).assert_passed();
}

/// Issue 12.2: `fork` from a signal handler that interrupted `fork` (hakmem spun forever on a lock
/// its own prepare handler held), and from one that interrupted a hakmem critical section.
#[test]
fn fork_from_a_signal_handler() {
    support::child::run("fork_in_signal_handler", &[]).assert_passed();
}

/// Issue 12.3: a thread-exit destructor allocating on the fallback heap (fallback lock, then the
/// heap pool's) while another thread forks (the old prepare handler: heap pool, then fallback).
#[test]
fn fork_while_the_fallback_heap_is_created() {
    support::child::run("fallback_inversion", &[]).assert_passed();
}

/// For each lock: a thread is inside its critical section at the fork instant; the child, whose
/// work needs every lock, takes it over and goes on (and the parent too, once the thread resumes).
#[test]
fn child_takes_over_each_lock_left_held() {
    for rank in ["fallback", "heap_pool", "published", "pool", "span", "meta"] {
        if rank == "span" && !hakmem::config::MEDIUM {
            continue; // no span cache in this build
        }
        support::child::run(&format!("takeover_{rank}"), &[]).assert_passed();
    }
}

/// The fork takeover (`config::FORK_TAKEOVER`): a forked child takes over the heap of a parent
/// thread that was outside the allocator at the fork instant (its blocks stay intact and free
/// normally there) and leaves alone the heap of one paused inside a refill (holding the pool
/// lock: `Heap::busy`). Backout: neither is taken over.
#[test]
fn child_takes_over_quiet_dead_heaps_and_leaves_busy_ones() {
    support::child::run("dead_heaps", &[]).assert_passed();
}

/// What the fork takeover writes in the child (fork26): none of the taken heap's owned-slab table
/// pages (`config::TAKEOVER_SKIPS_TABLE`) and no purge of its free medium blocks
/// (`config::TAKEOVER_KEEPS_PAGES`): each is a page the parent shares copy on write.
#[test]
fn takeover_leaves_the_parents_table_and_free_pages_shared() {
    if !hakmem::config::TAKEOVER_SKIPS_TABLE && !hakmem::config::TAKEOVER_KEEPS_PAGES {
        eprintln!("skipped: built without the takeover or with both fork26 backouts");
        return;
    }
    support::child::run("takeover_pages", &[]).assert_passed();
}

/// A child in which no fork handler has run yet (a raw fork system call) takes over the pool lock
/// a thread of the parent held at the fork instant, instead of spinning on it forever
/// (`config::FORK_CATCH_UP`; the child was killed by its 20 s alarm before).
#[test]
fn a_child_before_its_fork_handler_takes_over_a_lock() {
    if !hakmem::config::FORK_CATCH_UP {
        eprintln!("skipped: built with --cfg hakmem_no_fork_catch_up");
        return;
    }
    support::child::run("takeover_pool_raw_fork", &[]).assert_passed();
}

/// Locks nest only in increasing rank; the checker (debug and `checked` builds) aborts otherwise.
#[test]
fn lock_order_is_checked() {
    support::child::run("nest_in_order", &[]).assert_passed();
    for (scenario, what) in [
        (
            "nest_out_of_order",
            "taking the heap pool lock while holding the slab pool lock",
        ),
        (
            "nest_same_rank",
            "taking the publish list lock while holding the publish list lock",
        ),
    ] {
        let c = support::child::run(scenario, &[]);
        if hakmem::config::CHECKED {
            assert_eq!(c.signal(), Some(support::child::SIGABRT), "{}", c.report());
            assert!(
                c.stderr.contains(&format!("hakmem: lock-order: {what}")),
                "{}",
                c.report()
            );
        } else {
            assert!(
                c.stdout.contains(support::child::CONTINUED),
                "{}",
                c.report()
            );
        }
    }
}
