//! Model 6 — medium spans: the span cache hand-off (`span::release`, `SpanCache::take`) and a
//! span's thread exit (`span::retire_or_publish`) against remote frees and adoption.
//!
//! Claims:
//! - **release vs reuse** (`span_released_while_taken`): the owner frees the span's last block
//!   locally and releases the span (unbind, then cache) while another heap takes a span from the
//!   cache and binds it to another medium class. Whatever the interleaving the taker sees a fully
//!   unbound span and ends with it bound to its class, owner and capacity, one block out; or it
//!   found the cache empty and the span is cached, unbound. No access to the span's local state
//!   races (loom checks the cell). The taker's first carve, over the block the owner's binding
//!   wrote, is not known zero (`span::known_zero`: the releaser's carve reached the taker through
//!   the cache lock, and reading it races nothing).
//! - **exit vs remote free vs adopt** (`span_exit_remote_free_adopt`): the exiting owner runs
//!   `retire_or_publish` on a span with one block out while another thread frees that block
//!   remotely and a third adopts the span from the medium class's publish list and takes blocks
//!   from it as `front::medium` does (`span::take_block`). The block is drained exactly once and
//!   handed out again only after that, with the freer's payload visible; a released span is never
//!   adopted; a published one is never lost.
//! - **purge vs reuse** (`span_purged_while_taken`): a committed span waits in the cache; one
//!   thread purges the cache (`SpanCache::purge(Sweep::All)`, the clock's or `collect`'s sweep)
//!   while another takes the span, binds it and writes into a block. The purge never zeroes a span
//!   someone took: the taker's data survives; if the taker found the cache empty (the span was
//!   detached for its purge), the span is back in the cache afterwards, purged. The cache lock
//!   alone orders the two: the purge detaches under it, and nobody can take a detached span.
//!
//! - **sampled bits: remote free vs mark** (`sampled_bits_remote_free_vs_mark`): the holder of a
//!   span marks one block sampled and frees it itself (`span::SampledBits`: plain stores of the
//!   holder's word) while another thread frees the holder's other sampled block remotely (sees
//!   its mark, sets the remote word, pushes the block). No mark is lost, and when the holder
//!   drains the block and hands it out again (`span::take_block`, which merges the remote word)
//!   the block carries no stale mark.
//!
//! Bounds: 3 threads + the model thread, one span, `LOOM_MAX_PREEMPTIONS` (default 3).
//!
//! Mutants caught: `span_cache_before_unbind` (release caches the span before unbinding it: the
//! taker finds it still bound, and its bind would race the unbind) and `span_publish_before_drain` (exit publishes, then drains:
//! the drain races the adopter's) and `span_purge_on_list` (the purge works on a span still on
//! the list, which a taker may hold: loom reports the race on the span's cache links, which the
//! purge reads and clears without holding the span; with that hidden, the taker's write is lost,
//! "purge zeroed a span in use") and `sampled_remote_plain_clear` (the remote freer clears its
//! bit in the holder's word with a plain load and store: the holder's concurrent mark is lost, or
//! the freer's clear is undone and the block comes back marked).

#![cfg(hakmem_loom)]

mod support;

use std::ptr::NonNull;

use hakmem::model::span::{self, Exit, SampledBits, SpanCache};
use hakmem::model::{blocks_per_slab, Block, Owner, PublishList, Sweep, LINK_BYTES, NO_CLASS};
use loom::sync::atomic::Ordering;
use loom::sync::Arc;
use loom::thread;
use support::{free_list, model_reaching, used, Blk, TestSpan, MEDIUM_CLASS, OTHER_MEDIUM_CLASS};

const FREED: u64 = 7;

/// Takes one block as `front::medium`'s refill does and gives it its payload.
///
/// # Safety
/// The caller holds the span's slab.
unsafe fn take(s: &TestSpan, payload: u64) -> Option<Blk> {
    // SAFETY: per the contract.
    let b: NonNull<Block> = unsafe { span::take_block(s.slab()) }?;
    let b = Blk(b);
    // SAFETY: a block just taken by its holder; nobody else knows it.
    unsafe { b.allocate(payload) };
    Some(b)
}

