/* Stack depth of every allocator entry point (docs/design.md, "Stack depth").
 *
 * 1. Measured: on a thread whose 1 MiB stack this program maps, each path runs after the stack
 *    below the caller's frame was painted with a pattern; the deepest overwritten word is how far
 *    below its caller the path reached. Every path must stay within BOUND: the first call of a
 *    thread (its heap is made), small / medium / large malloc and free, calloc, realloc through
 *    every tier, the aligned calls and malloc_usable_size, frees of another thread's blocks,
 *    refills that adopt an exited thread's slabs, malloc_trim, and thread exit (its key
 *    destructor's flush, measured on a second painted thread).
 * 2. Used: threads with PTHREAD_STACK_MIN (16 KiB) stacks run the same paths and exit, and one
 *    of them frees and allocates in a signal handler on an alternate stack of the kernel's
 *    minimum plus BOUND.
 * The program then runs itself again with the profiler on and sampling often (HAKMEM_PROF=1,
 * HAKMEM_PROF_SAMPLE=512), so that sampled allocations (the stack walk and the record) and
 * sampled frees are measured too. Built with frame pointers so that the walk has frames.
 * 3. A third run measures the allocation that writes a dump a signal asked for while the
 *    profiler's lock was held (HAKMEM_PROF_DUMP, HAKMEM_PROF_SIGNAL): see pending_dump. */
#pragma GCC optimize("no-omit-frame-pointer")
#include "common.h"

#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Bytes below its caller's frame that any malloc/free/realloc path may touch (docs/design.md). */
#define BOUND 2048
#define PAINT 0xa5a5a5a5a5a5a5a5ull
#define BIG_STACK (1u << 20)
#define N 4096

static void *foreign[N];  /* allocated by the main thread, freed by the measuring thread */
static void *orphans[N];  /* blocks of an exited thread's slabs, freed after it exited */
static char *paint_lo;    /* the lowest painted byte of the current measuring thread */

/* Paints the stack between `paint_lo` and 256 bytes below this frame (the loop below pushes
 * nothing), runs `fn`, and returns how far below this frame the deepest write reached. */
static __attribute__((noinline)) size_t measure(void (*fn)(void *), void *arg) {
    char *here = __builtin_frame_address(0);
    volatile uint64_t *lo = (uint64_t *)(((uintptr_t)paint_lo + 7) & ~(uintptr_t)7);
    volatile uint64_t *hi = (uint64_t *)(((uintptr_t)here - 256) & ~(uintptr_t)7);
    for (volatile uint64_t *w = lo; w < hi; w++) *w = PAINT;
    fn(arg);
    volatile uint64_t *w = lo;
    while (w < hi && *w == PAINT) w++;
    return (size_t)(here - (char *)w);
}

/* ---- the paths ---------------------------------------------------------------------------- */

static void *slot[N];

static void *volatile sink;

static void first_call(void *a) {
    (void)a;
    CHECK((sink = malloc(24)));
    free(sink);
}

static void small(void *a) {
    (void)a;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < N; i++) CHECK((slot[i] = malloc(16 + (size_t)(i % 64) * 16)));
        for (int i = 0; i < N; i++) free(slot[(i * 7) % N]);
    }
}

static void medium(void *a) {
    (void)a;
    for (int i = 0; i < 256; i++) CHECK((slot[i] = malloc(20000 + (size_t)(i % 16) * 120000)));
    for (int i = 0; i < 256; i++) free(slot[i]);
}

static void large(void *a) {
    (void)a;
    for (int i = 0; i < 8; i++) CHECK((slot[i] = malloc((size_t)(8 + i) << 20)));
    for (int i = 0; i < 8; i++) free(slot[i]);
}

static void zeroed(void *a) {
    (void)a;
    size_t sizes[] = {8, 200, 1000, 30000, 500000, 5u << 20};
    for (int k = 0; k < 6; k++)
        for (int i = 0; i < 64; i++) CHECK((slot[i] = calloc(1, sizes[k])));
    for (int i = 0; i < 64; i++) free(slot[i]);
}

