/* malloc_large: the shape of mimalloc-bench's malloc-large. 20 live buffers of 5-25 MiB (uniform),
 * ITERS times a random one is replaced by a new buffer of a random size, written in full (as
 * `std::make_unique<char[]>(n)` zeroes it; filled with 1 here, since a compiler turns malloc +
 * memset 0 into calloc). The new buffer exists before the old one is freed. Peak RSS is
 * what a user compares (`/usr/bin/time -f "%e %U %S %M"`). Usage: malloc_large [ITERS=5000]. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N 20
#define MIN_SIZE ((size_t)5 << 20)
#define MAX_SIZE ((size_t)25 << 20)

static uint64_t rng = 42;
static uint64_t next(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 5000;
    char *buf[N] = {0};
    size_t sum = 0;
    for (long i = 0; i < iters; i++) {
        int k = (int)(next() % N);
        size_t n = MIN_SIZE + next() % (MAX_SIZE - MIN_SIZE + 1);
        char *p = malloc(n);
        if (!p) { fprintf(stderr, "malloc_large: out of memory\n"); return 1; }
        memset(p, 1, n);
        sum += (unsigned char)p[n - 1];
        free(buf[k]);
        buf[k] = p;
    }
    for (int k = 0; k < N; k++) free(buf[k]);
    printf("malloc_large %ld %zu\n", iters, sum);
    return 0;
}
