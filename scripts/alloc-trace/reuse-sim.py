#!/usr/bin/env python3
"""Dirty pages of medium blocks under per-class LIFO reuse, from a trace of trace.c (session 24, git24).

    python3 scripts/alloc-trace/reuse-sim.py TRACE

Replays the trace with one LIFO free stack per medium class (replay.py's class model: 8 per
doubling above 32 KiB) and no purges; a block's dirty extent is the largest page-rounded request
it has served. At the peak of requested live bytes it prints the live medium blocks' bytes as
requested, page-rounded and dirty (the class rounding a reused block keeps resident), and the
free medium blocks' dirty bytes and count (what the trim has to purge).
"""
import collections
import struct
import sys

from classes import cls  # the scripts' directory is on sys.path


def pg(n):
    return (n + 4095) // 4096 * 4096


raw = open(sys.argv[1], "rb").read()
recs = struct.iter_unpack("<QQQ", raw[: len(raw) // 24 * 24])
live, blk, dirty = {}, {}, []
free = collections.defaultdict(list)
cur = peak = 0
snap = None
for op, p, s in recs:
    if op & 0xFF == 1:
        c = cls(s)
        if 32768 < c <= 4 << 20:
            if free[c]:
                b = free[c].pop()
            else:
                b = len(dirty)
                dirty.append(0)
            dirty[b] = max(dirty[b], pg(s))
            blk[p] = (b, s)
        live[p] = s
        cur += s
        if cur > peak:
            peak = cur
            snap = (list(blk.values()), [b for v in free.values() for b in v], list(dirty))
    elif op & 0xFF == 2 and p in live:
        cur -= live.pop(p)
        if p in blk:
            b, s = blk.pop(p)
            free[cls(s)].append(b)
used, idle, d = snap
mib = 1 << 20
print(f"peak live {peak / mib:.2f} MiB; live medium blocks {len(used)}: requested "
      f"{sum(s for _, s in used) / mib:.2f}, page-rounded {sum(pg(s) for _, s in used) / mib:.2f}, "
      f"dirty {sum(d[b] for b, _ in used) / mib:.2f} MiB")
print(f"free medium blocks {len(idle)}: dirty {sum(d[b] for b in idle) / mib:.2f} MiB (no purge)")
