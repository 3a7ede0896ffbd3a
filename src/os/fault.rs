//! Test-only fault injection for the OS box (feature `fault-injection`): makes the next N
//! reservations fail, so tests can show that `alloc` returns null and recovers afterwards; and
//! makes the next N releases (`munmap`) or decommits (`madvise`) fail, so tests can show that an OS
//! refusing to take memory back loses nothing.

use crate::sync::plain::{AtomicU64, AtomicUsize, Ordering};

static FAIL_NEXT: AtomicUsize = AtomicUsize::new(0);

/// Makes the next `n` OS reservations (and in-place growths) fail. `0` switches failures off.
pub fn fail_next_reservations(n: usize) {
    // ORDERING: Relaxed — a standalone counter; no other data is published with it.
    FAIL_NEXT.store(n, Ordering::Relaxed);
}

/// Consumes one pending failure; true if this call must fail.
pub(crate) fn take_failure() -> bool {
    // ORDERING: Relaxed — as above.
    FAIL_NEXT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
}

static FAIL_RELEASES: AtomicUsize = AtomicUsize::new(0);
static FAIL_DECOMMITS: AtomicUsize = AtomicUsize::new(0);

/// Makes the next `n` releases (`munmap`, whole or partial) fail as past `vm.max_map_count`.
/// `usize::MAX` refuses every one until switched off with `0`.
pub fn fail_next_releases(n: usize) {
    // ORDERING: Relaxed — as `fail_next_reservations`.
    FAIL_RELEASES.store(n, Ordering::Relaxed);
}

/// Makes the next `n` decommits (`madvise`) fail. `0` switches failures off.
pub fn fail_next_decommits(n: usize) {
    // ORDERING: Relaxed — as `fail_next_reservations`.
    FAIL_DECOMMITS.store(n, Ordering::Relaxed);
}

fn take(c: &AtomicUsize) -> bool {
    // ORDERING: Relaxed — as above.
    c.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| match n {
        0 => None,
        usize::MAX => Some(usize::MAX),
        n => Some(n - 1),
    })
    .is_ok()
}

static FAIL_LOCKED: AtomicUsize = AtomicUsize::new(0);

/// Makes the next `n` decommits that reach the kernel fail as on locked pages (`EINVAL`, as after
/// `mlockall`); decommits the OS box skips while memory is locked do not consume them.
/// `usize::MAX` refuses every one until switched off with `0`.
pub fn fail_next_decommits_locked(n: usize) {
    // ORDERING: Relaxed — as `fail_next_reservations`.
    FAIL_LOCKED.store(n, Ordering::Relaxed);
}

pub(crate) fn take_locked_failure() -> bool {
    take(&FAIL_LOCKED)
}

pub(crate) fn take_release_failure() -> bool {
    take(&FAIL_RELEASES)
}

pub(crate) fn take_decommit_failure() -> bool {
    take(&FAIL_DECOMMITS)
}

static QUERIES: AtomicU64 = AtomicU64::new(0);
static DECOMMITS: AtomicU64 = AtomicU64::new(0);

/// Residency queries (`mincore`) the os box made since the process started: tests count the
/// system calls a path makes with it. The map-time probe for locked memory (`os::came_resident`,
/// one per span mapped) is counted apart, in `map_probes`.
pub fn residency_queries() -> u64 {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    QUERIES.load(Ordering::Relaxed)
}

/// Decommits (`madvise`, either advice) the os box was asked for since the process started (a
/// `MADV_FREE` the OS lacks counts twice: its `MADV_DONTNEED` fallback is one too).
pub fn decommit_calls() -> u64 {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    DECOMMITS.load(Ordering::Relaxed)
}

static PROBES: AtomicU64 = AtomicU64::new(0);

/// Locked-memory probes (`os::came_resident`, one `mincore` per span mapped) since the process
/// started.
pub fn map_probes() -> u64 {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    PROBES.load(Ordering::Relaxed)
}

pub(crate) fn count_probe() {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    PROBES.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_query() {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    QUERIES.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn count_decommit() {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    DECOMMITS.fetch_add(1, Ordering::Relaxed);
}

static SLOW_COLLAPSES: AtomicUsize = AtomicUsize::new(0);
static SLOW_COLLAPSE_NS: AtomicU64 = AtomicU64::new(0);
static COLLAPSES: AtomicU64 = AtomicU64::new(0);

/// Makes the next `n` collapses that reach the kernel read `extra_ns` slower than they were (as
/// on a host whose kernel waits on compaction for a huge page): the backoff of
/// `config::THP_COLLAPSE_BACKOFF` is then tested without depending on time. `0` switches it off.
pub fn slow_next_collapses(n: usize, extra_ns: u64) {
    // ORDERING: Relaxed — a test hook set by the thread that then collapses (program order), or
    // before the threads that do are started (the spawn orders it); it publishes nothing else.
    SLOW_COLLAPSE_NS.store(extra_ns, Ordering::Relaxed);
    SLOW_COLLAPSES.store(n, Ordering::Relaxed);
}

/// Ends the huge-page collapses' quiet period now (`config::THP_COLLAPSE_BACKOFF`), as if its
/// time had run out: tests/thp_backoff.rs checks what a skipped collapse leaves possible after
/// it without waiting on a clock.
pub fn end_collapse_quiet() {
    super::thp::end_quiet();
}

/// The nanoseconds to add to this collapse's duration (0 when none is pending).
pub(crate) fn take_collapse_delay() -> u64 {
    if take(&SLOW_COLLAPSES) {
        // ORDERING: Relaxed — as `slow_next_collapses`.
        SLOW_COLLAPSE_NS.load(Ordering::Relaxed)
    } else {
        0
    }
}

/// Collapses (`MADV_COLLAPSE`) that reached the kernel since the process started: a collapse
/// skipped in a quiet period does not count.
pub fn collapse_calls() -> u64 {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    COLLAPSES.load(Ordering::Relaxed)
}

pub(crate) fn count_collapse() {
    // ORDERING: Relaxed — a statistic; publishes nothing.
    COLLAPSES.fetch_add(1, Ordering::Relaxed);
}
