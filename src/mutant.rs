//! The seeded mutants of the loom models, in one place. `scripts/loom.sh` builds the crate with
//! `--cfg hakmem_mutant="<name>"` and checks that the models claiming a mutant catch it
//! (docs/verification.md). Each mutant is a named constant the shipped code reads at the exact
//! site: an ordering, which is the correct one unless its mutant is selected, or a flag selecting
//! the mutated behaviour through a plain `if` (both arms always compile; the dead one costs
//! nothing). Nothing else in the crate names `hakmem_mutant`.
//!
//! Boundary: constants only; depends on `sync` for `Ordering`.

use crate::sync::Ordering::{self, AcqRel, Acquire, Relaxed, Release};

/// `correct`, or `Relaxed` when the mutant is selected.
const fn ordering(mutated: bool, correct: Ordering) -> Ordering {
    if mutated {
        Relaxed
    } else {
        correct
    }
}

/// Success ordering of `RemoteQueue::push`'s CAS (mutant `remote_push_relaxed`).
pub const REMOTE_PUSH: Ordering = ordering(cfg!(hakmem_mutant = "remote_push_relaxed"), AcqRel);
/// Ordering of `RemoteQueue::take_all`'s swap (mutant `take_all_relaxed`).
pub const TAKE_ALL: Ordering = ordering(cfg!(hakmem_mutant = "take_all_relaxed"), AcqRel);
/// Ordering of `Owner::notify`'s `fetch_or` (mutant `notify_relaxed`).
pub const NOTIFY: Ordering = ordering(cfg!(hakmem_mutant = "notify_relaxed"), Release);
/// Success ordering of `prof::slots::SlotMask::claim`'s CAS (mutant `slot_claim_relaxed`).
pub const SLOT_CLAIM: Ordering = ordering(cfg!(hakmem_mutant = "slot_claim_relaxed"), Acquire);
/// Success ordering of the ownership CAS in `Slab::try_acquire` (mutants `acquire_cas_relaxed`,
/// and `acquire_cas_no_release`: Acquire alone, the ordering before session 19's loom20).
pub const ACQUIRE_CAS: Ordering = if cfg!(hakmem_mutant = "acquire_cas_no_release") {
    Acquire
} else {
    ordering(cfg!(hakmem_mutant = "acquire_cas_relaxed"), AcqRel)
};
/// Ordering of `Slab::release_ownership`'s store (mutant `release_ownership_relaxed`).
pub const RELEASE_OWNERSHIP: Ordering =
    ordering(cfg!(hakmem_mutant = "release_ownership_relaxed"), Release);
/// Ordering of `Slab::bind`'s store of the owner (mutant `bind_owner_relaxed`).
pub const BIND_OWNER: Ordering = ordering(cfg!(hakmem_mutant = "bind_owner_relaxed"), Release);
/// Ordering of `Slab::free_remote_chain`'s load of the owner (mutant `free_remote_owner_relaxed`).
pub const FREE_REMOTE_OWNER: Ordering =
    ordering(cfg!(hakmem_mutant = "free_remote_owner_relaxed"), Acquire);
/// Success ordering of `list::PushList::push`'s CAS (mutant `push_list_relaxed`).
pub const PUSH_LIST: Ordering = ordering(cfg!(hakmem_mutant = "push_list_relaxed"), Release);
/// Success ordering of `list::OncePtr::install`'s CAS (mutant `once_install_relaxed`).
pub const ONCE_INSTALL: Ordering = ordering(cfg!(hakmem_mutant = "once_install_relaxed"), Release);
/// Ordering of `list::Seal::seal`'s store (mutant `seal_relaxed`).
pub const SEAL: Ordering = ordering(cfg!(hakmem_mutant = "seal_relaxed"), Release);
/// Success ordering of the leaf-installing CAS in `registry::Table::register` (mutant
/// `registry_leaf_relaxed`).
pub const REGISTRY_LEAF_INSTALL: Ordering =
    ordering(cfg!(hakmem_mutant = "registry_leaf_relaxed"), Release);
