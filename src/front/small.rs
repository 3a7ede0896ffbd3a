//! Small-class box: moves blocks of the small classes between a thread's TLS lists and its slabs
//! in batches — refill when a TLS list is empty, spill when it exceeds its cap — and tears a
//! heap's slabs down at thread exit (`front::medium` does the same over spans). Named
//! `magazine.rs` until issue 14: it holds no magazine, only the batch moves.
//!
//! Boundary: this is the refill side of the single drain -> bind -> owner-acquire boundary. The
//! slow path of `alloc` reads as the list of fallbacks, in order:
//! `take_from_current` → `take_remote` of the current slab (its queue, handed out by the next
//! `take_batch`) → `drain_notified` (full slabs that
//! got remote frees) → `next_partial` → `adopt_published` → `carve_new_slab` (pool, after a
//! reclaim pass, then a new SuperSlab).
//!
//! Release rule: a slab whose last block comes back goes to the pool unless it is the current
//! slab of its class. The current slab is kept (a churning size does not bounce it through the
//! pool) but put on the purge clock (`purge::Retired`): once it has stayed empty for the purge
//! delay, the heap's next bind (`carve_new_slab`) gives it to the pool with the time it emptied,
//! where it is purged at once. With the background purger on (`HAKMEM_BACKGROUND=1`) it goes to
//! the pool at once, so that an idle thread's slabs shrink too (the purger cannot touch a slab a
//! live heap owns). Blocks on the TLS lists count as out: a slab they pin stays the heap's until
//! a spill, `collect()` or thread exit.

use core::ptr::NonNull;

use crate::adopt::{PUBLISHED, RECLAIMER};
use crate::config::{
    ADOPT, FOREIGN_ENTRIES, FOREIGN_UNPIN_PUBLISHED, IDLE_FLUSH, LOCKED_COARSE_CLASSES,
    OOM_RELEASE, OWNED_TABLE, PROF_FREE_SIDE, PROF_SPILL_TOP, REMOTE_UNWALKED, REUSE_BEFORE_CARVE,
    SLAB_SIZE, SPILL_RETURN_SKIP, SPILL_RUNS, SPILL_TOP, TABLE32, TLS_SLOW_START, WHOLE_FREE_LIST,
};
use crate::env::{self, OneShot};
use crate::front::heap::{batch, Heap, HeapLocal, ACTIVE_WORDS};
use crate::front::tls_sll::TlsList;
use crate::large;
use crate::list;
use crate::os;
use crate::pool;
use crate::purge::{self, Stamp, Sweep};
use crate::remote::Owner;
use crate::size_class::{locked_class, NUM_CLASSES};
use crate::slab::block::{Block, BlockPtr};
use crate::slab::slab::{ListKind, RemoteTake, Slab};
use crate::slab::superslab::SuperSlab;
use crate::stats::{self, GLOBALS};
use crate::sync::{AtomicUsize, Ordering};

/// Refills the TLS list of class `c` and returns one block, or null if the OS refuses memory.
/// From the current slab: its whole local free list (`config::WHOLE_FREE_LIST`; taken without a
/// walk, possibly longer than the cap: `HeapLocal::taken` says so to `spill`), else a batch of
/// pending and carved blocks.
///
/// # Safety
/// `h` is the calling thread's live heap (or the fallback heap under its lock), and its TLS list
/// of class `c` is empty.
#[cold]
#[inline(never)]
pub unsafe fn refill(h: &Heap, c: usize) -> BlockPtr {
    let _busy = h.busy();
    // The refill's change of the lists' rooms is no free (`config::DERIVED_FREE_COUNT`).
    // SAFETY: per the contract.
    let frees = unsafe { h.rooms_now(c) };
    // SAFETY: per the contract.
    let b = unsafe { refill_lists(h, c) };
    // SAFETY: per the contract.
    unsafe { h.settle_now(c, frees) };
    b
}

