//! Huge-page collapses, timed and backed off (`config::THP_COLLAPSE_BACKOFF`).
//!
//! `MADV_COLLAPSE` runs in the caller's thread: the kernel takes a huge page (compacting or
//! reclaiming for one if none is free, where `defrag` allows) and copies the range's pages into
//! it. On an idle host that is 0.15-0.5 ms per 2 MiB; on a busy or fragmented one it waits, 1-6 ms
//! and up to 139 ms seen (docs/benchmarks.md, "Session 26: pyt26"). The allocator asked for it
//! unprompted, so it must not stall the program: `collapse` reads the thread's CPU clock and a
//! monotonic clock either side, and a slow collapse (more CPU than `THP_COLLAPSE_SLOW_NS` per
//! 2 MiB, or a wall time past `THP_COLLAPSE_STALL_NS`: `cost`), the second in a row or a stall
//! (`starts_quiet`), makes the next ones answer "refused" without a system call for
//! `THP_COLLAPSE_QUIET_FACTOR` times its duration, doubled for each slow one in a row
//! (`quiet_ns`). A fast collapse ends the run of slow ones.
//!
//! State: three process-wide atomics, each read and written with `Relaxed` (see the ORDERING
//! notes): a racing thread may make one more collapse or skip one more than the rule says, which
//! costs one collapse's time at most and publishes no data. Counters for `stats()`
//! (`thp_collapses`, `thp_collapse_us`, `thp_collapses_slow`, `thp_collapses_skipped`) are kept
//! under the backout too, so its collapses can be measured.

use core::ptr::NonNull;

use crate::config::{
    THP_COLLAPSE_BACKOFF, THP_COLLAPSE_QUIET_FACTOR, THP_COLLAPSE_QUIET_MAX_NS,
    THP_COLLAPSE_QUIET_MAX_SHIFT, THP_COLLAPSE_SLOW_NS, THP_COLLAPSE_STALL_NS,
    THP_STALL_NEEDS_SLEEP,
};
use crate::sync::plain::{AtomicU32, AtomicU64, Ordering};

/// Monotonic nanoseconds before which no collapse is asked for (0: none pending).
static QUIET_UNTIL: AtomicU64 = AtomicU64::new(0);
/// Slow collapses in a row.
static SLOW_RUN: AtomicU32 = AtomicU32::new(0);

static COLLAPSES: AtomicU64 = AtomicU64::new(0);
static COLLAPSE_NS: AtomicU64 = AtomicU64::new(0);
static SLOW: AtomicU64 = AtomicU64::new(0);
static SKIPPED: AtomicU64 = AtomicU64::new(0);

/// 2 MiB: the unit `THP_COLLAPSE_SLOW_NS` is given per.
const HUGE: usize = 2 << 20;

/// The collapse statistics: collapses asked of the kernel, the nanoseconds they took in all,
/// how many of those were slow, and how many were skipped in a quiet period.
pub fn stats() -> [u64; 4] {
    // ORDERING: Relaxed — statistics; publish nothing.
    [
        COLLAPSES.load(Ordering::Relaxed),
        COLLAPSE_NS.load(Ordering::Relaxed),
        SLOW.load(Ordering::Relaxed),
        SKIPPED.load(Ordering::Relaxed),
    ]
}

/// What a collapse cost: its CPU time, or its wall time where that passed
/// `THP_COLLAPSE_STALL_NS` and the thread `slept` in it (`config::THP_STALL_NEEDS_SLEEP`; else a
/// preempted thread's wait for a core would count as a stall).
pub(crate) const fn cost(cpu_ns: u64, wall_ns: u64, slept: bool) -> u64 {
    if wall_ns > THP_COLLAPSE_STALL_NS && (slept || !THP_STALL_NEEDS_SLEEP) {
        wall_ns
    } else {
        cpu_ns
    }
}

/// Whether a collapse of `len` bytes that cost `took_ns` (`cost`) is slow.
pub(crate) const fn is_slow(took_ns: u64, len: usize) -> bool {
    let units = if len > HUGE { (len / HUGE) as u64 } else { 1 };
    took_ns > THP_COLLAPSE_SLOW_NS.saturating_mul(units)
}

