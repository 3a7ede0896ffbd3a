/* c-large-churn: as the Rust workload large-churn. 20 live blocks of 5-25 MiB (log-spread)
 * replaced round-robin: free one, allocate one, touch its ends (the stamp). */
#include "common.h"

#define LIVE 20
#define MIN_SIZE (5u << 20)
#define MAX_SIZE (25u << 20)
#define REPLACES 20000.0

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    void *live[LIVE];
    size_t sizes[LIVE];
    uint64_t tags[LIVE];
    uint64_t rng = 0xC4, ops = 0, sum = 0, start = now_ns();
    size_t replaces = scaled(&p, REPLACES);
    for (size_t i = 0; i < LIVE + replaces; i++) {
        size_t slot = i % LIVE;
        if (i >= LIVE) {
            check("c-large-churn", live[slot], sizes[slot], tags[slot]);
            free(live[slot]);
        }
        size_t size = rng_log_size(&rng, MIN_SIZE, MAX_SIZE);
        live[slot] = xmalloc(size);
        sizes[slot] = size;
        tags[slot] = mix64(i ^ ((uint64_t)size << 20));
        stamp(live[slot], size, tags[slot]);
        if (p.inject_fault && i == LIVE + 3) ((unsigned char *)live[slot])[0] ^= 1;
        ops++;
        sum += size;
    }
    for (size_t s = 0; s < LIVE; s++) {
        check("c-large-churn", live[s], sizes[s], tags[s]);
        free(live[s]);
    }
    report("c-large-churn", &p, now_ns() - start, ops, sum);
    return 0;
}
