/* fork_reuse_medium.c's threaded child without a fork (docs/benchmarks.md, "Session 23: fork23"):
 * four threads fill 4 x 16 MiB of medium blocks (40-440 KiB) and exit with them live; each of
 * ROUNDS rounds the main thread frees every block and then refills them from four new threads
 * (argument 1, the default), from four threads one after another (2), or itself (0). Prints the
 * RSS growth after each round. Measures, asserts nothing.
 *   cc -std=gnu11 -O2 -pthread -I preload/tests/c scripts/fork-memory/exit_refill_threads.c \
 *     -o exit_refill_threads -ldl && LD_PRELOAD=.../libhakmem.so ./exit_refill_threads 1 */
#include "common.h"
#include "medium_exit.h"
#define ROUNDS 4
static void *refill(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill_sized(blocks[t], (size_t)MIB << 20, MAXB, size_of, 7u + 1000u * (uint32_t)t);
    return NULL;
}
int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1;
    fill_from_exiting_threads();
    pthread_t th[N];
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
