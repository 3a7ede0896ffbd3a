//! Foreign entries (front/foreign.rs; on by default, backout `--cfg hakmem_no_foreign_entries`):
//! a thread that frees a block of another thread's slab keeps it and enters the slab, pinned, in
//! its owned-slab table.
//!
//! Claims checked: the kept block is handed out again to the freer, and its next free takes the
//! fast path through the table entry (no remote free counted); a slab emptied while pinned stays
//! bound through its owner's `collect`, and is released by the next `collect` once the pinner's
//! slow path dropped the pin; a pinner's exit returns its kept blocks to their slab and drops its
//! pins, so the owner's `collect` releases the slab. (The double free of a kept block is
//! tests/fail_fast.rs `double_free_kept_after_reuse`.) Without the cfg each test says so and
//! checks nothing.
//!
//! Every wait is bounded (`recv_timeout`).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use hakmem::testing;
use hakmem::HakMem;

static A: HakMem = HakMem;

/// One test at a time: one reads the process's remote-free count.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const WAIT: Duration = Duration::from_secs(60);

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn on() -> bool {
    let on = hakmem::config::FOREIGN_ENTRIES;
    if !on {
        eprintln!(
            "foreign entries compiled out (--cfg hakmem_no_foreign_entries, header mode with \
             --cfg hakmem_no_foreign_entries_header, remote batches): nothing to test"
        );
    }
    on
}

/// The small class a request of `l` is served from: in header mode the block also holds the
/// header (`testing::header_unit`).
fn class_of(l: Layout) -> usize {
    let unit = if cfg!(feature = "headerless") {
        0
    } else {
        testing::header_unit(l.align())
    };
    testing::class_for(l.size() + unit, l.align()).expect("a small class")
}

// Each test has a class of its own (`every_test_has_a_class_of_its_own`), so the owner's slab of
// it holds only the test's blocks. With one class shared, a test's owner could adopt the slab an
// earlier test's owner left published (blocks still out, or its remote frees not yet drained):
// a published slab's release is wanted (`config::FOREIGN_UNPIN_PUBLISHED`), so no free of its
// blocks is kept ("assertion `left == right`", the freer's next allocation not its kept block),
// and its leftover blocks kept it from emptying. Which test ran first decided it: libtest's
// threads take the `SERIAL` lock in any order (seen in about 1 debug run of the file in 40;
// never with `--test-threads 1`, which runs them in name order).

/// `Layout::from_size_align` in a constant (its `unwrap` is not `const`).
const fn layout(size: usize, align: usize) -> Layout {
    match Layout::from_size_align(size, align) {
        Ok(l) => l,
        Err(_) => panic!("a test layout is invalid"),
    }
}

const KEPT: Layout = layout(1504, 16);
const EMPTIED: Layout = layout(1792, 16);
const EXIT_RETURNS: Layout = layout(2560, 16);
const BACKOFF: Layout = layout(3584, 16);
const EXIT: Layout = layout(1168, 16);
const PINNER_EXIT: Layout = layout(880, 16);
const COLLECT_BACKOFF: Layout = layout(2048, 16);
const OTHER: Layout = layout(72, 8);
const FORGET: Layout = layout(3072, 16);

/// Makes the calling thread refill `OTHER`'s class at least once: more allocations
/// than its TLS list can hold (the largest cap, or a slab's whole free list and a raised cap),
/// then their frees. One allocation is not enough: the thread's list of that class may hold
/// blocks already (std allocates on this thread too, some of it only when a channel's receive
/// has to wait), and then it takes no slow path.
fn refill_another_class() {
    const N: usize = 4096;
    let mut held = [core::ptr::null_mut::<u8>(); N];
    for p in held.iter_mut() {
        // SAFETY: a valid layout; freed below.
        *p = unsafe { A.alloc(OTHER) };
        assert!(!p.is_null());
    }
    for p in held {
        // SAFETY: allocated above with this layout, freed once.
        unsafe { A.dealloc(p, OTHER) };
    }
}

/// What the owner thread is asked to do.
enum Ask {
    /// Allocate a block of the owner's layout and send its address.
    Alloc,
    /// Free the block at this address.
    Free(usize),
    /// `hakmem::collect()`, then report whether the block at this address is still in a bound
    /// slab.
    Collect(usize),
    Exit,
}

/// A thread that owns the test's slab and stays alive until told to exit.
struct Owner {
    ask: Sender<Ask>,
    reply: Receiver<usize>,
    thread: std::thread::JoinHandle<()>,
}

