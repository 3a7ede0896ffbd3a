/* Cross-thread frees of cold blocks, deterministic (the threads hand the rounds over with
 * semaphores, so valgrind runs the same interleaving every time): the main thread mallocs 20,000
 * blocks of 16..16,000 B (log-uniform, first byte written) and shuffles them, a second thread
 * frees them all (every free remote, into slabs whose lines are mostly cold), ROUNDS times.
 * Written for cachegrind's D1 misses per remote free (docs/benchmarks.md, "Session 9: fast9"):
 *   cc -O2 -pthread -o remote-cold scripts/fastpath/remote-cold.c -lm
 *   LD_PRELOAD=LIB valgrind --tool=cachegrind --cache-sim=yes ./remote-cold 10 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#define N 20000
static void *ptrs[N];
static size_t sz[N];
static sem_t go, done;
static long rounds;
__attribute__((noinline)) void free_run(void) { for (int i = 0; i < N; i++) free(ptrs[i]); }
static void *freer(void *a) {
  (void)a; free(malloc(16));
  for (long r = 0; r < rounds; r++) { sem_wait(&go); free_run(); sem_post(&done); }
  return NULL;
}
int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: %s ROUNDS\n", argv[0]); return 2; }
  rounds = atol(argv[1]);
  unsigned long long s = 88172645463325252ull;
  for (int i = 0; i < N; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17;
    sz[i] = (size_t)exp2(4 + (double)(s >> 11) / 9007199254740992.0 * (log2(16000) - 4)); }
  sem_init(&go, 0, 0); sem_init(&done, 0, 0);
  pthread_t t; pthread_create(&t, NULL, freer, NULL);
  for (long r = 0; r < rounds; r++) {
    for (int i = 0; i < N; i++) { char *p = malloc(sz[i]); p[0] = 1; ptrs[i] = p; }
    /* shuffle so the frees walk slabs in random order */
    for (int i = N - 1; i > 0; i--) { s ^= s << 13; s ^= s >> 7; s ^= s << 17;
      int j = (int)(s % (unsigned long long)(i + 1)); void *x = ptrs[i]; ptrs[i] = ptrs[j]; ptrs[j] = x; }
    sem_post(&go); sem_wait(&done);
  }
  pthread_join(t, NULL);
  printf("done\n");
  return 0;
}
