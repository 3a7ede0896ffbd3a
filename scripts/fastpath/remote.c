/* The cross-thread loop whose instruction count scripts/fastpath-instructions.sh measures under
 * callgrind (its "remote pair" column): producer/consumer, as in xmalloc-test.
 *
 *   remote MODE N
 *   MODE remote   N rounds: the main thread allocates 1,000 blocks of mixed 16-512 B (the
 *                 fixed sequence of fastpath.c), a second thread frees all of them (every free
 *                 is remote), and the main thread's next round allocates again (taking the
 *                 freed blocks back: drain, or whatever the allocator does). The freeing thread
 *                 allocates one block first, unmeasured, as most consumers do (hakmem batches
 *                 the remote frees of a thread that has a heap; a thread that never allocated
 *                 pushes each block at once)
 *   MODE remote-heapless  the same, but the freeing thread never allocates
 *   MODE remote0  the same calling empty functions instead (the overhead the script subtracts)
 *
 * Only `remote_alloc_run` and `remote_free_run` are measured (callgrind --toggle-collect on
 * both; collection is per thread), and the threads hand the rounds over with semaphores outside
 * them, so the count is deterministic: the allocator's own instructions for 1,000 allocations
 * and 1,000 remote frees, plus the PLT jumps. Compile with -O2 -fno-builtin -pthread. */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sizes.h"
static unsigned sizes[BATCH];
static void *ptrs[BATCH];
static char dummy[16];
static sem_t go, done;
static int nop;
static long rounds;

__attribute__((noinline)) void *nop_malloc(size_t n) {
  __asm__ volatile("" : : "r"(n));
  return dummy;
}
__attribute__((noinline)) void nop_free(void *p) { __asm__ volatile("" : : "r"(p)); }

#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) void remote_alloc_run(void) {
  for (int i = 0; i < BATCH; i++) {
    ptrs[i] = nop ? nop_malloc(sizes[i]) : malloc(sizes[i]);
    KEEP(ptrs[i]);
  }
}

__attribute__((noinline)) void remote_free_run(void) {
  for (int i = 0; i < BATCH; i++) {
    if (nop)
      nop_free(ptrs[i]);
    else
      free(ptrs[i]);
  }
}

static int heapless;

static void *freer(void *arg) {
  (void)arg;
  if (!heapless) free(malloc(16));
  for (long r = 0; r < rounds; r++) {
    sem_wait(&go);
    remote_free_run();
    sem_post(&done);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "remote") && strcmp(argv[1], "remote-heapless") &&
                    strcmp(argv[1], "remote0"))) {
    fprintf(stderr, "usage: %s remote|remote-heapless|remote0 N\n", argv[0]);
    return 2;
  }
  nop = !strcmp(argv[1], "remote0");
  heapless = !strcmp(argv[1], "remote-heapless");
  rounds = atol(argv[2]);
  fill_sizes(sizes);
  free(malloc(32));
  sem_init(&go, 0, 0);
  sem_init(&done, 0, 0);
  pthread_t t;
  if (pthread_create(&t, NULL, freer, NULL)) return 1;
  for (long r = 0; r < rounds; r++) {
    remote_alloc_run();
    sem_post(&go);
    sem_wait(&done);
  }
  pthread_join(t, NULL);
  return 0;
}
