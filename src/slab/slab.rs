//! Slab: one `SLAB_SIZE` piece of a SuperSlab, bound to one size class and one owner thread. The
//! same metadata describes a medium span (`span`): then `data` is the span's first block, the
//! class is a medium class id and the capacity is the span's (`size_class::blocks_per_slab`).
//!
//! Boundary: the slab's own state and the operations on it. Shared state (`owner`, `remote`,
//! `class`) may be touched by any thread through atomics; local state (free list, carve cursor,
//! counts, list links) belongs to whoever holds the slab — its owner, or the holder of the
//! publish list / pool lock while it is unowned — and lives in a `sync::UnsafeCell`.
//!
//! Invariants (the conservation equation, relied on by `Slab::is_empty` and the release decision
//! in the small-class refill/spill and thread-exit code (`front::small`)):
//! - `capacity == (capacity - carved) + |free| + used`
//! - `used == live blocks + blocks in TLS lists + blocks in the remote queue + |pending|`
//! - `owner != null` ⇔ the slab is bound and held by that heap; `owner == null` while free in the
//!   pool or published.

use core::ptr::NonNull;

use crate::config::{CARVE_BYTES, CARVE_MIN_BLOCKS, CARVE_PAGE, VALIDATE};
use crate::debug::{fatal, Where};
use crate::list::{self, Links};
use crate::mutant;
use crate::remote::{Owner, RemoteQueue};
use crate::size_class::{block_index, blocks_per_slab, class_size, TOTAL_CLASSES};
use crate::slab::block::{Block, BlockPtr};
use crate::stats::GLOBALS;
use crate::sync::{AtomicPtr, AtomicU32, Ordering, UnsafeCell};
use crate::trace::{self, Event};

/// Sentinel class of an unbound slab.
pub const NO_CLASS: u32 = u32::MAX;

/// What `Slab::debug_check` counted (the terms of the conservation equation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlabCensus {
    pub capacity: usize,
    pub carved: usize,
    /// Blocks on the local free list.
    pub free: usize,
    /// Blocks out: live, on a TLS list, or in the remote queue.
    pub used: usize,
    /// Blocks in the remote queue, or taken from it and not yet handed out (`SlabLocal::pending`).
    pub remote: usize,
}

/// Which owner list holds the slab (owner-local bookkeeping).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum ListKind {
    None = 0,
    Current = 1,
    Partial = 2,
    Full = 3,
}

/// State that only the slab's holder touches.
pub struct SlabLocal {
    pub free: BlockPtr,
    /// Blocks `take_remote` took from the remote queue and `take_batch` has not handed out yet: a
    /// chain linked through `Block::next`, counted in `used` as queued blocks are, and counted
    /// (`CHECKED`: checked block by block) as `take_batch` hands them out — so the owner walks a drained block once,
    /// on its way to the TLS list, instead of once to drain it and again to take it.
    pub pending: BlockPtr,
    /// How many blocks the pending chain holds: the count the remote queue's pushes kept, less
    /// what `take_batch` handed out since. A longer chain (a cycle: a block queued twice) or a
    /// shorter one (a link overwritten after the free) is reported as corruption.
    pub pending_left: u32,
    /// `floor(2^64 / class size) + 1` (`divisor_of`): `off` (< 2^32) is a multiple of the class
    /// size iff `off * divisor < divisor` (wrapping; Lemire, Kaser and Kurz 2019), without a table
    /// load.
    pub divisor: u64,
    pub carved: u32,
    /// `carved * class size`: offsets below it are carved blocks.
    pub carved_end: u32,
    /// `carved * excess`, where `excess = class size * divisor - 2^64` (in `1..=class size`):
    /// `off * divisor` (wrapping) is below it iff `off` is a block boundary below `carved_end` —
    /// the free fast path's block check in one multiply and one compare (`is_carved_block`,
    /// `config::FUSED_BLOCK_CHECK`).
    pub carve_limit: u64,
    /// Header mode: `header::tag(class)`, what the free fast path expects in front of a user
    /// pointer (the path of the 16-byte table entry, `--cfg hakmem_no_header_entry`, reads it).
    pub header_word: u64,
    /// The owner's TLS list of the slab's class, for the free fast path; set by the owner when
    /// it enters the slab in its owned-slab table (front/owned.rs), meaningless otherwise. Opaque
    /// here: the front end, above this box, owns the type.
    pub tls: *mut (),
    pub capacity: u32,
    pub used: u32,
    pub class: u32,
    pub list: ListKind,
    /// Links of the owner list (`front::heap`) or publish list (`adopt`) holding the slab.
    pub links: Links<Slab>,
}

/// One slab's metadata. Lives in its SuperSlab's header.
#[repr(C, align(64))]
pub struct Slab {
    // Cache line 1 — the holder's: data, local state (and, under the backout
    // `hakmem_no_owner_remote_line`, the owner pointer).
    /// The owning heap, or null. Written by bind/publish (owner) and the adopt CAS.
    #[cfg(hakmem_no_owner_remote_line)]
    pub owner: AtomicPtr<Owner>,
    /// Start of the slab's blocks (slab-aligned).
    data: *mut u8,
    local: UnsafeCell<SlabLocal>,
    // Cache line 2 — remote freers': the queue head they CAS, the class and carve bound they
    // read, and the owner they compare (`config::OWNER_REMOTE_LINE`), kept off the line the owner
    // writes on every refill and spill (no false sharing): a remote free reads no other line of
    // the slab's record.
    _line: [CacheLine; 0],
    /// Blocks freed by other threads.
    pub remote: RemoteQueue,
    /// The owning heap, or null. Written by bind/publish (owner) and the adopt CAS; read by
    /// every free that is not the owner's fast path (the owner check) and by a remote freer's
    /// notification.
    #[cfg(not(hakmem_no_owner_remote_line))]
    pub owner: AtomicPtr<Owner>,
    /// The bound class (`NO_CLASS` when free); read by any thread freeing into the slab.
    pub class: AtomicU32,
    /// `carved_end`, shared: offsets below it are carved blocks. Written by the holder when it
    /// carves (`take_batch`) and binds, read by remote freers, whose block check it bounds
    /// (`front::free::free_remote`), so that a block on the remote queue is a carved one before
    /// the owner takes it unwalked (`take_remote`). Only grows while the slab is bound (a bind
    /// resets it, and a slab with a block out is never unbound), so a freer of a block handed
    /// out from this binding reads a bound at or past that block.
    pub carve_bound: AtomicU32,
    /// Foreign entries (front/foreign.rs): how many threads' owned-slab tables hold this slab
    /// without owning it (the low bits), and `PIN_RELEASE_WANTED`. A pinned slab is never
    /// unbound: `pinned_keep` before every release, and `unbind` checks it.
    pub pins: AtomicU32,
}

