// Thread exit with allocation after the allocator's own flush: a C++ thread_local whose destructor
// allocates, and a pthread key whose destructor allocates and re-arms itself for every round glibc
// runs (leaving a block behind in the last). 4 x argv[1] threads; prints VmRSS/VmSize and the
// number of mappings at the end, to compare with glibc (growth = a heap leaked per thread).
#include <pthread.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <thread>
static pthread_key_t key;
static int rounds_wanted = 4;
struct T { std::vector<std::string> v; T() { v.resize(10, std::string(100, 'a')); } ~T() { std::string s(5000, 'b'); v.clear(); void *p = malloc(70000); memset(p, 1, 70000); free(p); } };
thread_local T t;
static void dtor(void *v) {
    long r = (long)(intptr_t)v;
    void *p = malloc(200); memset(p, 3, 200);
    void *q = malloc(100000); memset(q, 3, 100000); free(q);
    if (r < rounds_wanted) pthread_setspecific(key, (void *)(intptr_t)(r + 1));
    free(p);
    if (r == rounds_wanted) { void *volatile leak = malloc(48); (void)leak; } /* last round: a block left behind */
}
static void *fn(void *) {
    t.v.push_back("x");
    pthread_setspecific(key, (void *)(intptr_t)1);
    std::vector<char *> ps; for (int i = 0; i < 100; i++) ps.push_back((char *)malloc(i * 50 + 1));
    for (auto p : ps) free(p);
    return nullptr;
}
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 5000;
    if (argc > 2) rounds_wanted = atoi(argv[2]);
    pthread_key_create(&key, dtor);
    for (int i = 0; i < n; i++) {
        pthread_t th[4];
        for (int k = 0; k < 4; k++) pthread_create(&th[k], nullptr, fn, nullptr);
        for (int k = 0; k < 4; k++) pthread_join(th[k], nullptr);
    }
    FILE *f = fopen("/proc/self/maps", "r"); int lines = 0; char buf[512]; while (fgets(buf, sizeof buf, f)) lines++; fclose(f);
    FILE *s = fopen("/proc/self/status", "r"); while (fgets(buf, sizeof buf, s)) if (!strncmp(buf, "VmRSS", 5) || !strncmp(buf, "VmSize", 6)) fputs(buf, stdout); fclose(s);
    printf("maps %d\n", lines);
}
