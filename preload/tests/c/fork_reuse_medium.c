/* fork_reuse.c with medium blocks only (40-440 KiB, above every small class): the parent threads
 * keep 4 x 16 MiB of them, and the child frees them and allocates the same sizes again, so its
 * only refills are the medium tier's (it reads its RSS with open/read and prints after the
 * rounds: no small request before the last measurement). The takeover must start from the
 * medium refill (medium::alloc_in, session 22): before, such a child never took the dead
 * threads' heaps over and grew by 84-88 MiB each round (HAKMEM_EXPECT_TAKEOVER=1 failed).
 * The bound is three quarters of the data, not fork_reuse.c's one quarter: with the takeover
 * the one-thread child grows 30-41 MiB, as the medium tier does without any fork when the
 * threads exit instead (their spans published; 64 MiB for the same program, glibc 0.4;
 * docs/benchmarks.md, "Session 22: take22"). Taken over before the child's frees (a small
 * request first, as fork_reuse.c's fopen is), the heaps' spans are published with their blocks
 * out and the child grows as after a thread exit (34-64 MiB, over the bound); taken over after
 * them, the emptied spans go to the span cache. */
#include "common.h"
#define REUSE_NAME "fork_reuse_medium"
#define REUSE_QUARTERS 3
#define REUSE_NO_SMALL_REQUESTS 1
/* The four-thread child is printed, not bounded: its growth varies from 1 to 52 MiB run to run
 * (its threads adopt and carve the published spans in whatever order they get there). */
#define REUSE_CHECK_THREADED 0
static size_t size_of(size_t i) { return 40000 + (i * 104729) % 400000; }
#include "fork_reuse.c"
