/* Single-threaded C semantics: malloc/calloc/realloc/free with content checks, every alignment
 * function, errno behaviour, the glibc aliases, allocations before main and at exit, blocks
 * allocated inside libc (strdup, asprintf, open_memstream, getline) freed by the program, and
 * blocks never freed. */
#include "common.h"

#include <limits.h>
#include <unistd.h>

void *__libc_malloc(size_t);
void __libc_free(void *);
void *__libc_calloc(size_t, size_t);
void *__libc_realloc(void *, size_t);
void *__libc_memalign(size_t, size_t);
void *__libc_valloc(size_t);
void *__libc_pvalloc(size_t);

static int hk;
static void *early[64];
static void *leaked;

/* Allocation before main (a constructor), some of it never freed. */
__attribute__((constructor)) static void before_main(void) {
    for (int i = 0; i < 64; i++) {
        early[i] = malloc((size_t)i * 24 + 1);
        if (!early[i]) abort();
        fill(early[i], (size_t)i * 24 + 1, (uint32_t)i);
    }
    leaked = malloc(1000);
}

static void *at_exit_block;
static void at_exit(void) {
    /* Allocation and free from an atexit handler. */
    void *p = malloc(777);
    if (!p) abort();
    free(p);
    free(at_exit_block);
}

static int aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static void test_early(void) {
    for (int i = 0; i < 64; i++) {
        CHECK(check_fill(early[i], (size_t)i * 24 + 1, (uint32_t)i));
        if (i % 2) free(early[i]);
    }
}

static void test_malloc_free(void) {
    void *a = malloc(0), *b = malloc(0);
    CHECK(a && b && a != b);
    free(a);
    free(b);
    free(NULL);

    /* Many sizes, all live at once, each filled to its usable size: a usable size larger than the
     * block really is would overwrite a neighbour. */
    enum { N = 600 };
    static void *p[N];
    static size_t us[N];
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        size_t n = (i % 50 == 0) ? (size_t)(rnd(&s) % (4u << 20)) : (size_t)(rnd(&s) % 3000);
        p[i] = malloc(n);
        CHECK(p[i]);
        CHECK(aligned(p[i], 16));
        us[i] = malloc_usable_size(p[i]);
        CHECK(us[i] >= n);
        fill(p[i], us[i], (uint32_t)i);
    }
    for (int i = 0; i < N; i++) CHECK(check_fill(p[i], us[i], (uint32_t)i));
    for (int i = 0; i < N; i += 2) free(p[i]);
    for (int i = 1; i < N; i += 2) CHECK(check_fill(p[i], us[i], (uint32_t)i));
    for (int i = 1; i < N; i += 2) free(p[i]);
    CHECK(malloc_usable_size(NULL) == 0);
}

static void test_calloc(void) {
    size_t sizes[] = {1, 16, 100, 4096, 40000, 1 << 20, 5 << 20};
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        for (int round = 0; round < 3; round++) {
            unsigned char *d = malloc(n);
            CHECK(d);
            memset(d, 0xab, n);
            free(d);
            unsigned char *z = calloc(1, n);
            CHECK(z);
            for (size_t i = 0; i < n; i++) CHECK(z[i] == 0);
            free(z);
        }
    }
    void *z = calloc(0, 0);
    CHECK(z);
    free(z);
    z = calloc(10, 100);
    CHECK(z);
    free(z);
}

static void test_realloc(void) {
    /* Grow through small, medium and large sizes, then shrink, keeping the prefix. */
    size_t sizes[] = {1, 8, 24, 100, 1000, 5000, 40000, 200000, 3 << 20, 100000, 3000, 17, 1};
    unsigned char *p = realloc(NULL, 1);
    CHECK(p);
    p[0] = 7;
    size_t have = 1;
    for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
        size_t n = sizes[k];
        unsigned char *q = realloc(p, n);
        CHECK(q);
        size_t keep = have < n ? have : n;
        CHECK(q[0] == 7);
        CHECK(check_fill(q + 1, keep - 1, 99) || keep <= 1);
        fill(q + 1, n - 1, 99);
        p = q;
        have = n;
    }
    errno = 0;
    CHECK(realloc(p, 0) == NULL); /* frees p, as glibc does */
    CHECK(errno == 0);

    unsigned char *r = reallocarray(NULL, 10, 10);
    CHECK(r);
    fill(r, 100, 5);
    r = reallocarray(r, 100, 100);
    CHECK(r && check_fill(r, 100, 5));
    free(r);
}

