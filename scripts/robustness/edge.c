/* Odd-but-legal uses of the C allocation API, one per subcommand (scripts/robustness-sweep.sh runs
 * them under glibc and under libhakmem.so and compares): every power-of-two alignment up to 1 GiB,
 * usable size and realloc across every tier, huge requests (null + ENOMEM), pthread_cancel of
 * threads in malloc loops, vfork+exec and posix_spawn, siglongjmp out of a handler that mallocs,
 * malloc in the destructor of a dlclose'd library and in atexit, thousands of live threads;
 * `rlimit` (RLIMIT_AS 512 MiB, tiers in the order of $ORDER, `TRIM=1`: malloc_trim between),
 * `rlimit-threads`, `async-cancel` (asynchronous cancellation: not async-cancel-safe, observed
 * only). Exploratory: preload/tests/c holds the regression tests. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#define CHECK(e) do { if (!(e)) { fprintf(stderr, "FAIL %s:%d: %s (errno %d)\n", __FILE__, __LINE__, #e, errno); exit(1);} } while (0)
extern char **environ;
static volatile size_t vmax = SIZE_MAX, vhalf = SIZE_MAX / 2;

static void t_align(void) {
    for (size_t a = 1; a <= ((size_t)1 << 30); a *= 2) {
        size_t sizes[] = {1, a, a + 1, 3 * a / 2 + 7};
        for (int k = 0; k < 4; k++) {
            size_t n = sizes[k];
            if (n > ((size_t)1 << 31)) continue;
            void *p = NULL;
            int r = posix_memalign(&p, a < sizeof(void *) ? sizeof(void *) : a, n);
            CHECK(r == 0 && p && ((uintptr_t)p % a) == 0);
            CHECK(malloc_usable_size(p) >= n);
            ((char *)p)[0] = 1; ((char *)p)[n - 1] = 2;
            free(p);
            p = aligned_alloc(a, n);
            CHECK(p && ((uintptr_t)p % a) == 0);
            ((char *)p)[n - 1] = 2;
            free(p);
            p = memalign(a, n);
            CHECK(p && ((uintptr_t)p % a) == 0);
            CHECK(malloc_usable_size(p) >= n);
            void *q = realloc(p, n * 2 + 1);
            CHECK(q);
            free(q);
        }
    }
    printf("align ok\n");
}

static void t_usable_realloc(void) {
    /* every size up to 8 MiB in a geometric-ish sweep, with realloc up and down across all */
    size_t sizes[4000]; int ns = 0;
    for (size_t s = 1; s < ((size_t)64 << 20) && ns < 4000; s = s + 1 + s / 16) sizes[ns++] = s;
    for (int i = 0; i < ns; i++) {
        unsigned char *p = malloc(sizes[i]);
        CHECK(p);
        size_t u = malloc_usable_size(p);
        CHECK(u >= sizes[i]);
        memset(p, 0x77, u);
        int j = (i * 37 + 11) % ns;
        unsigned char *q = realloc(p, sizes[j]);
        CHECK(q);
        size_t keep = sizes[i] < sizes[j] ? sizes[i] : sizes[j];
        for (size_t k = 0; k < keep; k += 1 + keep / 64) CHECK(q[k] == 0x77);
        CHECK(q[keep - 1] == 0x77);
        CHECK(malloc_usable_size(q) >= sizes[j]);
        free(q);
    }
    /* realloc stepping by one byte through boundaries */
    unsigned char *p = NULL; size_t n = 0;
    for (size_t s = 1; s < (1 << 20); s += 1 + s / 3) {
        p = realloc(p, s); CHECK(p);
        for (size_t k = n; k < s; k++) p[k] = (unsigned char)k;
        for (size_t k = 0; k < s; k += 1 + s / 50) CHECK(p[k] == (unsigned char)k);
        n = s;
    }
    for (size_t s = n; s > 1; s = s * 2 / 3) { p = realloc(p, s); CHECK(p); for (size_t k = 0; k < s; k += 1 + s/50) CHECK(p[k] == (unsigned char)k); }
    free(p);
    printf("usable/realloc ok\n");
}

