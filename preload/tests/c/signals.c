/* Signals arriving in the middle of allocation: a profiling timer interrupts four allocating
 * threads thousands of times a second (its handler does not allocate, as POSIX requires, but
 * clobbers errno and restores it), and SIGUSR1 is sent to each thread in a loop. Every block
 * keeps its contents and nothing hangs or fails with EINTR. */
#include "common.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define THREADS 4

static atomic_long hits;
static atomic_int stop;

static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    errno = EINTR;
    atomic_fetch_add(&hits, 1);
    errno = saved;
}

static void *worker(void *arg) {
    uint32_t seed = (uint32_t)(uintptr_t)arg * 7 + 3;
    void *slot[256] = {0};
    size_t len[256] = {0};
    while (!atomic_load(&stop)) {
        uint32_t r = rnd(&seed);
        int i = (int)(r % 256);
        if (slot[i]) {
            CHECK(check_fill(slot[i], len[i], (uint32_t)i));
            free(slot[i]);
        }
        len[i] = (r % 32 == 0) ? 40000 + r % 200000 : r % 2000;
        slot[i] = (r & 1) ? malloc(len[i]) : calloc(1, len[i]);
        CHECK(slot[i]);
        fill(slot[i], len[i], (uint32_t)i);
    }
    for (int i = 0; i < 256; i++) free(slot[i]);
    return NULL;
}

int main(void) {
    expect_allocator();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGPROF, &sa, NULL) == 0);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
    struct itimerval it = {{0, 200}, {0, 200}};
    CHECK(setitimer(ITIMER_PROF, &it, NULL) == 0);

    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    /* At least 2,000 rounds, then on until more than 1,000 handlers ran: on a loaded machine the
     * workers run less often and a signal still pending when the next is sent is delivered once,
     * so a fixed round count proved nothing there (CI saw `hits > 1000` fail under load). The
     * deadline keeps a broken delivery from hanging the test; the check below then fails. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int k = 0;; k++) {
        for (int i = 0; i < THREADS; i++) pthread_kill(t[i], SIGUSR1);
        usleep(200);
        if (k >= 2000 && atomic_load(&hits) > 1000) break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 50) break;
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_PROF, &off, NULL);
    CHECK(atomic_load(&hits) > 1000);
    printf("OK signals\n");
    return 0;
}
