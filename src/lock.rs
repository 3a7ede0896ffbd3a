//! The lock box: `SpinLock`, the one lock type of hakmem, with its rank, its fork policy and the
//! lock-order checker.
//!
//! **Ranks.** Every lock has a `Rank`; a thread holding a lock may only take locks of a higher
//! rank. The order is written once, in `Rank` (and docs/ordering.md). In `checked` and debug
//! builds (`config::CHECKED`) each thread keeps the mask of the ranks it holds (one thread-local
//! word, initial-exec in the preload library, never allocated) and an acquisition out of order —
//! or of a rank already held, i.e. re-entry — aborts at once naming both ranks. In release builds
//! the checker is compiled out (`if CHECKED`).
//!
//! **Fork.** No lock is held across `fork`: there is no prepare handler. A thread that allocates
//! while holding a libc lock (stdio, the dynamic loader) may wait on a hakmem lock; if the forking
//! thread held hakmem locks across `fork` while glibc takes its own locks, the two would wait on
//! each other (issue 12.2). Instead, a lock's word records the *fork epoch* in which it was taken
//! (`FORK_EPOCH + 1`; 0 is free), and the child handler only bumps the epoch. In the child, a
//! lock whose word names an older epoch was held at the fork instant by a thread that does not
//! exist there: the first thread that wants it takes it over (one CAS decides), resets what it
//! protects with its `ForkReset` — every lock's type says at the lock what "safe" means — and goes
//! on. A lock found free in the child was free at the fork instant: nobody was inside its
//! critical section, so what it protects is consistent. The cost outside a fork is nil: the epoch
//! is compared only when the lock is found taken.
//!
//! Known limit (as for every allocator): a child forked from a signal handler that interrupted
//! hakmem does not hang, but it must not return from that handler into the interrupted call.
//!
//! Under loom the lock is loom's blocking mutex (loom cannot finish a model in which two threads
//! spin on a lock a third holds); ranks and fork are not modelled there.

use crate::sync::UnsafeCell;
#[cfg(not(hakmem_loom))]
use crate::sync::{AtomicU64, Ordering};

/// The rank of each lock, in the only order in which they may nest (lowest first).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Rank {
    /// `front::thread::SETUP`: the process set-up before the first heap (nests nothing).
    Setup = 0,
    /// `front::thread::FALLBACK`: the fallback heap, held while it refills (takes any lock below).
    Fallback = 1,
    /// `front::thread::HEAP_POOL`: recycled heaps (nests nothing).
    HeapPool = 2,
    /// `adopt::PublishList` (one per class, for slabs and for spans; never two at once): takes the
    /// pool lock or the span cache's to release what it reclaims.
    Published = 3,
    /// `pool::POOL`: the slab supply (nests nothing).
    Pool = 4,
    /// `span::SPANS`: empty medium spans (nests nothing).
    Span = 5,
    /// `meta::BUMP`: metadata memory (nests nothing).
    Meta = 6,
    /// `front::profiling::SWITCH`: the profiler's on/off switch (nests nothing).
    ProfSwitch = 7,
    /// `prof::STATE`: the profiler's dumps and totals (and its arenas' slots with
    /// `config::PROF_LOCKFREE_SLOTS` off) (nests nothing; never taken while another box's lock is
    /// held).
    ProfTables = 8,
    /// `large::CACHE`: cached large blocks (nests nothing; taken with no other lock held, or under
    /// the fallback heap's when its refill is refused memory: `large::release_cache`).
    LargeCache = 9,
}

impl Rank {
    /// Every rank, in order.
    pub const ALL: [Rank; 10] = [
        Rank::Setup,
        Rank::Fallback,
        Rank::HeapPool,
        Rank::Published,
        Rank::Pool,
        Rank::Span,
        Rank::Meta,
        Rank::ProfSwitch,
        Rank::ProfTables,
        Rank::LargeCache,
    ];

    /// The lock's name in messages.
    pub const fn name(self) -> &'static str {
        match self {
            Rank::Setup => "process set-up",
            Rank::Fallback => "fallback heap",
            Rank::HeapPool => "heap pool",
            Rank::Published => "publish list",
            Rank::Pool => "slab pool",
            Rank::Span => "span cache",
            Rank::Meta => "metadata bump",
            Rank::ProfSwitch => "profiler switch",
            Rank::ProfTables => "profile tables",
            Rank::LargeCache => "large cache",
        }
    }
}

