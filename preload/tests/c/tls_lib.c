/* A shared library with its own thread-locals (general-dynamic model: every access goes through
 * __tls_get_addr, which allocates this module's TLS block with malloc the first time a thread
 * touches it after the dlopen). The harness builds it once and copies it to several file names,
 * so the loader sees distinct modules and has to grow every thread's DTV. */
#include <stdlib.h>
#include <string.h>

static __thread char block[16384];
static __thread long counter;
static __thread void *owned;

long tls_touch(long v) {
    if (!owned) owned = malloc(64 + (size_t)(v % 1000));
    block[v % (long)sizeof block] = (char)v;
    memset(block, (int)v, 64);
    counter += v;
    return counter + block[0];
}