/// Bumped whenever a holder keeps a pinned slab it would release, so that pinners scan their
/// pins only after such an event (`front::owned::OwnedSlabs::drop_released`).
pub static PIN_WANTED_EPOCH: crate::sync::plain::AtomicUsize =
    crate::sync::plain::AtomicUsize::new(0);

/// The bit of `Slab::pins` a holder sets when it would release the slab (`pinned_keep`).
pub const PIN_RELEASE_WANTED: u32 = 1 << 31;

/// `floor(2^64 / size) + 1`, the slab's `divisor` for blocks of `size` bytes (`2 <= size <=
/// 2^31`): `off * divisor mod 2^64` is `k * excess` for `off = k * size`, where `excess = size *
/// divisor - 2^64` is in `1..=size`, and at least `divisor` when `size` does not divide `off`.
/// Proof, for `off = k * size + r < 2^32`, `0 <= r < size`: the product is `k * (2^64 + excess)
/// plus r * divisor`, and `k * excess + r * divisor <= off + (size - 1) * divisor`, which is
/// `2^64 - (divisor - excess - off) < 2^64` because `divisor > 2^33 > excess + off`: nothing
/// wraps but the `k * 2^64`. (`ceil`, the classic choice, gives `excess = 0` for a power of two,
/// where the product then no longer tells `k`.)
pub const fn divisor_of(size: usize) -> u64 {
    ((1u128 << 64) / size as u128 + 1) as u64
}

/// `carved * excess` (see `divisor_of`): the one bound `off * divisor` (wrapping) is compared
/// with to tell a carved block boundary (`Slab::is_carved_block`): below it iff `r == 0` (else
/// the product is at least `divisor`, above any `carved * excess <= 2^32`) and `k < carved`.
#[inline]
pub fn carve_limit_of(carved: u32, size: usize, divisor: u64) -> u64 {
    u64::from(carved) * (size as u64).wrapping_mul(divisor)
}

/// What `Slab::take_remote` did with the remote queue.
pub enum RemoteTake {
    /// The queue was empty.
    Empty,
    /// The queue is the pending chain now, for `take_batch` to hand out (and check).
    Pending,
    /// The queue's `count` blocks, linked from `head` through `Block::next` (the last link
    /// null), unwalked: the caller's now, still counted in `used`.
    Chain(NonNull<Block>, u32),
}

/// Zero-sized marker whose alignment starts a new cache line in a `repr(C)` struct.
#[repr(align(64))]
struct CacheLine;

#[cfg(not(hakmem_loom))]
const _: () = {
    assert!(core::mem::offset_of!(Slab, remote) % 64 == 0);
    assert!(
        core::mem::offset_of!(Slab, remote) >= 64,
        "remote line apart from the holder's"
    );
    assert!(
        crate::config::OWNER_REMOTE_LINE
            == (core::mem::offset_of!(Slab, owner) / 64
                == core::mem::offset_of!(Slab, remote) / 64),
        "the owner pointer on the remote freers' line (config::OWNER_REMOTE_LINE)"
    );
};

// SAFETY: shared fields are atomics; `local` is only accessed by the slab's holder, a role handed
// between threads only through Release/Acquire pairs (bind/publish store, adopt CAS, pool and
// publish-list locks), so there is never a concurrent access to it.
unsafe impl Sync for Slab {}
// SAFETY: as above.
unsafe impl Send for Slab {}

impl list::Node for Slab {
    /// # Safety
    /// The caller is the slab's holder (see `local`).
    #[inline(always)]
    unsafe fn links<R>(node: *mut Self, f: impl FnOnce(&mut Links<Self>) -> R) -> R {
        // SAFETY: per the contract.
        unsafe { (*node).local(|l| f(&mut l.links)) }
    }
}

impl Slab {
    /// A free, unbound slab whose blocks start at `data`.
    pub fn new(data: *mut u8) -> Self {
        if (data.addr() as u64) >> crate::remote::ADDR_BITS != 0 {
            // The remote queue's head word holds block addresses in 48 bits.
            fatal(
                "slab",
                "slab mapped above the 48-bit address range the remote queue can hold",
                Where::ptr(data.addr()),
            );
        }
        Self {
            owner: AtomicPtr::new(core::ptr::null_mut()),
            _line: [],
            remote: RemoteQueue::new(),
            class: AtomicU32::new(NO_CLASS),
            carve_bound: AtomicU32::new(0),
            pins: AtomicU32::new(0),
            data,
            local: UnsafeCell::new(SlabLocal {
                free: core::ptr::null_mut(),
                pending: core::ptr::null_mut(),
                pending_left: 0,
                divisor: 0,
                carved: 0,
                carved_end: 0,
                carve_limit: 0,
                header_word: 0,
                tls: core::ptr::null_mut(),
                capacity: 0,
                used: 0,
                class: NO_CLASS,
                list: ListKind::None,
                links: Links::new(),
            }),
        }
    }

    #[inline(always)]
    pub fn data(&self) -> *mut u8 {
        self.data
    }

    /// Runs `f` on the holder-only state.
    ///
    /// # Safety
    /// The caller is the slab's holder (owner, or holder of the lock of the list that holds it).
    #[inline(always)]
    pub unsafe fn local<R>(&self, f: impl FnOnce(&mut SlabLocal) -> R) -> R {
        // SAFETY: the caller is the only thread touching `local` (see the contract).
        self.local.with_mut(|p| f(unsafe { &mut *p }))
    }

