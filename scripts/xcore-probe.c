// The host's cache-line transfer time between CPU 0 and CPU 1 (xm26): two threads, pinned one
// to each CPU, pass one atomic word back and forth; prints the median of 9 bursts of 20,000
// round trips in ns. On this 2-vCPU VM it reads ~100 ns when the hypervisor places the two
// vCPUs near each other and ~390-490 ns when it places them apart, and the placement changes
// from one minute to the next; scripts/xmalloc-modes.py runs it beside each xmalloc run.
// Run it SCHED_FIFO (`chrt -f 10`) on a loaded host, or a preempted thread reads as latency.
// Build: cc -O2 -pthread scripts/xcore-probe.c -o /tmp/xcore-probe
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { N = 20000, BURSTS = 9 };
static _Atomic long flag __attribute__((aligned(64)));

static void *pong(void *arg) {
    (void)arg;
    for (long i = 0; i < (long)BURSTS * N; i++) {
        while (flag != 2 * i + 1) {
        }
        flag = 2 * i + 2;
    }
    return NULL;
}

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(void) {
    cpu_set_t one, zero;
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    CPU_ZERO(&zero);
    CPU_SET(0, &zero);
    // The partner starts on CPU 1: created on this thread's CPU at the same real-time priority,
    // it would wait behind this thread's spin.
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    pthread_t t;
    if (pthread_create(&t, &attr, pong, NULL) != 0) {
        perror("xcore-probe: pthread_create");
        return 1;
    }
    pthread_setaffinity_np(pthread_self(), sizeof zero, &zero);
    double burst[BURSTS];
    long k = 0;
    for (int b = 0; b < BURSTS; b++) {
        double t0 = now_ns();
        for (int i = 0; i < N; i++, k++) {
            flag = 2 * k + 1;
            while (flag != 2 * k + 2) {
            }
        }
        burst[b] = (now_ns() - t0) / N;
    }
    pthread_join(t, NULL);
    qsort(burst, BURSTS, sizeof burst[0], cmp);
    printf("%.1f\n", burst[BURSTS / 2]);
    return 0;
}