static void resize(void *a) {
    (void)a;
    for (int j = 0; j < 16; j++) {
        char *p = NULL;
        for (size_t n = 1; n <= (32u << 20); n *= 2) CHECK((p = realloc(p, n + (size_t)j)));
        for (size_t n = 16u << 20; n >= 1; n /= 2) CHECK((p = realloc(p, n)));
        free(p);
    }
}

static void aligned(void *a) {
    (void)a;
    size_t al[] = {16, 64, 4096, 65536, 1u << 21};
    for (int k = 0; k < 5; k++) {
        void *p = NULL;
        CHECK(posix_memalign(&p, al[k], 100 + al[k]) == 0);
        CHECK(malloc_usable_size(p) >= 100 + al[k]);
        free(p);
        CHECK((p = aligned_alloc(al[k], al[k] * 2)));
        CHECK(malloc_usable_size(p) >= al[k] * 2);
        free(p);
        CHECK((p = memalign(al[k], 3000)));
        free(p);
    }
}

static void free_foreign(void *a) {
    (void)a;
    for (int i = 0; i < N; i++) free(foreign[i]);
}

static void adopt(void *a) {
    (void)a;
    for (int i = 0; i < N; i++) CHECK((slot[i] = malloc(48)));
    for (int i = 0; i < N; i++) free(orphans[i]);
    for (int i = 0; i < N; i++) free(slot[i]);
}

static void trim(void *a) { (void)a; malloc_trim(0); }

/* Allocates and frees a bit of every tier and leaves some blocks cached, so that the thread's
 * exit has TLS lists and slabs to flush; keeps the blocks of `keep` for the caller. */
static void dirty(void *keep) {
    void **k = keep;
    for (int i = 0; i < 512; i++) {
        CHECK((slot[i] = malloc(16 + (size_t)(i % 64) * 16)));
        if (k) k[i] = malloc(48);
    }
    for (int i = 0; i < 256; i++) free(slot[i]);
    void *m = malloc(100000);
    CHECK(m);
    free(m);
}

struct path {
    const char *name;
    void (*fn)(void *);
};
static const struct path paths[] = {
    {"first call of a thread", first_call}, {"malloc/free small", small},
    {"malloc/free medium", medium},         {"malloc/free large", large},
    {"calloc", zeroed},                     {"realloc", resize},
    {"aligned, usable size", aligned},      {"free of another thread's", free_foreign},
    {"refill with adopt", adopt},           {"malloc_trim", trim},
};
#define PATHS (int)(sizeof paths / sizeof paths[0])
static size_t depth[PATHS + 1];

static void *orphaning(void *arg);

/* The first path runs before any thread has exited (an exited thread's heap is reused instead
 * of making one); then a thread allocates the orphans and exits, and the other paths run. */