    /// Binds a free slab to `class` and makes `owner` its owner (the "bind" and "owner acquire"
    /// steps of refill, for a slab fresh from the pool).
    ///
    /// # Safety
    /// The caller holds the slab (took it from the pool) and it is unbound.
    pub unsafe fn bind(&self, class: usize, owner: *const Owner) {
        // SAFETY: the caller holds the slab.
        unsafe {
            self.local(|l| {
                l.free = core::ptr::null_mut();
                l.pending = core::ptr::null_mut();
                l.pending_left = 0;
                l.divisor = divisor_of(class_size(class));
                l.carved = 0;
                l.carved_end = 0;
                l.carve_limit = 0;
                l.header_word = crate::slab::header::tag(class);
                l.capacity = blocks_per_slab(class) as u32;
                l.used = 0;
                l.class = class as u32;
                l.list = ListKind::None;
                l.links = Links::new();
            })
        };
        // ORDERING: Relaxed — readers of `class` reach this slab only through a block handed out
        // after this point, and that hand-off synchronises.
        self.class.store(class as u32, Ordering::Relaxed);
        // ORDERING: Relaxed — as `class`: a freer of a block of this binding reads this or a
        // later (larger) bound.
        self.carve_bound.store(0, Ordering::Relaxed);
        // ORDERING: Release — publishes the local state above to any later adopter (pairs with
        // the Acquire adopt CAS) and the class to remote freers that read the owner; and the heap
        // behind `owner` (made by this thread) to a freer whose block belonged to an earlier
        // binding and who loads the owner after this rebind: it has no other edge to this heap
        // (loom `rebind.rs`, mutant `bind_owner_relaxed`).
        self.owner.store(owner as *mut Owner, mutant::BIND_OWNER);
        self.trace(Event::Bind, owner as usize, class);
    }

    /// The slab's structural validator (mimalloc's `_mi_page_is_valid`): walks the local free
    /// list and the remote queue and checks the conservation equation at the top of this file —
    /// `capacity == (capacity - carved) + |free| + used`, and `|remote| <= used` (the rest of
    /// `used` is live or on TLS lists, which the heap's check counts) — plus the bound class
    /// against the size classes, the fast path's carve bound, and that every free block is a
    /// block boundary of the carved area. Aborts (`fatal`, box "slab") on the first violation.
    /// Run at the boundaries where a slab changes hands when `VALIDATE` is on, and by the tests.
    ///
    /// # Safety
    /// The caller holds the slab, and it is bound.
    pub unsafe fn debug_check(&self) -> SlabCensus {
        // SAFETY: the caller holds the slab, so its local state and remote queue are its to walk.
        unsafe {
            self.local(|l| {
                let class = l.class as usize;
                let bad = |what: &str| -> ! {
                    fatal("slab", what, self.whereis(self.data as usize, class))
                };
                // ORDERING: Relaxed — the holder wrote it (bind), or took the slab through an
                // Acquire that made the writer's store visible.
                if class >= TOTAL_CLASSES || self.class.load(Ordering::Relaxed) != l.class {
                    bad("bound class out of range or different from the shared class");
                }
                if l.capacity as usize != blocks_per_slab(class) || l.carved > l.capacity {
                    bad("capacity or carve cursor inconsistent with the class");
                }
                if l.carved_end as usize != l.carved as usize * class_size(class)
                    || l.carve_limit != carve_limit_of(l.carved, class_size(class), l.divisor)
                {
                    bad("carve bound of the free fast path differs from the carve cursor");
                }
                let mut free = 0usize;
                let mut cur = l.free;
                while let Some(b) = NonNull::new(cur) {
                    free += 1;
                    if free > l.carved as usize {
                        bad("free list longer than the carved blocks (cycle?)");
                    }
                    self.check_block("slab", b.as_ptr() as usize, class, l.carved as usize);
                    cur = Block::next(b);
                }
                if free + l.used as usize != l.carved as usize {
                    bad("conservation broken: free blocks + blocks out != carved blocks");
                }
                let Some(queued) = self.remote.count(self.data, l.used as usize) else {
                    bad("remote queue longer than the blocks out (cycle or double free)")
                };
                let mut pending = 0usize;
                let mut cur = l.pending;
                while let Some(b) = NonNull::new(cur) {
                    pending += 1;
                    if queued + pending > l.used as usize {
                        bad("pending and queued remote blocks exceed the blocks out (cycle?)");
                    }
                    self.check_block("slab", b.as_ptr() as usize, class, l.carved as usize);
                    cur = Block::next(b);
                }
                let remote = queued + pending;
                SlabCensus {
                    capacity: l.capacity as usize,
                    carved: l.carved as usize,
                    free,
                    used: l.used as usize,
                    remote,
                }
            })
        }
    }

    /// Records a boundary event about this slab in the event ring.
    #[inline]
    pub fn trace(&self, kind: Event, ptr: usize, class: usize) {
        if crate::config::TRACE {
            let w = self.whereis(ptr, class);
            trace::record(
                kind,
                ptr,
                w.superslab.unwrap_or(0),
                w.slab.unwrap_or(0),
                class,
                0,
            );
        }
    }

    /// The holder of an empty slab would release it: true (the release is then wanted) if
    /// another thread's table pins it, and the caller keeps it bound (front/foreign.rs).
    pub fn pinned_keep(&self) -> bool {
        if !crate::config::SLAB_PINS {
            return false;
        }
        // ORDERING: AcqRel — Acquire pairs with the Release `unpin`: a count of zero read here
        // means the unpinner's table no longer holds the slab. A pin is only added by a thread
        // holding a block of the slab, so it happens before that block's return, which the
        // caller's drain (Acquire) saw before finding the slab empty.
        let w = self.pins.fetch_or(PIN_RELEASE_WANTED, Ordering::AcqRel);
        let pinned = w & !PIN_RELEASE_WANTED != 0 && !crate::mutant::UNPINNED_RELEASE;
        if pinned {
            // ORDERING: Release — publishes the `PIN_RELEASE_WANTED` just set (above, in program
            // order) to a pinner whose scan reads this bump or a later one (the bumps are RMWs:
            // one release sequence) with `drop_released`'s Acquire load, so that the scan the
            // bump starts sees the mark. Relaxed (before session 28, proof28), a pinner on a
            // weakly ordered machine could read the new epoch and the old `pins` word, record
            // the epoch and keep its pin until some later bump anywhere in the process (or its
            // exit, `collect`, the entry's eviction). The same instruction on x86-64.
            PIN_WANTED_EPOCH.fetch_add(1, Ordering::Release);
        }
        pinned
    }

