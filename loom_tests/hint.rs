//! Model 4 — the hint cache (`HintCache::lookup`/`insert`) against a SuperSlab that is retired
//! and reused (`SuperSlab::bump_generation`, `Slab::unbind`/`bind`).
//!
//! Claims:
//! - `stale_hint_after_reuse_is_never_used`: thread A remembers SuperSlab S at generation g (it
//!   freed a block of S earlier). Meanwhile S's last slab is emptied, S is retired and reused, the
//!   slab is bound to another class, and a block of the new incarnation is handed to A, which frees
//!   it while the owner drains. A's lookup of that block must report `Stale` — never `Hit` — and
//!   A's fallback (re-reading the generation, as `free_slow` does after the registry) then frees
//!   the block into the slab of its new class, where the owner drains it exactly once.
//! - `hint_recorded_while_superslab_reused`: A records the generation itself, racing with the
//!   retire and reuse. A `Hit` is only ever reported when the recorded generation is the current
//!   one; anything older is `Stale`.
//!
//! Scope: the registry and the pool are not part of the loom build (they are process-wide
//! statics), so the model performs their steps on the SuperSlab directly: retire = unbind the last
//! slab + bump the generation, reuse = bump the generation + bind. The SuperSlab has 2 slabs under
//! loom: the header in slab 0, the model's blocks in slab 1.
//!
//! Bounds: 2 threads plus the hand-off, one SuperSlab, one block, `LOOM_MAX_PREEMPTIONS`
//! (default 3).
//!
//! Mutants caught: `skip_generation_check` (lookup ignores the generation: both models),
//! `no_generation_bump` (retire/reuse leave the generation unchanged: the first model; the second
//! cannot tell, since it only compares generations).

#![cfg(hakmem_loom)]

mod support;

use std::ptr::NonNull;

use hakmem::model::config::{FIRST_DATA_SLAB, SLAB_SIZE, SUPERSLAB_SIZE};
use hakmem::model::Block;
use hakmem::model::Owner;
use hakmem::model::SuperSlab;
use hakmem::model::{Hint, HintCache};
use loom::sync::atomic::{AtomicPtr, Ordering};
use loom::sync::Arc;
use loom::thread;
use support::{free_list, model_reaching, used, Blk, Region, CLASS, OTHER_CLASS};

/// The data slab the models use.
const SLAB: usize = FIRST_DATA_SLAB;
const _: () = assert!(
    std::mem::size_of::<SuperSlab>() <= SLAB * SLAB_SIZE,
    "loom configuration: the SuperSlab header overlaps the first data slab (src/config.rs)"
);

/// A SuperSlab over mock memory.
struct TestSuperSlab {
    ss: NonNull<SuperSlab>,
    _mem: Region,
}

// SAFETY: the header is shared the way the allocator shares it: atomics, and slab-local state
// under the slab protocol the model follows.
unsafe impl Send for TestSuperSlab {}
// SAFETY: as above.
unsafe impl Sync for TestSuperSlab {}

impl TestSuperSlab {
    fn new() -> Self {
        let mem = Region::new(SUPERSLAB_SIZE, SUPERSLAB_SIZE);
        // SAFETY: a fresh, zeroed, aligned region of the right size, ours alone.
        let ss = unsafe { SuperSlab::init(NonNull::new(mem.ptr()).expect("non-null")) };
        Self { ss, _mem: mem }
    }

    fn get(&self) -> &SuperSlab {
        // SAFETY: initialised in `new`, alive as long as `self`.
        unsafe { self.ss.as_ref() }
    }
}

