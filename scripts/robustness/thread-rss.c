/* Memory per thread: N threads (default 1000) alive at once (64 KiB stacks), each doing one
 * malloc/free of each of K classes (16, 48, 80, ... bytes; default 1) and keeping one 16-byte
 * block; main reads the RSS (/proc/self/statm) before the threads start and while all are
 * alive, and prints the difference per thread in KiB. Under glibc the difference is the
 * threads' own cost (stacks, TLS); an allocator's per-thread state comes on top.
 *   cc -O2 -pthread scripts/robustness/thread-rss.c -o thread-rss
 *   LD_PRELOAD=target/release/libhakmem.so ./thread-rss 2000 8
 * docs/benchmarks.md, "Session 22: thread22". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static pthread_barrier_t b;
static int classes = 1;
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r"); long s, r; fscanf(f, "%ld %ld", &s, &r); fclose(f);
    return r * 4;
}
static void *work(void *a) {
    (void)a;
    for (int c = 0; c < classes; c++) { char *volatile q = malloc(16 + 32 * c); q[0] = 1; free(q); }
    char *p = malloc(16); p[0] = 1;
    pthread_barrier_wait(&b); pthread_barrier_wait(&b);
    return p;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000; classes = argc > 2 ? atoi(argv[2]) : 1;
    pthread_t *t = malloc(sizeof *t * n);
    pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 65536);
    free(malloc(16));
    pthread_barrier_init(&b, 0, n + 1);
    long before = rss_kib();
    for (long i = 0; i < n; i++) if (pthread_create(&t[i], &at, work, 0)) { perror("create"); return 1; }
    pthread_barrier_wait(&b);
    long during = rss_kib();
    pthread_barrier_wait(&b);
    for (int i = 0; i < n; i++) { void *p; pthread_join(t[i], &p); free(p); }
    printf("threads %d classes %d: rss %ld -> %ld KiB, %.1f KiB per thread\n", n, classes, before, during,
           (double)(during - before) / n);
    return 0;
}
