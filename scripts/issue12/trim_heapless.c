/* Issue 12.1 from outside: one thread that never allocates calls malloc_trim(0) in a loop while
 * consumer threads free blocks produced by threads that have exited. Half the consumers free them
 * from a pthread key destructor that runs after the allocator's own thread-exit hook (the key is
 * created after the allocator's first heap), so those frees come from threads without a heap.
 * A correct allocator never aborts here (the program never frees a block twice). Exit 0 on
 * success. */
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS 60
#define PRODUCERS 4
#define CONSUMERS 3
#define PER 2000

static void *blocks[PRODUCERS][PER];
static atomic_int stop;

static void *producer(void *arg) {
    void **out = arg;
    for (int i = 0; i < PER; i++) {
        size_t n = 16 + (size_t)(i * 37) % 900;
        out[i] = malloc(n);
        if (!out[i]) abort();
        memset(out[i], i & 0xff, n);
    }
    return NULL;
}

struct job { void **v; int from, to, late; };

static pthread_key_t late_key, trim_key;

static void free_job(struct job *j) {
    for (int i = j->from; i < j->to; i++) free(j->v[i]);
}

static void late_free(void *arg) { free_job(arg); }

static void *consumer(void *arg) {
    struct job *j = arg;
    if (j->late) {
        /* a heap first (and the allocator's exit hook), then the frees after that hook */
        free(malloc(16));
        pthread_setspecific(late_key, j);
    } else {
        free_job(j);
    }
    return NULL;
}

static void trim_loop(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) malloc_trim(0);
}

/* Trims from its own key destructor, past the allocator's exit hook: without a heap, like the
 * late consumers (so that a trim acting under the heapless threads' shared identity would let
 * their frees through). */
static void *trimmer(void *arg) {
    (void)arg;
    free(malloc(16));
    pthread_setspecific(trim_key, (void *)1);
    return NULL;
}

int main(void) {
    free(malloc(16));
    if (pthread_key_create(&late_key, late_free)) abort();
    if (pthread_key_create(&trim_key, trim_loop)) abort();
    pthread_t tr;
    if (pthread_create(&tr, NULL, trimmer, NULL)) abort();
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t p[PRODUCERS], c[CONSUMERS * PRODUCERS];
        struct job jobs[CONSUMERS * PRODUCERS];
        for (int i = 0; i < PRODUCERS; i++) pthread_create(&p[i], NULL, producer, blocks[i]);
        for (int i = 0; i < PRODUCERS; i++) pthread_join(p[i], NULL);
        for (int i = 0; i < PRODUCERS; i++)
            for (int k = 0; k < CONSUMERS; k++) {
                struct job *j = &jobs[i * CONSUMERS + k];
                j->v = blocks[i];
                j->from = PER * k / CONSUMERS;
                j->to = PER * (k + 1) / CONSUMERS;
                j->late = (i + k) % 2;
                pthread_create(&c[i * CONSUMERS + k], NULL, consumer, j);
            }
        for (int i = 0; i < CONSUMERS * PRODUCERS; i++) pthread_join(c[i], NULL);
    }
    atomic_store(&stop, 1);
    pthread_join(tr, NULL);
    puts("ok");
    return 0;
}
