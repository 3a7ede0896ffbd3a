/* c-medium-churn: as the Rust workload medium-churn. A live set of 16-64 blocks of
 * 32 KiB-1 MiB (log-spread sizes) replaced round-robin: free one, allocate one, touch its ends
 * (the stamp). One thread; c-medium-churn-mt runs the same on every worker thread. */
#include "common.h"

#ifndef CHURN_NAME
#define CHURN_NAME "c-medium-churn"
#define CHURN_MT 0
#endif
#define LIVE_MIN 16
#define LIVE_MAX 64
#define MIN_SIZE (32u << 10)
#define MAX_SIZE (1u << 20)
#define REPLACES 100000.0

typedef struct {
    const params_t *p;
    int id;
    uint64_t ops, sum;
} arg_t;

static void *worker(void *a_) {
    arg_t *a = a_;
    void *live[LIVE_MAX];
    size_t sizes[LIVE_MAX];
    uint64_t tags[LIVE_MAX];
    uint64_t rng = 0xC4 + (uint64_t)a->id * 0xA0761D6478BD642Full;
    size_t n = rng_range(&rng, LIVE_MIN, LIVE_MAX), replaces = scaled(a->p, REPLACES);
    for (size_t i = 0; i < n + replaces; i++) {
        size_t slot = i % n;
        if (i >= n) {
            check(CHURN_NAME, live[slot], sizes[slot], tags[slot]);
            free(live[slot]);
        }
        size_t size = rng_log_size(&rng, MIN_SIZE, MAX_SIZE);
        live[slot] = xmalloc(size);
        sizes[slot] = size;
        tags[slot] = mix64(((uint64_t)a->id << 48) ^ i);
        stamp(live[slot], size, tags[slot]);
        if (a->p->inject_fault && a->id == 0 && i == n + 3) ((unsigned char *)live[slot])[0] ^= 1;
        a->ops++;
        a->sum += size;
    }
    for (size_t s = 0; s < n; s++) {
        check(CHURN_NAME, live[s], sizes[s], tags[s]);
        free(live[s]);
    }
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    int threads = CHURN_MT ? p.threads : 1;
    pthread_t th[threads];
    arg_t args[threads];
    uint64_t ops = 0, sum = 0, start = now_ns();
    for (int t = 0; t < threads; t++) {
        args[t] = (arg_t){&p, t, 0, 0};
        if (pthread_create(&th[t], NULL, worker, &args[t])) FAIL("pthread_create failed");
    }
    for (int t = 0; t < threads; t++) {
        pthread_join(th[t], NULL);
        ops += args[t].ops;
        sum += args[t].sum;
    }
    report(CHURN_NAME, &p, now_ns() - start, ops, sum);
    return 0;
}
