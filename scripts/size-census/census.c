// Size census under LD_PRELOAD (session 22, rss22): counts a program's malloc/calloc/realloc
// request sizes and tracks the live bytes three ways: as requested, rounded to hakmem's small and
// medium classes with 4 per doubling in 1-32 KiB (main before session 22), and with 8 per doubling
// there (`config::COARSE8`); prints each peak, the live bytes per class at the rounded peak, and
// every exact size requested at least 1,000 times. Runs over glibc (a 16-byte header holds the
// request size). posix_memalign/aligned_alloc/memalign abort: a program that uses them (gcc's
// driver hung under this shim; cc1 was not measured) needs more work here.
//
//   gcc -O2 -shared -fPIC -o /tmp/census.so scripts/size-census/census.c -ldl
//   SHIM_OUT=/tmp/census.txt LD_PRELOAD=/tmp/census.so sqlite3 :memory:
//       -init /dev/null < scripts/real-programs/sqlite.sql > /dev/null   (one command)
//
// Class index in the output: 1-64 the 16-byte classes, 65-84 the 4-per-doubling classes of
// 1-32 KiB, 90+ the medium classes, 255 above 4 MiB.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <unistd.h>
static void *(*rmalloc)(size_t); static void (*rfree)(void*); static void *(*rrealloc)(void*,size_t);
static char boot[65536]; static size_t bootp;
static int inited;
#define NC 256
static long live_req, peak_req, live_hk, peak_hk, live_f8, peak_f8;
static long cls_live[NC], cls_at_peak[NC], cls_count[NC];
static long cnt_total, snap_level; static long exact[65537];
static size_t up(size_t n, size_t a){return (n+a-1)/a*a;}
static int cls(size_t n){ // index: bucket by hakmem class id-ish
  if(n<=1024) return (int)((n+15)/16); // 0..64
  if(n<=32768){int b=63-__builtin_clzl(n-1); return 64+(b-10)*4+(int)(((n-1)>>(b-2))&3)+1;}
  if(n<=(4<<20)){int b=63-__builtin_clzl(n-1); return 90+(b-15)*8+(int)(((n-1)>>(b-3))&7);}
  return 255;}
static size_t hk(size_t n){
  if(n<=1024) return up(n?n:1,16);
  int b=63-__builtin_clzl(n-1);
  if(n<=32768){size_t s=(size_t)1<<(b-2); return up(n,s);}
  if(n<=(4<<20)){size_t s=(size_t)1<<(b-3); return up(n,s);}
  return up(n,4096);}
static size_t f8(size_t n){
  if(n<=1024) return up(n?n:1,16);
  int b=63-__builtin_clzl(n-1);
  if(n<=32768){size_t s=(size_t)1<<(b-3); return up(n,s);}
  return hk(n);}
static void acc(size_t n,int sign){
  long h=(long)hk(n); live_req+=sign*(long)n; live_hk+=sign*h; live_f8+=sign*(long)f8(n);
  int c=cls(n); cls_live[c]+=sign*h; if(sign>0){cls_count[c]++;cnt_total++; exact[n>65536?65536:n]++;}
  if(live_req>peak_req) peak_req=live_req;
  if(live_f8>peak_f8) peak_f8=live_f8;
  if(live_hk>peak_hk){peak_hk=live_hk; if(live_hk>snap_level+(1<<16)){snap_level=live_hk;memcpy(cls_at_peak,cls_live,sizeof cls_live);}}
}
static void init(void){ if(inited) return; inited=1; rmalloc=dlsym(RTLD_NEXT,"malloc"); rfree=dlsym(RTLD_NEXT,"free"); rrealloc=dlsym(RTLD_NEXT,"realloc"); }
void *malloc(size_t n){ if(!rmalloc){ if(inited){void*p=boot+bootp; bootp+=up(n,16); return p;} init(); }
  char*p=rmalloc(n+16); if(!p) return 0; *(size_t*)p=n; acc(n,1); return p+16;}
void free(void*q){ if(!q) return; if((char*)q>=boot&&(char*)q<boot+sizeof boot) return; char*p=(char*)q-16; acc(*(size_t*)p,-1); rfree(p);}
void *calloc(size_t a,size_t b){ size_t n=a*b; void*p=malloc(n); if(p) memset(p,0,n); return p;}
void *realloc(void*q,size_t n){ if(!q) return malloc(n); if((char*)q>=boot&&(char*)q<boot+sizeof boot){void*p=malloc(n); memcpy(p,q,n); return p;}
  char*p=(char*)q-16; size_t o=*(size_t*)p; char*r=rrealloc(p,n+16); if(!r) return 0; acc(o,-1); *(size_t*)r=n; acc(n,1); return r+16;}
size_t malloc_usable_size(void*q){ return q? *(size_t*)((char*)q-16):0; }
int posix_memalign(void**m,size_t al,size_t n){ fprintf(stderr,"SHIM: posix_memalign %zu\n",al); abort(); }
void *aligned_alloc(size_t al,size_t n){ abort(); }
void *memalign(size_t al,size_t n){ abort(); }
__attribute__((destructor)) static void dump(void){
  const char*o=getenv("SHIM_OUT"); FILE*f=o?fopen(o,"a"):stderr; if(!f) return;
  fprintf(f,"allocs %ld peak_req %.1f MiB peak_hk %.1f MiB peak_f8 %.1f MiB\n",cnt_total,peak_req/1048576.0,peak_hk/1048576.0,peak_f8/1048576.0);
  for(int c=0;c<NC;c++) if(cls_count[c]) fprintf(f,"cls %d count %ld atpeak %.2f MiB\n",c,cls_count[c],cls_at_peak[c]/1048576.0);
  for(int i=0;i<=65536;i++) if(exact[i]>=1000) fprintf(f,"size %d count %ld\n",i,exact[i]);
  if(o) fclose(f);}
