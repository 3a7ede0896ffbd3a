/* Session 28 (edge28): calloc after the same class's blocks were dirtied and freed must read zero
 * over every byte a program may use: the request and, as on glibc (whose calloc clears the whole
 * chunk), up to malloc_usable_size. Blocks come back to the class three ways: freed by this
 * thread, freed by another thread while this one lives (drained back through the remote path or a
 * foreign entry), and left by a thread that exited (its slabs adopted). Sizes 0..=160 cover the
 * inline zeroing (<= 64 bytes), the small classes past it and the first class boundaries; a few
 * medium and large sizes follow. Also realloc of calloc'd blocks across class boundaries keeps
 * the old bytes. Deterministic: fixed counts, no timing. */
#include "common.h"
#include <pthread.h>

#define ROUNDS 24
#define MAXSZ 160

static void *blocks[ROUNDS];
static size_t cur_size;

static void check_zero(const unsigned char *p, size_t req, const char *how) {
    size_t u = malloc_usable_size((void *)p);
    if (u < req) {
        fprintf(stderr, "FAIL usable %zu < request %zu (%s)\n", u, req, how);
        exit(1);
    }
    for (size_t i = 0; i < u; i++) {
        if (p[i] != 0) {
            fprintf(stderr, "FAIL calloc(%zu) byte %zu of usable %zu is 0x%02x (%s)\n", req, i, u,
                    p[i], how);
            exit(1);
        }
    }
}

/* Fill ROUNDS blocks of `size` (and of the neighbouring sizes, so whole classes are dirty). */
static void dirty(size_t size) {
    for (int i = 0; i < ROUNDS; i++) {
        size_t s = size ? size : 1;
        blocks[i] = malloc(s);
        CHECK(blocks[i] != NULL);
        memset(blocks[i], 0xAB, malloc_usable_size(blocks[i]));
    }
}

static void free_all(void) {
    for (int i = 0; i < ROUNDS; i++) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
}

static void *remote_free(void *arg) {
    (void)arg;
    free_all();
    return NULL;
}

static void *alloc_and_exit(void *arg) {
    (void)arg;
    dirty(cur_size);
    /* Half freed here, half left for the main thread to free after this thread exits. */
    for (int i = 0; i < ROUNDS / 2; i++) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    return NULL;
}

static void calloc_many(size_t size, const char *how) {
    void *got[ROUNDS * 2];
    for (int i = 0; i < ROUNDS * 2; i++) {
        got[i] = calloc(1, size);
        CHECK(got[i] != NULL);
        check_zero(got[i], size, how);
        memset(got[i], 0xCD, malloc_usable_size(got[i]));
    }
    for (int i = 0; i < ROUNDS * 2; i++)
        free(got[i]);
    /* calloc(n, m) with the product in this size, too. */
    if (size >= 4 && size % 4 == 0) {
        unsigned char *p = calloc(size / 4, 4);
        CHECK(p != NULL);
        check_zero(p, size, how);
        free(p);
    }
}

int main(void) {
    expect_allocator();
    static const size_t big[] = {1000, 1024, 1025, 2048, 4096, 4112, 8192, 20000, 65536, 70000,
                                 300000, 1 << 20};
    size_t sizes[MAXSZ + 1 + sizeof big / sizeof big[0]];
    size_t n = 0;
    for (size_t s = 0; s <= MAXSZ; s++)
        sizes[n++] = s;
    for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
        sizes[n++] = big[i];
    for (size_t k = 0; k < n; k++) {
        size_t s = sizes[k];
        /* 1. Same thread. */
        dirty(s);
        free_all();
        calloc_many(s, "same thread");
        /* 2. Freed by another, live thread. */
        dirty(s);
        pthread_t t;
        CHECK(pthread_create(&t, NULL, remote_free, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        calloc_many(s, "remote free");
        /* 3. Allocated by a thread that exited; the rest freed here after its exit. */
        cur_size = s;
        CHECK(pthread_create(&t, NULL, alloc_and_exit, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        free_all();
        calloc_many(s, "exited owner");
    }
    /* realloc of a calloc'd, then written block across class boundaries and back keeps bytes. */
    for (size_t s = 1; s <= 2048; s += (s < 160 ? 1 : 37)) {
        unsigned char *p = calloc(1, s);
        CHECK(p != NULL);
        for (size_t i = 0; i < s; i++)
            p[i] = (unsigned char)(i * 7 + s);
        size_t grow = s * 3 + 5;
        p = realloc(p, grow);
        CHECK(p != NULL);
        for (size_t i = 0; i < s; i++)
            CHECK(p[i] == (unsigned char)(i * 7 + s));
        p = realloc(p, s / 2 + 1);
        CHECK(p != NULL);
        for (size_t i = 0; i < s / 2 + 1 && i < s; i++)
            CHECK(p[i] == (unsigned char)(i * 7 + s));
        free(p);
    }
    printf("OK calloc_dirty\n");
    return 0;
}
