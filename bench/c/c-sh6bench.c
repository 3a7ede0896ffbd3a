/* c-sh6bench: after MicroQuill's SmartHeap benchmark sh6bench. Every thread repeats rounds:
 * allocate a batch of 10..1000 blocks of random sizes 1..1000 bytes, then free them in an
 * order that changes with the round: last-in first-out, first-in first-out, or the odd ones
 * first and then the even ones. A tenth of each batch (its first blocks) is kept until the
 * next round's batch is freed, so consecutive batches overlap as in the original's pools. */
#include "common.h"

#define MAX_BATCH 1000

typedef struct {
    void *p;
    size_t size;
    uint64_t tag;
} blk_t;

typedef worker_arg_t arg_t;

static void release(blk_t *b) {
    check("c-sh6bench", b->p, b->size, b->tag);
    free(b->p);
    b->p = NULL;
}

static void *worker(void *a_) {
    arg_t *a = a_;
    blk_t *batch = calloc(MAX_BATCH, sizeof(blk_t));
    blk_t *kept = calloc(MAX_BATCH / 10, sizeof(blk_t));
    if (!batch || !kept) FAIL("calloc of the batch arrays failed");
    size_t nkept = 0;
    uint64_t rng = 0x56B + (uint64_t)a->id * 0xA0761D6478BD642Full;
    for (size_t r = 0; r < a->steps; r++) {
        size_t n = rng_range(&rng, 10, MAX_BATCH);
        for (size_t i = 0; i < n; i++) {
            size_t size = rng_range(&rng, 1, 1000);
            uint64_t tag = mix64(((uint64_t)a->id << 48) ^ (r << 16) ^ i);
            batch[i] = (blk_t){xmalloc(size), size, tag};
            stamp(batch[i].p, size, tag);
            a->sum += size;
        }
        if (a->p->inject_fault && a->id == 0 && r == 1) ((unsigned char *)batch[n - 1].p)[0] ^= 1;
        a->ops += n;
        size_t keep = n / 10;
        switch (r % 3) {
        case 0: /* LIFO */
            for (size_t i = n; i-- > keep;) release(&batch[i]);
            break;
        case 1: /* FIFO */
            for (size_t i = keep; i < n; i++) release(&batch[i]);
            break;
        default: /* odd ones, then even ones */
            for (size_t i = keep | 1; i < n; i += 2) release(&batch[i]);
            for (size_t i = keep + (keep & 1); i < n; i += 2) release(&batch[i]);
            break;
        }
        for (size_t i = 0; i < nkept; i++) release(&kept[i]);
        memcpy(kept, batch, keep * sizeof(blk_t));
        nkept = keep;
    }
    for (size_t i = 0; i < nkept; i++) release(&kept[i]);
    free(kept);
    free(batch);
    return NULL;
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    return run_workers("c-sh6bench", &p, worker, 30000.0);
}
