/* Two known allocation sites for hakmem-prof's end-to-end test under libhakmem.so: hold_live
 * keeps 64 MiB live (512 blocks of 128 KiB, leaked), churn allocates and frees 1 GiB in blocks
 * of 256 B - 8 KiB. Build with -fno-omit-frame-pointer -g. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_BLOCK (128u << 10)
#define LIVE_BLOCKS 512u
#define CHURN_BYTES (1ul << 30)

static void *keep[LIVE_BLOCKS];

__attribute__((noinline)) static void hold_live(void) {
    for (unsigned i = 0; i < LIVE_BLOCKS; i++) {
        keep[i] = malloc(LIVE_BLOCK);
        if (!keep[i]) abort();
        memset(keep[i], (int)i, LIVE_BLOCK);
    }
}

__attribute__((noinline)) static size_t churn(void) {
    size_t done = 0;
    for (size_t i = 0; done < CHURN_BYTES; i++) {
        size_t size = 256 + (i * 733) % 7937;
        if (size > CHURN_BYTES - done) size = CHURN_BYTES - done;
        volatile char *p = malloc(size);
        if (!p) abort();
        p[0] = 1;
        free((void *)p);
        done += size;
    }
    return done;
}

int main(void) {
    hold_live();
    size_t churned = churn();
    printf("churned %zu live %u\n", churned, LIVE_BLOCK * LIVE_BLOCKS);
    return 0;
}
