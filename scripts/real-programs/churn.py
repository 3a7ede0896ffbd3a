# Allocation-heavy Python: dicts of strings, lists of tuples, string joins and splits.
import sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
acc = 0
for rnd in range(4):
    d = {}
    for i in range(n):
        k = "key-%d-%d" % (i * 7919 % n, rnd)
        d[k] = [k.upper(), i, (i, str(i * 31))]
    words = " ".join(k for k in d if len(k) % 3 == 0).split()
    acc += len(words)
    inv = {v[2][1]: k for k, v in d.items()}
    acc += sum(len(s) for s in inv)
    del d, inv, words
print(acc)
