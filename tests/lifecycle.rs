//! Thread and process life cycle: what a thread without a heap of its own may do (issue 12,
//! point 1), and the order of the process's one-time set-up (point 5).
//!
//! Each scenario runs in a child process (see `support`): it installs a test hook
//! (`testing::set_hook`, feature `fault-injection`) that forces the interleaving the bug needs,
//! so the outcome does not depend on timing.

#![cfg(unix)]

mod support;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hakmem::testing::{self, HookPoint};
use hakmem::HakMem;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const SLAB: usize = 64 * 1024;
/// A size no other code of the test process allocates, so the slab is the scenario's alone.
const SIZE: usize = 3000;

fn layout() -> Layout {
    Layout::from_size_align(SIZE, 16).unwrap()
}

fn raw_thread(f: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void) {
    let mut t: libc::pthread_t = 0;
    // SAFETY: plain thread creation with a C entry point that ignores its argument.
    let rc = unsafe { libc::pthread_create(&mut t, core::ptr::null(), f, core::ptr::null_mut()) };
    assert_eq!(rc, 0, "pthread_create");
    // SAFETY: `t` is a joinable thread we created.
    assert_eq!(unsafe { libc::pthread_join(t, core::ptr::null_mut()) }, 0);
}

// ---- point 1: collect() from a heapless thread --------------------------------------------------

/// The block freed from inside the reclaim pass, and the data address of its slab.
static VICTIM: AtomicUsize = AtomicUsize::new(0);
static VICTIM_SLAB: AtomicUsize = AtomicUsize::new(0);
static FREED_IN_WINDOW: AtomicBool = AtomicBool::new(false);
static WAS_HEAPLESS: AtomicBool = AtomicBool::new(false);

/// While the reclaim pass holds the victim's slab, the collecting (heapless) thread frees the
/// victim: the free must take the remote path, not the sentinel's TLS list.
fn free_victim_in_window(p: HookPoint) {
    if p == HookPoint::ReclaimAcquired(VICTIM_SLAB.load(Ordering::Relaxed))
        && !FREED_IN_WINDOW.swap(true, Ordering::Relaxed)
    {
        // SAFETY: the victim is a live block of `layout()`, freed once.
        unsafe { GLOBAL.dealloc(VICTIM.load(Ordering::Relaxed) as *mut u8, layout()) };
    }
}

fn collect_heapless() {
    WAS_HEAPLESS.store(testing::heapless(), Ordering::Relaxed);
    hakmem::collect();
}

extern "C" fn collect_on_empty(_: *mut libc::c_void) -> *mut libc::c_void {
    // Allocates nothing through the global allocator: the thread stays on `EMPTY`.
    collect_heapless();
    core::ptr::null_mut()
}

extern "C" fn collect_in_destructor(_: *mut libc::c_void) {
    // A key created after hakmem's exit key: its destructor runs after hakmem's, on `DEAD`.
    collect_heapless();
}

extern "C" fn collect_on_dead(_: *mut libc::c_void) -> *mut libc::c_void {
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: key creation with a C destructor; the value is any non-null pointer.
    unsafe {
        assert_eq!(
            libc::pthread_key_create(&mut key, Some(collect_in_destructor)),
            0
        );
        // The thread gets a heap (and hakmem's exit hook) before the key's value is set.
        let p = GLOBAL.alloc(Layout::from_size_align(16, 16).unwrap());
        GLOBAL.dealloc(p, Layout::from_size_align(16, 16).unwrap());
        libc::pthread_setspecific(key, core::ptr::NonNull::<u8>::dangling().as_ptr().cast());
    }
    core::ptr::null_mut()
}

