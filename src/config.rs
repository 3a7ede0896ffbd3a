//! Every tuning constant and every A/B switch, defined once.
//!
//! Boundary: this module depends on nothing. Every other box reads its sizes from here, so the loom
//! build can shrink them all in one place (2 slabs per SuperSlab, 4 blocks per slab, refill batches of 2).

/// `headerless` on: user pointer == block. Off: each small block carries a checked header.
pub const HEADERLESS: bool = cfg!(feature = "headerless");
/// `tls-hint` on: `free` consults the per-thread SuperSlab hint cache before the registry.
pub const TLS_HINT: bool = cfg!(feature = "tls-hint");
/// `adopt` on: slabs published by exited threads are adopted by threads that need their class.
pub const ADOPT: bool = cfg!(feature = "adopt");
/// `force-notify` on: every remote free notifies the owner, not only the first into an empty queue.
pub const FORCE_NOTIFY: bool = cfg!(feature = "force-notify");
/// `medium` on: sizes above `MAX_SMALL_SIZE` up to `MAX_MEDIUM_SIZE` are served by the medium
/// classes from spans (`span`, `front::medium`). Off: they take the large path, one mapping each.
pub const MEDIUM: bool = cfg!(feature = "medium");

/// Default of `HAKMEM_PURGE_DELAY_MS`: emptied memory goes back to the OS this many milliseconds
/// after it emptied (decay, as jemalloc's `dirty_decay_ms` and mimalloc's `purge_delay`).
pub const PURGE_DELAY_MS: i64 = 1000;

/// `profile` on: the sampled heap profiler is compiled in (still off until `HAKMEM_PROF=1` or
/// `hakmem::profile::start()`; see src/front/profiling.rs for its cost when off).
pub const PROFILE: bool = cfg!(feature = "profile");
/// The large cache (`large.rs`): freed large blocks of at most `LARGE_CACHE_MAX_BLOCK` bytes are
/// kept mapped for reuse, at most `LARGE_CACHE_BYTES` of them committed, binned by mapping length
/// in `LARGE_BINS_PER_OCTAVE` classes per power of two (so a mapping is at most 25% longer than
/// asked; the extra is address space, never touched).
pub const LARGE_CACHE_BYTES: usize = 384 << 20;
pub const LARGE_CACHE_MAX_BLOCK: usize = 64 << 20;
pub const LARGE_BINS_PER_OCTAVE: usize = 4;
/// The cache's committed bytes also follow the program: at most `max(LARGE_CACHE_MAX_BLOCK,
/// LARGE_CACHE_LIVE_MUL * live large bytes)` (and never over `LARGE_CACHE_BYTES`), so a program
/// whose large sizes keep changing does not keep up to 384 MiB of blocks nobody reuses, while one
/// block of any cacheable size always fits (a free/malloc loop of one block still reuses it).
/// Twice, not once, the live bytes: at once, large-churn (20 live blocks of 5-25 MiB) missed the
/// cache 300 more times a run, 1.13x CPU; at twice it is level and edge usable keeps the gain
/// (329 -> 139 MB). Measured in docs/benchmarks.md, "Session 19: rss27". Backout: `--cfg
/// hakmem_no_large_cache_live_bound`.
pub const LARGE_CACHE_LIVE_BOUND: bool = !cfg!(hakmem_no_large_cache_live_bound);
pub const LARGE_CACHE_LIVE_MUL: usize = 2;
/// A cached block reused for a request shorter by at least an eighth of its mapping has its
/// tail beyond the request purged at once (one `madvise`): the earlier user's pages there would
/// otherwise stay resident under a live block, counted nowhere. Opt-in (`--cfg
/// hakmem_large_reuse_tail`), off by default: on malloc-large's shape (20 live blocks of 5-25 MiB
/// replaced at random) it took peak RSS 587 -> 515 MB but system time 0.44 -> 0.62 s, the
/// longer requests that reuse the block faulting the tail back in (session 19, coordinator).
pub const LARGE_REUSE_TAIL: bool = cfg!(hakmem_large_reuse_tail);
/// A cached large mapping has the pages beyond its user's first page purged when its
/// `LARGE_PURGE_USERS`-th user since the last purge frees it (0 = only on the clock): each user
/// touches pages of its own (the tail of a different size), which would otherwise stay resident
/// in the cache until the purge delay. 64, not 32 (session 20, rows24; docs/benchmarks.md): each
/// purge costs a `madvise` over the whole mapping and refaults ~2.5 pages, so halving them took
/// large-churn's CPU 0.975x and malloc-large's 0.855x (paired, 21-31 rounds) for peak RSS 6.1 ->
/// 9.3 MiB and 8.0 -> 10.8 MiB (at most 64 stale pages per cached mapping).
pub const LARGE_PURGE_USERS: usize = 64;

/// `realloc`'s growth ladder for a block growing in small steps (`front::alloc::grown_size`):
/// false, one rung per doubling (`2^k`); true, two (`2^k` and `1.5 * 2^k`, the ladder before
/// session 5). One rung: peak RSS realloc-growth 16.4 -> 14.5 MiB, c-realloc 19.4 -> 16.0, CPU
/// -6% and -9% (docs/benchmarks.md, "realloc's growth ladder: one rung per doubling").
pub const GROWTH_LADDER_HALF_STEPS: bool = false;

/// Default of `HAKMEM_THP`: each new SuperSlab is backed by one transparent huge page at once
/// (`os::collapse`). Fewer TLB misses and page faults, against the whole 2 MiB resident from the
/// start: on `mixed-stress` CPU −25%, peak RSS +55% (docs/benchmarks.md, "Transparent huge
/// pages"), so off. Spans are never collapsed (their pages are too sparse: 11x the RSS).
pub const THP: bool = false;

/// A refill carves at most `CARVE_BYTES` of fresh blocks (at least `CARVE_MIN_BLOCKS`) from its
/// slab, as mimalloc extends a page's free list 4 KiB at a time (`Slab::take_batch`): a class
/// whose live blocks are few (sh8bench's 129-2048 B, spread over 60 classes) touches only the
/// pages it uses, where a full batch (32 KiB for blocks of 512 B and up) faulted in eight pages
/// per class and thread at its first refill. A growing class refills more often instead.
/// Backout: `--cfg hakmem_no_carve_page`.
pub const CARVE_PAGE: bool = !cfg!(hakmem_no_carve_page);

/// Fresh bytes one refill carves at most (`CARVE_PAGE`).
pub const CARVE_BYTES: usize = 4096;

/// Fresh blocks one refill may always carve (`CARVE_PAGE`), whatever their size.
pub const CARVE_MIN_BLOCKS: usize = 4;

/// A pop from a TLS list prefetches the new head's line (`front::tls_sll::prefetch`), so that the
/// next pop's read of its link does not wait for memory: in mstress that read (of a block another
/// thread freed) was 89% of `malloc`'s samples. Backout: `--cfg hakmem_no_prefetch_pop`.
pub const PREFETCH_POP: bool = !cfg!(hakmem_no_prefetch_pop);

/// A growing heap's new SuperSlabs are backed by a transparent huge page at birth
/// (`pool::Pool::growth`): once `THP_GROWTH_STREAK` SuperSlabs in a row filled up (their last free
/// slab handed out) with at least `THP_GROWTH_DENSE` of their 512 pages resident, and no slab
/// came back to the pool meanwhile, each new SuperSlab is collapsed (`os::collapse`) like
/// `HAKMEM_THP=1` does for all of them. A heap that only grows fills its SuperSlabs anyway, so
/// the huge page costs at most the unfilled rest of the newest one; sparse or churning heaps
/// (slabs given back, SuperSlabs filling at 30-60%) stay on base pages. rust-btreemap: page
/// faults 4,860 -> 1,610, peak RSS +5% (docs/benchmarks.md, "Session 8: rows8").
/// Backout: `--cfg hakmem_no_thp_growth`.
pub const THP_GROWTH: bool = !cfg!(hakmem_no_thp_growth);

/// When a heap's small tier must grow (no free slab left in any SuperSlab: the next carve maps a
/// new one), it first returns to their slabs the TLS lists of the classes that sat untouched
/// since its last growth (neither refilled nor spilled), then asks the pool again: blocks parked in
/// an idle class's list keep that class's slabs bound, each a fraction used. gawk, whose strings
/// grow through every class from 48 to ~600 bytes, had ~100 slabs whose only blocks out were on
/// such lists (docs/benchmarks.md, "Session 28: gawk28"). Backout: `--cfg hakmem_no_idle_flush`.
pub const IDLE_FLUSH: bool = !cfg!(hakmem_no_idle_flush);

/// Every `MADV_COLLAPSE` is timed (`os::collapse`, the thread's CPU clock and a monotonic clock
/// read either side), and one that cost more CPU than `THP_COLLAPSE_SLOW_NS` per 2 MiB (the kernel
/// compacted or reclaimed for its huge page) twice in a row, or that stalled past
/// `THP_COLLAPSE_STALL_NS`, stops all collapses for `THP_COLLAPSE_QUIET_FACTOR` times its
/// duration (a lone slow one does not: `os::thp::starts_quiet`), doubled for each slow one in a row (up to `THP_COLLAPSE_QUIET_MAX_SHIFT` doublings, at most
/// `THP_COLLAPSE_QUIET_MAX_NS`); a collapse asked for meanwhile is answered "refused" without a
/// system call, which the callers already treat as no huge page (base pages, streak reset). So
/// slow collapses take at most ~1/33 of the wall time, ~1/1000 once they keep being slow. On a
/// busy host python-malloc's 43 collapses took 1-6 ms each, up to 139 ms (docs/benchmarks.md,
/// "Session 26: pyt26"; "Session 26: thp26" for what the backoff does). Backout:
/// `--cfg hakmem_no_thp_collapse_backoff`.
pub const THP_COLLAPSE_BACKOFF: bool = !cfg!(hakmem_no_thp_collapse_backoff);

/// A collapse skipped in `THP_COLLAPSE_BACKOFF`'s quiet period (no system call: `os::Collapse::Skipped`)
/// is not taken as the kernel's refusal: the SuperSlab pool's streak starts over as after a
/// refusal, but its `refused` flag, which stops the catch-up collapses of the streak's full
/// SuperSlabs for the rest of the process, is set only by a refusal of the kernel's. Before, one
/// slow period on a busy host stopped them for good (docs/benchmarks.md, "Session 27: thp27").
/// Backout: `--cfg hakmem_no_thp_skip_not_refusal`.
pub const THP_SKIP_NOT_REFUSAL: bool =
    THP_COLLAPSE_BACKOFF && !cfg!(hakmem_no_thp_skip_not_refusal);

/// A collapse that cost the thread more CPU than this per 2 MiB is slow (`THP_COLLAPSE_BACKOFF`):
/// about what faulting its 512 pages one by one would have cost, so past it the huge page no
/// longer saves system time. On an idle host one takes 0.15-0.5 ms (a huge page taken from the
/// free lists, 512 pages copied). CPU time, not wall time: on a loaded host the wall time of a
/// collapse is mostly the thread waiting for a core, which it would have done anyway.
pub const THP_COLLAPSE_SLOW_NS: u64 = 1_000_000;

/// A collapse whose wall time passes this is slow whatever its CPU time (`THP_COLLAPSE_BACKOFF`):
/// the kernel slept in it (reclaim waiting on writeback, a lock), a stall of the program's own.
pub const THP_COLLAPSE_STALL_NS: u64 = 50_000_000;

/// A collapse's wall time counts as a stall (`THP_COLLAPSE_STALL_NS`) only if the thread slept in
/// it: its voluntary context switches (`getrusage(RUSAGE_THREAD)`, `ru_nvcsw`) rose across the
/// call. On a loaded host a collapse's wall time can pass 50 ms from waiting for a core alone,
/// which quiets the later collapses and leaves the run on base pages (at load 12-15 on two cores:
/// 0.1-0.96 s of collapse wall time a run of wl-hakmem rust-btreemap, 4,800 faults instead of
/// ~500; whether those were waits for a core is not known, docs/benchmarks.md "Session 27:
/// btree27"). A preempted thread switches involuntarily, one the kernel put to sleep
/// voluntarily. Backout: `--cfg hakmem_no_thp_stall_needs_sleep` (any wall time past the bound is
/// a stall).
pub const THP_STALL_NEEDS_SLEEP: bool = !cfg!(hakmem_no_thp_stall_needs_sleep);

/// How many times a slow collapse's duration no collapse is asked for (`THP_COLLAPSE_BACKOFF`).
pub const THP_COLLAPSE_QUIET_FACTOR: u64 = 32;

/// Doublings of the quiet period for slow collapses in a row (`THP_COLLAPSE_BACKOFF`): 32x the
/// first time, 1024x from the sixth in a row.
pub const THP_COLLAPSE_QUIET_MAX_SHIFT: u32 = 5;

/// The longest quiet period (`THP_COLLAPSE_BACKOFF`): a host that recovers gets asked again.
pub const THP_COLLAPSE_QUIET_MAX_NS: u64 = 10_000_000_000;

/// A SuperSlab born in a `THP_GROWTH` streak is collapsed not at birth but when its bound slabs
/// reach `THP_COLLAPSE_AT_SLABS` (`pool::take`; the collapse runs outside the pool lock, as the
/// streak's own do): a heap that stops growing inside it leaves it on base pages, where a
/// collapse at birth made all 2 MiB resident. c-alloc-test (grows to ~10 MiB, then plateaus):
/// the newest SuperSlab had 11 of 31 data slabs bound and 20 resident unused, peak RSS 12.46 MiB
/// against 10.84 with `THP_GROWTH` off (docs/benchmarks.md, "Session 22: gap22").
/// With it: 11.01 MiB, and 2 threads 20.45 -> 19.16 (mimalloc 19.19). Opt-in,
/// `RUSTFLAGS="--cfg hakmem_thp_half_collapse"`: a heap that keeps growing faults each streak
/// SuperSlab's first half page by page and pays one MADV_COLLAPSE copy of it (CPU paired:
/// rust-btreemap 1.052, faults 494 -> 2,076; mixed-stress 1.069; c-alloc-test 1.022). Off, a
/// streak's SuperSlab is collapsed at birth.
pub const THP_HALF_COLLAPSE: bool = THP_GROWTH && cfg!(hakmem_thp_half_collapse);

/// Bound slabs (of `SLABS_PER_SUPERSLAB`, the header's included) at which a streak's SuperSlab is
/// collapsed (`THP_HALF_COLLAPSE`): half.
pub const THP_COLLAPSE_AT_SLABS: u32 = (SLABS_PER_SUPERSLAB / 2) as u32;

/// Resident pages (of 512) for a SuperSlab filled up to count as dense (`THP_GROWTH`): 3/4.
pub const THP_GROWTH_DENSE: usize = 384;

/// Dense fills in a row after which new SuperSlabs are collapsed (`THP_GROWTH`).
pub const THP_GROWTH_STREAK: u32 = 2;

/// A SuperSlab whose first fill counted sparse is counted once more at the next dense fill
/// (`pool::count_fill`): a growing heap's first SuperSlab fills while every class's first slab is
/// still being carved (rust-btreemap: 378 of 512 pages resident then, below `THP_GROWTH_DENSE`,
/// all of them soon after), so without the recount its streak starts a SuperSlab late and the
/// heap's first 6 MiB stay on base pages. Backout: `--cfg hakmem_no_thp_growth_recount`.
pub const THP_GROWTH_RECOUNT: bool = THP_GROWTH && !cfg!(hakmem_no_thp_growth_recount);

/// The process's first SuperSlab fill completes the streak by itself (`pool::count_fill`) when at
/// least `THP_GROWTH_FIRST_DENSE` of its 512 pages are resident: that SuperSlab holds every class's
/// first slab, still being carved, so a heap that filled it this densely anyway is growing in few
/// classes (rust-btreemap: 371; the other Rust rows' first fills 33-73, realloc-growth's 281:
/// docs/benchmarks.md, "Session 15: rows16"), and its second SuperSlab is born one huge page
/// instead of faulting page by page until the recount collapses it. Backout:
/// `--cfg hakmem_no_thp_growth_first`.
pub const THP_GROWTH_FIRST: bool = THP_GROWTH && !cfg!(hakmem_no_thp_growth_first);

