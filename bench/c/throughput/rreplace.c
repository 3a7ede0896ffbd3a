/* rreplace: per-thread random replacement, the core loop of rptest/threadtest-like programs, run
 * as `rreplace THREADS SECONDS SLOTS MIN MAX CROSS`. Each thread owns SLOTS slots and replaces a
 * random one (free, then malloc of MIN..MAX bytes, log-uniform, first and last byte written);
 * every CROSS-th replacement (0: never) instead swaps the block with a random slot of the next
 * thread's array through an atomic exchange, so that block is later freed by the other thread.
 * Prints replacements per second in wall time. Written for hakmem's throughput table
 * (docs/benchmarks.md). */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "clock.h"

typedef struct {
    void **slots;
    long ops;
    char pad[48];
} area_t;

static int threads;
static long nslots, cross;
static double lmin, lmax;
static area_t areas[64];
static volatile int stop;

static unsigned long long next(unsigned long long *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t pick(unsigned long long *rng) {
    /* log-uniform in [min, max]: 2^(uniform exponent), from 53 random bits */
    double u = (double)(next(rng) >> 11) * (1.0 / 9007199254740992.0);
    double e = lmin + u * (lmax - lmin);
    return (size_t)__builtin_exp2(e);
}

static void *worker(void *arg) {
    long me = (long)arg;
    area_t *a = &areas[me], *other = &areas[(me + 1) % threads];
    unsigned long long rng = (unsigned long long)me * 0x9E3779B97F4A7C15ull + 11;
    long ops = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        for (int k = 0; k < 1024; k++) {
            long v = (long)(next(&rng) % (unsigned long long)nslots);
            if (cross && ops % cross == 0) {
                long w = (long)(next(&rng) % (unsigned long long)nslots);
                void *mine = __atomic_exchange_n(&a->slots[v], NULL, __ATOMIC_ACQ_REL);
                void *theirs = __atomic_exchange_n(&other->slots[w], mine, __ATOMIC_ACQ_REL);
                free(__atomic_exchange_n(&a->slots[v], theirs, __ATOMIC_ACQ_REL));
            }
            void *old = __atomic_exchange_n(&a->slots[v], NULL, __ATOMIC_ACQ_REL);
            free(old);
            size_t s = pick(&rng);
            char *p = malloc(s);
            p[0] = 1;
            p[s - 1] = 2;
            void *prev = __atomic_exchange_n(&a->slots[v], p, __ATOMIC_ACQ_REL);
            free(prev);
            ops++;
        }
    }
    a->ops = ops;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 7) {
        fprintf(stderr, "usage: %s THREADS SECONDS SLOTS MIN MAX CROSS\n", argv[0]);
        return 1;
    }
    threads = atoi(argv[1]);
    double seconds = atof(argv[2]);
    nslots = atol(argv[3]);
    lmin = __builtin_log2(atof(argv[4]));
    lmax = __builtin_log2(atof(argv[5]));
    cross = atol(argv[6]);
    if (threads < 1 || threads > 64) return 1;
    for (int t = 0; t < threads; t++) areas[t].slots = calloc((size_t)nslots, sizeof(void *));
    pthread_t th[64];
    double start = now();
    for (long t = 0; t < threads; t++) pthread_create(&th[t], NULL, worker, (void *)t);
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    stop = 1;
    long total = 0;
    for (int t = 0; t < threads; t++) pthread_join(th[t], NULL), total += areas[t].ops;
    double wall = now() - start;
    for (int t = 0; t < threads; t++) {
        for (long i = 0; i < nslots; i++) free(areas[t].slots[i]);
        free(areas[t].slots);
    }
    double c = cpu();
    printf("rreplace threads=%d ops_per_s=%.0f ops_per_cpu_s=%.0f\n", threads, (double)total / wall, (double)total / c);
    return 0;
}
