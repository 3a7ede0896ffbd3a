/* c-thread: after glibc's bench-malloc-thread. Every thread keeps a working set of 1000
 * blocks and replaces a random one per step; sizes 4 B .. 32 KiB, log-uniform. */
#include "common.h"

#define WORKING_SET 1000

typedef worker_arg_t arg_t;

static void *worker(void *a_) {
    arg_t *a = a_;
    static __thread void *set[WORKING_SET];
    static __thread size_t sizes[WORKING_SET];
    static __thread uint64_t tags[WORKING_SET];
    uint64_t rng = 0x5EED + (uint64_t)a->id * 0xA0761D6478BD642Full;
    for (size_t i = 0; i < a->steps; i++) {
        size_t slot = rng_below(&rng, WORKING_SET);
        size_t size = rng_log_size(&rng, 4, 32 << 10);
        if (set[slot]) {
            check("c-thread", set[slot], sizes[slot], tags[slot]);
            free(set[slot]);
        }
        set[slot] = xmalloc(size);
        sizes[slot] = size;
        tags[slot] = mix64(((uint64_t)a->id << 48) ^ i);
        stamp(set[slot], size, tags[slot]);
        if (a->p->inject_fault && a->id == 0 && i == 5) ((unsigned char *)set[slot])[0] ^= 1;
        a->ops++;
        a->sum += size;
    }
    for (size_t s = 0; s < WORKING_SET; s++) {
        if (set[s]) {
            check("c-thread", set[s], sizes[s], tags[s]);
            free(set[s]);
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    return run_workers("c-thread", &p, worker, 2500000.0);
}
