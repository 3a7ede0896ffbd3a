#!/usr/bin/env python3
"""Paired A/B of two allocators from one runner output (its runs.csv).

    scripts/runner-ab.py DIR [A [B]]        # default A = hakmem-prof, B = hakmem

The runner (`cargo run --release -p hakmem-bench -- --alloc B,A --reps N --out DIR`) runs every
allocator of a workload back to back in each repetition, rotating which goes first, so the two
runs of one repetition saw the same load. This prints, per workload, the median of the
per-repetition CPU ratios A/B (paired) beside the ratio of the medians (unpaired, what
summary.csv gives), every repetition's ratio, and the geometric means per suite and over all
rows. Issue 15's "the runner's geometric mean slows by at most 3% (same run, A/B)" is the last
line with A = hakmem-prof. On the shared 2-core host the paired geomean moves less than the
unpaired one when one run of a repetition meets a load spike: both columns are printed.
"""
import csv
import math
import statistics as st
import sys
from collections import defaultdict


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) > 1 else 2)
    d = sys.argv[1]
    a = sys.argv[2] if len(sys.argv) > 2 else "hakmem-prof"
    b = sys.argv[3] if len(sys.argv) > 3 else "hakmem"
    cpu = defaultdict(lambda: defaultdict(dict))
    with open(d + "/runs.csv") as f:
        for x in csv.DictReader(f):
            if x["ok"] == "true":
                cpu[(x["suite"], x["workload"])][x["alloc"]][int(x["rep"])] = float(x["cpu_s"])
    rows = []
    for k, v in sorted(cpu.items()):
        if a not in v or b not in v:
            continue
        reps = sorted(set(v[a]) & set(v[b]))
        ratios = [v[a][i] / v[b][i] for i in reps]
        paired = st.median(ratios)
        unpaired = st.median(v[a].values()) / st.median(v[b].values())
        rows.append((k, paired, unpaired))
        print("%-5s %-20s paired %.3f  unpaired %.3f  [%s]"
              % (k[0], k[1], paired, unpaired, " ".join("%.2f" % r for r in ratios)))
    if not rows:
        sys.exit("runner-ab: no workload has runs of both %s and %s in %s" % (a, b, d))
    for suite in sorted({k[0] for k, _, _ in rows}) + [None]:
        sel = [r for r in rows if suite is None or r[0][0] == suite]
        g = [math.exp(sum(math.log(r[i]) for r in sel) / len(sel)) for i in (1, 2)]
        print("%s/%s geomean over %d rows (%s): paired %.3f  unpaired %.3f"
              % (a, b, len(sel), suite or "all", g[0], g[1]))


if __name__ == "__main__":
    main()
