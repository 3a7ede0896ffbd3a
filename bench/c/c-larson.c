/* c-larson: after Larson & Krishnan's server simulation. Each thread owns 1000 slots of
 * blocks of 8..1000 bytes and replaces random ones; each generation of threads exits and
 * hands its slot array to a thread of the next generation, so blocks are freed by a thread
 * other than the one that allocated them. */
#include "common.h"

#define SLOTS 1000
#define REPLACES 60000

typedef struct {
    void *p;
    size_t size;
    uint64_t tag;
} slot_t;

typedef struct {
    const params_t *p;
    slot_t *slots;
    int me, inject;
    uint64_t sum;
} arg_t;

static void *worker(void *a_) {
    arg_t *a = a_;
    uint64_t rng = 0x5EED ^ ((uint64_t)a->me * 0xA0761D6478BD642Full);
    for (size_t i = 0; i < REPLACES; i++) {
        slot_t *s = &a->slots[rng_below(&rng, SLOTS)];
        size_t size = rng_range(&rng, 8, 1000);
        void *n = xmalloc(size);
        uint64_t tag = mix64(((uint64_t)a->me << 40) ^ i);
        stamp(n, size, tag);
        check("c-larson", s->p, s->size, s->tag);
        free(s->p);
        *s = (slot_t){n, size, tag};
        a->sum += size;
    }
    if (a->inject) ((unsigned char *)a->slots[0].p)[0] ^= 1;
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    int T = p.threads;
    size_t generations = scaled(&p, 60);
    if (generations < 2) generations = 2;
    slot_t *arrays[T];
    uint64_t sum = 0, ops = 0, rng = 0x1A;
    uint64_t start = now_ns();
    for (int t = 0; t < T; t++) {
        arrays[t] = xmalloc(sizeof(slot_t) * SLOTS);
        for (int i = 0; i < SLOTS; i++) {
            size_t size = rng_range(&rng, 8, 1000);
            arrays[t][i] = (slot_t){xmalloc(size), size, mix64((uint64_t)(t * SLOTS + i))};
            stamp(arrays[t][i].p, size, arrays[t][i].tag);
            sum += size;
            ops++;
        }
    }
    for (size_t g = 0; g < generations; g++) {
        pthread_t th[T];
        arg_t args[T];
        slot_t *first = arrays[0];
        for (int t = 0; t < T; t++) arrays[t] = t + 1 < T ? arrays[t + 1] : first;
        for (int t = 0; t < T; t++) {
            args[t] = (arg_t){&p, arrays[t], (int)g * T + t, p.inject_fault && g == 0 && t == 0, 0};
            if (pthread_create(&th[t], NULL, worker, &args[t])) FAIL("pthread_create failed");
        }
        for (int t = 0; t < T; t++) {
            pthread_join(th[t], NULL);
            sum += args[t].sum;
            ops += REPLACES;
        }
    }
    for (int t = 0; t < T; t++) {
        for (int i = 0; i < SLOTS; i++) {
            check("c-larson", arrays[t][i].p, arrays[t][i].size, arrays[t][i].tag);
            free(arrays[t][i].p);
        }
        free(arrays[t]);
    }
    report("c-larson", &p, now_ns() - start, ops, sum);
    return 0;
}
