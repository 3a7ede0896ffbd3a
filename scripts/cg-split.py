#!/usr/bin/env python3
"""Splits a cachegrind profile into the allocator's share and the program's.

    scripts/cg-split.py [--top EVENT[,EVENT...]] CACHEGRIND_OUT [CACHEGRIND_OUT...]

For each `cachegrind.out` file (from `valgrind --tool=cachegrind --cache-sim=yes
--cachegrind-out-file=FILE BIN WORKLOAD`), prints the totals of every event (Ir, D1mr, DLmr, ...)
three times: all, the allocator's functions, the rest (the program, the C library included).
A function is the allocator's when its name holds `hakmem::`, `__rust_alloc`, `__rust_dealloc`,
`__rust_realloc` (hakmem's code inlined into those wrappers carries their name), or a mimalloc
(`mi_`, `_mi_`) or snmalloc (`sn_rust_`, `snmalloc`) name. memcpy/memmove stay the program's
(realloc's copy too: mimalloc's inlined copy is then counted as the allocator's).
`--top EVENT` lists, per file, the ten allocator (function, file) pairs with the most of EVENT
(e.g. `--top DLmr,D1mr`): which line of the allocator misses. btree24, session 24.
"""

import collections
import re
import sys

ALLOC_FN = re.compile(
    r"hakmem::|__rust_(alloc|dealloc|realloc|alloc_zeroed)\b|(^|[^A-Za-z0-9])_?mi_|sn_rust_|snmalloc"
)


def load(path):
    events, fn, fl = None, "?", "?"
    agg = collections.defaultdict(lambda: None)
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith("fl="):
                fl = line[3:].strip()
            elif line.startswith("fn="):
                fn = line[3:].strip()
            elif line[:1].isdigit():
                vals = [int(x) for x in line.split()[1:]]
                a = agg[(fn, fl)]
                if a is None:
                    a = agg[(fn, fl)] = [0] * len(events)
                for i, v in enumerate(vals):
                    a[i] += v
    return events, agg


def is_alloc(fn, fl):
    del fl  # by name only (see the docstring)
    return bool(ALLOC_FN.search(fn))


def main(argv):
    top = []
    if len(argv) > 1 and argv[0] == "--top":
        top = argv[1].split(",")
        argv = argv[2:]
    if not argv:
        sys.exit(__doc__)
    for path in argv:
        events, agg = load(path)
        total = [0] * len(events)
        alloc = [0] * len(events)
        for (fn, fl), v in agg.items():
            for i, x in enumerate(v):
                total[i] += x
                if is_alloc(fn, fl):
                    alloc[i] += x
        print(f"{path}: " + " ".join(events))
        print("  all       " + " ".join(f"{x:,}" for x in total))
        print("  allocator " + " ".join(f"{x:,}" for x in alloc))
        print("  program   " + " ".join(f"{t - a:,}" for t, a in zip(total, alloc)))
        for ev in top:
            i = events.index(ev)
            rows = sorted(
                ((v[i], fn, fl) for (fn, fl), v in agg.items() if is_alloc(fn, fl)), reverse=True
            )[:10]
            print(f"  top {ev}:")
            for v, fn, fl in rows:
                print(f"    {v:>12,}  {fn[:60]}  ({fl[-50:]})")


if __name__ == "__main__":
    main(sys.argv[1:])
