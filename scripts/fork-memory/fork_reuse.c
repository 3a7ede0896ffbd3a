/* A pre-fork server's memory (docs/benchmarks.md, "Session 20: fork21"): N parent threads each
 * allocate and keep MIB MiB of small and medium blocks and stay alive across the fork; the child
 * frees every block they allocated and allocates the same amount again (from its one thread, or
 * with -DCHILD_THREADS from N threads it starts), ROUNDS times, and prints its RSS growth. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#define N 4
#define MIB 16
#define MAXB (1 << 18)
#define ROUNDS 3
static void **blocks[N];
static size_t count[N];
static pthread_barrier_t ready, done;
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long a = 0, b = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &a, &b) != 2) b = 0;
        fclose(f);
    }
    return b * (sysconf(_SC_PAGESIZE) / 1024);
}
static size_t size_of(size_t i) { return (i % 16 == 0) ? 4096 + (i * 577) % 28000 : 16 + (i * 37) % 1000; }
static size_t fill(void **v) {
    size_t cap = (size_t)MIB << 20, used = 0, n = 0;
    while (used < cap && n < MAXB) {
        size_t s = size_of(n);
        v[n] = malloc(s);
        memset(v[n], 1, s);
        used += s;
        n++;
    }
    return n;
}
static void *worker(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill(blocks[t]);
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&done); /* alive across the fork */
    return NULL;
}
#ifdef CHILD_THREADS
static void *refill(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill(blocks[t]);
    return NULL;
}
#endif
int main(void) {
    pthread_t th[N];
    for (int t = 0; t < N; t++)
        blocks[t] = mmap(NULL, MAXB * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_barrier_init(&ready, NULL, N + 1);
    pthread_barrier_init(&done, NULL, N + 1);
    for (int t = 0; t < N; t++) pthread_create(&th[t], NULL, worker, (void *)(long)t);
    pthread_barrier_wait(&ready);
    pid_t pid = fork();
    if (pid == 0) {
        long r0 = rss_kib();
        for (int round = 0; round < ROUNDS; round++) {
            for (int t = 0; t < N; t++)
                for (size_t i = 0; i < count[t]; i++) free(blocks[t][i]);
#ifdef CHILD_THREADS
            pthread_t ct[N];
            for (int t = 0; t < N; t++) pthread_create(&ct[t], NULL, refill, (void *)(long)t);
            for (int t = 0; t < N; t++) pthread_join(ct[t], NULL);
#else
            for (int t = 0; t < N; t++) count[t] = fill(blocks[t]);
#endif
            printf("child round %d: rss growth %ld KiB (parent data %d MiB)\n", round, rss_kib() - r0, N * MIB);
            fflush(stdout);
        }
        exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    pthread_barrier_wait(&done);
    for (int t = 0; t < N; t++) pthread_join(th[t], NULL);
    return 0;
}
