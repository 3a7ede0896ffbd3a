#!/usr/bin/env python3
"""Splits a callgrind profile at the global allocator's entry points, counted from the callers.

    scripts/cg-entry.py CALLGRIND_OUT [CALLGRIND_OUT...]

For each `callgrind.out` file (`valgrind --tool=callgrind --callgrind-out-file=FILE BIN ...`),
sums every call edge from a function outside the allocator into `__rust_alloc`,
`__rust_dealloc`, `__rust_realloc` or `__rust_alloc_zeroed` (Rust's global-allocator shims, under
whatever file callgrind attributes their inlined parts to): calls, inclusive instructions (the
allocator's own code, its OS calls and realloc's copy), instructions per call; then the rest of
the program (total minus the four). Counting at the caller's edge avoids `callgrind_annotate
--inclusive`'s split of one inlined function into several (file, function) rows that nest and
would count twice. json26, session 26.
"""

import collections
import re
import sys

ENTRY = re.compile(r"__rust_(alloc_zeroed|alloc|dealloc|realloc)$")


def split(path):
    names = {}

    def name(spec):
        m = re.match(r"\((\d+)\)(?:\s+(.*))?", spec)
        if not m:
            return spec.strip()
        if m.group(2):
            names[m.group(1)] = m.group(2).strip()
        return names[m.group(1)]

    total = None
    fn = "?"
    cfn = None
    pending = False
    calls = collections.Counter()
    incl = collections.Counter()
    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                fn = name(line[3:])
            elif line.startswith("cfn="):
                cfn = name(line[4:])
            elif line.startswith("calls="):
                n = int(line[6:].split()[0])
                pending = (cfn, n)
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
            elif pending and line[:1] in "0123456789+-*":
                target, n = pending
                pending = False
                m = ENTRY.search(target or "")
                if m and not ENTRY.search(fn):
                    cost = int(line.split()[1])
                    calls[m.group(1)] += n
                    incl[m.group(1)] += cost
    return total, calls, incl


def main(argv):
    if not argv:
        sys.exit(__doc__)
    for path in argv:
        total, calls, incl = split(path)
        print(f"== {path}: {total:,} instructions")
        print(f"{'entry':<14}{'calls':>12}{'instr':>15}{'per call':>10}")
        s = 0
        for e in ("alloc", "alloc_zeroed", "realloc", "dealloc"):
            if calls[e]:
                print(f"{e:<14}{calls[e]:>12,}{incl[e]:>15,}{incl[e] / calls[e]:>10.1f}")
            s += incl[e]
        print(f"{'allocator':<14}{sum(calls.values()):>12,}{s:>15,}")
        print(f"{'rest':<14}{'':>12}{total - s:>15,}")


if __name__ == "__main__":
    main(sys.argv[1:])