/// The process's first fill completes the streak at half its pages resident, not 5/8
/// (`THP_GROWTH_FIRST_DENSE`): realloc-growth's first two fills (281 and 280 of 512: a heap growing
/// in a few medium-sized small classes) missed 320, so both SuperSlabs faulted page by page (1,321
/// faults a run against mimalloc's 116) and the row took 1.053x mimalloc's CPU pinned to one core;
/// at 256 the second SuperSlab is born huge: faults 856, CPU paired 0.960 (level with mimalloc),
/// peak RSS 17.6 -> 18.8 MiB (mimalloc 37 MiB). c-realloc (286) alike. Every other Rust and C
/// row's collapses are unchanged, but c-alloc-test's first fill crosses 256 in some schedules
/// (faults 4,832 -> 3,413-3,913, peak RSS 20.1 -> 21.1-23.2 MiB in 2 of 5 runs) (docs/benchmarks.md,
/// "Session 23: rows23"; test `tests/thp_first_half.rs`).
/// Backout: `--cfg hakmem_no_thp_first_half` (5/8).
pub const THP_FIRST_HALF: bool = THP_GROWTH_FIRST && !cfg!(hakmem_no_thp_first_half);

/// Resident pages (of 512) for the process's first fill to complete the streak
/// (`THP_GROWTH_FIRST`): 1/2 (`THP_FIRST_HALF`), else 5/8.
pub const THP_GROWTH_FIRST_DENSE: usize = if THP_FIRST_HALF { 256 } else { 320 };

/// A growing medium heap's new spans are backed by transparent huge pages at birth (`span::map`),
/// as `THP_GROWTH` does for SuperSlabs: once `SPAN_THP_GROWTH_STREAK` spans in a row filled up for the
/// first time (their owner found every block carved and live, `span::count_fill`) with at least
/// `SPAN_THP_GROWTH_DENSE` of each 512 pages resident, each new mapping is collapsed. A span is mapped
/// only when the span cache has none of its size, so this costs at most the unfilled rest of the
/// newest span while the medium heap grows; a heap whose medium blocks are touched sparsely fills
/// its spans sparsely and stays on base pages. realloc-growth: page faults 3,300 -> 2,220
/// (docs/benchmarks.md, "Session 11: rows11"). Backout: `--cfg hakmem_no_span_thp_growth`.
pub const SPAN_THP_GROWTH: bool = MEDIUM && !cfg!(hakmem_no_span_thp_growth);

/// `SPAN_THP_GROWTH` learns from its misses: a span backed by huge pages at birth that goes back
/// to the span cache without ever having filled held its unfilled rest for nothing; each such
/// miss doubles the dense fills in a row that the next collapse asks for (up to
/// `SPAN_THP_MISS_MAX` doublings), each collapsed span that fills halves them again
/// (`span::judge_release`, `span::count_fill`). A heap that churns long-lived medium blocks
/// (fork_bench: four threads, 4-256 KiB blocks replaced at random, a few live per class per heap)
/// fills a span now and then as a class's count wanders past the span's capacity, and each such
/// dense fill made the next span a huge page holding one or two blocks (docs/benchmarks.md,
/// "Session 26: mem26"). Backout: `--cfg hakmem_no_span_thp_miss_backoff`.
pub const SPAN_THP_MISS_BACKOFF: bool = SPAN_THP_GROWTH && !cfg!(hakmem_no_span_thp_miss_backoff);

/// The most doublings `SPAN_THP_MISS_BACKOFF` makes of the streak (`SPAN_THP_GROWTH_STREAK`).
pub const SPAN_THP_MISS_MAX: u32 = 6;

/// `SPAN_THP_GROWTH` backs at most `SPAN_THP_UNFILLED_MAX` spans with huge pages at birth that
/// have not filled yet (`span::UNFILLED`: a collapsed span counts until it first fills or goes
/// back to the span cache): a streak of dense fills in some classes says nothing about the
/// class a new span is for, and a heap of many classes with a few blocks each (four threads
/// building 4-256 KiB blocks, a few per class per heap, as scripts/fork-bench/fork_bench.c) had
/// 4-78 first spans of classes collapsed run to run, 2 MiB each for ~3 blocks, a build RSS of
/// 70-170 MiB for 55 MiB live (`tests/span_thp_unfilled.rs`: one thread, 20 classes after a dense
/// fill, 20 collapsed before). A program whose collapsed spans fill (realloc-growth's ladder rungs) keeps
/// collapsing; one whose spans stay sparse holds at most the cap's huge pages unfilled
/// (docs/benchmarks.md, "Session 26: mem26"). Backout: `--cfg hakmem_no_span_thp_unfilled_cap`.
pub const SPAN_THP_UNFILLED_CAP: bool = SPAN_THP_GROWTH && !cfg!(hakmem_no_span_thp_unfilled_cap);

/// The most collapsed spans waiting to fill (`SPAN_THP_UNFILLED_CAP`).
pub const SPAN_THP_UNFILLED_MAX: u32 = 8;

/// `SPAN_THP_UNFILLED_CAP`'s slots expire: a collapsed span that stays bound and sparse never
/// fills nor goes back to the cache, so it held its slot for good, and after
/// `SPAN_THP_UNFILLED_MAX` such spans no medium span was born on huge pages again. When the cap
/// stays full over `SPAN_THP_UNFILLED_PATIENCE` first fills of other spans (no slot given back
/// meanwhile), the spans holding the slots are judged one miss together (`SPAN_THP_MISS_BACKOFF`
/// doubles the streak once) and the slots are freed (`span::expire_unfilled`; a generation count
/// keeps the late judgement of an expired span from freeing a slot twice). Counted in fills, not
/// time: the heap's growth is what the cap held back. `tests/span_thp_unfilled.rs` (a new
/// class's 40 dense spans after 8 stuck ones: 0 collapsed before; docs/benchmarks.md, "Session
/// 27: thp27"). Backout: `--cfg hakmem_no_span_thp_unfilled_expiry`.
pub const SPAN_THP_UNFILLED_EXPIRY: bool =
    SPAN_THP_UNFILLED_CAP && !cfg!(hakmem_no_span_thp_unfilled_expiry);

/// First fills of other spans, with `SPAN_THP_UNFILLED_CAP` full and no slot given back, after
/// which the slots expire (`SPAN_THP_UNFILLED_EXPIRY`): twice the cap, so that the growth held
/// back on base pages is at most twice what the cap's own huge pages hold.
pub const SPAN_THP_UNFILLED_PATIENCE: u32 = 2 * SPAN_THP_UNFILLED_MAX;

/// A span `SPAN_THP_GROWTH` backs with huge pages is born on them: its fresh reservation is
/// marked `MADV_HUGEPAGE` before its first touch, each 2 MiB chunk's first write faults in a
/// huge page, and the mark is taken off again (`MADV_NOHUGEPAGE`, so that `khugepaged` never
/// collapses it behind a purge, as `os::collapse` promises), instead of touching one base page
/// per chunk and asking `MADV_COLLAPSE` to copy them into a huge page (which drains every CPU's
/// LRU lists and takes the mm's lock for writing). Same evidence (`span::growing`), same cap
/// (`SPAN_THP_UNFILLED_CAP`), same accounting; only the way to the huge page changes: ~100 µs a
/// span against ~125 µs a collapse, realloc-growth's paired CPU 0.989-0.991 of the collapse's
/// (docs/benchmarks.md, "Session 28: grow28"; `tests/span_thp_born.rs`). Backout:
/// `--cfg hakmem_no_span_thp_born_huge`.
pub const SPAN_THP_BORN_HUGE: bool = SPAN_THP_GROWTH && !cfg!(hakmem_no_span_thp_born_huge);

/// The process's first medium span backed with huge pages need not wait for a span's dense fill
/// (`SPAN_THP_GROWTH_STREAK`) when the small heap has shown that it fills densely: until any span
/// has counted a first fill, a completed SuperSlab growth streak (`THP_GROWTH`, `pool::grown`)
/// stands in for the medium heap's evidence, for one span per process (`span::small_evidence`).
/// realloc-growth's first span took ~460 base-page faults before its own fill said "dense": faults
/// 854 -> 393, paired CPU 0.954-0.966 of main (with `SPAN_THP_BORN_HUGE` 0.949-0.954); peak RSS
/// of the 26 runner rows level (geomean 0.999). The price is bounded by one span (2-4 MiB) held on
/// huge pages unfilled, and it is judged as any collapsed span (`SPAN_THP_MISS_BACKOFF`,
/// `SPAN_THP_UNFILLED_CAP`) (docs/benchmarks.md, "Session 28: grow28"; `tests/span_thp_born.rs`).
/// Backout: `--cfg hakmem_no_span_thp_small_evidence`.
pub const SPAN_THP_SMALL_EVIDENCE: bool =
    SPAN_THP_GROWTH && THP_GROWTH && !cfg!(hakmem_no_span_thp_small_evidence);

/// The first time a heap's current span of a medium class empties, it goes to the span cache
/// purged at once (`front::medium::retire_current`) instead of staying resident on the purge
/// clock; from the second time on it is kept, as before. A class a program uses once (sqlite3's
/// sorter buffer grown by `realloc` through 64 KiB .. 2 MiB) then does not hold the freed
/// rungs resident for the whole purge delay, while a churning class pays one purge and one
/// refault per thread; only classes of at most `SPAN_PURGE_FIRST_MAX_BLOCKS` blocks a span (128 KiB
/// and up), whose blocks a program holds few of, and only a span that served a single block
/// (`SPAN_PURGE_FIRST_SINGLE`). Backout: `--cfg hakmem_no_span_purge_first`.
pub const SPAN_PURGE_FIRST_EMPTY: bool = MEDIUM && !cfg!(hakmem_no_span_purge_first);

/// The most blocks a span of a class may hold for `SPAN_PURGE_FIRST_EMPTY` to purge its first
/// emptying: 15, the classes of 128 KiB and up. medium-churn's minor faults: 1,843 on main, 1,986
/// with every medium class, 1,940 with these; sqlite3's max RSS the same either way
/// (docs/benchmarks.md, "Session 17: rss22").
pub const SPAN_PURGE_FIRST_MAX_BLOCKS: usize = 15;

/// `SPAN_PURGE_FIRST_EMPTY` purges a class's first emptied span only when that span served a
/// single block (carved one): a rung of a `realloc` ladder, the block of a class used once. A
/// first span that carved more was a class in use, whose next blocks land on the same pages: it
/// stays on the purge clock, as later emptyings do. git `log -p` (its delta and strbuf classes
/// empty their first span after several blocks and take it back): minor faults 32,287 -> 31,555
/// (median of 5); lua `churn.lua` 16,109 -> 13,551, python 75,777 -> 74,200, peak RSS level;
/// sqlite3's ladder keeps its 9.8 MiB peak (docs/benchmarks.md, "Session 21: span21"). Backout: `--cfg hakmem_no_span_purge_first_single`.
pub const SPAN_PURGE_FIRST_SINGLE: bool =
    SPAN_PURGE_FIRST_EMPTY && !cfg!(hakmem_no_span_purge_first_single);

/// A heap about to bind a new span of a size whose span cache holds no committed span first
/// rebinds one of its own retired current spans of another class of that span size: emptied,
/// still resident, waiting out the purge delay (`front::medium::rebind_retired`). Without it the
/// new class carved an untouched span (or a purged one) and faulted every page its blocks were
/// written to, while the emptied span's resident pages waited for the clock to purge them: git
/// `log -p`'s strbuf and delta buffers grow through many 32 KiB-1 MiB classes, each emptying its
/// span before the next size is asked for. Backout: `--cfg hakmem_no_span_rebind_retired`.
pub const SPAN_REBIND_RETIRED: bool = MEDIUM && !cfg!(hakmem_no_span_rebind_retired);

/// How long a retired span must have stayed empty (the coarse purge clock, ms) before
/// `SPAN_REBIND_RETIRED` gives it to another class. Without it a churning heap passed its spans
/// round: a class whose span went to another class found none when it allocated again a moment
/// later and took a third class's, and so on — medium-churn rebound 12,265 times in a 10 ms run,
/// its peak RSS 9.5 -> 19.2 MiB (each class carving every span at its own boundaries) and CPU
/// doubled. At 1-4 ms it rebinds none there; git `log -p` still rebinds 55 (29,300 faults, as at
/// 0), lua 19-27; at 10-30 ms git loses half its gain, at 100 ms all (docs/benchmarks.md,
/// "Session 22: span22").
pub const SPAN_REBIND_AGE_MS: u64 = 4;

/// `SPAN_REBIND_RETIRED` counts the free blocks of the span it rebinds that the last two trims
/// purged as taken back (`TRIM_BACKOFF`'s `medium_refaulted`): the new class carves over them at
/// its own block boundaries, where the allocation path's `span::purged_since` cannot see their
/// tags, so without it a program that grows back into trimmed spans through other classes never
/// raised its trim allowance. Backout: `--cfg hakmem_no_span_rebind_counts_purged`.
pub const SPAN_REBIND_COUNTS_PURGED: bool =
    SPAN_REBIND_RETIRED && !cfg!(hakmem_no_span_rebind_counts_purged);

/// Small classes per doubling of the size above `size_class::FINE_MAX` (1-32 KiB): 8, worst-case
/// internal fragmentation 1/9 (11.1%) of the block, as the medium classes'; 4 before session 22
/// (1/5, 20%). Real programs' buffers cluster just above a power of two (sqlite3's page cache:
/// 51,000 blocks of 1,032 bytes and 17,000 of 4,104, all live at its peak): with 4 steps they took
/// 1,280- and 5,120-byte blocks, with 8 1,152 and 4,608. sqlite3's peak of live blocks rounded
/// to the classes (a counting shim over glibc) 77.8 -> 70.0 MiB against 64.6 MiB requested
/// (docs/benchmarks.md, "Session 22: rss22"). The size-to-class lookup is the same arithmetic
/// with another shift and mask. Backout: `--cfg hakmem_no_coarse8`.
pub const COARSE8: bool = !cfg!(hakmem_no_coarse8);
/// See `COARSE8`.
pub const COARSE_STEPS: usize = if COARSE8 { 8 } else { 4 };

/// One more small class 16 bytes above each of 1, 2 and 4 KiB (1,040, 2,064 and 4,112 bytes): a
/// request of a power of two plus a small header (sqlite3's 8-byte size prefix on its 1 KiB and
/// 4 KiB page buffers: 1,032 and 4,104 bytes, most of its live bytes at its peak) takes a block
/// 1.6% over it instead of 11-12% (1,152 and 4,608). Not above 4 KiB: there the slab's tail eats
/// the gain (7 blocks of 8,208 bytes leave 8 KiB of a 64 KiB slab unused, as 7 of 9,216 do).
/// `size_class::class_of_coarse` adds three compares of the size for sizes above 1 KiB. Backout:
/// `--cfg hakmem_no_pow2_header_classes` (docs/benchmarks.md, "Session 24: mem24").
pub const POW2_HEADER_CLASSES: bool = COARSE8 && !cfg!(hakmem_no_pow2_header_classes);
/// Doublings above `size_class::FINE_MAX` that start with a power-of-two-plus-header class
/// (`POW2_HEADER_CLASSES`): those of 1, 2 and 4 KiB.
pub const POW2_HEADER_DOUBLINGS: usize = if POW2_HEADER_CLASSES { 3 } else { 0 };
/// Bytes above the power of two that the power-of-two-plus-header class serves
/// (`POW2_HEADER_CLASSES`).
pub const POW2_HEADER_BYTES: usize = 16;

