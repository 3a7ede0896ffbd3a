/* N threads alive at once (default 3000, 64 KiB stacks), each with a small and a 70 KB block, all
 * waiting on a barrier before they free the large one and exit; the small one is freed by main
 * after the join. ROUNDS times (default 3): thread heaps retired and reused in bulk. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static pthread_barrier_t b;
static void *work(void *a) {
    long k = (long)a; char *p = malloc(16 + k % 2000); memset(p, 1, 16);
    void *big = malloc(70000 + k); pthread_barrier_wait(&b);
    free(big); return p;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 3000, rounds = argc > 2 ? atoi(argv[2]) : 3;
    pthread_t *t = malloc(sizeof *t * n); size_t sum = 0;
    pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 65536);
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_init(&b, 0, n);
        for (long i = 0; i < n; i++) if (pthread_create(&t[i], &at, work, (void *)i)) { perror("create"); return 1; }
        for (int i = 0; i < n; i++) { void *p; pthread_join(t[i], &p); sum += ((char *)p)[0]; free(p); }
        pthread_barrier_destroy(&b);
    }
    printf("ok %zu\n", sum); return 0;
}
