/* calloc of medium/large blocks used sparsely (a hash table, a bitmap, a zeroed buffer written
 * in part): MODE fresh = N live blocks, one byte per 64 KiB written; MODE churn = calloc/free
 * of one size in a loop, each block written in its first 4 KiB. Prints CPU ms and peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
static double cpu_ms(void) { struct rusage u; getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3; }
int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "fresh";
  size_t size = argc > 2 ? strtoul(argv[2], 0, 0) : (1 << 20);
  long n = argc > 3 ? atol(argv[3]) : 64;
  double t0 = cpu_ms();
  unsigned long sum = 0;
  if (!strcmp(mode, "fresh")) {
    char **v = malloc(n * sizeof *v);
    for (long i = 0; i < n; i++) {
      v[i] = calloc(1, size);
      if (!v[i]) { fprintf(stderr, "calloc failed\n"); return 1; }
      for (size_t k = 0; k < size; k += 65536) { sum += v[i][k]; v[i][k] = 1; }
    }
    for (long i = 0; i < n; i++) free(v[i]);
    free(v);
  } else {
    for (long i = 0; i < n; i++) {
      char *p = calloc(1, size);
      if (!p) return 1;
      sum += p[size - 1];
      memset(p, 1, size < 4096 ? size : 4096);
      free(p);
    }
  }
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  printf("%s size=%zu n=%ld cpu_ms=%.1f peak_rss_kib=%ld sum=%lu\n", mode, size, n, cpu_ms() - t0, u.ru_maxrss, sum);
  return 0;
}