#[test]
#[cfg_attr(
    hakmem_mutant = "span_cache_before_unbind",
    should_panic(expected = "span taken before it was unbound")
)]
fn span_released_while_taken() {
    model_reaching("span release", &["taken", "not taken"], || {
        let owners: Arc<Vec<Owner>> = Arc::new((0..2).map(|_| Owner::new()).collect());
        let s = Arc::new(TestSpan::new());
        let cache = Arc::new(SpanCache::new());
        // SAFETY: a fresh span held by this thread until the owner's thread takes over.
        let b = unsafe {
            s.slab().bind(MEDIUM_CLASS, &owners[0]);
            take(&s, 1).expect("a fresh span has blocks")
        };
        let owner = {
            let (s, cache) = (s.clone(), cache.clone());
            thread::spawn(move || {
                // SAFETY: the owner frees its last block and, nothing being out, releases the
                // span; it does not touch it afterwards.
                unsafe {
                    assert_eq!(s.slab().put_local(b.0), 0);
                    span::release(&cache, s.slab(), 0);
                }
            })
        };
        let taker = {
            let (s, cache, owners) = (s.clone(), cache.clone(), owners.clone());
            thread::spawn(move || {
                let got = cache.take(hakmem::model::config::MIN_SPAN_BYTES)?;
                assert_eq!(got, s.span, "took a foreign span");
                // The span must be fully released before anyone can take it.
                assert_eq!(
                    s.slab().class.load(Ordering::Relaxed),
                    NO_CLASS,
                    "span taken before it was unbound"
                );
                assert!(
                    s.slab().owner.load(Ordering::Relaxed).is_null(),
                    "span taken before it was unbound"
                );
                // SAFETY: the cache handed the unbound span to us.
                unsafe {
                    s.slab().bind(OTHER_MEDIUM_CLASS, &owners[1]);
                    let before = s.slab().local(|l| l.carved_end as usize);
                    let b = span::take_block(s.slab()).expect("a rebound span has blocks");
                    // The owner's binding wrote block 0 and the span was cached unpurged (within
                    // the committed budget): the first carve of this binding is not known zero.
                    assert!(
                        !span::known_zero(s.slab(), b, before),
                        "a block carved over the last binding's data counted as zero"
                    );
                    let b = Blk(b);
                    b.allocate(2);
                    b.user_write(3);
                }
                Some(())
            })
        };
        owner.join().expect("owner panicked");
        let took = taker.join().expect("taker panicked").is_some();
        support::reach(if took { "taken" } else { "not taken" });
        let slab = s.slab();
        if took {
            assert_eq!(
                slab.class.load(Ordering::Relaxed) as usize,
                OTHER_MEDIUM_CLASS
            );
            assert!(std::ptr::eq(slab.owner.load(Ordering::Relaxed), &owners[1]));
            // SAFETY: every other thread has exited.
            unsafe {
                assert_eq!(used(slab), 1);
                assert_eq!(
                    slab.local(|l| l.capacity as usize),
                    blocks_per_slab(OTHER_MEDIUM_CLASS)
                );
            }
            assert!(cache.take(hakmem::model::config::MIN_SPAN_BYTES).is_none());
        } else {
            assert_eq!(
                cache.take(hakmem::model::config::MIN_SPAN_BYTES),
                Some(s.span),
                "released span not cached"
            );
            assert_eq!(slab.class.load(Ordering::Relaxed), NO_CLASS);
        }
    });
}

