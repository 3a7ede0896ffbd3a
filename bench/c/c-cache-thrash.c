/* c-cache-thrash: after Hoard's cache-thrash and cache-scratch. Every thread allocates one
 * small block (24-64 B) at a time, writes it many times over and frees it, so two threads'
 * blocks that share a cache line (active false sharing: the allocator handed neighbouring
 * blocks to different threads) make every write a coherence miss. Each thread starts by freeing
 * a block the main thread allocated beside the other threads' first blocks (passive false
 * sharing: an allocator that reuses a freed block for the freeing thread hands it a shared
 * line). */
#include "common.h"

#define WRITES 64 /* passes over the block per allocation */

typedef struct {
    const params_t *p;
    int id;
    size_t steps;
    void *first;
    size_t first_size;
    uint64_t first_tag;
    uint64_t ops, sum;
} arg_t;

static void *worker(void *a_) {
    arg_t *a = a_;
    check("c-cache-thrash", a->first, a->first_size, a->first_tag);
    free(a->first);
    uint64_t rng = 0x7A5 + (uint64_t)a->id * 0xA0761D6478BD642Full;
    for (size_t i = 0; i < a->steps; i++) {
        size_t size = rng_range(&rng, 24, 64) & ~(size_t)7;
        unsigned char *b = xmalloc(size);
        uint64_t tag = mix64(((uint64_t)a->id << 48) ^ i);
        stamp(b, size, tag);
        /* The passes write the words between the stamp's head and tail, each a store to the
         * block's line (volatile: none may be elided, as in the original); the check after them
         * sees whether anything else wrote the block meanwhile. */
        volatile unsigned char *v = b;
        for (int w = 0; w < WRITES; w++)
            for (size_t k = 8; k + 8 < size; k += 8) v[k] = (unsigned char)(w + k);
        if (a->p->inject_fault && a->id == 0 && i == 3) b[0] ^= 1;
        check("c-cache-thrash", b, size, tag);
        a->sum += size + b[8];
        free(b);
        a->ops++;
    }
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    int T = p.threads;
    pthread_t th[T];
    arg_t args[T];
    uint64_t start = now_ns();
    /* The first blocks, allocated back to back by this thread: neighbours in one line. */
    for (int t = 0; t < T; t++) {
        size_t size = 8;
        args[t] = (arg_t){&p, t, scaled(&p, 3000000.0 / T), xmalloc(size), size,
                          mix64(0xF1257 ^ (uint64_t)t), 0, 0};
        stamp(args[t].first, size, args[t].first_tag);
    }
    for (int t = 0; t < T; t++)
        if (pthread_create(&th[t], NULL, worker, &args[t])) FAIL("pthread_create failed");
    uint64_t ops = 0, sum = 0;
    for (int t = 0; t < T; t++) {
        pthread_join(th[t], NULL);
        ops += args[t].ops;
        sum += args[t].sum;
    }
    report("c-cache-thrash", &p, now_ns() - start, ops, sum);
    return 0;
}