    /// The bound class, for a thread that holds a block of the slab or names it in its table
    /// without holding the slab (a foreign entry, front/foreign.rs): `realloc`'s read of the
    /// class of a block its table found (`front::alloc::entry_class`). The shared `class`, never
    /// `SlabLocal::class`, which is the holder's: the holder writes `local` on every refill,
    /// drain and spill, so a pinner's access to that cell is a data race on it (two `&mut
    /// SlabLocal` at once), whatever field it reads.
    ///
    /// Invariant (docs/design.md "Foreign entries": who writes a pinned slab's class; loom
    /// `foreign_class.rs`, mutant `bound_class_local`): the caller holds a live block of the slab
    /// (the block it reallocates), so the value read is its binding's. `class` is written only by
    /// `bind` and `unbind`. The bind happened before the block was handed out, and so before the
    /// caller got it (the program's hand-off synchronises); the next `unbind` needs `used == 0`,
    /// so it comes after the holder's Acquire drain of the caller's return of that block, which
    /// program order puts after this read, and after a `pinned_keep` (AcqRel) that finds the
    /// caller's pin gone (its Release `unpin` again after this read). No write to `class` is
    /// unordered with this load.
    #[inline(always)]
    pub fn bound_class(&self) -> usize {
        if mutant::BOUND_CLASS_LOCAL {
            // SAFETY: none — the mutant's access to the holder's cell by a non-holder, wrong by
            // design.
            return unsafe { self.local(|l| l.class as usize) };
        }
        // ORDERING: Relaxed — the value is ordered by the hand-off of the caller's block (see
        // the invariant above), not by this load.
        self.class.load(Ordering::Relaxed) as usize
    }

    /// A thread holding a block of this bound slab enters it in its table (front/foreign.rs).
    pub fn pin(&self) {
        // ORDERING: Relaxed — ordered before the block's return by program order and the
        // return's Release push (see `pinned_keep`).
        self.pins.fetch_add(1, Ordering::Relaxed);
    }

    /// The pinner's table no longer holds the slab.
    pub fn unpin(&self) {
        // ORDERING: Release — pairs with `pinned_keep`'s and `unbind`'s Acquire.
        self.pins.fetch_sub(1, Ordering::Release);
    }

    /// Its exiting owner publishes the slab (`small::flush`): if a table pins it, the release
    /// is marked wanted, so that the pinners drop their entries at their next scan
    /// (`OwnedSlabs::drop_released`) and the blocks they free go back on the slab's queue, for
    /// its adopter, instead of onto their own lists (config::FOREIGN_UNPIN_PUBLISHED).
    pub fn unpin_wanted(&self) {
        // ORDERING: Relaxed — a hint: a pinner that reads it late only keeps blocks longer; the
        // release itself is decided by `pinned_keep` (AcqRel), never here.
        if crate::config::SLAB_PINS {
            let w = self.pins.fetch_or(PIN_RELEASE_WANTED, Ordering::Relaxed);
            if w & !PIN_RELEASE_WANTED != 0 {
                // ORDERING: Release — as in `pinned_keep`: the scan this bump starts sees the
                // mark set just above.
                PIN_WANTED_EPOCH.fetch_add(1, Ordering::Release);
            }
        }
    }

    /// Whether the slab's holder wants it released (its pinners drop their pins).
    pub fn release_wanted(&self) -> bool {
        // ORDERING: Relaxed — a hint; dropping a pin early or late is only slower.
        self.pins.load(Ordering::Relaxed) & PIN_RELEASE_WANTED != 0
    }

    /// The holder uses the slab again: its release is no longer wanted.
    pub fn release_unwanted(&self) {
        if crate::config::SLAB_PINS {
            // ORDERING: Relaxed — a hint (see `release_wanted`).
            self.pins.fetch_and(!PIN_RELEASE_WANTED, Ordering::Relaxed);
        }
    }

    /// Marks a slab free again before it returns to the pool.
    ///
    /// # Safety
    /// The caller holds the slab and `used == 0`.
    pub unsafe fn unbind(&self) {
        if VALIDATE {
            // SAFETY: the caller holds the slab (unbinding an unbound one again changes nothing).
            let bound = unsafe { self.local(|l| l.class) } != NO_CLASS;
            // SAFETY: as above, and the slab is bound.
            if bound && unsafe { self.debug_check() }.used != 0 {
                fatal(
                    "slab",
                    "unbinding a slab with blocks out",
                    self.whereis(self.data as usize, 0),
                );
            }
        }
        if crate::config::SLAB_PINS {
            // ORDERING: Acquire — pairs with the Release `unpin` of the last pinner (the check
            // that a table naming the slab is gone; the caller's `pinned_keep` decided).
            let w = self.pins.swap(0, Ordering::Acquire);
            if w & !PIN_RELEASE_WANTED != 0 {
                fatal(
                    "slab",
                    "unbinding a pinned slab",
                    self.whereis(self.data as usize, 0),
                );
            }
        }
        // ORDERING: Relaxed — the slab goes back under the pool lock, whose Release publishes it.
        self.class.store(NO_CLASS, Ordering::Relaxed);
        // ORDERING: Relaxed — as above; no remote freer may exist for an empty slab.
        self.owner.store(core::ptr::null_mut(), Ordering::Relaxed);
        // SAFETY: the caller holds the slab.
        unsafe {
            self.local(|l| {
                l.class = NO_CLASS;
                l.free = core::ptr::null_mut();
                l.pending = core::ptr::null_mut();
                l.pending_left = 0;
                l.list = ListKind::None;
            })
        };
    }