#[test]
#[cfg_attr(
    hakmem_mutant = "span_publish_before_drain",
    should_panic(expected = "Causality violation")
)]
fn span_exit_remote_free_adopt() {
    model_reaching("span exit", support::EXIT_OUTCOMES, || {
        let owners: Arc<Vec<Owner>> = Arc::new((0..3).map(|_| Owner::new()).collect());
        let s = Arc::new(TestSpan::new());
        let list = Arc::new(PublishList::new());
        let cache = Arc::new(SpanCache::new());
        // SAFETY: a fresh span held by this thread until the owner's thread takes over.
        let b = unsafe {
            s.slab().bind(MEDIUM_CLASS, &owners[0]);
            take(&s, 1).expect("a fresh span has blocks")
        };
        let exiting = {
            let (s, list, cache) = (s.clone(), list.clone(), cache.clone());
            // SAFETY: the owner's exit; it does not touch the span afterwards.
            thread::spawn(move || unsafe { span::retire_or_publish(s.slab(), &list, &cache) })
        };
        let freer = {
            let s = s.clone();
            thread::spawn(move || {
                // SAFETY: the block was handed to this thread live; it writes and frees it once.
                unsafe {
                    b.user_write(FREED);
                    s.slab().free_remote(b.0, false);
                }
            })
        };
        let adopter = {
            let (s, list, owners) = (s.clone(), list.clone(), owners.clone());
            thread::spawn(move || {
                let got = list.adopt(&owners[1])?;
                assert!(
                    std::ptr::eq(got.as_ptr(), s.slab()),
                    "adopted a foreign span"
                );
                // Refill as the medium front does: take the drained block if adopt's drain got
                // it (its payload is the freer's), else a fresh one.
                // SAFETY: adopt made us the owner.
                unsafe {
                    let drained = free_list(s.slab());
                    let next = span::take_block(s.slab()).expect("span has blocks");
                    if let Some(&d) = drained.first() {
                        assert_eq!(d, b);
                        assert_eq!(Blk(next), b, "the drained block is handed out first");
                        assert_eq!(b.user_read(), FREED, "payload lost");
                        support::reach("adopter drained the block");
                    } else {
                        assert_ne!(Blk(next), b, "block handed out before it was freed");
                    }
                    s.slab().put_local(next);
                }
                Some(())
            })
        };
        let exit = exiting.join().expect("exiting owner panicked");
        freer.join().expect("freer panicked");
        let adopted = adopter.join().expect("adopter panicked").is_some();
        support::reach_exit(exit == Exit::Released, adopted);
        if exit == Exit::Released {
            assert!(!adopted, "a released span was adopted");
            assert!(
                list.adopt(&owners[2]).is_none(),
                "a released span is published"
            );
            assert_eq!(
                cache.take(hakmem::model::config::MIN_SPAN_BYTES),
                Some(s.span),
                "released span not cached"
            );
            assert!(
                !s.slab().remote.is_nonempty(),
                "block drained and still queued"
            );
            return;
        }
        if !adopted {
            let got = list.adopt(&owners[2]).expect("published span lost");
            assert!(std::ptr::eq(got.as_ptr(), s.slab()));
        } else {
            assert!(
                list.adopt(&owners[2]).is_none(),
                "adopted span still on the list"
            );
        }
        // SAFETY: the joins order the adopter's ownership before this thread's accesses.
        unsafe {
            s.slab().drain_remote();
            assert_eq!(used(s.slab()), 0, "block not drained exactly once");
            assert!(free_list(s.slab()).contains(&b), "block lost");
        }
        assert!(!s.slab().remote.is_nonempty(), "block on two lists");
    });
}

#[test]
#[cfg_attr(
    hakmem_mutant = "span_purge_on_list",
    should_panic(expected = "Causality violation")
)]
fn span_purged_while_taken() {
    const MARK: u8 = 0xAB;
    const BYTES: usize = hakmem::model::config::MIN_SPAN_BYTES;
    model_reaching(
        "span purge",
        &[
            "taken, purge found it",
            "taken, purge found nothing",
            "not taken",
        ],
        || {
            let owners: Arc<Vec<Owner>> = Arc::new((0..2).map(|_| Owner::new()).collect());
            let s = Arc::new(TestSpan::new());
            let cache = Arc::new(SpanCache::new());
            // SAFETY: a fresh span, bound, one block carved and freed, released with nothing out: it
            // waits in the cache, committed (the loom build keeps one span's worth), stamped 0.
            unsafe {
                s.slab().bind(MEDIUM_CLASS, &owners[0]);
                let b = span::take_block(s.slab()).expect("a fresh span has blocks");
                s.slab().put_local(b);
                span::release(&cache, s.slab(), 0);
            }
            let purger = {
                let cache = cache.clone();
                thread::spawn(move || cache.purge(Sweep::All))
            };
            let taker = {
                let (s, cache, owners) = (s.clone(), cache.clone(), owners.clone());
                thread::spawn(move || {
                    let got = cache.take(BYTES)?;
                    assert_eq!(got, s.span, "took a foreign span");
                    // SAFETY: the cache handed the unbound span to us; the mark lies in the block
                    // (after its link), which is ours.
                    unsafe {
                        s.slab().bind(OTHER_MEDIUM_CLASS, &owners[1]);
                        let b = span::take_block(s.slab()).expect("a rebound span has blocks");
                        let p = b.as_ptr().cast::<u8>().wrapping_add(LINK_BYTES);
                        p.write_volatile(MARK);
                        Some(p as usize)
                    }
                })
            };
            let purged = purger.join().expect("purger panicked");
            match taker.join().expect("taker panicked") {
                Some(p) => {
                    support::reach(if purged > 0 {
                        "taken, purge found it"
                    } else {
                        "taken, purge found nothing"
                    });
                    // SAFETY: the joins order the taker's write before this read; the block is live.
                    let v = unsafe { (p as *const u8).read_volatile() };
                    assert_eq!(v, MARK, "purge zeroed a span in use");
                    assert!(cache.take(BYTES).is_none(), "a taken span is still cached");
                }
                None => {
                    support::reach("not taken");
                    // The taker came while the span was detached for its purge.
                    assert_eq!(purged, BYTES, "the cache was empty, yet nothing was purged");
                    assert_eq!(cache.take(BYTES), Some(s.span), "purged span lost");
                }
            }
        },
    );
}

