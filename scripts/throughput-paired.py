#!/usr/bin/env python3
"""Paired, interleaved A/B of scripts/throughput.sh's rows: ops per CPU second per round.

    scripts/throughput-paired.py [--sched shared|parallel] ROW ROUNDS LABEL=LIB [LABEL=LIB ...]

ROW is one of throughput.sh's rows (larson xmalloc-w1 xmalloc-w2 rreplace rreplace-x), run
exactly as that script runs it (2 threads, 2 s), or rreplace-xl (rreplace-x of 1-16 KiB blocks); build the binaries first with
`scripts/throughput.sh` (they land in target/throughput/). Each LIB is LD_PRELOADed; a LIB may
carry one environment setting, `NAME=VALUE:PATH` (e.g. `thp=HAKMEM_THP=1:/tmp/main.so`). Every
round runs each LIB once, the order rotated and reversed every other round, so no library always
runs first on a warm or cold machine. Prints, for each LIB, the median ops per CPU second, the
median of its per-round ratios over the first LIB with the 10th-90th percentiles and how many
rounds were below 1, and the raw series (a Python dict, for pooling several invocations).

`--sched` fixes how the row's two threads meet, as in scripts/paired.py: `shared` pins every run
to CPU 0 (the threads take turns on one core), `parallel` runs it SCHED_FIFO priority 10 (root;
both threads at once on two cores; its main thread is raised to 11 once the workers exist, so
the timed stop is not starved). Default: neither (the host decides).
"""

import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "throughput")
T, SECS = 2, 2
ROWS = {
    "larson": f"larson {SECS} 8 1000 5000 100 4141 {T}",
    "xmalloc-w1": f"xmalloc-test 1 {SECS} 64",
    "xmalloc-w2": f"xmalloc-test {T} {SECS} 64",
    "rreplace": f"rreplace {T} {SECS} 5000 16 1000 0",
    "rreplace-x": f"rreplace {T} {SECS} 5000 16 16000 8",
    # Not a throughput.sh row: rreplace-x's blocks of 1-16 KiB only (few blocks a slab, so many
    # slabs per thread: the owned-slab table's collisions, docs/benchmarks.md "Session 23: xt23").
    "rreplace-xl": f"rreplace {T} {SECS} 5000 1024 16000 8",
}


def run_once(row, lib, mode):
    env = dict(os.environ)
    head, sep, path = lib.partition(":")
    if sep and "=" in head:
        name, _, value = head.partition("=")
        env[name] = value
        lib = path
    env["LD_PRELOAD"] = lib
    argv = ROWS[row].split()
    argv[0] = os.path.join(BIN, argv[0])
    if mode != "parallel":
        out = subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout
    else:
        # The row's workers never block, so under one FIFO priority the main thread, woken from
        # its timed sleep, would wait behind them forever: run the program at priority 10 and,
        # once its workers exist (inheriting 10), raise its main thread to 11 so the stop lands.
        proc = subprocess.Popen(["chrt", "-f", "10"] + argv, env=env, stdout=subprocess.PIPE,
                                text=True)
        time.sleep(0.2)
        os.sched_setscheduler(proc.pid, os.SCHED_FIFO, os.sched_param(11))
        out = proc.communicate()[0]
        if proc.returncode:
            sys.exit(f"throughput-paired.py: {argv[0]} exited {proc.returncode}")
    return int(re.search(r"ops_per_cpu_s=(\d+)", out).group(1))


def sched_setup(mode):
    """Puts this process, and so every run it starts, in `--sched` MODE (scripts/paired.py's;
    under `parallel` this process runs at FIFO 11, above the runs, see `run_once`)."""
    if mode == "shared":
        os.sched_setaffinity(0, {0})
    elif mode == "parallel":
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(11))
    elif mode is not None:
        sys.exit(f"throughput-paired.py: unknown --sched mode {mode!r}")


def main():
    args = sys.argv[1:]
    mode = None
    if args[:1] == ["--sched"] and len(args) > 1:
        mode, args = args[1], args[2:]
    if len(args) < 3 or args[0] not in ROWS:
        sys.exit(__doc__)
    sched_setup(mode)
    row, rounds = args[0], int(args[1])
    libs = [a.split("=", 1) for a in args[2:]]
    res = {label: [] for label, _ in libs}
    for r in range(rounds):
        k = r % len(libs)
        order = libs[k:] + libs[:k]
        if r % 2:
            order.reverse()
        for label, lib in order:
            res[label].append(run_once(row, lib, mode))
    base = libs[0][0]
    print(f"{row}: {rounds} rounds, sched {mode or 'host'}, median ops per CPU s (M); "
          f"paired ratio over {base}: median [p10-p90] (rounds < 1)")
    for label, _ in libs:
        rat = sorted(a / b for a, b in zip(res[label], res[base]))
        n = len(rat)
        lo, hi = rat[n // 10], rat[min(n - 1, (9 * n) // 10)]
        below = sum(x < 1 for x in rat)
        print(f"  {label:10s} {statistics.median(res[label]) / 1e6:7.2f}  "
              f"{statistics.median(rat):.3f} [{lo:.2f}-{hi:.2f}] ({below} <1)")
    print("  raw", {k: [round(x / 1e6, 2) for x in v] for k, v in res.items()})


if __name__ == "__main__":
    main()