static void *measuring(void *arg) {
    (void)arg;
    depth[0] = measure(paths[0].fn, NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, orphaning, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    for (int i = 1; i < PATHS; i++) depth[i] = measure(paths[i].fn, NULL);
    return NULL;
}

/* Thread exit: paints below its own frame after dirtying its heap, returns; the caller scans. */
static char *exit_frame;
static void *exiting(void *arg) {
    (void)arg;
    dirty(NULL);
    exit_frame = __builtin_frame_address(0);
    for (volatile uint64_t *w = (uint64_t *)paint_lo; (char *)w < exit_frame - 256; w++) *w = PAINT;
    return NULL;
}

static char *map_stack(pthread_attr_t *attr) {
    char *s = mmap(NULL, BIG_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(s != MAP_FAILED);
    CHECK(pthread_attr_init(attr) == 0);
    CHECK(pthread_attr_setstack(attr, s, BIG_STACK) == 0);
    paint_lo = s + 4096;
    return s;
}

static void on_painted_stack(void *(*fn)(void *)) {
    pthread_attr_t attr;
    char *s = map_stack(&attr);
    pthread_t t;
    CHECK(pthread_create(&t, &attr, fn, NULL) == 0);
    CHECK(pthread_join(t, NULL) == 0);
    if (fn == exiting) {
        volatile uint64_t *w = (uint64_t *)paint_lo;
        while ((char *)w < exit_frame && *w == PAINT) w++;
        depth[PATHS] = (size_t)(exit_frame - (char *)w);
    }
    pthread_attr_destroy(&attr);
    CHECK(munmap(s, BIG_STACK) == 0);
}

/* ---- small stacks -------------------------------------------------------------------------- */

static void on_signal(int sig) {
    (void)sig;
    /* Not async-signal-safe in general; here the signal is raised synchronously, outside any
     * allocator call, as programs that free from a handler on an alternate stack rely on. */
    free(slot[0]);
    slot[0] = malloc(100);
    void *m = malloc(70000);
    free(m);
}

static void *small_stack(void *arg) {
    (void)arg;
    for (int i = 0; i < PATHS; i++)
        if (paths[i].fn != free_foreign && paths[i].fn != adopt) paths[i].fn(NULL);
    dirty(NULL);
    size_t min = (size_t)sysconf(_SC_MINSIGSTKSZ);
    if (min < MINSIGSTKSZ) min = MINSIGSTKSZ;
    stack_t ss = {.ss_size = min + BOUND, .ss_flags = 0};
    CHECK((ss.ss_sp = malloc(ss.ss_size)));
    CHECK(sigaltstack(&ss, NULL) == 0);
    slot[0] = malloc(40);
    CHECK(raise(SIGUSR1) == 0);
    CHECK(raise(SIGUSR1) == 0);
    stack_t off = {.ss_flags = SS_DISABLE};
    CHECK(sigaltstack(&off, NULL) == 0);
    free(ss.ss_sp);
    free(slot[0]);
    return NULL;
}

static void run_on_small_stacks(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    pthread_attr_t attr;
    CHECK(pthread_attr_init(&attr) == 0);
    CHECK(pthread_attr_setstacksize(&attr, PTHREAD_STACK_MIN) == 0);
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, &attr, small_stack, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
    }
    pthread_attr_destroy(&attr);
}

/* Allocates `orphans` on a thread that then exits, leaving its slabs to be adopted. */
static void *orphaning(void *arg) {
    (void)arg;
    dirty(orphans);
    return NULL;
}

/* ---- a dump the next allocation writes ------------------------------------------------------
 *
 * HAKMEM_PROF_SIGNAL asks for a dump to HAKMEM_PROF_DUMP; when the signal lands while the
 * profiler's lock is held, the handler only marks the dump pending and the next allocation that
 * releases the lock writes it (prof::after_unlock). Here the lock is held by another thread's
 * signal-requested dump, blocked opening the FIFO at HAKMEM_PROF_DUMP until a reader comes; the
 * main thread's signal then finds it held. Then a reader is started and the measuring thread's
 * sampled allocations run on a painted stack: the first writes the pending dump. No thread may
 * allocate in between (a sampled allocation there would write it, unmeasured): every thread is
 * created first and waits on a semaphore. */

#define DUMP_FIFO "prof-dump" /* a FIFO; the exit's dump then writes a plain file there */
static sem_t go_holder, go_reader, go_measure, go_exit;
static volatile long holder_tid;
static size_t dump_depth;
static size_t dump_bytes;

/* Takes the profiler's lock: its signal's dump blocks in open() until the FIFO has a reader. */
static void *holder(void *arg) {
    (void)arg;
    holder_tid = syscall(SYS_gettid);
    CHECK(sem_wait(&go_holder) == 0);
    CHECK(raise(SIGUSR2) == 0);
    CHECK(sem_wait(&go_exit) == 0);
    return NULL;
}

/* Reads one dump from the FIFO (blocks until a writer opens it); counts its bytes. */
static void *reader(void *arg) {
    (void)arg;
    CHECK(sem_wait(&go_reader) == 0);
    int fd = open(DUMP_FIFO, O_RDONLY);
    CHECK(fd >= 0);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) dump_bytes += (size_t)n;
    CHECK(n == 0 && close(fd) == 0);
    return NULL;
}

/* The measured paths: the first sampled allocation writes the dump (at a mean interval of 512
 * bytes a 200-byte request is sampled now and then, a medium or large one always). */