/// Resident pages (of 512) for a span filled up to count as dense (`SPAN_THP_GROWTH`): 1/2. A
/// span fills when its last block is handed out, before that block's owner has written it, and
/// a growing buffer's block is written up to its length only (realloc-growth's spans fill at
/// 55-64%, and every page is written later as the buffers grow).
pub const SPAN_THP_GROWTH_DENSE: usize = 256;

/// Dense first fills in a row after which new spans are collapsed (`SPAN_THP_GROWTH`): one (the
/// SuperSlabs' two, `THP_GROWTH_STREAK`, left two more of realloc-growth's 2 MiB spans on base
/// pages: 895 faults). realloc-growth: page faults 2,140 -> 1,245, CPU -6%, peak
/// RSS 16.9 -> 17.4 MiB; the spread-classes RSS scenarios of `tests/medium.rs` within 0.5%
/// (docs/benchmarks.md, "Session 12: rows13").
pub const SPAN_THP_GROWTH_STREAK: u32 = 1;

/// The longest span `SPAN_THP_GROWTH` counts and collapses: what a collapsed span's unfilled rest
/// can cost in RSS.
pub const SPAN_THP_MAX_BYTES: usize = 4 << 20;

/// Minimum alignment of every block (C callers expect 16).
pub const MIN_ALIGN: usize = 16;

/// The background purger (`HAKMEM_BACKGROUND=1`) exits when it finds it is the process's last
/// live thread (`/proc/self/stat`: the thread-group leader a zombie and 2 threads), so glibc's
/// "the last thread to exit calls exit(0)" ends the process as it would without the purger; before
/// (session 20, bgfork20), a fork child of a worker thread, or a process whose main called
/// `pthread_exit`, never exited. Backout: `--cfg hakmem_no_bg_last_thread` (the old hang).
pub const BG_LAST_THREAD: bool = !cfg!(hakmem_no_bg_last_thread);

/// TLS lists of 128 KiB of blocks instead of 64 KiB (`TLS_BYTES`; the cap stays at most
/// `TLS_CAP_MAX` blocks, so only classes above 256 B hold more: a 16 KiB class 8 blocks instead
/// of 4, a 2 KiB class 64 instead of 32). A class whose frees and allocations alternate at random
/// (random replacement over many sizes) walks its list between empty and the cap; a longer list
/// absorbs more of the walk, so fewer blocks go back to their slabs and come out again cold.
/// rreplace-x (callgrind/cachegrind, per replacement): 209 -> 189 instructions, 1.48 -> 1.28
/// last-level misses (1 MiB model); refills 1.7% -> 0.3% of allocations (docs/benchmarks.md,
/// "Session 16: xt19"). Backout: `RUSTFLAGS="--cfg hakmem_no_wide_tls"`.
pub const WIDE_TLS_LISTS: bool = !cfg!(hakmem_no_wide_tls);

/// TLS list caps that grow with use under a per-thread byte budget (front/tls_limit.rs, tcmalloc's
/// slow start): each class starts at `TLS_START_BYTES` of blocks; a refill that follows a spill of
/// the class raises its cap by a batch, up to `TLS_GROW_MAX_BYTES` (`TLS_GROW_MAX_BLOCKS`), while
/// the thread's growth stays within `TLS_GROW_BUDGET`; classes idle over `TLS_DECAY_REFILLS`
/// refills drop back. Opt-in: `RUSTFLAGS="--cfg hakmem_tls_slow_start"`.
pub const TLS_SLOW_START: bool = cfg!(hakmem_tls_slow_start);
/// A class's TLS cap before it grows (`TLS_SLOW_START`).
pub const TLS_START_BYTES: usize = 64 * 1024;
/// The most one class's TLS list grows to (`TLS_SLOW_START`), in bytes and in blocks.
pub const TLS_GROW_MAX_BYTES: usize = 512 * 1024;
pub const TLS_GROW_MAX_BLOCKS: usize = 1024;
/// Bytes of TLS cap a thread may hold above its classes' start caps (`TLS_SLOW_START`).
pub const TLS_GROW_BUDGET: usize = 2 << 20;
/// Refills of a heap between two decay clocks (`TLS_SLOW_START`).
pub const TLS_DECAY_REFILLS: u32 = 1024;
const _: () =
    assert!(TLS_GROW_MAX_BYTES <= TLS_GROW_BUDGET && TLS_START_BYTES <= TLS_GROW_MAX_BYTES);

#[cfg(not(hakmem_loom))]
mod sizes {
    /// log2 of a SuperSlab's size and alignment (2 MiB).
    pub const SUPERSLAB_SHIFT: usize = 21;
    /// log2 of a slab's size (64 KiB).
    pub const SLAB_SHIFT: usize = 16;
    /// Largest block size served by the size classes; larger requests go to `large`.
    pub const MAX_SMALL_SIZE: usize = 32 * 1024;
    /// Upper bound on blocks moved per refill (`front::small`).
    pub const MAG_BATCH_MAX: usize = 64;
    /// Upper bound on the number of blocks a TLS list may hold before it spills.
    pub const TLS_CAP_MAX: usize = 256;
    /// Byte budget of one TLS list: its cap is `TLS_BYTES / block size`, clamped
    /// (`super::WIDE_TLS_LISTS`: 128 KiB, else 64 KiB).
    pub const TLS_BYTES: usize = if super::WIDE_TLS_LISTS {
        128 * 1024
    } else {
        64 * 1024
    };
    /// Entries of the per-thread hint cache (direct-mapped by SuperSlab address: 64 × 2 MiB
    /// covers 128 MiB of SuperSlabs without a collision; 1 KiB per heap). SuperSlabs are not
    /// mapped back to back (other mappings fall between them), so at 16 entries a dozen of them
    /// already collided: glibc-thread sent 72 K of its 2.5 M frees to the registry, rptest 328 K of
    /// 5.2 M, a 2-thread random replacement of 16-16,000 B 13% of its frees; at 64, under 20
    /// each (docs/benchmarks.md, session 7, fast7).
    pub const HINT_ENTRIES: usize = 64;
    /// Entries of the per-thread remote-free batches (direct-mapped by slab address), and the
    /// bytes and blocks a batch collects before it is pushed (front/remote_batch.rs): a thread
    /// holds at most `REMOTE_BATCH_ENTRIES * REMOTE_BATCH_BYTES` of other threads' freed blocks. 32
    /// entries: the 32 slabs of one SuperSlab never share one (callgrind, remote pair: 16 entries
    /// 175 instructions, 32 and 64 entries 151).
    pub const REMOTE_BATCH_ENTRIES: usize = 32;
    pub const REMOTE_BATCH_BYTES: usize = 4096;
    pub const REMOTE_BATCH_MAX: usize = 32;
    /// Entries of the per-thread owned-slab table (direct-mapped by slab address; 2,048 × 64 KiB
    /// covers 128 MiB of slabs without a collision; 32 KiB per heap). At 256 (16 MiB) a thread
    /// of c-thread or glibc-thread (sizes up to 32 KiB, ~500 slabs) sent a quarter of its local
    /// frees to the hint path, half while profiling (sampled blocks' mappings spread the
    /// SuperSlabs): docs/benchmarks.md, session 3. At 512 (32 MiB) the 2-thread random
    /// replacement of 16-16,000 B (25-30 SuperSlabs, the threads' slabs interleaved) still sent
    /// 13-19% of its local frees there (`Stats::owned_misses`), at 1,024 4%, at 2,048 none:
    /// docs/benchmarks.md, session 8 (fast8). With 32-byte entries (`TABLE32`) 1,024 entries
    /// keep the table at 32 KiB per heap (every entry was written when the heap was made, so a
    /// larger table was resident in every thread; with `LAZY_TABLE` only the pages of entries in
    /// use are): with the SuperSlabs back to back
    /// (`MMAP_NEXT_HINT`) 1,024 entries missed 8,287 of 26.8 M local frees over three runs of
    /// the random replacement of 16-16,000 B, and none in larson, rreplace and c-thread
    /// (docs/benchmarks.md, session 10, fast10).
    /// With foreign entries the table also holds the slabs a thread pins (front/foreign.rs), so
    /// two threads' live sets share it: `super::TABLE_2K` gives the 32-byte table 2,048 entries
    /// (64 KiB of address space per heap; with `LAZY_TABLE` only the pages of entries in use are
    /// resident).
    pub const OWNED_ENTRIES: usize = if super::TABLE32 && !super::TABLE_2K {
        1024
    } else {
        2048
    };
    /// Largest block size served by the medium classes; larger requests go to `large`.
    pub const MAX_MEDIUM_SIZE: usize = 4 << 20;
    /// Medium classes per doubling of the size: worst-case internal fragmentation
    /// `1 / (MEDIUM_STEPS + 1)` (11.1% for 8).
    pub const MEDIUM_STEPS: usize = 8;
    /// Bytes at the start of a span that hold its header; blocks start right after (so every
    /// medium block is aligned to this).
    pub const SPAN_HEADER_BYTES: usize = 4096;
    /// Smallest and largest span (one mapping each, a power of two, a multiple of the registry's
    /// chunk).
    pub const MIN_SPAN_BYTES: usize = 2 << 20;
    pub const MAX_SPAN_BYTES: usize = 32 << 20;
    /// A span holds at least this many blocks when `MAX_SPAN_BYTES` allows.
    pub const SPAN_MIN_BLOCKS: usize = 8;
    /// Bytes of empty spans kept committed for reuse before further empty ones are decommitted
    /// (counted as each span's highest carve, `span::SpanLinks::dirty`, which bounds what may be
    /// resident: a 32 MiB span of 4 MiB blocks written at their ends counts its whole carve). 64
    /// MiB (16 until session 12): mixed-stress, whose exiting threads cache about 50 spans each,
    /// purged most of them and faulted their pages in again in the next round; with
    /// `SPAN_CLASS_AFFINE` 8,093 -> 7,073 faults, task-clock 71.2 -> 64.2 ms (11 interleaved runs),
    /// peak RSS 19.8 -> 22.6 MiB (23.4 before both; docs/benchmarks.md, "Session 12: rows14").
    pub const KEEP_SPAN_BYTES_COMMITTED: usize = 64 << 20;
}

#[cfg(hakmem_loom)]
mod sizes {
    /// 2 slabs per SuperSlab; slab 0 holds the loom-sized header (about 450 bytes, loom's atomics
    /// and cells being larger than the real ones), as in the real layout.
    pub const SUPERSLAB_SHIFT: usize = 10;
    pub const SLAB_SHIFT: usize = 9;
    pub const MAX_SMALL_SIZE: usize = 64;
    pub const MAG_BATCH_MAX: usize = 2;
    pub const TLS_CAP_MAX: usize = 2;
    pub const TLS_BYTES: usize = 128;
    pub const HINT_ENTRIES: usize = 2;
    /// Two entries of batches of two 64-byte blocks (the models' class): loom model 15
    /// (`loom_tests/batch.rs`) holds a batch of two blocks.
    pub const REMOTE_BATCH_ENTRIES: usize = 2;
    pub const REMOTE_BATCH_BYTES: usize = 128;
    pub const REMOTE_BATCH_MAX: usize = 2;
    pub const OWNED_ENTRIES: usize = 512;
    /// Two medium classes (96 and 128 bytes), spans of 2 KiB (the header in the first 1 KiB).
    pub const MAX_MEDIUM_SIZE: usize = 128;
    pub const MEDIUM_STEPS: usize = 2;
    pub const SPAN_HEADER_BYTES: usize = 1024;
    pub const MIN_SPAN_BYTES: usize = 2048;
    pub const MAX_SPAN_BYTES: usize = 2048;
    pub const SPAN_MIN_BLOCKS: usize = 2;
    /// One span kept committed, so that a model can race a purge of the cache with a reuse.
    pub const KEEP_SPAN_BYTES_COMMITTED: usize = 2048;
}

pub use sizes::*;

pub const SUPERSLAB_SIZE: usize = 1 << SUPERSLAB_SHIFT;
pub const SUPERSLAB_MASK: usize = SUPERSLAB_SIZE - 1;
pub const SLAB_SIZE: usize = 1 << SLAB_SHIFT;
/// Slabs per SuperSlab, including slab 0 whose space holds the SuperSlab header.
pub const SLABS_PER_SUPERSLAB: usize = SUPERSLAB_SIZE / SLAB_SIZE;
/// Slab 0 holds the header; slabs 1.. hold blocks.
pub const FIRST_DATA_SLAB: usize = 1;
/// The smallest page the OS box works with.
pub const PAGE_SIZE: usize = 4096;

const _: () = assert!(SLABS_PER_SUPERSLAB >= 2);
const _: () = assert!(SLABS_PER_SUPERSLAB <= 64, "free-slab bitmap is one u64");
const _: () = assert!(
    MAX_SMALL_SIZE <= SLAB_SIZE / 2,
    "every slab holds at least two blocks"
);
const _: () = assert!(MAG_BATCH_MAX <= TLS_CAP_MAX);
const _: () = assert!(MAX_MEDIUM_SIZE > MAX_SMALL_SIZE && MAX_MEDIUM_SIZE.is_power_of_two());
const _: () = assert!(MIN_SPAN_BYTES.is_power_of_two() && MAX_SPAN_BYTES.is_power_of_two());
const _: () = assert!(
    MIN_SPAN_BYTES % SUPERSLAB_SIZE == 0,
    "a span is registered chunk by chunk"
);
const _: () = assert!(MIN_SPAN_BYTES <= MAX_SPAN_BYTES && SPAN_HEADER_BYTES < MIN_SPAN_BYTES);
const _: () = assert!(
    (MAX_SPAN_BYTES - SPAN_HEADER_BYTES) / MAX_MEDIUM_SIZE >= 2,
    "every span holds at least two blocks"
);
/// Offsets of blocks inside their slab or span are below this (the block-boundary check relies on
/// it, see `size_class::block_index`).
pub const MAX_BLOCK_OFFSET: usize = if MAX_SPAN_BYTES > SLAB_SIZE {
    MAX_SPAN_BYTES
} else {
    SLAB_SIZE
};
const _: () = assert!(MIN_ALIGN.is_power_of_two());

/// The freed-block mark of headerless mode (cheap double-free detection, docs/design.md). On in
/// every headerless build; `RUSTFLAGS="--cfg hakmem_no_free_mark"` compiles it out (A/B switch for
/// measuring its cost). Header mode detects double frees through the header instead.
pub const FREE_MARK: bool = HEADERLESS && !cfg!(hakmem_no_free_mark);

/// The freed mark binds the key to the block: a freed block's second word is `key ^ address`, not
/// the bare key. The bare key sits in registers across the allocator's calls and so lands on the
/// stack (spilled callee-saved registers); a program that builds a value there and moves it, with
/// its uninitialised padding, into a heap block carried the key into a live block, whose free then
/// aborted as a double free (session 22: std's mpmc channel under `force-notify`,
/// docs/debugging.md "The freed mark and stale stack bytes"). `key ^ address` is computed just
/// before its store and matches only the one block it was made for. One instruction per free.
/// `RUSTFLAGS="--cfg hakmem_no_mark_address"` goes back to the bare key (A/B).
pub const MARK_ADDRESS: bool = !cfg!(hakmem_no_mark_address);

/// The free fast path finds its owned-slab table entry by `addr ^ key < SLAB_SIZE` instead of
/// `key == addr & !(SLAB_SIZE - 1)` (front/owned.rs, `OwnedSlabs::probe`): the xor is at once
/// the match and, on a hit, the block's offset in its slab, which the block check multiplies, so
/// the mask of the address and the separate zero-extension of its low 16 bits become one xor
/// (C batch 41 -> 40 instructions per pair, session 24, docs/benchmarks.md "Session 24:
/// batch24"). An empty entry's key (`NO_KEY`, all ones under this switch) matches only the
/// top 64 KiB of the address space, never a user pointer, and its zero limit sends such a
/// pointer to the full check, which finds no entry and takes the unowned path. Headerless with
/// 32-byte entries only (header mode's block lies 16 bytes below the pointer, in the previous
/// slab for a bad pointer). `RUSTFLAGS="--cfg hakmem_no_xor_lookup"` goes back to the masked
/// compare (A/B).
pub const XOR_LOOKUP: bool = OWNED_TABLE && TABLE32 && HEADERLESS && !cfg!(hakmem_no_xor_lookup);

