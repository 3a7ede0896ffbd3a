# Builds and drops large dicts, lists, strings and byte buffers in 8 threads; prints one digest
# per thread (deterministic), so a run under libhakmem.so can be compared with a plain run.
import hashlib
import threading

THREADS = 8
ROUNDS = 3
N = 25000

results = [None] * THREADS


def work(k):
    h = hashlib.sha256()
    for r in range(ROUNDS):
        d = {f"key-{k}-{r}-{i}": "v" * (i % 300) + str(i) for i in range(N)}
        lst = [str(i) * (i % 9) for i in range(N)]
        s = "|".join(lst[:: 37 + k])
        buf = bytearray(2 * 1024 * 1024 + 4096 * k)
        buf[-1] = 7
        nested = [{"a": [i] * (i % 5), "b": (i, str(i))} for i in range(N // 4)]
        h.update(s.encode())
        h.update(str(len(d)).encode())
        h.update(str(sum(map(len, d.values()))).encode())
        h.update(str(sum(len(x["a"]) for x in nested)).encode())
        h.update(bytes(buf[-8:]))
        del d, lst, s, buf, nested
    results[k] = h.hexdigest()


threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
for t in threads:
    t.start()
for t in threads:
    t.join()
for k, r in enumerate(results):
    print(k, r)
