/* Shared helpers of the C workloads (see ../src/runner/c_suite.rs and docs/benchmarks.md).
 *
 * Usage of every workload: NAME [--scale X] [--threads N] [--inject-fault]
 * On success it prints one line for the runner and exits 0:
 *   hakmem-bench-result alloc=preload workload=NAME threads=N wall_ns=... ops=... checksum=...
 *       peak_rss_kib=... malloc_from=/path/of/the/library/whose/malloc/this/process/calls
 * A failed check prints "error: ..." on stderr and exits 2.
 */
#ifndef HAKMEM_BENCH_COMMON_H
#define HAKMEM_BENCH_COMMON_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    double scale;
    int threads;
    int inject_fault;
} params_t;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf(stderr, "error: " __VA_ARGS__);                                                    \
        fputc('\n', stderr);                                                                       \
        exit(2);                                                                                   \
    } while (0)

static params_t parse_args(int argc, char **argv) {
    params_t p = {1.0, 2, 0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
            p.scale = atof(argv[++i]);
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            p.threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--inject-fault")) {
            p.inject_fault = 1;
        } else {
            fprintf(stderr, "usage: %s [--scale X] [--threads N] [--inject-fault]\n", argv[0]);
            exit(64);
        }
    }
    if (!(p.scale > 0) || p.threads < 1) {
        fprintf(stderr, "--scale must be > 0 and --threads >= 1\n");
        exit(64);
    }
    return p;
}

/* base * scale, at least 1. */
static size_t scaled(const params_t *p, double base) {
    double n = base * p->scale;
    return n < 1 ? 1 : (size_t)n;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* SplitMix64. */
static inline uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static inline uint64_t rng_next(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ull;
    return mix64(*s);
}
static inline size_t rng_below(uint64_t *s, size_t n) {
    return (size_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}
static inline size_t rng_range(uint64_t *s, size_t lo, size_t hi) {
    return lo + rng_below(s, hi - lo + 1);
}
/* Size in [lo, hi] (1 <= lo < hi), skewed towards lo: a uniform octave [2^(k-1), 2^k - 1]
 * clamped to [lo, hi], then a uniform size in it (as Rng::log_size in the Rust workloads). */
static inline size_t rng_log_size(uint64_t *s, size_t lo, size_t hi) {
    int lo_bits = 64 - __builtin_clzll(lo), hi_bits = 64 - __builtin_clzll(hi - 1);
    if (hi_bits < lo_bits) hi_bits = lo_bits;
    int k = (int)rng_range(s, (size_t)lo_bits, (size_t)hi_bits);
    size_t bottom = (size_t)1 << (k - 1), top = ((size_t)1 << k) - 1;
    if (bottom < lo) bottom = lo;
    if (top > hi) top = hi;
    if (top < bottom) top = bottom;
    return rng_range(s, bottom, top);
}

/* The stamp: the head word and the tail word of a block (each byte of a block < 16 bytes),
 * as in the Rust workloads' Block. */
static inline uint8_t stamp_byte(uint64_t tag, size_t i) {
    return (uint8_t)(tag >> ((i & 7) * 8)) ^ (uint8_t)(i * 31);
}
static inline uint64_t tail_word(uint64_t tag, size_t size) {
    return ((tag << 17) | (tag >> 47)) ^ (uint64_t)size;
}
static inline void stamp(void *p, size_t size, uint64_t tag) {
    unsigned char *b = p;
    if (size >= 16) {
        uint64_t t = tail_word(tag, size);
        memcpy(b, &tag, 8);
        memcpy(b + size - 8, &t, 8);
    } else {
        for (size_t i = 0; i < size; i++) b[i] = stamp_byte(tag, i);
    }
}
static inline void check(const char *what, const void *p, size_t size, uint64_t tag) {
    const unsigned char *b = p;
    if (size >= 16) {
        uint64_t head, tail;
        memcpy(&head, b, 8);
        memcpy(&tail, b + size - 8, 8);
        if (head != tag || tail != tail_word(tag, size))
            FAIL("%s: block %p of %zu bytes (tag %#llx) corrupted", what, p, size,
                 (unsigned long long)tag);
    } else {
        for (size_t i = 0; i < size; i++)
            if (b[i] != stamp_byte(tag, i))
                FAIL("%s: block %p of %zu bytes corrupted at offset %zu", what, p, size, i);
    }
}

static inline void *xmalloc(size_t size) {
    void *p = malloc(size);
    if (!p) FAIL("malloc(%zu) returned NULL", size);
    return p;
}

/* Which shared object this process's malloc comes from: proves LD_PRELOAD took effect. */
static const char *malloc_from(void) {
    Dl_info info;
    void *(*f)(size_t) = malloc;
    if (dladdr((void *)f, &info) && info.dli_fname) return info.dli_fname;
    return "unknown";
}

/* Peak RSS of this process in KiB (VmHWM), 0 if unknown. */
static unsigned long long peak_rss_kib(void) {
    char line[256];
    unsigned long long kib = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %llu", &kib) == 1) break;
    fclose(f);
    return kib;
}

static void report(const char *name, const params_t *p, uint64_t wall_ns, uint64_t ops,
                   uint64_t checksum) {
    printf("hakmem-bench-result alloc=preload workload=%s threads=%d wall_ns=%llu ops=%llu "
           "checksum=%llu peak_rss_kib=%llu malloc_from=%s\n",
           name, p->threads, (unsigned long long)wall_ns, (unsigned long long)ops,
           (unsigned long long)checksum, peak_rss_kib(), malloc_from());
}

/* The argument of a workload whose threads each run `steps` independent steps (c-thread,
 * c-alloc-test, c-sh6bench): thread `id` adds what it did to `ops` and `sum`. */
typedef struct {
    const params_t *p;
    int id;
    size_t steps;
    uint64_t ops, sum;
} worker_arg_t;

/* Runs `p->threads` threads of `worker`, each on `total / threads` steps (scaled), joins them
 * and prints NAME's result line: the main function of such a workload. */
static inline int run_workers(const char *name, const params_t *p, void *(*worker)(void *), double total) {
    pthread_t th[p->threads];
    worker_arg_t args[p->threads];
    uint64_t start = now_ns();
    for (int t = 0; t < p->threads; t++) {
        args[t] = (worker_arg_t){p, t, scaled(p, total / p->threads), 0, 0};
        if (pthread_create(&th[t], NULL, worker, &args[t])) FAIL("pthread_create failed");
    }
    uint64_t ops = 0, sum = 0;
    for (int t = 0; t < p->threads; t++) {
        pthread_join(th[t], NULL);
        ops += args[t].ops;
        sum += args[t].sum;
    }
    report(name, p, now_ns() - start, ops, sum);
    return 0;
}

#endif