/// `refill`'s work.
///
/// # Safety
/// As for `refill`.
#[inline(always)]
unsafe fn refill_lists(h: &Heap, c: usize) -> BlockPtr {
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    local.mark_active(c);
    if FOREIGN_ENTRIES {
        // The list ran dry: the thread reuses the class (front/foreign.rs).
        local.keep.refilled(c);
        if local.owned().foreign_any() {
            local.owned_mut().drop_released();
        }
    }
    if TLS_SLOW_START && !(PROF_FREE_SIDE && local.profiled) {
        // The class's cap may grow (a spill came before this refill) and idle classes' shrink
        // (front/tls_limit.rs); the list is empty, so its new cap is all room.
        // The decay's change of other classes' rooms is no free (`config::DERIVED_FREE_COUNT`).
        local
            .limits
            .refilled(c, &mut local.tls, |k, d| h.counters.class[k].room_moved(d));
    }
    if SPILL_TOP || TLS_SLOW_START {
        // A cap `spill` raised ends with the blocks it covered: back to the class's own.
        let cap = local.cap(c);
        for t in [&mut local.tls[c], &mut local.freed[c]] {
            let len = t.len();
            t.cap = cap;
            t.set_len(len);
        }
    }
    let n = batch(local.tls[c].cap);
    h.counters.refills.bump();
    // `REUSE_BEFORE_CARVE`: once per refill, blocks other threads freed into the current slab
    // are taken before fresh ones are carved.
    let mut reuse_first = REUSE_BEFORE_CARVE;
    loop {
        let cur = local.slabs[c].cur;
        if !cur.is_null() {
            // SAFETY: `cur` is owned by this heap.
            unsafe {
                let s = &*cur;
                if WHOLE_FREE_LIST {
                    let (head, got) = s.take_free_all();
                    local.taken[c] = !head.is_null();
                    if let Some(first) = NonNull::new(head) {
                        // The TLS list is empty (the contract): the free list becomes it, whole.
                        let t = &mut local.tls[c];
                        t.head = Block::next(first);
                        t.set_len(got - 1);
                        return head;
                    }
                }
                let skip_carve = reuse_first && s.remote.is_nonempty() && s.carves_next();
                reuse_first = false;
                let (head, tail, got) = if skip_carve {
                    (core::ptr::null_mut(), core::ptr::null_mut(), 0)
                } else {
                    let batch = s.take_batch(n);
                    // The carve may have raised the slab's `carve_limit`: the table entry's copy
                    // follows (`config::TABLE32`), else the slab's new blocks would take the
                    // slow free until one of them refreshed it.
                    if OWNED_TABLE && TABLE32 {
                        local.owned_mut().refresh(s);
                    }
                    batch
                };
                if let Some(first) = NonNull::new(head) {
                    if got > 1 {
                        TlsList::push_batch(&mut local.tls[c], Block::next(first), tail, got - 1);
                    }
                    return head;
                }
                // The remote queue goes to the (empty) TLS list unwalked — its blocks are first
                // read by the pops that hand them out — whole when the TLS list may exceed its
                // cap (`WHOLE_FREE_LIST`: `taken` makes the spill O(1)), else when at most a
                // batch; a longer one becomes the pending chain, which `take_batch` walks once on
                // its way to the TLS list (no separate drain walk).
                if s.remote.is_nonempty() {
                    let max = if !REMOTE_UNWALKED || !local.tls[c].head.is_null() {
                        0
                    } else if WHOLE_FREE_LIST {
                        u32::MAX
                    } else {
                        n as u32
                    };
                    match s.take_remote(max) {
                        RemoteTake::Empty => {}
                        RemoteTake::Pending => continue,
                        RemoteTake::Chain(head, count) => {
                            // The chain's last link is null: it becomes the whole TLS list.
                            let t = &mut local.tls[c];
                            t.head = Block::next(head);
                            t.set_len(count as usize - 1);
                            if WHOLE_FREE_LIST {
                                local.taken[c] = true;
                            }
                            return head.as_ptr();
                        }
                    }
                }
                if skip_carve {
                    // The queue was empty after all: carve.
                    continue;
                }
                local.list_remove(c, cur);
                local.list_push(c, cur, ListKind::Full);
            }
        }
        if ADOPT && env::must_adopt() && adopt_published(h, local, c) {
            continue;
        }
        if h.owner.take_pending(c) {
            // SAFETY: the heap is ours.
            unsafe {
                local.drain_notified(c, |local, s| {
                    if (*s).pinned_keep() {
                        // Another thread's table pins it (front/foreign.rs): kept bound.
                        local.list_push(c, s, ListKind::Partial);
                        return;
                    }
                    disown_slab(local, s);
                    release_slab(s, purge::now());
                })
            };
        }
        // SAFETY: the heap is ours.
        if unsafe { local.next_partial(c) } {
            continue;
        }
        if ADOPT && adopt_published(h, local, c) {
            continue;
        }
        if LOCKED_COARSE_CLASSES && os::memory_locked() && locked_class(c) != c {
            // Memory is locked: no new slab for a class that is not coarse; its request goes to
            // the coarse class (`front::alloc::alloc_elsewhere`).
            return core::ptr::null_mut();
        }
        // SAFETY: the heap is ours.
        if !unsafe { carve_new_slab(h, local, c) } {
            return core::ptr::null_mut();
        }
    }
}