/// The span's sampled bits.
fn bits(s: &TestSpan) -> &SampledBits {
    // SAFETY: the span's header lives as long as `s`.
    unsafe { &s.span.as_ref().sampled }
}

/// The bit of block `b` in its span's `sampled` words (blocks of `stride` bytes).
fn sample_bit(s: &TestSpan, b: Blk, stride: usize) -> u64 {
    let data = s.span.as_ptr() as usize + hakmem::model::config::SPAN_HEADER_BYTES;
    1 << ((b.addr() - data) / stride)
}

#[test]
#[cfg_attr(
    hakmem_mutant = "sampled_remote_plain_clear",
    should_panic(expected = "sampled bits:")
)]
fn sampled_bits_remote_free_vs_mark() {
    model_reaching(
        "sampled bits",
        &[
            "freer cleared before the second mark",
            "freer cleared after the second mark",
        ],
        || {
            let owners: Arc<Vec<Owner>> = Arc::new((0..2).map(|_| Owner::new()).collect());
            let s = Arc::new(TestSpan::new());
            // SAFETY: a fresh span held by this thread (the holder) for the whole model.
            let (a, b) = unsafe {
                s.slab().bind(MEDIUM_CLASS, &owners[0]);
                (
                    take(&s, 1).expect("a fresh span has blocks"),
                    take(&s, 2).expect("a fresh span has blocks"),
                )
            };
            let stride = b.addr() - a.addr();
            let (bit_a, bit_b) = (sample_bit(&s, a, stride), sample_bit(&s, b, stride));
            // Block `a` is handed out sampled to the freer (the spawn orders the mark before it).
            bits(&s).mark_held(bit_a);
            // Bookkeeping outside the model (a std atomic: no loom operation): the second mark done.
            let marked = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let freer = {
                let (s, marked) = (s.clone(), marked.clone());
                thread::spawn(move || {
                    assert!(
                        bits(&s).word() & bit_a != 0,
                        "sampled bits: a remote freer missed its block's mark"
                    );
                    support::reach(if marked.load(std::sync::atomic::Ordering::Relaxed) {
                        "freer cleared after the second mark"
                    } else {
                        "freer cleared before the second mark"
                    });
                    bits(&s).clear_freed(bit_a, false);
                    // SAFETY: block `a` was handed to this thread, which frees it once.
                    unsafe { s.slab().free_remote(a.0, false) };
                })
            };
            // Meanwhile the holder samples block `b` and frees it itself.
            bits(&s).mark_held(bit_b);
            marked.store(true, std::sync::atomic::Ordering::Relaxed);
            assert!(
                bits(&s).word() & bit_b != 0,
                "sampled bits: a sampled block's mark was lost"
            );
            bits(&s).clear_freed(bit_b, true);
            freer.join().unwrap();
            // The holder drains `a` and hands it out again (unsampled): no stale mark on it.
            // SAFETY: this thread holds the span.
            unsafe {
                assert_eq!(s.slab().drain_remote(), 1);
                let again = take(&s, 3).expect("the drained block");
                assert_eq!(again.addr(), a.addr(), "the drained block comes back first");
            }
            assert_eq!(
                bits(&s).word() & bit_a,
                0,
                "sampled bits: a block handed out again with a stale mark"
            );
        },
    );
}