impl Drop for TestSuperSlab {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`; nobody uses it any more.
        unsafe { std::ptr::drop_in_place(self.ss.as_ptr()) };
    }
}

/// Retires and reuses `ss` with the model thread as the holder of slab `SLAB`, rebinding it to
/// `OTHER_CLASS` for `owner`; returns a block of the new incarnation.
///
/// # Safety
/// The caller holds slab `SLAB`, which has nothing out.
unsafe fn retire_and_reuse(ss: &SuperSlab, owner: &Owner) -> Blk {
    let slab = &ss.slabs[SLAB];
    // SAFETY: per the contract.
    unsafe {
        assert_eq!(slab.used(), 0);
        slab.unbind();
        ss.bump_generation(); // retire (pool::retire)
        ss.bump_generation(); // reuse (pool::take_free_slab)
        slab.bind(OTHER_CLASS, owner);
        let (head, _, n) = slab.take_batch(1);
        assert_eq!(n, 1);
        let p = Blk(NonNull::new(head).expect("a block"));
        p.allocate(1);
        p
    }
}

/// A's free of `p` through its hint cache: hint first, else the registry's answer (modelled as
/// re-reading the generation, which is what `free_slow` inserts), then the remote free.
fn free_through_hint(hint: &mut HintCache, ss: &SuperSlab, p: Blk, first: Hint) {
    let at = p.addr();
    let me: *const SuperSlab = ss;
    if first != Hint::Hit(me) {
        hint.insert(me, ss.generation());
        assert_eq!(hint.lookup(at), Hint::Hit(me), "fresh hint not found");
    }
    let slab = &ss.slabs[SuperSlab::slab_index(at)];
    // ORDERING: Relaxed — as `free_remote` in the front end reads it.
    let class = slab.class.load(Ordering::Relaxed) as usize;
    assert_eq!(class, OTHER_CLASS, "free into the wrong class");
    // SAFETY: `p` was handed to this thread live; it writes and frees it once.
    unsafe {
        p.user_write(2);
        slab.free_remote(p.0, false);
    }
}

/// The reuse side: retire, reuse, hand a block of the new incarnation to A; then drain it back.
fn reuse_and_drain(
    t: &TestSuperSlab,
    owner: &Owner,
    slot: &AtomicPtr<Block>,
    a: thread::JoinHandle<()>,
) {
    let ss = t.get();
    // SAFETY: this thread holds slab `SLAB` (bound at set-up, nothing out).
    let p = unsafe { retire_and_reuse(ss, owner) };
    // ORDERING: Release — hands the block (and the reuse before it) to A.
    slot.store(p.0.as_ptr(), Ordering::Release);
    let slab = &ss.slabs[SLAB];
    // SAFETY: this thread holds the slab.
    let mut drained = unsafe { slab.drain_remote() };
    support::reach(if drained > 0 {
        "owner drained it before the join"
    } else {
        "drained after the join"
    });
    a.join().expect("thread A panicked");
    // SAFETY: as above.
    unsafe {
        drained += slab.drain_remote();
        assert_eq!(drained, 1, "the freed block was not drained exactly once");
        assert_eq!(used(slab), 0);
        assert_eq!(free_list(slab), vec![p]);
        assert_eq!(p.user_read(), 2);
    }
}

/// Waits for the block B hands over.
fn receive(slot: &AtomicPtr<Block>) -> Blk {
    loop {
        // ORDERING: Acquire — pairs with the Release hand-off.
        if let Some(p) = NonNull::new(slot.load(Ordering::Acquire)) {
            return Blk(p);
        }
        thread::yield_now();
    }
}

/// Set-up shared by both models: S at generation 1, slab `SLAB` bound to `CLASS` for the owner and
/// empty again (A's earlier block of it was freed and drained).
fn setup() -> (Arc<TestSuperSlab>, Arc<Owner>, Arc<AtomicPtr<Block>>) {
    let t = Arc::new(TestSuperSlab::new());
    let owner = Arc::new(Owner::new());
    // SAFETY: a fresh slab, bound and held by the model thread.
    unsafe { t.get().slabs[SLAB].bind(CLASS, &*owner) };
    (t, owner, Arc::new(AtomicPtr::new(std::ptr::null_mut())))
}

#[test]
#[cfg_attr(
    any(
        hakmem_mutant = "skip_generation_check",
        hakmem_mutant = "no_generation_bump"
    ),
    should_panic(expected = "stale hint used after SuperSlab reuse")
)]
fn stale_hint_after_reuse_is_never_used() {
    model_reaching(
        "hint stale",
        &["owner drained it before the join", "drained after the join"],
        || {
            let (t, owner, slot) = setup();
            // A's hint was recorded in the first incarnation (the registry vouched for S then).
            let g1 = t.get().generation();
            let a = {
                let (t, slot) = (t.clone(), slot.clone());
                thread::spawn(move || {
                    let ss = t.get();
                    let mut hint = HintCache::new();
                    hint.insert(ss as *const SuperSlab, g1);
                    let p = receive(&slot);
                    let first = hint.lookup(p.addr());
                    assert_eq!(first, Hint::Stale, "stale hint used after SuperSlab reuse");
                    free_through_hint(&mut hint, ss, p, first);
                })
            };
            reuse_and_drain(&t, &owner, &slot, a);
        },
    );
}

#[test]
#[cfg_attr(
    hakmem_mutant = "skip_generation_check",
    should_panic(expected = "hint hit with a stale generation")
)]
fn hint_recorded_while_superslab_reused() {
    model_reaching(
        "hint racing",
        // Under `no_generation_bump` the generation never moves: every lookup is a Hit, and this
        // model cannot tell (it only compares generations), so only that outcome is required.
        if cfg!(hakmem_mutant = "no_generation_bump") {
            &["recorded gen 1", "Hit"]
        } else {
            &[
                "recorded gen 1",
                "recorded gen 2",
                "recorded gen 3",
                "Hit",
                "Stale",
            ]
        },
        || {
            let (t, owner, slot) = setup();
            let a = {
                let (t, slot) = (t.clone(), slot.clone());
                thread::spawn(move || {
                    let ss = t.get();
                    let mut hint = HintCache::new();
                    // Races with the retire and reuse: records generation 1, 2 or 3.
                    let recorded = ss.generation();
                    support::reach(
                        [
                            "recorded gen 0",
                            "recorded gen 1",
                            "recorded gen 2",
                            "recorded gen 3",
                        ][recorded as usize],
                    );
                    hint.insert(ss as *const SuperSlab, recorded);
                    let p = receive(&slot);
                    let first = hint.lookup(p.addr());
                    let now = ss.generation();
                    match first {
                        Hint::Hit(_) => {
                            support::reach("Hit");
                            assert_eq!(recorded, now, "hint hit with a stale generation")
                        }
                        Hint::Stale => {
                            support::reach("Stale");
                            assert_ne!(recorded, now, "current hint reported stale");
                        }
                        Hint::Miss => panic!("hint for S missed an address of S"),
                    }
                    free_through_hint(&mut hint, ss, p, first);
                })
            };
            reuse_and_drain(&t, &owner, &slot, a);
        },
    );
}
