/* The set-up exit_reuse_medium.c (tests/preload.rs) and scripts/fork-memory/exit_refill_threads.c
 * (a probe, session 23) share: N threads each allocate MIB MiB of medium blocks (40-440 KiB) into
 * their block array and exit while the blocks are still live, so their spans are published at
 * exit. Include after common.h. */
#ifndef MEDIUM_EXIT_H
#define MEDIUM_EXIT_H
#include <pthread.h>
#include <sys/mman.h>

#define N 4
#define MIB 16
#define MAXB (1 << 16)

static void **blocks[N];
static size_t count[N];

static size_t size_of(size_t i) { return 40000 + (i * 104729) % 400000; }

static void *worker(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill_sized(blocks[t], (size_t)MIB << 20, MAXB, size_of, 1000u * (uint32_t)t);
    return NULL; /* exits with its blocks live: its spans are published */
}

/* Maps the block arrays (no request to the allocator), then runs the N workers to their exit. */
static void fill_from_exiting_threads(void) {
    for (int t = 0; t < N; t++) {
        blocks[t] = mmap(NULL, MAXB * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(blocks[t] != MAP_FAILED);
    }
    pthread_t th[N];
    for (int t = 0; t < N; t++) CHECK(pthread_create(&th[t], NULL, worker, (void *)(long)t) == 0);
    for (int t = 0; t < N; t++) CHECK(pthread_join(th[t], NULL) == 0);
}
#endif
