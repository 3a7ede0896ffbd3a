/* Threads on the smallest stacks (PTHREAD_STACK_MIN, 16 KiB) allocating every tier (small to 3 MiB),
 * reallocating and posix_memalign(64 KiB), then malloc/free in a SIGUSR1 handler on a
 * MINSIGSTKSZ + 4 KiB alternate stack: the allocator's slow paths (first heap, refill, large
 * mapping) must fit in a small stack. Argument: the stack size (default PTHREAD_STACK_MIN). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <limits.h>
#include <unistd.h>
static void *work(void *a) {
    long k = (long)a;
    void *ps[64];
    size_t sizes[] = {8, 100, 1000, 5000, 40000, 300000, 3 << 20};
    for (int r = 0; r < 20; r++) {
        for (int i = 0; i < 64; i++) { ps[i] = malloc(sizes[(i + k + r) % 7]); memset(ps[i], i, 8); }
        for (int i = 0; i < 64; i++) { ps[i] = realloc(ps[i], sizes[(i + 3) % 7] + r); }
        void *q; if (posix_memalign(&q, 1 << 16, 100)) abort(); free(q);
        for (int i = 0; i < 64; i++) free(ps[i]);
    }
    return 0;
}
static void handler(int s) { (void)s; void *p = malloc(64); free(p); p = malloc(100000); free(p); }
int main(int argc, char **argv) {
    size_t st = argc > 1 ? strtoul(argv[1], 0, 0) : PTHREAD_STACK_MIN;
    pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, st);
    pthread_t t[16];
    for (long i = 0; i < 16; i++) if (pthread_create(&t[i], &at, work, (void *)i)) { perror("create"); return 1; }
    for (int i = 0; i < 16; i++) pthread_join(t[i], 0);
    /* signal handler on a minimal alternate stack, calling malloc in a fresh thread */
    stack_t ss = { .ss_sp = malloc(MINSIGSTKSZ + 4096), .ss_size = MINSIGSTKSZ + 4096 };
    sigaltstack(&ss, 0);
    struct sigaction sa = { .sa_handler = handler, .sa_flags = SA_ONSTACK }; sigaction(SIGUSR1, &sa, 0);
    raise(SIGUSR1);
    printf("ok stack=%zu\n", st);
    return 0;
}
