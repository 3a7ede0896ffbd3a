/* realloc growth of one large block: malloc(n MiB, argv[1]), both ends written, realloc to 2n,
 * the new end written; prints the peak RSS (VmHWM). Without the profiler hakmem moves the pages
 * (mremap, as glibc); with HAKMEM_PROF=1 a sampled block moved by copy before
 * config::SAMPLED_LARGE_MOVE (docs/benchmarks.md, "Session 13: robust14" and "large15"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
    size_t n = (size_t)atoi(argc > 1 ? argv[1] : "512") << 20;
    char *p = malloc(n);
    if (!p) return 1;
    p[0] = 1;
    p[n - 1] = 2;
    char *q = realloc(p, 2 * n);
    if (!q) return 1;
    q[2 * n - 1] = 3;
    free(q);
    char buf[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "VmHWM", 5)) fputs(buf, stdout);
    fclose(f);
    return 0;
}
