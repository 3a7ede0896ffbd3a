/* A program's own fork child handler that allocates, registered (in a constructor, before the
 * program's first allocation) before hakmem's: glibc runs child handlers in registration order, so
 * it runs in the child before hakmem's handler has told its locks that a fork happened. If another
 * thread of the parent held one of those locks at the fork instant, the handler's allocation must
 * still go through (the lock's holder does not exist in the child), not spin forever.
 *
 * A second thread allocates and frees 8 MiB blocks in a loop (each takes the large cache's lock
 * twice). To catch it inside the lock, the main thread parks it with a signal whose handler waits
 * on a pipe, then forks; the child's handler allocates 8 MiB blocks (the same lock). Repeated
 * ROUNDS times; a child that has not exited after 10 s hung: it is killed and the test fails.
 * Parking happens on hakmem only: glibc's fork takes its arena locks in the parent (its prepare
 * step), so a thread parked inside glibc's malloc deadlocks the fork itself; on glibc the rounds
 * fork without parking. */
#include "common.h"

#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define ROUNDS 60
#define BIG ((size_t)8 << 20)

static int early_key_was_first;
static sem_t parked;
static int park_pipe[2];
static volatile int stop;

/* Runs in each child, before hakmem's own child handler. */
static void child_handler(void) {
    for (int i = 0; i < 4; i++) {
        char *p = malloc(BIG);
        if (!p) _exit(3);
        p[0] = 1;
        p[BIG - 1] = 2;
        free(p);
    }
    static void *small[1024];
    for (int i = 0; i < 1024; i++) small[i] = malloc(64 + (size_t)(i % 200) * 160);
    for (int i = 0; i < 1024; i++) free(small[i]);
}

__attribute__((constructor(101))) static void register_early(void) {
    /* hakmem creates its exit key (and registers its fork handler) with its first heap: key 0
     * free here means nothing has allocated yet, so this handler is registered first. */
    pthread_key_t k;
    if (pthread_key_create(&k, NULL) == 0) {
        early_key_was_first = k == 0;
        pthread_key_delete(k);
    }
    pthread_atfork(NULL, NULL, child_handler);
}

static void on_park(int sig) {
    (void)sig;
    sem_post(&parked);
    char c;
    while (read(park_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
}

static void *churn(void *arg) {
    (void)arg;
    while (!stop) {
        char *p = malloc(BIG);
        CHECK(p);
        p[0] = 1;
        free(p);
    }
    return NULL;
}

int main(void) {
    int hk = expect_allocator();
    if (hk) CHECK(early_key_was_first);
    CHECK(pipe(park_pipe) == 0);
    CHECK(sem_init(&parked, 0, 0) == 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_park;
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
    for (int round = 0; round < ROUNDS; round++) {
        usleep(1000 + (unsigned)(round % 7) * 300);
        if (hk) {
            CHECK(pthread_kill(t, SIGUSR1) == 0);
            while (sem_wait(&parked) != 0) CHECK(errno == EINTR);
        }
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) _exit(0);
        if (hk) CHECK(write(park_pipe[1], "x", 1) == 1);
        int st = 0;
        int waited = 0;
        pid_t w;
        while ((w = waitpid(pid, &st, WNOHANG)) == 0) {
            usleep(10000);
            if (++waited == 1000) {
                kill(pid, SIGKILL);
                waitpid(pid, &st, 0);
                fprintf(stderr, "FAIL: round %d: the child hung in its fork handler's malloc\n",
                        round);
                exit(1);
            }
        }
        CHECK(w == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    stop = 1;
    CHECK(pthread_join(t, NULL) == 0);
    printf("OK atfork_early\n");
    return 0;
}
