#!/usr/bin/env python3
"""Replays a trace of scripts/alloc-trace/trace.c (session 17, rss23).

    python3 scripts/alloc-trace/replay.py TRACE

Finds the moment of peak requested (live) bytes and prints what was live there: requested bytes,
the same rounded to hakmem's classes (small: 16-byte steps to 1 KiB, 4 per doubling to 32 KiB;
medium: 8 per doubling to 4 MiB), the classes holding the most, and, per medium class, the
blocks carved and free at that moment (the class's high-water so far minus its live blocks: what
a span keeps resident until the trim purges it).
"""
import collections
import struct
import sys

from classes import cls  # the scripts' directory is on sys.path


raw = open(sys.argv[1], "rb").read()
recs = list(struct.iter_unpack("<QQQ", raw[: len(raw) // 24 * 24]))
live, cur, peak, at = {}, 0, 0, 0
for i, (op, p, s) in enumerate(recs):
    if op & 0xFF == 1:
        live[p] = s
        cur += s
        if cur > peak:
            peak, at = cur, i
    elif p in live:
        cur -= live.pop(p)
live, n, hw = {}, collections.Counter(), collections.Counter()
for op, p, s in recs[: at + 1]:
    if op & 0xFF == 1:
        c = cls(s)
        live[p] = (s, c)
        n[c] += 1
        hw[c] = max(hw[c], n[c])
    elif p in live:
        n[live.pop(p)[1]] -= 1
req, held = collections.Counter(), collections.Counter()
for s, c in live.values():
    req[c] += s
    held[c] += c
MiB = 1 << 20
small = sum(v for c, v in held.items() if c <= 32768)
print(f"{len(recs)} records; peak at record {at}: requested {peak / MiB:.1f} MiB, "
      f"class-rounded {sum(held.values()) / MiB:.1f} MiB "
      f"(small {small / MiB:.1f}, medium {(sum(held.values()) - small) / MiB:.1f})")
for c, v in sorted(held.items(), key=lambda x: -x[1])[:15]:
    print(f"  class {c:8}: {n[c]:7} live blocks, requested {req[c]:10}, class bytes {v:10}")
free = {c: (hw[c] - n[c]) * c for c in hw if c > 32768 and hw[c] > n[c]}
print(f"medium carved and free at the peak: {sum(free.values()) / MiB:.1f} MiB; "
      f"small: {sum((hw[c] - n[c]) * c for c in hw if c <= 32768) / MiB:.1f} MiB")
for c in sorted(free):
    print(f"  class {c:8}: high-water {hw[c]}, live {n[c]}, free {free[c] / MiB:.2f} MiB")