/// What a lock protects becomes in a forked child when the lock was held at the fork instant by
/// a thread that does not exist there: a state from which the allocator can go on (typically
/// "abandoned": what the dead holder was changing is leaked, in the child only). Runs once, by
/// the child thread that takes the lock over, with the lock held.
pub trait ForkReset {
    fn reset_after_fork(&mut self);
}

/// A lock that protects no data (tests of the checker) has nothing to reset.
impl ForkReset for () {
    fn reset_after_fork(&mut self) {}
}

/// A test-and-test-and-set lock for slow paths. It never allocates (unlike parking_lot, which grows
/// a hash table through the global allocator on first contention) and yields to the OS after a
/// short spin, so a preempted holder on a 2-core machine does not burn the other core.
pub struct SpinLock<T> {
    /// 0: free; otherwise `FORK_EPOCH + 1` of the process in which it was taken.
    #[cfg(not(hakmem_loom))]
    word: AtomicU64,
    #[cfg(hakmem_loom)]
    word: crate::sync::Mutex<()>,
    rank: Rank,
    value: UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `value`, so sharing the lock shares `T` only with
// one thread at a time; `T: Send` is what moving that access between threads needs.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock owns `T`.
unsafe impl<T: Send> Send for SpinLock<T> {}

/// The shipped lock: an epoch word taken by CAS, spinning then yielding; rank checked, taken over
/// in a forked child.
#[cfg(not(hakmem_loom))]
impl<T: ForkReset> SpinLock<T> {
    pub const fn new(rank: Rank, v: T) -> Self {
        Self {
            word: AtomicU64::new(0),
            rank,
            value: UnsafeCell::new(v),
        }
    }

    /// Runs `f` with the lock held.
    #[inline]
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mine = self.lock();
        // SAFETY: the lock is held, so this is the only live reference to `value`.
        let r = self.value.with_mut(|p| f(unsafe { &mut *p }));
        self.unlock(mine);
        r
    }

    /// Runs `f` with the lock held if the lock is free now; `None` without waiting otherwise (for
    /// a signal handler, which must not wait on a lock the interrupted thread may hold).
    pub fn try_with<R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        let mine = fork::epoch() + 1;
        // ORDERING: Acquire — as in `lock`.
        self.word
            .compare_exchange(0, mine, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        held::acquire(self.rank);
        // SAFETY: the lock is held, so this is the only live reference to `value`.
        let r = self.value.with_mut(|p| f(unsafe { &mut *p }));
        self.unlock(mine);
        Some(r)
    }

    /// Takes the lock; returns the word written.
    fn lock(&self) -> u64 {
        held::acquire(self.rank);
        let mut spins = 0u32;
        loop {
            let mine = fork::epoch() + 1;
            // ORDERING: Acquire — makes the previous holder's writes visible; pairs with the
            // Release in `unlock`.
            if self
                .word
                .compare_exchange_weak(0, mine, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                crate::hook::at(crate::hook::Point::LockAcquired(self.rank as u8));
                return mine;
            }
            // ORDERING: Relaxed — only a hint of when to retry; the CAS synchronises.
            let w = self.word.load(Ordering::Relaxed);
            if w != 0 && w != mine {
                // Taken before the last fork by a thread that does not exist in this process.
                self.take_over(w, mine);
                crate::hook::at(crate::hook::Point::LockAcquired(self.rank as u8));
                return mine;
            }
            spins += 1;
            if spins < 64 {
                crate::sync::spin_loop();
            } else {
                if spins % 64 == 0 {
                    fork::catch_up();
                }
                crate::os::yield_now();
            }
        }
    }

