/* mlockall(MCL_CURRENT | MCL_FUTURE) under a locked-memory limit (session 25, real25): every new
 * mapping is then locked and charged in full against RLIMIT_MEMLOCK when it is made, slack
 * included. With 4 MiB of room left, glibc serves a small heap; hakmem's first SuperSlab was a
 * 4 MiB over-reservation (2 MiB + alignment slack), refused with EAGAIN, so every malloc returned
 * null (config::EXACT_MAP_FALLBACK maps exactly 2 MiB instead). As root the program first drops to
 * uid/gid 65534, since CAP_IPC_LOCK ignores the limit; prints "SKIP" and passes where it can
 * neither drop nor is unprivileged already.
 *
 * Then (session 26, lock26) it runs itself again as `mlock_limit mixed`: a fresh process that
 * locks its memory before its first malloc under an unprivileged user's default 8 MiB limit and
 * makes 1,000 mallocs of 64 B .. 4 KiB (2 MB live; scripts/robustness/mlockall_limit.c, gpg-agent's
 * pattern). glibc serves all; hakmem before session 26 returned null for 513 of them (77 classes
 * of 64 KiB slabs, and a 1 MiB metadata chunk, need more SuperSlabs than fit;
 * config::LOCKED_COARSE_CLASSES, META_RELEASE_UNUSED, FULL_CLASS_PROMOTE). */
#include "common.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* Drops root (CAP_IPC_LOCK ignores the limit); false if it cannot. */
static int drop_root(void) {
    if (geteuid() != 0) return 1;
    return !(setgroups(0, NULL) || setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534));
}

/* `mlock_limit mixed`: no malloc before mlockall; 8 MiB limit; 1,000 mixed mallocs. */
static int mixed(void) {
    if (!drop_root()) {
        printf("SKIP mixed: cannot drop root\n");
        return 0;
    }
    struct rlimit rl;
    CHECK(getrlimit(RLIMIT_MEMLOCK, &rl) == 0);
    const rlim_t want = (rlim_t)8 << 20;
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < want) {
        printf("SKIP mixed: memlock limit %lu KiB is below 8 MiB\n", (unsigned long)(rl.rlim_cur >> 10));
        return 0;
    }
    rl.rlim_cur = want; /* lowering is always allowed */
    CHECK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
    if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
        fprintf(stderr, "FAIL: mlockall under an 8 MiB limit: %s\n", strerror(errno));
        return 1;
    }
    enum { N = 1000 };
    static void *blocks[N];
    int fails = 0;
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        size_t n = 64 + ((size_t)i * 977) % 4000;
        blocks[i] = malloc(n);
        if (!blocks[i]) { fails++; continue; }
        fill(blocks[i], n, (uint32_t)i);
        total += n;
    }
    for (int i = 0; i < N; i++) {
        if (blocks[i]) CHECK(check_fill(blocks[i], 64 + ((size_t)i * 977) % 4000, (uint32_t)i));
    }
    long locked = status_kib("VmLck:");
    for (int i = 0; i < N; i++) free(blocks[i]);
    if (fails) {
        fprintf(stderr, "FAIL: %d of %d mixed mallocs (64 B .. 4 KiB) returned null under mlockall "
                        "with an 8 MiB limit (%zu bytes served, %ld KiB locked)\n", fails, N, total, locked);
        return 1;
    }
    printf("mixed: %d mallocs, %zu bytes, %ld KiB locked\n", N, total, locked);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "mixed")) return mixed();
    expect_allocator();
    /* The mixed phase in a fresh process of its own (forked before this one locks anything). */
    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        execl("/proc/self/exe", argv[0], "mixed", (char *)NULL);
        _exit(127);
    }
    int st = 0;
    CHECK(waitpid(child, &st, 0) == child);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "FAIL: the mixed phase exited with status 0x%x\n", st);
        return 1;
    }
    if (!drop_root()) {
        printf("SKIP cannot drop root\nOK mlock_limit\n");
        return 0;
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
