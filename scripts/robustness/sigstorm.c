/* Signal storm: 4 threads allocate and free every tier (8 B .. 4 MiB, realloc, calloc, aligned)
 * while ITIMER_REAL (every 50 us, SIGALRM) and ITIMER_PROF (SIGPROF) interrupt them, handlers
 * installed without SA_RESTART, so any syscall inside the allocator can return EINTR. NOSIG=1: no
 * timers (the same work, for timing). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <errno.h>
static volatile sig_atomic_t hits;
static void h(int s) { (void)s; hits++; }
static void *work(void *a) {
    unsigned long x = (unsigned long)a * 2654435761u + 1, sum = 0;
    void *slot[256] = {0};
    for (int i = 0; i < 60000; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int k = x % 256; free(slot[k]);
        size_t n = (x >> 8) % 8 == 0 ? (x >> 12) % (4 << 20) : (x >> 12) % 2048 + 1;
        switch ((x >> 4) % 4) {
        case 0: slot[k] = malloc(n); break;
        case 1: slot[k] = calloc(1, n); if (slot[k] && ((char *)slot[k])[n - 1]) { printf("calloc not zero\n"); exit(1); } break;
        case 2: slot[k] = aligned_alloc(64 << ((x >> 20) % 6), n); break;
        default: slot[k] = realloc(malloc(16), n); break;
        }
        if (!slot[k]) { printf("null at %zu errno %d\n", n, errno); exit(1); }
        ((char *)slot[k])[0] = (char)i; sum += ((unsigned char *)slot[k])[0];
    }
    for (int k = 0; k < 256; k++) free(slot[k]);
    return (void *)sum;
}
int main(void) {
    struct sigaction sa = { .sa_handler = h }; sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, 0); sigaction(SIGPROF, &sa, 0);
    struct itimerval it = { { 0, 50 }, { 0, 50 } };
    if (!getenv("NOSIG")) { setitimer(ITIMER_REAL, &it, 0); setitimer(ITIMER_PROF, &it, 0); }
    pthread_t t[4]; unsigned long total = 0;
    for (long i = 0; i < 4; i++) pthread_create(&t[i], 0, work, (void *)i);
    for (int i = 0; i < 4; i++) { void *r; pthread_join(t[i], &r); total += (unsigned long)r; }
    struct itimerval off = {0}; setitimer(ITIMER_REAL, &off, 0); setitimer(ITIMER_PROF, &off, 0);
    printf("sum %lu signals>0 %d\n", total, hits > 0);
    return 0;
}
