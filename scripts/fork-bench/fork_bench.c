// A fork-heavy program's cost per fork (docs/benchmarks.md, "Session 26: fork26").
//
// The parent builds a live heap of mixed small (16 B-1 KiB) and medium (4-256 KiB) blocks from
// four threads (~HEAP_MIB MiB in all, three quarters medium, the blocks written), keeps those
// threads churning (every 200 µs each replaces 64 random small blocks, now and then a medium one),
// and forks FORKS times from the main thread, as a server or a build driver does. Each child either
// exec's /bin/true (MODE=exec, a shell's fork+exec) or does a little allocation work (MODE=work:
// 2,048 small and 20 medium allocations, freeing 200 of the parent's small blocks) and _exits.
// The parent waits for each child before the next fork.
//
// Printed per fork (means): the parent's fork() latency (µs), the child's minor faults and system
// time (getrusage(RUSAGE_CHILDREN) deltas), and the parent's own minor faults and system time
// between forks (the copy-on-write faults its threads take after each fork, plus their churn),
// with the parent's mapping count (/proc/self/maps lines), RSS and transparent huge pages at the
// end.
//   gcc -O2 -pthread scripts/fork-bench/fork_bench.c -o fork_bench
//   [LD_PRELOAD=lib.so] ./fork_bench [FORKS=200] [MODE=work|exec|sleep] [HEAP_MIB=64]
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4
#define SMALL_PER_THREAD 10000

static size_t heap_mib = 64;
static atomic_int stop;
static atomic_int built;

struct worker {
  void **small;
  size_t nsmall;
  void **medium;
  size_t nmedium;
  uint64_t rng;
};
static struct worker workers[THREADS];

static uint64_t next(uint64_t *s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

static size_t small_size(uint64_t *s) { return 16 + next(s) % 1009; }
static size_t medium_size(uint64_t *s) { return 4096 + next(s) % (252 * 1024); }

static void *fill(size_t n, uint64_t *s) {
  unsigned char *p = malloc(n);
  if (!p) {
    fprintf(stderr, "fork_bench: malloc(%zu) failed\n", n);
    abort();
  }
  memset(p, (int)(next(s) & 0xff), n);
  return p;
}

static void *work(void *arg) {
  struct worker *w = arg;
  // Medium blocks take the bulk of the heap, small blocks the count.
  size_t medium_bytes = heap_mib * 1024 * 1024 / THREADS * 3 / 4;
  w->nmedium = medium_bytes / (130 * 1024);
  w->medium = calloc(w->nmedium, sizeof(void *));
  for (size_t i = 0; i < w->nmedium; i++) w->medium[i] = fill(medium_size(&w->rng), &w->rng);
  w->nsmall = SMALL_PER_THREAD * heap_mib / 64;
  w->small = calloc(w->nsmall, sizeof(void *));
  for (size_t i = 0; i < w->nsmall; i++) w->small[i] = fill(small_size(&w->rng), &w->rng);
  atomic_fetch_add(&built, 1);
  // Steady churn: replace a random small block, now and then a medium one.
  while (!atomic_load(&stop)) {
    for (int k = 0; k < 64; k++) {
      size_t i = next(&w->rng) % w->nsmall;
      // Cleared before the free: a child forked between the two must not free it again.
      void *old = w->small[i];
      atomic_store((_Atomic(void *) *)&w->small[i], NULL);
      free(old);
      w->small[i] = fill(small_size(&w->rng), &w->rng);
    }
    if (next(&w->rng) % 16 == 0) {
      size_t i = next(&w->rng) % w->nmedium;
      void *old = w->medium[i];
      atomic_store((_Atomic(void *) *)&w->medium[i], NULL);
      free(old);
      w->medium[i] = fill(medium_size(&w->rng), &w->rng);
    }
    usleep(200);
  }
  return NULL;
}

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static double tv_us(struct timeval t) { return t.tv_sec * 1e6 + t.tv_usec; }

static int count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

// The parent's peak RSS (VmHWM in /proc/self/status), KiB.
static long hwm_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, res = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &size, &res) != 2) res = 0;
    fclose(f);
  }
  return res * (sysconf(_SC_PAGESIZE) / 1024);
}

