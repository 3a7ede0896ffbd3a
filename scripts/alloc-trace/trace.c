// Allocation trace shim (session 17, rss23): LD_PRELOAD it over glibc to record every malloc,
// free, realloc, calloc and memalign of a program as 24-byte records (op | pointer | size) in
// $TRACE_OUT (default /tmp/trace.bin); scripts/alloc-trace/replay.py reads them. It calls glibc's
// `__libc_*` entry points, so it needs no dlsym (which may allocate) and runs on glibc only.
//   gcc -O2 -shared -fPIC trace.c -o trace.so
//   TRACE_OUT=git.bin LD_PRELOAD=./trace.so git log --stat > /dev/null
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#include <string.h>
#include <stdlib.h>
extern void *__libc_malloc(size_t); extern void __libc_free(void*);
extern void *__libc_realloc(void*,size_t); extern void *__libc_calloc(size_t,size_t);
extern void *__libc_memalign(size_t,size_t);
static int fd=-1; static uint64_t buf[3*4096]; static int n;
static void flush(void){ if(fd<0){char*p=getenv("TRACE_OUT"); fd=open(p?p:"/tmp/trace.bin",O_WRONLY|O_CREAT|O_TRUNC,0644);} write(fd,buf,n*24); n=0;}
static void rec(uint64_t op,void*p,uint64_t s,void*old){ buf[3*n]=op|((uint64_t)(uintptr_t)old<<8); buf[3*n+1]=(uintptr_t)p; buf[3*n+2]=s; if(++n==4096) flush(); }
__attribute__((destructor)) static void fin(void){flush();}
void *malloc(size_t s){void*p=__libc_malloc(s); rec(1,p,s,0); return p;}
void free(void*p){ if(p) rec(2,p,0,0); __libc_free(p);}
void *calloc(size_t a,size_t b){void*p=__libc_calloc(a,b); rec(1,p,a*b,0); return p;}
void *realloc(void*o,size_t s){void*p=__libc_realloc(o,s); if(o) rec(2,o,0,0); if(p) rec(1,p,s,0); return p;}
int posix_memalign(void**r,size_t a,size_t s){void*p=__libc_memalign(a,s); if(!p) return 12; *r=p; rec(1,p,s,0); return 0;}
void *memalign(size_t a,size_t s){void*p=__libc_memalign(a,s); rec(1,p,s,0); return p;}
void *aligned_alloc(size_t a,size_t s){return memalign(a,s);}