impl Owner {
    /// An owner whose blocks are of `layout` (each test a class of its own: see `kept_layout`).
    fn start_with(layout: Layout) -> Self {
        let (ask, asks) = channel::<Ask>();
        let (tell, reply) = channel::<usize>();
        let thread = std::thread::spawn(move || {
            while let Ok(a) = asks.recv_timeout(WAIT) {
                match a {
                    Ask::Alloc => {
                        // SAFETY: a valid layout.
                        let p = unsafe { A.alloc(layout) };
                        assert!(!p.is_null());
                        tell.send(p as usize).unwrap();
                    }
                    Ask::Free(p) => {
                        // SAFETY: a live block of `layout`, handed back to us.
                        unsafe { A.dealloc(p as *mut u8, layout) };
                        tell.send(0).unwrap();
                    }
                    Ask::Collect(p) => {
                        hakmem::collect();
                        let bound = testing::block_info(p as *const u8).is_some();
                        tell.send(bound as usize).unwrap();
                    }
                    Ask::Exit => return,
                }
            }
            panic!("owner thread: no request within {WAIT:?}");
        });
        Self { ask, reply, thread }
    }

    fn call(&self, a: Ask) -> usize {
        self.ask.send(a).unwrap();
        self.reply.recv_timeout(WAIT).expect("owner thread answers")
    }

    fn exit(self) {
        self.ask.send(Ask::Exit).unwrap();
        self.thread.join().expect("owner thread");
    }
}

/// Runs `f` on a fresh thread (a fresh heap) and returns its result.
fn on_fresh_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(f).join().expect("freer thread")
}

#[test]
fn a_kept_block_is_reused_and_freed_again_on_the_fast_path() {
    let _serial = serial();
    if !on() {
        return;
    }
    let owner = Owner::start_with(KEPT);
    let x = owner.call(Ask::Alloc);
    let back = on_fresh_thread(move || {
        let p = x as *mut u8;
        // The freer allocates the class first: only a thread that does keeps
        // (`config::FOREIGN_REUSERS`).
        // SAFETY: a valid layout; freed below.
        let own = unsafe { A.alloc(KEPT) };
        assert!(!testing::owned_table_holds(p), "a slab of another thread");
        // SAFETY: a live block of another thread: a remote free, kept.
        unsafe { A.dealloc(p, KEPT) };
        assert!(
            testing::owned_table_holds(p),
            "the kept block's slab is entered in the freer's table"
        );
        assert_eq!(testing::slab_pins(p), Some(1), "and pinned once");
        // SAFETY: a valid layout.
        let q = unsafe { A.alloc(KEPT) };
        assert_eq!(q, p, "the kept block is handed out again to its freer");
        let info = testing::block_info(q).unwrap();
        assert!(!info.owned_by_caller, "the slab is still the owner's");
        let remote_before = hakmem::stats().remote_frees;
        // SAFETY: a live block: its free takes the fast path through the foreign entry.
        unsafe { A.dealloc(q, KEPT) };
        assert_eq!(
            hakmem::stats().remote_frees,
            remote_before,
            "the free of the reused block took the table's fast path, not the remote path"
        );
        // Handed out again, then back to its owner, which frees it.
        // SAFETY: a valid layout; `own` is ours.
        let r = unsafe {
            let r = A.alloc(KEPT);
            A.dealloc(own, KEPT);
            r
        };
        assert_eq!(r, p);
        r as usize
    });
    owner.call(Ask::Free(back));
    owner.exit();
}

#[test]
fn a_slab_emptied_while_pinned_is_released_once_the_pin_drops() {
    let _serial = serial();
    if !on() {
        return;
    }
    let owner = Owner::start_with(EMPTIED);
    let x = owner.call(Ask::Alloc);
    let (to_freer, freer_asks) = channel::<()>();
    let (tell, from_freer) = channel::<usize>();
    let freer = std::thread::spawn(move || {
        let p = x as *mut u8;
        // This thread allocates the class (`config::FOREIGN_REUSERS`).
        // SAFETY: a valid layout; freed at the end.
        let own = unsafe { A.alloc(EMPTIED) };
        // SAFETY: a live block of another thread: kept, its slab pinned; then handed out again
        // and sent back to its owner, which frees it: the slab empties while pinned.
        let q = unsafe {
            A.dealloc(p, EMPTIED);
            A.alloc(EMPTIED)
        };
        assert_eq!(q, p);
        tell.send(q as usize).unwrap();
        freer_asks.recv_timeout(WAIT).unwrap();
        // A slow path of this thread (a refill of another class): the pin of a slab whose
        // release is wanted is dropped there.
        refill_another_class();
        tell.send(testing::slab_pins(p).unwrap_or(0) as usize)
            .unwrap();
        freer_asks.recv_timeout(WAIT).unwrap();
        // SAFETY: our own block.
        unsafe { A.dealloc(own, EMPTIED) };
    });
    let q = from_freer.recv_timeout(WAIT).unwrap();
    owner.call(Ask::Free(q));
    assert_eq!(testing::slab_pins(q as *const u8), Some(1));
    assert_eq!(
        owner.call(Ask::Collect(q)),
        1,
        "the owner's collect keeps the pinned empty slab bound"
    );
    to_freer.send(()).unwrap();
    assert_eq!(
        from_freer.recv_timeout(WAIT).unwrap(),
        0,
        "the pinner's slow path dropped the pin"
    );
    assert_eq!(
        owner.call(Ask::Collect(q)),
        0,
        "the next collect released the slab (no leak)"
    );
    to_freer.send(()).unwrap();
    freer.join().unwrap();
    owner.exit();
}

