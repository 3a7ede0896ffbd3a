//! The large cache follows the program (`config::LARGE_CACHE_LIVE_BOUND`,
//! `config::LARGE_REUSE_TAIL`; docs/benchmarks.md, "Session 19: rss27"):
//!
//! | test | what it checks |
//! |---|---|
//! | `changing_sizes_do_not_pile_up` | one block live at a time, sizes growing: the cache keeps at most one largest block, not every size the program left behind |
//! | `reused_tail_is_purged` | a written 32 MiB block reused for 20 MiB: reused; with `--cfg hakmem_large_reuse_tail` (opt-in) the earlier user's tail is no longer resident |
//!
//! One test at a time: each takes `SERIAL`, so RSS moves only with its own blocks.
#![cfg(unix)]

use std::sync::Mutex;

use hakmem::HakMem;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const MIB: usize = 1 << 20;
const STATS: bool = cfg!(feature = "stats");
const LIVE_BOUND: bool = !cfg!(hakmem_no_large_cache_live_bound);
const REUSE_TAIL: bool = cfg!(hakmem_large_reuse_tail);
static SERIAL: Mutex<()> = Mutex::new(());

/// Resident set size of this process, bytes.
fn rss() -> usize {
    let s = std::fs::read_to_string("/proc/self/statm").expect("statm");
    let pages: usize = s.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// A block of `size` bytes with every page written.
fn filled(size: usize) -> Vec<u8> {
    vec![1u8; size]
}

#[test]
fn changing_sizes_do_not_pile_up() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let start = rss();
    let mut size = 8 * MIB;
    let mut total = 0;
    while size <= 60 * MIB {
        drop(std::hint::black_box(filled(size)));
        total += size;
        size = size * 6 / 5;
    }
    let grown = rss().saturating_sub(start);
    assert!(total > 250 * MIB);
    if LIVE_BOUND {
        // The bound with nothing else live: one largest cacheable block (64 MiB) committed.
        assert!(
            grown <= 80 * MIB,
            "RSS grew {} MiB after {} MiB of freed, never reused blocks",
            grown / MIB,
            total / MIB
        );
        if STATS {
            let cached = hakmem::stats().cached_bytes as usize;
            assert!(cached <= 64 * MIB, "cache holds {} MiB", cached / MIB);
        }
    }
}

#[test]
fn reused_tail_is_purged() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // An empty cache, whatever ran before (with the bound backed out the other test leaves
    // ~290 MiB cached, and the 20 MiB request below could reuse one of those blocks instead).
    hakmem::collect();
    let before = if STATS {
        hakmem::stats().large_reused
    } else {
        0
    };
    drop(std::hint::black_box(filled(32 * MIB)));
    let with_tail = rss();
    // Class of 20 MiB and the next ones reach 32 MiB within twice the length: reused, not cut.
    let v: Vec<u8> = std::hint::black_box(Vec::with_capacity(20 * MIB));
    let now = rss();
    if STATS {
        assert!(
            hakmem::stats().large_reused > before,
            "the 32 MiB block was reused"
        );
    }
    if REUSE_TAIL {
        assert!(
            now + 10 * MIB <= with_tail,
            "the 12 MiB tail is still resident ({} -> {} MiB)",
            with_tail / MIB,
            now / MIB
        );
    }
    drop(v);
}
