/* fork_reuse_medium.c's threaded child without a fork (docs/benchmarks.md, "Session 23: fork23"):
 * four threads fill 4 x 16 MiB of medium blocks (40-440 KiB) and exit with them live; each of
 * ROUNDS rounds the main thread frees every block and then refills them from four new threads
 * (argument 1, the default), from four threads one after another (2), or itself (0). Prints the
 * RSS growth after each round. Measures, asserts nothing.
 *   cc -std=gnu11 -O2 -pthread -I preload/tests/c scripts/fork-memory/exit_refill_threads.c \
 *     -o exit_refill_threads -ldl && LD_PRELOAD=.../libhakmem.so ./exit_refill_threads 1 */
#include "common.h"
#include <pthread.h>
#include <sys/mman.h>
#define N 4
#define MIB 16
#define MAXB (1 << 16)
#define ROUNDS 4
static void **blocks[N];
static size_t count[N];
static size_t size_of(size_t i) { return 40000 + (i * 104729) % 400000; }
static void *worker(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill_sized(blocks[t], (size_t)MIB << 20, MAXB, size_of, 1000u * (uint32_t)t);
    return NULL;
}
static void *refill(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill_sized(blocks[t], (size_t)MIB << 20, MAXB, size_of, 7u + 1000u * (uint32_t)t);
    return NULL;
}
int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    for (int t = 0; t < N; t++) {
        blocks[t] = mmap(NULL, MAXB * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    pthread_t th[N];
    for (int t = 0; t < N; t++) CHECK(pthread_create(&th[t], NULL, worker, (void *)(long)t) == 0);
    for (int t = 0; t < N; t++) CHECK(pthread_join(th[t], NULL) == 0);
    long r0 = statm_rss_kib();
    long growth[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        for (int t = 0; t < N; t++) {
            check_sized(blocks[t], count[t], size_of, (round == 0 ? 0u : 7u) + 1000u * (uint32_t)t);
            for (size_t i = 0; i < count[t]; i++) free(blocks[t][i]);
        }
        if (threads == 2) {
            for (int t = 0; t < N; t++) { CHECK(pthread_create(&th[t], NULL, refill, (void *)(long)t) == 0); CHECK(pthread_join(th[t], NULL) == 0); }
        } else if (threads) {
            for (int t = 0; t < N; t++) CHECK(pthread_create(&th[t], NULL, refill, (void *)(long)t) == 0);
            for (int t = 0; t < N; t++) CHECK(pthread_join(th[t], NULL) == 0);
        } else
            for (int t = 0; t < N; t++) refill((void *)(long)t);
        growth[round] = statm_rss_kib() - r0;
    }
    for (int round = 0; round < ROUNDS; round++)
        printf("threads %d round %d: rss growth %ld KiB\n", threads, round, growth[round]);
    return 0;
}