static ADOPT_LOG: OneShot = OneShot::new();

/// Adopts a published slab of class `c` as the current slab (if the runtime switch allows).
fn adopt_published(h: &Heap, local: &mut HeapLocal, c: usize) -> bool {
    if !env::adopt() {
        return false;
    }
    match PUBLISHED[c].adopt(&h.owner) {
        Some(s) => {
            ADOPT_LOG.log(
                "adopt",
                "first slab adopted from an exited thread",
                s.as_ptr() as usize,
            );
            // SAFETY: adopt made us the owner; the slab is on no list of ours.
            unsafe { local.list_push(c, s.as_ptr(), ListKind::Current) };
            // SAFETY: as above.
            own_slab(local, unsafe { s.as_ref() });
            true
        }
        None => false,
    }
}

/// Binds a fresh slab from the pool as the current slab of class `c`. Before mapping a new
/// SuperSlab, a reclaim pass gives emptied published slabs back to the pool.
///
/// # Safety
/// `local` is `h`'s local state and `h` is the calling thread's heap.
unsafe fn carve_new_slab(h: &Heap, local: &mut HeapLocal, c: usize) -> bool {
    if local.retired.any(0..NUM_CLASSES) {
        if let Some(sweep) = Sweep::due() {
            // SAFETY: per the contract.
            unsafe { release_retired(local, sweep) };
        }
    }
    let mut slab = pool::acquire_slab(c, false);
    // SAFETY: per the contract.
    if slab.is_none() && IDLE_FLUSH && unsafe { flush_idle(h, local, c) } {
        slab = pool::acquire_slab(c, false);
    }
    let slab = match slab {
        Some(s) => Some(s),
        None => {
            reclaim(usize::MAX);
            pool::acquire_slab(c, true).or_else(|| acquire_after_release(c))
        }
    };
    let Some(s) = slab else { return false };
    GLOBALS.slabs_bound.bump_shared();
    stats::footprint_add(SLAB_SIZE);
    // SAFETY: the pool handed the unbound slab to us.
    unsafe {
        s.as_ref().bind(c, h.owner_ptr());
        local.list_push(c, s.as_ptr(), ListKind::Current);
        own_slab(local, s.as_ref());
    }
    true
}