    /// The ownership CAS of adopt: makes `me` the owner of an unowned (published) slab. Exactly
    /// one of several racing callers succeeds; a loser changes nothing.
    #[inline]
    pub fn try_acquire(&self, me: *const Owner) -> bool {
        if mutant::ACQUIRE_PLAIN_STORE {
            // Mutant: check-then-store instead of a CAS.
            // ORDERING: the mutant's; it is wrong by design.
            if self.owner.load(Ordering::Acquire).is_null() {
                self.owner.store(me as *mut Owner, Ordering::Relaxed);
                return true;
            }
            return false;
        }
        // ORDERING: AcqRel on success (`mutant::ACQUIRE_CAS`). Acquire: makes the previous
        // holder's local state (written before its Release in `release_ownership`) visible to the
        // new owner. Release: the stored pointer names the adopter's heap, which a remote freer
        // loads (Acquire, `free_remote`) and notifies; the Release makes the heap's initialisation
        // happen-before that use, as `bind`'s Release store does for a bind (loom
        // `notify.rs` `adopted_slab_notifies_adopter`, mutant `acquire_cas_no_release`: with Acquire alone the
        // freer's `notify` reads the heap's pending word unordered with its creation). On x86 the
        // same `lock cmpxchg`. Relaxed on failure: the loser touches nothing.
        let won = self
            .owner
            .compare_exchange(
                core::ptr::null_mut(),
                me as *mut Owner,
                mutant::ACQUIRE_CAS,
                Ordering::Relaxed,
            )
            .is_ok();
        if won {
            if VALIDATE {
                // SAFETY: we just became the holder of a bound (published) slab.
                unsafe { self.debug_check() };
            }
            self.trace(
                Event::OwnerAcquire,
                me as usize,
                self.class.load(Ordering::Relaxed) as usize,
            );
        } else {
            GLOBALS.owner_cas_failures.bump_shared();
        }
        won
    }

    /// Gives up ownership (publish / hand back). Afterwards the caller must not touch `local`.
    #[inline]
    pub fn release_ownership(&self) {
        if VALIDATE {
            // SAFETY: the caller holds the bound slab until the store below.
            unsafe { self.debug_check() };
        }
        // ORDERING: Release (`mutant::RELEASE_OWNERSHIP`) — publishes the local state to the next
        // holder; pairs with the Acquire CAS in `try_acquire`.
        self.owner
            .store(core::ptr::null_mut(), mutant::RELEASE_OWNERSHIP);
    }

    /// The owner check of the free fast path.
    #[inline(always)]
    pub fn is_owned_by(&self, me: *const Owner) -> bool {
        // ORDERING: Relaxed — only `me` ever stores `me` here and only `me` replaces it, so if the
        // load sees `me` it is our own program-ordered write; any other value sends the free to
        // the remote path, which is correct for every owner.
        core::ptr::eq(self.owner.load(Ordering::Relaxed), me)
    }

    /// Frees `b` from a thread that does not own the slab: push, then notify the owner if this
    /// push made the queue non-empty (or always, with `force-notify`).
    ///
    /// # Safety
    /// `b` is a live block of this slab being freed by the caller.
    #[inline]
    pub unsafe fn free_remote(&self, b: NonNull<Block>, force_notify: bool) {
        // SAFETY: forwarded contract (a chain of one block).
        unsafe { self.free_remote_chain(b, b, 1, force_notify) }
    }

    /// Frees a chain of `n` blocks, `head` to `tail` linked through `Block::next`, from a thread that
    /// does not own the slab (a remote freer's batch, `front::remote_batch`): one push, then the
    /// notification as in `free_remote`.
    ///
    /// # Safety
    /// Every block of the chain is a block of this slab that was live and is being freed by the
    /// caller, and no other list holds it; the links from `head` reach `tail` in `n` blocks.
    #[inline]
    pub unsafe fn free_remote_chain(
        &self,
        head: NonNull<Block>,
        tail: NonNull<Block>,
        n: u32,
        force_notify: bool,
    ) {
        // SAFETY: forwarded contract.
        let first = unsafe { self.remote.push(self.data, head, tail, n) };
        if crate::config::TRACE {
            self.trace(
                Event::RemotePush,
                head.as_ptr() as usize,
                self.class.load(Ordering::Relaxed) as usize,
            );
        }
        if first || force_notify {
            // ORDERING: Acquire — pairs with the Release in `bind` (or the adoption CAS); the heap
            // behind the pointer is initialised before it is ever stored (and never freed). After
            // the push the slab may have been drained, unbound and rebound by another thread's
            // heap, to which only this pair orders the `notify` (loom `rebind.rs`, mutant
            // `free_remote_owner_relaxed`).
            let owner = self.owner.load(mutant::FREE_REMOTE_OWNER);
            if !owner.is_null() {
                // ORDERING: Relaxed — see `bind`.
                let class = self.class.load(Ordering::Relaxed);
                // Once pushed, the block may already have been drained by the owner, the slab
                // emptied and unbound (`NO_CLASS`) before these loads: then nobody needs a
                // notification, and `notify(NO_CLASS)` would index out of bounds (found by the
                // loom model in loom_tests/publish.rs).
                if class != NO_CLASS {
                    // SAFETY: owners are heaps, which are never freed (only recycled).
                    unsafe { (*owner).notify(class as usize) };
                    GLOBALS.notifications.bump_shared();
                }
            }
        }
    }

    /// Where a block sits, for fail-fast messages.
    pub fn whereis(&self, ptr: usize, class: usize) -> Where {
        let base = self.data as usize & !crate::config::SUPERSLAB_MASK;
        Where {
            ptr,
            superslab: Some(base),
            slab: Some((self.data as usize - base) >> crate::config::SLAB_SHIFT),
            class: Some(class),
            generation: None,
        }
    }

    /// The free fast path's block check: `off` (the block's offset in the slab) is a block
    /// boundary inside the carved area. Equivalent to `check_block` for a block of this slab.
    ///
    /// # Safety
    /// The caller holds the slab.
    #[inline(always)]
    pub unsafe fn is_carved_block(&self, off: usize) -> bool {
        // SAFETY: the caller holds the slab.
        let (end, d, limit) = unsafe { self.local(|l| (l.carved_end, l.divisor, l.carve_limit)) };
        if crate::config::FUSED_BLOCK_CHECK {
            // `off < 2^SLAB_SHIFT` (see `carve_limit_of`).
            return (off as u64).wrapping_mul(d) < limit;
        }
        // `off < 2^SLAB_SHIFT`: the u32 compare is exact.
        (off as u32) < end && (off as u64).wrapping_mul(d) < d
    }

    /// Checks that `p` is a block boundary inside this slab's (or span's) carved area of `class`;
    /// aborts naming `box_name` otherwise. `carved <= capacity` bounds the index, so the offset
    /// bound only keeps `block_index` in its exact range (`MAX_BLOCK_OFFSET`).
    #[inline]
    pub fn check_block(&self, box_name: &str, p: usize, class: usize, carved: usize) {
        let off = p.wrapping_sub(self.data as usize);
        let idx = block_index(class, off.min(crate::config::MAX_BLOCK_OFFSET - 1));
        if off >= crate::config::MAX_BLOCK_OFFSET || idx >= carved || idx * class_size(class) != off
        {
            fatal(
                box_name,
                "block outside its slab or not on a block boundary",
                self.whereis(p, class),
            );
        }
    }