/// The owned-slab table (front/owned.rs): part of the hint box, so on with `tls-hint`;
/// `RUSTFLAGS="--cfg hakmem_no_owned_table"` compiles it out (A/B switch), leaving the free fast
/// path to the SuperSlab hint cache and the owner compare.
pub const OWNED_TABLE: bool = TLS_HINT && !cfg!(hakmem_no_owned_table);

/// Owned-slab table entries of 32 bytes (front/owned.rs) carrying, next to the key, what the
/// owner's free fast path reads of the slab: the fused block check's divisor and `carve_limit`,
/// and the TLS list pointer. The free then reads one table line and the block, and no line of
/// the slab's record (one load less; cachegrind: -15.6% / -9.4% allocator D1 read misses per
/// replacement, docs/benchmarks.md session 9, fast9, and session 10, fast10). Header mode uses
/// it too unless `HEADER_ENTRY` is backed out. Backout: `RUSTFLAGS="--cfg hakmem_no_table32"`
/// (the 16-byte entry everywhere). The entry layout itself is chosen by the same `cfg`s in
/// front/owned.rs.
pub const TABLE32: bool = !cfg!(hakmem_no_table32) && (HEADERLESS || !cfg!(hakmem_no_header_entry));

/// The 32-byte owned-slab table gets 2,048 entries, not 1,024 (`sizes::OWNED_ENTRIES`). With
/// foreign entries (front/foreign.rs) a thread's table holds its own slabs and those of other
/// threads it keeps blocks of; in the 2-thread random replacement with cross-thread frees
/// (throughput.sh's rreplace-x) both threads' slabs then collide in 1,024 direct-mapped entries,
/// and every collision is a slow free (`free_owned_untabled`'s re-entry, or `keep`'s pin and the
/// evicted pin's unpin, atomic RMWs on another thread's slab line). 2,048 entries: rreplace-x of
/// 1-16 KiB blocks +20% ops per CPU s, both threads on their own cores (docs/benchmarks.md,
/// "Session 23: xt23"). The heap grows by 32 KiB of address space; with `LAZY_TABLE` an entry's
/// page is touched only when a slab that maps there is entered. Backout:
/// `RUSTFLAGS="--cfg hakmem_no_table_2k"`.
pub const TABLE_2K: bool = TABLE32 && !cfg!(hakmem_no_table_2k);

/// A new heap's owned-slab table is left as the fresh metadata memory holds it, zero, instead of
/// being written entry by entry (front/owned.rs, `OwnedSlabs::init`): an all-zero 32-byte entry
/// is empty as well as `NO_KEY`'s (no address but one below `SLAB_SIZE` maps its slab to key 0,
/// and those map to entry 0, which still gets `NO_KEY`). The table is 32 KiB of the heap's 47;
/// writing it made every thread resident in all of it, an idle one using a page or two (a thread
/// doing one malloc: 60 -> 31 KiB of RSS, docs/benchmarks.md, "Session 22: thread22"). Only
/// with `TABLE32`: the 16-byte entry holds a `NonNull`, which zero is not.
/// `RUSTFLAGS="--cfg hakmem_no_lazy_table"` writes every entry again (A/B switch).
pub const LAZY_TABLE: bool = TABLE32 && !cfg!(hakmem_no_lazy_table);

/// A heap's slab lists and hint cache come after the fields an idle thread never writes
/// (front/heap.rs: the remote batches, the profiler's sampler, frames and countdowns, the retired
/// marks), and a new heap leaves those as its zeroed memory holds them (`Heap::init`): with
/// `LAZY_TABLE`, they share pages with the table's untouched end instead of with the fields every
/// thread writes. docs/benchmarks.md, "Session 22: thread22". `RUSTFLAGS="--cfg
/// hakmem_no_cold_first"` puts the slab lists and the hint cache back after the table and writes
/// every field (A/B switch); the fields' places are chosen by the same `cfg` in front/heap.rs.
pub const COLD_FIRST: bool = !cfg!(hakmem_no_cold_first);

/// A heap recycled at its thread's exit gives the whole pages of its owned-slab table past entry
/// 0 back to the OS (front/owned.rs, `OwnedSlabs::decommit_interior`, one `madvise` per thread
/// exit): each thread that reused a pooled heap made the table pages of its own slabs resident,
/// and a pooled heap kept the union of every earlier thread's, so RSS climbed with every round
/// of threads (3,000 threads x 4 rounds: docs/benchmarks.md, "Session 23: mem23"). Needs
/// `LAZY_TABLE` (a zero entry is empty). `RUSTFLAGS="--cfg hakmem_no_recycle_purge"` keeps them
/// (A/B switch).
pub const RECYCLE_PURGE: bool = LAZY_TABLE && !cfg!(hakmem_no_recycle_purge);

/// `RECYCLE_PURGE` purges only a heap that joins a pool already holding this many: a program
/// that replaces a thread as another exits (larson: 120 exits, the pool 0-2 deep) reuses the
/// heap at once and would refault the table pages it just gave back (c-larson: 1,524 -> 2,363
/// minor faults, +3.6% CPU, purging every exit); the heaps of a round of threads that exited
/// together go back deep in the pool and are purged. Shrunk under loom.
pub const RECYCLE_PURGE_DEPTH: usize = if cfg!(hakmem_loom) { 1 } else { 16 };

/// The pool's dirty free slabs are purged at once, whatever the purge delay, when they pass a
/// budget: more than `DIRTY_BUDGET_MIN_SLABS` and more than the slabs handed out (pool.rs,
/// `over_dirty_budget`). Threads that come and go in rounds leave every slab they held dirty at
/// their exit; the next round's threads bind them to other classes, or carve further into them,
/// and touch new pages, so a churning program's RSS climbed round by round towards the pool's
/// whole address space until the delay ran out (thread-rounds, 64 threads x 6 rounds in ~0.2 s:
/// 131 -> 263 MiB; docs/benchmarks.md, "Session 23: mem23"). Off with the delay -1 (never).
/// `RUSTFLAGS="--cfg hakmem_no_dirty_budget"` waits out the delay again (A/B switch).
pub const DIRTY_BUDGET: bool = !cfg!(hakmem_no_dirty_budget);

/// The dirty-slab budget (`DIRTY_BUDGET`) sweeps only after a thread exited since its last sweep
/// (pool.rs, `note_thread_exit`): the memory it is for is what exited threads left. A live
/// program that frees most of its heap between phases and builds it again (CPython under
/// `PYTHONMALLOC=malloc`: scripts/real-programs.py's python-malloc) passed the budget four times a
/// run, purged 226 MB instead of 10 and took 58-61k page faults instead of 19-23k (CPU 8% up,
/// peak RSS level), refaulting the very slabs it was about to reuse; the clock's delay is its
/// budget. `RUSTFLAGS="--cfg hakmem_no_dirty_budget_after_exit"` sweeps on the budget alone
/// (A/B switch).
pub const DIRTY_BUDGET_AFTER_EXIT: bool = !cfg!(hakmem_no_dirty_budget_after_exit);

/// The floor of the dirty-slab budget (`DIRTY_BUDGET`): 512 slabs, 32 MiB of slab space (its
/// resident part is what the slabs' users touched, often less), kept for reuse whatever the
/// program holds. Shrunk under loom (the pool has 2 slabs per SuperSlab there).
pub const DIRTY_BUDGET_MIN_SLABS: usize = if cfg!(hakmem_loom) { 4 } else { 512 };

/// Header mode's free fast path from the 32-byte owned-slab table entry (`TABLE32`'s entry and
/// `front::free::free_entry`): the block check against the entry's divisor and limit, then the
/// header check against the tag that divisor names (`slab::header::tag_of_divisor`: one `xor`,
/// two compares), the push on the entry's list — no line of the slab's record (before session
/// 11, header mode kept the 16-byte entry and read the slab's header word, divisor, limit and
/// list pointer there; C 49 → 47, Rust 43 → 41 instructions per pair, docs/benchmarks.md
/// session 11, hdr11). Backout: `RUSTFLAGS="--cfg hakmem_no_header_entry"` (header mode on the
/// 16-byte entry and `free::free_owned`; headerless builds do not change).
pub const HEADER_ENTRY: bool = !HEADERLESS && TABLE32;

/// The free fast path's block check in one multiply and one compare against the slab's
/// `carve_limit` (`Slab::is_carved_block`, `slab::divisor_of`): the carve bound and the
/// divisibility test fused. `RUSTFLAGS="--cfg hakmem_no_fused_block_check"` compiles it out (A/B
/// switch): a compare with `carved_end`, then the divisibility test.
pub const FUSED_BLOCK_CHECK: bool = !cfg!(hakmem_no_fused_block_check);

/// `free(NULL)` returns from `free_unowned` once the owned-slab table and the hint cache have
/// missed, before `free_slow`, whose prologue (four pushes and a frame) it paid before its own
/// null test: the 2-thread random replacement of bench/c/throughput frees the emptied slot once
/// per operation, and `free_slow` + `free_unowned` held 4% of its samples. `RUSTFLAGS="--cfg
/// hakmem_no_null_free_early"` compiles it out (A/B switch).
pub const NULL_FREE_EARLY: bool = !cfg!(hakmem_no_null_free_early);

/// `free(NULL)` returns at the owned-slab table's miss, in `front::free::free` itself, before the
/// jump to `free_unowned` and its hint-cache lookup: null never matches the table (with
/// `config::XOR_LOOKUP` it indexes entry 0, whose key — a slab address or the empty entry's all
/// ones — is at least `SLAB_SIZE`, so `0 ^ key` misses), so the test costs the owner's fast path
/// nothing; the frees that miss the table (remote, heapless, medium, large) pay a test and a
/// branch (+2 instructions), and `free(NULL)` drops from 24 to 12 instructions (C, callgrind,
/// `scripts/fastpath-instructions.sh`, docs/benchmarks.md "Session 24: null24"). Programs that
/// free the slot they empty, and cleanup code, call it often. With it, `free_unowned` no longer
/// tests null (`NULL_FREE_EARLY`'s test is then dead: nothing passes it null). Only with the
/// table (`config::OWNED_TABLE`); without it `NULL_FREE_EARLY` applies. Backout:
/// `RUSTFLAGS="--cfg hakmem_no_null_free_miss"`.
pub const NULL_FREE_MISS: bool = OWNED_TABLE && !cfg!(hakmem_no_null_free_miss);

/// Rust's `dealloc` (and `Allocator::deallocate`) free through `free::free_nonnull`, which skips
/// `NULL_FREE_MISS`'s null test at the table miss: their pointer is a block the allocator handed
/// out, never null, so the test only cost the Rust frees that miss the table (remote, heapless,
/// medium, large) a compare and a branch. `scripts/fastpath-instructions.sh`, Rust rows: remote
/// pair and heapless freer, see docs/benchmarks.md "Session 27: tidy27". C's `free` keeps the
/// test (`free(NULL)` is legal there). `RUSTFLAGS="--cfg hakmem_no_dealloc_skips_null"` compiles
/// it out (A/B switch).
pub const DEALLOC_SKIPS_NULL: bool = NULL_FREE_MISS && !cfg!(hakmem_no_dealloc_skips_null);

/// A slab's owner pointer sits on its record's second line, with the remote queue head, the
/// class and the carve bound (`slab::slab::Slab`), not on the holder's first line, and
/// `front::free::free_remote` bounds the block by the freed pointer's slab address instead of the
/// record's `data`: a remote free then reads one line of the slab's record (the one its push
/// writes anyway), not also the line the owner writes on every refill and spill. Backout:
/// `RUSTFLAGS="--cfg hakmem_no_owner_remote_line"`.
pub const OWNER_REMOTE_LINE: bool = !cfg!(hakmem_no_owner_remote_line);

/// The profiler's sample interns its stack through the thread's cache of the last one it sampled
/// (`prof::table::Table::intern_cached`): a call site sampled again skips the hash and the table
/// probe (callgrind, a 20-frame stack with frame pointers: 386 -> 286 instructions per sample in
/// `begin_sample_into`). Backout: `--cfg hakmem_no_last_stack`.
pub const LAST_STACK: bool = !cfg!(hakmem_no_last_stack);

/// The profiler's stack table keeps each stack's counters in `prof::table::SHARDS` cache lines,
/// one chosen per thread (by its thread pointer), so that threads sampling the same stack (a
/// program without frame pointers samples every request as the one empty stack) add to their own
/// line instead of bouncing one between cores; a dump sums the lines (medium-churn-mt profiled,
/// two cores: CPU -14%, docs/benchmarks.md session 11). Backout (one line, the counters
/// shared): `--cfg hakmem_no_prof_shards`.
pub const PROF_SHARDS: bool = !cfg!(hakmem_no_prof_shards);

/// The profiler's stack table gives the first `prof::table::OWNED` live heaps a counter line of
/// their own in every entry (`prof::Shard`, claimed when the heap is made, kept for its life),
/// which only the heap's thread writes: its samples and frees of sampled blocks count with a
/// plain load and store instead of six locked adds per sample and free (docs/benchmarks.md
/// "Session 12: prof13"). Backout (every heap on the shared lines, atomic adds): `--cfg
/// hakmem_no_prof_owned_shards`.
pub const PROF_OWNED_SHARDS: bool = !cfg!(hakmem_no_prof_owned_shards);

/// A profiled heap's usual miss — the class's countdown covers the request and every block
/// waiting on the free side — takes the free side's top block and swaps the two lists in one step
/// inside `alloc_miss` (`front::profiling::swap_miss`), not through `countdown` and `refill`.
/// Backout: `--cfg hakmem_no_prof_swap_miss`.
/// Used by the free side only (`PROF_FREE_SIDE`, the pop countdown's backout): CI runs its
/// backout together with `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_SWAP_MISS: bool = !cfg!(hakmem_no_prof_swap_miss);

/// A profiled heap's free side spills as an unprofiled heap's TLS list does after a refill that
/// took a slab's whole free list (`SPILL_TOP`): the first spill returns the block just freed and
/// raises the free side's cap by a batch, each later one the batch freed since. Without it
/// `profiling::refill` cleared `HeapLocal::taken`, so the free side spilled down to half its base
/// cap each time: glibc-thread's large classes kept fewer blocks and refilled their slabs 28%
/// more often (docs/benchmarks.md "Session 16: prof19"). Backout: `--cfg hakmem_no_prof_spill_top`.
/// Used by the free side only (`PROF_FREE_SIDE`, the pop countdown's backout): CI runs its
/// backout together with `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_SPILL_TOP: bool = SPILL_TOP && !cfg!(hakmem_no_prof_spill_top);

/// A miss's first step with no call on its paths (`front::alloc::miss_here`): a profiled heap's
/// usual miss (`PROF_SWAP_MISS`) is served there and an unprofiled heap's goes straight to
/// `alloc_slow`, so neither saves the registers the rest of the miss needs (~20 instructions a
/// miss; docs/benchmarks.md "Session 13: prof14"). Backout (every live heap's miss through
/// `alloc_miss_profiled`, as before): `--cfg hakmem_no_prof_miss_here`.
/// Used by the free side only (`PROF_FREE_SIDE`, the pop countdown's backout): CI runs its
/// backout together with `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_MISS_HERE: bool = !cfg!(hakmem_no_prof_miss_here);

/// `front::alloc::miss_here` without its two guards that the profiled swap does not need: the
/// heap's kind (a sentinel's `profiled` flag is false, so a sentinel's miss leaves by the
/// callees that test the kind anyway) and the class's bounds check (the fast path's offset is a
/// class's by contract): −6 of ~44 instructions on every profiled heap's usual miss, the largest
/// instruction item of the profiler's cost on the small-object rows (docs/benchmarks.md
/// "Session 21: prof21"). Backout: `--cfg hakmem_no_prof_lean_miss`.
/// Used by the free side only (`PROF_FREE_SIDE`, the pop countdown's backout): CI runs its
/// backout together with `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_LEAN_MISS: bool = !cfg!(hakmem_no_prof_lean_miss);