/// The heap is about to grow (`carve_new_slab` for class `c` found no free slab): the TLS list of
/// every other class that was neither refilled nor spilled since the last growth goes back to its
/// slabs, whole (an emptied slab to the pool, `returned`); the marks start again. True if any block went back. `config::IDLE_FLUSH`.
///
/// # Safety
/// `local` is `h`'s local state and `h` is the calling thread's heap, inside its busy window.
#[cold]
#[inline(never)]
unsafe fn flush_idle(h: &Heap, local: &mut HeapLocal, c: usize) -> bool {
    let mut any = false;
    for k in 0..NUM_CLASSES {
        if k == c || local.is_active(k) || local.tls[k].head.is_null() {
            continue;
        }
        any = true;
        // The list's blocks were debited from the class countdown, never handed out.
        local.credit(k, local.tls[k].len());
        // Returning the blocks is no free (`config::DERIVED_FREE_COUNT`).
        let frees = h.rooms(local, k);
        // Empty, the list is no slab's whole free list, and its cap is the class's (a cap
        // `spill` raised ends with the blocks it covered, as in `refill_lists`).
        let cap = local.cap(k);
        local.taken[k] = false;
        let t = &mut local.tls[k];
        let n = t.len();
        let b = core::mem::replace(&mut t.head, core::ptr::null_mut());
        t.cap = cap;
        t.set_len(0);
        // SAFETY: the list's `n` blocks are linked, each of a slab this heap owns (or kept, which
        // `return_blocks` sends to its owner's remote queue).
        let rest = unsafe { return_blocks(h.owner_ptr(), local, k, b, n) };
        debug_assert!(rest.is_null(), "TLS list longer than its length");
        h.settle(local, k, frees);
    }
    local.active = [0; ACTIVE_WORDS];
    any
}

/// The OS refused a new SuperSlab: once the large cache has unmapped its blocks (an address-space
/// limit counts them; `config::OOM_RELEASE`) or metadata memory its unused tail
/// (`config::META_RELEASE_UNUSED`), asks the pool once more.
#[cold]
#[inline(never)]
fn acquire_after_release(c: usize) -> Option<NonNull<Slab>> {
    // `|`, not `||`: both give back what they hold before the pool asks again.
    if (OOM_RELEASE && large::release_cache()) | crate::meta::release_unused() {
        pool::acquire_slab(c, true)
    } else {
        None
    }
}

/// Enters a slab this heap has just bound or adopted in its owned-slab table (front/owned.rs),
/// and its SuperSlab in the hint cache (for frees the table cannot answer).
#[inline]
pub fn own_slab(local: &mut HeapLocal, s: &Slab) {
    if OWNED_TABLE && env::tls_hint() {
        // SAFETY: we own the slab.
        unsafe {
            let class = s.local(|l| l.class as usize);
            s.local(|l| l.tls = local.free_list(class).cast());
        }
        local.owned_mut().insert(s, crate::front::mark::key());
        let ss = s
            .data()
            .map_addr(|a| a & !crate::config::SUPERSLAB_MASK)
            .cast::<SuperSlab>();
        // SAFETY: the SuperSlab of a slab we own is live and registered: the generation read now
        // is current.
        local.hint.insert(ss, unsafe { (*ss).generation() });
    }
}

/// Takes a slab this heap is about to give up (unbind or publish) out of its owned-slab table.
#[inline]
fn disown_slab(local: &mut HeapLocal, s: *mut Slab) {
    if OWNED_TABLE {
        // SAFETY: slab metadata is never unmapped.
        local.owned_mut().remove(unsafe { &*s });
    }
}

/// Unbinds an empty slab, empty since `emptied_at`, and gives it back to the pool.
///
/// # Safety
/// The caller owns `s`, it is on no list and nothing is out.
unsafe fn release_slab(s: *mut Slab, emptied_at: Stamp) {
    // SAFETY: per the contract.
    unsafe {
        let class = (*s).local(|l| l.class) as usize;
        (*s).unbind();
        pool::release_slab_at(&*s, class, emptied_at);
    }
    GLOBALS.slabs_released.bump_shared();
    stats::footprint_sub(SLAB_SIZE);
}

/// The slab holding block `b` (blocks never live in slab 0).
#[inline(always)]
fn slab_of(b: NonNull<Block>) -> *mut Slab {
    let ss = b
        .as_ptr()
        .map_addr(|a| a & !crate::config::SUPERSLAB_MASK)
        .cast::<SuperSlab>();
    let idx = SuperSlab::slab_index(b.as_ptr() as usize);
    // SAFETY: `ss` is the header of the SuperSlab holding `b` (blocks only come from our slabs).
    unsafe { core::ptr::addr_of_mut!((*ss).slabs[idx]) }
}