/// Two blocks of one slab, published when their thread exits; one freed remotely (so the reclaim
/// pass takes the slab), the other freed by the collecting thread inside the pass.
fn collect_scenario(on: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void) {
    let (x, y) = std::thread::spawn(|| {
        // SAFETY: non-zero size.
        let (x, y) = unsafe { (GLOBAL.alloc(layout()), GLOBAL.alloc(layout())) };
        (x as usize, y as usize)
    })
    .join()
    .unwrap();
    let (bx, by) = (
        testing::block_info(x as *const u8).expect("x is a small block"),
        testing::block_info(y as *const u8).expect("y is a small block"),
    );
    assert_eq!((bx.superslab, bx.slab), (by.superslab, by.slab), "one slab");
    VICTIM.store(y, Ordering::Relaxed);
    VICTIM_SLAB.store(by.superslab + by.slab * SLAB, Ordering::Relaxed);
    // SAFETY: a live block of `layout()`; its slab is published, so this is a remote free.
    unsafe { GLOBAL.dealloc(x as *mut u8, layout()) };
    testing::set_hook(Some(free_victim_in_window));
    raw_thread(on);
    testing::set_hook(None);
    assert!(WAS_HEAPLESS.load(Ordering::Relaxed), "collect ran heapless");
    assert!(
        FREED_IN_WINDOW.load(Ordering::Relaxed),
        "the reclaim pass never held the victim's slab"
    );
    assert!(
        testing::sentinels_untouched(),
        "a free during the reclaim pass landed on a sentinel heap"
    );
    assert!(
        testing::block_info(y as *const u8).is_none(),
        "both blocks were freed and the pass drained them: the slab must be back in the pool"
    );
}

// ---- point 5: the process's one-time set-up -------------------------------------------------
//
// These scenarios must own the process's first allocation, so they run from a constructor of the
// test binary (before the Rust runtime starts: nothing has allocated yet), on the main thread,
// with no std: a hook, raw pthreads, and the allocator.

static MAIN: AtomicUsize = AtomicUsize::new(0);
static B_WAITING: AtomicBool = AtomicBool::new(false);
static B_FREED_ONCE: AtomicBool = AtomicBool::new(false);
static B_FREED_TWICE: AtomicBool = AtomicBool::new(false);
/// The block the second thread frees once (its first free, on its own heap's fast path).
static Q: AtomicUsize = AtomicUsize::new(0);

fn me() -> usize {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() as usize }
}

fn spin_until(f: impl Fn() -> bool) {
    while !f() {
        // SAFETY: no preconditions.
        unsafe { libc::sched_yield() };
    }
}

fn key_race_layout() -> Layout {
    Layout::from_size_align(48, 16).unwrap()
}

/// A second thread's first heap, while the first thread draws the freed-block key: it allocates a
/// block and frees it once, on its own heap (the owned fast path, which marks the block with the
/// key its heap copied when it took the slab). It stays alive, so that the slab stays its own,
/// until the first thread has freed the block a second time.
extern "C" fn second_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: non-zero size; freed once here, a second time by the first thread (the bug under
    // test).
    unsafe {
        let q = GLOBAL.alloc(key_race_layout());
        GLOBAL.dealloc(q, key_race_layout());
        Q.store(q as usize, Ordering::Relaxed);
    }
    B_FREED_ONCE.store(true, Ordering::Release);
    spin_until(|| B_FREED_TWICE.load(Ordering::Acquire));
    core::ptr::null_mut()
}

/// On the first thread, with the key not drawn yet: start the second thread and let it get as far
/// as it can (waiting for the set-up, or past its first free if nothing makes it wait).
fn key_race_hook(p: HookPoint) {
    if p == HookPoint::SetupWait && me() != MAIN.load(Ordering::Relaxed) {
        B_WAITING.store(true, Ordering::Release);
    }
    if p == HookPoint::FreeKeyElected && me() == MAIN.load(Ordering::Relaxed) {
        let mut t: libc::pthread_t = 0;
        // SAFETY: plain thread creation (detached below: the scenario ends with the process).
        unsafe {
            assert_eq!(
                libc::pthread_create(
                    &mut t,
                    core::ptr::null(),
                    second_thread,
                    core::ptr::null_mut()
                ),
                0
            );
            libc::pthread_detach(t);
        }
        spin_until(|| B_WAITING.load(Ordering::Acquire) || B_FREED_ONCE.load(Ordering::Acquire));
    }
}

/// The second free comes from the first thread: a remote free, which checks the mark against the
/// process's key as it is now. Had the second thread marked the block before the key was drawn
/// (with the initial key, which its heap keeps), the mark would not match: the double free would
/// go unnoticed.
fn free_key_race() {
    MAIN.store(me(), Ordering::Relaxed);
    testing::set_hook(Some(key_race_hook));
    let l = Layout::from_size_align(64, 16).unwrap();
    // SAFETY: non-zero size: the process's first allocation.
    unsafe { GLOBAL.dealloc(GLOBAL.alloc(l), l) };
    testing::set_hook(None);
    spin_until(|| B_FREED_ONCE.load(Ordering::Acquire));
    // SAFETY: the block was freed once already: this must abort (the bug under test).
    unsafe { GLOBAL.dealloc(Q.load(Ordering::Relaxed) as *mut u8, key_race_layout()) };
    // Not caught: say so (the child then prints `CONTINUED`).
    B_FREED_TWICE.store(true, Ordering::Release);
}