/// `front::alloc::miss_here` tries a profiled heap's swap on the free side's length alone while
/// the switch is on, without loading the heap's `profiled` flag first: a heap's free side holds
/// blocks only while the heap is profiled (`profiling::enter` finds it empty and `leave` empties
/// it; a sentinel's is always empty), so a non-empty one answers the flag, and an empty one goes
/// to `alloc_miss_profiled` as an unprofiled heap's did (which follows the switch there). One
/// load, on a line of its own that nothing else on the swap reads, and its branch fewer per
/// profiled miss (docs/benchmarks.md "Session 23: prof23"). Backout (the flag first, as
/// before): `--cfg hakmem_no_prof_swap_first`.
/// Used by the free side only (`PROF_FREE_SIDE`, the pop countdown's backout): CI runs its
/// backout together with `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_SWAP_FIRST: bool = !cfg!(hakmem_no_prof_swap_first);

/// The profiler's class countdowns sit where the alloc fast path's stats counter was
/// (`HeapCounters::class[c].alloc_fast`, next to the TLS list): the pop decrements it and, when it
/// goes negative, tail-calls `front::alloc::pop_trap` with the popped block, which serves the
/// sampled request (src/front/profiling.rs). A profiled heap then keeps one LIFO list per class,
/// as an unprofiled one: no free side, no swaps, no relink; `alloc_fast` for stats is derived
/// (`HeapCounters::alloc_fast_now`). Unprofiled heaps' countdowns sit at `COUNTDOWN_OFF`. Costs
/// the pop a `js` (stats on: `incq` becomes `decq`; stats off: `decq` + `js`). Backout (the
/// free side and its swaps): `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_POP_COUNTDOWN: bool = PROFILE && !cfg!(hakmem_no_prof_pop_countdown);

/// A profiled heap's frees go to a free side (`HeapLocal::freed`) that swaps with the TLS list at
/// a miss: the design `PROF_POP_COUNTDOWN` replaces (its backout).
pub const PROF_FREE_SIDE: bool = PROFILE && !PROF_POP_COUNTDOWN;

/// A profiled heap swaps its two lists of a class (its usual miss, its refill) field by field,
/// each read at the width it was stored with (`front::profiling::swap_lists`), instead of a
/// 16-byte `mem::swap` whose reads follow a 4-byte store of `room` (the pop's, the free push's,
/// `small::refill`'s): reads the store buffer cannot forward (docs/benchmarks.md "Session 15:
/// prof17"). Backout: `--cfg hakmem_no_prof_field_swap`.
/// Used by the free side only (`PROF_FREE_SIDE`, the pop countdown's backout): CI runs its
/// backout together with `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_FIELD_SWAP: bool = !cfg!(hakmem_no_prof_field_swap);

/// A small sample claims its arena slot and its free releases it lock-free (`prof::slots`: one
/// CAS and one `fetch_and` of the arena's used-slot word), and counts itself in the lock-free
/// stack table as a medium sample does, instead of taking the profiler's global lock (`STATE`)
/// twice, once on each side (docs/benchmarks.md "Session 16: prof18"). Backout (the lock around
/// both, the word still atomic): `--cfg hakmem_no_prof_lockfree_slots`.
pub const PROF_LOCKFREE_SLOTS: bool = !cfg!(hakmem_no_prof_lockfree_slots);

/// A sample's weight for `x = size / mean` in [1/32, 16) (the medium tier's requests at the
/// default mean) comes from a table of quadratics (`prof::sampler::WEIGHT_TABLE`) instead of the
/// `1 - exp(-x)` series and a division. Backout (the series for every x): `--cfg
/// hakmem_no_prof_weight_table`.
pub const PROF_WEIGHT_TABLE: bool = !cfg!(hakmem_no_prof_weight_table);

/// A span's `sampled` bits (`span::SampledBits`): the holder's word is written by the span's
/// holder alone, with a plain load and store, so a sampled medium block's mark and its holder's
/// free of it take no locked instruction (`lock or`, `lock and`: a stall on the store buffer
/// that instructions do not show; c-medium-churn profiled −5%, docs/benchmarks.md "Session 14:
/// prof16"). A freer that does not hold the span sets its block's bit in a second word instead,
/// which the holder merges before it hands a block out (`span::take_block`: one load when it is
/// zero). Backout (one word, `fetch_or` to mark, `fetch_and` at every free, as before): `--cfg
/// hakmem_no_prof_owner_bits`.
pub const PROF_OWNER_BITS: bool = !cfg!(hakmem_no_prof_owner_bits);

/// A SuperSlab's reservation first asks for the range right below the previous one
/// (`os::unix::map_below_last`), so SuperSlabs lie back to back: over-reserving and trimming
/// alone left one SuperSlab per 4 MiB, which halved the reach of the direct-mapped per-thread
/// tables indexed by address (owned-slab table, hint cache) and gave each SuperSlab its own VMA.
/// `RUSTFLAGS="--cfg hakmem_no_mmap_hint"` compiles it out (A/B switch): over-reserve and trim
/// every time.
pub const MMAP_NEXT_HINT: bool = !cfg!(hakmem_no_mmap_hint);

/// When the over-reservation of an aligned range (`size + align`) is refused, map exactly `size`
/// and keep it if it is aligned, else ask for the aligned addresses next to where the kernel put
/// it (`os::unix::map_exact_aligned`). Under `mlockall(MCL_FUTURE)` every new mapping is locked
/// and charged in full against `RLIMIT_MEMLOCK` when it is made, slack included: with an
/// unprivileged user's 8 MiB limit the first SuperSlab's 4 MiB over-reservation failed with
/// `EAGAIN` and every `malloc` returned null where glibc served 2 MB (session 25, real25;
/// preload/tests/c/mlock_limit.c). Backout (fail as before): `--cfg hakmem_no_exact_map_fallback`.
pub const EXACT_MAP_FALLBACK: bool = !cfg!(hakmem_no_exact_map_fallback);

/// Locked memory (`mlock`/`mlockall`, root or under `RLIMIT_MEMLOCK`): the kernel refuses
/// `MADV_DONTNEED`/`MADV_FREE` on locked pages with `EINVAL`, and under `mlockall(MCL_FUTURE)`
/// populates every new mapping in full when it is made. The OS box then notes the memory locked
/// once (one failure counted, one line on stderr) and stops purging: a purge is skipped without
/// a system call (counted in `stats().purges_skipped_locked`; every `LOCKED_RETRY_EVERY`-th one is
/// tried again, so a `munlockall` turns purging back on), and its range stays committed and
/// reused as dirty memory. A fresh span whose untouched last page is resident at once (the
/// `MCL_FUTURE` probe in `span::map`) notes it too and is unmapped, and while memory is locked
/// the medium tier's requests are served by the large tier (a mapping of the block's own pages,
/// unmapped beyond the cache's bound, as glibc's mmap'ed chunks), since a span is mapped whole and
/// its pages could never be given back. Root under `mlockall(MCL_CURRENT | MCL_FUTURE)`
/// (scripts/robustness/mlockall_churn.c) peaked at 1.8 GB against glibc's 168 MB with ~10,000
/// failing `madvise` calls (session 25, real25; docs/debugging.md "Session 25: mlock25").
/// Backout (retry every purge, keep medium in spans): `--cfg hakmem_no_locked_memory`.
pub const LOCKED_MEMORY: bool = !cfg!(hakmem_no_locked_memory);

/// When no block of a small class can be had (the OS refuses a new SuperSlab, or memory is locked
/// and the class is not coarse: `LOCKED_COARSE_CLASSES`), the request is served by a larger class
/// of at most twice the size whose list or slabs still hold a block
/// (`front::alloc::alloc_promoted`). Costs nothing until a refill has failed. Under `mlockall`
/// with a 7 MiB `RLIMIT_MEMLOCK` (one SuperSlab fits), a program that mallocs before it locks
/// (scripts/robustness/mlockall_limit.c's pattern) got 516 of 1,000 mixed mallocs null without it,
/// 340 with it (session 26, lock26). Backout (null as before): `--cfg
/// hakmem_no_full_class_promote`.
pub const FULL_CLASS_PROMOTE: bool = !cfg!(hakmem_no_full_class_promote);

/// Metadata memory (`meta`, the thread heaps' records) is bump-allocated from 1 MiB chunks. When
/// the OS refuses a new SuperSlab, the current chunk's unused tail (whole pages past the last
/// record) is unmapped and the pool asked once more (`small::acquire_after_release`), and when a
/// chunk itself is refused, only the record's pages are mapped. Under `mlockall(MCL_FUTURE)` with
/// an 8 MiB `RLIMIT_MEMLOCK` the whole chunk was charged while one heap used a fraction of it,
/// and the second SuperSlab did not fit (session 26, lock26). Backout: `--cfg
/// hakmem_no_meta_release_unused`.
pub const META_RELEASE_UNUSED: bool = !cfg!(hakmem_no_meta_release_unused);

/// While memory is locked (`os::memory_locked`) no new slab is bound to a small class that is not
/// coarse (`size_class::locked_class`: four classes per doubling of the size, at most 25% larger);
/// once that class's slabs are full its requests are served by its coarse class
/// (`front::alloc::alloc_elsewhere`), so that fewer classes each bind a 64 KiB slab. The pool notes
/// the memory locked when a fresh SuperSlab's untouched last page is resident right after its
/// `mmap` (`mlockall(MCL_FUTURE)` populates every mapping; one `mincore` per SuperSlab mapped).
/// Under an 8 MiB `RLIMIT_MEMLOCK`, 1,000 mixed mallocs of 64 B .. 4 KiB touch 77 classes, which
/// bound more slabs (99 unlocked) than the two SuperSlabs that fit; coarse, 54 slabs (session 26,
/// lock26; preload/tests/c/mlock_limit.c). Backout: `--cfg hakmem_no_locked_coarse_classes`.
pub const LOCKED_COARSE_CLASSES: bool = !cfg!(hakmem_no_locked_coarse_classes);

/// The large tier maps a block without `MAP_NORESERVE` (`os::reserve_charged`), so that the
/// kernel's overcommit policy judges it as it judges glibc's mmap of the same request: under the
/// default heuristic a `malloc` (or `memalign`'s over-reservation) larger than RAM + swap fails
/// with `ENOMEM` on both, where with `MAP_NORESERVE` hakmem's succeeded (`malloc(2^35)` on a 23 GiB
/// machine; preload test `c_edge_cases_match_glibc`). SuperSlabs, spans and tables keep
/// `MAP_NORESERVE`. `RUSTFLAGS="--cfg hakmem_no_large_charged"` compiles it out (A/B switch).
pub const LARGE_CHARGED: bool = !cfg!(hakmem_no_large_charged);

/// A refill whose current slab has no local free blocks takes the blocks other threads freed
/// into it (its remote queue) before it carves fresh ones (`small::refill`), as mimalloc
/// collects a page's thread-free list before extending it: a slab whose blocks come back from
/// other threads is reused instead of carved to its end, so its untouched pages stay untouched.
/// `RUSTFLAGS="--cfg hakmem_no_reuse_before_carve"` compiles it out (A/B switch): carve first,
/// the remote queue once the slab is carved to its end.
pub const REUSE_BEFORE_CARVE: bool = !cfg!(hakmem_no_reuse_before_carve);

/// Refill takes the current slab's whole local free list without walking it (front/small.rs,
/// `Slab::take_free_all`; docs/benchmarks.md, session 4 `fast4`), which may leave the TLS list
/// over its cap; until the list is empty again, a spill returns only the block just freed, in
/// O(1) (`HeapLocal::taken`). `RUSTFLAGS="--cfg hakmem_no_whole_free_list"` compiles it out (A/B
/// switch): refill walks a batch of at most `MAG_BATCH_MAX` blocks.
pub const WHOLE_FREE_LIST: bool = !cfg!(hakmem_no_whole_free_list);

/// With `WHOLE_FREE_LIST`: a TLS list holding a slab's whole free list lets a batch of frees
/// gather on its top before it spills, and then returns that batch in one call (`small::spill`:
/// the first spill after the refill returns the block just freed and raises the list's cap by a
/// batch; each later one returns the batch freed since the one before, never the taken blocks
/// below it). Off, every free past the cap spills its own block (session 4's policy, one call per
/// free). `RUSTFLAGS="--cfg hakmem_no_spill_top"` compiles it out (A/B switch).
pub const SPILL_TOP: bool = WHOLE_FREE_LIST && !cfg!(hakmem_no_spill_top);

/// A spill returns its blocks to their slabs a run at a time: consecutive blocks of one slab are
/// spliced onto its free list together, with one owner-list update (`small::return_blocks`,
/// `Slab::put_local_chain`). `RUSTFLAGS="--cfg hakmem_no_spill_runs"` compiles it out (A/B
/// switch): one `put_local` and one owner-list update per block.
pub const SPILL_RUNS: bool = !cfg!(hakmem_no_spill_runs);

/// Foreign entries (front/foreign.rs): a thread freeing a block of another thread's slab keeps it
/// on its own TLS list and enters the slab, pinned, in its owned-slab table, so that its later
/// frees of the slab's blocks take the owner's fast path. Needs the 32-byte table entries and
/// headerless blocks; not with remote batches. On by default since session 15 (docs/benchmarks.md,
/// "Session 15: xt18"); `RUSTFLAGS="--cfg hakmem_no_foreign_entries"` compiles it out (backout).
pub const FOREIGN_ENTRIES: bool = !cfg!(hakmem_no_foreign_entries)
    && OWNED_TABLE
    && TABLE32
    && (HEADERLESS || FOREIGN_ENTRIES_HEADER)
    && !REMOTE_BATCH;

/// Foreign entries (`FOREIGN_ENTRIES`, and with them `CONSUMER_BATCH`) in header mode too, on the
/// 32-byte entry header mode keeps (`HEADER_ENTRY`). A kept block goes on the freer's TLS list
/// like any freed block (the list link written over its tag consumes the header) and gets its
/// header back when the list hands it out (`alloc::finish_header_at`, as every pop); a free
/// through a foreign entry is the owner's fast path (`free::free_entry`: block check, header
/// check against the tag the entry's divisor names, push). A remote free that joins a consumer
/// batch clears the tag at once (`free::retire_fast`): a batch links its first block only when
/// it flushes, and a second free of that block must find no live header. sh8bench, where half of
/// the frees are another thread's: docs/benchmarks.md "Session 27: hdr27".
/// `RUSTFLAGS="--cfg hakmem_no_foreign_entries_header"` compiles it out (A/B switch): header mode
/// pushes every remote free on the slab's queue, as before session 27.
pub const FOREIGN_ENTRIES_HEADER: bool = !HEADERLESS && !cfg!(hakmem_no_foreign_entries_header);

/// Foreign entries only for a freer that allocates the block's class (its heap refilled the
/// class: `KeepBackoff::reuses`): a thread that only frees a class (a consumer) keeps nothing.
/// Backout (within foreign entries): `--cfg hakmem_no_foreign_reusers`.
pub const FOREIGN_REUSERS: bool = !cfg!(hakmem_no_foreign_reusers);

/// Foreign entries follow reuse (front/foreign.rs, `KeepBackoff`): a spill that returns more
/// kept (foreign) blocks than own ones shows the thread frees the class faster than it reuses
/// the kept blocks, so its next `FOREIGN_BACKOFF_FREES << level` remote frees of the class keep
/// nothing (the level rises with each such spill, falls with each refill of the class).
/// Backout (within foreign entries): `--cfg hakmem_no_foreign_backoff`.
pub const FOREIGN_BACKOFF: bool = !cfg!(hakmem_no_foreign_backoff);
/// The remote frees of a class a first backoff skips; each further level doubles it.
pub const FOREIGN_BACKOFF_FREES: u32 = 64;
/// The highest backoff level: at most `FOREIGN_BACKOFF_FREES << FOREIGN_BACKOFF_MAX_LEVEL`
/// (65,536) remote frees of a class skipped at once.
pub const FOREIGN_BACKOFF_MAX_LEVEL: u8 = 10;

