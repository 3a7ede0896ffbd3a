/* Issue 12.2 from outside: fork from a signal handler that interrupted fork. The signal is raised
 * from the program's atfork handlers (prepare, or parent: inside fork) while the main thread forks
 * in a loop; the handler forks, and every child allocates. Single-threaded: with more threads,
 * glibc holds its own atfork lock from the prepare to the parent handlers, and a fork from a
 * handler there deadlocks in glibc itself, whatever the allocator. A correct allocator never
 * hangs (run it under `timeout`). Exit 0 on success. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORKS 200

static atomic_int raise_in_prepare, raise_in_parent;
static atomic_int handler_forks, handler_fail;

static void child_work(void) {
    alarm(10);
    for (int i = 1; i < 200; i++) {
        void *p = malloc((size_t)i * 13);
        if (!p) _exit(3);
        memset(p, i, (size_t)i * 13);
        free(p);
    }
    _exit(0);
}

static void on_signal(int sig) {
    (void)sig;
    int saved = errno;
    pid_t pid = fork();
    if (pid == 0) child_work();
    if (pid > 0) {
        int st;
        if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            atomic_fetch_add(&handler_fail, 1);
        atomic_fetch_add(&handler_forks, 1);
    }
    errno = saved;
}

static void prepare(void) {
    if (atomic_exchange(&raise_in_prepare, 0)) raise(SIGUSR1);
}
static void parent(void) {
    if (atomic_exchange(&raise_in_parent, 0)) raise(SIGUSR1);
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
    free(malloc(16));
    pthread_atfork(prepare, parent, NULL);
    for (int i = 0; i < FORKS; i++) {
        if (i % 2 == 0) atomic_store(&raise_in_prepare, 1);
        else atomic_store(&raise_in_parent, 1);
        pid_t pid = fork();
        if (pid < 0) abort();
        if (pid == 0) child_work();
        int st;
        while (waitpid(pid, &st, 0) != pid) {}
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "child %d failed: status %#x\n", i, st);
            return 1;
        }
    }
    if (atomic_load(&handler_forks) != FORKS) {
        fprintf(stderr, "%d forks from the handler, %d expected\n", atomic_load(&handler_forks), FORKS);
        return 1;
    }
    if (atomic_load(&handler_fail)) {
        fprintf(stderr, "%d handler children failed\n", atomic_load(&handler_fail));
        return 1;
    }
    printf("ok (%d forks from the handler)\n", atomic_load(&handler_forks));
    return 0;
}
