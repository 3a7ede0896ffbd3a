/* Odd-but-legal uses of the C API that real libraries make, each printing an allocator-independent
 * line that tests/preload.rs (`c_odd_api_uses_match_glibc`) compares with a run on glibc's malloc
 * (session 25, real25; scripts/real-toolchains.sh runs it in every mode): pthread_atfork handlers that allocate and free (registered after the
 * allocator's own), fork from many threads at once, vfork + exec and posix_spawn while threads
 * allocate, siglongjmp out of SIGSEGV/SIGUSR1 handlers between allocations, mallopt's parameters
 * (the preload does not export mallopt: glibc's answers), reallocarray overflow, memalign family
 * with odd alignments, malloc_usable_size growth, dlopen/dlclose of a library that allocates in
 * its constructor and destructor and hands blocks across (argv[1], odd_lib.c), while three threads
 * allocate and free throughout. Every loop is bounded; fork children arm an alarm. */
#include "common.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static atomic_int stop;
static void *churn(void *arg) {
    uint32_t s = (uint32_t)(uintptr_t)arg * 2654435761u + 1;
    void *slot[128] = {0};
    long n = 0;
    while (!atomic_load(&stop)) {
        s = s * 1103515245u + 12345u;
        int i = (s >> 8) % 128;
        free(slot[i]);
        size_t sz = (s >> 16) % 5 == 0 ? (s >> 12) % 300000 : (s >> 12) % 600;
        slot[i] = malloc(sz + 1);
        if (!slot[i]) abort();
        memset(slot[i], i, sz + 1 < 64 ? sz + 1 : 64);
        n++;
    }
    for (int i = 0; i < 128; i++) free(slot[i]);
    return (void *)n;
}

static __thread void *held[64]; /* per thread: six threads fork at once */
static atomic_int prepares, parents;
static void prep(void) { for (int i = 0; i < 64; i++) held[i] = malloc(32 + i * 97); atomic_fetch_add(&prepares, 1); }
static void in_parent(void) { for (int i = 0; i < 64; i++) { free(held[i]); held[i] = 0; } atomic_fetch_add(&parents, 1); }
static void in_child(void) {
    for (int i = 0; i < 64; i++) { free(held[i]); held[i] = 0; }
    void *p = malloc(200000); memset(p, 1, 200000); free(p);
}

static void *forker(void *arg) {
    int bad = 0;
    for (int k = 0; k < 15; k++) {
        pid_t pid = fork();
        if (pid == 0) {
            alarm(20);
            void *v[300];
            for (int i = 0; i < 300; i++) { v[i] = malloc(i * 37 + 1 + (i % 50 == 0 ? 200000 : 0)); memset(v[i], 7, i * 37 + 1); }
            for (int i = 0; i < 300; i++) free(v[i]);
            pthread_t t; void *r;
            atomic_store(&stop, 0);
            pthread_create(&t, 0, churn, (void *)9); usleep(1000); atomic_store(&stop, 1); pthread_join(t, &r);
            _exit((int)(uintptr_t)arg);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != (int)(uintptr_t)arg) bad++;
    }
    return (void *)(uintptr_t)bad;
}

static sigjmp_buf jb;
static volatile char *guard;
static void on_sig(int sig) { siglongjmp(jb, sig); }

