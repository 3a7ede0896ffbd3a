/* odd_api.c's library: allocates in its constructor (and a thread-local in a thread it starts),
 * frees in its destructor the block the program handed over, returns a block the program frees
 * after dlclose. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
static void *table[50];
static char *kept;
static __thread char *tls;
static void *touch(void *a) { tls = malloc(77); strcpy(tls, "t"); free(tls); return a; }
__attribute__((constructor)) static void ctor(void) {
    for (int i = 0; i < 50; i++) table[i] = calloc(1, i * 400 + 1);
    pthread_t t; pthread_create(&t, 0, touch, 0); pthread_join(t, 0);
}
__attribute__((destructor)) static void dtor(void) {
    for (int i = 0; i < 50; i++) free(table[i]);
    free(kept); kept = malloc(10); free(kept); kept = 0;
}
char *odd_take(char *p) { kept = p; char *r = malloc(4000); strcpy(r, "from the library"); return r; }