#[test]
fn thread_exit_returns_kept_blocks_and_drops_pins() {
    let _serial = serial();
    if !on() {
        return;
    }
    let owner = Owner::start_with(EXIT_RETURNS);
    let x = owner.call(Ask::Alloc);
    on_fresh_thread(move || {
        // This thread allocates the class (`config::FOREIGN_REUSERS`), and keeps that block.
        // SAFETY: a valid layout; a live block of another thread: kept, its slab pinned.
        unsafe {
            let _own = A.alloc(EXIT_RETURNS);
            A.dealloc(x as *mut u8, EXIT_RETURNS);
        }
        assert_eq!(testing::slab_pins(x as *const u8), Some(1));
        // The thread exits holding the kept block.
    });
    assert_eq!(
        testing::slab_pins(x as *const u8),
        Some(0),
        "the exit dropped the pin"
    );
    assert_eq!(
        owner.call(Ask::Collect(x)),
        0,
        "the kept block went back to its slab, which the owner's collect released"
    );
    owner.exit();
}

/// Runs `freer` on a fresh thread with `n` blocks of `layout` that another thread allocated and
/// keeps alive (so their slabs keep an owner: a published slab's blocks are never kept) until
/// `freer` returns; `freer` frees them.
fn with_foreign_blocks<T: Send + 'static>(
    layout: Layout,
    n: usize,
    freer: impl FnOnce(Vec<usize>) -> T + Send + 'static,
) -> T {
    let (tell, blocks) = channel::<Vec<usize>>();
    let (done, owner_waits) = channel::<()>();
    let owner = std::thread::spawn(move || {
        let v: Vec<usize> = (0..n)
            .map(|_| {
                // SAFETY: a valid layout; the block is freed by the freer.
                let p = unsafe { A.alloc(layout) };
                assert!(!p.is_null());
                p as usize
            })
            .collect();
        tell.send(v).unwrap();
        owner_waits.recv_timeout(WAIT).unwrap();
    });
    let v = blocks.recv_timeout(WAIT).unwrap();
    let out = on_fresh_thread(move || freer(v));
    done.send(()).unwrap();
    owner.join().unwrap();
    out
}

/// On the freer's thread: allocates one block of `layout` (so the thread allocates the class,
/// `config::FOREIGN_REUSERS`, and its remote frees of the class may keep), frees the foreign
/// blocks `v` (reusing none), runs `then`, frees its own block; returns the spills the frees
/// made and `then`'s result.
fn free_foreign_unreused<T>(layout: Layout, v: Vec<usize>, then: impl FnOnce() -> T) -> (u64, T) {
    // SAFETY: a valid layout; freed at the end.
    let own = unsafe { A.alloc(layout) };
    let before = hakmem::stats().spills;
    for p in v {
        // SAFETY: a live block of another thread, freed once.
        unsafe { A.dealloc(p as *mut u8, layout) };
    }
    let spills = hakmem::stats().spills - before;
    let out = then();
    // SAFETY: our own block.
    unsafe { A.dealloc(own, layout) };
    (spills, out)
}

/// For the backoff tests: the `SERIAL` guard, or `None` (nothing to test) unless foreign entries
/// and their keep backoff are both built in (`on`, `config::FOREIGN_BACKOFF`).
fn backoff_test() -> Option<std::sync::MutexGuard<'static, ()>> {
    if !on() {
        return None;
    }
    if !hakmem::config::FOREIGN_BACKOFF {
        eprintln!("the backoff is backed out (--cfg hakmem_no_foreign_backoff): nothing to test");
        return None;
    }
    Some(serial())
}

