/* c-mixed-stress: after the public multithreaded stress tests (mimalloc's test-stress,
 * mimalloc-bench's mstress and xmalloc-test), as the Rust workload mixed-stress. Threads
 * allocate blocks whose sizes are spread evenly over the powers of two from 16 B to 32 KiB,
 * 1% of them 100x larger (up to 3.2 MiB); each keeps a working set replaced at random and swaps
 * blocks with a shared transfer array by atomic exchange, so blocks are freed by whichever
 * thread takes them; every round the threads are joined and new ones created. Every block
 * carries its size and tag in a header written by its allocator and is stamped at head and
 * tail; whoever frees it checks them. */
#include "common.h"

#define ROUNDS 10
#define STEPS 40000
#define WORKING_SET 500
#define TRANSFERS 1000

/* A block: [size, tag] then the stamped payload. */
typedef struct {
    size_t size;
    uint64_t tag;
} head_t;

static head_t *_Atomic transfer[TRANSFERS];

typedef struct {
    const params_t *p;
    int id;
    size_t steps;
    uint64_t ops, sum;
} arg_t;

static head_t *make(size_t size, uint64_t tag) {
    head_t *h = xmalloc(sizeof(head_t) + size);
    h->size = size;
    h->tag = tag;
    stamp(h + 1, size, tag);
    return h;
}

static void drop(head_t *h) {
    if (!h) return;
    if (h->size < 16 || h->size > (32u << 10) * 100)
        FAIL("c-mixed-stress: block %p has a corrupted size %zu", (void *)h, h->size);
    check("c-mixed-stress", h + 1, h->size, h->tag);
    free(h);
}

static void *worker(void *a_) {
    arg_t *a = a_;
    head_t *live[WORKING_SET] = {0};
    uint64_t rng = 0x5752 + (uint64_t)a->id * 0xA0761D6478BD642Full;
    for (size_t i = 0; i < a->steps; i++) {
        size_t size = rng_log_size(&rng, 16, 32 << 10);
        if (rng_below(&rng, 100) == 0) size *= 100;
        size_t slot = rng_below(&rng, WORKING_SET);
        int swap = rng_below(&rng, 100) < 25;
        size_t to = rng_below(&rng, TRANSFERS);
        head_t *b = make(size, mix64(((uint64_t)a->id << 48) ^ i ^ ((uint64_t)size << 20)));
        if (a->p->inject_fault && a->id == 0 && i == 10) ((unsigned char *)(b + 1))[0] ^= 1;
        a->ops++;
        a->sum += size;
        drop(live[slot]);
        live[slot] = b;
        if (swap) live[slot] = __atomic_exchange_n(&transfer[to], live[slot], __ATOMIC_ACQ_REL);
    }
    for (size_t s = 0; s < WORKING_SET; s++) drop(live[s]);
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    pthread_t th[p.threads];
    arg_t args[p.threads];
    uint64_t ops = 0, sum = 0, start = now_ns();
    for (int r = 0; r < ROUNDS; r++) {
        for (int t = 0; t < p.threads; t++) {
            args[t] = (arg_t){&p, r * p.threads + t, scaled(&p, STEPS), 0, 0};
            if (pthread_create(&th[t], NULL, worker, &args[t])) FAIL("pthread_create failed");
        }
        for (int t = 0; t < p.threads; t++) {
            pthread_join(th[t], NULL);
            ops += args[t].ops;
            sum += args[t].sum;
        }
    }
    for (size_t s = 0; s < TRANSFERS; s++) drop(__atomic_exchange_n(&transfer[s], NULL, __ATOMIC_ACQUIRE));
    report("c-mixed-stress", &p, now_ns() - start, ops, sum);
    return 0;
}