/// Returns one block from a TLS list to its slab, updating the owner lists.
///
/// # Safety
/// `b` came from a TLS list of `local`'s heap, of class `c`.
#[inline]
unsafe fn return_block(me: *const Owner, local: &mut HeapLocal, c: usize, b: NonNull<Block>) {
    let s = slab_of(b);
    // A kept block of a slab this heap does not own (front/foreign.rs) goes to its remote queue.
    // SAFETY: slab metadata is never unmapped; the block is ours and counted in its slab's `used`.
    if FOREIGN_ENTRIES && unsafe { !(*s).is_owned_by(me) } {
        // SAFETY: as above; the block leaves this thread's list, freed and marked already.
        return unsafe { (*s).free_remote(b, env::force_notify()) };
    }
    // SAFETY: TLS lists only hold blocks of slabs this heap owns.
    unsafe { returned(local, c, s, (*s).put_local(b)) }
}

/// Returns the first `n` blocks of the chain at `head` (linked through `Block::next`) to their
/// slabs, a run of consecutive blocks of one slab at a time (`Slab::put_local_chain`: one splice
/// and one owner-list update per run, where `return_block` pays both per block); returns the
/// rest of the chain (`config::SPILL_RUNS`).
///
/// # Safety
/// The chain's first `n` blocks (or all of them, if it is shorter) came off a TLS list of
/// `local`'s heap, of class `c`.
unsafe fn return_blocks(
    me: *const Owner,
    local: &mut HeapLocal,
    c: usize,
    head: BlockPtr,
    n: usize,
) -> BlockPtr {
    let mut rest = head;
    let mut left = n;
    let mut foreign = 0;
    // SAFETY: per the contract: `left` more blocks are linked from `rest`, each of a slab this
    // heap owns.
    unsafe {
        while left > 0 {
            let Some(first) = NonNull::new(rest) else {
                break;
            };
            let s = slab_of(first);
            let at = first.as_ptr() as usize;
            let mut last = first;
            let mut k = 1;
            rest = Block::next(first);
            while k < left {
                let Some(b) = NonNull::new(rest) else { break };
                // Same slab: the same SuperSlab and slab index, i.e. every address bit from
                // `SLAB_SHIFT` up equal (`slab_of`), one xor and compare.
                if (b.as_ptr() as usize ^ at) >= SLAB_SIZE {
                    break;
                }
                last = b;
                rest = Block::next(b);
                k += 1;
            }
            left -= k;
            // A run of kept blocks of a slab this heap does not own (front/foreign.rs) goes to
            // its slab's remote queue.
            if FOREIGN_ENTRIES && !(*s).is_owned_by(me) {
                (*s).free_remote_chain(first, last, k as u32, env::force_notify());
                foreign += k;
                continue;
            }
            let used = (*s).put_local_chain(first, last, k as u32);
            // `config::SPILL_RETURN_SKIP`: a slab that still has blocks out and is not on the
            // full list stays where it is (`returned`'s last arm), without the call.
            if SPILL_RETURN_SKIP && used != 0 && (*s).local(|l| l.list) != ListKind::Full {
                continue;
            }
            returned(local, c, s, used);
        }
    }
    if FOREIGN_ENTRIES {
        // Kept blocks spilled unreused: the class may back off (front/foreign.rs).
        local.keep.spilled(c, n - left, foreign);
    }
    rest
}

/// The owner lists after blocks went back to slab `s` of class `c`, which now has `used` out.
///
/// # Safety
/// `s` is a slab `local`'s heap owns, of class `c`.
#[inline]
unsafe fn returned(local: &mut HeapLocal, c: usize, s: *mut Slab, used: u32) {
    // SAFETY: per the contract.
    unsafe {
        let kind = (*s).local(|l| l.list);
        if used == 0 && kind != ListKind::Current && (*s).pinned_keep() {
            // Another thread's table pins it (front/foreign.rs): kept bound, on the partial list.
            if kind == ListKind::Full {
                local.list_remove(c, s);
                local.list_push(c, s, ListKind::Partial);
            }
        } else if used == 0 && kind != ListKind::Current {
            local.list_remove(c, s);
            disown_slab(local, s);
            release_slab(s, purge::now());
        } else if used == 0 {
            retire_current(local, c, s);
        } else if kind == ListKind::Full {
            local.list_remove(c, s);
            local.list_push(c, s, ListKind::Partial);
        }
    }
}

