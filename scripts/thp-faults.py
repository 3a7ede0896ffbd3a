#!/usr/bin/env python3
"""How often a row runs on base pages: N interleaved runs of `BIN rust-btreemap --scale 1
--threads 2` for every BIN (the order alternating each round), each with `HAKMEM_STATS=1`;
prints per BIN the runs with more than 1,000 minor faults, and per run its faults (`ru_minflt`),
huge-page collapses asked, their cost in µs, how many were slow and skipped, and its CPU ms
(docs/benchmarks.md, "Session 27: thp27").

    scripts/thp-faults.py [--row W] N BIN...

`--row W` runs workload W instead of rust-btreemap (grow28: `--row realloc-growth`).
"""
import os, subprocess, sys, re

args=sys.argv[1:]
row="rust-btreemap"
if args[:1]==["--row"]:
    row=args[1]; args=args[2:]
n=int(args[0]); bins=args[1:]
res={b:[] for b in bins}
for r in range(n):
    order = bins if r%2==0 else bins[::-1]
    for b in order:
        env=dict(os.environ, HAKMEM_STATS="1")
        p=subprocess.Popen([b,row,"--scale","1","--threads","2"],stdout=subprocess.DEVNULL,stderr=subprocess.PIPE,env=env)
        err=p.stderr.read().decode()
        _,st,ru=os.wait4(p.pid,0)
        g=lambda k: int(re.search(k+r"\s+(\d+)",err).group(1))
        res[b].append((ru.ru_minflt, g("thp_collapses"), g("thp_collapse_us"), g("thp_collapses_slow"), g("thp_collapses_skipped"), (ru.ru_utime+ru.ru_stime)*1000))
for b in bins:
    v=res[b]
    print(b, "runs with faults>1000: %d of %d"%(sum(1 for x in v if x[0]>1000), len(v)))
    for x in v: print("  faults %5d collapses %2d cost_us %6d slow %d skipped %2d cpu_ms %.1f"%x)
