/* Fork takeover under load (docs/design.md, "A forked child and the parent's other threads'
 * heaps"): worker threads allocate, free, realloc and hand blocks to each other (small, medium
 * up to 4 MiB and a few large ones, so their heaps are often inside a refill, a spill, a remote
 * batch, a medium span update or a large map) while the main thread forks FORKS times at random
 * moments. Each child takes over the workers' heaps (those not caught mid-operation) at its first
 * refill: it checks and frees every worker's stable blocks (allocated before the storm, never
 * touched after) and the blocks parked in the hand-off slots, then two threads of its own
 * allocate, realloc, hand over, check and free blocks of every size, and everything the child
 * keeps must still hold its pattern at the end (a block handed out twice, or a slab released
 * while it still held live blocks, breaks one). Every block carries its pattern at both ends.
 * Each child arms an alarm, so a hang fails the run. HAKMEM_TEST_FORKS overrides FORKS (for long
 * runs by hand: docs/benchmarks.md, "robust21"). */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define SLOTS 512
#define STABLE 256
#define HANDOFF 128
#define FORKS 150
#define CHILD_OPS 10000
#define KEEP 512

static atomic_int stop, made_stable;
static _Atomic(void *) handoff[HANDOFF];
static void *stable[WORKERS][STABLE];

