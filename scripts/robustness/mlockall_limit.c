/* gpg-agent's pattern (session 25, real25): mlockall(MCL_CURRENT | MCL_FUTURE) under the default
 * 8 MiB RLIMIT_MEMLOCK of an unprivileged user, then a small heap (2 MB in 64-byte .. 4 KiB
 * blocks). Run it as a user without CAP_IPC_LOCK, e.g.
 *   setpriv --reuid=65534 --regid=65534 --clear-groups env LD_PRELOAD=... ./mlockall_limit
 * glibc: "0 failures" (VmLck 4.4 MB); hakmem at 309ecd3: every malloc fails (the first SuperSlab's
 * 4 MiB mapping is refused with EAGAIN: a locked mapping past the limit). Exit 1 on any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
int main(void) {
    struct rlimit rl; getrlimit(RLIMIT_MEMLOCK, &rl);
    int r = mlockall(MCL_CURRENT | MCL_FUTURE);
    printf("memlock limit %lu KiB, mlockall %d (%s)\n", (unsigned long)rl.rlim_cur / 1024, r, r ? strerror(errno) : "ok");
    size_t total = 0; int fails = 0;
    for (int i = 0; i < 1000; i++) {
        size_t n = 64 + (i * 977) % 4000;
        void *p = malloc(n);
        if (!p) { fails++; continue; }
        memset(p, 1, n); total += n;
    }
    printf("allocated %zu bytes, %d failures\n", total, fails);
    FILE *f = getenv("SHOW_VMLCK") ? fopen("/proc/self/status", "r") : NULL;
    if (f) { char l[256]; while (fgets(l, sizeof l, f)) if (!strncmp(l, "VmLck", 5)) fputs(l, stdout); fclose(f); }
    return fails != 0;
}
