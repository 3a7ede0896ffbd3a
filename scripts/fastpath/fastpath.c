/* The loops whose instruction counts scripts/fastpath-instructions.sh measures under callgrind.
 *
 *   fastpath MODE N
 *   MODE pair    N times: malloc(32), free
 *   MODE batch   N rounds: 1,000 mallocs of mixed 16-512 B (fixed sequence), then 1,000 frees
 *                in allocation order
 *   MODE null    N times: free(NULL) (programs that free empty slots and cleanup code)
 *   MODE pair0, batch0, null0: the same loops calling empty functions instead of malloc/free (the
 *                loop and call overhead the script subtracts: what is left is the allocator's
 *                own instructions and the PLT jump)
 *
 * Only `fastpath_run` is measured (callgrind --toggle-collect), and the script takes the
 * difference between two values of N, so start-up, the allocator's first-call set-up and the
 * size table are not counted. Compile with -O2 -fno-builtin so malloc/free are real calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sizes.h"
static unsigned sizes[BATCH];
static void *ptrs[BATCH];
static char dummy[16];

/* The stand-ins of the overhead loops: a call, an argument and a return, like malloc/free. */
__attribute__((noinline)) void *nop_malloc(size_t n) {
  __asm__ volatile("" : : "r"(n));
  return dummy;
}
__attribute__((noinline)) void nop_free(void *p) { __asm__ volatile("" : : "r"(p)); }

/* Keeps `p` alive in a register and the loop from being folded (no instructions emitted). */
#define KEEP(p) __asm__ volatile("" : : "r"(p) : "memory")

__attribute__((noinline)) void fastpath_run(int mode, long n) {
  switch (mode) {
  case 0: /* pair */
    for (long i = 0; i < n; i++) {
      void *p = malloc(32);
      KEEP(p);
      free(p);
    }
    break;
  case 1: /* pair0 */
    for (long i = 0; i < n; i++) {
      void *p = nop_malloc(32);
      KEEP(p);
      nop_free(p);
    }
    break;
  case 2: /* batch */
    for (long r = 0; r < n; r++) {
      for (int i = 0; i < BATCH; i++) {
        ptrs[i] = malloc(sizes[i]);
        KEEP(ptrs[i]);
      }
      for (int i = 0; i < BATCH; i++)
        free(ptrs[i]);
    }
    break;
  case 3: /* batch0 */
    for (long r = 0; r < n; r++) {
      for (int i = 0; i < BATCH; i++) {
        ptrs[i] = nop_malloc(sizes[i]);
        KEEP(ptrs[i]);
      }
      for (int i = 0; i < BATCH; i++)
        nop_free(ptrs[i]);
    }
    break;
  case 4: /* null */
    for (long i = 0; i < n; i++) {
      void *p = NULL;
      KEEP(p);
      free(p);
    }
    break;
  case 5: /* null0 */
    for (long i = 0; i < n; i++) {
      void *p = NULL;
      KEEP(p);
      nop_free(p);
    }
    break;
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s pair|pair0|batch|batch0|null|null0 N\n", argv[0]);
    return 2;
  }
  int mode = !strcmp(argv[1], "pair")     ? 0
             : !strcmp(argv[1], "pair0")  ? 1
             : !strcmp(argv[1], "batch")  ? 2
             : !strcmp(argv[1], "batch0") ? 3
             : !strcmp(argv[1], "null")   ? 4
             : !strcmp(argv[1], "null0")  ? 5
                                          : -1;
  if (mode < 0) {
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  fill_sizes(sizes);
  /* Warm-up outside the measured function: the allocator's first-call set-up. */
  free(malloc(32));
  fastpath_run(mode, atol(argv[2]));
  return 0;
}
