/* The C API's edge cases, one line each: "<case>: <result> errno <name>" on stdout, for
 * tests/preload.rs (`c_edge_cases_match_glibc`) to compare line by line between a run on glibc's
 * malloc and a run under libhakmem.so. Results are printed in allocator-independent terms: "null"
 * or "ptr" (plus the alignment the pointer must have, checked, and "usable>=N" where the caller may
 * rely on it), the return code for posix_memalign, and errno as the call left it (it is set to
 * 1234 before each call, so an untouched errno reads "1234").
 *
 * Lines starting with "v2.38 " are cases where glibc changed its behaviour: the test holds hakmem
 * to glibc >= 2.38 (the C17 rule) and compares only when the baseline glibc is that new too. */
#define _GNU_SOURCE
#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *ename(int e) {
    switch (e) {
    case 0: return "0";
    case 1234: return "untouched";
    case ENOMEM: return "ENOMEM";
    case EINVAL: return "EINVAL";
    default: { static char b[32]; snprintf(b, sizeof b, "%d", e); return b; }
    }
}

static size_t page;
/* Called through a volatile pointer: GCC knows that the builtin posix_memalign writes only
 * `*memptr`, and would otherwise reuse the errno it stored before the call. */
static int (*volatile pm)(void **, size_t, size_t) = posix_memalign;
/* The same for the cases that read the old block after a failed realloc (no use-after-free
 * warning for a block the call kept). */
static void *(*volatile re)(void *, size_t) = realloc;
static void *(*volatile rea)(void *, size_t, size_t) = reallocarray;

/* Prints a pointer result: "null", or "ptr" with its checked alignment and usable size. */
static void out(const char *tag, const char *what, void *p, int e, size_t align, size_t want) {
    printf("%s%s: ", tag, what);
    if (!p) {
        printf("null");
    } else {
        printf("ptr");
        if (align > 1) printf(" aligned(%zu)=%d", align, ((uintptr_t)p % align) == 0);
        size_t u = malloc_usable_size(p);
        printf(" usable>=%zu=%d", want, u >= want);
        /* The block must be writable over its requested size (small ones only). */
        if (want <= (1 << 20)) memset(p, 0xa5, want);
    }
    printf(" errno %s\n", ename(e));
}