    /// In a forked child: takes over a lock its dead holder left taken and resets its data.
    #[cold]
    fn take_over(&self, stale: u64, mine: u64) {
        // ORDERING: Acquire — as in `lock` (the dead holder never released, so there is nothing
        // to pair with; the CAS only elects one taker among the child's threads).
        while self
            .word
            .compare_exchange(stale, mine, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            // Another child thread took it over first: wait for it like for any holder.
            // ORDERING: Acquire — pairs with the Release in `unlock`.
            if self
                .word
                .compare_exchange_weak(0, mine, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
            crate::os::yield_now();
        }
        // SAFETY: we hold the lock; its former holder does not exist in this process.
        self.value.with_mut(|p| unsafe { (*p).reset_after_fork() });
        // ORDERING: Relaxed — a standalone counter (for tests and post-mortems).
        fork::TAKEOVERS.fetch_add(1, crate::sync::plain::Ordering::Relaxed);
    }

    #[inline]
    fn unlock(&self, mine: u64) {
        // ORDERING: Release — publishes the writes made under the lock; pairs with the Acquire
        // CAS in `lock` of the next holder. A CAS rather than a store: a word that no longer holds
        // `mine` was taken over in a forked child (see the module's known limit), and this frame
        // must not release a lock another thread now holds.
        let _ = self
            .word
            .compare_exchange(mine, 0, Ordering::Release, Ordering::Relaxed);
        held::release(self.rank);
    }
}

/// Under loom: loom's blocking mutex (see the module doc); no ranks, no fork.
#[cfg(hakmem_loom)]
impl<T: ForkReset> SpinLock<T> {
    pub fn new(rank: Rank, v: T) -> Self {
        Self {
            word: crate::sync::Mutex::new(()),
            rank,
            value: UnsafeCell::new(v),
        }
    }

    /// Runs `f` with the lock held.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let _ = self.rank;
        let _held = self.word.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: the lock is held, so this is the only live reference to `value`.
        self.value.with_mut(|p| f(unsafe { &mut *p }))
    }
}

/// The fork epoch and the child handler.
#[cfg(not(hakmem_loom))]
pub mod fork {
    use crate::sync::plain::{AtomicPtr, AtomicU64, AtomicU8, Ordering};

    /// Forks survived by this process's line of descent (bumped in each child).
    static FORK_EPOCH: AtomicU64 = AtomicU64::new(0);

    /// Locks taken over from a holder that did not survive a fork, in this process.
    pub static TAKEOVERS: crate::sync::plain::AtomicUsize = crate::sync::plain::AtomicUsize::new(0);

    #[inline]
    pub fn epoch() -> u64 {
        // ORDERING: Relaxed — only a child's handler writes it, before any other thread exists in
        // that child; every later thread of the child is created after it (thread creation orders
        // it). The parent never sees it change.
        FORK_EPOCH.load(Ordering::Relaxed)
    }

    /// A page every forked child sees zeroed (`os::wipe_on_fork_page`; null until `arm`, or where
    /// the OS refused): its first byte is 1 in a process whose epoch is current, 0 in a forked
    /// child whose handler has not run yet. A `vfork` child, or a process sharing this memory by
    /// `clone(CLONE_VM)`, sees the parent's 1: it must never bump the epoch the parent shares.
    static FORKED: AtomicPtr<u8> = AtomicPtr::new(core::ptr::null_mut());

    /// Maps the page and sets its byte (`fork::register`, once, by the thread that created the
    /// exit key at its first heap).
    pub fn arm() {
        // ORDERING: Relaxed — only this function stores it, once per process.
        if !FORKED.load(Ordering::Relaxed).is_null() {
            return;
        }
        if let Some(p) = crate::os::wipe_on_fork_page() {
            // SAFETY: our fresh page, not yet published; a byte is an `AtomicU8`.
            unsafe { AtomicU8::from_ptr(p.as_ptr()) }.store(1, Ordering::Relaxed);
            // ORDERING: Release — publishes the byte's 1 with the pointer; pairs with the Acquire
            // load in `catch_up`, which must never read the fresh page's 0 as "forked".
            FORKED.store(p.as_ptr(), Ordering::Release);
        }
    }

    /// Sets the page's byte again in a child whose handler runs (one thread: nothing races).
    fn rearm() {
        // ORDERING: Relaxed — the child's only thread reads what it or its parent stored.
        let p = FORKED.load(Ordering::Relaxed);
        if !p.is_null() {
            // SAFETY: the page is ours and mapped for the process's life; a byte is an `AtomicU8`.
            unsafe { AtomicU8::from_ptr(p) }.store(1, Ordering::Relaxed);
        }
    }

