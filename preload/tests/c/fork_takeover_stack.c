/* The fork takeover's stack depth (docs/design.md, "Stack depth" and "A forked child and the
 * parent's other threads' heaps"): a forked child's first small refill flushes the parent's other
 * threads' heaps (thread::take_over_dead_heaps, small::flush and medium::flush with publish) on
 * the caller's stack. Four parent threads allocate small and medium blocks, free three quarters
 * of them (partial slabs, free spans and remote frees to their neighbours' slabs), and park on a
 * barrier (quiet heaps, taken over); the main thread forks three children; each paints 16 KiB
 * below its frame, mallocs a size the main thread never asked for (a small refill, a medium
 * refill, a large block: the takeover runs there) and checks that the deepest overwritten word
 * lies within 2,048 bytes of the caller's frame (on hakmem; glibc: printed only). */
#include "common.h"

#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAINT 0x5a5a5a5a5a5a5a5aull
#define T 4
#define NB 4000

static pthread_barrier_t made, done;
static void *blocks[T][NB];

static void *worker(void *arg) {
    long t = (long)arg;
    for (int i = 0; i < NB; i++) {
        size_t sz = (i % 64 == 63) ? 40000 + 30000 * (i % 5)
                    : (i % 8 == 7) ? 20000 + 1000 * (i % 5) : 16 + 16 * (i % 40);
        blocks[t][i] = malloc(sz);
        CHECK(blocks[t][i] != NULL);
        memset(blocks[t][i], 1, 16);
    }
    for (int i = 0; i < NB; i++)
        if (i % 4 != 0) free(blocks[t][i]);
    pthread_barrier_wait(&made);
    /* Remote frees: a quarter of the previous thread's kept blocks. */
    long o = (t + T - 1) % T;
    for (int i = 0; i < NB; i += 16) free(blocks[o][i]);
    pthread_barrier_wait(&made);
    pthread_barrier_wait(&done);
    return 0;
}

static void *volatile sink;

/* Paints 16 KiB from 256 bytes below this frame, mallocs `size`, returns how far below this
 * frame the deepest write reached (256 when it stayed above the painted area). */
static __attribute__((noinline)) size_t measure(size_t size) {
    char *here = __builtin_frame_address(0);
    volatile uint64_t *hi = (uint64_t *)(((uintptr_t)here - 256) & ~(uintptr_t)7);
    volatile uint64_t *lo = hi - 16384 / 8;
    for (volatile uint64_t *w = lo; w < hi; w++) *w = PAINT;
    sink = malloc(size);
    volatile uint64_t *w = lo;
    while (w < hi && *w == PAINT) w++;
    return (size_t)(here - (char *)w);
}

int main(void) {
    int hk = expect_allocator();
    pthread_t th[T];
    CHECK(pthread_barrier_init(&made, 0, T + 1) == 0);
    CHECK(pthread_barrier_init(&done, 0, T + 1) == 0);
    for (long t = 0; t < T; t++) CHECK(pthread_create(&th[t], 0, worker, (void *)t) == 0);
    pthread_barrier_wait(&made);
    pthread_barrier_wait(&made);
    usleep(20000); /* the workers park in the barrier: their heaps are quiet */
    size_t parent = measure(2000);
    /* The child's first request of each kind starts the takeover: a small refill, a medium
     * refill (a class the main thread never used), a large block (session 22). */
    static const size_t first[] = {1500, 100000, 8u << 20};
    static const char *what[] = {"small refill", "medium refill", "large block"};
    for (int k = 0; k < 3; k++) {
        pid_t p = fork();
        CHECK(p >= 0);
        if (p == 0) {
            size_t child = measure(first[k]);
            printf("fork_takeover_stack: child's first %s %zu bytes, parent's small refill %zu\n",
                   what[k], child, parent);
            fflush(stdout);
            _exit(hk && child > 2048 ? 1 : 0);
        }
        int st;
        CHECK(waitpid(p, &st, 0) == p);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    pthread_barrier_wait(&done);
    for (int t = 0; t < T; t++) pthread_join(th[t], 0);
    printf("OK fork_takeover_stack\n");
    return 0;
}
