/* Multi-threaded malloc/calloc/realloc/free with content checks:
 * - 8 workers each run a random mix of allocations, reallocs and frees over a private table;
 * - 4 producer/consumer pairs pass blocks through a bounded queue, so every block is freed by a
 *   thread that did not allocate it (remote frees), and some are realloc'ed there first;
 * - thread exit: pthread key destructors (two rounds) and an exit handler allocate and free after
 *   the thread's own teardown may already have run. */
#include "common.h"

#include <pthread.h>

#define WORKERS 8
#define OPS 60000
#define SLOTS 512

static void *worker(void *arg) {
    uint32_t seed = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    static __thread void *slot[SLOTS];
    static __thread size_t len[SLOTS];
    static __thread uint32_t tag[SLOTS];
    for (int op = 0; op < OPS; op++) {
        uint32_t r = rnd(&seed);
        int i = (int)(r % SLOTS);
        if (slot[i]) {
            CHECK(check_fill(slot[i], len[i], tag[i]));
            if (r & 0x100) {
                size_t n = (r >> 12) % ((r & 0x3e00) == 0x3e00 ? 70000 : 700);
                unsigned char *q = realloc(slot[i], n);
                CHECK(q || n == 0);
                size_t keep = len[i] < n ? len[i] : n;
                if (q) CHECK(check_fill(q, keep, tag[i]));
                slot[i] = q;
                len[i] = n;
                if (q) fill(q, n, tag[i]);
            } else {
                free(slot[i]);
                slot[i] = NULL;
            }
        } else {
            size_t n = (r >> 12) % ((r & 0x7c00) == 0x7c00 ? 40000 : 400);
            void *p = (r & 0x800) ? calloc(1, n) : malloc(n);
            CHECK(p);
            if (r & 0x800)
                for (size_t k = 0; k < n; k++) CHECK(((unsigned char *)p)[k] == 0);
            slot[i] = p;
            len[i] = n;
            tag[i] = r;
            fill(p, n, r);
        }
    }
    for (int i = 0; i < SLOTS; i++) {
        if (slot[i]) CHECK(check_fill(slot[i], len[i], tag[i]));
        free(slot[i]);
        slot[i] = NULL;
    }
    return NULL;
}

/* A bounded queue of (pointer, size, tag). */
#define QCAP 256
struct item {
    void *p;
    size_t n;
    uint32_t tag;
};
struct queue {
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full;
    struct item buf[QCAP];
    int head, count, done;
};
#define PAIRS 4
#define ITEMS 40000
static struct queue queues[PAIRS];

static void *producer(void *arg) {
    struct queue *q = arg;
    uint32_t seed = (uint32_t)(q - queues) + 99;
    for (int i = 0; i < ITEMS; i++) {
        uint32_t r = rnd(&seed);
        size_t n = (r % 64 == 0) ? 1000 + r % 100000 : 1 + r % 600;
        void *p = malloc(n);
        CHECK(p);
        fill(p, n, r);
        pthread_mutex_lock(&q->mu);
        while (q->count == QCAP) pthread_cond_wait(&q->not_full, &q->mu);
        q->buf[(q->head + q->count) % QCAP] = (struct item){p, n, r};
        q->count++;
        pthread_cond_signal(&q->not_empty);
        pthread_mutex_unlock(&q->mu);
    }
    pthread_mutex_lock(&q->mu);
    q->done = 1;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

static void *consumer(void *arg) {
    struct queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (q->count == 0 && !q->done) pthread_cond_wait(&q->not_empty, &q->mu);
        if (q->count == 0 && q->done) {
            pthread_mutex_unlock(&q->mu);
            return NULL;
        }
        struct item it = q->buf[q->head];
        q->head = (q->head + 1) % QCAP;
        q->count--;
        pthread_cond_signal(&q->not_full);
        pthread_mutex_unlock(&q->mu);
        CHECK(check_fill(it.p, it.n, it.tag));
        if (it.tag & 1) {
            /* realloc of a block another thread allocated */
            unsigned char *r = realloc(it.p, it.n * 2);
            CHECK(r && check_fill(r, it.n, it.tag));
            it.p = r;
        }
        free(it.p);
    }
}

/* Thread exit: key destructors that allocate and free, over two destructor rounds. */
static pthread_key_t key_a, key_b;
static void dtor_b(void *v) {
    CHECK(check_fill(v, 300, 8));
    free(v);
    void *p = malloc(5000); /* may run after hakmem's own exit hook */
    CHECK(p);
    fill(p, 5000, 1);
    free(p);
}
static void dtor_a(void *v) {
    CHECK(check_fill(v, 100, 7));
    free(v);
    void *again = malloc(300);
    CHECK(again);
    fill(again, 300, 8);
    pthread_setspecific(key_b, again); /* runs in the next destructor round */
}
static void *exiting(void *arg) {
    (void)arg;
    void *p = malloc(100);
    CHECK(p);
    fill(p, 100, 7);
    pthread_setspecific(key_a, p);
    void *keep = malloc(64); /* freed by the main thread after this thread is gone */
    CHECK(keep);
    fill(keep, 64, 9);
    return keep;
}

int main(void) {
    expect_allocator();
    pthread_t t[WORKERS], pr[PAIRS], co[PAIRS];
    for (int i = 0; i < WORKERS; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0);
    for (int i = 0; i < PAIRS; i++) {
        pthread_mutex_init(&queues[i].mu, NULL);
        pthread_cond_init(&queues[i].not_empty, NULL);
        pthread_cond_init(&queues[i].not_full, NULL);
        CHECK(pthread_create(&pr[i], NULL, producer, &queues[i]) == 0);
        CHECK(pthread_create(&co[i], NULL, consumer, &queues[i]) == 0);
    }
    for (int i = 0; i < WORKERS; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < PAIRS; i++) {
        pthread_join(pr[i], NULL);
        pthread_join(co[i], NULL);
    }

    CHECK(pthread_key_create(&key_b, dtor_b) == 0);
    CHECK(pthread_key_create(&key_a, dtor_a) == 0);
    for (int round = 0; round < 50; round++) {
        pthread_t e[4];
        void *kept[4];
        for (int i = 0; i < 4; i++) CHECK(pthread_create(&e[i], NULL, exiting, NULL) == 0);
        for (int i = 0; i < 4; i++) {
            pthread_join(e[i], &kept[i]);
            CHECK(check_fill(kept[i], 64, 9));
            free(kept[i]);
        }
    }
    printf("OK threads\n");
    return 0;
}
