//! Publish/adopt box: slabs whose owner exited wait on a per-class publish list; a thread that
//! needs blocks of that class adopts one through the ownership CAS; any thread's reclaim pass gives
//! published slabs that have become empty back to the pool.
//!
//! Boundary: `publish` only releases ownership and pushes onto the list — no draining, no
//! binding. `adopt` and `reclaim` are the only consumers: each takes a slab under the list lock,
//! wins the ownership CAS (`Slab::try_acquire`) and only then drains its remote queue (the single
//! drain -> bind -> owner-acquire boundary).
//!
//! Without the `adopt` feature, `adopt` is never called: published slabs only leave the list
//! through `reclaim`, once remote frees have emptied them.

use core::ptr::NonNull;

use crate::list;
use crate::lock::{ForkReset, Rank, SpinLock};
use crate::mutant;
use crate::remote::Owner;
use crate::slab::slab::{ListKind, Slab};
use crate::sync::const_fn;

/// An intrusive stack of published slabs, linked through the slabs' local `next`. The lock makes
/// the list holder the holder of every slab on it.
pub struct PublishList {
    head: SpinLock<Head>,
}

struct Head(*mut Slab);

// SAFETY: the pointer is only followed under the lock; slabs on the list are held by the list.
unsafe impl Send for Head {}

/// Fork: a holder that did not survive the fork may have been relinking the list (publish, adopt,
/// reclaim); the child abandons the whole list. Its slabs stay unowned and off every list: frees
/// into them go to their remote queues and are never drained (a leak in the child only).
impl ForkReset for Head {
    fn reset_after_fork(&mut self) {
        self.0 = core::ptr::null_mut();
    }
}

impl PublishList {
    const_fn! {
        pub fn new() -> Self {
            Self {
                head: SpinLock::new(Rank::Published, Head(core::ptr::null_mut())),
            }
        }
    }

    /// Publishes a slab its owner gives up: release ownership, then push. No other side effect.
    ///
    /// # Safety
    /// The caller owns `slab` and does not touch it afterwards.
    pub unsafe fn publish(&self, slab: &Slab) {
        if !mutant::PUBLISH_BEFORE_RELEASE {
            slab.release_ownership();
        }
        self.head.with(|h| {
            // SAFETY: the slab is on no list and unowned; the list lock makes us its holder.
            unsafe {
                slab.local(|l| l.list = ListKind::None);
                list::push_front(&mut h.0, slab as *const Slab as *mut Slab);
            }
        });
        if mutant::PUBLISH_BEFORE_RELEASE {
            // Mutant: the slab is on the list while its old owner still owns it.
            slab.release_ownership();
        }
    }

    /// Adopts one published slab for `me`: pop, ownership CAS, drain. The caller then binds it into
    /// its lists. `None` if the list is empty.
    ///
    /// `me` is a reference, not a raw pointer: the CAS stores it as the slab's owner, and remote
    /// freers follow it (`Owner::notify`), so it must name a live `Owner` — one that stays live
    /// while it owns slabs (a heap's, or `RECLAIMER`).
    pub fn adopt(&self, me: &Owner) -> Option<NonNull<Slab>> {
        loop {
            let slab = self.head.with(|h| {
                let s = NonNull::new(h.0)?;
                // SAFETY: under the list lock we hold every slab on the list.
                unsafe { list::unlink(&mut h.0, s.as_ptr()) };
                Some(s)
            })?;
            // SAFETY: published slabs live in SuperSlab headers, which are never unmapped.
            let s = unsafe { slab.as_ref() };
            if s.try_acquire(me) {
                // SAFETY: we are the owner now.
                unsafe { adopted(s, me) };
                return Some(slab);
            }
            // Someone else owns it (cannot happen while pops are exclusive; kept as the arbiter).
        }
    }

    /// Adopts for `me` one published slab that has blocks freed into it (its remote queue is not
    /// empty), looking at up to `budget` of the list's slabs: unlink, ownership CAS, drain, as
    /// `adopt`. `None` if none of them has frees waiting. The medium tier calls it before it
    /// carves a fresh block of a span (`config::ADOPT_FREE_FIRST`): a freed block of a published
    /// span is resident, a fresh carve is not. `me` as in `adopt`.
    pub fn adopt_freed(&self, me: &Owner, budget: usize) -> Option<NonNull<Slab>> {
        let slab = self.head.with(|h| {
            let mut cur = h.0;
            let mut seen = 0;
            while !cur.is_null() && seen < budget {
                seen += 1;
                // SAFETY: slabs on the list are held by us (the list lock) and never unmapped.
                let s = unsafe { &*cur };
                if s.remote.is_nonempty() {
                    // SAFETY: `cur` is on the list we hold.
                    unsafe { list::unlink(&mut h.0, cur) };
                    return NonNull::new(cur);
                }
                // SAFETY: as above.
                cur = unsafe { list::next(cur) };
            }
            None
        })?;
        // SAFETY: published slabs live in SuperSlab or span headers, which are never unmapped.
        let s = unsafe { slab.as_ref() };
        if !s.try_acquire(me) {
            // Cannot happen while unlinks are exclusive (as in `adopt`): the list held it, so
            // nobody owns it. Fail fast rather than leak it off every list.
            crate::debug::fatal(
                "adopt",
                "a published slab was owned when adopted",
                crate::debug::Where::ptr(s.data() as usize),
            );
        }
        // SAFETY: we are the owner now.
        unsafe { adopted(s, me) };
        Some(slab)
    }