static void sampled_small(void *a) {
    (void)a;
    for (int i = 0; i < 64; i++) CHECK((slot[i] = malloc(200 + (size_t)i * 8)));
    for (int i = 0; i < 64; i++) free(slot[i]);
}

static void sampled_medium(void *a) {
    (void)a;
    CHECK((sink = malloc(100000)));
    free(sink);
}

static void sampled_large(void *a) {
    (void)a;
    CHECK((sink = malloc(8u << 20)));
    free(sink);
}

static void (*dump_path)(void *);

static void *dump_measuring(void *arg) {
    (void)arg;
    void *warm = malloc(24); /* the thread's heap, made before the dump is pending */
    CHECK(warm);
    free(warm);
    CHECK(sem_wait(&go_measure) == 0);
    dump_depth = measure(dump_path, NULL);
    return NULL;
}

/* Whether thread `tid` sits in openat (syscall 257) — the holder's dump waiting for a reader
 * (the dump's other openat, of /proc/self/maps, does not wait). Reads /proc with no malloc. */
static int blocked_in_open(long tid) {
    char path[64], text[64];
    snprintf(path, sizeof path, "/proc/self/task/%ld/syscall", tid);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n <= 0) return -1;
    text[n] = 0;
    return strncmp(text, "257 ", 4) == 0;
}

/* One dump left pending, written by `path`'s first sampled allocation, measured. */
static void pending_dump_by(const char *name, void (*path)(void *)) {
    dump_path = path;
    holder_tid = 0;
    dump_bytes = 0;
    CHECK(sem_init(&go_holder, 0, 0) == 0 && sem_init(&go_reader, 0, 0) == 0);
    CHECK(sem_init(&go_measure, 0, 0) == 0 && sem_init(&go_exit, 0, 0) == 0);
    unlink(DUMP_FIFO);
    CHECK(mkfifo(DUMP_FIFO, 0600) == 0);
    pthread_attr_t attr;
    char *s = map_stack(&attr);
    pthread_t m, r, h;
    CHECK(pthread_create(&m, &attr, dump_measuring, NULL) == 0);
    CHECK(pthread_create(&r, NULL, reader, NULL) == 0);
    CHECK(pthread_create(&h, NULL, holder, NULL) == 0);
    while (!holder_tid) sched_yield();

    /* The holder's dump takes the lock and waits in open(); seen twice, 50 ms apart. */
    CHECK(sem_post(&go_holder) == 0);
    struct timespec tick = {0, 50 * 1000 * 1000};
    for (int seen = 0, tries = 0; seen < 2; tries++) {
        CHECK(tries < 200);
        nanosleep(&tick, NULL);
        int b = blocked_in_open(holder_tid);
        if (b < 0) { /* no /proc syscall file: wait long enough instead */
            nanosleep(&tick, NULL), nanosleep(&tick, NULL);
            break;
        }
        seen = b ? seen + 1 : 0;
    }
    CHECK(raise(SIGUSR2) == 0); /* the lock is held: the dump is left pending */

    /* Lets the holder's dump finish (it releases the lock; nothing allocates). */
    int fd = open(DUMP_FIFO, O_RDONLY);
    CHECK(fd >= 0);
    char buf[4096];
    ssize_t n;
    size_t first = 0;
    while ((n = read(fd, buf, sizeof buf)) > 0) first += (size_t)n;
    CHECK(n == 0 && close(fd) == 0 && first > 0);

    CHECK(sem_post(&go_reader) == 0);
    CHECK(sem_post(&go_measure) == 0);
    CHECK(pthread_join(m, NULL) == 0);
    /* Unblocks the reader if no dump came (its open then sees this writer, and EOF). */
    fd = open(DUMP_FIFO, O_WRONLY | O_NONBLOCK);
    if (fd >= 0) close(fd);
    CHECK(pthread_join(r, NULL) == 0);
    CHECK(sem_post(&go_exit) == 0);
    CHECK(pthread_join(h, NULL) == 0);
    pthread_attr_destroy(&attr);
    CHECK(munmap(s, BIG_STACK) == 0);
    /* The exit's dump then writes a plain file here. */
    CHECK(unlink(DUMP_FIFO) == 0);

    CHECK(sem_destroy(&go_holder) == 0 && sem_destroy(&go_reader) == 0);
    CHECK(sem_destroy(&go_measure) == 0 && sem_destroy(&go_exit) == 0);

    printf("pending dump: %zu bytes written by a %s allocation that reached %zu bytes\n",
           dump_bytes, name, dump_depth);
    if (dump_bytes == 0) fprintf(stderr, "FAIL: the %s allocation wrote no dump\n", name);
    if (dump_depth > BOUND)
        fprintf(stderr, "FAIL: the %s allocation writing the pending dump reached %zu bytes "
                        "below its caller (bound %d)\n", name, dump_depth, BOUND);
    CHECK(dump_bytes > 0 && dump_depth <= BOUND);
}

