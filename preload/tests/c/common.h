/* Shared helpers of the preload test programs (see tests/preload.rs).
 *
 * Every program prints "OK <name>" on success and exits 0; any failed check prints
 * "FAIL <file>:<line>: <expr>" to stderr and exits 1.
 *
 * HAKMEM_EXPECT (set by the harness): "1" = this run must be on libhakmem.so, "0" = on glibc's
 * malloc (the same programs double as a check that their expectations are glibc's behaviour).
 * on_hakmem() answers from the process itself: hakmem_version is found with dlsym and `malloc`
 * resolves into a file named libhakmem*.so, so a preload that silently did not load fails. */
#ifndef HAKMEM_TEST_COMMON_H
#define HAKMEM_TEST_COMMON_H

#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(e)                                                                     \
    do {                                                                             \
        if (!(e)) {                                                                  \
            fprintf(stderr, "FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #e, errno); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static inline int on_hakmem(void) {
    void *sym = dlsym(RTLD_DEFAULT, "hakmem_version");
    Dl_info info;
    void *(*volatile m)(size_t) = malloc;
    int in_so = dladdr((void *)m, &info) && info.dli_fname && strstr(info.dli_fname, "libhakmem");
    return sym != NULL && in_so;
}

/* Checks that the run is on the allocator the harness expects; returns 1 on hakmem. */
static inline int expect_allocator(void) {
    const char *want = getenv("HAKMEM_EXPECT");
    int hk = on_hakmem();
    if (want && ((want[0] == '1') != hk)) {
        fprintf(stderr, "FAIL: HAKMEM_EXPECT=%s but the process runs on %s\n", want,
                hk ? "hakmem" : "another malloc");
        exit(1);
    }
    return hk;
}

/* Fills / checks a block with a pattern derived from `seed`. */
static inline void fill(void *p, size_t n, uint32_t seed) {
    unsigned char *b = p;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(seed + i * 31u);
}
static inline int check_fill(const void *p, size_t n, uint32_t seed) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i] != (unsigned char)(seed + i * 31u)) return 0;
    return 1;
}

/* A small xorshift generator (deterministic per seed). */
static inline uint32_t rnd(uint32_t *s) {
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* Resident KiB (/proc/self/statm), read with open/read: no malloc, so a program that must make
 * no small request before it measures (a FILE is one) can still read it. */
#include <fcntl.h>
#include <unistd.h>
static inline long statm_rss_kib(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    long a = 0, b = 0;
    if (sscanf(buf, "%ld %ld", &a, &b) != 2) b = 0;
    return b * (sysconf(_SC_PAGESIZE) / 1024);
}

/* A field of /proc/self/status in KiB ("VmHWM:", "VmLck:"), read with open/read: no malloc
 * (malloc may be the thing under test, or failing). -1 where it cannot be read. */
static inline long status_kib(const char *field) {
    char buf[8192];
    int fd = open("/proc/self/status", O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *l = strstr(buf, field);
    return l ? strtol(l + strlen(field), NULL, 10) : -1;
}

/* Allocates blocks of size_of(0), size_of(1), ... into v until `cap` bytes or `max` blocks: each
 * block's first min(size, 64) bytes hold fill(seed + i), the rest ones (every page written).
 * Returns the count; check_sized checks them. */
static inline size_t fill_sized(void **v, size_t cap, size_t max, size_t (*size_of)(size_t),
                                uint32_t seed) {
    size_t used = 0, n = 0;
    while (used < cap && n < max) {
        size_t s = size_of(n), head = s < 64 ? s : 64;
        v[n] = malloc(s);
        CHECK(v[n] != NULL);
        fill(v[n], head, seed + (uint32_t)n);
        memset((char *)v[n] + head, 1, s - head);
        used += s;
        n++;
    }
    return n;
}

static inline void check_sized(void **v, size_t n, size_t (*size_of)(size_t), uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        size_t s = size_of(i);
        CHECK(check_fill(v[i], s < 64 ? s : 64, seed + (uint32_t)i));
    }
}

#endif