static NESTED: AtomicUsize = AtomicUsize::new(0);
static SAME_HEAP: AtomicUsize = AtomicUsize::new(0);

/// `atexit` allocating: the nested allocation must come from the heap being set up.
fn atexit_hook(p: HookPoint) {
    if p == HookPoint::ProcessInit {
        // SAFETY: non-zero size; kept live.
        let r = unsafe { GLOBAL.alloc(Layout::from_size_align(32, 16).unwrap()) };
        NESTED.store(r as usize, Ordering::Relaxed);
    }
}

fn atexit_nested() {
    testing::set_hook(Some(atexit_hook));
    // SAFETY: non-zero size: the process's first allocation; kept live.
    let p = unsafe { GLOBAL.alloc(Layout::from_size_align(32, 16).unwrap()) };
    testing::set_hook(None);
    let r = NESTED.load(Ordering::Relaxed);
    let owned = |a: usize| testing::block_info(a as *const u8).is_some_and(|b| b.owned_by_caller);
    // 1: the nested block is this thread's; 2: it is not (a second heap); 0: no nested allocation.
    SAME_HEAP.store(
        if r == 0 {
            0
        } else if owned(r) && owned(p as usize) {
            1
        } else {
            2
        },
        Ordering::Relaxed,
    );
}

extern "C" fn before_main() {
    // SAFETY: getenv with a NUL-terminated name, before any other thread exists.
    let v = unsafe { libc::getenv(c"HAKMEM_TEST_SCENARIO".as_ptr()) };
    if v.is_null() {
        return;
    }
    // SAFETY: getenv returns a NUL-terminated string.
    match unsafe { std::ffi::CStr::from_ptr(v) }.to_bytes() {
        b"free_key_race" => free_key_race(),
        b"atexit_nested" => atexit_nested(),
        _ => {}
    }
}

#[used]
#[link_section = ".init_array"]
static BEFORE_MAIN: extern "C" fn() = before_main;

// ---- a signal handler that frees and allocates while its thread creates its heap -------------

/// Heap-pool lock (`testing::lock_ranks`).
const HEAP_POOL: u8 = 2;

fn small_layout() -> Layout {
    Layout::from_size_align(80, 16).unwrap()
}

/// A block of the main thread's, freed by the handler.
static FOREIGN: AtomicUsize = AtomicUsize::new(0);
static CREATOR: AtomicUsize = AtomicUsize::new(0);
static RAISED: AtomicBool = AtomicBool::new(false);
static HANDLED: AtomicBool = AtomicBool::new(false);
/// What the handler's allocation returned (1: null, 2: a block).
static HANDLER_GOT: AtomicUsize = AtomicUsize::new(0);

extern "C" fn free_and_alloc_in_handler(_: libc::c_int) {
    // SAFETY: a live block of `small_layout()`, freed once; a fresh allocation, freed at once.
    unsafe {
        GLOBAL.dealloc(FOREIGN.load(Ordering::Relaxed) as *mut u8, small_layout());
        let p = GLOBAL.alloc(small_layout());
        if p.is_null() {
            HANDLER_GOT.store(1, Ordering::Relaxed);
        } else {
            p.write_bytes(0x5a, small_layout().size());
            GLOBAL.dealloc(p, small_layout());
            HANDLER_GOT.store(2, Ordering::Relaxed);
        }
    }
    HANDLED.store(true, Ordering::Release);
}

/// On the creating thread, with the heap-pool lock just taken inside its first heap's creation: a
/// signal arrives (raised as a program's would be, not as a hook's).
fn signal_in_creation_hook(p: HookPoint) {
    if p == HookPoint::LockAcquired(HEAP_POOL)
        && me() == CREATOR.load(Ordering::Relaxed)
        && !RAISED.swap(true, Ordering::Relaxed)
    {
        testing::outside_hook(|| {
            // SAFETY: delivers SIGUSR1 to this thread, whose handler frees and allocates.
            unsafe { libc::raise(libc::SIGUSR1) };
        });
    }
}