static void pending_dump(void) {
    /* The profiler installs its handler when the process starts (its first allocation); a build
     * without the `profile` feature installs none (and says so): nothing to measure then. */
    void *p = malloc(8);
    CHECK(p);
    free(p);
    struct sigaction old;
    CHECK(sigaction(SIGUSR2, NULL, &old) == 0);
    if (!(old.sa_flags & SA_SIGINFO) && old.sa_handler == SIG_DFL) {
        printf("pending dump: skipped (no HAKMEM_PROF_SIGNAL handler: built without the profiler)\n");
        return;
    }
    pending_dump_by("small", sampled_small);
    pending_dump_by("medium", sampled_medium);
    pending_dump_by("large", sampled_large);
}

/* Runs this program again as `mode` with the profiler's environment; checks it succeeded. */
static void rerun(char **argv, const char *mode) {
    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("HAKMEM_PROF", "1", 1);
        setenv("HAKMEM_PROF_SAMPLE", "512", 1);
        if (strcmp(mode, "dumping") == 0) {
            setenv("HAKMEM_PROF_DUMP", DUMP_FIFO, 1);
            setenv("HAKMEM_PROF_SIGNAL", "12", 1); /* SIGUSR2 */
        }
        execl("/proc/self/exe", argv[0], mode, (char *)NULL);
        _exit(127);
    }
    int st;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(int argc, char **argv) {
    int hk = expect_allocator();
    int profiled = argc > 1 && strcmp(argv[1], "profiled") == 0;
    if (argc > 1 && strcmp(argv[1], "dumping") == 0) {
        CHECK(hk && SIGUSR2 == 12);
        pending_dump();
        return 0;
    }
    for (int i = 0; i < N; i++) CHECK((foreign[i] = malloc(16 + (size_t)(i % 32) * 8)));
    for (int i = 512; i < N; i++) CHECK((orphans[i] = malloc(48)));
    /* Every entry point called once first: the measured calls must not include the dynamic
     * linker's lazy binding (it saves the vector registers on the stack: ~3 KiB). */
    void *p = calloc(1, 8);
    CHECK((p = realloc(p, 100)) && malloc_usable_size(p) >= 100);
    free(p);
    CHECK(posix_memalign(&p, 64, 64) == 0);
    free(p);
    CHECK((p = aligned_alloc(64, 64)));
    free(p);
    CHECK((p = memalign(64, 64)));
    free(p);
    malloc_trim(0);

    on_painted_stack(measuring);
    on_painted_stack(exiting);
    int over = 0;
    for (int i = 0; i <= PATHS; i++) {
        const char *name = i < PATHS ? paths[i].name : "thread exit";
        printf("%s%-28s %5zu bytes\n", profiled ? "profiled " : "", name, depth[i]);
        /* glibc's own paths are printed, not held to the bound (its calloc, realloc, aligned
         * calls and malloc_trim reach ~3.3 KiB). */
        if (hk && depth[i] > BOUND) {
            fprintf(stderr, "FAIL: %s reached %zu bytes below its caller (bound %d)\n", name,
                    depth[i], BOUND);
            over = 1;
        }
    }
    CHECK(!over);
    run_on_small_stacks();

    if (hk && !profiled) {
        /* Again with the profiler on (read when the process starts), then the pending dump. */
        rerun(argv, "profiled");
        rerun(argv, "dumping");
    }
    if (!profiled) printf("OK small_stacks\n");
    return 0;
}
