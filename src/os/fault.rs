//! Test-only fault injection for the OS box (feature `fault-injection`): makes the next N
//! reservations fail, so tests can show that `alloc` returns null and recovers afterwards.

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
