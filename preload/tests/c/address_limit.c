/* An address-space limit (RLIMIT_AS, `ulimit -v`): allocation fails with null and ENOMEM, never
 * aborts or hangs, and memory freed in one tier serves another.
 *
 * 1. In a child, under a soft limit of its address space plus 512 MiB: 40 MiB blocks until malloc
 *    returns null (errno ENOMEM), all freed; then 16 KiB blocks until null (a second child: 1 MiB
 *    blocks). They must get at least 3/4 of the bytes the 40 MiB blocks got: hakmem's large
 *    cache keeps freed large blocks mapped for the purge delay, and under a limit it must unmap
 *    them when a reservation is refused (config::OOM_RELEASE; before it, the 16 KiB blocks got
 *    about a quarter).
 * 2. At the limit, calloc, aligned_alloc, posix_memalign and realloc growth fail with ENOMEM too,
 *    and a failed realloc leaves its block intact.
 * 3. Once the limit is lifted, allocation works again.
 * Also: posix_memalign, aligned_alloc and memalign with every power-of-two alignment up to
 * 1 GiB (basic.c goes to 4 MiB), each block's alignment, usable size and both ends written. */
#include "common.h"

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)
#define MAX_BLOCKS 65536

static void *blocks[MAX_BLOCKS];

/* Bytes of address space the process has mapped now (VmSize). */
static size_t mapped_now(void) {
    FILE *f = fopen("/proc/self/status", "r");
    CHECK(f);
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmSize: %zu kB", &kib) == 1) break;
    fclose(f);
    CHECK(kib > 0);
    return kib << 10;
}

/* Allocates blocks of `size` until malloc returns null; returns how many it got. */
static int fill_until_null(size_t size) {
    int n = 0;
    for (;;) {
        CHECK(n < MAX_BLOCKS);
        errno = 0;
        char *p = malloc(size);
        if (!p) {
            CHECK(errno == ENOMEM);
            return n;
        }
        p[0] = 1;
        p[size - 1] = 2;
        blocks[n++] = p;
    }
}

static void release(int n) {
    for (int i = 0; i < n; i++) free(blocks[i]);
}

/* One phase, in a child process (the address space a tier keeps mapped for reuse must not carry
 * over to the next phase): 40 MiB blocks until null, all freed, then blocks of `size` until null;
 * they must get at least 3/4 of the bytes the 40 MiB blocks got. */
static void phase(size_t size) {
    int big = fill_until_null(40 * MIB);
    CHECK(big >= 8);
    release(big);
    int n = fill_until_null(size);
    if ((size_t)n * size < (size_t)big * 40 * MIB * 3 / 4) {
        fprintf(stderr, "FAIL: after freeing %d blocks of 40 MiB, only %d blocks of %zu bytes\n",
                big, n, size);
        exit(1);
    }

    /* At the limit (those blocks still live): every other entry point fails cleanly. */
    errno = 0;
    CHECK(calloc(1, 64 * MIB) == NULL && errno == ENOMEM);
    errno = 0;
    CHECK(aligned_alloc(MIB, 64 * MIB) == NULL && errno == ENOMEM);
    void *q = NULL;
    CHECK(posix_memalign(&q, 4096, 64 * MIB) == ENOMEM);
    char *r = malloc(100);
    if (r) {
        memset(r, 7, 100);
        errno = 0;
        CHECK(realloc(r, 64 * MIB) == NULL && errno == ENOMEM);
        for (int i = 0; i < 100; i++) CHECK(r[i] == 7);
        free(r);
    }
    release(n);
}

static void under_limit(void) {
    size_t sizes[] = {16 * 1024, MIB};
    for (int k = 0; k < 2; k++) {
        fflush(NULL);
        pid_t pid = fork();
        CHECK(pid >= 0);
        if (pid == 0) {
            struct rlimit lim;
            CHECK(getrlimit(RLIMIT_AS, &lim) == 0);
            size_t cur = mapped_now() + 512 * MIB;
            CHECK(lim.rlim_cur == RLIM_INFINITY || lim.rlim_cur > cur);
            lim.rlim_cur = cur;
            CHECK(setrlimit(RLIMIT_AS, &lim) == 0);
            phase(sizes[k]);
            /* Without the limit, allocation works again. */
            lim.rlim_cur = RLIM_INFINITY;
            CHECK(setrlimit(RLIMIT_AS, &lim) == 0 || lim.rlim_max != RLIM_INFINITY);
            void *p = malloc(100 * MIB);
            CHECK(p || lim.rlim_max != RLIM_INFINITY);
            free(p);
            fflush(NULL);
            _exit(0);
        }
        int st;
        CHECK(waitpid(pid, &st, 0) == pid);
        CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
}

static void big_alignments(void) {
    for (size_t a = 16; a <= ((size_t)1 << 30); a *= 2) {
        size_t sizes[] = {1, a / 2 + 3, a + 1};
        for (int k = 0; k < 3; k++) {
            size_t n = sizes[k];
            void *p = NULL;
            CHECK(posix_memalign(&p, a, n) == 0 && ((uintptr_t)p & (a - 1)) == 0);
            CHECK(malloc_usable_size(p) >= n);
            ((char *)p)[0] = 1;
            ((char *)p)[n - 1] = 2;
            free(p);
            p = aligned_alloc(a, n);
            CHECK(p && ((uintptr_t)p & (a - 1)) == 0);
            ((char *)p)[n - 1] = 3;
            free(p);
            p = memalign(a, n);
            CHECK(p && ((uintptr_t)p & (a - 1)) == 0 && malloc_usable_size(p) >= n);
            ((char *)p)[n - 1] = 4;
            free(p);
        }
    }
}

int main(void) {
    expect_allocator();
    under_limit();
    big_alignments();
    printf("OK address_limit\n");
    return 0;
}
