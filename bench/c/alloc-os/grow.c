/* A buffer grown by realloc from 64 KiB to MAX (default 256 MiB), doubling, every new byte
 * written (a Vec / std::vector / string builder). Repeated R times. CPU ms and peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
static double cpu_ms(void) { struct rusage u; getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3; }
int main(int argc, char **argv) {
  size_t max = argc > 1 ? strtoul(argv[1], 0, 0) : (256u << 20);
  int reps = argc > 2 ? atoi(argv[2]) : 3;
  double grow = argc > 3 ? atof(argv[3]) : 2.0;
  double t0 = cpu_ms();
  unsigned long sum = 0;
  for (int r = 0; r < reps; r++) {
    size_t len = 0, cap = 65536;
    char *p = malloc(cap);
    while (cap < max) {
      memset(p + len, (int)(cap & 0xff) | 1, cap - len);
      len = cap;
      cap = (size_t)(cap * grow);
      p = realloc(p, cap);
      if (!p) { fprintf(stderr, "realloc failed\n"); return 1; }
      sum += p[len - 1];
    }
    free(p);
  }
  struct rusage u; getrusage(RUSAGE_SELF, &u);
  printf("grow max=%zu reps=%d cpu_ms=%.1f peak_rss_kib=%ld sum=%lu\n", max, reps, cpu_ms() - t0, u.ru_maxrss, sum);
  return 0;
}
