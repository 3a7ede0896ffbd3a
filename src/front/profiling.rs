//! How allocation requests reach the profiler's countdown, and what that costs when it is off.
//!
//! The alloc fast path pops from `Heap::alloc_list(c)`: one load of the heap's `alloc_lists`
//! pointer, which is the heap's own TLS lists normally. `start` points every live heap at
//! `PROFILED_LISTS` (static, always empty), so every small request misses into the slow path, where
//! `alloc::alloc_miss` runs the thread's byte countdown (`prof::Sampler`) and then serves the
//! request from the heap's real lists. Requests that do not take the small fast path (aligned,
//! large, header mode) are counted at the top of `alloc_general`. `stop` routes the heaps back;
//! a heap taken by a thread is routed by `Heap::route_by_switch`.
//!
//! Cost when off: the one load of `alloc_lists` on the small alloc fast path (callgrind: +1
//! instruction per malloc+free pair; docs/profiling.md); a flag test on the general path. Frees
//! pay nothing: sampled blocks live in regions of their own that the registry path recognises.
//!
//! Boundary: the switch and the walk over the heaps; sampling itself is the `prof` box.

use crate::front::heap::HeapKind;
use crate::front::thread;
use crate::lock::{Rank, SpinLock};
use crate::prof;

/// Serialises `start` and `stop` (each walks every heap).
static SWITCH: SpinLock<()> = SpinLock::new(Rank::ProfSwitch, ());

/// Starts sampling. False when the build has no `profile` feature.
pub fn start() -> bool {
    switch(true);
    crate::config::PROFILE
}

/// Stops sampling; sampled blocks still live stay recorded until freed.
pub fn stop() {
    switch(false);
}

fn switch(on: bool) {
    if !crate::config::PROFILE {
        return;
    }
    SWITCH.with(|_| {
        prof::set_on(on);
        thread::for_each_heap(|h| {
            if h.kind == HeapKind::Live {
                h.route_allocs(on);
            }
        });
    });
}
