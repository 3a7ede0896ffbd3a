#!/usr/bin/env python3
"""Interleaved runs of scripts/fork-bench/fork_bench.c under several allocators (docs/benchmarks.md,
"Session 26: fork26").

    scripts/fork-bench/run.py [--rounds R] [--forks F] [--mode work|exec] [--heap-mib M] LIB...

LIB is a preload library path or `glibc` (no preload). Each round runs every LIB once, the order
alternating (A B C, C B A, ...), so all sides see the same load. Prints, for every LIB, the median
over rounds of each per-fork mean the program prints (fork() µs, the child's minor faults and
system µs, the parent's minor faults and system µs between forks), and the median of the paired
per-round ratios over the first LIB for the child's faults and system time. Builds the program
with gcc into a temporary directory.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

KEYS = ["fork_us", "child_minflt", "child_sys_us", "parent_minflt", "parent_sys_us"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--forks", type=int, default=100)
    ap.add_argument("--mode", default="work", choices=["work", "exec"])
    ap.add_argument("--heap-mib", type=int, default=64)
    ap.add_argument("libs", nargs="+")
    a = ap.parse_args()
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fork_bench.c")
    tmp = tempfile.mkdtemp()
    exe = os.path.join(tmp, "fork_bench")
    subprocess.run(["gcc", "-O2", "-pthread", src, "-o", exe], check=True)
    res = {lib: [] for lib in a.libs}
    for r in range(a.rounds):
        order = a.libs if r % 2 == 0 else list(reversed(a.libs))
        for lib in order:
            env = dict(os.environ)
            env.pop("LD_PRELOAD", None)
            if lib != "glibc":
                env["LD_PRELOAD"] = lib
            out = subprocess.run(
                [exe, str(a.forks), a.mode, str(a.heap_mib)],
                env=env, capture_output=True, text=True)
            if out.returncode != 0:
                sys.exit(f"{lib}: exit {out.returncode}: {out.stderr.strip()}")
            vals = dict(re.findall(r"(\w+)=([\d./]+)", out.stdout))
            res[lib].append({k: float(vals[k]) for k in KEYS} | {"maps": vals["maps"]})
    base = res[a.libs[0]]
    print(f"{a.rounds} rounds x {a.forks} forks, mode {a.mode}, heap {a.heap_mib} MiB; medians")
    print("| allocator | fork µs | child faults | child sys µs | parent faults | parent sys µs "
          "| child faults / first | child sys / first | maps (start/end) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for lib in a.libs:
        runs = res[lib]
        med = [statistics.median(x[k] for x in runs) for k in KEYS]
        rf = statistics.median(x["child_minflt"] / b["child_minflt"] for x, b in zip(runs, base))
        rs = statistics.median(x["child_sys_us"] / b["child_sys_us"] for x, b in zip(runs, base))
        name = lib if lib == "glibc" else os.path.relpath(lib) if lib.startswith(os.getcwd()) else lib
        print(f"| {name} | {med[0]:.0f} | {med[1]:.0f} | {med[2]:.0f} | {med[3]:.0f} | "
              f"{med[4]:.0f} | {rf:.3f} | {rs:.3f} | {runs[-1]['maps']} |")


if __name__ == "__main__":
    main()
