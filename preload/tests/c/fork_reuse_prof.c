/* fork_reuse.c run with the heap profiler on (HAKMEM_PROF=1, tests/preload.rs): the child's
 * heap is profiled, so its small misses go through the profiled miss path
 * (alloc_miss_profiled), not `alloc_slow`; the takeover must start from there too (session 22):
 * before, the one-thread child never took the dead threads' heaps over and grew by the whole
 * 64 MiB (HAKMEM_EXPECT_TAKEOVER=1 failed). */
#define REUSE_NAME "fork_reuse_prof"
#include "common.h"
static size_t size_of(size_t i) { return (i % 16 == 0) ? 4096 + (i * 577) % 28000 : 16 + (i * 37) % 1000; }
#include "fork_reuse.c"