extern "C" fn creates_its_heap(_: *mut libc::c_void) -> *mut libc::c_void {
    CREATOR.store(me(), Ordering::Relaxed);
    assert!(testing::heapless(), "the thread starts without a heap");
    // SAFETY: non-zero size: the thread's first allocation.
    unsafe {
        let p = GLOBAL.alloc(small_layout());
        assert!(!p.is_null(), "the interrupted creation goes on");
        GLOBAL.dealloc(p, small_layout());
    }
    assert!(!testing::heapless(), "the thread has its heap");
    core::ptr::null_mut()
}

fn signal_in_heap_creation() {
    // SAFETY: non-zero size; freed by the handler.
    FOREIGN.store(
        unsafe { GLOBAL.alloc(small_layout()) } as usize,
        Ordering::Relaxed,
    );
    // SAFETY: installs a plain C handler for SIGUSR1.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = free_and_alloc_in_handler as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        assert_eq!(
            libc::sigaction(libc::SIGUSR1, &sa, core::ptr::null_mut()),
            0
        );
    }
    testing::set_hook(Some(signal_in_creation_hook));
    raw_thread(creates_its_heap);
    testing::set_hook(None);
    assert!(RAISED.load(Ordering::Relaxed), "the signal was raised");
    assert!(HANDLED.load(Ordering::Acquire), "the handler returned");
    assert_eq!(
        HANDLER_GOT.load(Ordering::Relaxed),
        1,
        "an allocation in a handler that interrupted its thread's heap creation fails (null)"
    );
    assert!(
        testing::sentinels_untouched(),
        "the handler's free landed on a sentinel heap"
    );
}

// ---- child entry point and parent side --------------------------------------------------------

#[test]
#[ignore = "runs only as a child process of the tests below"]
fn child() {
    let Some(s) = support::child::scenario() else {
        return;
    };
    match s.as_str() {
        "collect_empty" => collect_scenario(collect_on_empty),
        "collect_dead" => collect_scenario(collect_on_dead),
        "signal_in_heap_creation" => signal_in_heap_creation(),
        "small_stack" => small_stack(),
        // Ran from the constructor; getting here means the double free went unnoticed.
        "free_key_race" => println!("{}", support::child::CONTINUED),
        "atexit_nested" => {
            // The set-up registers an exit handler for the stats report and for the profiler's
            // exit dump or leak report.
            let prof_exit = hakmem::config::PROFILE
                && std::env::var_os("HAKMEM_PROF_LEAKS").is_some_and(|v| v == "1");
            assert_eq!(
                SAME_HEAP.load(Ordering::Relaxed),
                if hakmem::switches().stats || prof_exit {
                    1
                } else {
                    0
                },
                "1: the allocation nested in the set-up came from the thread's heap; 2: from a \
                 second heap (one heap leaked); 0: none (no exit handler registered)"
            )
        }
        "leaks_after_fd2_closed" => {
            // A sampled block left live, then stderr closed: the leak report at exit still
            // reaches the original stderr (a private copy taken at the set-up).
            std::mem::forget(vec![7u8; 4000]);
            // SAFETY: closing a descriptor; nothing in this process writes to fd 2 afterwards
            // but the allocator's exit handler, which must not use it.
            unsafe { libc::close(2) };
        }
        other => panic!("unknown scenario {other}"),
    }
}

/// Issue 12.1: `collect()` (`malloc_trim`) from a thread that never allocated reclaimed published
/// slabs under the shared `EMPTY` sentinel's identity, so a heapless thread's free into such a
/// slab pushed onto the sentinel's TLS list.
#[test]
fn collect_from_a_thread_that_never_allocated() {
    support::child::run("collect_empty", &[]).assert_passed();
}

/// The same from a thread past its teardown (`DEAD`), e.g. in a later TLS destructor.
#[test]
fn collect_from_a_thread_past_its_teardown() {
    support::child::run("collect_dead", &[]).assert_passed();
}

/// A signal handler that frees (a block of another thread) and allocates while its own thread is
/// inside its first heap's creation, holding the heap-pool lock: the free must not wait for that
/// lock (it goes on heapless) and the allocation fails instead of waiting. Before, both took the
/// lock again: a self-deadlock (in debug builds the lock-order checker's abort).
#[test]
fn signal_handler_inside_heap_creation_does_not_wait_on_itself() {
    support::child::run("signal_in_heap_creation", &[]).assert_passed();
}