/// A class's backoff that reaches `SPILL_FORGET_LEVEL` (that many spills returning more kept
/// blocks than own ones, less one per refill of the class between them) also forgets that the
/// thread reuses the class (`KeepBackoff::reuses` back to 0): its remote frees of the class then
/// go as a consumer's (`CONSUMER_BATCH`: one CAS per batch of a slab's blocks, nothing kept) until
/// its list of the class runs dry again (`refill` sets `reuses`). Without it a thread that
/// allocated a class once (rust-json's main thread: start-up strings) and then only frees other
/// threads' blocks of it kept them, spilled them back and, while backed off, pushed them one CAS
/// each, for its whole life. rust-json (callgrind, scale 0.3, 6 runs each): the whole run
/// 436.0-437.3 M instructions against the backout's 436.7-446.7 M (bimodal: `__rust_dealloc` 60
/// or 80-85 instructions a call); rptest, xmalloc, larson, mstress, sh8bench level. Forgetting at
/// the first such spill (level 1) sent rptest's reusing threads into a consumer mode in 3 of 10
/// runs (+7% instructions, 5x the refills) (docs/benchmarks.md, "Session 26: json26"). Backout
/// (within foreign entries and their backoff): `--cfg hakmem_no_spill_forgets_reuse`.
pub const SPILL_FORGETS_REUSE: bool = FOREIGN_BACKOFF && !cfg!(hakmem_no_spill_forgets_reuse);
/// The backoff level at which `SPILL_FORGETS_REUSE` forgets.
pub const SPILL_FORGET_LEVEL: u8 = 3;

/// Foreign entries end with their slab's owner (front/foreign.rs): an exiting owner that
/// publishes a pinned slab marks its release wanted, so that its pinners drop their entries at
/// their next slow path and the slab's later frees go to its queue, for the adopter, instead of
/// spreading the pinners' live sets over the exited thread's slabs (larson). Backout (within
/// foreign entries): `--cfg hakmem_no_foreign_unpin_published`.
pub const FOREIGN_UNPIN_PUBLISHED: bool =
    FOREIGN_ENTRIES && !cfg!(hakmem_no_foreign_unpin_published);

/// A profiled heap keeps foreign blocks too (front/foreign.rs): a kept block goes on the list
/// its frees push on (the free side, `HeapLocal::free_list`) and the slab's entry names that
/// list. Without it a profiled heap pushed every remote free on the slab's queue, and its owner
/// drained them back one refill at a time: sh8bench's profiled heaps made x25 the refills and
/// x580 the remote frees of the unprofiled ones (docs/benchmarks.md "Session 17: prof20").
/// Backout (within foreign entries): `--cfg hakmem_no_prof_foreign`.
/// Used by the free side only (`PROF_FREE_SIDE`, the pop countdown's backout): CI runs its
/// backout together with `--cfg hakmem_no_prof_pop_countdown`.
pub const PROF_FOREIGN: bool = FOREIGN_ENTRIES && !cfg!(hakmem_no_prof_foreign);

/// A sampled medium block's profile record lives in its span's header page (one slot per block
/// bit, `front::medium::record_slot`), not in the block's tail, so a sampled request takes the
/// class an unsampled one of its size takes. With the record in the tail a request within
/// `RECORD_BYTES` of its class's size (every power of two: `Vec` growth, realloc ladders) landed
/// one class up when sampled, a profiled heap alternated between neighbouring classes and
/// `SPAN_PURGE_FIRST_EMPTY` purged and refaulted each one's first emptied span
/// (docs/benchmarks.md "Session 18: prof22"). Backout: `--cfg hakmem_no_prof_header_records`.
pub const PROF_HEADER_RECORDS: bool = PROFILE && MEDIUM && !cfg!(hakmem_no_prof_header_records);

/// `realloc` of a sampled medium block within its class keeps it in place, as an unsampled
/// block's does, when the calling thread holds its span: the old sample ends and the new size is
/// drawn and recorded in the block's slot (`front::medium::resample_in_place`); a sampled block
/// that moves takes its next size from its class on the growth ladder, as an unsampled one does.
/// Without it every realloc of a sampled medium block moved it, sized from its request:
/// realloc-growth made 291-316 medium allocations profiled against 214 unprofiled
/// (docs/benchmarks.md "Session 18: prof23"). Backout: `--cfg hakmem_no_prof_realloc_in_place`.
pub const PROF_REALLOC_IN_PLACE: bool =
    PROF_HEADER_RECORDS && !cfg!(hakmem_no_prof_realloc_in_place);

/// A medium free ends its block's sample inside `front::medium::free`, after the boundary check,
/// from the block index that check computed: a free in a span with a live sampled block tests its
/// own `sampled` bit in line, and only a sampled block's free leaves the path
/// (`front::medium::end_sample_marked`). Without it the free path called
/// `front::medium::end_sample_slow` for every free in such a span, which found the class and the
/// index again: 11,282 of c-medium-churn's 48,405 such calls were for unsampled blocks
/// (docs/benchmarks.md "Session 19: prof24"). Backout: `--cfg hakmem_no_prof_end_in_free`.
pub const PROF_END_IN_FREE: bool = PROFILE && MEDIUM && !cfg!(hakmem_no_prof_end_in_free);

/// A sampled medium request's calls flattened: `front::alloc::sample` finds its class in line,
/// `alloc_medium_sampled` takes the sample in line with the stack captured into the heap's
/// `prof_frames` (not a 512-byte buffer on the stack, which above `alloc_with_span`'s refills
/// broke the 2 KiB stack bound), and `prof::begin_sample_into` is in line in its callers:
/// −31 to −33 of ~300 instructions a sample (docs/benchmarks.md "Session 20: prof25").
/// Backout: `--cfg hakmem_no_prof_flat_sample`.
pub const PROF_FLAT_SAMPLE: bool = PROFILE && MEDIUM && !cfg!(hakmem_no_prof_flat_sample);

/// A sampled medium request takes its block in line (`front::medium::alloc_with_span`, with
/// `alloc_in` and `span::take_block`, inlined into `front::alloc::alloc_medium_sampled`): the
/// sampled path makes one call less and saves its registers once, not twice: c-medium-churn
/// 262.5 → 237.6 instructions a sample (docs/benchmarks.md "Session 22: prof22"). The frame of
/// `alloc_medium_sampled` grows by 16 bytes, and `alloc_with_span`'s goes (tests/preload.rs
/// `c_small_stacks` holds the 2 KiB bound). Only the inlining attribute depends on it (an item's
/// attribute cannot read a const); the const says which build this is. Backout: `--cfg
/// hakmem_no_prof_inline_take`.
pub const PROF_INLINE_TAKE: bool = PROFILE && MEDIUM && !cfg!(hakmem_no_prof_inline_take);

/// A sample's weight and record in fixed point: the weight's table (`PROF_WEIGHT_TABLE`) holds
/// its quadratics in 32.32 and is evaluated in integers (`prof::sampler::weight_fixed_now`),
/// and the record's objects and bytes are a shift and one multiplication of that weight
/// (`prof::Record::from_fixed`), not two float products, clamps and conversions. The numbers a
/// profile reports differ from the float path's by at most one unit of each counter per sample (1/256
/// of a request, one byte), and only where the float product lies within 2^-20 of a half
/// (docs/benchmarks.md "Session 25: pmed25"). Backout: `--cfg hakmem_no_prof_lean_sample`.
pub const PROF_LEAN_SAMPLE: bool = PROFILE && !cfg!(hakmem_no_prof_lean_sample);

/// With foreign entries, a consumer's remote frees (a live heap freeing a class it does not
/// allocate, so it keeps none of them) go through the thread's remote-free batches
/// (front/remote_batch.rs): one CAS per slab batch instead of one per block. A reusing freer's
/// frees are unchanged, kept or (backoff, published slab, release wanted) pushed one by one.
/// A trade between the two ways a 2-thread row's threads meet (docs/benchmarks.md, "Session 17:
/// rows20" and "consumer batches on by default"): xmalloc 0.79-0.83 of the build without it when
/// both threads run at once (`scripts/paired.py --sched parallel`, where that build is 1.06-1.12
/// of jemalloc), 1.01-1.07 when they take turns on one core (`--sched shared`); larson 1.01-1.02.
/// On by default (threads of a producer/consumer program run at once on any machine with the
/// cores for them); backout `--cfg hakmem_no_consumer_batch`. Not while notifications are
/// forced (the `force-notify` feature's switch on): every remote free then pushes and notifies.
pub const CONSUMER_BATCH: bool = FOREIGN_ENTRIES && !cfg!(hakmem_no_consumer_batch);

/// A free into a slab whose remote batch the thread holds (front/remote_batch.rs) is linked into
/// the batch right after `free_unowned`'s hint-cache hit: the batch entry, direct-mapped
/// by slab address, carries the slab's data address, class, divisor and a carve limit (copies
/// taken when the batch started; the slab stays bound to the class while the batch holds a
/// block of it), so the free needs no hint, no SuperSlab or slab record, no owner compare
/// (docs/benchmarks.md, "Session 23: remote23"). A free the entry's (possibly stale, lower)
/// limit refuses, or that finds the freed mark, takes the full path as before. After the hint (the
/// first placement, before it, cost `free(NULL)` and medium frees ~7 instructions: rreplace-x's
/// `free_unowned` instructions per operation doubled). Headerless, with the TLS hint (header
/// mode's remote frees check the header). Backout `--cfg hakmem_no_batch_hit`.
pub const BATCH_HIT: bool =
    HEADERLESS && TLS_HINT && (CONSUMER_BATCH || REMOTE_BATCH) && !cfg!(hakmem_no_batch_hit);

/// The slab pin protocol of foreign entries (`Slab::pinned_keep`, `unbind`'s check): compiled
/// with them, and always under loom (loom_tests/pin.rs models it whatever the build's switches).
pub const SLAB_PINS: bool = FOREIGN_ENTRIES || cfg!(hakmem_loom);

/// Remote-free batching (front/remote_batch.rs): a thread collects the blocks it frees into
/// another thread's slab per slab and pushes each batch with one CAS. Off by default:
/// `RUSTFLAGS="--cfg hakmem_remote_batch"` compiles it in. Measured on the 2-core machine it did
/// not pay (docs/benchmarks.md, "Cross-thread"): 12 more instructions per remote pair, and CPU
/// time flat to worse on xmalloc, sh8bench and c-xmalloc (blocks held back from their owner); it
/// is kept, tested (.ci/run runs the batch tests with the cfg) and model-checked for machines where
/// one CAS per block on a contended queue costs more.
pub const REMOTE_BATCH: bool = cfg!(hakmem_remote_batch);

/// The refill hands a remote chain of at most a batch to the empty TLS list unwalked
/// (`Slab::take_remote`, the count kept in the queue's head): its blocks are first read by the
/// pops. `RUSTFLAGS="--cfg hakmem_no_remote_unwalked"` turns it off: every chain is then the
/// pending chain, walked by `take_batch` (A/B in docs/benchmarks.md).
pub const REMOTE_UNWALKED: bool = !cfg!(hakmem_no_remote_unwalked);

/// A thread that has never allocated gets its own heap at its first free of one of our blocks
/// (`free::free_slow`), as it would at its first allocation: its later frees find their SuperSlab
/// in its hint cache and count in its own counters, instead of a registry lookup and three
/// process-wide atomic increments per free on the shared `EMPTY` sentinel (producer/consumer
/// programs, whose consumers only free). `RUSTFLAGS="--cfg hakmem_no_freer_heap"` turns it off:
/// such a thread then frees heapless for its whole life (A/B in docs/benchmarks.md).
pub const FREER_HEAP: bool = !cfg!(hakmem_no_freer_heap);

/// A forked child takes over the heaps of the parent's other threads, which do not exist in it:
/// at its first small refill (or `collect`) after the fork, every such heap whose thread was not
/// inside a slow path at the fork instant (`Heap::busy`) is flushed as thread exit flushes it,
/// minus its TLS lists (leaked: a list caught mid-push is not walkable), so its slabs and spans
/// are released or published for the child's threads (`thread::take_over_dead_heaps`; design in
/// docs/design.md, "A forked child and the parent's other threads' heaps").
/// `RUSTFLAGS="--cfg hakmem_no_fork_takeover"` compiles it out (A/B switch): those heaps leak what
/// they held, in the child only, as before.
pub const FORK_TAKEOVER: bool = !cfg!(hakmem_no_fork_takeover);

/// The fork takeover publishes the parent threads' medium spans without purging their free blocks
/// first (thread exit purges them, `medium::flush`): in a forked child those pages are the
/// parent's, shared copy on write, so the purge frees no memory while the parent lives, yet its
/// `madvise` calls cost system time and its span-header writes (`span::trim_free`) each copy a
/// page. An adopting heap's trim (`medium::trim`, run by its local frees) purges them as its own;
/// until an adoption they stay resident, so a child that outlives its parent holds them alone
/// (bounded by the parent threads' free medium bytes at the fork; before fork26 the takeover
/// purged them). fork26 measured the purge's share of a small child's takeover (docs/benchmarks.md,
/// "Session 26: fork26").
/// `RUSTFLAGS="--cfg hakmem_no_takeover_keeps_pages"` compiles it out (A/B switch): the takeover
/// purges as thread exit does.
pub const TAKEOVER_KEEPS_PAGES: bool = FORK_TAKEOVER && !cfg!(hakmem_no_takeover_keeps_pages);

/// The fork takeover leaves a taken heap's owned-slab table as it is (`small::flush`'s
/// `abandon`): the heap is never used again (`BOUND_TAKEN`), so removing each published or
/// released slab's entry and clearing the table afterwards only write the parent's table pages in
/// the child, a copy-on-write fault each (fork26, docs/benchmarks.md "Session 26: fork26").
/// `RUSTFLAGS="--cfg hakmem_no_takeover_skips_table"` compiles it out (A/B switch): the takeover
/// empties the table as thread exit does.
pub const TAKEOVER_SKIPS_TABLE: bool = FORK_TAKEOVER && !cfg!(hakmem_no_takeover_skips_table);

/// Before a heap carves a fresh block of a medium span, it adopts a published span of the class
/// that has blocks freed into it, if there is one (`PublishList::adopt_freed`, looking at up to
/// `ADOPT_FREE_BUDGET` of the list's spans), and serves that span's freed blocks first; the span
/// it was carving waits on its partial list. Threads that exit with medium blocks live publish
/// spans with a few blocks carved each; the thread that frees those blocks and allocates the
/// same sizes again adopted one span per class and carved its untouched rest while the other
/// spans' freed, resident blocks waited (`preload/tests/c/exit_reuse_medium.c`: RSS growth 35 /
/// 57 / 64 MiB over three rounds of 64 MiB, glibc 0.4; docs/benchmarks.md, "Session 22: med22").
/// `RUSTFLAGS="--cfg hakmem_no_adopt_free_first"` compiles it out (A/B switch).
pub const ADOPT_FREE_FIRST: bool = ADOPT && !cfg!(hakmem_no_adopt_free_first);
/// Before a heap carves a fresh block of a medium span (past the pages an earlier binding of the
/// span dirtied, `span::carve_is_fresh`) and after `ADOPT_FREE_FIRST` found no published span
/// with frees, it binds a committed cached span last bound to the class, if there is one
/// (`SpanCache::take_resident`): its blocks of that class are resident at the same boundaries.
/// The span it was carving waits on its partial list. A heap that freed all its blocks of a
/// class (the spans other than the current one go to the cache) and allocated them again carved
/// its current span's untouched rest while the cached spans' resident blocks waited
/// (`exit_reuse_medium.c`'s rounds after the first: 35 / 41 MiB with `ADOPT_FREE_FIRST` alone).
/// `RUSTFLAGS="--cfg hakmem_no_cache_before_carve"` compiles it out (A/B switch).
pub const CACHE_BEFORE_CARVE: bool = !cfg!(hakmem_no_cache_before_carve);
/// How many published spans `ADOPT_FREE_FIRST` looks at under the list lock per carve.
pub const ADOPT_FREE_BUDGET: usize = 16;

