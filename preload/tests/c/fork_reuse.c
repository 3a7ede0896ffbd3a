/* A pre-fork server's memory (docs/design.md, "A forked child and the parent's other threads'
 * heaps"): N parent threads each allocate and keep MIB MiB of small and medium blocks and stay
 * alive across the fork; the child frees every block they allocated and allocates the same amount
 * again, ROUNDS times, from its one thread (first child) or from N threads it starts (second
 * child), and reports its RSS growth. On hakmem with the fork takeover
 * (HAKMEM_EXPECT_TAKEOVER=1) every round's growth stays under a quarter of the parent threads'
 * data: the child took over the dead threads' heaps and reuses their slabs. Without it
 * (HAKMEM_EXPECT_TAKEOVER=0, the --cfg hakmem_no_fork_takeover build) the growth is at least
 * half of it (the leak the takeover removes). glibc: printed only (its one-thread child grows by
 * the whole 64 MiB; its threaded child reuses the old arenas). Variants define REUSE_NAME,
 * size_of, REUSE_QUARTERS (the bound), REUSE_CHECK_THREADED, REUSE_THREADED_EIGHTHS (the
 * four-thread child's bound, in eighths) and REUSE_NO_SMALL_REQUESTS (fork_reuse_medium.c,
 * fork_reuse_prof.c). */
#include "common.h"

#include <pthread.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#define N 4
#define MIB 16
#define MAXB (1 << 18)
#define ROUNDS 3

static void **blocks[N];
static size_t count[N];
static pthread_barrier_t ready, done;
static int hk, expect_takeover;

#ifdef REUSE_NO_SMALL_REQUESTS
/* No malloc: a FILE is a small request, which would start the takeover from the small refill
 * in the medium variant. */
static long rss_kib(void) { return statm_rss_kib(); }
#else
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    long a = 0, b = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &a, &b) != 2) b = 0;
        fclose(f);
    }
    return b * (sysconf(_SC_PAGESIZE) / 1024);
}
#endif

#ifndef REUSE_QUARTERS
#define REUSE_QUARTERS 1 /* the takeover's bound on the child's growth, in quarters of the data */
#endif
#ifndef REUSE_CHECK_THREADED
#define REUSE_CHECK_THREADED 1 /* whether the four-thread child's growth is bounded too */
#endif
#ifndef REUSE_THREADED_EIGHTHS
#define REUSE_THREADED_EIGHTHS (2 * REUSE_QUARTERS) /* the four-thread child's bound, in eighths */
#endif
#ifndef REUSE_NAME
#define REUSE_NAME "fork_reuse"
/* 15 of 16 blocks 16-1015 B, one of 16 4-32 KiB (small classes only, as in the parent). */
static size_t size_of(size_t i) { return (i % 16 == 0) ? 4096 + (i * 577) % 28000 : 16 + (i * 37) % 1000; }
#endif

static size_t fill_blocks(void **v, uint32_t seed) { return fill_sized(v, (size_t)MIB << 20, MAXB, size_of, seed); }

static void check_blocks(void **v, size_t n, uint32_t seed) { check_sized(v, n, size_of, seed); }

static void *worker(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill_blocks(blocks[t], 1000u * (uint32_t)t);
    pthread_barrier_wait(&ready);
    pthread_barrier_wait(&done); /* alive across the forks */
    return NULL;
}

static void *refill(void *arg) {
    int t = (int)(long)arg;
    count[t] = fill_blocks(blocks[t], 7u + 1000u * (uint32_t)t);
    return NULL;
}

static void child(int threads) {
    long r0 = rss_kib();
    long worst = 0, growth[ROUNDS];
    for (int round = 0; round < ROUNDS; round++) {
        for (int t = 0; t < N; t++) {
            /* The parent's blocks (round 0) or this child's, intact, then freed. */
            check_blocks(blocks[t], count[t], (round == 0 ? 0u : 7u) + 1000u * (uint32_t)t);
            for (size_t i = 0; i < count[t]; i++) free(blocks[t][i]);
        }
        if (threads) {
            pthread_t ct[N];
            for (int t = 0; t < N; t++) CHECK(pthread_create(&ct[t], NULL, refill, (void *)(long)t) == 0);
            for (int t = 0; t < N; t++) CHECK(pthread_join(ct[t], NULL) == 0);
        } else {
            for (int t = 0; t < N; t++) count[t] = fill_blocks(blocks[t], 7u + 1000u * (uint32_t)t);
        }
        growth[round] = rss_kib() - r0;
        if (growth[round] > worst) worst = growth[round];
#ifndef REUSE_NO_SMALL_REQUESTS
        printf("child (%s) round %d: rss growth %ld KiB (parent threads' data %d MiB)\n",
               threads ? "four threads" : "one thread", round, growth[round], N * MIB);
        fflush(stdout);
#endif
    }
#ifdef REUSE_NO_SMALL_REQUESTS
    /* Printed after the rounds: stdout's buffer is a small request. */
    for (int round = 0; round < ROUNDS; round++)
        printf("child (%s) round %d: rss growth %ld KiB (parent threads' data %d MiB)\n",
               threads ? "four threads" : "one thread", round, growth[round], N * MIB);
    fflush(stdout);
#endif
    /* HAKMEM_REUSE_QUARTERS and HAKMEM_REUSE_THREADED_EIGHTHS override the variant's bounds of
     * the one-thread and the four-thread child (a backout build's looser ones; eighths 0: the
     * four-thread child printed only). */
    const char *q = getenv("HAKMEM_REUSE_QUARTERS");
    long quarters = q ? atol(q) : REUSE_QUARTERS;
    const char *te = getenv("HAKMEM_REUSE_THREADED_EIGHTHS");
    long eighths = te ? atol(te) : REUSE_CHECK_THREADED ? REUSE_THREADED_EIGHTHS : 0;
    long bound = threads ? (long)N * MIB * 1024 / 8 * eighths : (long)N * MIB * 1024 / 4 * quarters;
    if (hk && expect_takeover == 1 && (!threads || eighths > 0)) CHECK(worst < bound);
    if (hk && expect_takeover == 0) CHECK(worst > (long)N * MIB * 1024 / 2);
    exit(0);
}

int main(void) {
    hk = expect_allocator();
    const char *e = getenv("HAKMEM_EXPECT_TAKEOVER");
    expect_takeover = e ? e[0] == '1' : -1;
    pthread_t th[N];
    for (int t = 0; t < N; t++) {
        blocks[t] = mmap(NULL, MAXB * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        CHECK(blocks[t] != MAP_FAILED);
    }
    CHECK(pthread_barrier_init(&ready, NULL, N + 1) == 0);
    CHECK(pthread_barrier_init(&done, NULL, N + 1) == 0);
    for (int t = 0; t < N; t++) CHECK(pthread_create(&th[t], NULL, worker, (void *)(long)t) == 0);
    pthread_barrier_wait(&ready);
    for (int threads = 0; threads < 2; threads++) {
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) child(threads);
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    pthread_barrier_wait(&done);
    for (int t = 0; t < N; t++) CHECK(pthread_join(th[t], NULL) == 0);
    printf("OK %s\n", REUSE_NAME);
    return 0;
}