#define PTR(tag, align, want, call)                                                       \
    do {                                                                                  \
        errno = 1234;                                                                     \
        void *p_ = (call);                                                                \
        int e_ = errno;                                                                   \
        out(tag, #call, p_, e_, align, want);                                             \
        free(p_);                                                                         \
    } while (0)

/* volatile, so that the compiler neither folds a call with a huge size nor warns about it */
static volatile size_t vmax = SIZE_MAX;
#define SMAX ((size_t)vmax)
static volatile size_t vpmax = PTRDIFF_MAX;
#define PMAX ((size_t)vpmax)

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    page = (size_t)sysconf(_SC_PAGESIZE);
    size_t huge[] = {SMAX, SMAX - 1, SMAX - 4096, SMAX - 65536, SMAX / 2 + 1, PMAX + 1, PMAX,
                     PMAX - 4096, PMAX - (1 << 20), (size_t)1 << 62, (size_t)1 << 56,
                     (size_t)1 << 50, (size_t)1 << 48, (size_t)1 << 47, (size_t)1 << 46,
                     (size_t)1 << 44, (size_t)1 << 40, (size_t)1 << 38,
                     (size_t)1 << 36, (size_t)1 << 35};
    size_t nh = sizeof huge / sizeof *huge;

    /* malloc */
    PTR("", 16, 0, malloc(0));
    PTR("", 16, 1, malloc(1));
    for (size_t i = 0; i < nh; i++) {
        char w[80]; snprintf(w, sizeof w, "malloc(%#zx)", huge[i]);
        errno = 1234; void *p = malloc(huge[i]); int e = errno; out("", w, p, e, 16, 0); free(p);
    }
    /* calloc */
    PTR("", 16, 0, calloc(0, 0));
    PTR("", 16, 0, calloc(0, SMAX));
    PTR("", 16, 0, calloc(SMAX, 0));
    PTR("", 16, 0, calloc(SMAX, 2));
    PTR("", 16, 0, calloc(2, SMAX / 2 + 1));
    PTR("", 16, 0, calloc(SMAX >> 32, SMAX >> 32));
    PTR("", 16, 0, calloc(65537, SMAX / 65537 + 1));
    PTR("", 16, 0, calloc(1, PMAX + 1));
    PTR("", 16, 0, calloc(PMAX / 2 + 1, 2));
    PTR("", 16, 0, calloc(SMAX, 1));
    PTR("", 16, 64, calloc(8, 8));
    /* realloc */
    PTR("", 16, 0, realloc(NULL, 0));
    PTR("", 16, 10, realloc(NULL, 10));
    PTR("", 16, 0, realloc(NULL, SMAX));
    PTR("", 16, 0, realloc(NULL, PMAX + 1));
    {
        size_t sz[] = {SMAX, SMAX - 16, PMAX + 1, PMAX, (size_t)1 << 50, (size_t)1 << 40,
                       (size_t)1 << 36, (size_t)1 << 35};
        size_t from[] = {100, 4 << 20};
        for (int f = 0; f < 2; f++)
        for (size_t k = 0; k < sizeof sz / sizeof *sz; k++) {
            unsigned char *p = malloc(from[f]);
            memset(p, 0x3c, 100);
            errno = 1234;
            void *q = re(p, sz[k]);
            int e = errno;
            int kept = 1;
            if (!q) for (int i = 0; i < 100; i++) kept &= p[i] == 0x3c;
            printf("realloc(p%zu, %#zx): %s errno %s kept=%d\n", from[f], sz[k],
                   q ? "ptr" : "null", ename(e), kept);
            free(q ? q : p);
        }
        void *p = malloc(100);
        errno = 1234;
        void *q = realloc(p, 0);
        printf("realloc(p100, 0): %s errno %s\n", q ? "ptr" : "null", ename(errno));
        free(q);
        p = malloc(1 << 22);
        errno = 1234;
        q = realloc(p, 0);
        printf("realloc(p4M, 0): %s errno %s\n", q ? "ptr" : "null", ename(errno));
        free(q);
    }
    /* reallocarray */
    PTR("", 16, 0, reallocarray(NULL, SMAX, 2));
    PTR("", 16, 0, reallocarray(NULL, 2, SMAX));
    PTR("", 16, 0, reallocarray(NULL, SMAX >> 32, SMAX >> 32));
    PTR("", 16, 0, reallocarray(NULL, PMAX / 2 + 1, 2));
    PTR("", 16, 0, reallocarray(NULL, 0, 0));
    PTR("", 16, 0, reallocarray(NULL, 0, SMAX));
    PTR("", 16, 200, reallocarray(NULL, 10, 20));
    {
        unsigned char *p = malloc(40);
        memset(p, 0x7e, 40);
        errno = 1234;
        void *q = rea(p, 3, SMAX / 2);
        int e = errno, kept = 1;
        for (int i = 0; i < 40; i++) kept &= p[i] == 0x7e;
        printf("reallocarray(p40, 3, SIZE_MAX/2): %s errno %s kept=%d\n", q ? "ptr" : "null",
               ename(e), kept);
        errno = 1234;
        q = rea(p, 0, 5);
        printf("reallocarray(p40, 0, 5): %s errno %s\n", q ? "ptr" : "null", ename(errno));
        free(q);
    }
    /* memalign: every odd alignment glibc rounds up; tiny ones are malloc */
    {
        size_t al[] = {0, 1, 2, 3, 4, 5, 8, 12, 16, 17, 24, 31, 33, 48, 64, 65, 100, 127, 129,
                       4095, 4097, 65535, 65537, (size_t)1 << 20, ((size_t)1 << 20) + 1,
                       ((size_t)1 << 40), SMAX / 4 + 1, SMAX / 2, SMAX / 2 + 1, SMAX / 2 + 2,
                       SMAX - 1, SMAX};
        for (size_t k = 0; k < sizeof al / sizeof *al; k++) {
            /* the alignment the pointer must have: `a` rounded up to a power of two, at least
             * 16; none to check when no power of two is that large */
            size_t a = al[k], want = a < 16 ? 16 : a;
            if (a > SMAX / 2 + 1) want = 1;
            else if (want & (want - 1)) { size_t r = 1; while (r < want) r <<= 1; want = r; }
            char w[80]; snprintf(w, sizeof w, "memalign(%#zx, 24)", a);
            errno = 1234; void *p = memalign(a, 24); int e = errno; out("", w, p, e, want, 24); free(p);
            snprintf(w, sizeof w, "memalign(%#zx, 0)", a);
            errno = 1234; p = memalign(a, 0); e = errno; out("", w, p, e, want, 0); free(p);
            snprintf(w, sizeof w, "memalign(%#zx, SIZE_MAX-64)", a);
            errno = 1234; p = memalign(a, SMAX - 64); e = errno; out("", w, p, e, want, 0); free(p);
            snprintf(w, sizeof w, "memalign(%#zx, PTRDIFF_MAX+1)", a);
            errno = 1234; p = memalign(a, PMAX + 1); e = errno; out("", w, p, e, want, 0); free(p);

            /* posix_memalign: returns the code; *out untouched on failure */
            void *q = (void *)0x1234;
            errno = 1234;
            int r = pm(&q, a, 24);
            e = errno;
            printf("posix_memalign(%#zx, 24): %s out=%s", a, ename(r),
                   q == (void *)0x1234 ? "untouched" : q ? "ptr" : "null");
            if (r == 0) printf(" aligned=%d", ((uintptr_t)q % a) == 0);
            printf(" errno %s\n", ename(e));
            if (r == 0) free(q);
            q = (void *)0x1234;
            errno = 1234;
            r = pm(&q, a, 0);
            e = errno;
            printf("posix_memalign(%#zx, 0): %s out=%s errno %s\n", a, ename(r),
                   q == (void *)0x1234 ? "untouched" : q ? "ptr" : "null", ename(e));
            if (r == 0) free(q);
            size_t bigs[] = {SMAX, SMAX - 4096, PMAX + 1, PMAX};
            for (int b = 0; b < 4; b++) {
                q = (void *)0x1234;
                errno = 1234;
                r = pm(&q, a, bigs[b]);
                e = errno;
                printf("posix_memalign(%#zx, %#zx): %s out=%s errno %s\n", a, bigs[b], ename(r),
                       q == (void *)0x1234 ? "untouched" : q ? "ptr" : "null", ename(e));
                if (r == 0) free(q);
            }

            /* aligned_alloc: glibc < 2.38 treats it as memalign; >= 2.38 (C17) refuses an
             * alignment that is not a power of two, 0 included. */
            int pow2 = a && !(a & (a - 1));
            const char *tag = pow2 ? "" : "v2.38 ";
            snprintf(w, sizeof w, "aligned_alloc(%#zx, 64)", a);
            errno = 1234; p = aligned_alloc(a, 64); e = errno; out(tag, w, p, e, want, 64); free(p);
            snprintf(w, sizeof w, "aligned_alloc(%#zx, 0)", a);
            errno = 1234; p = aligned_alloc(a, 0); e = errno; out(tag, w, p, e, want, 0); free(p);
            snprintf(w, sizeof w, "aligned_alloc(%#zx, 1)", a);
            errno = 1234; p = aligned_alloc(a, 1); e = errno; out(tag, w, p, e, want, 1); free(p);
            snprintf(w, sizeof w, "aligned_alloc(%#zx, SIZE_MAX)", a);
            errno = 1234; p = aligned_alloc(a, SMAX); e = errno; out(tag, w, p, e, want, 0); free(p);
            snprintf(w, sizeof w, "aligned_alloc(%#zx, PTRDIFF_MAX+1)", a);
            errno = 1234; p = aligned_alloc(a, PMAX + 1); e = errno; out(tag, w, p, e, want, 0); free(p);
        }
    }
    /* valloc / pvalloc */
    {
        size_t sz[] = {0, 1, 5, 4095, 4096, 4097, 8191, 8192, 100000, SMAX, SMAX - 4095,
                       SMAX - 4096, SMAX - 8192, PMAX, PMAX + 1, PMAX - 8192};
        for (size_t k = 0; k < sizeof sz / sizeof *sz; k++) {
            size_t n = sz[k];
            char w[80];
            snprintf(w, sizeof w, "valloc(%#zx)", n);
            errno = 1234; void *p = valloc(n); int e = errno; out("", w, p, e, page, n < (1 << 20) ? n : 0); free(p);
            snprintf(w, sizeof w, "pvalloc(%#zx)", n);
            size_t round = n < (1 << 20) ? (n + page - 1) / page * page : 0;
            errno = 1234; p = pvalloc(n); e = errno; out("", w, p, e, page, round); free(p);
        }
    }
    /* usable size, free */
    printf("malloc_usable_size(NULL): %zu\n", malloc_usable_size(NULL));
    errno = 1234; free(NULL); printf("free(NULL): errno %s\n", ename(errno));
    {
        void *p = malloc(100); errno = 1234; free(p); printf("free(p100): errno %s\n", ename(errno));
        p = malloc(64 << 20); errno = 1234; free(p); printf("free(p64M): errno %s\n", ename(errno));
    }
    fprintf(stderr, "glibc %s\n", gnu_get_libc_version());
    printf("OK edge_compare\n");
    return 0;
}