/// A freer that allocates the class but frees far more of another thread's blocks than it
/// reuses backs off (`config::FOREIGN_BACKOFF`, front/foreign.rs `KeepBackoff`): its spills,
/// which return unreused kept blocks, start a backoff that doubles, so they stay few.
#[test]
fn a_freer_that_does_not_reuse_backs_off() {
    let Some(_serial) = backoff_test() else {
        return;
    };
    const N: usize = 4096;
    let (spills, ()) =
        with_foreign_blocks(BACKOFF, N, |v| free_foreign_unreused(BACKOFF, v, || ()));
    eprintln!("{N} remote frees, none reused: {spills} spills");
    assert!(
        spills <= 12,
        "{spills} spills for {N} remote frees of a class the freer never reuses: no backoff"
    );
}

/// `hakmem::collect()` leaves the calling thread's foreign-entry backoff as it is (its doc
/// comment says why: the backoff is a speed policy, and a reset one keeps more foreign blocks).
/// Until session 19 `small::flush` reset it, and `collect` with it; this pins the choice.
#[test]
fn collect_keeps_the_foreign_backoff() {
    let Some(_serial) = backoff_test() else {
        return;
    };
    const N: usize = 4096;
    let class = class_of(COLLECT_BACKOFF);
    let (_, (before, after)) = with_foreign_blocks(COLLECT_BACKOFF, N, move |v| {
        free_foreign_unreused(COLLECT_BACKOFF, v, || {
            let before = testing::keep_backoff(class);
            hakmem::collect();
            (before, testing::keep_backoff(class))
        })
    });
    eprintln!("(skip, level, reuses) before collect {before:?}, after {after:?}");
    assert!(
        before.1 > 0,
        "{N} unreused remote frees set no backoff: {before:?}"
    );
    assert_eq!(after, before, "collect() changed the foreign-entry backoff");
}

/// `config::SPILL_FORGETS_REUSE`: a thread that allocated a class once and then frees far more
/// of another thread's blocks of it than it reuses (rust-json's main thread) stops counting as
/// a reuser once its backoff reaches `config::SPILL_FORGET_LEVEL`, so its later remote frees of the class go
/// as a consumer's (batched, nothing kept); its next refill of the class makes it a reuser again.
/// Before session 26 (json26) `reuses` stayed set for the thread's life.
#[test]
fn a_spill_of_unreused_kept_blocks_makes_the_freer_a_consumer() {
    let Some(_serial) = backoff_test() else {
        return;
    };
    const N: usize = 4096;
    let class = class_of(FORGET);
    let (spills, (after_frees, after_refill)) = with_foreign_blocks(FORGET, N, move |v| {
        free_foreign_unreused(FORGET, v, || {
            let after_frees = testing::keep_backoff(class);
            // Run the thread's list of the class dry (its kept blocks went back in the spills;
            // what is left on the list is popped here), so that the class is refilled.
            let mine: Vec<usize> = (0..64)
                .map(|_| {
                    // SAFETY: a valid layout; freed below.
                    let p = unsafe { A.alloc(FORGET) };
                    assert!(!p.is_null());
                    p as usize
                })
                .collect();
            let after_refill = testing::keep_backoff(class);
            for p in mine {
                // SAFETY: our own live block, freed once.
                unsafe { A.dealloc(p as *mut u8, FORGET) };
            }
            (after_frees, after_refill)
        })
    });
    eprintln!(
        "{N} unreused remote frees: {spills} spills; (skip, level, reuses) {after_frees:?}, after \
         64 allocations {after_refill:?}"
    );
    assert!(spills > 0, "no spill: nothing to test");
    assert_eq!(
        after_frees.2,
        !hakmem::config::SPILL_FORGETS_REUSE,
        "after spills of kept blocks the freer is a consumer of the class (switch on) or still a \
         reuser (backout): {after_frees:?}"
    );
    assert!(
        after_refill.2,
        "a refill of the class makes the freer a reuser again: {after_refill:?}"
    );
}

/// For the `config::FOREIGN_UNPIN_PUBLISHED` tests: an owner of blocks of `layout` and its
/// first two blocks, which share a slab; `None` (nothing to test) without the cfg or with the
/// switch backed out.
fn owner_of_two(layout: Layout) -> Option<(Owner, usize, usize)> {
    if !on() {
        return None;
    }
    if !hakmem::config::FOREIGN_UNPIN_PUBLISHED {
        eprintln!("backed out (--cfg hakmem_no_foreign_unpin_published): nothing to test");
        return None;
    }
    let owner = Owner::start_with(layout);
    let x = owner.call(Ask::Alloc);
    let y = owner.call(Ask::Alloc);
    assert_eq!(
        x >> 16,
        y >> 16,
        "the owner's first two blocks share a slab"
    );
    Some((owner, x, y))
}