    /// The holder's check of a remotely freed block: `p` is a block boundary inside the carved
    /// area — `check_block`'s verdict, reached with the carve bound and the divisibility test of
    /// the free fast path (no class-table loads). Aborts (box "remote") otherwise.
    #[inline(always)]
    fn check_carved(&self, l: &SlabLocal, p: usize) {
        let off = p.wrapping_sub(self.data as usize);
        if off >= l.carved_end as usize || (off as u64).wrapping_mul(l.divisor) >= l.divisor {
            self.bad_remote_block(p, l.class as usize, l.carved as usize);
        }
    }

    /// The count of a taken remote chain against the blocks out: more is a block queued twice
    /// (or a corrupted queue). Aborts (box "remote").
    #[inline(always)]
    fn check_count(&self, l: &SlabLocal, chain: BlockPtr, count: u32) {
        if count > l.used {
            if let Some(b) = NonNull::new(chain) {
                self.drained_too_many(b, l.class as usize);
            }
        }
    }

    /// A walk over a taken remote chain ended before its count: a link overwritten after the
    /// free (use after free).
    #[cold]
    #[inline(never)]
    fn chain_short(&self, chain: BlockPtr, class: usize) -> ! {
        fatal(
            "remote",
            "remote chain shorter than its count (link overwritten after free)",
            self.whereis(chain as usize, class),
        )
    }

    /// A drain or the pending walk found more blocks than are out: a cycle, or a block queued
    /// twice.
    #[cold]
    #[inline(never)]
    fn drained_too_many(&self, b: NonNull<Block>, class: usize) -> ! {
        fatal(
            "remote",
            "drained more blocks than are out (cycle or double free)",
            self.whereis(b.as_ptr() as usize, class),
        )
    }

    #[cold]
    #[inline(never)]
    fn bad_remote_block(&self, p: usize, class: usize, carved: usize) -> ! {
        self.check_block("remote", p, class, carved);
        fatal(
            "remote",
            "block outside its slab or not on a block boundary",
            self.whereis(p, class),
        )
    }

    /// Moves every remotely freed block — the pending chain and the remote queue — onto the
    /// local free list. Returns how many. The walks are bounded: a longer list is a cycle,
    /// reported as corruption.
    ///
    /// # Safety
    /// The caller holds the slab.
    pub unsafe fn drain_remote(&self) -> usize {
        // SAFETY: the caller holds the slab.
        unsafe {
            self.local(|l| {
                let pending = core::mem::replace(&mut l.pending, core::ptr::null_mut());
                let left = core::mem::replace(&mut l.pending_left, 0);
                let mut n = self.splice_free(l, pending, left);
                let (chain, count) = self.remote.take_all(self.data);
                self.check_count(l, chain, count);
                n += self.splice_free(l, chain, count);
                if n > 0 {
                    GLOBALS.remote_drains.bump_shared();
                    GLOBALS.blocks_drained.add_shared(n as u64);
                    self.trace(Event::Drain, self.data as usize, l.class as usize);
                }
                n as usize
            })
        }
    }

    /// `drain_remote` for a slab whose local free list and pending chain are empty (a full slab:
    /// the refill's "drain notified" step): the taken chain becomes the free list as it is,
    /// unwalked — its last link is null and its length is the count the pushes kept in the
    /// queue's head, checked against the blocks out (more is a block queued twice: abort). Its
    /// blocks are first read by the pops of the TLS list the next refill hands them to
    /// (`take_free_all`), not by a walk of serialised misses here. What checks an unwalked block
    /// is as for `take_remote`'s chain (`VALIDATE` builds walk the free list at that take, and
    /// `CHECKED` builds the chain here). Any other slab, or with `--cfg
    /// hakmem_no_remote_unwalked`: `drain_remote`, walked.
    ///
    /// # Safety
    /// The caller holds the slab.
    pub unsafe fn drain_remote_unwalked(&self) -> usize {
        // SAFETY: the caller holds the slab.
        let taken = unsafe {
            self.local(|l| {
                if !crate::config::REMOTE_UNWALKED || !l.free.is_null() || !l.pending.is_null() {
                    return None;
                }
                let (chain, count) = self.remote.take_all(self.data);
                let head = NonNull::new(chain)?;
                self.check_count(l, chain, count);
                if crate::config::CHECKED {
                    self.check_chain(l, head, count);
                }
                l.free = chain;
                l.used -= count;
                GLOBALS.remote_drains.bump_shared();
                GLOBALS.blocks_drained.add_shared(u64::from(count));
                self.trace(Event::Drain, self.data as usize, l.class as usize);
                Some(count as usize)
            })
        };
        // SAFETY: as above.
        taken.unwrap_or_else(|| unsafe { self.drain_remote() })
    }

    /// Walks a chain of remotely freed blocks that must be exactly `count` long (reading each
    /// link once; `CHECKED`: each block's carve bound and boundary too, which its freer checked
    /// before the push), then splices it onto the free list with one write (the links already
    /// form the chain). Returns `count`. A longer chain (a cycle: a block queued twice) or a
    /// shorter one (a link overwritten after the free) aborts.
    ///
    /// # Safety
    /// `l` is this slab's local state, held by the caller; `chain` is a chain of this slab's
    /// blocks that are out (counted in `used`) and on no other list.
    unsafe fn splice_free(&self, l: &mut SlabLocal, chain: BlockPtr, count: u32) -> u32 {
        let Some(first) = NonNull::new(chain) else {
            if count != 0 {
                self.chain_short(chain, l.class as usize);
            }
            return 0;
        };
        let class = l.class as usize;
        let mut cur = chain;
        let mut last = first;
        let mut n = 0u32;
        while let Some(b) = NonNull::new(cur) {
            n += 1;
            if n > count {
                self.drained_too_many(b, class);
            }
            if crate::config::CHECKED {
                self.check_carved(l, b.as_ptr() as usize);
            }
            last = b;
            // SAFETY: the Acquire swap in take_all made the pusher's link visible.
            cur = unsafe { Block::next(b) };
        }
        if n != count {
            self.chain_short(chain, class);
        }
        // SAFETY: the chain's blocks are the caller's.
        unsafe { Block::set_next(last, l.free) };
        l.free = chain;
        l.used -= n;
        n
    }

