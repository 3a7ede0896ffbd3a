/* Thread churn: ROUNDS rounds of K threads (64 KiB stacks) alive at once; each allocates a mixed
 * working set of small (16-1,000 B) and medium (2-32 KiB) blocks, frees it all, keeps one 16-byte
 * block that main frees after the join, and exits. Prints RSS (/proc/self/statm) after each round.
 * Usage: thread-rounds [K=64] [ROUNDS=5] [BLOCKS=1000]. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static int blocks;
static pthread_barrier_t b;
static long rss_kib(void) {
    long pages = 0, res = 0; FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &res) != 2) { perror("statm"); exit(1); }
    fclose(f); return res * (sysconf(_SC_PAGESIZE) / 1024);
}
static void *work(void *a) {
    unsigned long s = (unsigned long)a * 2654435761u + 1;
    void **v = malloc(sizeof *v * blocks);
    for (int i = 0; i < blocks; i++) {
        s = s * 6364136223846793005ul + 1442695040888963407ul;
        size_t n = (s >> 33) % 16 == 0 ? 2048 + (s >> 20) % (30 << 10) : 16 + (s >> 40) % 1000;
        v[i] = malloc(n); memset(v[i], 7, n);
    }
    pthread_barrier_wait(&b);
    for (int i = 0; i < blocks; i++) free(v[i]);
    free(v);
    char *p = malloc(16); p[0] = 1; return p;
}
int main(int argc, char **argv) {
    int k = argc > 1 ? atoi(argv[1]) : 64, rounds = argc > 2 ? atoi(argv[2]) : 5;
    blocks = argc > 3 ? atoi(argv[3]) : 1000;
    pthread_t *t = malloc(sizeof *t * k); long sum = 0;
    pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 65536);
    printf("start %ld KiB\n", rss_kib());
    for (int r = 0; r < rounds; r++) {
        pthread_barrier_init(&b, 0, k);
        for (long i = 0; i < k; i++) if (pthread_create(&t[i], &at, work, (void *)(i + r * k))) { perror("create"); return 1; }
        for (int i = 0; i < k; i++) { void *p; pthread_join(t[i], &p); sum += ((char *)p)[0]; free(p); }
        pthread_barrier_destroy(&b);
        printf("round %d %ld KiB\n", r + 1, rss_kib()); fflush(stdout);
    }
    sleep(2); printf("after 2 s %ld KiB\n", rss_kib());
    printf("ok %ld\n", sum); return 0;
}