int main(int argc, char **argv) {
    expect_allocator();
    setvbuf(stdout, 0, _IONBF, 0);
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], 0, churn, (void *)(uintptr_t)(i + 1));

    /* pthread_atfork handlers that allocate, fork from 6 threads at once */
    pthread_atfork(prep, in_parent, in_child);
    pthread_t f[6];
    for (int i = 0; i < 6; i++) pthread_create(&f[i], 0, forker, (void *)(uintptr_t)(i + 1));
    long bad = 0;
    for (int i = 0; i < 6; i++) { void *r; pthread_join(f[i], &r); bad += (long)(uintptr_t)r; }
    printf("fork-many-threads: bad children %ld, prepares %d, parents %d\n", bad, atomic_load(&prepares), atomic_load(&parents));

    /* vfork + exec and posix_spawn while the churn threads run */
    int vbad = 0, sbad = 0;
    for (int k = 0; k < 100; k++) {
        pid_t pid = vfork();
        if (pid == 0) { char *a[] = {"/bin/true", 0}; execve(a[0], a, environ); _exit(127); }
        int st; if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) vbad++;
        char *a[] = {"/bin/sh", "-c", "exit 3", 0};
        posix_spawn_file_actions_t fa; posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", 1, 0);
        posix_spawnattr_t at; posix_spawnattr_init(&at);
        posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | (k % 2 ? POSIX_SPAWN_USEVFORK : 0));
        sigset_t none; sigemptyset(&none); posix_spawnattr_setsigmask(&at, &none);
        if (posix_spawn(&pid, a[0], &fa, &at, a, environ) || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 3) sbad++;
        posix_spawn_file_actions_destroy(&fa); posix_spawnattr_destroy(&at);
    }
    printf("vfork-exec: bad %d, posix_spawn: bad %d\n", vbad, sbad);

    /* siglongjmp out of handlers between allocations */
    struct sigaction sa = {0};
    sa.sa_handler = on_sig; sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, 0); sigaction(SIGUSR1, &sa, 0);
    guard = mmap(0, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int jumps = 0; void *keep[100] = {0};
    for (volatile int k = 0; k < 2000; k++) {
        int sig = sigsetjmp(jb, 1);
        if (sig) { jumps++; continue; }
        free(keep[k % 100]);
        keep[k % 100] = malloc((k * 131) % 70000 + 1);
        if (k % 2) guard[k % 4096] = 1; else raise(SIGUSR1);
    }
    for (int i = 0; i < 100; i++) free(keep[i]);
    printf("siglongjmp: %d jumps\n", jumps);

    /* mallopt: glibc's own answers (the preload does not export it) */
    int params[] = {M_MXFAST, M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD, M_MMAP_MAX, M_CHECK_ACTION, M_PERTURB, M_ARENA_TEST, M_ARENA_MAX};
    printf("mallopt:");
    for (unsigned i = 0; i < sizeof params / sizeof *params; i++) printf(" %d", mallopt(params[i], params[i] == M_PERTURB ? 0 : 64));
    printf("\n");
    void *m = malloc(100); memset(m, 0, 100);
    printf("after mallopt malloc zero byte 99: %d\n", ((unsigned char *)m)[99]); free(m);

    /* reallocarray overflow, memalign family, usable size */
    errno = 0; static volatile size_t big = SIZE_MAX / 2; void *ra = reallocarray(0, big, 3);
    printf("reallocarray overflow: %s errno %s\n", ra ? "ptr" : "null", errno == ENOMEM ? "ENOMEM" : "other");
    void *ok = reallocarray(0, 1000, 8); ok = reallocarray(ok, 2000, 8); printf("reallocarray grow usable>=16000: %d\n", malloc_usable_size(ok) >= 16000); free(ok);
    int alok = 1;
    for (size_t a = 8; a <= (1u << 22); a <<= 1) {
        void *p = memalign(a, a * 3 + 5), *q = aligned_alloc(a, a * 2), *r = valloc(a + 1), *s = pvalloc(a + 1); void *u = 0;
        if (posix_memalign(&u, a, 7)) alok = 0;
        if (((uintptr_t)p | (uintptr_t)q | (uintptr_t)u) & (a - 1)) alok = 0;
        if (((uintptr_t)r | (uintptr_t)s) & 4095) alok = 0;
        if (malloc_usable_size(p) < a * 3 + 5 || malloc_usable_size(s) < 4096) alok = 0;
        p = realloc(p, a * 5); memset(p, 1, a * 5);
        free(p); free(q); free(r); free(s); free(u);
    }
    printf("memalign family 8..4 MiB: %s\n", alok ? "ok" : "BAD");
    char *g = malloc(5); size_t us = malloc_usable_size(g); memset(g, 'a', us); g = realloc(g, us); printf("realloc to usable keeps bytes: %d\n", g[us - 1] == 'a'); free(g);
    printf("usable(NULL) %zu\n", malloc_usable_size(0));

    /* dlopen/dlclose loop of a library that allocates in its ctor/dtor */
    if (argc > 1) {
        long cross = 0;
        for (int k = 0; k < 300; k++) {
            void *h = dlopen(argv[1], RTLD_NOW | (k % 3 == 0 ? RTLD_GLOBAL : RTLD_LOCAL));
            if (!h) { printf("dlopen: %s\n", dlerror()); return 1; }
            char *(*take)(char *) = (char *(*)(char *))dlsym(h, "odd_take");
            char *mine = malloc(1000 + k); strcpy(mine, "from main");
            char *theirs = take(mine); /* the library keeps `mine`, frees it in its dtor */
            dlclose(h);
            cross += strlen(theirs);
            free(theirs);
        }
        printf("dlopen/dlclose: %ld bytes crossed\n", cross);
    }
    atomic_store(&stop, 1);
    long n = 0;
    for (int i = 0; i < 3; i++) { void *r; pthread_join(t[i], &r); n += r != 0; }
    printf("churn threads: %ld ran\n", n);
    printf("OK odd_api\n");
    return 0;
}
