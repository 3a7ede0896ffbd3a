//! mstress-like (after the stress test of mimalloc's test suite, `mstress` in mimalloc-bench):
//! threads allocate items of random size (mostly small, sometimes large), keep some in a local
//! working set and a "retained" set, free random ones, and swap items with a global transfer
//! array by atomic exchange, so items are freed by whichever thread picks them up. This repeats
//! for several rounds of fresh threads; the transfer array survives the rounds.
//!
//! Every item records its size and a cookie in its first two words and fills its next words
//! with `cookie ^ index`; whoever frees an item checks them.

use std::alloc::{alloc, dealloc, Layout};
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering};

use super::rng::{mix, Rng};
use super::{on_threads, Outcome, Params};

const WHAT: &str = "mstress";
const TRANSFERS: usize = 1000;
const ROUNDS: usize = 10;
const STEPS: usize = 240_000;
/// Words checked per item (the whole item when smaller).
const CHECKED_WORDS: usize = 16;

type Item = *mut u64;

/// Allocates an item of `words` (≥ 2) words stamped with `cookie`.
fn alloc_item(words: usize, cookie: u64) -> Item {
    let layout = Layout::array::<u64>(words).expect("item size");
    // SAFETY: the layout is nonzero (words ≥ 2).
    let p = unsafe { alloc(layout) }.cast::<u64>();
    if p.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    // SAFETY: p is a fresh allocation of `words` u64s, aligned for u64.
    unsafe {
        p.write(words as u64);
        p.add(1).write(cookie);
        for i in 2..words.min(CHECKED_WORDS) {
            p.add(i).write(cookie ^ i as u64);
        }
    }
    p
}

/// Checks and frees an item (null is skipped). Returns the item's size in words.
///
/// # Safety
/// `p` is null or an item from `alloc_item` that no one else holds or frees.
unsafe fn free_item(p: Item) -> Result<u64, String> {
    if p.is_null() {
        return Ok(0);
    }
    // SAFETY: by the contract p is a live item whose first word is its size in words.
    let words = unsafe { p.read() } as usize;
    // SAFETY: as above, word 1 exists for every item.
    let cookie = unsafe { p.add(1).read() };
    if !(2..=1 << 20).contains(&words) {
        return Err(format!(
            "{WHAT}: item {p:p} has a corrupted size word {words:#x}"
        ));
    }
    for i in 2..words.min(CHECKED_WORDS) {
        // SAFETY: i < words, inside the item.
        let got = unsafe { p.add(i).read() };
        if got != cookie ^ i as u64 {
            return Err(format!(
                "{WHAT}: item {p:p} of {words} words corrupted at word {i}"
            ));
        }
    }
    // SAFETY: the item was allocated with exactly this layout and is freed once.
    unsafe { dealloc(p.cast(), Layout::array::<u64>(words).unwrap()) };
    Ok(words as u64)
}

/// Item sizes in words: mostly 2–16, 1 in 100 up to 512 (4 KiB), 1 in 10,000 up to 32,768
/// (256 KiB), as in mimalloc's stress test.
fn item_words(rng: &mut Rng) -> usize {
    let r = rng.below(10_000);
    if r == 0 {
        rng.range(2, 32_768)
    } else if r < 100 {
        rng.range(2, 512)
    } else {
        rng.range(2, 16)
    }
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let threads = p.threads.max(1);
    let steps = p.n(STEPS);
    let transfer: Vec<AtomicPtr<u64>> =
        (0..TRANSFERS).map(|_| AtomicPtr::new(null_mut())).collect();
    let transfer = &transfer;
    let mut total = Outcome::default();
    for round in 0..ROUNDS {
        let o = on_threads(threads, |t| {
            let me = (round * threads + t) as u64;
            let mut rng = Rng::new(p.seed, me);
            let mut out = Outcome::default();
            let mut data: Vec<Item> = Vec::new();
            let mut retained: Vec<Item> = Vec::new();
            let fresh = |rng: &mut Rng, out: &mut Outcome| {
                let words = item_words(rng);
                out.ops += 1;
                out.checksum = out.checksum.wrapping_add(mix(words as u64 ^ me << 32));
                alloc_item(words, mix(out.ops ^ me << 40))
            };
            for step in 0..steps {
                // Every decision is drawn up front, independent of what other threads put in
                // the transfer array, so the allocations (and the checksum) are deterministic.
                let (alloc, retain, free, swap) = (
                    rng.chance(50),
                    rng.chance(5),
                    rng.chance(40),
                    rng.chance(25),
                );
                let (free_at, swap_at, slot) =
                    (rng.next_u64(), rng.next_u64(), rng.below(TRANSFERS));
                if alloc {
                    data.push(fresh(&mut rng, &mut out));
                }
                if retain {
                    retained.push(fresh(&mut rng, &mut out));
                }
                if free && !data.is_empty() {
                    let victim = data.swap_remove(free_at as usize % data.len());
                    // SAFETY: this thread owns `victim` (taken out of its working set).
                    unsafe { free_item(victim) }?;
                }
                if swap && !data.is_empty() {
                    let i = swap_at as usize % data.len();
                    // ORDERING: AcqRel — Release publishes the item's words to the thread that
                    // takes it next; Acquire makes the words of the item we take visible here.
                    let got = transfer[slot].swap(data[i], Ordering::AcqRel);
                    if got.is_null() {
                        data.swap_remove(i);
                    } else {
                        data[i] = got;
                    }
                }
                if p.inject_fault && me == 0 && step == 10 && !data.is_empty() {
                    // SAFETY: word 0 (the size) of an item this thread owns.
                    unsafe { *data[0] = 0 };
                }
            }
            for item in data.into_iter().chain(retained) {
                // SAFETY: this thread owns every item of its sets.
                unsafe { free_item(item) }?;
            }
            Ok(out)
        });
        match o {
            Ok(o) => total = total.merge(o),
            Err(e) => {
                drain(transfer).ok();
                return Err(e);
            }
        }
    }
    drain(transfer)?;
    Ok(total)
}

fn drain(transfer: &[AtomicPtr<u64>]) -> Result<(), String> {
    for slot in transfer {
        // ORDERING: Acquire — see the item's words written by the thread that put it there.
        let item = slot.swap(null_mut(), Ordering::Acquire);
        // SAFETY: items in the transfer array belong to whoever takes them out.
        unsafe { free_item(item) }?;
    }
    Ok(())
}