    /// Takes the remote queue (the refill of the current slab, once `take_batch` found nothing).
    /// A chain of at most `max` blocks is handed to the caller unwalked (`RemoteTake::Chain`):
    /// its blocks are not read here, so the owner's first touch of a remotely freed block is
    /// its next user's. A longer one becomes the pending chain, which `take_batch` walks once on
    /// its way to the TLS list. Either way the count the pushes kept in the queue's head is
    /// checked against the blocks out (more is a block queued twice: abort).
    ///
    /// What checks an unwalked block: its freer, before the push — the block boundary inside
    /// the carved area (`carve_bound`) and, headerless, the freed mark (header mode: the
    /// header); the count here; and, in `CHECKED` builds, the walk below (every block carved,
    /// the chain exactly `count` long). Left to the pop's link check (`tls_sll`, `CHECKED`
    /// builds), as for a locally freed block: a link overwritten after the free.
    ///
    /// # Safety
    /// The caller holds the slab, and its pending chain is empty (`take_batch` found nothing).
    pub unsafe fn take_remote(&self, max: u32) -> RemoteTake {
        let (chain, count) = self.remote.take_all(self.data);
        let Some(head) = NonNull::new(chain) else {
            return RemoteTake::Empty;
        };
        GLOBALS.remote_drains.bump_shared();
        // SAFETY: the caller holds the slab.
        unsafe {
            self.local(|l| {
                debug_assert!(l.pending.is_null(), "take_remote over a pending chain");
                self.check_count(l, chain, count);
                self.trace(Event::Drain, self.data as usize, l.class as usize);
                if count > max {
                    l.pending = chain;
                    l.pending_left = count;
                    return RemoteTake::Pending;
                }
                if crate::config::CHECKED {
                    self.check_chain(l, head, count);
                }
                GLOBALS.blocks_drained.add_shared(u64::from(count));
                RemoteTake::Chain(head, count)
            })
        }
    }

    /// `CHECKED`: the walk `take_remote` leaves out — every block of the chain carved, and the
    /// chain exactly `count` long.
    #[cold]
    #[inline(never)]
    fn check_chain(&self, l: &SlabLocal, head: NonNull<Block>, count: u32) {
        let mut cur = head.as_ptr();
        for _ in 0..count {
            let Some(b) = NonNull::new(cur) else {
                self.chain_short(head.as_ptr(), l.class as usize)
            };
            self.check_carved(l, b.as_ptr() as usize);
            // SAFETY: the Acquire swap in take_all made the pusher's link visible.
            cur = unsafe { Block::next(b) };
        }
        if let Some(b) = NonNull::new(cur) {
            self.drained_too_many(b, l.class as usize);
        }
    }

    /// Takes the whole local free list for the caller's (empty) TLS list, without walking it: its
    /// length is `carved - used` (the conservation equation at the top of this file). Returns
    /// `(head, count)`; the list is null-terminated. `(null, 0)` when the free list is empty.
    ///
    /// A walk would read each block's link in turn, one dependent cache miss after another for
    /// blocks freed long ago (docs/benchmarks.md, session 4 `fast4`); taken whole, each link
    /// is read by the pop that hands its block out, overlapped with the caller's own work.
    ///
    /// # Safety
    /// The caller holds the slab.
    #[inline]
    pub unsafe fn take_free_all(&self) -> (BlockPtr, usize) {
        // SAFETY: the caller holds the slab.
        unsafe {
            self.local(|l| {
                let head = core::mem::replace(&mut l.free, core::ptr::null_mut());
                if head.is_null() {
                    return (head, 0);
                }
                let n = l.carved - l.used;
                if VALIDATE {
                    self.check_free_len(head, n, l.class as usize);
                }
                l.used = l.carved;
                (head, n as usize)
            })
        }
    }

    /// `VALIDATE`: the free list at `head` holds exactly `n` blocks (a walk bounded by `n + 1`).
    fn check_free_len(&self, head: BlockPtr, n: u32, class: usize) {
        let mut cur = head;
        let mut k = 0u32;
        while let Some(b) = NonNull::new(cur) {
            k += 1;
            if k > n {
                break;
            }
            // SAFETY: blocks on the local free list were linked by the holder.
            cur = unsafe { Block::next(b) };
        }
        if k != n {
            fatal(
                "slab",
                "local free list length differs from carved - used",
                self.whereis(head as usize, class),
            );
        }
    }