    /// Examines up to `budget` published slabs: each one with remote frees waiting or nothing out is
    /// claimed (CAS), drained, and either released to the pool (empty) or published again.
    /// Returns `(examined, released to the pool)`.
    pub fn reclaim(&self, me: &Owner, budget: usize, release: impl Fn(&Slab)) -> (usize, usize) {
        self.reclaim_filtered(me, budget, true, release)
    }

    /// As `reclaim`; with `take_freed` false, only the slabs with nothing out are claimed, and
    /// those with remote frees waiting stay published for an adopter (an exiting thread's medium
    /// pass, `config::EXIT_RECLAIM_LEAVES_FREED`).
    pub fn reclaim_filtered(
        &self,
        me: &Owner,
        budget: usize,
        take_freed: bool,
        release: impl Fn(&Slab),
    ) -> (usize, usize) {
        let mut released = 0;
        let mut seen = 0;
        self.head.with(|h| {
            let mut cur = h.0;
            while !cur.is_null() && seen < budget {
                seen += 1;
                // SAFETY: slabs on the list are held by us (the list lock) and never unmapped.
                let s = unsafe { &*cur };
                // SAFETY: as above.
                let next = unsafe { list::next(cur) };
                // SAFETY: as above.
                let idle = unsafe { s.used() } == 0;
                if (idle || (take_freed && s.remote.is_nonempty())) && s.try_acquire(me) {
                    crate::hook::at(crate::hook::Point::ReclaimAcquired(s.data() as usize));
                    // SAFETY: we own it now.
                    let used = unsafe {
                        s.drain_remote();
                        s.used()
                    };
                    // A pinned slab (front/foreign.rs) stays published, bound.
                    if used == 0 && !s.pinned_keep() {
                        if mutant::RECLAIM_RELEASE_BEFORE_UNLINK {
                            // Mutant: the pool's next taker may bind the slab while we still
                            // unlink and unbind it.
                            release(s);
                        }
                        // SAFETY: `cur` is on the list we hold.
                        unsafe { list::unlink(&mut h.0, cur) };
                        // SAFETY: owned, empty and off every list.
                        unsafe { s.unbind() };
                        // Last: once released, the slab is the pool's next taker's.
                        if !mutant::RECLAIM_RELEASE_BEFORE_UNLINK {
                            release(s);
                        }
                        released += 1;
                        cur = next;
                        continue;
                    }
                    s.release_ownership();
                }
                cur = next;
            }
        });
        (seen, released)
    }
}

/// The end of an adoption (`PublishList::adopt`, `adopt_freed`) once `me` owns `s`: the drain of
/// its remote queue (drain -> bind -> owner acquire happens here and in the refill only), the
/// trace event and the count.
///
/// # Safety
/// `me` owns `s`: its ownership CAS (`Slab::try_acquire`) just succeeded.
unsafe fn adopted(s: &Slab, me: &Owner) {
    // SAFETY: per the contract, we are the owner.
    unsafe { s.drain_remote() };
    s.trace(
        crate::trace::Event::Adopt,
        me as *const Owner as usize,
        s.class.load(crate::sync::Ordering::Relaxed) as usize,
    );
    crate::stats::GLOBALS.adopts.bump_shared();
}

impl Default for PublishList {
    fn default() -> Self {
        Self::new()
    }
}

/// The identity the reclaim pass holds published slabs under. It is no thread's heap, so while a
/// pass holds a slab every free into it — from any thread, with a heap or without — fails
/// `is_owned_by` and takes the remote path, which the pass then drains. (Acting under the caller's
/// heap would be wrong for a heapless caller: the sentinels `EMPTY`/`DEAD` are shared by every
/// heapless thread, so all of them would take the local path and push onto the sentinel's
/// shared TLS list.) Its notification bits are set by those remote frees and never read.
#[cfg(not(hakmem_loom))]
pub static RECLAIMER: Owner = Owner::new();

/// The per-class publish lists of the process (small slabs and medium spans, by class id).
#[cfg(not(hakmem_loom))]
pub static PUBLISHED: [PublishList; crate::size_class::TOTAL_CLASSES] =
    [const { PublishList::new() }; crate::size_class::TOTAL_CLASSES];
