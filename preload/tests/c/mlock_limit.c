/* mlockall(MCL_CURRENT | MCL_FUTURE) under a locked-memory limit (session 25, real25): every new
 * mapping is then locked and charged in full against RLIMIT_MEMLOCK when it is made, slack
 * included. With 4 MiB of room left, glibc serves a small heap; hakmem's first SuperSlab was a
 * 4 MiB over-reservation (2 MiB + alignment slack), refused with EAGAIN, so every malloc returned
 * null (config::EXACT_MAP_FALLBACK maps exactly 2 MiB instead). As root the program first drops to
 * uid/gid 65534, since CAP_IPC_LOCK ignores the limit; prints "SKIP" and passes where it can
 * neither drop nor is unprivileged already. */
#include "common.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

int main(void) {
    expect_allocator();
    if (geteuid() == 0) {
        if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)) {
            printf("SKIP cannot drop root\nOK mlock_limit\n");
            return 0;
        }
    }
    if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
        printf("SKIP mlockall: %s\nOK mlock_limit\n", strerror(errno));
        return 0;
    }
    long have = status_kib("VmLck:");
    CHECK(have > 0);
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_MEMLOCK, &rl) == 0);
    /* 4 MiB of room: the start-up mappings (1 MiB of tables) and one 2 MiB SuperSlab fit, a
     * 4 MiB over-reservation on top of the tables does not. */
    rlim_t want = (rlim_t)(have + 4 * 1024) * 1024;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) want = rl.rlim_cur;
    rl.rlim_cur = want; /* lowering is always allowed */
    CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
    int fails = 0;
    size_t total = 0;
    static void *blocks[300];
    for (int i = 0; i < 300; i++) {
        size_t n = (size_t)16 << (i % 6); /* 16 .. 512 B: six classes */
        blocks[i] = malloc(n);
        if (!blocks[i]) { fails++; continue; }
        fill(blocks[i], n, (uint32_t)i);
        total += n;
    }
    for (int i = 0; i < 300; i++) {
        if (blocks[i]) CHECK(check_fill(blocks[i], (size_t)16 << (i % 6), (uint32_t)i));
        free(blocks[i]);
    }
    if (fails) {
        fprintf(stderr, "FAIL: %d of 300 mallocs returned null under mlockall with %ld KiB locked "
                        "and a %lu KiB limit\n", fails, have, (unsigned long)(want / 1024));
        return 1;
    }
    printf("%zu bytes\nOK mlock_limit\n", total);
    return 0;
}
