/* exit() while four threads allocate and free in a loop (`exit`), _exit (`quick`), and
 * pthread_exit from main while they run, a later thread calling exit (`pexit`): the exit-time
 * stats print and profile dump race live threads. Run with HAKMEM_STATS=1 / HAKMEM_PROF=1. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <stdint.h>
static void *spin(void *a) {
    unsigned s = (unsigned)(uintptr_t)a;
    void *keep[64] = {0};
    for (;;) { s = s * 1103515245 + 12345; int i = s % 64; free(keep[i]); keep[i] = malloc((s >> 8) % 300000 + 1); if (keep[i]) memset(keep[i], 1, 8); }
    return NULL;
}
static void *late(void *a) { (void)a; usleep(20000); for (int i = 0; i < 100000; i++) { void *p = malloc(i % 5000 + 1); free(p); } printf("late done\n"); fflush(stdout); exit(0); }
int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "exit";
    pthread_t t;
    for (int i = 0; i < 4; i++) pthread_create(&t, NULL, spin, (void *)(uintptr_t)(i + 1));
    if (!strcmp(mode, "pexit")) {
        pthread_t l; pthread_create(&l, NULL, late, NULL);
        void *p = malloc(1000); free(p);
        pthread_exit(NULL); /* process continues; exits when... never: spinners. late thread calls exit */
    }
    usleep(30000);
    if (!strcmp(mode, "quick")) _exit(0);
    exit(0);
}