static void t_huge(void) {
    errno = 0; CHECK(malloc(vhalf) == NULL && errno == ENOMEM);
    errno = 0; CHECK(malloc(vmax) == NULL && errno == ENOMEM);
    errno = 0; CHECK(malloc(vmax - 4096) == NULL && errno == ENOMEM);
    errno = 0; CHECK(calloc(vhalf, 3) == NULL && errno == ENOMEM);
    errno = 0; CHECK(calloc(65536, 65537 * 65536ull) == NULL && errno == ENOMEM);
    errno = 0; CHECK(realloc(NULL, vhalf) == NULL && errno == ENOMEM);
    void *p = malloc(10); errno = 0; CHECK(realloc(p, vmax - 10) == NULL && errno == ENOMEM); free(p);
    void *q = NULL; CHECK(posix_memalign(&q, 4096, vhalf) == ENOMEM);
    CHECK(posix_memalign(&q, (size_t)1 << 40, 10) == ENOMEM || q != NULL); if (q) free(q);
    errno = 0; CHECK(aligned_alloc(64, vmax - 32) == NULL && errno == ENOMEM);
    errno = 0; CHECK(memalign((size_t)1 << 62, 16) == NULL);
    errno = 0; CHECK(valloc(vmax) == NULL && errno == ENOMEM);
    errno = 0; CHECK(pvalloc(vmax - 100) == NULL && errno == ENOMEM);
    errno = 0; CHECK(reallocarray(NULL, vhalf, 4) == NULL && errno == ENOMEM);
    /* 64 GiB: over most machines' memory, but mmap may succeed with overcommit */
    void *big = malloc((size_t)1 << 36); if (big) free(big);
    printf("huge ok\n");
}

static void t_rlimit(void) {
    struct rlimit old_rl, rl;
    CHECK(getrlimit(RLIMIT_AS, &old_rl) == 0);
    rl = old_rl;
    rl.rlim_cur = (rlim_t)512 << 20;
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    static void *keep[100000]; int n = 0;
    size_t sz[] = {16, 300, 5000, 70000, 600000, 3 << 20, 40 << 20};
    const char *ord = getenv("ORDER"); if (!ord) ord = "0123456";
    for (int kk = 0; ord[kk]; kk++) { int k = ord[kk] - '0';
        for (;;) {
            errno = 0;
            void *p = malloc(sz[k]);
            if (!p) { CHECK(errno == ENOMEM); break; }
            memset(p, 1, sz[k] < 4096 ? sz[k] : 4096);
            if (n < 100000) keep[n++] = p; else break;
        }
        fprintf(stderr, "rlimit size %zu: %d live\n", sz[k], n);
        for (int i = 0; i < n; i++) free(keep[i]);
        n = 0;
        if (getenv("TRIM")) malloc_trim(0);
        /* after freeing, it must work again */
        void *p = malloc(sz[k]); CHECK(p); free(p);
    }
    /* calloc and aligned under the limit */
    for (;;) { void *p = calloc(1, 1 << 20); if (!p) { CHECK(errno == ENOMEM); break; } keep[n++] = p; }
    for (int i = 0; i < n; i++) free(keep[i]);
    n = 0;
    for (;;) { void *p = aligned_alloc(1 << 16, 100000); if (!p) { CHECK(errno == ENOMEM); break; } keep[n++] = p; }
    for (int i = 0; i < n; i++) free(keep[i]);
    n = 0;
    CHECK(setrlimit(RLIMIT_AS, &old_rl) == 0);
    printf("rlimit ok\n");
}

static void *rl_thread(void *a) { (void)a; void *ps[1000]; int n = 0; for (int i = 0; i < 1000; i++) { ps[i] = malloc(64 + i); if (ps[i]) n++; } for (int i = 0; i < 1000; i++) free(ps[i]); return (void *)(intptr_t)n; }
static void t_rlimit_threads(void) {
    /* exhaust the address space first, then start a thread that allocates */
    struct rlimit rl = {(rlim_t)256 << 20, (rlim_t)256 << 20};
    CHECK(setrlimit(RLIMIT_AS, &rl) == 0);
    int ok = 0, failed = 0;
    for (int i = 0; i < 50; i++) {
        pthread_t t; pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 64 << 10);
        if (pthread_create(&t, &at, rl_thread, NULL) != 0) { failed++; continue; }
        void *r; pthread_join(t, &r); ok += (int)(intptr_t)r;
    }
    void *keep[4096]; int n = 0;
    for (;;) { void *p = malloc(1 << 20); if (!p) break; if (n < 4096) keep[n++] = p; }
    for (int i = 0; i < 20; i++) {
        pthread_t t; pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 64 << 10);
        if (pthread_create(&t, &at, rl_thread, NULL) != 0) { failed++; continue; }
        void *r; pthread_join(t, &r);
        fprintf(stderr, "thread at limit allocated %d\n", (int)(intptr_t)r);
    }
    for (int i = 0; i < n; i++) free(keep[i]);
    printf("rlimit threads ok %d %d\n", ok, failed);
}

