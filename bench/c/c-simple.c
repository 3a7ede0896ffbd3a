/* c-simple: after glibc's bench-malloc-simple. For each of a few small sizes and batch
 * lengths, allocate a batch of blocks, then free them all, in a tight loop; one block in
 * eight comes from calloc and is checked to be zero. Single thread. */
#include "common.h"

#define MAX_BATCH 1600

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    static const size_t sizes[] = {16, 32, 64, 128, 256};
    static const size_t batches[] = {25, 100, 400, 1600};
    static void *held[MAX_BATCH];
    size_t per_pair = scaled(&p, 800000);
    uint64_t ops = 0, sum = 0, seq = 0;
    uint64_t start = now_ns();
    for (int si = 0; si < 5; si++) {
        size_t size = sizes[si];
        for (int bi = 0; bi < 4; bi++) {
            size_t batch = batches[bi];
            for (size_t round = 0; round < (per_pair + batch - 1) / batch; round++) {
                uint64_t first = seq;
                for (size_t i = 0; i < batch; i++) {
                    void *b;
                    if ((seq & 7) == 0) {
                        b = calloc(1, size);
                        if (!b) FAIL("calloc(1, %zu) returned NULL", size);
                        for (size_t k = 0; k < size; k++)
                            if (((unsigned char *)b)[k]) FAIL("calloc'd block not zero");
                    } else {
                        b = xmalloc(size);
                    }
                    stamp(b, size, mix64(seq++));
                    held[i] = b;
                }
                if (p.inject_fault && round == 0) ((unsigned char *)held[batch / 2])[0] ^= 1;
                for (size_t i = 0; i < batch; i++) {
                    check("c-simple", held[i], size, mix64(first + i));
                    free(held[i]);
                }
                ops += batch;
                sum += size * batch;
            }
        }
    }
    report("c-simple", &p, now_ns() - start, ops, sum);
    return 0;
}
