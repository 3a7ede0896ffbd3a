/* xmalloc-test: the pattern of mimalloc-bench's xmalloc-test (Lever & Boreham), run as
 * `xmalloc-test WORKERS SECONDS SIZE` (mimalloc-bench: -w N -t 5 -s 64). WORKERS producer
 * threads malloc batches of 4096 objects of SIZE bytes (SIZE -1: sizes from 8 to 2048), write
 * the first 128 bytes of each, and push each batch (itself a 32 KiB + 8 B block) on one global
 * mutex-protected stack of at most 100 batches; WORKERS consumer threads pop batches and free
 * every object and the batch. Prints frees per second in wall time, as the original does.
 * Written for hakmem's throughput table (docs/benchmarks.md); not the original's code. */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"

#define PER_BATCH 4096
#define LIMIT 100

typedef struct batch {
    struct batch *next;
    void *obj[PER_BATCH];
} batch_t;

static batch_t *stack;
static int depth;
static volatile int done;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER, not_full = PTHREAD_COND_INITIALIZER;
static long object_size;
static long freed[64][8];

static const long sizes[] = {8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048};

static void *producer(void *arg) {
    unsigned long long rng = (unsigned long long)(long)arg * 0x9E3779B97F4A7C15ull + 7;
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        batch_t *b = malloc(sizeof *b);
        for (int i = 0; i < PER_BATCH; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            size_t s = object_size > 0 ? (size_t)object_size : (size_t)sizes[rng % 17];
            b->obj[i] = malloc(s);
            memset(b->obj[i], i & 255, s > 128 ? 128 : s);
        }
        pthread_mutex_lock(&lock);
        while (depth >= LIMIT && !done) pthread_cond_wait(&not_full, &lock);
        b->next = stack;
        stack = b;
        depth++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

static void *consumer(void *arg) {
    long me = (long)arg;
    while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&lock);
        while (!stack && !done) pthread_cond_wait(&not_empty, &lock);
        batch_t *b = stack;
        if (b) {
            stack = b->next;
            depth--;
            pthread_cond_signal(&not_full);
        }
        pthread_mutex_unlock(&lock);
        if (b) {
            for (int i = 0; i < PER_BATCH; i++) free(b->obj[i]);
            free(b);
            freed[me][0] += PER_BATCH;
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    int workers = argc > 1 ? atoi(argv[1]) : 2;
    double seconds = argc > 2 ? atof(argv[2]) : 5;
    object_size = argc > 3 ? atol(argv[3]) : 64;
    if (workers < 1 || workers > 64) return 1;
    pthread_t th[128];
    double start = now();
    for (long i = 0; i < workers; i++) {
        pthread_create(&th[2 * i], NULL, consumer, (void *)i);
        pthread_create(&th[2 * i + 1], NULL, producer, (void *)i);
    }
    while (now() - start < seconds) usleep(1000);
    pthread_mutex_lock(&lock);
    __atomic_store_n(&done, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&not_empty);
    pthread_cond_broadcast(&not_full);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 2 * workers; i++) pthread_join(th[i], NULL);
    double wall = now() - start;
    long total = 0;
    for (int i = 0; i < workers; i++) total += freed[i][0];
    while (stack) {
        batch_t *b = stack;
        stack = b->next;
        for (int i = 0; i < PER_BATCH; i++) free(b->obj[i]);
        free(b);
    }
    double c = cpu();
    printf("xmalloc-test workers=%d ops_per_s=%.0f ops_per_cpu_s=%.0f\n", workers, (double)total / wall, (double)total / c);
    return 0;
}