/// The current slab `s` of class `c` just emptied: on the clock (or, with the background purger,
/// to the pool at once).
///
/// # Safety
/// `local` is the calling thread's heap state and `s` its current slab of class `c`, empty.
unsafe fn retire_current(local: &mut HeapLocal, c: usize, s: *mut Slab) {
    // SAFETY: slab metadata is never unmapped.
    if purge::background_wanted() && !unsafe { (*s).pinned_keep() } {
        // SAFETY: per the contract; off the list, nothing out.
        unsafe {
            local.list_remove(c, s);
            disown_slab(local, s);
            release_slab(s, purge::now());
        }
        return;
    }
    local.retire(c, purge::now());
}

/// Gives the pool every retired current slab that is still empty and that `sweep` covers (the
/// others stay, or are dropped from `Retired` if they were used again), then purges them (their
/// stamps say they are due). Called when the heap binds a new slab; cheap when nothing is
/// retired.
///
/// # Safety
/// `local` is the calling thread's heap state.
unsafe fn release_retired(local: &mut HeapLocal, sweep: Sweep) {
    // SAFETY: the calling thread's heap state; each slab given is ours, empty and off the lists.
    let released = unsafe {
        local.release_retired(0..NUM_CLASSES, sweep, |local, cur, at| {
            if (*cur).pinned_keep() {
                // Pinned (front/foreign.rs): kept bound, on the partial list.
                let c = (*cur).local(|l| l.class as usize);
                local.list_push(c, cur, ListKind::Partial);
                return;
            }
            disown_slab(local, cur);
            release_slab(cur, at);
        })
    };
    if released {
        pool::purge(sweep);
    }
}

/// Spills a TLS list that exceeded its cap: keeps the `cap / 2` most recently freed blocks (hot in
/// cache) and returns the rest to their slabs. A list that holds a slab's whole free list (since
/// the last refill, `HeapLocal::taken`; `config::WHOLE_FREE_LIST`) never walks the blocks the
/// refill took back to the slab: its first spill returns only the block just freed, in O(1), and
/// (`config::SPILL_TOP`) raises the list's cap by a batch; each later spill returns the batch freed
/// since (the list's top), so a run of frees costs one call per batch, not one per free. Pops
/// bring the list down; the refill that finds it empty restores the class's cap.
///
/// # Safety
/// `h` is the calling thread's live heap.
#[cold]
#[inline(never)]
pub unsafe extern "C" fn spill(h: &Heap, c: usize) {
    let _busy = h.busy();
    // The spill's change of the lists' rooms is no free (`config::DERIVED_FREE_COUNT`).
    // SAFETY: per the contract.
    let frees = unsafe { h.rooms_now(c) };
    // SAFETY: per the contract.
    unsafe { spill_lists(h, c) };
    // SAFETY: per the contract.
    unsafe { h.settle_now(c, frees) };
}

