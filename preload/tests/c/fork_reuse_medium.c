/* fork_reuse.c with medium blocks only (40-440 KiB, above every small class): the parent threads
 * keep 4 x 16 MiB of them, and the child frees them and allocates the same sizes again, so its
 * only refills are the medium tier's (it reads its RSS with open/read and prints after the
 * rounds: no small request before the last measurement). The takeover must start from the
 * medium refill (medium::alloc_in, session 22): before, such a child never took the dead
 * threads' heaps over and grew by 84-88 MiB each round (HAKMEM_EXPECT_TAKEOVER=1 failed).
 * The bound is fork_reuse.c's one quarter of the data since med22 (session 22): with the
 * takeover alone the one-thread child grew 30-41 MiB (three quarters was the bound), because the
 * spans it adopted or took from the cache carved untouched blocks while other spans' freed,
 * resident blocks waited; with config::ADOPT_FREE_FIRST and config::CACHE_BEFORE_CARVE it grows
 * 0.6-1.2 MiB (exit_reuse_medium.c is the same program with the threads exiting instead of a
 * fork; docs/benchmarks.md, "Session 22: med22"). Taken over before the child's frees (a small
 * request first, as fork_reuse.c's fopen is), the heaps' spans are published with their blocks
 * out; taken over after them, the emptied spans go to the span cache. */
#include "common.h"
#define REUSE_NAME "fork_reuse_medium"
#define REUSE_QUARTERS 1
#define REUSE_NO_SMALL_REQUESTS 1
/* The four-thread child's bound is an eighth of the data (8 MiB) since fork23 (session 23,
 * config::EXIT_RECLAIM_LEAVES_FREED): it grows 1-4.3 MiB a round. Before, it grew 18-40 MiB in
 * rounds 1 and 2 (worst round 22.7-39.6 MiB over 8 runs): those rounds' threads start after the
 * last round's exited, and the first of them to exit reclaimed the spans the main thread had
 * emptied, cached them committed (the cache keeps 64 MiB for the purge delay) and left the other
 * threads to adopt spans whose free blocks the exits had purged. */
#define REUSE_THREADED_EIGHTHS 1
static size_t size_of(size_t i) { return 40000 + (i * 104729) % 400000; }
#include "fork_reuse.c"
