/* larson: the pattern of mimalloc-bench's larson (Larson & Krishnan's server simulation), run as
 * `larson SECONDS MIN MAX SLOTS ROUNDS SEED THREADS` (mimalloc-bench: 5 8 1000 5000 100 4141 N).
 * The main thread allocates THREADS*SLOTS blocks of MIN..MAX bytes, shuffles them and replaces
 * 4*n of them at random (the warm-up), then starts THREADS workers and sleeps. Each worker
 * replaces a random slot of its SLOTS-slot array ROUNDS*SLOTS times (free the old block, malloc a
 * new one, write two bytes), then starts its successor on the same array and exits: blocks are
 * freed by the thread generation after the one that allocated them, and the first frees are of
 * blocks the (sleeping, alive) main thread owns. Prints the throughput in wall time
 * (allocations per second), as the original does. Written for hakmem's throughput table
 * (docs/benchmarks.md); not the original's code.
 *
 * Each worker's area_t (its slot pointer, counters and generator, written on every replacement)
 * sits on its own 128 bytes of a mapped buffer, so no two workers' areas share a cache line (or an
 * adjacent-line prefetch pair). The areas were a calloc'd, packed array of 72-byte records, and in
 * the parallel mode (both threads at once) a worker's every-operation writes of its generator and
 * count then shared a line with the other worker's every-operation reads: what that cost depended
 * only on the 144-byte block's offset in its cache line, i.e. on the allocator under test, and
 * halved the row's throughput (docs/benchmarks.md, session 20: xt25). LARSON_PACKED=1 restores
 * the packed calloc'd array, to compare with numbers taken before the change.
 *
 * LARSON_DENSITY=1 (a diagnostic; its counting costs CPU time, so the throughput it prints is not
 * comparable): at each generation's end the worker counts the distinct 4 KiB pages and 64 KiB
 * slabs holding its SLOTS live blocks, and the averages are printed at the end (how densely the
 * allocator packs a thread's live set; docs/benchmarks.md, session 14: xt16). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"

typedef struct {
    char **slots;
    long nslots, replaces, min, range;
    unsigned long long rng;
    volatile long allocs, generations;
    volatile int finished;
} area_t;

_Static_assert(sizeof(area_t) <= 128, "an area fits its stride");
#define AREA_STRIDE 128

static volatile int stop;
static int density;
static long pages_sum, slabs_sum, density_samples;

static int cmp_ulong(const void *x, const void *y) {
    unsigned long u = *(const unsigned long *)x, v = *(const unsigned long *)y;
    return u < v ? -1 : u > v;
}

/* Distinct values of `v[0..n]` (sorted in place). */
static long distinct(unsigned long *v, long n) {
    qsort(v, (size_t)n, sizeof *v, cmp_ulong);
    long d = n > 0;
    for (long i = 1; i < n; i++) d += v[i] != v[i - 1];
    return d;
}

/* LARSON_DENSITY: adds the pages and slabs holding `a`'s live blocks to the sums. Its buffer is
 * mapped, not malloc'd, so the allocator under test sees nothing of it. */
static void count_density(area_t *a) {
    size_t bytes = sizeof(unsigned long) * 2 * (size_t)a->nslots;
    unsigned long *v = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (v == MAP_FAILED) return;
    for (long i = 0; i < a->nslots; i++) {
        v[i] = (unsigned long)a->slots[i] >> 12;
        v[a->nslots + i] = (unsigned long)a->slots[i] >> 16;
    }
    __atomic_fetch_add(&pages_sum, distinct(v, a->nslots), __ATOMIC_RELAXED);
    __atomic_fetch_add(&slabs_sum, distinct(v + a->nslots, a->nslots), __ATOMIC_RELAXED);
    __atomic_fetch_add(&density_samples, 1, __ATOMIC_RELAXED);
    munmap(v, bytes);
}

