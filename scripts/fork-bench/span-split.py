#!/usr/bin/env python3
"""Where fork_bench's medium spans hold their resident pages (docs/benchmarks.md, "Session 27: mtrss27").

    scripts/fork-bench/span-split.py LIB -- ./fork_bench 1000 sleep      (needs root: pagemap)

Runs the program with LD_PRELOAD=LIB and, at the times in AT (seconds between snapshots, default
"2,1"), walks every 2 MiB-aligned chunk of its private anonymous mappings that starts with
`SPAN_MAGIC` and counts its resident pages (/proc/PID/pagemap) by what holds them, in MiB:
`live` pages of blocks in use, `free` pages of carved blocks on the free list (split by class:
`fsm` under 68 KiB, which the trim never purges, `fmid` to 128 KiB, `fbig` above), `uncarved`
resident pages past the span's carve (a span rebound from the cache with its last class's
pages, or born on a huge page), `hdr` the header page; `empty` repeats the spans with no live
block (retired current spans), `cached` the unbound ones. A block is live when its first 32
bytes are one repeated non-zero byte: fork_bench fills its blocks with `memset`, while a free
block holds its link, freed mark and trim words there. Reads hakmem's span header at fixed
offsets (u32 words: 51 `carved`, 68 the class id; medium class ids from N0=107, 8 a doubling
from 32 KiB): valid at the commit that added it; check them (e.g. print the header words) after
changing `SpanHeader`, `Slab` or the size classes.
"""
import os
import struct
import subprocess
import sys
import time

SPAN_MAGIC = 0x48414B4D5350414E  # src/span.rs
CHUNK = 2 << 20
PAGE = 4096
N0 = int(os.environ.get("N0", "107"))  # size_class::NUM_CLASSES: the first medium class id
CLASS_WORD = 68  # Slab::class (u32 word of the header)
CARVED_WORD = 51  # SlabLocal::carved


def class_size(c):
    i = c - N0
    base = (32 << 10) << (i // 8)
    return base * (8 + i % 8 + 1) // 8


def walk(pid):
    tot = {}

    def acc(kind, key, pages):
        d = tot.setdefault(kind, {})
        d[key] = d.get(key, 0) + pages

    with open(f"/proc/{pid}/mem", "rb", 0) as mem, open(f"/proc/{pid}/pagemap", "rb", 0) as pm:
        for line in open(f"/proc/{pid}/maps").read().splitlines():
            f = line.split()
            if f[1] != "rw-p" or len(f) > 5:
                continue
            a, b = (int(x, 16) for x in f[0].split("-"))
            pm.seek(a // PAGE * 8)
            raw = pm.read((b - a) // PAGE * 8)
            pres = [(v >> 63) & 1 for (v,) in struct.iter_unpack("<Q", raw)]
            c = (a + CHUNK - 1) & ~(CHUNK - 1)
            while c + CHUNK <= b:
                i0 = (c - a) // PAGE
                if not pres[i0]:
                    c += CHUNK
                    continue
                mem.seek(c)
                hdr = mem.read(512)
                magic, nb = struct.unpack_from("<QQ", hdr)
                if magic != SPAN_MAGIC:
                    c += CHUNK
                    continue
                u32 = struct.unpack_from("<128I", hdr)
                cls, carved = u32[CLASS_WORD], u32[CARVED_WORD]
                p = pres[i0 : i0 + nb // PAGE]
                if not N0 <= cls < N0 + 56:
                    acc("cached", "spans", 1)
                    acc("cached", "res", sum(p))
                    c += nb
                    continue
                size = class_size(cls)
                per = {}
                for k in range((nb - PAGE) // size):
                    off = PAGE + k * size
                    q0, q1 = off // PAGE, (off + size) // PAGE
                    r = sum(p[q0:q1])
                    if r == 0:
                        continue
                    if k >= carved:
                        key = "uncarved"
                    else:
                        w = b""
                        if p[q0]:
                            mem.seek(c + off)
                            w = mem.read(32)
                        if w and len(set(w)) == 1 and w != bytes(32):
                            key = "live"
                        else:
                            key = "fsm" if size < 68 * 1024 else ("fmid" if size <= 128 * 1024 else "fbig")
                    per[key] = per.get(key, 0) + r
                per["hdr"] = p[0]
                kinds = ["bound"] + ([] if per.get("live") else ["empty"])
                for kind in kinds:
                    acc(kind, "spans", 1)
                    acc(kind, "res", sum(p))
                    for key, v in per.items():
                        acc(kind, key, v)
                c += nb
    return tot


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    lib = sys.argv[1]
    argv = sys.argv[sys.argv.index("--") + 1 :]
    env = dict(os.environ)
    if lib != "-":
        env["LD_PRELOAD"] = lib
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    t = 0.0
    for dt in map(float, os.environ.get("AT", "2,1").split(",")):
        time.sleep(dt)
        t += dt
        tot = walk(p.pid)
        rss = [l for l in open(f"/proc/{p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
        mib = lambda v: round(v * PAGE / (1 << 20), 1)
        out = {k: {kk: (vv if kk == "spans" else mib(vv)) for kk, vv in v.items()} for k, v in tot.items()}
        if "bound" in out:
            out["bound"]["free"] = round(sum(out["bound"].get(k, 0) for k in ("fsm", "fmid", "fbig")), 1)
        print(f"t={t:.1f}s rss={int(rss) // 1024} MiB", out)
    p.kill()
    p.wait()


if __name__ == "__main__":
    main()