/// Issue 12.5: a second thread's first heap must not mark freed blocks before the first thread
/// has drawn the freed-block key — a block freed then and freed again after the key changed (here
/// by another thread) was not recognised as free (double-free detection silently weakened). Now
/// the second thread waits for the set-up, and the double free is caught.
#[test]
fn second_thread_waits_for_the_free_key() {
    if !hakmem::config::FREE_MARK || testing::HEADER_MODE {
        eprintln!("skipped: the freed-block mark is compiled out (or header mode, keyless)");
        return;
    }
    support::child::run("free_key_race", &[]).assert_aborted(
        &["double-free"],
        &["freed twice"],
        false,
    );
}

/// Issue 12.5: `atexit` (registered at the first heap's creation, with `HAKMEM_STATS=1`) may
/// allocate; that allocation must find the heap in place instead of creating a second heap that
/// the first then replaces (one heap leaked).
#[test]
fn allocation_inside_process_set_up_uses_the_new_heap() {
    support::child::run("atexit_nested", &[("HAKMEM_STATS", "1")]).assert_passed();
}

/// The same for the profiler's exit handler (`HAKMEM_PROF_LEAKS`, `HAKMEM_PROF_DUMP`): it was
/// registered before the first heap existed, so an allocation inside `atexit` made a second heap.
#[test]
fn profiler_exit_handler_is_registered_after_the_first_heap() {
    support::child::run("atexit_nested", &[("HAKMEM_PROF_LEAKS", "1")]).assert_passed();
}

/// The leak report goes to a copy of stderr taken at the set-up, not to fd 2, which the program
/// may have closed or pointed elsewhere by the time the exit handlers run.
#[test]
fn leak_report_survives_a_closed_stderr() {
    if !hakmem::config::PROFILE {
        eprintln!("skipped: built without the `profile` feature");
        return;
    }
    let c = support::child::run(
        "leaks_after_fd2_closed",
        &[
            ("HAKMEM_PROF", "1"),
            ("HAKMEM_PROF_SAMPLE", "1"),
            ("HAKMEM_PROF_LEAKS", "1"),
        ],
    );
    c.assert_passed();
    assert!(
        c.stderr.contains("hakmem: leaks:") && c.stderr.contains("hakmem: leak: "),
        "no leak report on the child's stderr:\n{}",
        c.report()
    );
}

// ---- a thread with the smallest stack POSIX allows (docs/design.md, "Stack depth") -------------

/// The small-stack thread's stack: `PTHREAD_STACK_MIN` in optimised builds, which the bound is
/// for. Unoptimised builds' frames are several times larger (there the thread dies of SIGSEGV at
/// 24 KiB and lives at 32 KiB, as the old code's did): they get four times as much, a smoke test
/// only — the check is `cargo test --release` (.ci/run, "stack depth").
const SMALL_STACK: usize = if cfg!(debug_assertions) {
    4 * libc::PTHREAD_STACK_MIN
} else {
    libc::PTHREAD_STACK_MIN
};

/// Set by `small_stack_thread` when every block it asked for came and read back right.
static SMALL_STACK_OK: AtomicBool = AtomicBool::new(false);

/// Runs on a `SMALL_STACK` stack (`PTHREAD_STACK_MIN` = 16 KiB, glibc's thread descriptor and
/// this binary's static TLS included): its first allocation makes its heap and takes its first
/// slab, then blocks of every tier are allocated, grown through the tiers by `realloc`, allocated
/// zeroed and freed; its exit flushes the heap. Little stack of its own: no formatting, no panics.
extern "C" fn small_stack_thread(_: *mut libc::c_void) -> *mut libc::c_void {
    let mut ok = true;
    for size in [24usize, 3000, 40 << 10, 300 << 10, 8 << 20] {
        let Ok(l) = Layout::from_size_align(size, 16) else {
            return core::ptr::null_mut();
        };
        // SAFETY: non-zero sizes; every block is used within its size and freed once with the
        // layout it has.
        unsafe {
            let p = GLOBAL.alloc(l);
            let z = GLOBAL.alloc_zeroed(l);
            if p.is_null() || z.is_null() {
                return core::ptr::null_mut();
            }
            ok &= *z == 0 && *z.add(size - 1) == 0;
            GLOBAL.dealloc(z, l);
            p.write(7);
            let q = GLOBAL.realloc(p, l, 3 * size);
            if q.is_null() {
                return core::ptr::null_mut();
            }
            ok &= *q == 7;
            GLOBAL.dealloc(q, Layout::from_size_align_unchecked(3 * size, 16));
        }
    }
    // ORDERING: Relaxed — read after `pthread_join`, which orders it.
    SMALL_STACK_OK.store(ok, Ordering::Relaxed);
    core::ptr::null_mut()
}

