/* Issue 12.3 from outside: threads whose pthread key destructor (created after the allocator's
 * first heap, so it runs after the allocator's exit hook) allocates, while the main thread forks
 * in a loop. A correct allocator never hangs (run it under `timeout`). Exit 0 on success. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 300

static pthread_key_t key;
static atomic_int stop;

static void late(void *v) {
    (void)v;
    void *p = malloc(200);
    memset(p, 1, 200);
    free(p);
}

static void *worker(void *arg) {
    (void)arg;
    free(malloc(32));
    pthread_setspecific(key, (void *)1);
    return NULL;
}

static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) {
        pthread_t t;
        if (pthread_create(&t, NULL, worker, NULL) == 0) pthread_join(t, NULL);
    }
    return NULL;
}

int main(void) {
    free(malloc(16));
    pthread_key_create(&key, late);
    pthread_t c[2];
    for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, churn, NULL);
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        if (pid < 0) abort();
        if (pid == 0) {
            alarm(10);
            pthread_t t;
            if (pthread_create(&t, NULL, worker, NULL) == 0) pthread_join(t, NULL);
            free(malloc(5000));
            _exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %d failed: status %#x\n", i, st);
            return 1;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
    puts("ok");
    return 0;
}
