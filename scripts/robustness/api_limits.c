/* The C API's limits, as glibc's malloc tests and mimalloc's / jemalloc's API tests assert them
 * (behaviours, our own code): sizes near SIZE_MAX, above PTRDIFF_MAX and every (m << 50) under
 * RLIMIT_AS 2^50 fail with ENOMEM from every entry point and every power-of-two alignment
 * (posix_memalign leaves *out alone); calloc / reallocarray overflow; realloc keeps the block on
 * failure, realloc(p, 0) frees, realloc(NULL, 0) allocates; memalign(-1) EINVAL; posix_memalign's
 * EINVAL cases; valloc/pvalloc page alignment and usable size; malloc_usable_size(NULL) == 0;
 * free keeps errno; mallopt/mallinfo2/malloc_info/malloc_stats/malloc_trim callable.
 * Prints "errors 0". Where glibc 2.36 and hakmem differ on purpose (aligned_alloc with a
 * non-power-of-two alignment: glibc >= 2.38's EINVAL; pvalloc(0)'s usable size) the line goes
 * to stderr, with malloc_stats' report of hakmem's heap. */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
static int errs;
#define V(e) do { if (!(e)) { errs++; printf("FAIL %d: %s (errno %d)\n", __LINE__, #e, errno); } } while (0)
static void setup(void) { void *volatile p = malloc(16); free(p); errno = 0; }
static void large(size_t size) {
  setup(); V(malloc(size) == NULL); V(errno == ENOMEM);
  void *r = malloc(16); setup(); V(realloc(r, size) == NULL); V(errno == ENOMEM); free(r);
  for (size_t n = 1; n <= 8; n *= 2) { if (size % n) break;
    setup(); V(calloc(n, size / n) == NULL); V(errno == ENOMEM);
    setup(); V(calloc(size / n, n) == NULL); V(errno == ENOMEM);
    r = malloc(16); setup(); V(reallocarray(r, n, size / n) == NULL); V(errno == ENOMEM); free(r);
    r = malloc(16); setup(); V(reallocarray(r, size / n, n) == NULL); V(errno == ENOMEM); free(r);
  }
  void *p = NULL;
  for (size_t a = 1; a > 0; a <<= 1) {
    setup(); V(memalign(a, size) == NULL); V(errno == ENOMEM);
    if (a % sizeof(void *) == 0) { setup(); V(posix_memalign(&p, a, size) == ENOMEM); V(p == NULL); }
    if (size % a == 0) { setup(); V(aligned_alloc(a, size) == NULL); V(errno == ENOMEM); }
  }
  setup(); V(valloc(size) == NULL); V(errno == ENOMEM);
  setup(); V(pvalloc(size) == NULL); V(errno == ENOMEM);
}
int main(void) { setvbuf(stdout, NULL, _IONBF, 0);
  size_t ps = getpagesize();
  struct rlimit rl = {(1UL << 50) - 1, (1UL << 50) - 1}; setrlimit(RLIMIT_AS, &rl);
  for (size_t i = 0; i < 64; i++) { large(SIZE_MAX - i); large((size_t)PTRDIFF_MAX + 1 + i); }
  for (size_t m = (1 << 14) - 1; m >= 1; m -= (m > 200 ? 97 : 1)) { large((m << 50) | ((1UL << 50) - 1)); large(m << 50); }
  /* tst-realloc */
  errno = 0; void *p = realloc(NULL, -1); V(!p && errno == ENOMEM);
  p = calloc(20, 1); p = realloc(p, 200); for (int i = 0; i < 20; i++) V(((char *)p)[i] == 0); free(p);
  p = realloc(NULL, 100); memset(p, 0xff, 100); p = realloc(p, 16);
  void *c = realloc(p, -1); V(!c); for (int i = 0; i < 16; i++) V(((unsigned char *)p)[i] == 0xff);
  errno = 1234; p = realloc(p, 0); V(p == NULL); fprintf(stderr, "realloc(p,0) errno %d\n", errno);
  p = realloc(NULL, 0); V(p != NULL); free(p);
  /* tst-reallocarray */
  const size_t mx = ~(size_t)0;
  errno = 0; V(!reallocarray(NULL, mx, 2) && errno == ENOMEM);
  errno = 0; V(!reallocarray(NULL, 2, mx) && errno == ENOMEM);
  errno = 0; V(!reallocarray(NULL, 65537, mx / 65537 + 1) && errno == ENOMEM);
  p = reallocarray(NULL, 10, 2); V(p && malloc_usable_size(p) >= 20); memset(p, 0xAF, 20);
  p = reallocarray(p, 20, 2); V(malloc_usable_size(p) >= 40); for (int i = 0; i < 20; i++) V(((unsigned char *)p)[i] == 0xAF);
  p = reallocarray(p, 5, 3); errno = 0; V(!reallocarray(p, 2, mx) && errno == ENOMEM); for (int i = 0; i < 15; i++) V(((unsigned char *)p)[i] == 0xAF);
  errno = 77; p = reallocarray(p, 0, 5); printf("reallocarray(p,0,5) -> %s errno %d\n", p ? "ptr" : "null", errno); free(p);
  /* tst-calloc */
  errno = 0; V(!calloc(mx / 4, mx / 4) && errno == ENOMEM);
  errno = 0; V(!calloc(mx / 4 + 1, 4) && errno == ENOMEM);
  p = calloc(0, 0); V(p); free(p); p = calloc(0, mx); V(p); free(p); p = calloc(mx, 0); V(p); free(p);
  for (int k = 0; k < 200; k++) { size_t n = (k * 7919) % 100000 + 1; unsigned char *q = malloc(n); memset(q, 0xee, n); free(q); q = calloc(1, n); for (size_t i = 0; i < n; i++) if (q[i]) { V(0); break; } free(q); }
  /* tst-memalign / posix_memalign / valloc / pvalloc */
  errno = 0; V(!memalign(sizeof(void *), -1) && errno == ENOMEM);
  errno = 0; V(!memalign(ps, -ps) && errno == ENOMEM);
  errno = 0; V(!memalign(-1, ps) && errno == EINVAL);
  p = memalign(sizeof(void *), 0); V(p); free(p);
  p = memalign(0x100, 10); V(p && ((uintptr_t)p & 0xff) == 0); free(p);
  p = memalign(0, 10); V(p); free(p);
  p = memalign(3, 10); V(p); free(p);
  p = memalign(48, 10); V(p && ((uintptr_t)p % 64) == 0); free(p);
  p = (void *)1; errno = 0; V(posix_memalign(&p, sizeof(void *), -1) == ENOMEM && p == (void *)1);
  V(posix_memalign(&p, ps, -ps) == ENOMEM && p == (void *)1);
  V(posix_memalign(&p, 0, 10) == EINVAL && p == (void *)1);
  V(posix_memalign(&p, sizeof(void *) + 1, 10) == EINVAL);
  V(posix_memalign(&p, 4, 10) == EINVAL);
  V(posix_memalign(&p, -1, 10) == EINVAL);
  V(posix_memalign(&p, sizeof(void *), 0) == 0 && p); free(p);
  V(posix_memalign(&p, 0x100, 10) == 0 && ((uintptr_t)p & 0xff) == 0); free(p);
  errno = 0; V(!valloc(-1) && errno == ENOMEM);
  errno = 0; V(!valloc(-ps) && errno == ENOMEM);
  p = valloc(0); V(p); free(p);
  p = valloc(32); V(p && ((uintptr_t)p & (ps - 1)) == 0); free(p);
  errno = 0; V(!pvalloc(-1) && errno == ENOMEM);
  errno = 0; V(!pvalloc(-ps) && errno == ENOMEM);
  p = pvalloc(0); V(p); fprintf(stderr, "pvalloc(0) usable>=page %d\n", p && malloc_usable_size(p) >= ps); free(p);
  p = pvalloc(32); V(p && ((uintptr_t)p & (ps - 1)) == 0); V(malloc_usable_size(p) >= ps); free(p);
  p = pvalloc(5); strcpy(p, "abcdefg"); V(malloc_usable_size(p) >= ps); free(p);
  /* aligned_alloc C17 */
  p = aligned_alloc(64, 64); V(p); free(p);
  p = aligned_alloc(1, 64); V(p); free(p);
  errno = 0; p = aligned_alloc(65, 64); fprintf(stderr, "aligned_alloc(65) %s errno %d\n", p ? "ptr" : "null", errno); free(p);
  errno = 0; p = aligned_alloc(0, 64); fprintf(stderr, "aligned_alloc(0) %s errno %d\n", p ? "ptr" : "null", errno); free(p);
  errno = 0; p = aligned_alloc(SIZE_MAX / 2 + 1, 64); V(!p); printf("aligned_alloc(2^63) errno %d\n", errno);
  errno = 0; p = memalign(SIZE_MAX / 2 + 1, 64); V(!p); printf("memalign(2^63) errno %d\n", errno);
  errno = 0; p = aligned_alloc(8, 0); V(p); free(p);
  errno = 0; p = aligned_alloc(4096, 1); V(p && malloc_usable_size(p) >= 1); free(p);
  /* tst-malloc-usable */
  V(malloc_usable_size(NULL) == 0);
  for (size_t n = 0; n < 70000; n += 1 + n / 8) { unsigned char *q = malloc(n); size_t u = malloc_usable_size(q); V(u >= n); memset(q, 0x5a, u); free(q); }
  /* free errno (tst-free-errno) */
  errno = 4242; p = malloc(1 << 24); free(p); V(errno == 4242);
  errno = 4242; free(NULL); V(errno == 4242);
  /* stats / tuning calls callable */
  struct mallinfo2 mi = mallinfo2(); (void)mi; struct mallinfo m1 = mallinfo(); (void)m1;
  V(mallopt(M_MMAP_THRESHOLD, 1 << 20) == 1); V(mallopt(M_TRIM_THRESHOLD, 0) == 1); V(mallopt(M_ARENA_MAX, 1) == 1);
  printf("mallopt(M_PERTURB) %d mallopt(-9999) %d\n", mallopt(M_PERTURB, 0), mallopt(-9999, 1));
  FILE *f = fopen("/dev/null", "w"); V(malloc_info(0, f) == 0); errno = 0; printf("malloc_info(1) %d errno %d\n", malloc_info(1, f), errno); fclose(f);
  malloc_stats();
  fprintf(stderr, "trim %d\n", malloc_trim(0));
  printf("errors %d\n", errs);
  return errs != 0;
}
