/* Issue 12.2 from outside: one thread forks in a loop, one reads long lines with getline (FILE
 * lock held while allocating), one calls fflush(NULL) (stdio list lock held, waiting for the
 * FILE lock). A correct allocator never hangs (run it under `timeout`). Exit 0 on success. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 300

static atomic_int stop;
static FILE *in;

static void *reader(void *arg) {
    (void)arg;
    char *line = NULL;
    size_t cap = 0;
    while (!atomic_load(&stop)) {
        rewind(in);
        while (getline(&line, &cap, in) > 0) {
            /* a fresh buffer each time: getline allocates with the FILE lock held */
            free(line);
            line = NULL;
            cap = 0;
        }
    }
    free(line);
    return NULL;
}

static void *flusher(void *arg) {
    (void)arg;
    while (!atomic_load(&stop)) fflush(NULL);
    return NULL;
}

int main(void) {
    char path[] = "/tmp/issue12-stdio-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) abort();
    FILE *w = fdopen(fd, "w");
    for (int i = 0; i < 64; i++) {
        for (int k = 0; k < 5000 + i * 300; k++) fputc('a' + (k + i) % 26, w);
        fputc('\n', w);
    }
    fflush(w);
    in = fopen(path, "r");
    if (!in) abort();
    unlink(path);
    pthread_t r, f;
    pthread_create(&r, NULL, reader, NULL);
    pthread_create(&f, NULL, flusher, NULL);
    for (int i = 0; i < FORKS; i++) {
        pid_t pid = fork();
        if (pid < 0) abort();
        if (pid == 0) {
            alarm(10);
            void *p = malloc(1000);
            free(p);
            char *l = NULL;
            size_t c = 0;
            /* stdio in the child; the result is not checked: the file offset is shared with
             * the parent's reader, which may be anywhere in the file */
            rewind(in);
            (void)getline(&l, &c, in);
            free(l);
            _exit(0);
        }
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %d failed: status %#x\n", i, st);
            return 1;
        }
    }
    atomic_store(&stop, 1);
    pthread_join(r, NULL);
    pthread_join(f, NULL);
    puts("ok");
    return 0;
}