/// `alloc_zeroed` (C's `calloc`) of a medium block carved where its span has not been written
/// since it was mapped or last purged with `MADV_DONTNEED` clears only the two words the carve
/// and the freed mark wrote, not the block (`span::known_zero`, as mimalloc's `is_zero` and
/// jemalloc's zeroed extents): the memset would cost CPU and make every page of the block
/// resident. A reused or `MADV_FREE`-purged block is cleared as before.
/// `RUSTFLAGS="--cfg hakmem_no_known_zero"` compiles it out (A/B switch): every medium block is
/// cleared.
pub const KNOWN_ZERO: bool = !cfg!(hakmem_no_known_zero);

/// `alloc_zeroed` (C's `calloc`, Rust's `vec![0; n]`) of at most `SMALL_ZERO_INLINE_MAX` bytes
/// clears its block with a few overlapping stores of the exact size (`front::alloc::zero_small`,
/// as memset's own small-size path does) instead of calling `memset`: no call, no PLT and ifunc,
/// cfrac's zeroed allocations (docs/benchmarks.md, "Session 27: rows27").
/// It writes the bytes it is given: the request, or the class size with `CALLOC_CLEARS_USABLE`.
/// `RUSTFLAGS="--cfg hakmem_no_small_zero_inline"` compiles it out (A/B switch): `write_bytes`.
pub const SMALL_ZERO_INLINE: bool = !cfg!(hakmem_no_small_zero_inline);
/// `alloc_zeroed` (C's `calloc`) of a small block clears its whole usable size (what
/// `malloc_usable_size` reports), not only the request, as glibc's `calloc` clears its whole
/// chunk: a program may write and read up to the usable size (docs/debugging.md, "Session 28:
/// edge28": `calloc(1, 20)` left bytes 20..32 of the freed block's old contents, the free-list
/// link among them). The inline path clears the class size (`off + 16`), as cheap as the request;
/// the slow and general paths clear `size` rounded up to 16 (a fine class's usable size) or
/// `usable_size`; a reused medium block clears its class size and a reused large mapping
/// everything past its header (`map_len - offset`). Fresh and known-zero memory is not touched.
/// `RUSTFLAGS="--cfg hakmem_no_calloc_clears_usable"` compiles it out (A/B switch): only the
/// request is cleared.
pub const CALLOC_CLEARS_USABLE: bool = !cfg!(hakmem_no_calloc_clears_usable);
/// The largest `alloc_zeroed` that `SMALL_ZERO_INLINE` clears inline: four 16-byte stores.
pub const SMALL_ZERO_INLINE_MAX: usize = 64;

/// `alloc_zeroed` of a reused medium block of 16 pages or more not known to be zero clears it as
/// `LARGE_CLEAR_RESIDENT` clears a large block (`large::clear_resident`): resident pages that are
/// not zero by hand, the others purged (a swapped-out page is not resident and not zero), so the
/// pages a block's earlier user never touched (or a trim left out) are not faulted in to be
/// written with zeroes. `RUSTFLAGS="--cfg hakmem_no_medium_clear_resident"` compiles it out (A/B
/// switch): such a block is cleared whole by hand.
pub const MEDIUM_CLEAR_RESIDENT: bool = !cfg!(hakmem_no_medium_clear_resident);

/// `realloc` growing a large block that cannot grow in place moves its pages to a new mapping
/// (`large::move_grow`, `mremap` onto a fresh aligned reservation) instead of copying its bytes
/// into a new block, as glibc's `realloc` of an mmapped chunk does: no copy, no page faults for
/// the old part, and the old block does not sit committed in the large cache. Growing a buffer by
/// doubling to 256 MiB: 1.4 s and 272 MiB peak RSS with the copy against 0.37 s and 132 MiB
/// (docs/benchmarks.md, session 7 `medium7`). `RUSTFLAGS="--cfg hakmem_no_large_move"` compiles
/// it out (A/B switch): the block is copied.
pub const LARGE_MOVE: bool = !cfg!(hakmem_no_large_move);

/// `realloc` of a large block that carries a profile sample (`HAKMEM_PROF=1`) resizes it in place
/// or moves its pages as it does an unsampled one (`large::resize_in_place`, `large::move_grow`)
/// and then re-decides its sample (`large::resample`: the old sample ends, the new size takes the
/// sampler's decision like a new request, as the copy did), instead of copying every byte into a
/// new block: with the profiler on, every block of a few MiB is sampled almost surely, and a
/// growth loop on one was quadratic (512 MiB grown to 1 GiB: 514 MiB peak RSS and 0.49 s against
/// 2 MiB and 0 s unprofiled; docs/benchmarks.md, "Session 13: large15").
/// `RUSTFLAGS="--cfg hakmem_no_sampled_large_move"` compiles it out (A/B switch): a sampled large
/// block is copied on every `realloc`.
pub const SAMPLED_LARGE_MOVE: bool = !cfg!(hakmem_no_sampled_large_move);

/// When the OS refuses a reservation (a new SuperSlab, span or large mapping), the large cache's
/// blocks are unmapped and the reservation is asked once more (`large::reserve_aligned`): under
/// an address-space limit (`RLIMIT_AS`, `ulimit -v`) the up to `LARGE_CACHE_BYTES` of freed large
/// blocks the cache keeps mapped for the purge delay would otherwise make every other size fail
/// (a program that freed ten 40 MiB blocks under a 512 MiB limit then got only 113 MB of
/// 5000-byte blocks; docs/benchmarks.md, "Session 13: robust14"). Runs only after a refusal.
/// `RUSTFLAGS="--cfg hakmem_no_oom_release"` compiles it out (A/B switch): the refusal is
/// returned as null at once.
pub const OOM_RELEASE: bool = !cfg!(hakmem_no_oom_release);

/// A thread that has waited long on a lock checks whether it is in a forked child whose fork
/// handler has not run yet — a page mapped with `MADV_WIPEONFORK` at the first heap reads 0 there
/// and 1 everywhere else, a `vfork` child included — and if so bumps the fork epoch itself
/// (`lock::fork::catch_up`), so a lock a thread of the parent held at the fork instant is taken
/// over: a program's own child handler that allocates and was registered before hakmem's (in a
/// constructor, before the first allocation) otherwise spun forever in the child
/// (preload/tests/c/atfork_early.c hung in round 1 or 4). Costs one load per 64 yields of a
/// waiting thread. `RUSTFLAGS="--cfg hakmem_no_fork_catch_up"` compiles it out (A/B switch).
pub const FORK_CATCH_UP: bool = !cfg!(hakmem_no_fork_catch_up);

/// `calloc` of a block from the large cache zeroes the pages the block's last users left
/// resident by hand (`large::clear`, `mincore`), and purges only the others: purging every page
/// made a program that writes its `calloc`ed block fault each one in again (the kernel zeroing it
/// a second time). The resident pages stay resident, as they were while the block was cached.
/// `RUSTFLAGS="--cfg hakmem_no_large_clear_resident"` compiles it out (A/B switch): every page
/// is purged.
pub const LARGE_CLEAR_RESIDENT: bool = !cfg!(hakmem_no_large_clear_resident);

/// Free medium blocks are given back to the OS once a heap holds too many of them
/// (`front::medium::trim`): a span keeps every block its class ever carved, so a program whose
/// sizes spread over many medium classes kept the sum of every class's high-water resident (a
/// ~50 MiB live set at 480 MiB peak RSS, docs/benchmarks.md, session 8 `medium8`). Every
/// `MEDIUM_TRIM_CHECK_BYTES` of local frees, at most once per `MEDIUM_TRIM_AGE_MS`, a heap drains
/// its spans' remote queues and counts its free blocks not yet purged; over `MEDIUM_DIRTY_BYTES` it
/// purges the pages past the first (which holds the links) of those that stayed free through a
/// whole epoch, largest classes first, down to half of it. An exiting thread purges all of them
/// before it publishes its spans. `RUSTFLAGS="--cfg hakmem_no_medium_trim"` compiles it out (A/B
/// switch). Off in the loom models (their medium blocks are smaller than a page).
pub const MEDIUM_TRIM: bool = !cfg!(hakmem_no_medium_trim) && !cfg!(hakmem_loom);

/// A trim (`MEDIUM_TRIM`, `span::trim_free`) asks which pages of a span are resident once per
/// `os::RESIDENT_MAX_PAGES` piece of the span (`span::ResidencyMap`, one `mincore` per 2 MiB)
/// instead of once per free block: an exiting thread's purge asked about every free block of its
/// spans (1,468 of mixed-stress's 1,679 `mincore` calls, ~3.3 µs each on this VM;
/// docs/benchmarks.md, session 9 `medium9`), and not at all about a block too small to purge
/// (fewer than 16 pages past its first). The decisions are the same: a block's pages are counted
/// from the map, taken before the walk purges anything (blocks do not overlap).
/// `RUSTFLAGS="--cfg hakmem_no_trim_residency_map"` compiles it out (A/B switch): one query per
/// block, as before.
pub const TRIM_RESIDENCY_MAP: bool = !cfg!(hakmem_no_trim_residency_map);

/// An exiting thread's purge of its spans' free blocks (`MEDIUM_TRIM`, `front::medium::flush`)
/// leaves out the spans with nothing out: the exit gives those to the span cache, whose committed
/// budget and purge clock decide for them, as for a span emptied on a live thread. Asking which of
/// their pages are resident was most of mixed-stress's `mincore` calls (~1,250 -> ~300 a run with
/// `TRIM_RESIDENCY_MAP`; docs/benchmarks.md, session 10 `medium10`), and the blocks it found
/// resident were purged again by the cache when over its budget.
/// `RUSTFLAGS="--cfg hakmem_no_exit_trim_skips_empty"` compiles it out (A/B switch).
pub const EXIT_TRIM_SKIPS_EMPTY: bool = !cfg!(hakmem_no_exit_trim_skips_empty);

/// The reclaim pass an exiting thread runs over the medium publish lists (`front::medium::
/// reclaim_at_exit`) leaves the spans with frees waiting in their remote queues to the adopters
/// when adoption is on (`ADOPT`, `HAKMEM_TINY_SS_ADOPT`): it takes only the idle ones (nothing
/// out). Those spans' blocks were freed by other threads after their owner left; they are what a
/// live heap's refill adopts first (`ADOPT_FREE_FIRST`: their freed blocks are resident). Taken by
/// the exit pass, drained and cached, they sat committed in the cache's 64 MiB budget for the
/// purge delay while the live threads adopted other published spans and refaulted the free blocks
/// the exits had purged: four threads started after four exited, or a four-thread fork child,
/// grew 18-40 MiB per round with 64 MiB of data and took 2.4x the page faults of one thread doing
/// the same (`preload/tests/c/fork_reuse_medium.c`; docs/benchmarks.md, "Session 23: fork23").
/// They still leave the list through an adoption, `new_span`'s reclaim pass (before a span is
/// mapped) and `collect`'s. Backout: `--cfg hakmem_no_exit_reclaim_leaves_freed`.
pub const EXIT_RECLAIM_LEAVES_FREED: bool = !cfg!(hakmem_no_exit_reclaim_leaves_freed);

/// A new span of medium class `c` comes from the span cache's committed spans last bound to `c`
/// first (`span::SpanCache::take_for`, among the `SPAN_AFFINE_SCAN` most recently cached of its
/// size), then from the most recent one as before, as the pool prefers a slab last bound to the
/// class asked for: a span bound to its last class again carves the same block boundaries, so
/// the pages its last binding touched (each block's first page and whatever the program wrote)
/// are touched again without a page fault; another class of the same span size touches other
/// pages. mixed-stress (threads torn down every round, their empty spans cached and bound again
/// by the next round's threads; about 50 medium classes) faulted about one page per medium
/// allocation, ~3 µs each on this VM (docs/benchmarks.md, "Session 12: rows14").
/// `RUSTFLAGS="--cfg hakmem_no_span_class_affine"` compiles it out (A/B switch): the most recently
/// cached span of the size, whatever its last class.
pub const SPAN_CLASS_AFFINE: bool = !cfg!(hakmem_no_span_class_affine);

/// How many committed spans of one size `SPAN_CLASS_AFFINE` looks through (under the cache lock)
/// for one last bound to the class asked for.
pub const SPAN_AFFINE_SCAN: usize = 32;

/// Bytes of free, unpurged medium blocks a heap keeps before `MEDIUM_TRIM` purges them (per
/// heap: a thread's own hoard; looked at every `MEDIUM_TRIM_CHECK_BYTES` of local frees). 16 MiB
/// until session 9, then 8 MiB (with a 5 ms epoch, the spread-classes stress's peak RSS 142–181
/// → 118–121 MiB against glibc's 100; docs/benchmarks.md, `medium9`), 4 MiB since session 18
/// (`rss25`): a hoard of 4–8 MiB of freed blocks of many classes stayed resident (git log's pack
/// and delta buffers: max RSS 54.3 → 52.3 MiB). `RUSTFLAGS="--cfg hakmem_no_medium_dirty_4mib"`
/// compiles it out (A/B switch): 8 MiB.
pub const MEDIUM_DIRTY_BYTES: usize = if cfg!(hakmem_no_medium_dirty_4mib) {
    8 << 20
} else {
    4 << 20
};

/// Bytes of a heap's local medium frees between two trim checks (`MEDIUM_TRIM`): 8 MiB, the
/// old `MEDIUM_DIRTY_BYTES`, which set both until session 18. A check drains every medium
/// class's remote queues and walks every free list: one per 4 MiB cost mixed-stress 5–6% CPU
/// (paired, docs/benchmarks.md, "Session 18: rss25"), while one per 8 MiB finds a hoard over
/// the 4 MiB limit as well (it is then purged down to half the limit).
pub const MEDIUM_TRIM_CHECK_BYTES: usize = 8 << 20;
const _: () = assert!(MEDIUM_DIRTY_BYTES <= MEDIUM_TRIM_CHECK_BYTES);

/// A heap whose trim checks by frees (`MEDIUM_TRIM`) come `TRIM_SLOW_CHECK_MS` or more apart (a
/// slow churner) runs each as a check on bind does (every block free through the last epoch
/// purged once the unclean bytes pass half the allowance), and its next one after the frees its
/// hoard allowance has left (`dirty_bytes` less the unclean bytes the check left, at least half
/// the allowance, at most `MEDIUM_TRIM_CHECK_BYTES`) instead of after `MEDIUM_TRIM_CHECK_BYTES`
/// (`front::medium::trim`). Between two checks a heap holds what its last check left plus what
/// it freed since, and only blocks freed before the last check can be purged; with checks every
/// 8 MiB of frees a slow churner's epochs were about a second long. Four threads churning medium
/// blocks of 24 classes, a few each per heap (`scripts/fork-bench/fork_bench.c sleep`), held
/// 19-21 MiB of free carved blocks in their bound spans at the peak: peak RSS 121-133 -> 115-122
/// MiB (docs/benchmarks.md, "Session 27: mtrss27"). A heap whose checks come faster (a fast
/// churner, for which a check's walk of every free list is what `MEDIUM_TRIM_CHECK_BYTES` keeps
/// rare) keeps the 8 MiB pace, so the rule adds at most one check per `TRIM_SLOW_CHECK_MS`.
/// `RUSTFLAGS="--cfg hakmem_no_trim_check_by_allowance"` compiles it out (A/B switch).
pub const TRIM_CHECK_BY_ALLOWANCE: bool = !cfg!(hakmem_no_trim_check_by_allowance);

