//! Test-only fault injection for the OS box (feature `fault-injection`): makes the next N
//! reservations fail, so tests can show that `alloc` returns null and recovers afterwards; and
//! makes the next N releases (`munmap`) or decommits (`madvise`) fail, so tests can show that an OS
//! refusing to take memory back loses nothing.

use crate::sync::plain::{AtomicUsize, Ordering};

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

pub(crate) fn take_release_failure() -> bool {
    take(&FAIL_RELEASES)
}

pub(crate) fn take_decommit_failure() -> bool {
    take(&FAIL_DECOMMITS)
}
