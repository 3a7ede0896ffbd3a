/* LD_PRELOAD shim that lets snmalloc start under valgrind (scripts/alloc-entry.sh).
 *
 * snmalloc's first act is to reserve its flat pagemap: one 256 GiB MAP_NORESERVE mapping
 * (16 bytes per 16 KiB chunk of a 48-bit address space), then MADV_DONTDUMP over all of it.
 * Valgrind 3.19's address-space manager refuses a client mapping that large, and snmalloc stops
 * with "Failed to initialise snmalloc" after ~1.9 M instructions (sessions 19-25). Under valgrind
 * the client's mappings all sit below 2^40, whose entries lie in the pagemap's first 1 GiB
 * (entry = base + (addr >> 14) * 16), so this shim shrinks any NORESERVE request of 64 GiB or
 * more to 4 GiB and skips the madvise over the full size. snmalloc's instructions are unchanged:
 * the pagemap is indexed, never walked. Not for native runs. json26, session 26.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/types.h>

#define HUGE_RESERVE ((size_t)64 << 30)
#define SHRUNK ((size_t)4 << 30)

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    static void *(*real)(void *, size_t, int, int, int, off_t);
    if (!real)
        real = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    if (len >= HUGE_RESERVE && (flags & MAP_NORESERVE))
        len = SHRUNK;
    return real(addr, len, prot, flags, fd, off);
}

int madvise(void *addr, size_t len, int advice) {
    static int (*real)(void *, size_t, int);
    if (!real)
        real = (int (*)(void *, size_t, int))dlsym(RTLD_NEXT, "madvise");
    if (len >= HUGE_RESERVE)
        return 0; /* MADV_DONTDUMP over the unshrunk size: a hint, nothing to do */
    return real(addr, len, advice);
}
