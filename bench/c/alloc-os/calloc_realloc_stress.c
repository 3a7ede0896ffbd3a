/* 2+ threads: calloc of 32 KiB..8 MiB checked zero (every 512th byte + both ends), filled with a
 * per-block pattern, grown by realloc (prefix checked), handed to a shared ring so another
 * thread frees it. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#define RING 64
#ifndef BIG
#define BIG (8u << 20)
#endif
#ifndef ITERS
#define ITERS 4000
#endif
static void *ring[RING]; static size_t ringsz[RING]; static unsigned char ringpat[RING];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rnd(uint64_t *s) { *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17; return *s; }
static void check_zero(unsigned char *p, size_t n) {
  for (size_t i = 0; i < n; i += 509) if (p[i]) { fprintf(stderr, "calloc not zero at %zu of %zu\n", i, n); abort(); }
  for (size_t i = 0; i < 64 && i < n; i++) if (p[i] || p[n-1-i]) { fprintf(stderr, "calloc ends not zero (%zu)\n", n); abort(); }
}
static void check_pat(unsigned char *p, size_t n, unsigned char c) {
  for (size_t i = 0; i < n; i += 4093) if (p[i] != c) { fprintf(stderr, "pattern lost at %zu of %zu\n", i, n); abort(); }
  if (n && p[n-1] != c) { fprintf(stderr, "pattern tail lost\n"); abort(); }
}
static void *worker(void *arg) {
  uint64_t s = (uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  for (int it = 0; it < ITERS; it++) {
    size_t n = 32768 + rnd(&s) % ((rnd(&s) % 4 == 0) ? BIG : (1u << 20));
    unsigned char *p = calloc(1, n);
    if (!p) abort();
    check_zero(p, n);
    unsigned char c = (unsigned char)(rnd(&s) | 1);
    memset(p, c, n);
    if (rnd(&s) % 3 == 0) {
      size_t m = n + rnd(&s) % (n * 2 + 1);
      p = realloc(p, m); if (!p) abort();
      check_pat(p, n, c);
      memset(p + n, c, m - n); n = m;
    }
    int k = rnd(&s) % RING;
    pthread_mutex_lock(&mu);
    void *old = ring[k]; size_t on = ringsz[k]; unsigned char oc = ringpat[k];
    ring[k] = p; ringsz[k] = n; ringpat[k] = c;
    pthread_mutex_unlock(&mu);
    if (old) { check_pat(old, on, oc); free(old); }
  }
  return 0;
}
int main(int argc, char **argv) {
  int t = argc > 1 ? atoi(argv[1]) : 2;
  pthread_t th[16];
  for (int r = 0; r < 3; r++) {
    for (int i = 0; i < t; i++) pthread_create(&th[i], 0, worker, (void *)(uintptr_t)(i + 1 + r * 16));
    for (int i = 0; i < t; i++) pthread_join(th[i], 0);
  }
  for (int k = 0; k < RING; k++) free(ring[k]);
  puts("ok");
  return 0;
}