// The parent's anonymous memory in transparent huge pages (/proc/self/smaps_rollup), KiB.
static long thp_kib(void) {
  FILE *f = fopen("/proc/self/smaps_rollup", "r");
  char line[256];
  long kib = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, "AnonHugePages: %ld kB", &kib) == 1) break;
  fclose(f);
  return kib;
}

static void child_work(void) {
  uint64_t s = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
  void *mine[256];
  for (int r = 0; r < 8; r++) {
    for (int i = 0; i < 256; i++) mine[i] = fill(small_size(&s), &s);
    for (int i = 0; i < 256; i++) free(mine[i]);
  }
  for (int i = 0; i < 20; i++) free(fill(medium_size(&s), &s));
  // Free some of the parent's blocks (a child that tears down part of the inherited state); a
  // slot the worker was replacing at the fork is NULL.
  struct worker *w = &workers[0];
  for (int i = 0; i < 200; i++) {
    size_t k = next(&s) % w->nsmall;
    free(w->small[k]);
    w->small[k] = NULL;
  }
}

int main(int argc, char **argv) {
  int forks = argc > 1 ? atoi(argv[1]) : 200;
  int exec_mode = argc > 2 && strcmp(argv[2], "exec") == 0;
  // MODE=sleep: no fork at all, a 5 ms sleep in its place (the workers' churn alone: mem26).
  int sleep_mode = argc > 2 && strcmp(argv[2], "sleep") == 0;
  if (argc > 3) heap_mib = (size_t)atoi(argv[3]);
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) {
    workers[i].rng = 0x2545f4914f6cdd1dull * (uint64_t)(i + 1);
    pthread_create(&t[i], NULL, work, &workers[i]);
  }
  while (atomic_load(&built) < THREADS) usleep(1000);
  int maps_before = count_maps();

  uint64_t s = 12345;
  double fork_us = 0;
  struct rusage self0, self1, ch0, ch1;
  getrusage(RUSAGE_SELF, &self0);
  getrusage(RUSAGE_CHILDREN, &ch0);
  void *keep[64] = {0};
  for (int f = 0; f < forks; f++) {
    // The parent keeps allocating between forks too.
    for (int i = 0; i < 64; i++) {
      free(keep[i]);
      keep[i] = fill(i % 8 ? small_size(&s) : medium_size(&s), &s);
    }
    if (sleep_mode) {
      usleep(5000);
      continue;
    }
    double t0 = now_us();
    pid_t pid = fork();
    if (pid == 0) {
      if (exec_mode) {
        execl("/bin/true", "true", (char *)NULL);
        _exit(127);
      }
      child_work();
      _exit(0);
    }
    fork_us += now_us() - t0;
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
      fprintf(stderr, "fork_bench: child %d failed (status %d)\n", f, st);
      return 1;
    }
  }
  getrusage(RUSAGE_SELF, &self1);
  getrusage(RUSAGE_CHILDREN, &ch1);
  int maps_after = count_maps();
  long rss = rss_kib(), thp = thp_kib(), hwm = hwm_kib();
  atomic_store(&stop, 1);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  printf("forks=%d mode=%s heap_mib=%zu fork_us=%.1f child_minflt=%.1f child_sys_us=%.1f "
         "parent_minflt=%.1f parent_sys_us=%.1f maps=%d/%d rss_kib=%ld hwm_kib=%ld thp_kib=%ld\n",
         forks, exec_mode ? "exec" : sleep_mode ? "sleep" : "work", heap_mib, fork_us / forks,
         (double)(ch1.ru_minflt - ch0.ru_minflt) / forks,
         (tv_us(ch1.ru_stime) - tv_us(ch0.ru_stime)) / forks,
         (double)(self1.ru_minflt - self0.ru_minflt) / forks,
         (tv_us(self1.ru_stime) - tv_us(self0.ru_stime)) / forks, maps_before, maps_after, rss, hwm, thp);
  return 0;
}
