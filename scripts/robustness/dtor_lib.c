/* A library for edge.c's `dlclose`: allocates in its constructor, frees and allocates in its
 * destructor (run by dlclose), and has a thread-local touched by a thread it starts. */
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
static void *blocks[100];
static __thread void *tls_block;
__attribute__((constructor)) static void ctor(void) { for (int i = 0; i < 100; i++) blocks[i] = malloc(i * 100 + 1); }
__attribute__((destructor)) static void dtor(void) { for (int i = 0; i < 100; i++) free(blocks[i]); void *p = malloc(100000); memset(p, 2, 100000); free(p); }
static void *th(void *a) { tls_block = malloc(300); free(tls_block); return a; }
void lib_use(void) { pthread_t t; pthread_create(&t, 0, th, 0); pthread_join(t, 0); blocks[0] = realloc(blocks[0], 5000); }
