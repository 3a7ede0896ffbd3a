#!/usr/bin/env python3
"""Peak RSS, CPU and faults of builds over benchmark rows, interleaved (docs/benchmarks.md,
"Session 28: grow28").

    scripts/rows-rss.py ROUNDS NAME:WL:SO... -- ROW...

Each NAME is a build: WL its `wl-hakmem` (Rust rows, run as `WL ROW --scale 1 --threads 2`) and SO
its preload library (C rows `c-*`, run as `target/bench/c/ROW` under `LD_PRELOAD=SO`). Every
round runs every row under every build, the order alternating. The peak RSS is the workload's own
`peak_rss_kib=` (its VmHWM, as the runner reads it; a child's `ru_maxrss` would start at this
interpreter's size). Prints per row and build the median peak RSS (min, max) and its ratio to the
first build's, the median CPU ms and faults, then the geometric mean of the ratios per build.
"""
import math
import os
import re
import statistics as st
import subprocess
import sys

i = sys.argv.index("--")
n = int(sys.argv[1])
builds = [b.split(":") for b in sys.argv[2:i]]
rows = sys.argv[i + 1:]
cdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "bench", "c")
res = {(r, b[0]): [] for r in rows for b in builds}
for k in range(n):
    for r in rows:
        for name, wl, so in builds if k % 2 == 0 else builds[::-1]:
            env = dict(os.environ)
            if r.startswith("c-"):
                cmd = [os.path.join(cdir, r)]
                env["LD_PRELOAD"] = os.path.abspath(so)
            else:
                cmd = [wl, r, "--scale", "1", "--threads", "2"]
            p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
            out = p.stdout.read().decode()
            _, status, ru = os.wait4(p.pid, 0)
            if status != 0:
                sys.exit("%s under %s failed (status %d)" % (r, name, status))
            rss = int(re.search(r"peak_rss_kib=(\d+)", out).group(1)) / 1024
            res[(r, name)].append((rss, (ru.ru_utime + ru.ru_stime) * 1000, ru.ru_minflt))
ratios = {b[0]: [] for b in builds}
for r in rows:
    base = st.median(x[0] for x in res[(r, builds[0][0])])
    for name, _, _ in builds:
        xs = res[(r, name)]
        rs = sorted(x[0] for x in xs)
        ratios[name].append(st.median(rs) / base)
        print("%-18s %-8s peak RSS MiB %6.1f (%6.1f-%6.1f) /first %.3f  cpu ms %7.1f  faults %6d" % (
            r, name, st.median(rs), rs[0], rs[-1], st.median(rs) / base,
            st.median(x[1] for x in xs), st.median(x[2] for x in xs)))
for name, v in ratios.items():
    print("geomean peak RSS / first, %-8s %.3f over %d rows" % (name, math.exp(sum(map(math.log, v)) / len(v)), len(v)))
