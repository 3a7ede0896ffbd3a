/* Out of memory in nine threads at once (the behaviour glibc's tst-malloc-thread-fail asserts; our
 * own code): under RLIMIT_AS 200 MiB, each of malloc, realloc, aligned_alloc, memalign,
 * posix_memalign, valloc, pvalloc and calloc (zeroed) at sizes 144, 4096, 512/128-aligned,
 * 4096/128-aligned and 17 pages, every thread allocates until null + ENOMEM, all free, and then
 * each allocates again; each combination in a forked child. Prints "tfail fails 0". */
#define _GNU_SOURCE
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
static size_t sz, al; static int fn; static pthread_barrier_t b1, b2, b3;
static void *one(void) {
  void *p = NULL; size_t a = 16;
  switch (fn) {
  case 0: p = malloc(sz); break;
  case 1: { void *q = realloc(NULL, 16); if (q) { p = realloc(q, sz); if (!p) free(q); } break; }
  case 2: p = aligned_alloc(al, sz); a = al; break;
  case 3: p = memalign(al, sz); a = al; break;
  case 4: if (posix_memalign(&p, al, sz)) { if (errno != ENOMEM) { printf("pm errno %d\n", errno); } p = NULL; } a = al; break;
  case 5: p = valloc(sz); a = 4096; break;
  case 6: p = pvalloc(sz); a = 4096; break;
  case 7: p = calloc(1, sz); if (p) for (size_t i = 0; i < sz; i++) if (((char *)p)[i]) { printf("nonzero\n"); abort(); } break;
  }
  if ((uintptr_t)p & (a - 1)) { printf("misaligned fn %d\n", fn); abort(); }
  return p;
}
static void *th(void *x) {
  (void)x; pthread_barrier_wait(&b1);
  void **head = NULL; long n = 0;
  for (;;) { void **e = one(); if (!e) { if (errno != ENOMEM) { printf("errno %d fn %d\n", errno, fn); abort(); } break; } *e = head; head = e; n++; }
  pthread_barrier_wait(&b2);
  while (head) { void **nx = *head; free(head); head = nx; }
  pthread_barrier_wait(&b3);
  void *p = one(); if (!p) { printf("fn %d sz %zu: no memory after free\n", fn, sz); abort(); } free(p);
  return (void *)n;
}
int main(void) {
  struct rlimit rl; getrlimit(RLIMIT_AS, &rl); rl.rlim_cur = 200 << 20; setrlimit(RLIMIT_AS, &rl);
  pthread_attr_t at; pthread_attr_init(&at); pthread_attr_setstacksize(&at, 256 << 10);
  pthread_barrier_init(&b1, NULL, 9); pthread_barrier_init(&b2, NULL, 9); pthread_barrier_init(&b3, NULL, 9); setvbuf(stdout, NULL, _IONBF, 0);
  size_t cases[][2] = {{144, 0}, {4096, 0}, {512, 128}, {4096, 128}, {17 * 4096, 128}};
  int fails = 0;
  for (int c = 0; c < 5; c++) for (fn = 0; fn < 8; fn++) {
    sz = cases[c][0]; al = cases[c][1];
    int sens = fn >= 2 && fn <= 4; if (sens != (al != 0)) continue;
    pid_t pid = fork();
    if (pid == 0) {
      pthread_t t[8]; for (int i = 0; i < 8; i++) if (pthread_create(&t[i], &at, th, NULL)) { printf("create failed\n"); _exit(3); }
      th(NULL); for (int i = 0; i < 8; i++) pthread_join(t[i], NULL); _exit(0);
    }
    int st; waitpid(pid, &st, 0);
    if (st) { printf("case sz %zu al %zu fn %d status %x\n", sz, al, fn, st); fails++; }
  }
  printf("tfail fails %d\n", fails); return fails != 0;
}