/// Ordering of `registry::Table::register`'s store of the region (mutant `registry_slot_relaxed`).
pub const REGISTRY_SLOT: Ordering =
    ordering(cfg!(hakmem_mutant = "registry_slot_relaxed"), Release);

/// `RemoteQueue::push` reports "first" from its initial guess of the head instead of the value
/// its CAS replaced.
pub const PUSH_FIRST_STALE: bool = cfg!(hakmem_mutant = "push_first_stale");
/// `Slab::try_acquire` checks, then stores, instead of one CAS.
pub const ACQUIRE_PLAIN_STORE: bool = cfg!(hakmem_mutant = "acquire_plain_store");
/// `PublishList::publish` pushes the slab before releasing ownership.
pub const PUBLISH_BEFORE_RELEASE: bool = cfg!(hakmem_mutant = "publish_before_release");
/// `HintCache::lookup` trusts an entry without comparing generations.
pub const SKIP_GENERATION_CHECK: bool = cfg!(hakmem_mutant = "skip_generation_check");
/// `SuperSlab::bump_generation` does not bump.
pub const NO_GENERATION_BUMP: bool = cfg!(hakmem_mutant = "no_generation_bump");
/// `span::release` caches the span before unbinding its slab.
pub const SPAN_CACHE_BEFORE_UNBIND: bool = cfg!(hakmem_mutant = "span_cache_before_unbind");
/// `span::retire_or_publish` publishes before draining the remote queue.
pub const SPAN_PUBLISH_BEFORE_DRAIN: bool = cfg!(hakmem_mutant = "span_publish_before_drain");
/// `Slab::pinned_keep` answers "not pinned" whatever the pin count: holders release pinned
/// slabs.
pub const UNPINNED_RELEASE: bool = cfg!(hakmem_mutant = "unpinned_release");
/// `Slab::bound_class` reads the holder-only `SlabLocal::class` (what `realloc` read before
/// proof27): a pinner reading its foreign entry's class touches the holder's cell while the holder
/// works in it (loom `foreign_class.rs`: "Causality violation").
pub const BOUND_CLASS_LOCAL: bool = cfg!(hakmem_mutant = "bound_class_local");
/// `SpanCache::purge` purges a committed span while it is still on the cache's list, where a
/// taker may already have it (instead of detaching it under the lock first).
pub const SPAN_PURGE_ON_LIST: bool = cfg!(hakmem_mutant = "span_purge_on_list");
/// A freer that does not hold the span clears its sampled block's bit with a plain load and
/// store, as the holder does (`span::SampledBits::clear_freed`): a concurrent mark by the holder
/// can be lost.
pub const SAMPLED_REMOTE_PLAIN_CLEAR: bool = cfg!(hakmem_mutant = "sampled_remote_plain_clear");
/// `SlotMask::claim` sets the slot's bit with a load and a store instead of one CAS: two
/// claimers can take one slot.
pub const SLOT_CLAIM_PLAIN_STORE: bool = cfg!(hakmem_mutant = "slot_claim_plain_store");
/// `registry::Table::register` installs a missing leaf with a load and a store instead of one
/// CAS: two installers of one leaf both install, and the earlier one's registration is lost.
pub const REGISTRY_LEAF_PLAIN_STORE: bool = cfg!(hakmem_mutant = "registry_leaf_plain_store");
/// `PublishList::reclaim` gives an emptied slab back (`release`) before unlinking and unbinding
/// it: the pool's next taker binds it while the pass still writes its links and state.
pub const RECLAIM_RELEASE_BEFORE_UNLINK: bool =
    cfg!(hakmem_mutant = "reclaim_release_before_unlink");
/// `remote_batch::start` copies the slab's carve limit from the holder's cell
/// (`SlabLocal::carve_limit`, the same fused bound) instead of deriving it from the shared
/// `Slab::carve_bound`: a consumer starting a batch reads the cell the slab's holder writes in
/// every carve, drain and local free (loom `batch.rs`: "Causality violation").
pub const BATCH_CARVE_LOCAL: bool = cfg!(hakmem_mutant = "batch_carve_local");
