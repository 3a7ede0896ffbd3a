// C++: new/delete (plain, array, sized, aligned, nothrow), std::string, std::vector and std::map
// built in one thread and destroyed in another, thread_local objects destroyed at thread exit,
// and the failure path of operator new (new-handler, then std::bad_alloc).
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>
#include <vector>

#define CHECK(e)                                                                   \
    do {                                                                           \
        if (!(e)) {                                                                \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #e);      \
            std::exit(1);                                                          \
        }                                                                          \
    } while (0)

static bool on_hakmem() {
    Dl_info info;
    void *(*volatile m)(size_t) = std::malloc;
    return dlsym(RTLD_DEFAULT, "hakmem_version") && dladdr((void *)m, &info) &&
           std::strstr(info.dli_fname, "libhakmem");
}

struct alignas(64) Line {
    char bytes[64];
};
struct alignas(4096) Page {
    char bytes[4096];
};

using Table = std::map<std::string, std::vector<std::string>>;

static Table build(int seed) {
    Table t;
    for (int i = 0; i < 2000; i++) {
        std::string k = "key-" + std::to_string(seed) + "-" + std::to_string(i);
        std::vector<std::string> v;
        for (int j = 0; j < i % 13; j++) v.push_back(std::string(static_cast<size_t>(j * 7 + 1), char('a' + j)));
        t.emplace(std::move(k), std::move(v));
    }
    return t;
}

static bool valid(const Table &t, int seed) {
    if (t.size() != 2000) return false;
    for (int i = 0; i < 2000; i++) {
        auto it = t.find("key-" + std::to_string(seed) + "-" + std::to_string(i));
        if (it == t.end() || it->second.size() != static_cast<size_t>(i % 13)) return false;
        for (int j = 0; j < i % 13; j++)
            if (it->second[j] != std::string(static_cast<size_t>(j * 7 + 1), char('a' + j))) return false;
    }
    return true;
}

// Producers build tables; consumers check and destroy them (every node freed by another thread).
static std::mutex mu;
static std::vector<std::pair<int, std::unique_ptr<Table>>> pending;
static std::atomic<int> produced{0}, consumed{0};
constexpr int kTables = 60;

struct ExitNoise {
    std::string s = std::string(5000, 'x');
    std::vector<int> v = std::vector<int>(1000, 3);
    ~ExitNoise() {
        // Allocates and frees during thread teardown.
        std::string tmp = s + "y";
        CHECK(tmp.size() == 5001 && v[999] == 3);
    }
};
thread_local ExitNoise exit_noise;

static void producer(int id) {
    CHECK(exit_noise.s.size() == 5000);
    for (int n = 0; n < kTables / 3; n++) {
        int seed = id * 1000 + n;
        auto t = std::make_unique<Table>(build(seed));
        std::lock_guard<std::mutex> g(mu);
        pending.emplace_back(seed, std::move(t));
        produced++;
    }
}

static void consumer() {
    CHECK(exit_noise.v.size() == 1000);
    while (consumed.load() < kTables) {
        std::pair<int, std::unique_ptr<Table>> item;
        {
            std::lock_guard<std::mutex> g(mu);
            if (pending.empty()) {
                if (consumed.load() >= kTables) return;
            } else {
                item = std::move(pending.back());
                pending.pop_back();
            }
        }
        if (!item.second) {
            std::this_thread::yield();
            continue;
        }
        CHECK(valid(*item.second, item.first));
        item.second->emplace("extra", std::vector<std::string>(3, "grown in another thread"));
        item.second.reset();
        consumed++;
    }
}

static int handler_calls = 0;
static void handler() {
    handler_calls++;
    std::set_new_handler(nullptr);  // the next failure throws
}

int main() {
    const char *want = std::getenv("HAKMEM_EXPECT");
    bool hk = on_hakmem();
    if (want && ((want[0] == '1') != hk)) {
        std::fprintf(stderr, "FAIL: HAKMEM_EXPECT=%s but the process runs on %s\n", want,
                     hk ? "hakmem" : "another malloc");
        return 1;
    }

    // Every form of the operators.
    int *i = new int(5);
    CHECK(*i == 5);
    delete i;  // sized delete with -fsized-deallocation (the default since C++14)
    int *arr = new int[1000]();
    CHECK(arr[999] == 0);
    delete[] arr;
    Line *l = new Line;
    CHECK(reinterpret_cast<uintptr_t>(l) % 64 == 0);
    delete l;
    Page *pages = new Page[3];
    CHECK(reinterpret_cast<uintptr_t>(pages) % 4096 == 0);
    std::memset(pages, 1, sizeof(Page) * 3);
    delete[] pages;
    Page *np = new (std::nothrow) Page;
    CHECK(np && reinterpret_cast<uintptr_t>(np) % 4096 == 0);
    ::operator delete(np, std::align_val_t(alignof(Page)), std::nothrow);
    char *z = static_cast<char *>(::operator new(0));
    CHECK(z);
    ::operator delete(z, static_cast<size_t>(0));
    void *nt = ::operator new[](100, std::nothrow);
    CHECK(nt);
    ::operator delete[](nt, std::nothrow);
    void *al = ::operator new[](100, std::align_val_t(256), std::nothrow);
    CHECK(al && reinterpret_cast<uintptr_t>(al) % 256 == 0);
    ::operator delete[](al, 100, std::align_val_t(256));

    // Failure: nothrow returns null; throwing new calls the handler, then throws bad_alloc.
    volatile size_t huge = size_t(1) << 62;
    CHECK(::operator new(huge, std::nothrow) == nullptr);
    CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
    bool caught = false;
    try {
        char *p = new char[huge];
        p[0] = 1;
    } catch (const std::bad_alloc &) {
        caught = true;
    }
    CHECK(caught);
    std::set_new_handler(handler);
    caught = false;
    try {
        void *p = ::operator new(huge, std::align_val_t(128));
        ::operator delete(p);
    } catch (const std::bad_alloc &) {
        caught = true;
    }
    CHECK(caught && handler_calls == 1);

    // Containers across threads.
    std::vector<std::thread> ts;
    for (int p = 0; p < 3; p++) ts.emplace_back(producer, p);
    for (int c = 0; c < 3; c++) ts.emplace_back(consumer);
    for (auto &t : ts) t.join();
    CHECK(produced.load() == kTables && consumed.load() == kTables && pending.empty());

    if (hk) {
        const char *names[] = {
            "_Znwm", "_Znam", "_ZnwmRKSt9nothrow_t", "_ZnamRKSt9nothrow_t", "_ZnwmSt11align_val_t",
            "_ZnamSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
            "_ZnamSt11align_val_tRKSt9nothrow_t", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZdaPvm",
            "_ZdlPvRKSt9nothrow_t", "_ZdaPvRKSt9nothrow_t", "_ZdlPvSt11align_val_t",
            "_ZdaPvSt11align_val_t", "_ZdlPvmSt11align_val_t", "_ZdaPvmSt11align_val_t",
            "_ZdlPvSt11align_val_tRKSt9nothrow_t", "_ZdaPvSt11align_val_tRKSt9nothrow_t"};
        for (const char *n : names) {
            Dl_info info;
            void *f = dlsym(RTLD_DEFAULT, n);
            if (!(f && dladdr(f, &info) && std::strstr(info.dli_fname, "libhakmem"))) {
                std::fprintf(stderr, "FAIL: %s does not resolve to libhakmem\n", n);
                return 1;
            }
        }
    }
    std::printf("OK cxx\n");
    return 0;
}
