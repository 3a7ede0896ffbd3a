/* Every power-of-two alignment 8 .. 1 GiB with sizes around it (1, al-1, al, al+1, 3al, 100, 4096,
 * 65537, 1 MiB+5) through aligned_alloc, posix_memalign and memalign: the alignment, usable size,
 * realloc keeping the bytes (grow, then shrink to 5), then 4096 small blocks of mixed alignment
 * kept alive together (only the first MiB of a block is written). Prints only a checksum and any violation. */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <errno.h>
int main(void) {
    unsigned long sum = 0;
    for (int sh = 3; sh <= 30; sh++) {
        size_t al = (size_t)1 << sh;
        size_t szs[] = {1, al - 1, al, al + 1, 3 * al, 100, 4096, 65537, (1 << 20) + 5};
        for (int k = 0; k < 9; k++) {
            void *p = aligned_alloc(al, szs[k]);
            if (!p) { printf("aligned_alloc(%zu,%zu) null errno %d\n", al, szs[k], errno); continue; }
            if ((uintptr_t)p % al) printf("MISALIGNED aligned_alloc %zu %zu\n", al, szs[k]);
            size_t u = malloc_usable_size(p); if (u < szs[k]) printf("usable %zu < %zu\n", u, szs[k]);
            size_t touch = szs[k] < ((size_t)1 << 20) ? szs[k] : ((size_t)1 << 20);
            memset(p, 0xab, touch);
            void *q = realloc(p, szs[k] * 2 + 10); if (!q) { printf("realloc null\n"); free(p); continue; }
            for (size_t i = 0; i < touch; i += 97) if (((unsigned char *)q)[i] != 0xab) { printf("realloc lost data %zu %zu\n", al, szs[k]); break; }
            q = realloc(q, 5); sum += ((unsigned char *)q)[0];
            free(q);
            void *m; int r = posix_memalign(&m, al < sizeof(void*) ? sizeof(void*) : al, szs[k]);
            if (r) { printf("pm %d\n", r); continue; }
            if ((uintptr_t)m % al) printf("MISALIGNED pm\n");
            free(m);
            m = memalign(al, szs[k]); if ((uintptr_t)m % al) printf("MISALIGNED memalign\n"); free(m);
        }
    }
    /* many small aligned blocks kept alive: fragmentation / class mapping */
    void *keep[4096];
    for (int i = 0; i < 4096; i++) { keep[i] = memalign((size_t)16 << (i % 10), 1 + i % 300); if ((uintptr_t)keep[i] % ((size_t)16 << (i % 10))) printf("MIS keep\n"); memset(keep[i], 1, 1 + i % 300); }
    for (int i = 0; i < 4096; i++) { sum += malloc_usable_size(keep[i]) >= (size_t)(1 + i % 300); free(keep[i]); }
    printf("sum %lu\n", sum);
    return 0;
}
