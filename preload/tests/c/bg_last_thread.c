/* Issue found by robust20 (session 20): with HAKMEM_BACKGROUND=1 the purger thread kept a process
 * alive after its last application thread had exited with pthread_exit (or returned from a thread
 * that is not main), where glibc's own rule is "the last thread to exit calls exit(0)". Reduced
 * from CPython's test_threading test_3_join_in_forked_from_thread.
 *
 * 1. A worker thread forks; in the child (whose only thread, now the thread-group leader, is the
 *    copy of the worker) a new thread allocates (starting the child's purger), is joined, and the
 *    worker returns from its start routine: the child must exit 0.
 * 2. A child forked from main starts an allocating thread, and main calls pthread_exit; the
 *    thread returns: the child must exit 0.
 * Each child is waited for at most 10 s, then killed, and the program fails: a hang fails fast
 * instead of waiting for the harness's limit. The harness runs it with HAKMEM_BACKGROUND=1. */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *allocates(void *arg) {
    for (int i = 0; i < 1000; i++) {
        void *p = malloc((size_t)i * 13 + 1);
        CHECK(p);
        free(p);
    }
    if (arg) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

/* Waits for `pid` for at most 10 s; kills it on a hang. Returns its exit status or -1. */
static int wait_bounded(pid_t pid, const char *what) {
    for (int i = 0; i < 1000; i++) {
        int st = 0;
        pid_t r = waitpid(pid, &st, WNOHANG);
        CHECK(r >= 0);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "FAIL: %s: child %d still running after 10 s (its last thread exited)\n",
            what, (int)pid);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return -1;
}

static void *forking_worker(void *arg) {
    int *result = arg;
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, allocates, NULL) == 0);
        CHECK(pthread_join(t, NULL) == 0);
        return NULL; /* the child's last thread ends here */
    }
    *result = wait_bounded(pid, "fork from a worker thread");
    return NULL;
}

int main(void) {
    expect_allocator();
    free(malloc(100));

    int result = -1;
    pthread_t w;
    CHECK(pthread_create(&w, NULL, forking_worker, &result) == 0);
    CHECK(pthread_join(w, NULL) == 0);
    CHECK(result == 0);

    fflush(stdout);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, allocates, (void *)1) == 0);
        pthread_exit(NULL); /* main leaves first; the thread is the last one */
    }
    CHECK(wait_bounded(pid, "pthread_exit from main") == 0);

    printf("OK bg_last_thread\n");
    return 0;
}
