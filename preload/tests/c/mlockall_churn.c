/* mlockall(MCL_CURRENT | MCL_FUTURE) as root (session 25, mlock25; gpg-agent, cryptsetup, jackd
 * and other real-time audio lock their memory): every new mapping is then populated and locked
 * when it is made, and MADV_DONTNEED/MADV_FREE fail with EINVAL on locked pages, so nothing mapped
 * is ever given back but by munmap. Two rounds of four threads churn small, medium (32 KiB ..
 * 4 MiB) and large blocks in waves; the peak RSS (VmHWM) must stay within a bound of the peak
 * live bytes that glibc meets with a wide margin. hakmem before config::LOCKED_MEMORY mapped a
 * span of up to 32 MiB per medium class and thread, all of it resident and locked, and failed.
 * Prints "SKIP" and passes where mlockall is refused (no CAP_IPC_LOCK and a small limit). */
#include "common.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>

#define SLOTS 48
#define STEPS 3000

static _Atomic long live, peak_live;

static void account(long d) {
    long now = atomic_fetch_add(&live, d) + d;
    long p = atomic_load(&peak_live);
    while (now > p && !atomic_compare_exchange_weak(&peak_live, &p, now)) {
    }
}

static void *work(void *arg) {
    uint32_t s = (uint32_t)(uintptr_t)arg * 2654435761u | 1;
    void *v[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    for (int k = 0; k < STEPS; k++) {
        int i = rnd(&s) % SLOTS;
        if (v[i]) {
            CHECK(check_fill(v[i], len[i] < 64 ? len[i] : 64, (uint32_t)len[i]));
            free(v[i]);
            account(-(long)len[i]);
        }
        uint32_t r = rnd(&s);
        /* Waves: every 500 steps a thread spends 250 on medium and large sizes. */
        int big = (k / 250) % 2 ? r % 4 == 0 : r % 20 == 0;
        size_t n = big ? 32768 + rnd(&s) % (6u << 20) : 16 + rnd(&s) % 4000;
        v[i] = malloc(n);
        CHECK(v[i] != NULL);
        len[i] = n;
        account((long)n);
        memset(v[i], 1, n);
        fill(v[i], n < 64 ? n : 64, (uint32_t)n);
    }
    for (int i = 0; i < SLOTS; i++) {
        free(v[i]);
        account(-(long)len[i]);
    }
    return NULL;
}

int main(void) {
    expect_allocator();
    if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
        printf("SKIP mlockall: %s\nOK mlockall_churn\n", strerror(errno));
        return 0;
    }
    long start = status_kib("VmHWM:");
    CHECK(start > 0);
    for (int r = 0; r < 2; r++) {
        pthread_t t[4];
        for (long i = 0; i < 4; i++)
            CHECK(pthread_create(&t[i], NULL, work, (void *)(i + r * 4 + 1)) == 0);
        for (int i = 0; i < 4; i++) CHECK(pthread_join(t[i], NULL) == 0);
    }
    long hwm = status_kib("VmHWM:");
    long peak = atomic_load(&peak_live) / 1024;
    /* glibc 2.36: 1.7x the peak live bytes (334,408 KiB over 198,522 KiB live: arenas, top
     * chunks, mmap'ed chunks); hakmem before the fix 9.7x (1.8 GB). */
    long bound = 2 * peak + 64 * 1024;
    fprintf(stderr, "mlockall_churn: VmHWM %ld KiB at start, %ld KiB at the end; peak live %ld KiB; "
                    "bound %ld KiB over the start\n", start, hwm, peak, bound);
    if (hwm - start > bound) {
        fprintf(stderr, "FAIL: peak RSS grew by %ld KiB under mlockall, over %ld KiB (2x the peak "
                        "live %ld KiB + 64 MiB)\n", hwm - start, bound, peak);
        return 1;
    }
    printf("OK mlockall_churn\n");
    return 0;
}
