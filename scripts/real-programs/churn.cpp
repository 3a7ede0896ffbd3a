// Allocation-heavy C++: std::map and std::unordered_map of std::string keys, std::vector of
// strings grown and sorted, std::list splices, and shared_ptr graphs; node containers allocate one
// small block an element, strings over 15 bytes one heap block each.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

struct Node {
    std::string name;
    std::vector<std::shared_ptr<Node>> kids;
};

int main(int argc, char** argv) {
    long n = argc > 1 ? std::atol(argv[1]) : 100000;
    unsigned long acc = 0;
    for (int rnd = 0; rnd < 4; rnd++) {
        std::map<std::string, std::string> ordered;
        std::unordered_map<std::string, std::vector<int>> hashed;
        for (long i = 0; i < n; i++) {
            std::string k = "key-number-" + std::to_string((i * 7919) % n) + "-" + std::to_string(rnd);
            ordered[k] = std::string(i % 60, 'v') + k;
            hashed[k].assign(i % 9 + 1, (int)i);
        }
        for (long i = 0; i < n; i += 3) {
            std::string k = "key-number-" + std::to_string(i) + "-" + std::to_string(rnd);
            ordered.erase(k);
            hashed.erase(k);
        }
        std::vector<std::string> keys;
        for (auto& kv : ordered) keys.push_back(kv.second.substr(kv.second.size() / 2));
        std::sort(keys.begin(), keys.end());
        for (size_t i = 0; i < keys.size(); i += 1000) acc += keys[i].size();
        std::list<std::string> lst;
        for (auto& kv : hashed) lst.push_back(kv.first + std::to_string(kv.second.size()));
        lst.sort();
        acc += lst.size() + hashed.size() + ordered.size();
        std::vector<std::shared_ptr<Node>> nodes;
        for (long i = 0; i < n / 4; i++) {
            auto p = std::make_shared<Node>();
            p->name = "node-with-a-long-name-" + std::to_string(i);
            if (!nodes.empty()) p->kids.push_back(nodes[(i * 31) % nodes.size()]);
            nodes.push_back(p);
        }
        for (auto& p : nodes) acc += p->kids.size() + p->name.size();
    }
    std::printf("%lu\n", acc);
    return 0;
}
