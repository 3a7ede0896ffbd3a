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