/// The gap between two trim checks by frees at or past which `TRIM_CHECK_BY_ALLOWANCE` treats
/// the heap as a slow churner (four trim ages).
pub const TRIM_SLOW_CHECK_MS: u64 = 20;

/// A heap about to bind a new medium span runs a trim check (`MEDIUM_TRIM`,
/// `front::medium::trim_on_bind`) when the unclean free bytes its last check left plus the bytes
/// freed locally since come to more than half of `MEDIUM_DIRTY_BYTES`, and if its free blocks not
/// clean are over that, purges every one that stayed free through the whole last epoch: growing
/// while holding free blocks is a hoard's signature, and a program that frees its hoard with few
/// medium frees after it (perl's realloc ladders and hash doublings, 30 medium allocations a run)
/// never reaches the next check by its frees (max RSS 112.6 -> 110.2 MiB; docs/benchmarks.md,
/// "Session 18: rss26"). `RUSTFLAGS="--cfg hakmem_no_medium_trim_on_bind"` compiles it out (A/B
/// switch).
pub const MEDIUM_TRIM_ON_BIND: bool = !cfg!(hakmem_no_medium_trim_on_bind);

/// A heap about to bind a new medium span that it does not rebind (`SPAN_REBIND_RETIRED`) first
/// gives the span cache, purged, every retired current span of its own of another span size
/// (`front::medium::purge_retired_on_bind`; those of the size it binds stay for the rebind): the
/// spans of classes it stopped using no longer stay resident for the whole purge delay while it
/// touches new memory for other classes. cc1 (gcc -O2) allocates and frees blocks of ever new classes, a few at a
/// time, and kept each class's emptied span resident: peak RSS ~7 MiB over glibc's
/// (docs/benchmarks.md, "Session 23: span23"); glibc reuses that memory for the next size.
/// `RUSTFLAGS="--cfg hakmem_no_retired_purge_on_bind"` waits out the delay again (A/B switch).
pub const RETIRED_PURGE_ON_BIND: bool = MEDIUM && !cfg!(hakmem_no_retired_purge_on_bind);

/// `RETIRED_PURGE_ON_BIND` purges every retired span at age 0 only while the heap's live span
/// bytes are at a new high (`front::medium::purge_retired_on_bind`): the bind about to happen
/// would take the bytes of medium spans bound to heaps (`front::medium::SPAN_BYTES_HELD`), less
/// the heap's retired ones, past the most this heap has seen after a bind (a growing program's
/// peak). Below the high it leaves alone the retired spans empty for less than
/// `RETIRED_PURGE_IDLE_MS` whose class retired a span before (it churns its span) and that hold
/// at most `RETIRED_HOLD_MAX_BYTES`, carved and resident; they go at a later bind or on the purge
/// clock. git log -p's classes bound their purged spans again 0-4 ms after the purge and faulted
/// the pages back (docs/benchmarks.md, "Session 25: refault25"). The high alone did not spare
/// cc1 (it binds mostly below its high, and then held a 32 MiB span with 3.5 MiB carved, and
/// 2 MiB spans faulted as huge pages), nor sqlite3 (its `realloc` ladder's rungs, each a class
/// used once): hence the size, residency and churn conditions. Decay in the spirit of jemalloc's
/// `dirty_decay_ms` and mimalloc's `purge_delay`, waived while growing.
/// `RUSTFLAGS="--cfg hakmem_no_retired_purge_high"` purges at age 0 at every bind again (A/B
/// switch; docs/benchmarks.md, "Session 25: purge25").
pub const RETIRED_PURGE_HIGH: bool = RETIRED_PURGE_ON_BIND && !cfg!(hakmem_no_retired_purge_high);

/// `RETIRED_PURGE_ON_BIND` leaves alone the retired span of a medium class that climbs its heap's
/// ladder round after round: a class whose span the purge on bind took and whose next bind comes
/// while the heap's live span bytes, with that bind, are at most their high
/// (`HeapLocal::retired_high`). Such a comeback means the heap came down after the purge and is
/// climbing again through the same sizes (Lua growing its tables by doubling each round: the
/// purge gave the rungs' spans back every round, at a new high as well as below it, and the next
/// round faulted them in again; docs/benchmarks.md, "Session 26: pyt26"); a class that comes
/// back while the heap still grows past its high is growth, and cc1's one-off classes never come
/// back, so both are still purged at once. No time window: the class stays a rung
/// (`purge::Retired::rung`) until its span sits out a whole purge delay (the clock's release
/// clears it: the rounds stopped), and the purge clock still takes its retired span after the
/// delay. A rung's span is held only if it holds resident (`mincore` of its first 2 MiB) at most
/// twice what it carved (`front::medium::rungs_held`: a small class faulted in as a 2 MiB huge
/// page is given back). `RUSTFLAGS="--cfg hakmem_no_retired_purge_rounds"` purges every round
/// again (A/B switch; docs/benchmarks.md, "Session 27: lua27").
pub const RETIRED_PURGE_ROUNDS: bool = RETIRED_PURGE_HIGH && !cfg!(hakmem_no_retired_purge_rounds);

/// The idle age `RETIRED_PURGE_HIGH` asks of a retired span when the bind is below the high.
pub const RETIRED_PURGE_IDLE_MS: u64 = 100;

/// `RETIRED_PURGE_HIGH` lets a young retired span stay below the high only if its carved blocks
/// come to at most this many bytes (the most its purge would give back): git's carve 80 KiB to
/// 1.25 MiB, cc1's 32 MiB span 3.5 MiB, which held for 100 ms raised gcc -O2's peak RSS 2-4 MiB.
pub const RETIRED_HOLD_MAX_BYTES: usize = 1280 << 10;

/// `RETIRED_PURGE_ON_BIND` gives a heap's retired spans back at most once per this many
/// milliseconds: a heap that churns blocks of classes of several span sizes (medium-churn) binds
/// a span every few allocations and took its other classes' spans back purged each time, then
/// faulted them in again (c-medium-churn: 1,910 -> 168,227 faults, 35x the CPU, purging at every
/// bind).
pub const RETIRED_PURGE_INTERVAL_MS: u64 = 10;

/// A heap's trim epoch (`MEDIUM_TRIM`): its trims run at most once per epoch and purge only
/// blocks that stayed free through a whole epoch, so a block the program reuses within this many
/// milliseconds of freeing it is not purged and refaulted. 20 ms: peak RSS of the spread-classes
/// stress 480 → 155 MiB for 27% more page faults; 50 ms: 210 MiB for none; 5 ms (with an 8 MiB
/// `MEDIUM_DIRTY_BYTES`): 118–121 MiB for 45% more faults than 20 ms (docs/benchmarks.md,
/// sessions 8 and 9): the blocks freed within the last epoch were most of what stayed resident.
pub const MEDIUM_TRIM_AGE_MS: u64 = 5;

/// A heap's trim backs off when the program takes back the blocks it just purged
/// (`front::medium::trim`, in the spirit of jemalloc's decay and tcmalloc's release rate): a
/// purge the program faults back in within the next epoch saved no memory and cost a page fault
/// per page. The trim tags each block it purges with its epoch (`span::trim_free`) and the
/// medium allocation path counts the bytes it hands out of blocks the current epoch's trim
/// purged or the one before (two loads of the block's first line, which the pop reads anyway); a
/// trim that finds them three quarters or more of what those two purged raises the heap's hoard
/// allowance (`MEDIUM_DIRTY_BYTES << level`) `TRIM_BACKOFF_STEP` levels, up to
/// `TRIM_BACKOFF_MAX`, and `TRIM_BACKOFF_QUIET` trims in a row without that signal lower it one. lua's hash-part doubling (blocks of one
/// class freed and taken again a few epochs later) refaulted ~6,000 pages a run that saved no
/// peak RSS (docs/benchmarks.md, "Session 21: real21" and "trim21").
/// `RUSTFLAGS="--cfg hakmem_no_trim_backoff"` compiles it out (A/B switch): a fixed allowance.
pub const TRIM_BACKOFF: bool = !cfg!(hakmem_no_trim_backoff);

/// The most doublings of the hoard allowance `TRIM_BACKOFF` makes: 4 MiB << 4 = 64 MiB per heap.
pub const TRIM_BACKOFF_MAX: u32 = 4;

/// Levels `TRIM_BACKOFF` rises by on one trim's refaults: 2, a fourfold allowance (lua's hoard
/// grew past a doubled allowance by the next trim: ~17.5 of its 33.6 MB of purges stayed with
/// one level a step).
pub const TRIM_BACKOFF_STEP: u32 = 2;

/// Trims in a row without refaults after which `TRIM_BACKOFF` halves the allowance again.
pub const TRIM_BACKOFF_QUIET: u32 = 8;
const _: () = assert!(REMOTE_BATCH_ENTRIES.is_power_of_two() && REMOTE_BATCH_MAX >= 1);

/// Per-box counters (`stats` feature); without it every bump compiles to nothing.
pub const STATS: bool = cfg!(feature = "stats");
/// Integrity checks at every box boundary: the `checked` feature, and every debug build.
pub const CHECKED: bool = cfg!(feature = "checked") || cfg!(debug_assertions);
/// The structural walks at box boundaries (`Slab::debug_check` where a slab changes hands): under
/// `checked`, but not in the loom models, whose state space their extra loads would only grow.
pub const VALIDATE: bool = CHECKED && !cfg!(hakmem_loom);
/// The recent-event ring (`trace`, implied by `checked`; on in debug builds).
pub const TRACE: bool = cfg!(feature = "trace") || CHECKED;
/// memcheck client requests (`valgrind` feature).
pub const VALGRIND: bool = cfg!(feature = "valgrind");
/// Entries of the recent-event ring.
pub const EVENT_RING: usize = 256;

/// The count of local frees per TLS list is derived, not bumped per free (src/stats.rs,
/// `HeapCounters::free_local`): a list's `room` goes down by one at each counted push (a local
/// free) and up by one at each counted pop (`alloc_fast`), so pushes = pops + the room at the
/// last settle − the room now. Every other change of a list's room (refill, spill, flush, the
/// profiler's swaps, a kept foreign block, the cap's decay, heap reuse) is bracketed by
/// `Heap::rooms`/`Heap::settle`, which fold it out. The free fast path loses its counter
/// bump: one instruction per free (C batch 40 -> 39, session 24 "count24"). Only with `stats`.
/// `RUSTFLAGS="--cfg hakmem_no_derived_free_count"` bumps the counter on every free again (A/B).
pub const DERIVED_FREE_COUNT: bool = STATS && !cfg!(hakmem_no_derived_free_count);

/// The push's decrement of its list's `room` and its cap test as one `dec dword [room]; js` in
/// inline assembly (`TlsList::push`, x86-64). `room` became an atomic in session 28 so that
/// `stats()` reads it from other threads without a data race (ThreadSanitizer); LLVM folds the
/// owner's Relaxed `store(load - 1)` into a `dec` to memory only when nothing uses the result,
/// and the cap test uses it: `mov; dec; mov; jns`, two instructions more per free (C pair and
/// batch 40 -> 42, Rust 34 -> 36; docs/benchmarks.md "Session 28: room28"). The asm's aligned
/// 4-byte `dec` is, for every other thread, what the Relaxed load and store are: one
/// single-copy atomic store of a word only the owner writes. ThreadSanitizer does not see inside
/// asm; its CI step runs with the backout, where every access is a Rust atomic it checks.
/// `free_entry_spill` takes the block first so that the asm's fall-through (the spill) needs no
/// register shuffle; with `(h, ptr)` the register allocator moved the block at `free`'s entry
/// instead (+1 on every free, free(NULL) included). `asm goto` (label operands) needs Rust 1.87;
/// the crate's rust-version is 1.85, so build.rs sets `hakmem_asm_goto` on 1.87 or later and
/// older compilers build the Relaxed load and store (C pair 42).
/// Backout: `--cfg hakmem_no_room_dec_asm` (the Relaxed load and store).
pub const ROOM_DEC_ASM: bool =
    cfg!(all(target_arch = "x86_64", hakmem_asm_goto)) && !cfg!(hakmem_no_room_dec_asm);

/// `realloc`'s move of a block found in the owned-slab table, when the new block is a small one
/// at alignment ≤ 16 whose TLS list has a block (`front::alloc::realloc_move_owned`): one
/// function without a stack frame that pops the new block, copies a prefix of up to
/// `REALLOC_INLINE_COPY` bytes in 16-byte moves (no `memcpy` call) and pushes the old block
/// through the table entry the first lookup found (`free::free_found`: no second lookup).
/// Anything else (an empty list, the profiler's countdown at its sample, a block the entry's
/// check refuses, a larger or aligned new block) takes `realloc_move` as before. rust-btreemap's
/// realloc, where every call moves, measured in docs/benchmarks.md "Session 26: realloc26".
/// Needs the 32-byte headerless table entry (its list pointer is the free's target).
/// `RUSTFLAGS="--cfg hakmem_no_realloc_owned_move"` compiles it out (A/B switch): every move is
/// `realloc_move`'s alloc, `memcpy` and free.
pub const REALLOC_OWNED_MOVE: bool =
    OWNED_TABLE && TABLE32 && HEADERLESS && !cfg!(hakmem_no_realloc_owned_move);

/// `REALLOC_OWNED_MOVE` in header mode, on the 32-byte entry header mode keeps
/// (`HEADER_ENTRY`): `realloc` of a block found in the owned-slab table checks it as the free's
/// fast path does (`free::free_entry`: the block check of `ptr - 16` against the entry's divisor
/// and limit, then the live header at the 16-byte offset against the tag the divisor names), so
/// the block's usable size is its class size less the header without `header::peek`'s full
/// check; a block that passes both moves through `realloc_move_owned` (the new block's header
/// written as `alloc_fast` writes it, the old one's consumed by the push's link). A block that
/// fails either check (a larger alignment's offset, a bad or freed pointer) takes the full check
/// (`small_usable_size`), which aborts or handles it, as before. rust-btreemap's realloc, where
/// every call moves: docs/benchmarks.md "Session 27: hdr27".
/// `RUSTFLAGS="--cfg hakmem_no_realloc_owned_move_header"` compiles it out (A/B switch): header
/// mode's realloc reads the header through `small_usable_size` and moves with `realloc_move`.
pub const REALLOC_OWNED_MOVE_HEADER: bool =
    OWNED_TABLE && TABLE32 && !HEADERLESS && !cfg!(hakmem_no_realloc_owned_move_header);

/// The longest prefix `realloc_move_owned` copies with inline 16-byte moves; a longer one calls
/// `memcpy`.
pub const REALLOC_INLINE_COPY: usize = 64;

/// `realloc` reads the class of a block its owned-slab table found from the slab's shared
/// `class` (`Slab::bound_class`), not from the holder-only `SlabLocal::class` (proof27). With
/// foreign entries (`FOREIGN_ENTRIES`) the table also names slabs the thread only pins, and a
/// pinner's access to the holder's cell races with the holder's refills, drains and spills in
/// it — a data race on the cell (two `&mut SlabLocal` at once) though never on the class's value,
/// which no one writes while the caller holds a block of the slab (loom `foreign_class.rs`,
/// mutant `bound_class_local`; docs/design.md "Foreign entries"). The same load at another offset
/// (the remote freers' line instead of the holder's). `RUSTFLAGS="--cfg
/// hakmem_no_realloc_shared_class"` compiles it out (A/B switch): the holder-only read of
/// session 26.
pub const REALLOC_SHARED_CLASS: bool = !cfg!(hakmem_no_realloc_shared_class);

/// A spill's run of blocks returned to a slab that still has blocks out and is not on the full
/// list leaves the owner lists alone without calling `small::returned` (whose last arm does
/// nothing for it): the common run when a dropped map's blocks spill, one or two blocks of a
/// partial slab at a time (rust-btreemap, docs/benchmarks.md "Session 26: realloc26").
/// `RUSTFLAGS="--cfg hakmem_no_spill_return_skip"` compiles it out (A/B switch).
pub const SPILL_RETURN_SKIP: bool = !cfg!(hakmem_no_spill_return_skip);