static unsigned long long next(unsigned long long *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *worker(void *arg) {
    area_t *a = arg;
    if (stop) {
        a->finished = 1;
        return NULL;
    }
    a->finished = 0;
    a->generations++;
    for (long i = 0; i < a->replaces; i++) {
        long v = (long)(next(&a->rng) % (unsigned long long)a->nslots);
        free(a->slots[v]);
        size_t size = (size_t)(a->min + (long)(next(&a->rng) % (unsigned long long)a->range));
        volatile char *p = malloc(size);
        if (!p) {
            fprintf(stderr, "error: malloc(%zu) failed\n", size);
            exit(2);
        }
        a->slots[v] = (char *)p;
        p[0] = 'a';
        p[1] = 'b';
        a->allocs++;
        if (stop) break;
    }
    if (density) count_density(a);
    a->finished = 1;
    if (!stop) {
        pthread_t t;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &at, worker, a)) {
            fprintf(stderr, "error: pthread_create failed\n");
            exit(2);
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: %s SECONDS MIN MAX SLOTS ROUNDS SEED THREADS\n", argv[0]);
        return 1;
    }
    double seconds = atof(argv[1]);
    long min = atol(argv[2]), max = atol(argv[3]), slots = atol(argv[4]), rounds = atol(argv[5]);
    unsigned long long rng = (unsigned long long)atol(argv[6]) * 0x9E3779B97F4A7C15ull + 1;
    int threads = atoi(argv[7]);
    const char *dv = getenv("LARSON_DENSITY");
    density = dv && *dv == '1';
    long n = slots * threads, range = max > min ? max - min : 1;
    char **blocks = malloc(sizeof(char *) * (size_t)n);
    for (long i = 0; i < n; i++) blocks[i] = malloc((size_t)(min + (long)(next(&rng) % range)));
    for (long i = n; i > 0; i--) {
        long v = (long)(next(&rng) % (unsigned long long)i);
        char *t = blocks[v];
        blocks[v] = blocks[i - 1];
        blocks[i - 1] = t;
    }
    for (long i = 0; i < 4 * n; i++) {
        long v = (long)(next(&rng) % (unsigned long long)n);
        free(blocks[v]);
        blocks[v] = malloc((size_t)(min + (long)(next(&rng) % range)));
    }
    /* The workers' areas: one per AREA_STRIDE bytes of a mapped buffer (see the top comment), or
     * with LARSON_PACKED=1 the packed calloc'd array these numbers were once taken with. */
    const char *pv = getenv("LARSON_PACKED");
    int packed = pv && *pv == '1';
    size_t stride = packed ? sizeof(area_t) : AREA_STRIDE;
    char *area_buf;
    if (packed) {
        area_buf = calloc((size_t)threads, sizeof(area_t));
    } else {
        area_buf = mmap(NULL, stride * (size_t)threads, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (area_buf == MAP_FAILED) area_buf = NULL;
    }
    if (!area_buf) {
        fprintf(stderr, "error: no memory for the workers' areas\n");
        return 2;
    }
#define AREA(t) ((area_t *)(area_buf + (size_t)(t) * stride))
    for (int t = 0; t < threads; t++) {
        *AREA(t) = (area_t){blocks + t * slots, slots, rounds * slots, min, range, next(&rng) | 1, 0, 0, 0};
    }
    double start = now();
    for (int t = 0; t < threads; t++) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, worker, AREA(t))) return 2;
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    stop = 1;
    for (int t = 0; t < threads; t++)
        while (!AREA(t)->finished) sched_yield();
    double wall = now() - start;
    long allocs = 0, gens = 0;
    for (int t = 0; t < threads; t++) allocs += AREA(t)->allocs, gens += AREA(t)->generations;
    double c = cpu();
    printf("larson threads=%d ops_per_s=%.0f ops_per_cpu_s=%.0f generations=%ld\n", threads, (double)allocs / wall, (double)allocs / c, gens);
    if (density && density_samples)
        printf("larson live set per generation: pages4k=%.0f slabs64k=%.0f generations_counted=%ld\n",
               (double)pages_sum / (double)density_samples, (double)slabs_sum / (double)density_samples, density_samples);
    return 0;
}
