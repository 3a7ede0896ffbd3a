#!/usr/bin/env python3
"""Which of hakmem's mappings hold a program's peak RSS: SuperSlabs (small tier) or spans (medium).

    scripts/peak-attr.py LIB -- ARGV...

Runs ARGV (stdout discarded) with LD_PRELOAD=LIB, polls /proc/PID/smaps_rollup every 3 ms, and
at each new Rss maximum walks the child's private anonymous mappings: every 2 MiB-aligned chunk
whose first word is `SUPERSLAB_MAGIC` counts 2 MiB as SuperSlab, one with `SPAN_MAGIC` counts its
span's `bytes` (the header's second word) as span; the rest is "other". Resident pages come from
/proc/PID/pagemap (needs root). A walk the child's exit cut short is dropped, so the printed one
is the last complete walk at the largest Rss. Written in session 24 (git24, docs/benchmarks.md
"Session 24: git24"); PEAK_ATTR=--slabs also prints each SuperSlab's resident pages per 64 KiB
slab (16 = all; slab 0 holds the header); PEAK_ATTR=--spans prints each span's address, size and
resident KiB (session 28, lua28). It reads hakmem's headers, so it knows nothing of other allocators.
"""
import os
import struct
import subprocess
import sys
import time

SUPERSLAB_MAGIC = 0x48414B4D53534C42  # src/slab/superslab.rs
SPAN_MAGIC = 0x48414B4D5350414E  # src/span.rs
CHUNK = 2 << 20  # SUPERSLAB_BYTES and MIN_SPAN_BYTES (src/config.rs)
PAGE = 4096
SLAB = 64 << 10  # 1 << SLAB_SHIFT


def walk(pid):
    out = {"superslab": 0, "span": 0, "other": 0}
    spans = 0
    span_info = []  # (address, MiB, resident KiB) of each span
    slab_pages = []  # resident pages of each 64 KiB slab of each SuperSlab
    with open(f"/proc/{pid}/mem", "rb", 0) as mem, open(f"/proc/{pid}/pagemap", "rb", 0) as pm:
        for line in open(f"/proc/{pid}/maps").read().splitlines():
            f = line.split()
            if f[1] != "rw-p" or len(f) > 5:
                continue
            a, b = (int(x, 16) for x in f[0].split("-"))
            pm.seek(a // PAGE * 8)
            raw = pm.read((b - a) // PAGE * 8)
            present = [(v >> 63) & 1 for (v,) in struct.iter_unpack("<Q", raw)]
            x = a
            while x < b:
                magic, size = 0, 0
                if x % CHUNK == 0:
                    mem.seek(x)
                    hdr = mem.read(16)
                    if len(hdr) == 16:
                        magic, size = struct.unpack("<QQ", hdr)
                if magic == SUPERSLAB_MAGIC:
                    n, kind = CHUNK, "superslab"
                    i = (x - a) // PAGE
                    slab_pages.append(
                        [sum(present[i + k : i + k + SLAB // PAGE]) for k in range(0, CHUNK // PAGE, SLAB // PAGE)]
                    )
                elif magic == SPAN_MAGIC and size > 0:
                    n, kind = size, "span"
                    spans += 1
                    i = (x - a) // PAGE
                    span_info.append((x, size >> 20, sum(present[i : i + min(n, b - x) // PAGE]) * 4))
                else:
                    n, kind = CHUNK - x % CHUNK, "other"
                n = min(n, b - x)
                i = (x - a) // PAGE
                out[kind] += sum(present[i : i + n // PAGE]) * 4
                x += n
    return out, spans, slab_pages, span_info


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit(__doc__)
    env = dict(os.environ, LD_PRELOAD=sys.argv[1])
    p = subprocess.Popen(sys.argv[3:], env=env, stdout=subprocess.DEVNULL)
    best = (0, None)
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/smaps_rollup") as f:
                rss = int(next(l for l in f if l.startswith("Rss:")).split()[1])
            if rss > best[0]:
                w = walk(p.pid)
                if p.poll() is None:  # the walk finished before the child exited
                    best = (rss, w)
        except (OSError, StopIteration, ValueError):
            pass
        time.sleep(0.003)
    rss, w = best
    if w is None:
        sys.exit("no complete walk (the program ran too briefly?)")
    out, spans, slab_pages, span_info = w
    print(f"Rss {rss} KiB; resident KiB: SuperSlabs {out['superslab']}, spans {out['span']} "
          f"({spans} spans), other private anonymous {out['other']}")
    if "--slabs" in os.environ.get("PEAK_ATTR", ""):
        for n, pages in enumerate(slab_pages):
            print(f"SuperSlab {n}: resident pages per slab " + " ".join(map(str, pages)))
    if "--spans" in os.environ.get("PEAK_ATTR", ""):
        for x, mib, kib in span_info:
            print(f"span {x:#x}: {mib} MiB, resident {kib} KiB")


main()