    /// The `pthread_atfork` child handler's part: every lock taken before this instant belongs to
    /// a thread of the parent. Also forgets the ranks the forking thread held (if `fork` was
    /// called from a signal handler that interrupted hakmem, the interrupted frame never resumes
    /// in the child as far as the checker is concerned).
    pub fn child() {
        // ORDERING: Relaxed — see `epoch`.
        FORK_EPOCH.fetch_add(1, Ordering::Relaxed);
        rearm();
        super::held::forget_all();
    }

    /// For a thread that has waited long on a lock (`SpinLock::lock`, every 64th yield): if this
    /// process is a forked child whose handler has not run yet (the page reads 0), does the
    /// handler's epoch bump now, so that a lock held at the fork instant by a thread of the parent
    /// is taken over instead of waited on forever. That happens when a program's own child
    /// handler allocates and was registered before hakmem's (glibc runs child handlers in
    /// registration order, and hakmem registers at its first heap; preload/tests/c/
    /// atfork_early.c); until its handler has run, a child has one thread, so nothing races this.
    /// The ranks are left alone: the caller may hold locks it took in the child.
    /// `config::FORK_CATCH_UP` off, or no page: nothing.
    #[cold]
    #[inline(never)]
    pub fn catch_up() {
        // ORDERING: Acquire — pairs with the Release store in `arm`: the byte reads 1 unless
        // this is a forked child whose handler has not run.
        let p = FORKED.load(Ordering::Acquire);
        if !crate::config::FORK_CATCH_UP || p.is_null() {
            return;
        }
        // SAFETY: as in `rearm`.
        // ORDERING: Relaxed — the Acquire load above made the parent's 1 visible; a forked
        // child's page was zeroed by the kernel.
        if unsafe { AtomicU8::from_ptr(p) }.load(Ordering::Relaxed) != 0 {
            return;
        }
        // ORDERING: Relaxed — see `epoch`.
        FORK_EPOCH.fetch_add(1, Ordering::Relaxed);
        rearm();
    }
}

/// The lock-order checker: the ranks the calling thread holds, as a bit mask in one thread-local
/// word. Compiled to nothing unless `CHECKED`.
#[cfg(not(hakmem_loom))]
mod held {
    use super::Rank;
    use crate::config::CHECKED;

    #[cfg(not(feature = "initial-exec-tls"))]
    mod word {
        use core::cell::Cell;

        // A const-initialised `Cell` without destructor: a plain `#[thread_local]` static, no
        // registration, no allocation.
        thread_local! {
            static HELD: Cell<usize> = const { Cell::new(0) };
        }

        #[inline(always)]
        pub fn get() -> usize {
            HELD.with(|c| c.get())
        }

        #[inline(always)]
        pub fn set(v: usize) {
            HELD.with(|c| c.set(v));
        }
    }

    #[cfg(feature = "initial-exec-tls")]
    mod word {
        crate::tls_slot::initial_exec_word! {
            fn get_word, set_word: usize = "__hakmem_tls_held_ranks";
        }

        #[inline(always)]
        pub fn get() -> usize {
            get_word()
        }

        #[inline(always)]
        pub fn set(v: usize) {
            set_word(v);
        }
    }

    #[inline]
    pub fn acquire(rank: Rank) {
        if !CHECKED {
            return;
        }
        let bit = 1usize << rank as u8;
        let held = word::get();
        // Any held rank at or above this one: out of order (or re-entry).
        if held & !(bit - 1) != 0 {
            out_of_order(rank, held);
        }
        word::set(held | bit);
    }

    #[inline]
    pub fn release(rank: Rank) {
        if CHECKED {
            word::set(word::get() & !(1usize << rank as u8));
        }
    }

    pub fn forget_all() {
        if CHECKED {
            word::set(0);
        }
    }

    #[cold]
    #[inline(never)]
    fn out_of_order(rank: Rank, held: usize) -> ! {
        let top = usize::BITS - 1 - held.leading_zeros();
        let holding = Rank::ALL
            .into_iter()
            .find(|r| *r as u32 == top)
            .map_or("?", Rank::name);
        let mut m = crate::msg::Msg::new();
        m.str("hakmem: lock-order: taking the ")
            .str(rank.name())
            .str(" lock while holding the ")
            .str(holding)
            .str(" lock (ranks must increase; docs/ordering.md)")
            .field_hex("held", held);
        m.emit();
        crate::trace::dump();
        crate::os::abort()
    }
}