/* Sizes hidden from the compiler, which would otherwise warn about (or fold) impossible requests. */
static volatile size_t v_max = SIZE_MAX;
static volatile size_t v_half = SIZE_MAX / 2;
static volatile size_t v_2p40 = (size_t)1 << 40;

static void test_errno(void) {
    void *p;
    const size_t max = v_max, half = v_half, t40 = v_2p40;
    errno = 0;
    CHECK(malloc(max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(malloc(half + 1) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(half, 3) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(calloc(t40, t40) == NULL && errno == ENOMEM);

    unsigned char *q = malloc(100);
    CHECK(q);
    fill(q, 100, 3);
    errno = 0;
    CHECK(realloc(q, max) == NULL && errno == ENOMEM);
    CHECK(check_fill(q, 100, 3)); /* untouched after a failed realloc */
    errno = 0;
    CHECK(reallocarray(q, half, 3) == NULL && errno == ENOMEM);
    CHECK(check_fill(q, 100, 3));

    /* free preserves errno, including when it unmaps memory. */
    void *big = malloc(8 << 20);
    CHECK(big);
    errno = 4242;
    free(big);
    CHECK(errno == 4242);
    free(q);
    CHECK(errno == 4242);
    free(NULL);
    CHECK(errno == 4242);

    /* posix_memalign: EINVAL for an alignment that is not a power-of-two multiple of
     * sizeof(void *), errno untouched and *out unchanged. */
    size_t bad[] = {0, 1, 2, 4, 3, 24, 48, 4097};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        p = (void *)0x1234;
        errno = 77;
        CHECK(posix_memalign(&p, bad[k], 16) == EINVAL);
        CHECK(p == (void *)0x1234 && errno == 77);
    }
    p = (void *)0x1234;
    CHECK(posix_memalign(&p, 64, max - 4096) == ENOMEM);
    CHECK(p == (void *)0x1234);

    errno = 0;
    CHECK(memalign(half + 2, 16) == NULL && errno == EINVAL);
    errno = 0;
    CHECK(memalign(64, max - 4096) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(pvalloc(max) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(valloc(max - 4096) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(aligned_alloc(64, max - 4096) == NULL && errno == ENOMEM);
    if (hk) {
        /* glibc >= 2.38 semantics (older glibc rounds the alignment up, like memalign). */
        errno = 0;
        CHECK(aligned_alloc(24, 48) == NULL && errno == EINVAL);
        errno = 0;
        CHECK(aligned_alloc(0, 48) == NULL && errno == EINVAL);
    }
}

static void test_alignment(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t sizes[] = {0, 1, 15, 100, 4095, 4096, 70000, 3 << 20};
    for (size_t a = 8; a <= (4u << 20); a *= 2) {
        for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
            size_t n = sizes[k];
            void *p = NULL;
            CHECK(posix_memalign(&p, a, n) == 0);
            CHECK(p && aligned(p, a));
            CHECK(malloc_usable_size(p) >= n);
            memset(p, 0x5a, n);
            void *q = aligned_alloc(a, n);
            CHECK(q && aligned(q, a));
            memset(q, 0x5b, n);
            void *r = memalign(a, n);
            CHECK(r && aligned(r, a));
            memset(r, 0x5c, n);
            CHECK(malloc_usable_size(r) >= n);
            /* realloc of an aligned block keeps the contents (not the alignment). */
            unsigned char *s = realloc(q, n + 10);
            CHECK(s);
            for (size_t i = 0; i < n; i++) CHECK(s[i] == 0x5b);
            free(p);
            free(s);
            free(r);
        }
    }
    /* memalign rounds an alignment that is not a power of two up; tiny ones act like malloc. */
    void *m = memalign(24, 100);
    CHECK(m && aligned(m, 32));
    free(m);
    m = memalign(0, 100);
    CHECK(m && aligned(m, 16));
    free(m);

    void *v = valloc(1);
    CHECK(v && aligned(v, page));
    free(v);
    void *pv = pvalloc(page + 1);
    CHECK(pv && aligned(pv, page) && malloc_usable_size(pv) >= 2 * page);
    memset(pv, 1, 2 * page);
    free(pv);
    pv = pvalloc(0);
    CHECK(pv && aligned(pv, page));
    free(pv);
}

static void test_aliases(void) {
    void *p = __libc_malloc(100);
    CHECK(p);
    fill(p, 100, 1);
    p = __libc_realloc(p, 5000);
    CHECK(p && check_fill(p, 100, 1));
    free(p); /* blocks from the aliases are the same heap's */
    p = __libc_calloc(3, 33);
    CHECK(p);
    for (int i = 0; i < 99; i++) CHECK(((unsigned char *)p)[i] == 0);
    __libc_free(p);
    p = __libc_memalign(256, 10);
    CHECK(p && aligned(p, 256));
    free(p);
    p = __libc_valloc(10);
    CHECK(p && aligned(p, (size_t)sysconf(_SC_PAGESIZE)));
    __libc_free(p);
    p = __libc_pvalloc(10);
    CHECK(p);
    __libc_free(p);

    /* Every name a glibc program may use for the heap resolves to hakmem. */
    if (hk) {
        const char *names[] = {"malloc", "free", "calloc", "realloc", "reallocarray",
                               "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
                               "malloc_usable_size", "malloc_trim", "cfree", "__libc_malloc",
                               "__libc_free", "__libc_calloc", "__libc_realloc",
                               "__libc_memalign", "__libc_valloc", "__libc_pvalloc",
                               "__libc_cfree", "__posix_memalign"};
        for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
            void *f = dlsym(RTLD_DEFAULT, names[k]);
            Dl_info info;
            if (!(f && dladdr(f, &info) && strstr(info.dli_fname, "libhakmem"))) {
                fprintf(stderr, "FAIL: %s does not resolve to libhakmem\n", names[k]);
                exit(1);
            }
        }
        void (*cf)(void *) = (void (*)(void *))dlsym(RTLD_DEFAULT, "cfree");
        cf(malloc(10));
        /* C23's sized frees (glibc 2.43; this glibc may lack them): hakmem's, and the block goes
         * back to hakmem's heap (the thread's list hands it out again at once). */
        void (*fs)(void *, size_t) = (void (*)(void *, size_t))dlsym(RTLD_DEFAULT, "free_sized");
        void (*fas)(void *, size_t, size_t) =
            (void (*)(void *, size_t, size_t))dlsym(RTLD_DEFAULT, "free_aligned_sized");
        Dl_info info;
        if (!(fs && fas && dladdr((void *)fs, &info) && strstr(info.dli_fname, "libhakmem"))) {
            fprintf(stderr, "FAIL: free_sized/free_aligned_sized do not resolve to libhakmem\n");
            exit(1);
        }
        void *q = malloc(40);
        CHECK(q);
        fs(q, 40);
        CHECK(malloc(40) == q);
        free(q);
        q = aligned_alloc(64, 128);
        CHECK(q && aligned(q, 64));
        fas(q, 64, 128);
        fs(NULL, 0);
        fas(NULL, 64, 0);
    }
}

static void test_libc_internal(void) {
    /* Blocks allocated by libc itself, freed by the program. */
    char *s = strdup("hello, hakmem");
    CHECK(s && strcmp(s, "hello, hakmem") == 0);
    free(s);
    s = strndup("abcdef", 3);
    CHECK(s && strcmp(s, "abc") == 0);
    free(s);
    char *a = NULL;
    CHECK(asprintf(&a, "%d-%s-%0500d", 42, "x", 7) > 0);
    CHECK(a && strncmp(a, "42-x-", 5) == 0);
    free(a);

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f);
    for (int i = 0; i < 10000; i++) fprintf(f, "line %d\n", i);
    fclose(f);
    CHECK(len > 50000 && buf);
    FILE *r = fmemopen(buf, len, "r");
    CHECK(r);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    while (getline(&line, &cap, r) > 0) lines++;
    CHECK(lines == 10000);
    free(line);
    fclose(r);
    free(buf);
    CHECK(malloc_trim(0) >= 0);
}

/* glibc's tst-mallinfo2: after 19 allocations of 160 * i bytes, `uordblks` has grown by at least
 * their total, and `arena` covers it. On hakmem these are its counters (none without `stats`:
 * HAKMEM_EXPECT_STATS=0 from the harness). */
static void test_mallinfo(void) {
    const char *st = getenv("HAKMEM_EXPECT_STATS");
    if (hk && st && st[0] == '0') return;
    struct mallinfo2 a = mallinfo2();
    void *volatile ps[20];
    size_t total = 0;
    for (int i = 1; i < 20; i++) {
        ps[i] = malloc(160 * i);
        CHECK(ps[i]);
        total += 160 * i;
    }
    struct mallinfo2 b = mallinfo2();
    CHECK(b.uordblks >= a.uordblks + total);
    CHECK(b.arena >= b.uordblks);
    for (int i = 1; i < 20; i++) free(ps[i]);
}

/* Reads back what `print` writes to `stream` (whose descriptor is `fd`), NUL-terminated. */
static void capture(int fd, void (*print)(FILE *), FILE *stream, char *buf, size_t len) {
    FILE *tmp = tmpfile();
    CHECK(tmp);
    fflush(stream);
    int saved = dup(fd);
    CHECK(saved >= 0 && dup2(fileno(tmp), fd) == fd);
    print(stream);
    fflush(stream);
    CHECK(dup2(saved, fd) == fd);
    close(saved);
    rewind(tmp);
    size_t n = fread(buf, 1, len - 1, tmp);
    buf[n] = 0;
    fclose(tmp);
}
static void print_stats(FILE *f) { (void)f; malloc_stats(); }
/* The number after `key` in `text`, or 0. */
static size_t number_after(const char *text, const char *key) {
    const char *at = strstr(text, key);
    return at ? strtoull(at + strlen(key), NULL, 10) : 0;
}

/* malloc_stats and malloc_info report hakmem's heap (they printed glibc's empty arena): with a
 * 4 MiB block live, "in use bytes" and the XML's current system size cover it, and the XML is
 * glibc's schema. */
static void test_malloc_reports(void) {
    const char *st = getenv("HAKMEM_EXPECT_STATS");
    if (!hk || (st && st[0] == '0')) return;
    size_t big = 4u << 20;
    char *volatile p = malloc(big);
    CHECK(p);
    memset(p, 1, big);
    static char out[8192];
    capture(2, print_stats, stderr, out, sizeof out);
    CHECK(strncmp(out, "Arena 0:\n", 9) == 0);
    CHECK(number_after(out, "in use bytes     =") >= big);
    CHECK(number_after(out, "system bytes     =") >= big);
    CHECK(strstr(out, "Total (incl. mmap):\n") != NULL);
    FILE *f = tmpfile();
    CHECK(f);
    CHECK(malloc_info(0, f) == 0);
    rewind(f);
    out[fread(out, 1, sizeof out - 1, f)] = 0;
    fclose(f);
    CHECK(strncmp(out, "<malloc version=\"1\">\n", 21) == 0);
    CHECK(number_after(out, "<system type=\"current\" size=\"") >= big);
    CHECK(number_after(out, "<system type=\"max\" size=\"") >= big);
    CHECK(strstr(out, "</malloc>\n") != NULL);
    errno = 0;
    CHECK(malloc_info(1, stdout) == EINVAL && errno == 0);
    free(p);
}

int main(void) {
    hk = expect_allocator();
    test_mallinfo(); /* first: glibc counts its tcache's free blocks as in use */
    at_exit_block = malloc(12345);
    CHECK(atexit(at_exit) == 0);
    test_early();
    test_malloc_free();
    test_calloc();
    test_realloc();
    test_errno();
    test_alignment();
    test_aliases();
    test_libc_internal();
    test_malloc_reports();
    CHECK(leaked != NULL);
    printf("OK basic\n");
    return 0;
}
