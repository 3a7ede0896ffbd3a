#!/usr/bin/env python3
"""Splits a callgrind profile into the allocator's entry points and the rest of the program.

    scripts/cg-entry.py CALLGRIND_OUT [CALLGRIND_OUT...]

For each `callgrind.out` (`valgrind --tool=callgrind --callgrind-out-file=FILE PROG`), sums every
call edge from a function outside the allocator into one of its entry points: C's malloc, free,
calloc, realloc, posix_memalign, aligned_alloc, memalign, malloc_usable_size, valloc, pvalloc
(the `__libc_`/`tc_`/`je_`/`mi_` aliases folded onto them; a preloaded allocator or none for
glibc), and Rust's global-allocator shims `__rust_alloc`, `__rust_alloc_zeroed`,
`__rust_realloc`, `__rust_dealloc` (printed as `rust_alloc`, ...; whatever file callgrind
attributes their inlined parts to). Prints per entry point the calls and the inclusive cost per
call of every event the profile holds (with `--cache-sim=yes`: D1mr, DLmr, ... too), then the
total, the allocator's sum and the program's own (total less the allocator).
Counting at the caller's edge avoids `callgrind_annotate --inclusive`'s split of one inlined
function into several rows that nest; calls made from inside the allocator (realloc calling
malloc, `__rust_alloc` calling glibc's malloc) are not counted again.
Used by scripts/alloc-entry.sh (the Rust rows); json26 and pyt26, session 26.
"""

import collections
import re
import sys

ENTRY = {
    "malloc", "free", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign",
    "malloc_usable_size", "cfree", "valloc", "pvalloc",
}
ALIAS = re.compile(r"^(?:__libc_|tc_|je_|mi_)?([a-z_]+?)(?:@.*)?$")
RUST = re.compile(r"__rust_(alloc_zeroed|alloc|dealloc|realloc)$")


def entry_of(name):
    r = RUST.search(name)
    if r:
        return "rust_" + r.group(1)
    m = ALIAS.match(name.split("'")[0])
    if m and m.group(1) in ENTRY:
        return m.group(1)
    return None


def load(path):
    names = {"fn": {}, "ob": {}}
    events, total = ["Ir"], []
    calls = collections.Counter()
    incl = collections.defaultdict(lambda: [0] * len(events))
    ob = fn = cfn = None
    pending = None
    with open(path) as f:
        for line in f:
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            if line.startswith("summary:") or line.startswith("totals:"):
                total = [int(x) for x in line.split()[1:]]
                continue
            if line.startswith(("fn=", "ob=", "cfn=", "cob=")):
                key, _, rest = line.rstrip("\n").partition("=")
                kind = key[-2:]
                mm = re.match(r"^\((\d+)\)(?: (.*))?$", rest)
                if mm:
                    if mm.group(2) is not None:
                        names[kind][mm.group(1)] = mm.group(2)
                    val = names[kind].get(mm.group(1), "?")
                else:
                    val = rest
                if key == "fn":
                    fn = val
                elif key == "ob":
                    ob = val
                elif key == "cfn":
                    cfn = val
                continue
            if line.startswith("calls="):
                pending = int(line.split("=")[1].split()[0])
                continue
            if pending is not None and line[:1] in "0123456789+-*":
                vals = [int(x) for x in line.split()[1:]]
                e = entry_of(cfn or "")
                if e and entry_of(fn or "") is None and not is_alloc_obj(ob):
                    calls[e] += pending
                    acc = incl[e]
                    for i, v in enumerate(vals):
                        acc[i] += v
                pending = None
    return events, total, calls, incl


ALLOC_OBJ = re.compile(r"libhakmem|libtcmalloc|libjemalloc|libmimalloc")


def is_alloc_obj(ob):
    return bool(ob and ALLOC_OBJ.search(ob))


def main(argv):
    if not argv:
        sys.exit(__doc__)
    for path in argv:
        events, total, calls, incl = load(path)
        print(f"## {path}")
        print("  " + " ".join(f"{x:>15s}" for x in ["", "calls"] + events))
        alloc = [sum(incl[e][i] for e in incl) for i in range(len(events))]
        for label, row in (("total", total), ("allocator", alloc),
                           ("program", [t - a for t, a in zip(total, alloc)])):
            print("  " + " ".join(f"{x:>15,}" if isinstance(x, int) else f"{x:>15s}"
                                  for x in [label, ""] + row))
        for e in sorted(calls, key=lambda k: -incl[k][0]):
            per = [f"{v / calls[e]:.2f}" for v in incl[e]]
            print("  " + " ".join(f"{x:>15s}" for x in [e + "/call", f"{calls[e]:,}"] + per))


if __name__ == "__main__":
    main(sys.argv[1:])
