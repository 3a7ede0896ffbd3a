/* fork() from a signal handler that interrupts malloc/free (the behaviour glibc's tst-mallocfork2
 * asserts; our own code): a helper process sends SIGUSR1 as fast as it can, the handler forks a
 * child that exits at once, the main loop frees and mallocs up to 70000 bytes. `sigfork 0 N`:
 * single-threaded, N forks (glibc promises this); `sigfork T N`: T more threads allocate (glibc
 * deadlocks in its own fork lock; hakmem passes). Prints "ok N signals". */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t got; static pid_t sender;
static void h(int s) {
  (void)s; if (got) return;
  if (sender > 0) kill(sender, SIGSTOP);
  got = 1;
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid < 0) { write(2, "fork failed\n", 12); abort(); }
  int st; while (waitpid(pid, &st, 0) < 0) ;
  if (st) { write(2, "child status\n", 13); abort(); }
}
static volatile int stop;
static void *worker(void *a) { (void)a; sigset_t s; sigfillset(&s); pthread_sigmask(SIG_BLOCK, &s, 0); unsigned seed = 7; void *o[256] = {0}; while (!stop) { int k = rand_r(&seed) % 256; free(o[k]); o[k] = malloc(rand_r(&seed) % 70000); } for (int i = 0; i < 256; i++) free(o[i]); return 0; }
int main(int argc, char **argv) {
  int nthreads = argc > 1 ? atoi(argv[1]) : 0; int count = argc > 2 ? atoi(argv[2]) : 1000;
  struct sigaction sa; memset(&sa, 0, sizeof sa); sa.sa_handler = h; sigaction(SIGUSR1, &sa, 0);
  pthread_t t[8]; for (int i = 0; i < nthreads; i++) pthread_create(&t[i], 0, worker, 0);
  pid_t me = getpid();
  sigset_t us, old; sigemptyset(&us); sigaddset(&us, SIGUSR1); sigprocmask(SIG_BLOCK, &us, &old);
  sender = fork();
  if (sender) sigprocmask(SIG_SETMASK, &old, 0);
  if (sender == 0) { sigprocmask(SIG_SETMASK, &old, 0); for (;;) { if (kill(me, SIGUSR1)) _exit(1); sched_yield(); } }
  static void *o[1009]; unsigned seed = 1; int sigs = 0; long iters = 0;
  while (sigs < count) {
    int k = rand_r(&seed) % 1009; size_t n = rand_r(&seed) % 70000;
    kill(sender, SIGCONT); got = 0;
    free(o[k]); o[k] = malloc(n); iters++;
    if (got) sigs++;
    if (!o[k] && n) { printf("malloc failed\n"); return 1; }
  }
  signal(SIGUSR1, SIG_IGN); kill(sender, SIGKILL); waitpid(sender, 0, 0);
  stop = 1; for (int i = 0; i < nthreads; i++) pthread_join(t[i], 0);
  for (int i = 0; i < 1009; i++) free(o[i]);
  printf("ok %d signals\n", sigs); return 0;
}