    /// Takes up to `max` blocks for the caller's TLS list: free list first, then the pending
    /// chain (each of its blocks checked as it is taken), then carving (carved blocks are put in
    /// front). Returns `(head, tail, count)`; the list is linked through
    /// `Block::next`, tail's link is unspecified (the caller overwrites it).
    ///
    /// # Safety
    /// The caller holds the slab.
    #[inline]
    pub unsafe fn take_batch(&self, max: usize) -> (BlockPtr, BlockPtr, usize) {
        // SAFETY: the caller holds the slab.
        unsafe {
            self.local(|l| {
                // Cut the first `max` blocks off the free list as they are linked (reads only).
                let mut head: BlockPtr = core::ptr::null_mut();
                let mut tail: BlockPtr = core::ptr::null_mut();
                let mut n = 0usize;
                let mut cur = l.free;
                while n < max {
                    let Some(b) = NonNull::new(cur) else { break };
                    if head.is_null() {
                        head = b.as_ptr();
                    }
                    tail = b.as_ptr();
                    // SAFETY: blocks on the local free list were linked by the holder.
                    cur = Block::next(b);
                    n += 1;
                }
                l.free = cur;
                let from_free = n;
                if n < max && !l.pending.is_null() {
                    // The pending chain continues the batch: link it behind what the free list
                    // gave (the tail's own link is the caller's to overwrite).
                    if let Some(t) = NonNull::new(tail) {
                        Block::set_next(t, l.pending);
                    }
                    let class = l.class as usize;
                    let mut cur = l.pending;
                    while n < max {
                        let Some(b) = NonNull::new(cur) else { break };
                        if l.pending_left == 0 {
                            self.drained_too_many(b, class);
                        }
                        l.pending_left -= 1;
                        if crate::config::CHECKED {
                            self.check_carved(l, b.as_ptr() as usize);
                        }
                        if head.is_null() {
                            head = b.as_ptr();
                        }
                        tail = b.as_ptr();
                        // SAFETY: the Acquire swap in take_all made the pusher's link visible.
                        cur = Block::next(b);
                        n += 1;
                    }
                    l.pending = cur;
                    if cur.is_null() && l.pending_left != 0 {
                        self.chain_short(tail, class);
                    }
                    GLOBALS.blocks_drained.add_shared((n - from_free) as u64);
                }
                let from_pending = n - from_free;
                let size = class_size(l.class as usize);
                // `config::CARVE_PAGE`: fresh blocks a page's worth at a time. The bound (a
                // division) is computed only when the loop below carves: a medium span's
                // `take_batch(1)` is served by its free list on almost every call.
                let carve_end = if CARVE_PAGE && n < max && l.carved < l.capacity {
                    let most = (CARVE_BYTES / size).max(CARVE_MIN_BLOCKS) as u32;
                    l.capacity.min(l.carved.saturating_add(most))
                } else {
                    l.capacity
                };
                while n < max && l.carved < carve_end {
                    // Strict provenance: blocks are derived from the slab's data pointer.
                    let b = self
                        .data
                        .wrapping_add(l.carved as usize * size)
                        .cast::<Block>();
                    l.carved += 1;
                    // SAFETY: a freshly carved block belongs to nobody yet.
                    Block::set_next(NonNull::new_unchecked(b), head);
                    if head.is_null() {
                        tail = b;
                    }
                    head = b;
                    n += 1;
                }
                if l.carved_end != l.carved * size as u32 {
                    l.carved_end = l.carved * size as u32;
                    l.carve_limit = carve_limit_of(l.carved, size, l.divisor);
                    // ORDERING: Relaxed — see `carve_bound`: the blocks just carved reach a freer
                    // only through a hand-off that synchronises with this thread.
                    self.carve_bound.store(l.carved_end, Ordering::Relaxed);
                }
                // Pending blocks were counted in `used` while queued.
                l.used += (n - from_pending) as u32;
                (head, tail, n)
            })
        }
    }

    /// Whether the local free list is empty: `take_batch(1)` goes on to the pending chain or a
    /// carve. One load, for a fast path that tests `carves_next` only when this holds.
    ///
    /// # Safety
    /// The caller holds the slab.
    #[inline(always)]
    pub unsafe fn free_is_empty(&self) -> bool {
        // SAFETY: the caller holds the slab.
        unsafe { self.local(|l| l.free.is_null()) }
    }

    /// Whether `take_batch` would carve before anything else: the local free list and the
    /// pending chain are empty and blocks are left to carve.
    ///
    /// # Safety
    /// The caller holds the slab.
    #[inline]
    pub unsafe fn carves_next(&self) -> bool {
        // SAFETY: the caller holds the slab.
        unsafe { self.local(|l| l.free.is_null() && l.pending.is_null() && l.carved < l.capacity) }
    }

    /// Returns one block to the local free list (spill, `front::small`). Returns the new `used`.
    ///
    /// # Safety
    /// The caller holds the slab and `b` is one of its blocks that is out (counted in `used`).
    #[inline]
    pub unsafe fn put_local(&self, b: NonNull<Block>) -> u32 {
        // SAFETY: the caller holds the slab and the block.
        unsafe {
            self.local(|l| {
                Block::set_next(b, l.free);
                l.free = b.as_ptr();
                if l.used == 0 {
                    fatal(
                        "small",
                        "slab used count underflow (double free?)",
                        self.whereis(b.as_ptr() as usize, l.class as usize),
                    );
                }
                l.used -= 1;
                l.used
            })
        }
    }

    /// Returns a chain of `n` blocks, `head` to `tail` linked through `Block::next`, to the local
    /// free list in one splice (spill, `front::small`). Returns the new `used`.
    ///
    /// # Safety
    /// The caller holds the slab; the chain's blocks are its blocks that are out (counted in
    /// `used`) and on no list, and the links from `head` reach `tail` in `n` blocks.
    #[inline]
    pub unsafe fn put_local_chain(
        &self,
        head: NonNull<Block>,
        tail: NonNull<Block>,
        n: u32,
    ) -> u32 {
        // SAFETY: the caller holds the slab and the blocks.
        unsafe {
            self.local(|l| {
                if l.used < n {
                    fatal(
                        "small",
                        "slab used count underflow (double free?)",
                        self.whereis(head.as_ptr() as usize, l.class as usize),
                    );
                }
                Block::set_next(tail, l.free);
                l.free = head.as_ptr();
                l.used -= n;
                l.used
            })
        }
    }

    /// Blocks out (see the conservation equation).
    ///
    /// # Safety
    /// The caller holds the slab.
    #[inline]
    pub unsafe fn used(&self) -> u32 {
        // SAFETY: the caller holds the slab.
        unsafe { self.local(|l| l.used) }
    }
}

#[cfg(all(test, not(hakmem_loom)))]
mod tests {
    use super::*;
    use crate::config::SLAB_SIZE;
    use crate::size_class::{NUM_CLASSES, TOTAL_CLASSES};

    /// The fused block check (`carve_limit_of`) against division, for every offset of a slab of
    /// every small class and a few carve cursors, and around every block of the medium classes.
    #[test]
    fn fused_block_check_is_division() {
        let fused = |c: usize, carved: u32, off: usize| {
            let d = divisor_of(class_size(c));
            (off as u64).wrapping_mul(d) < carve_limit_of(carved, class_size(c), d)
        };
        for c in 0..NUM_CLASSES {
            let (size, cap) = (class_size(c), blocks_per_slab(c) as u32);
            for carved in [0, 1, cap / 2, cap - 1, cap] {
                for off in 0..SLAB_SIZE {
                    let want = off % size == 0 && off / size < carved as usize;
                    assert_eq!(
                        fused(c, carved, off),
                        want,
                        "class {c} carved {carved} off {off}"
                    );
                }
            }
        }
        for c in NUM_CLASSES..TOTAL_CLASSES {
            let (size, cap) = (class_size(c), blocks_per_slab(c));
            for i in 1..=cap {
                for off in [i * size, i * size + 16, i * size - 16, i * size + 1] {
                    let want = off % size == 0 && off / size < cap;
                    assert_eq!(fused(c, cap as u32, off), want, "class {c} off {off}");
                }
            }
        }
    }
}