/// Whether the `run`-th slow collapse in a row (from 1), which cost `took_ns`, starts a quiet
/// period: a stall (`THP_COLLAPSE_STALL_NS`, CPU or wall) at once, any other slow one only as the
/// second in a row. A lone slow collapse is common (a process's first, on a busy host, took 1.9 ms
/// where its next nine took ~0.12 ms each: wl-hakmem rust-btreemap, 1 run in 12), and quieting on
/// it gave up every later collapse of a short run (its 500 faults became 4,700).
pub(crate) const fn starts_quiet(took_ns: u64, run: u32) -> bool {
    run >= 2 || took_ns > THP_COLLAPSE_STALL_NS
}

/// The quiet period after the `run`-th quieting slow collapse in a row (from 1), which took
/// `took_ns`.
pub(crate) const fn quiet_ns(took_ns: u64, run: u32) -> u64 {
    let shift = if run == 0 {
        0
    } else if run - 1 < THP_COLLAPSE_QUIET_MAX_SHIFT {
        run - 1
    } else {
        THP_COLLAPSE_QUIET_MAX_SHIFT
    };
    let q = took_ns.saturating_mul(THP_COLLAPSE_QUIET_FACTOR << shift);
    if q < THP_COLLAPSE_QUIET_MAX_NS {
        q
    } else {
        THP_COLLAPSE_QUIET_MAX_NS
    }
}

/// See `os::collapse`.
///
/// # Safety
/// As `os::collapse`. `asked`: the user asked for huge pages (`HAKMEM_THP=1`), so a quiet period
/// does not skip it (the collapse is still timed, and a slow one still starts or lengthens the
/// quiet period of the collapses the allocator asks for unprompted).
pub(super) unsafe fn collapse(ptr: NonNull<u8>, len: usize, asked: bool) -> super::Collapse {
    timed(len, asked, || {
        #[cfg(feature = "fault-injection")]
        super::fault::count_collapse();
        // SAFETY: forwarded contract.
        unsafe { super::backend::collapse(ptr, len) }
    })
}

/// Runs `op`, a way to huge pages for `len` bytes (a collapse, or the huge-page faults of a
/// fresh span: `os::fault_huge`) that answers whether they are huge now, under the rules above:
/// skipped in a quiet period unless `asked`, timed, counted, and a slow one backed off.
pub(super) fn timed(len: usize, asked: bool, op: impl FnOnce() -> bool) -> super::Collapse {
    let start = super::backend::monotonic_nanos();
    let cpu_start = super::backend::thread_cpu_nanos();
    // ORDERING: Relaxed — the quiet deadline is advice; it guards no data, and a stale value
    // costs one collapse more or less.
    if THP_COLLAPSE_BACKOFF && !asked && start < QUIET_UNTIL.load(Ordering::Relaxed) {
        // ORDERING: Relaxed — a statistic.
        SKIPPED.fetch_add(1, Ordering::Relaxed);
        return super::Collapse::Skipped;
    }
    let switches = if THP_STALL_NEEDS_SLEEP {
        super::backend::thread_voluntary_switches()
    } else {
        0
    };
    let huge = op();
    let cpu = super::backend::thread_cpu_nanos().saturating_sub(cpu_start);
    let end = super::backend::monotonic_nanos();
    let wall = end.saturating_sub(start);
    // Only a collapse that could be a stall asks whether the thread slept.
    let slept = THP_STALL_NEEDS_SLEEP
        && wall > THP_COLLAPSE_STALL_NS
        && super::backend::thread_voluntary_switches() > switches;
    #[allow(unused_mut)]
    let mut took = cost(cpu, wall, slept);
    #[cfg(feature = "fault-injection")]
    {
        took = took.saturating_add(super::fault::take_collapse_delay());
    }
    // ORDERING: Relaxed — statistics.
    COLLAPSES.fetch_add(1, Ordering::Relaxed);
    COLLAPSE_NS.fetch_add(took, Ordering::Relaxed);
    if is_slow(took, len) {
        // ORDERING: Relaxed — statistics and advice, as above.
        SLOW.fetch_add(1, Ordering::Relaxed);
        if THP_COLLAPSE_BACKOFF {
            let run = SLOW_RUN.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            if starts_quiet(took, run) {
                let q = quiet_ns(took, run.saturating_sub(1).max(1));
                QUIET_UNTIL.fetch_max(end.saturating_add(q), Ordering::Relaxed);
            }
        }
    } else if THP_COLLAPSE_BACKOFF {
        // ORDERING: Relaxed — advice, as above.
        SLOW_RUN.store(0, Ordering::Relaxed);
    }
    if huge {
        super::Collapse::Huge
    } else {
        super::Collapse::Refused
    }
}