/// `config::FOREIGN_UNPIN_PUBLISHED`: a foreign entry ends with its slab's owner. The owner
/// exits and publishes the slab its freer pins; the freer's next slow path drops the entry, so
/// its later frees of the slab's blocks go to the slab's queue (for the slab's adopter, whole)
/// instead of onto its own list through the entry (larson's spread live set, docs/benchmarks.md
/// "Session 15: xt17").
#[test]
fn an_owners_exit_ends_the_pins_of_its_published_slab() {
    let _serial = serial();
    let Some((owner, x, y)) = owner_of_two(EXIT) else {
        return;
    };
    let (to_freer, freer_asks) = channel::<()>();
    let (tell, from_freer) = channel::<()>();
    let freer = std::thread::spawn(move || {
        // This thread allocates the class (`config::FOREIGN_REUSERS`), and keeps `x`.
        // SAFETY: a valid layout; a live block of another thread: kept, its slab pinned.
        let own = unsafe {
            let own = A.alloc(EXIT);
            A.dealloc(x as *mut u8, EXIT);
            own
        };
        assert!(testing::owned_table_holds(y as *const u8));
        tell.send(()).unwrap();
        // The owner has exited and published the slab.
        freer_asks.recv_timeout(WAIT).unwrap();
        // A slow path of this thread (a refill of another class).
        refill_another_class();
        let held = testing::owned_table_holds(y as *const u8);
        let pins = testing::slab_pins(y as *const u8);
        let remote_before = hakmem::stats().remote_frees;
        // SAFETY: a live block of the exited owner, freed once; then our own block.
        unsafe {
            A.dealloc(y as *mut u8, EXIT);
            A.dealloc(own, EXIT);
        }
        let remote = hakmem::stats().remote_frees - remote_before;
        (held, pins, remote)
    });
    from_freer.recv_timeout(WAIT).unwrap();
    owner.exit();
    to_freer.send(()).unwrap();
    let (held, pins, remote) = freer.join().unwrap();
    assert!(
        !held,
        "the freer's slow path dropped the published slab's entry"
    );
    assert_eq!(pins, Some(0), "and its pin");
    assert_eq!(
        remote, 1,
        "the next free of the slab's block went to its queue"
    );
}

/// `config::FOREIGN_UNPIN_PUBLISHED`: a pinner's exit ends keeping for the slabs it pinned:
/// their release is marked wanted, so another thread's frees of their blocks go back to the
/// owner instead of starting a new entry (larson: the sleeping main thread's slabs would pass
/// from each generation of freers to the next, docs/benchmarks.md "Session 15: xt17").
#[test]
fn a_pinners_exit_ends_keeping_of_its_slabs() {
    let _serial = serial();
    let Some((owner, x, y)) = owner_of_two(PINNER_EXIT) else {
        return;
    };
    on_fresh_thread(move || {
        // SAFETY: a valid layout; a live block of another thread: kept, its slab pinned.
        unsafe {
            let _own = A.alloc(PINNER_EXIT);
            A.dealloc(x as *mut u8, PINNER_EXIT);
        }
        assert_eq!(testing::slab_pins(x as *const u8), Some(1));
    });
    let (pins, remote) = on_fresh_thread(move || {
        // A second freer that allocates the class frees the owner's other block.
        let remote_before = hakmem::stats().remote_frees;
        // SAFETY: a valid layout; freed below.
        let own = unsafe { A.alloc(PINNER_EXIT) };
        // SAFETY: a live block of another thread, freed once.
        unsafe { A.dealloc(y as *mut u8, PINNER_EXIT) };
        let pins = testing::slab_pins(y as *const u8);
        let remote = hakmem::stats().remote_frees - remote_before;
        // SAFETY: our own block.
        unsafe { A.dealloc(own, PINNER_EXIT) };
        (pins, remote)
    });
    assert_eq!(pins, Some(0), "the second freer did not pin the slab");
    assert_eq!(remote, 1, "its free went to the slab's queue");
    owner.call(Ask::Collect(x));
    owner.exit();
}

#[test]
fn every_test_has_a_class_of_its_own() {
    let layouts = [
        KEPT,
        EMPTIED,
        EXIT_RETURNS,
        BACKOFF,
        EXIT,
        PINNER_EXIT,
        COLLECT_BACKOFF,
        OTHER,
    ];
    for (i, a) in layouts.iter().enumerate() {
        for b in &layouts[i + 1..] {
            assert_ne!(class_of(*a), class_of(*b), "{a:?} and {b:?} share a class");
        }
    }
}
