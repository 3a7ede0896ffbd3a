/* A million calloc(1, n) (n = 1-60) and free with 64 blocks live: C calloc's instructions a call
 * under callgrind (rows27, session 27; docs/benchmarks.md "Session 27: rows27"):
 *   cc -O2 -o /tmp/calloc-loop scripts/fastpath/calloc-loop.c
 *   LD_PRELOAD=target/release/libhakmem.so valgrind --tool=callgrind --callgrind-out-file=cg.out /tmp/calloc-loop
 *   scripts/cg-entry.py cg.out
 */
#include <stdlib.h>
#include <stdio.h>
int main(void) {
  void *keep[64] = {0};
  unsigned long sum = 0;
  for (int i = 0; i < 1000000; i++) {
    size_t n = 1 + (i * 7) % 60;
    int k = i & 63;
    free(keep[k]);
    unsigned char *p = calloc(1, n);
    sum += p[n - 1];
    keep[k] = p;
  }
  printf("%lu\n", sum);
  return 0;
}