/// Ends a quiet period now, as if it had run out, and the run of slow collapses with it (the
/// fault-injection hook `fault::end_collapse_quiet`: tests that a skip leaves later collapses
/// possible without waiting for a clock).
#[cfg(feature = "fault-injection")]
pub(super) fn end_quiet() {
    // ORDERING: Relaxed — advice, as in `collapse`.
    QUIET_UNTIL.store(0, Ordering::Relaxed);
    SLOW_RUN.store(0, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_cpu_time_unless_the_wall_time_is_a_stall() {
        assert_eq!(cost(300_000, 20_000_000, true), 300_000);
        assert_eq!(
            cost(300_000, THP_COLLAPSE_STALL_NS + 1, true),
            THP_COLLAPSE_STALL_NS + 1
        );
    }

    /// `config::THP_STALL_NEEDS_SLEEP`: a long wall time without a voluntary switch is a thread
    /// that waited for a core (a loaded host), not a kernel that slept: the cost is the CPU time,
    /// and a lone such collapse starts no quiet period.
    #[test]
    fn a_preempted_collapse_is_no_stall() {
        let want = if THP_STALL_NEEDS_SLEEP {
            300_000
        } else {
            THP_COLLAPSE_STALL_NS + 1
        };
        assert_eq!(cost(300_000, THP_COLLAPSE_STALL_NS + 1, false), want);
        assert_eq!(
            starts_quiet(cost(300_000, 900_000_000, false), 1),
            !THP_STALL_NEEDS_SLEEP
        );
    }

    #[test]
    fn slow_scales_with_length() {
        assert!(!is_slow(THP_COLLAPSE_SLOW_NS, HUGE));
        assert!(is_slow(THP_COLLAPSE_SLOW_NS + 1, HUGE));
        assert!(!is_slow(THP_COLLAPSE_SLOW_NS + 1, 4 * HUGE));
        assert!(is_slow(4 * THP_COLLAPSE_SLOW_NS + 1, 4 * HUGE));
    }

    #[test]
    fn a_lone_slow_collapse_starts_no_quiet_period_unless_it_stalled() {
        assert!(!starts_quiet(2 * THP_COLLAPSE_SLOW_NS, 1));
        assert!(starts_quiet(2 * THP_COLLAPSE_SLOW_NS, 2));
        assert!(starts_quiet(THP_COLLAPSE_STALL_NS + 1, 1));
    }

    #[test]
    fn quiet_doubles_per_slow_collapse_in_a_row_and_is_bounded() {
        let ms = 1_000_000;
        assert_eq!(quiet_ns(5 * ms, 1), 5 * ms * THP_COLLAPSE_QUIET_FACTOR);
        assert_eq!(quiet_ns(5 * ms, 2), 10 * ms * THP_COLLAPSE_QUIET_FACTOR);
        assert_eq!(quiet_ns(ms, 6), quiet_ns(ms, 60));
        assert_eq!(quiet_ns(ms, 6), ms * (THP_COLLAPSE_QUIET_FACTOR << 5));
        assert_eq!(quiet_ns(u64::MAX, 1), THP_COLLAPSE_QUIET_MAX_NS);
    }
}
