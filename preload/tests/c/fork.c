/* fork() from a multi-threaded parent whose threads keep allocating, freeing and creating
 * threads: the child (whose only thread is a copy of the forking one) must be able to allocate,
 * free blocks the parent's threads allocated, and start threads of its own. Every child is
 * killed by an alarm if it deadlocks (a lock inherited in the held state). */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define BUSY 4
#define FORKS 40

static volatile int stop;
static void *shared[64];
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;

static void *short_lived(void *arg) {
    void *p = malloc((size_t)(uintptr_t)arg);
    free(p);
    return NULL;
}

static void *busy(void *arg) {
    uint32_t seed = (uint32_t)(uintptr_t)arg + 17;
    void *mine[128] = {0};
    while (!stop) {
        for (int k = 0; k < 1000; k++) {
            uint32_t r = rnd(&seed);
            int i = (int)(r % 128);
            free(mine[i]);
            mine[i] = malloc((r % 64 == 0) ? 50000 + r % 50000 : r % 1000);
            CHECK(mine[i]);
        }
        /* hand some blocks to the shared table (freed by whoever replaces them, or the child) */
        pthread_mutex_lock(&shared_mu);
        int i = (int)(rnd(&seed) % 64);
        free(shared[i]);
        shared[i] = malloc(300);
        CHECK(shared[i]);
        fill(shared[i], 300, 11);
        pthread_mutex_unlock(&shared_mu);
        /* thread creation and exit (heap set-up and teardown) while others fork */
        pthread_t t;
        if (pthread_create(&t, NULL, short_lived, (void *)(uintptr_t)(rnd(&seed) % 2000)) == 0)
            pthread_join(t, NULL);
    }
    for (int i = 0; i < 128; i++) free(mine[i]);
    return NULL;
}

static void *child_thread(void *arg) {
    (void)arg;
    for (int i = 0; i < 1000; i++) {
        void *p = malloc((size_t)i * 7);
        CHECK(p);
        free(p);
    }
    return NULL;
}

static void child(void) {
    alarm(20);
    /* The program's own atfork handlers (registered after hakmem's) hold the table's lock
     * across fork, so the table is consistent here. */
    for (int i = 0; i < 64; i++) {
        if (shared[i]) CHECK(check_fill(shared[i], 300, 11));
        free(shared[i]);
        shared[i] = NULL;
    }
    void *p[1000];
    for (int i = 0; i < 1000; i++) {
        p[i] = malloc((size_t)i * 13 % 5000);
        CHECK(p[i]);
        fill(p[i], (size_t)i * 13 % 5000, (uint32_t)i);
    }
    for (int i = 0; i < 1000; i++) {
        CHECK(check_fill(p[i], (size_t)i * 13 % 5000, (uint32_t)i));
        free(p[i]);
    }
    pthread_t t[2];
    for (int i = 0; i < 2; i++) CHECK(pthread_create(&t[i], NULL, child_thread, NULL) == 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    fflush(stdout);
    _exit(0);
}

static void lock_shared(void) { pthread_mutex_lock(&shared_mu); }
static void unlock_shared(void) { pthread_mutex_unlock(&shared_mu); }
static void reinit_shared(void) { pthread_mutex_init(&shared_mu, NULL); }

int main(void) {
    expect_allocator();
    /* The program's own handlers hold the table's lock across fork (hakmem holds none); the
     * child handler reinitialises the lock. */
    CHECK(pthread_atfork(lock_shared, unlock_shared, reinit_shared) == 0);
    pthread_t t[BUSY];
    for (int i = 0; i < BUSY; i++) CHECK(pthread_create(&t[i], NULL, busy, (void *)(uintptr_t)i) == 0);
    for (int f = 0; f < FORKS; f++) {
        usleep(2000);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) child();
        int status = 0;
        CHECK(waitpid(pid, &status, 0) == pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "FAIL: child %d: %s %d\n", f, WIFSIGNALED(status) ? "signal" : "exit",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
            return 1;
        }
    }
    stop = 1;
    for (int i = 0; i < BUSY; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 64; i++) free(shared[i]);
    printf("OK fork\n");
    return 0;
}