fn small_stack() {
    // SAFETY: a zeroed attribute object is initialised by `pthread_attr_init` before use.
    let mut attr: libc::pthread_attr_t = unsafe { core::mem::zeroed() };
    let mut t: libc::pthread_t = 0;
    // SAFETY: plain thread creation with a C entry point that ignores its argument; the attribute
    // object is initialised, used and destroyed here.
    unsafe {
        assert_eq!(libc::pthread_attr_init(&mut attr), 0);
        assert_eq!(libc::pthread_attr_setstacksize(&mut attr, SMALL_STACK), 0);
        let rc = libc::pthread_create(&mut t, &attr, small_stack_thread, core::ptr::null_mut());
        assert_eq!(rc, 0, "pthread_create");
        assert_eq!(libc::pthread_join(t, core::ptr::null_mut()), 0);
        libc::pthread_attr_destroy(&mut attr);
    }
    // ORDERING: Relaxed — see `small_stack_thread`.
    assert!(
        SMALL_STACK_OK.load(Ordering::Relaxed),
        "a block on the small-stack thread was missing or read back wrong"
    );
}

/// A thread created with a `PTHREAD_STACK_MIN` stack allocates in every tier and exits, with the
/// profiler off and sampling often. Before session 12 its first allocation overflowed the stack
/// (`pool::acquire_slab` had a 12.5 KiB frame): SIGSEGV.
#[test]
fn a_pthread_stack_min_thread_allocates_and_exits() {
    support::child::run("small_stack", &[]).assert_passed();
    if hakmem::config::PROFILE {
        support::child::run(
            "small_stack",
            &[("HAKMEM_PROF", "1"), ("HAKMEM_PROF_SAMPLE", "512")],
        )
        .assert_passed();
    }
}

// ---- a thread that only frees gets its own heap (`config::FREER_HEAP`) ---------------------------

const FREE_ONLY_BLOCKS: usize = 64;
static FREE_ONLY: [AtomicUsize; FREE_ONLY_BLOCKS] =
    [const { AtomicUsize::new(0) }; FREE_ONLY_BLOCKS];
static FREE_ONLY_BEFORE: AtomicBool = AtomicBool::new(false);
static FREE_ONLY_AFTER: AtomicBool = AtomicBool::new(false);

fn free_only_layout() -> Layout {
    Layout::from_size_align(48, 16).unwrap()
}

extern "C" fn free_only(_: *mut libc::c_void) -> *mut libc::c_void {
    // Allocates nothing through the global allocator: the thread starts on `EMPTY`.
    FREE_ONLY_BEFORE.store(testing::heapless(), Ordering::Relaxed);
    for slot in &FREE_ONLY {
        // SAFETY: a live block of `free_only_layout()` from the main thread, freed once.
        unsafe { GLOBAL.dealloc(slot.load(Ordering::Relaxed) as *mut u8, free_only_layout()) };
    }
    FREE_ONLY_AFTER.store(testing::heapless(), Ordering::Relaxed);
    core::ptr::null_mut()
}

/// A consumer thread (it frees what another thread allocated and never allocates) gets its heap
/// at its first free, so its frees use its hint cache and its own counters instead of the shared
/// sentinel's registry path; with `--cfg hakmem_no_freer_heap` it stays heapless. Either way the
/// sentinels are never written, and the blocks come back to their owner.
#[test]
fn a_thread_that_only_frees_gets_its_own_heap() {
    for slot in &FREE_ONLY {
        // SAFETY: non-zero size.
        slot.store(
            unsafe { GLOBAL.alloc(free_only_layout()) } as usize,
            Ordering::Relaxed,
        );
    }
    raw_thread(free_only);
    assert!(
        FREE_ONLY_BEFORE.load(Ordering::Relaxed),
        "the thread started heapless"
    );
    assert_eq!(
        FREE_ONLY_AFTER.load(Ordering::Relaxed),
        !hakmem::config::FREER_HEAP,
        "heapless after its frees"
    );
    assert!(
        testing::sentinels_untouched(),
        "a sentinel heap was written"
    );
    let _ = testing::debug_check();
}