/// `spill`'s work.
///
/// # Safety
/// As for `spill`.
#[inline(always)]
unsafe fn spill_lists(h: &Heap, c: usize) {
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    local.mark_active(c);
    let cap = local.cap(c);
    let keep = batch(cap);
    h.counters.spills.bump();
    if TLS_SLOW_START {
        local.limits.spilled(c);
    }
    if FOREIGN_ENTRIES && local.owned().foreign_any() {
        local.owned_mut().drop_released();
    }
    // SAFETY: the list frees push on (a profiled heap's free side) is one of the heap's own.
    let t = unsafe { &mut *local.free_list(c) };
    if SPILL_TOP
        && local.taken[c]
        && !(PROF_FREE_SIDE && !PROF_SPILL_TOP && local.profiled)
        && t.cap != cap
    {
        // A later spill of a list holding a slab's whole free list: its cap was raised by `keep`
        // when it was `cap - keep` long, so (pops only shorten a stack, pushes only add on top)
        // its top `keep + 1` blocks were all freed since — recently, so hot in cache. They go
        // back, the taken blocks below stay, and the next `keep` frees fit again. A profiled
        // heap's free side (`config::PROF_SPILL_TOP`) may carry a cap raised before its last
        // swap: it has only been pushed on since, and `len > cap > keep` all the same.
        let n = keep + 1;
        let mut rest = t.head;
        t.set_len(t.len() - n);
        // SAFETY: the list holds more than `n` well-linked blocks of our own slabs.
        unsafe {
            if SPILL_RUNS {
                rest = return_blocks(h.owner_ptr(), local, c, rest, n);
            } else {
                for _ in 0..n {
                    let b = NonNull::new_unchecked(rest);
                    rest = Block::next(b);
                    return_block(h.owner_ptr(), local, c, b);
                }
            }
            let t = &mut *local.free_list(c);
            t.head = rest;
        }
        return;
    }
    if WHOLE_FREE_LIST && local.taken[c] {
        // SAFETY: the list holds more than `cap >= 1` well-linked blocks of our own slabs.
        unsafe {
            let b = NonNull::new_unchecked(t.head);
            t.head = Block::next(b);
            t.set_len(t.len() - 1);
            if SPILL_TOP && !(PROF_FREE_SIDE && !PROF_SPILL_TOP && local.profiled) {
                // The first such spill: the next `keep` frees gather on top (see above).
                let len = t.len();
                t.cap = (len + keep) as u32;
                t.set_len(len);
            }
            return_block(h.owner_ptr(), local, c, b);
        }
        return;
    }
    let mut last = t.head;
    // SAFETY: the list is ours and longer than `keep`.
    unsafe {
        for _ in 1..keep {
            last = Block::next(NonNull::new_unchecked(last));
        }
        let last = NonNull::new_unchecked(last);
        let mut rest = Block::next(last);
        Block::set_next(last, core::ptr::null_mut());
        let spilled = t.len() - keep;
        t.set_len(keep);
        if SPILL_RUNS {
            let end = return_blocks(h.owner_ptr(), local, c, rest, spilled);
            debug_assert!(end.is_null(), "TLS list longer than its length");
            return;
        }
        while let Some(b) = NonNull::new(rest) {
            rest = Block::next(b);
            return_block(h.owner_ptr(), local, c, b);
        }
    }
}

/// Returns every TLS block of every class to its slab and drains the owned slabs' remote queues.
/// Slabs left with nothing out go back to the pool. With `publish`, every other owned slab is
/// published (thread exit); otherwise the heap keeps them (`collect`).
///
/// Without `tls` (a forked child taking over a dead heap, `thread::take_over_dead_heaps`), the TLS
/// lists are left alone: their blocks stay counted as out in their slabs (leaked). With
/// `abandon` (the takeover too, `config::TAKEOVER_SKIPS_TABLE`) the heap is never used again
/// (`BOUND_TAKEN`), so its owned-slab table is not kept: no entry removed per slab and no clear
/// at the end (only the foreign pins are dropped, which hold other heaps' slabs). The table's
/// pages are the parent's, shared copy on write; each write there would copy one.
///
/// # Safety
/// `h` is the calling thread's live heap (or an exiting thread's, or a quiescent heap of a thread
/// that did not survive a fork, which nothing else uses).
pub unsafe fn flush(h: &Heap, publish: bool, tls: bool, abandon: bool) {
    // SAFETY: per the contract.
    let local = unsafe { h.local_mut() };
    if FOREIGN_ENTRIES {
        if publish && FOREIGN_UNPIN_PUBLISHED {
            // This thread's pins end with it: their slabs' blocks go back to their owners,
            // not to the next thread that frees one (config::FOREIGN_UNPIN_PUBLISHED).
            local.owned_mut().drop_foreign_where(|s| {
                s.unpin_wanted();
                true
            });
        } else {
            local.owned_mut().drop_all_foreign();
        }
    }
    // Every empty slab is released below, the retired current ones included.
    local.clear_retired(0..NUM_CLASSES);
    #[allow(clippy::needless_range_loop)] // `c` indexes the TLS lists and PUBLISHED alike
    for c in 0..NUM_CLASSES {
        if !tls {
            // SAFETY: per the contract.
            unsafe { flush_slabs(local, c, publish, abandon) };
            continue;
        }
        // The TLS list's blocks were debited from the class countdown, never handed out.
        local.credit(c, local.tls[c].len());
        // Returning the blocks is no free (`config::DERIVED_FREE_COUNT`).
        let frees = h.rooms(local, c);
        // The TLS list, then a profiled heap's free side (front/profiling.rs).
        for side in 0..2 {
            let t = if side == 0 {
                &mut local.tls[c]
            } else {
                &mut local.freed[c]
            };
            let mut b = core::mem::replace(&mut t.head, core::ptr::null_mut());
            t.set_len(0);
            while let Some(blk) = NonNull::new(b) {
                // SAFETY: blocks of our own TLS lists.
                unsafe {
                    b = Block::next(blk);
                    return_block(h.owner_ptr(), local, c, blk);
                }
            }
        }
        h.settle(local, c, frees);
        // SAFETY: per the contract.
        unsafe { flush_slabs(local, c, publish, abandon) };
    }
    if publish {
        h.owner.clear();
        local.hint.clear();
        if !abandon {
            local.owned_mut().clear();
        }
    }
}

