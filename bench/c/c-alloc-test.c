/* c-alloc-test: after the alloc-testN rows of public allocator suites. Every thread runs
 * steps that each allocate one block of a random size, 8 B .. 4 KiB (skewed to small), with
 * one of three lifetimes: short (a ring of 64 slots: freed 64 steps later, in allocation
 * order), medium (1024 slots replaced at random) or long (8192 slots, of which a random one is
 * replaced; a slot lives ~40,000 steps). The three pools' blocks interleave in the heap, so
 * short-lived blocks are freed among long-lived ones. */
#include "common.h"

#define SHORT 64
#define MEDIUM 1024
#define LONG 8192

typedef struct {
    void *p;
    size_t size;
    uint64_t tag;
} slot_t;

typedef worker_arg_t arg_t;

static void put(slot_t *s, size_t size, uint64_t tag) {
    if (s->p) {
        check("c-alloc-test", s->p, s->size, s->tag);
        free(s->p);
    }
    s->p = xmalloc(size);
    s->size = size;
    s->tag = tag;
    stamp(s->p, size, tag);
}

static void *worker(void *a_) {
    arg_t *a = a_;
    slot_t *pool = calloc(SHORT + MEDIUM + LONG, sizeof(slot_t));
    if (!pool) FAIL("calloc of the slot pool failed");
    slot_t *shorts = pool, *mediums = pool + SHORT, *longs = pool + SHORT + MEDIUM;
    uint64_t rng = 0xA110C + (uint64_t)a->id * 0xA0761D6478BD642Full;
    size_t ring = 0;
    for (size_t i = 0; i < a->steps; i++) {
        size_t size = rng_log_size(&rng, 8, 4096);
        uint64_t tag = mix64(((uint64_t)a->id << 48) ^ i);
        size_t pick = rng_below(&rng, 100);
        slot_t *s;
        if (pick < 75) {
            s = &shorts[ring];
            ring = (ring + 1) % SHORT;
        } else if (pick < 95) {
            s = &mediums[rng_below(&rng, MEDIUM)];
        } else {
            s = &longs[rng_below(&rng, LONG)];
        }
        put(s, size, tag);
        if (a->p->inject_fault && a->id == 0 && i == 7) ((unsigned char *)s->p)[0] ^= 1;
        a->ops++;
        a->sum += size;
    }
    for (size_t k = 0; k < SHORT + MEDIUM + LONG; k++) {
        if (pool[k].p) {
            check("c-alloc-test", pool[k].p, pool[k].size, pool[k].tag);
            free(pool[k].p);
        }
    }
    free(pool);
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    return run_workers("c-alloc-test", &p, worker, 8000000.0);
}