static uint32_t next(uint32_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Mostly small, some up to 32 KiB, some medium (up to 256 KiB, fewer up to 4 MiB), one in
 * 2,000 large (4-12 MiB). */
static size_t pick(uint32_t *s) {
    uint32_t r = next(s) % 2000;
    if (r < 1600) return 1 + next(s) % 1024;
    if (r < 1900) return 1024 + next(s) % (32 << 10);
    if (r < 1990) return (32 << 10) + next(s) % (224 << 10);
    if (r < 1999) return (256 << 10) + next(s) % ((4 << 20) - (256 << 10));
    return (4 << 20) + next(s) % (8 << 20);
}

/* The block's size and seed in its first 8 bytes, a pattern in the next (up to) 56 and in the
 * last (up to) 64 bytes. */
static void *make(size_t n, uint32_t seed) {
    if (n < 16) n = 16;
    uint32_t *p = malloc(n);
    CHECK(p != NULL);
    p[0] = (uint32_t)n;
    p[1] = seed;
    fill(p + 2, (n < 64 ? n : 64) - 8, seed);
    if (n >= 128) fill((char *)p + n - 64, 64, ~seed);
    return p;
}
static int intact(const void *v) {
    const uint32_t *p = v;
    size_t n = p[0];
    return n >= 16 && check_fill(p + 2, (n < 64 ? n : 64) - 8, p[1]) &&
           (n < 128 || check_fill((const char *)p + n - 64, 64, ~p[1]));
}

static void *worker(void *arg) {
    int w = (int)(long)arg;
    uint32_t s = 0x9e3779b9u * (uint32_t)(w + 1);
    void *slot[SLOTS] = {0};
    for (int i = 0; i < STABLE; i++) stable[w][i] = make(pick(&s), s);
    atomic_fetch_add(&made_stable, 1);
    while (!atomic_load(&stop)) {
        uint32_t r = next(&s);
        int i = (int)(r % SLOTS);
        if (slot[i]) {
            CHECK(intact(slot[i]));
            if (r & (1u << 20)) {
                free(slot[i]);
            } else if (r & (1u << 21)) {
                void *old = atomic_exchange(&handoff[r % HANDOFF], slot[i]);
                if (old) {
                    CHECK(intact(old));
                    free(old);
                }
            } else {
                size_t n = pick(&s);
                uint32_t *q = realloc(slot[i], n < 16 ? 16 : n);
                CHECK(q != NULL);
                free(q);
            }
            slot[i] = NULL;
        } else {
            slot[i] = make(pick(&s), s);
        }
    }
    for (int i = 0; i < SLOTS; i++) free(slot[i]);
    return NULL;
}

/* The child's threads: replace, realloc (keeping the head's pattern) and hand blocks to each
 * other through the (emptied) hand-off slots. */
static void *child_thread(void *arg) {
    uint32_t s = 0x1234567u + (uint32_t)(long)arg;
    void *keep[KEEP] = {0};
    for (int k = 0; k < CHILD_OPS; k++) {
        uint32_t r = next(&s);
        int i = (int)(r % KEEP);
        if (keep[i]) {
            if (!intact(keep[i])) _exit(3);
            if (r & (1u << 20)) {
                void *old = atomic_exchange(&handoff[r % HANDOFF], keep[i]);
                if (old) {
                    if (!intact(old)) _exit(3);
                    free(old);
                }
                keep[i] = NULL;
            } else if (r & (1u << 21)) {
                uint32_t *q = keep[i];
                size_t n = pick(&s);
                if (n < 16) n = 16;
                uint32_t seed = q[1];
                size_t was = q[0], kept = was < n ? was : n;
                q = realloc(q, n);
                /* The moved block keeps min(old, new) bytes: both patterns that fit in them. */
                if (q == NULL || q[0] != was || q[1] != seed) _exit(3);
                if (!check_fill(q + 2, (kept < 64 ? kept : 64) - 8, seed)) _exit(3);
                if (n >= was && was >= 128 && !check_fill((char *)q + was - 64, 64, ~seed)) _exit(3);
                size_t head = n < 64 ? n : 64;
                q[0] = (uint32_t)n;
                fill(q + 2, head - 8, seed);
                if (n >= 128) fill((char *)q + n - 64, 64, ~seed);
                keep[i] = q;
                continue;
            } else {
                free(keep[i]);
            }
        }
        keep[i] = make(pick(&s), s);
    }
    for (int i = 0; i < KEEP; i++) {
        if (!keep[i]) continue;
        if (!intact(keep[i])) _exit(3);
        free(keep[i]);
    }
    return NULL;
}

static void child(void) {
    alarm(30);
    /* The main thread's first allocations: its first refill takes the workers' heaps over. */
    void *first[64];
    uint32_t s = 77;
    for (int i = 0; i < 64; i++) first[i] = make(pick(&s), s);
    for (int w = 0; w < WORKERS; w++)
        for (int i = 0; i < STABLE; i++) {
            if (!intact(stable[w][i])) _exit(2);
            free(stable[w][i]);
        }
    /* The hand-off slots hold whole blocks (a worker parks a block only after making it). */
    for (int i = 0; i < HANDOFF; i++) {
        void *p = atomic_exchange(&handoff[i], NULL);
        if (p && !intact(p)) _exit(6);
        free(p);
    }
    pthread_t t[2];
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, child_thread, (void *)i) != 0) _exit(4);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < HANDOFF; i++) {
        void *p = atomic_exchange(&handoff[i], NULL);
        if (p && !intact(p)) _exit(6);
        free(p);
    }
    for (int i = 0; i < 64; i++) {
        if (!intact(first[i])) _exit(5);
        free(first[i]);
    }
    _exit(0);
}

int main(void) {
    expect_allocator();
    pthread_t th[WORKERS];
    for (long w = 0; w < WORKERS; w++) CHECK(pthread_create(&th[w], NULL, worker, (void *)w) == 0);
    while (atomic_load(&made_stable) < WORKERS) usleep(1000);
    uint32_t s = 99;
    const char *fe = getenv("HAKMEM_TEST_FORKS");
    int forks = fe ? atoi(fe) : FORKS;
    for (int f = 0; f < forks; f++) {
        struct timespec d = {0, (long)(next(&s) % 2000) * 1000};
        nanosleep(&d, NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) child();
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "FAIL: child %d: %s %d\n", f, WIFEXITED(st) ? "exit" : "signal",
                    WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            return 1;
        }
    }
    atomic_store(&stop, 1);
    for (int w = 0; w < WORKERS; w++) CHECK(pthread_join(th[w], NULL) == 0);
    for (int i = 0; i < HANDOFF; i++) free(atomic_exchange(&handoff[i], NULL));
    printf("OK fork_takeover_stress\n");
    return 0;
}
