/* 1,000 threads created and joined, 20 alive at a time, while blocks cross between them: each
 * thread frees (after checking) the blocks handed over from a thread of the previous wave, which
 * has exited by then, frees half of its own blocks, and hands the other half to the next wave. */
#include "common.h"

#include <pthread.h>

#define THREADS 1000
#define WAVE 20
#define BLOCKS 200

struct block {
    struct block *next;
    size_t n;
    uint32_t tag;
};

static void *run(void *arg) {
    struct block *in = arg;
    int freed = 0;
    while (in) {
        struct block *next = in->next;
        CHECK(check_fill(in + 1, in->n, in->tag));
        free(in);
        in = next;
        freed++;
    }
    uint32_t seed = (uint32_t)(uintptr_t)pthread_self() | 1;
    struct block *out = NULL;
    for (int i = 0; i < BLOCKS; i++) {
        uint32_t r = rnd(&seed);
        size_t n = (r % 50 == 0) ? 40000 + r % 60000 : r % 500;
        struct block *b = malloc(sizeof *b + n);
        CHECK(b);
        b->n = n;
        b->tag = r;
        fill(b + 1, n, r);
        if (i % 2) {
            free(b);
        } else {
            b->next = out;
            out = b;
        }
    }
    return out;
}

int main(void) {
    expect_allocator();
    void *handed[WAVE] = {0};
    pthread_t t[WAVE];
    for (int base = 0; base < THREADS; base += WAVE) {
        for (int j = 0; j < WAVE; j++) CHECK(pthread_create(&t[j], NULL, run, handed[j]) == 0);
        for (int j = 0; j < WAVE; j++) CHECK(pthread_join(t[j], &handed[j]) == 0);
    }
    for (int j = 0; j < WAVE; j++) {
        struct block *b = handed[j];
        while (b) {
            struct block *next = b->next;
            CHECK(check_fill(b + 1, b->n, b->tag));
            free(b);
            b = next;
        }
    }
    printf("OK churn\n");
    return 0;
}
