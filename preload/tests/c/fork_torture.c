/* Fork torture (issue 12): while worker threads allocate, free each other's blocks, create and
 * exit threads and do stdio that allocates under FILE locks (getline, open_memstream, fprintf,
 * fflush(NULL)), two threads fork in a loop and a third forks from a signal handler. Every child
 * allocates, frees blocks the parent's threads allocated, uses stdio, starts threads and exits;
 * each arms an alarm, so a hang kills it (and fails the run). Bounded: a fixed number of forks,
 * then the workers stop. At the end the parent frees everything, trims, and checks that its
 * resident memory came back to where it was before the torture (no leak in the parent).
 *
 * The signal handler interrupts a thread that does not allocate (a fork from a handler that
 * interrupted malloc is undefined for every allocator, glibc's own included: its atfork handler
 * would wait on the arena lock the interrupted malloc holds). tests/fork.rs forces the harder
 * cases one by one. */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define SLOTS 256
#define HANDOFF 64
#define HANDOFF_SIZE 300
#define FORKS_PER_FORKER 25
#define SIGNAL_FORKS 20
#define LONG_LINE 20000

static atomic_int stop;
static _Atomic(void *) handoff[HANDOFF];
static atomic_int children_done, children_failed;
static atomic_int signal_forks_done;
static FILE *shared_out;
static char *long_text; /* LONG_LINE bytes, then "\n" */

#define CHILD_CHECK(e)                                                      \
    do {                                                                    \
        if (!(e)) {                                                         \
            static const char m[] = "FAIL child: " #e "\n";                 \
            ssize_t w_ = write(2, m, sizeof m - 1);                         \
            (void)w_;                                                       \
            _exit(1);                                                       \
        }                                                                   \
    } while (0)

static void *child_thread(void *arg) {
    (void)arg;
    for (int i = 1; i < 800; i++) {
        void *p = malloc((size_t)i * 5);
        CHILD_CHECK(p);
        fill(p, (size_t)i * 5, (uint32_t)i);
        CHILD_CHECK(check_fill(p, (size_t)i * 5, (uint32_t)i));
        free(p);
    }
    return NULL;
}

/* What every child does, then _exit. */
static void child_work(void) {
    alarm(20);
    for (int i = 0; i < HANDOFF; i++) {
        void *p = atomic_exchange(&handoff[i], NULL);
        if (p) {
            CHILD_CHECK(check_fill(p, HANDOFF_SIZE, 5));
            free(p);
        }
    }
    void *mine[400];
    for (int i = 0; i < 400; i++) {
        size_t n = (i % 50 == 0) ? 70000 + (size_t)i * 100 : (size_t)i * 37 % 6000 + 1;
        mine[i] = malloc(n);
        CHILD_CHECK(mine[i]);
        fill(mine[i], n, (uint32_t)i);
    }
    for (int i = 0; i < 400; i++) {
        size_t n = (i % 50 == 0) ? 70000 + (size_t)i * 100 : (size_t)i * 37 % 6000 + 1;
        CHILD_CHECK(check_fill(mine[i], n, (uint32_t)i));
        free(mine[i]);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    CHILD_CHECK(m);
    for (int i = 0; i < 200; i++) fprintf(m, "%d %s\n", i, "child stdio through the allocator");
    CHILD_CHECK(fclose(m) == 0 && len > 200 * 30);
    free(buf);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) CHILD_CHECK(pthread_create(&t[i], NULL, child_thread, NULL) == 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    _exit(0);
}

static void reap(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        atomic_fetch_add(&children_done, 1);
    else
        atomic_fetch_add(&children_failed, 1);
}

static void fork_once(void) {
    pid_t pid = fork();
    if (pid == 0) child_work();
    if (pid < 0) {
        atomic_fetch_add(&children_failed, 1);
        return;
    }
    reap(pid);
}

static void *short_lived(void *arg) {
    size_t n = (size_t)(uintptr_t)arg;
    void *p = malloc(n);
    CHECK(p);
    fill(p, n, 3);
    CHECK(check_fill(p, n, 3));
    free(p);
    return NULL;
}

/* getline's shape: the FILE lock held while the line buffer grows. */
static void read_long_line(void) {
    FILE *in = fmemopen(long_text, LONG_LINE + 1, "r");
    CHECK(in);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, in);
    CHECK(got == LONG_LINE + 1);
    free(line);
    fclose(in);
}

