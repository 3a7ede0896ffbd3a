/* The two clocks every throughput program reports by (scripts/throughput.sh). */
#ifndef THROUGHPUT_CLOCK_H
#define THROUGHPUT_CLOCK_H

#include <sys/resource.h>
#include <time.h>

/* CPU seconds (user + system) of the whole process so far. */
static double cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e-6;
}

/* Wall seconds on the monotonic clock. */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#endif
