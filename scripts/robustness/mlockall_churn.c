/* mlockall(MCL_CURRENT | MCL_FUTURE) (gpg-agent, jackd, cryptsetup, real-time audio) as root
 * (no RLIMIT_MEMLOCK), then allocation churn across every tier (up to 3 MB) in 4 rounds of 4
 * threads that exit, malloc_trim(0) after each (session 25, real25). Prints "ok". Every mapping is
 * populated and locked at mmap time and MADV_DONTNEED fails with EINVAL on locked pages, so
 * hakmem at 309ecd3 peaks at ~10x glibc's RSS (1.67 GB against 167 MB, /usr/bin/time %M) and
 * makes ~21,000 failing madvise calls (strace -f -e madvise). */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
static void *work(void *a) {
    unsigned s = (unsigned)(long)a;
    void *v[64] = {0};
    for (int k = 0; k < 20000; k++) {
        s = s * 1103515245u + 12345u;
        int i = (s >> 8) & 63;
        free(v[i]);
        size_t n = (s >> 16) % 10 == 0 ? (s >> 4) % 3000000 : (s >> 12) % 4000;
        v[i] = malloc(n + 1);
        if (!v[i]) { printf("malloc failed\n"); exit(2); }
        memset(v[i], 1, n + 1);
    }
    for (int i = 0; i < 64; i++) free(v[i]);
    return 0;
}
int main(int argc, char **argv) {
    if (mlockall(MCL_CURRENT | MCL_FUTURE)) { perror("mlockall"); return 3; }
    for (int r = 0; r < 4; r++) {
        pthread_t t[4];
        for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, work, (void *)(i + r * 4 + 1));
        for (int i = 0; i < 4; i++) pthread_join(t[i], 0);
        malloc_trim(0);
    }
    printf("ok\n");
    return 0;
}