static void *worker(void *arg) {
    uint32_t seed = (uint32_t)(uintptr_t)arg * 977 + 1;
    void *slot[SLOTS] = {0};
    size_t len[SLOTS] = {0};
    for (unsigned it = 0; !atomic_load(&stop); it++) {
        for (int k = 0; k < 200; k++) {
            uint32_t r = rnd(&seed);
            int i = (int)(r % SLOTS);
            if (slot[i]) {
                CHECK(check_fill(slot[i], len[i], (uint32_t)i));
                free(slot[i]);
            }
            len[i] = (r % 97 == 0) ? 40000 + r % 100000 : r % 1500 + 1;
            slot[i] = malloc(len[i]);
            CHECK(slot[i]);
            fill(slot[i], len[i], (uint32_t)i);
        }
        /* cross-thread frees: take another thread's block, leave one of ours */
        void *mine = malloc(HANDOFF_SIZE);
        CHECK(mine);
        fill(mine, HANDOFF_SIZE, 5);
        void *theirs = atomic_exchange(&handoff[rnd(&seed) % HANDOFF], mine);
        if (theirs) {
            CHECK(check_fill(theirs, HANDOFF_SIZE, 5));
            free(theirs);
        }
        switch (it % 8) {
        case 0:
            read_long_line();
            break;
        case 1:
            fprintf(shared_out, "%u %.*s\n", it, 200, long_text);
            break;
        case 2:
            fflush(NULL);
            break;
        case 3: {
            char *buf = NULL;
            size_t n = 0;
            FILE *m = open_memstream(&buf, &n);
            CHECK(m);
            for (int j = 0; j < 50; j++) fprintf(m, "%d:%s ", j, "worker");
            fclose(m);
            free(buf);
            break;
        }
        case 4: {
            pthread_t t;
            CHECK(pthread_create(&t, NULL, short_lived, (void *)(uintptr_t)(rnd(&seed) % 5000 + 1)) ==
                  0);
            pthread_join(t, NULL);
            break;
        }
        default:
            break;
        }
    }
    for (int i = 0; i < SLOTS; i++) free(slot[i]);
    return NULL;
}

static void *forker(void *arg) {
    (void)arg;
    for (int i = 0; i < FORKS_PER_FORKER; i++) fork_once();
    return NULL;
}

/* The signal target: it never allocates, so the handler's fork never interrupts malloc. */
static atomic_int target_ready;
static void on_usr1(int sig) {
    (void)sig;
    int saved = errno;
    fork_once();
    atomic_fetch_add(&signal_forks_done, 1);
    errno = saved;
}
static void *signal_target(void *arg) {
    (void)arg;
    atomic_store(&target_ready, 1);
    while (atomic_load(&signal_forks_done) < SIGNAL_FORKS) {
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    CHECK(f);
    long size = 0, resident = 0;
    CHECK(fscanf(f, "%ld %ld", &size, &resident) == 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(void) {
    int hk = expect_allocator();
    shared_out = fopen("/dev/null", "w");
    CHECK(shared_out);
    long_text = malloc(LONG_LINE + 2);
    CHECK(long_text);
    memset(long_text, 'x', LONG_LINE);
    long_text[LONG_LINE] = '\n';
    long_text[LONG_LINE + 1] = 0;
    malloc_trim(0);
    long before = rss_kib();

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

    pthread_t w[WORKERS], f, target;
    for (int i = 0; i < WORKERS; i++)
        CHECK(pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    CHECK(pthread_create(&f, NULL, forker, NULL) == 0);
    CHECK(pthread_create(&target, NULL, signal_target, NULL) == 0);
    while (!atomic_load(&target_ready)) sched_yield();
    for (int i = 0; i < FORKS_PER_FORKER; i++) {
        fork_once();
        if (i < SIGNAL_FORKS) {
            int want = i + 1;
            pthread_kill(target, SIGUSR1);
            while (atomic_load(&signal_forks_done) < want) sched_yield();
        }
    }
    pthread_join(f, NULL);
    pthread_join(target, NULL);
    atomic_store(&stop, 1);
    for (int i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
    for (int i = 0; i < HANDOFF; i++) free(atomic_exchange(&handoff[i], NULL));
    fclose(shared_out);
    free(long_text);

    int expected = 2 * FORKS_PER_FORKER + SIGNAL_FORKS;
    if (atomic_load(&children_failed) != 0 || atomic_load(&children_done) != expected) {
        fprintf(stderr, "FAIL: %d children failed, %d of %d done\n", atomic_load(&children_failed),
                atomic_load(&children_done), expected);
        return 1;
    }
    malloc_trim(0);
    long after = rss_kib();
    /* hakmem: everything the torture allocated is back (the kept-committed SuperSlabs and thread
     * heaps are allowed for); glibc keeps its arenas, so only hakmem is held to this. */
    if (hk && after - before > 4 * 1024) {
        fprintf(stderr, "FAIL: resident memory grew from %ld KiB to %ld KiB\n", before, after);
        return 1;
    }
    printf("OK fork_torture\n");
    return 0;
}
