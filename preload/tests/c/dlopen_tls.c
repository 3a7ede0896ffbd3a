/* dlopen of shared libraries that have their own thread-locals while many threads allocate.
 * Each new library's TLS is allocated lazily by __tls_get_addr (with malloc) in every thread that
 * touches it, and the DTV is grown (with malloc/realloc/free) once more modules are loaded than it
 * has room for. With a general-dynamic thread-local inside the allocator this recursion would
 * deadlock or corrupt; hakmem's slot is initial-exec. argv[1..] are the library paths. */
#include "common.h"

#include <pthread.h>
#include <stdatomic.h>

#define THREADS 8
#define MAXLIBS 64

typedef long (*touch_fn)(long);
static _Atomic(touch_fn) fns[MAXLIBS];
static atomic_int loaded;
static atomic_int stop;

static void *worker(void *arg) {
    uint32_t seed = (uint32_t)(uintptr_t)arg + 5;
    void *mine[64] = {0};
    long sum = 0;
    while (!atomic_load(&stop)) {
        for (int k = 0; k < 200; k++) {
            uint32_t r = rnd(&seed);
            int i = (int)(r % 64);
            if (mine[i]) CHECK(check_fill(mine[i], 100, (uint32_t)i));
            free(mine[i]);
            mine[i] = malloc(100 + r % 3000);
            CHECK(mine[i]);
            fill(mine[i], 100, (uint32_t)i);
        }
        int n = atomic_load(&loaded);
        for (int l = 0; l < n; l++) sum += atomic_load(&fns[l])(l + 1);
    }
    for (int i = 0; i < 64; i++) free(mine[i]);
    return (void *)sum;
}

/* Short-lived threads touch every library once and exit: their TLS blocks and DTVs are freed. */
static void *toucher(void *arg) {
    (void)arg;
    int n = atomic_load(&loaded);
    long s = 0;
    for (int l = 0; l < n; l++) s += atomic_load(&fns[l])(l + 1);
    return (void *)s;
}

int main(int argc, char **argv) {
    expect_allocator();
    int libs = argc - 1;
    CHECK(libs > 0 && libs <= MAXLIBS);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) == 0);
    void *handles[MAXLIBS];
    for (int l = 0; l < libs; l++) {
        handles[l] = dlopen(argv[l + 1], RTLD_NOW | RTLD_LOCAL);
        if (!handles[l]) {
            fprintf(stderr, "FAIL: dlopen %s: %s\n", argv[l + 1], dlerror());
            return 1;
        }
        touch_fn f = (touch_fn)dlsym(handles[l], "tls_touch");
        CHECK(f);
        atomic_store(&fns[l], f);
        atomic_store(&loaded, l + 1);
        CHECK(f(1) > 0);
        pthread_t s;
        CHECK(pthread_create(&s, NULL, toucher, NULL) == 0);
        pthread_join(s, NULL);
    }
    for (int k = 0; k < 20; k++) {
        pthread_t s;
        CHECK(pthread_create(&s, NULL, toucher, NULL) == 0);
        pthread_join(s, NULL);
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    atomic_store(&loaded, 0);
    for (int l = 0; l < libs; l++) CHECK(dlclose(handles[l]) == 0);
    printf("OK dlopen_tls\n");
    return 0;
}
