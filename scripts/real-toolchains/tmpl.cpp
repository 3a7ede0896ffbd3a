// C++17 under the preload: containers, regex, shared_ptr, threads, over-aligned new, std::pmr.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <numeric>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

struct alignas(64) Line { std::uint64_t v[8]; };
struct alignas(4096) Page { char b[4096]; };

template <class K, class V> std::uint64_t digest(const std::map<K, V>& m) {
  std::uint64_t h = 1469598103934665603ull;
  for (auto& [k, v] : m) h = (h ^ std::hash<K>{}(k) ^ (std::hash<V>{}(v) << 1)) * 1099511628211ull;
  return h;
}

int main() {
  std::uint64_t total = 0;
  // maps and strings
  std::map<std::string, int> m;
  std::unordered_map<int, std::string> u;
  for (int i = 0; i < 200000; ++i) {
    m[std::to_string(i * 7919 % 100003)] += i;
    u[i] = std::string(i % 97 + 1, char('a' + i % 26));
    if (i % 3 == 0) u.erase(i / 2);
  }
  total += digest(m) + u.size();
  // regex
  std::regex re("([a-z]+)([0-9]+)");
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "word" + std::to_string(i) + " ";
  std::size_t matches = 0;
  for (std::sregex_iterator it(text.begin(), text.end(), re), end; it != end; ++it) matches += (*it)[2].length();
  total += matches;
  // over-aligned new
  std::vector<std::unique_ptr<Line>> lines;
  std::vector<std::unique_ptr<Page>> pages;
  for (int i = 0; i < 20000; ++i) {
    lines.emplace_back(new Line{});
    if (reinterpret_cast<std::uintptr_t>(lines.back().get()) % 64) { std::puts("misaligned Line"); return 1; }
    if (i % 10 == 0) {
      pages.emplace_back(new Page{});
      if (reinterpret_cast<std::uintptr_t>(pages.back().get()) % 4096) { std::puts("misaligned Page"); return 1; }
      pages.back()->b[4095] = 1;
    }
    if (i % 7 == 0) lines.erase(lines.begin() + lines.size() / 2);
  }
  Line* arr = new Line[1000];
  Page* parr = new Page[9];
  if (reinterpret_cast<std::uintptr_t>(arr) % 64 || reinterpret_cast<std::uintptr_t>(parr) % 4096) { std::puts("misaligned array"); return 1; }
  delete[] arr; delete[] parr;
  total += lines.size() + pages.size();
  // shared_ptr across threads
  std::vector<std::shared_ptr<std::vector<int>>> shared;
  for (int i = 0; i < 1000; ++i) shared.push_back(std::make_shared<std::vector<int>>(i % 50 + 1, i));
  std::atomic<std::uint64_t> sum{0};
  std::mutex mu;
  std::vector<std::shared_ptr<std::vector<int>>> handoff;
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      std::uint64_t local = 0;
      for (int r = 0; r < 50; ++r)
        for (auto p : shared) {
          auto q = std::make_shared<std::vector<int>>(*p);
          local += std::accumulate(q->begin(), q->end(), 0ull);
          if ((r + t) % 17 == 0) { std::lock_guard<std::mutex> g(mu); handoff.push_back(q); }
        }
      std::unordered_map<std::string, std::vector<std::string>> w;
      for (int i = 0; i < 30000; ++i) w[std::to_string(i % 1000)].push_back(std::to_string(i * t));
      local += w.size();
      sum += local;
    });
  for (auto& t : ts) t.join();
  { std::lock_guard<std::mutex> g(mu); while (!handoff.empty()) handoff.pop_back(); }
  total += sum.load();
  // std::pmr
  {
    std::pmr::unsynchronized_pool_resource pool;
    std::pmr::synchronized_pool_resource spool;
    std::pmr::monotonic_buffer_resource mono(1 << 12);
    std::pmr::vector<std::pmr::string> v(&pool);
    std::pmr::map<int, std::pmr::string> pm(&spool);
    std::pmr::list<std::pmr::vector<int>> lst(&mono);
    for (int i = 0; i < 50000; ++i) {
      v.emplace_back(std::to_string(i) + std::string(i % 200, 'x'));
      pm.emplace(i, std::pmr::string(i % 300, 'y'));
      lst.emplace_back(i % 40, i);
      if (i % 5 == 0) v.pop_back();
    }
    void* big = pool.allocate(1 << 20, 4096);
    if (reinterpret_cast<std::uintptr_t>(big) % 4096) { std::puts("misaligned pmr"); return 1; }
    pool.deallocate(big, 1 << 20, 4096);
    total += v.size() + pm.size() + lst.size();
  }
  // variant/function churn
  std::vector<std::function<std::uint64_t()>> fs;
  for (int i = 0; i < 100000; ++i) {
    std::string cap(i % 64, 'z');
    fs.emplace_back([cap, i] { return cap.size() + i; });
  }
  for (auto& f : fs) total += f();
  std::ostringstream os;
  os << "total " << total << "\n";
  std::fputs(os.str().c_str(), stdout);
  return 0;
}