static void *spin_alloc(void *a) {
    (void)a;
    for (;;) { void *p = malloc(100 + (rand() & 4095)); free(p); void *q = malloc(200000); free(q); pthread_testcancel(); }
    return NULL;
}
static void *async_alloc(void *a) {
    (void)a; int old; pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &old);
    for (;;) { void *p = malloc(100); free(p); }
    return NULL;
}
static void t_cancel(void) {
    for (int i = 0; i < 200; i++) {
        pthread_t t; CHECK(pthread_create(&t, NULL, spin_alloc, NULL) == 0);
        usleep(200); pthread_cancel(t); void *r; pthread_join(t, &r); CHECK(r == PTHREAD_CANCELED);
    }
    for (int i = 0; i < 200; i++) {
        void *p = malloc(1000); free(p);
    }
    printf("cancel ok\n");
}

static void t_async_cancel(void) { /* UB per POSIX (malloc is not async-cancel-safe), just observe */
    for (int i = 0; i < 50; i++) {
        pthread_t t; CHECK(pthread_create(&t, NULL, async_alloc, NULL) == 0);
        usleep(300); pthread_cancel(t); void *r; pthread_join(t, &r);
    }
    printf("async cancel done\n");
}

static void t_vfork(void) {
    for (int i = 0; i < 50; i++) {
        void *p = malloc(1000);
        pid_t pid = vfork();
        if (pid == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
        CHECK(pid > 0);
        int st; CHECK(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0);
        free(p);
        char *argv[] = {"sh", "-c", "exit 3", NULL};
        CHECK(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ) == 0);
        CHECK(waitpid(pid, &st, 0) == pid && WEXITSTATUS(st) == 3);
    }
    printf("vfork/spawn ok\n");
}

static sigjmp_buf jb;
static volatile sig_atomic_t jumps;
static void on_alrm(int s) { (void)s; void *p = malloc(64); free(p); jumps++; siglongjmp(jb, 1); }
static void t_longjmp(void) {
    signal(SIGUSR1, on_alrm);
    for (int i = 0; i < 1000; i++) {
        if (sigsetjmp(jb, 1) == 0) { void *p = malloc(i * 10 + 1); (void)p; raise(SIGUSR1); }
    }
    CHECK(jumps == 1000);
    printf("longjmp ok\n");
}

static pthread_barrier_t bar;
static void *many(void *a) { void *p = malloc((size_t)(intptr_t)a % 2000 + 1); pthread_barrier_wait(&bar); free(p); void *q = malloc(50000); free(q); return NULL; }
static void t_many_threads(int n) {
    pthread_t *ts = malloc(sizeof(pthread_t) * n); int made = 0;
    pthread_barrier_init(&bar, NULL, n + 1);
    pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 64 << 10);
    for (int i = 0; i < n; i++) { if (pthread_create(&ts[i], &at, many, (void *)(intptr_t)i) != 0) break; made++; }
    if (made < n) { fprintf(stderr, "only %d threads\n", made); exit(2); }
    pthread_barrier_wait(&bar);
    for (int i = 0; i < made; i++) pthread_join(ts[i], NULL);
    free(ts);
    printf("many threads %d ok\n", made);
}

static void t_dlclose(void) {
    void *h = dlopen(getenv("DTOR_LIB") ? getenv("DTOR_LIB") : "./dtor_lib.so", RTLD_NOW);
    CHECK(h);
    void (*f)(void) = (void (*)(void))dlsym(h, "lib_use"); CHECK(f); f();
    CHECK(dlclose(h) == 0);
    printf("dlclose ok\n");
}

static void at_exit_fn(void) { void *p = malloc(5000); CHECK(p); memset(p, 1, 5000); void *q = realloc(p, 100000); CHECK(q); free(q); printf("atexit ran\n"); }

int main(int argc, char **argv) {
    atexit(at_exit_fn);
    const char *t = argc > 1 ? argv[1] : "all";
    int all = !strcmp(t, "all");
    if (all || !strcmp(t, "align")) t_align();
    if (all || !strcmp(t, "usable")) t_usable_realloc();
    if (all || !strcmp(t, "huge")) t_huge();
    if (all || !strcmp(t, "cancel")) t_cancel();
    if (all || !strcmp(t, "vfork")) t_vfork();
    if (all || !strcmp(t, "longjmp")) t_longjmp();
    if (all || !strcmp(t, "dlclose")) t_dlclose();
    if (all || !strcmp(t, "many")) t_many_threads(argc > 2 ? atoi(argv[2]) : 2000);
    if (!strcmp(t, "rlimit")) t_rlimit();
    if (!strcmp(t, "rlimit-threads")) t_rlimit_threads();
    if (!strcmp(t, "async-cancel")) t_async_cancel();
    return 0;
}