/// `flush`'s part for class `c`'s owned slabs: each one's remote queue drained; an empty one
/// released, any other published (with `publish`) or kept; taken out of the owned-slab table
/// unless `abandon` (see `flush`).
///
/// # Safety
/// As for `flush`; `local` is the heap's local state.
unsafe fn flush_slabs(local: &mut HeapLocal, c: usize, publish: bool, abandon: bool) {
    let cs = local.slabs[c];
    for mut s in [cs.cur, cs.partial, cs.full] {
        while !s.is_null() {
            // SAFETY: slabs on our lists are ours.
            unsafe {
                let next = list::next(s);
                let next = if (*s).local(|l| l.list) == ListKind::Current {
                    core::ptr::null_mut()
                } else {
                    next
                };
                (*s).drain_remote();
                if (*s).used() == 0 && !(*s).pinned_keep() {
                    local.list_remove(c, s);
                    if !abandon {
                        disown_slab(local, s);
                    }
                    release_slab(s, purge::now());
                } else if publish {
                    local.list_remove(c, s);
                    if !abandon {
                        disown_slab(local, s);
                    }
                    (*s).trace(crate::trace::Event::Publish, s as usize, c);
                    if FOREIGN_UNPIN_PUBLISHED {
                        (*s).unpin_wanted();
                    }
                    PUBLISHED[c].publish(&*s);
                    GLOBALS.publishes.bump_shared();
                }
                s = next;
            }
        }
    }
}

static RECLAIM_CURSOR: AtomicUsize = AtomicUsize::new(0);

/// Reclaim pass: examines up to `budget` published slabs, class by class starting where the last
/// pass stopped, and gives the emptied ones back to the pool. Any thread may run it, with a heap
/// or without: it holds slabs under `RECLAIMER`, never under the caller's heap (see there).
pub fn reclaim(budget: usize) -> usize {
    // ORDERING: Relaxed — a round-robin starting point; any value is correct.
    let start = RECLAIM_CURSOR.fetch_add(1, Ordering::Relaxed);
    let mut released = 0;
    let mut left = budget;
    for k in 0..NUM_CLASSES {
        if left == 0 {
            break;
        }
        let c = (start + k) % NUM_CLASSES;
        // SAFETY: reclaimed slabs are unbound and empty.
        let (seen, rel) = PUBLISHED[c].reclaim(&RECLAIMER, left, |s| unsafe {
            s.trace(crate::trace::Event::Reclaim, s as *const Slab as usize, c);
            pool::release_slab(s, c);
            GLOBALS.slabs_released.bump_shared();
            GLOBALS.reclaims.bump_shared();
            stats::footprint_sub(SLAB_SIZE);
        });
        released += rel;
        left -= seen;
    }
    released
}
