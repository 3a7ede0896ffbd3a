#!/usr/bin/env python3
"""rreplace-x with both threads truly on their own cores: short runs, split by regime.

    scripts/throughput-regimes.py ROUNDS SECONDS LABEL=LIB [LABEL=LIB ...]

On the shared 2-core runner `scripts/throughput-paired.py --sched parallel rreplace-x` is
bimodal: in some runs both worker threads really run at once (every library reads 15-17 M ops per
CPU s: cross-core line transfers), in others they take turns (40-45 M), and a round that mixes
the two makes its ratio noise. This runs the same row under the same protocol (SCHED_FIFO 10, the
main thread raised to 11 once the workers exist; root), SECONDS per run, the LIBs rotated and
reversed every other round, and keeps only the rounds in which every run is below 25 M ops per
CPU s. Prints, for each LIB, the median of those runs and the median [p10-p90] of its per-round
ratios over the first LIB, with how many were below 1, then the raw series. Build the binary
first with `scripts/throughput.sh` (target/throughput/rreplace). docs/benchmarks.md "Session 24:
xfree24".
"""

import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "throughput", "rreplace")
# M ops per CPU s below which a run had both threads on their own cores.
PARALLEL_BELOW = 25.0


def run_once(lib, secs):
    env = dict(os.environ, LD_PRELOAD=lib)
    argv = ["chrt", "-f", "10", BIN, "2", secs, "5000", "16", "16000", "8"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(0.2)
    os.sched_setscheduler(proc.pid, os.SCHED_FIFO, os.sched_param(11))
    out = proc.communicate()[0]
    if proc.returncode:
        sys.exit(f"throughput-regimes.py: rreplace exited {proc.returncode}")
    return int(re.search(r"ops_per_cpu_s=(\d+)", out).group(1)) / 1e6


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds, secs = int(sys.argv[1]), sys.argv[2]
    libs = [a.split("=", 1) for a in sys.argv[3:]]
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(11))
    res = {label: [] for label, _ in libs}
    for r in range(rounds):
        order = libs[r % len(libs):] + libs[:r % len(libs)]
        if r % 2:
            order = order[::-1]
        for label, lib in order:
            res[label].append(run_once(lib, secs))
    base = libs[0][0]
    kept = [i for i in range(rounds) if all(res[l][i] < PARALLEL_BELOW for l, _ in libs)]
    print(f"{rounds} rounds, {len(kept)} with every run truly parallel (< {PARALLEL_BELOW} M)")
    for label, _ in libs:
        runs = [res[label][i] for i in kept]
        ratios = sorted(res[label][i] / res[base][i] for i in kept)
        if not ratios:
            print(f"  {label:8} no round kept")
            continue
        q = lambda f: ratios[min(len(ratios) - 1, int(f * len(ratios)))]
        below = sum(x < 1 for x in ratios)
        print(f"  {label:8} {statistics.median(runs):6.2f}  {statistics.median(ratios):.3f} "
              f"[{q(0.1):.2f}-{q(0.9):.2f}] ({below}/{len(ratios)} <1)")
    print("raw", res)


if __name__ == "__main__":
    main()
