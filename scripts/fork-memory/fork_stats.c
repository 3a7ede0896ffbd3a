/* Which counter a fork child's free of the parent threads' blocks lands in (docs/benchmarks.md,
   "Session 20: small20"): gcc -O2 -DSIZE=65536 [-DNOFORK] fork_stats.c -lpthread, then run with
   HAKMEM_STATS=1 LD_PRELOAD=target/release/libhakmem.so; the first report is the child's. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
#define N 200
static void *blocks[2][N];
static pthread_barrier_t b1, b2;
static void *run(void *a) {
    long t = (long)a;
    for (int i = 0; i < N; i++) blocks[t][i] = malloc(SIZE);
    pthread_barrier_wait(&b1);
    pthread_barrier_wait(&b2);
    return 0;
}
int main(void) {
    pthread_t th[2];
    pthread_barrier_init(&b1, 0, 3); pthread_barrier_init(&b2, 0, 3);
    for (long t = 0; t < 2; t++) pthread_create(&th[t], 0, run, (void *)t);
    pthread_barrier_wait(&b1);
#ifdef NOFORK
    for (int t = 0; t < 2; t++) for (int i = 0; i < N; i++) free(blocks[t][i]);
    pthread_barrier_wait(&b2);
#else
    pid_t p = fork();
    if (p == 0) {
        for (int t = 0; t < 2; t++) for (int i = 0; i < N; i++) free(blocks[t][i]);
        exit(0);
    }
    waitpid(p, 0, 0);
    pthread_barrier_wait(&b2);
#endif
    for (int t = 0; t < 2; t++) pthread_join(th[t], 0);
    return 0;
}
