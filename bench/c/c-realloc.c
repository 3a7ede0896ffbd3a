/* c-realloc: 64 buffers grow side by side by realloc in steps of 1..64 bytes (a C string or
 * log buffer growing), each to its own target of 4..256 KiB; a full buffer is checked byte
 * for byte and freed, and a new one starts. */
#include "common.h"

#define BUFFERS 64

typedef struct {
    unsigned char *p;
    size_t len, target;
    uint64_t id;
} buf_t;

static inline unsigned char pattern(uint64_t id, size_t off) {
    return (unsigned char)((uint8_t)id * 31) ^ (unsigned char)off ^ (unsigned char)(off >> 9);
}

static void check_buf(const buf_t *b) {
    for (size_t off = 0; off < b->len; off++)
        if (b->p[off] != pattern(b->id, off))
            FAIL("c-realloc: buffer %llu (%zu bytes) corrupted at offset %zu",
                 (unsigned long long)b->id, b->len, off);
}

int main(int argc, char **argv) {
    params_t p = parse_args(argc, argv);
    uint64_t rng = 0x8E, next_id = 0, ops = 0, sum = 0;
    buf_t bufs[BUFFERS];
    uint64_t start = now_ns();
    for (int i = 0; i < BUFFERS; i++)
        bufs[i] = (buf_t){NULL, 0, rng_log_size(&rng, 4 << 10, 256 << 10), ++next_id};
    size_t steps = scaled(&p, 400000);
    for (size_t step = 0; step < steps; step++) {
        buf_t *b = &bufs[step % BUFFERS];
        size_t by = rng_range(&rng, 1, 64);
        unsigned char *n = realloc(b->p, b->len + by);
        if (!n) FAIL("realloc(%zu) returned NULL", b->len + by);
        b->p = n;
        for (size_t off = b->len; off < b->len + by; off++) b->p[off] = pattern(b->id, off);
        b->len += by;
        ops++;
        sum += by;
        if (p.inject_fault && step == BUFFERS * 3) b->p[0] ^= 0xFF;
        if (b->len >= b->target) {
            check_buf(b);
            free(b->p);
            *b = (buf_t){NULL, 0, rng_log_size(&rng, 4 << 10, 256 << 10), ++next_id};
        }
    }
    for (int i = 0; i < BUFFERS; i++) {
        check_buf(&bufs[i]);
        free(bufs[i].p);
    }
    report("c-realloc", &p, now_ns() - start, ops, sum);
    return 0;
}
