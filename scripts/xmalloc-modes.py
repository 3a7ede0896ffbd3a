#!/usr/bin/env python3
"""xmalloc's two modes against the host's cross-CPU line transfer time (xm26).

    scripts/xmalloc-modes.py [--runs N] [--workload W] BIN [BIN...]

Runs SCHED_FIFO (priority 10; root), so that both of the workload's threads run at once on the
two CPUs, as on an idle host. Before and after every run of `BIN W --scale 1 --threads 2` (the
BINs interleaved, the order alternating each round as in scripts/paired.py) it runs
scripts/xcore-probe.c (built into /tmp) and prints the probe's ns per round trip with the run's
CPU and wall ms. A run whose probes both read under 150 ns is `near`, both over 300 ns `far`,
else `switch` (the placement changed during the run). At the end: every BIN's median CPU per
mode and the paired median over the first BIN of the rounds where both runs had one mode.

BINs are specs as in scripts/paired.py: `NAME=VALUE[,...]:PATH` sets the environment of its runs,
and a BIN named after W is a C workload run without the workload argument, e.g. `--workload
c-xmalloc LD_PRELOAD=$PWD/target/release/libhakmem.so:target/bench/c/c-xmalloc`.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # no scripts/__pycache__ in the tree
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from paired import split_spec  # noqa: E402  (scripts/ is not a package)
PROBE = "/tmp/xcore-probe"


def probe():
    out = subprocess.run([PROBE], capture_output=True, text=True, timeout=60, check=True)
    return float(out.stdout)


def mode(before, after):
    if max(before, after) < 150:
        return "near"
    if min(before, after) > 300:
        return "far"
    return "switch"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=21)
    ap.add_argument("--workload", default="xmalloc")
    ap.add_argument("bins", nargs="+")
    a = ap.parse_args()
    subprocess.run(
        ["cc", "-O2", "-pthread", os.path.join(ROOT, "scripts/xcore-probe.c"), "-o", PROBE],
        check=True,
    )
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    runs = {b: [] for b in a.bins}
    for i in range(a.runs):
        for b in a.bins if i % 2 == 0 else list(reversed(a.bins)):
            env, binary = split_spec(b)
            named = [] if os.path.basename(binary) == a.workload else [a.workload]
            before = probe()
            proc = subprocess.Popen(
                [binary, *named, "--scale", "1", "--threads", "2"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            start = time.monotonic()
            _, status, usage = os.wait4(proc.pid, 0)
            wall = time.monotonic() - start
            if os.waitstatus_to_exitcode(status) != 0:
                sys.exit(f"xmalloc-modes.py: {b} failed")
            after = probe()
            cpu = usage.ru_utime + usage.ru_stime
            m = mode(before, after)
            runs[b].append((m, cpu))
            print(
                f"{i:3d} {b:40s} probe {before:6.1f} -> {after:6.1f} ns  {m:6s}"
                f"  cpu {cpu * 1e3:6.1f} ms  wall {wall * 1e3:6.1f} ms",
                flush=True,
            )
    first = a.bins[0]
    for m in ("near", "far", "switch"):
        for b in a.bins:
            xs = [c for mm, c in runs[b] if mm == m]
            if not xs:
                continue
            med = statistics.median(xs) * 1e3
            line = f"{m:6s} {b:40s} runs {len(xs):3d}  median cpu {med:6.1f} ms"
            pairs = [
                x[1] / y[1]
                for x, y in zip(runs[b], runs[first])
                if x[0] == m and y[0] == m
            ]
            if b != first and pairs:
                line += f"  paired/first {statistics.median(pairs):.3f} ({len(pairs)} rounds)"
            print(line)


if __name__ == "__main__":
    main()
