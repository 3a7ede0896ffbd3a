/* c-xmalloc: after Lever & Boreham's xmalloc-test. Producer threads allocate blocks and pass
 * them in batches of 128 through a bounded queue to consumer threads, which check and free
 * them: every free is remote. threads/2 producer-consumer pairs, at least one. */
#include "common.h"

#define BATCH 128
#define QCAP 16

typedef struct {
    void *p[BATCH];
    size_t size[BATCH];
    uint64_t tag[BATCH];
} batch_t;

typedef struct {
    pthread_mutex_t m;
    pthread_cond_t not_empty, not_full;
    batch_t *q[QCAP];
    size_t head, len;
    const params_t *p;
    int pair;
    size_t batches;
    uint64_t ops, sum;
} pair_t;

static void push(pair_t *q, batch_t *b) {
    pthread_mutex_lock(&q->m);
    while (q->len == QCAP) pthread_cond_wait(&q->not_full, &q->m);
    q->q[(q->head + q->len++) % QCAP] = b;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->m);
}

static batch_t *pop(pair_t *q) {
    pthread_mutex_lock(&q->m);
    while (q->len == 0) pthread_cond_wait(&q->not_empty, &q->m);
    batch_t *b = q->q[q->head];
    q->head = (q->head + 1) % QCAP;
    q->len--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->m);
    return b;
}

static void *producer(void *a) {
    pair_t *q = a;
    uint64_t rng = 0x5EED + (uint64_t)q->pair, seq = 0;
    for (size_t n = 0; n < q->batches; n++) {
        batch_t *b = xmalloc(sizeof *b);
        for (int i = 0; i < BATCH; i++) {
            size_t size = rng_log_size(&rng, 8, 512);
            b->p[i] = xmalloc(size);
            b->size[i] = size;
            b->tag[i] = mix64(((uint64_t)q->pair << 48) ^ seq++);
            stamp(b->p[i], size, b->tag[i]);
            q->sum += size;
        }
        if (q->p->inject_fault && q->pair == 0 && n == 0) ((unsigned char *)b->p[7])[0] ^= 1;
        q->ops += BATCH;
        push(q, b);
    }
    push(q, NULL);
    return NULL;
}

static void *consumer(void *a) {
    pair_t *q = a;
    batch_t *b;
    while ((b = pop(q))) {
        for (int i = 0; i < BATCH; i++) {
            check("c-xmalloc", b->p[i], b->size[i], b->tag[i]);
            free(b->p[i]);
        }
        free(b);
    }
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    int pairs = p.threads / 2 > 0 ? p.threads / 2 : 1;
    pair_t *q = calloc((size_t)pairs, sizeof *q);
    pthread_t prod[pairs], cons[pairs];
    uint64_t start = now_ns();
    for (int i = 0; i < pairs; i++) {
        pthread_mutex_init(&q[i].m, NULL);
        pthread_cond_init(&q[i].not_empty, NULL);
        pthread_cond_init(&q[i].not_full, NULL);
        q[i].p = &p;
        q[i].pair = i;
        q[i].batches = scaled(&p, 2000000.0 / pairs) / BATCH + 1;
        if (pthread_create(&prod[i], NULL, producer, &q[i]) ||
            pthread_create(&cons[i], NULL, consumer, &q[i]))
            FAIL("pthread_create failed");
    }
    uint64_t ops = 0, sum = 0;
    for (int i = 0; i < pairs; i++) {
        pthread_join(prod[i], NULL);
        pthread_join(cons[i], NULL);
        ops += q[i].ops;
        sum += q[i].sum;
    }
    free(q);
    report("c-xmalloc", &p, now_ns() - start, ops, sum);
    return 0;
}
