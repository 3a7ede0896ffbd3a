#!/usr/bin/env python3
"""Paired, interleaved CPU-time comparison of bench workload binaries.

    scripts/paired.py [--runs N] [--scale S] [--threads T] [--row] [--spread] [--runs-csv FILE]
                      [--sched MODE]
                      WORKLOAD BIN [BIN...]

Runs `BIN WORKLOAD --scale S --threads T` for every BIN in turn, N rounds (the order alternates
each round: A B, B A, ... so neither side always runs first on a warm or cold machine). Each run's
CPU time (user + sys) comes from the kernel's rusage of the child (`os.wait4`), with microsecond
resolution; `/usr/bin/time` rounds to 10 ms, too coarse for rows of 100-300 ms. For every BIN it
prints the median and minimum CPU time, the median of the per-round ratios over the first BIN
(paired: both runs of a round saw the same load) and the median minor page faults. No peak RSS:
a child's `ru_maxrss` starts at its forking parent's (Python's ~15 MiB), so small rows would
read the interpreter's size; the runner measures RSS.
`--row` prints one markdown table row instead: `| WORKLOAD | median A | median B | paired B/A |`
(two binaries).
`--spread` adds, for every BIN, the distribution of its runs (CPU ms: min, quartiles, 90th
percentile, max, and p90/median; the same for minor faults) and the 10th/90th percentiles of the
per-round ratios over the first BIN: whether one allocator's run-to-run spread is wider than
another's, which decides how often a 5-rep median crosses a bar.
`--runs-csv FILE` writes every run (round,bin,cpu_ms,faults,wall_ms): `scripts/draw-odds.py` reads
it to say how often a runner draw of this row crosses 1.05 (rows23, session 23).
`--modes` splits the runs by how the host scheduled them, read from each run's CPU over its wall
time (a 2-thread row; mstress28, session 28): `one-core` (0.9-1.1: the threads took turns on one
core, nothing else in the way), `crowded` (under 0.7: they shared a core with other processes),
`two-cores` (over 1.5: both ran at once) and `between`. A row's CPU differs by mode for every
allocator (mstress: ~180, ~210 and ~310 ms), so a run's mode, not its allocator, makes most of a
tail; per BIN it prints each mode's runs, median and p90, and per peer the paired ratio over the
rounds whose two runs shared a mode.
`--stats` runs every BIN under `HAKMEM_STATS=1` and reads the counters hakmem prints at exit (a
peer prints none): `--runs-csv` gains a column per counter, and for every BIN that printed some the
rank correlation (Spearman) of each varying counter with the run's CPU is printed: which of
hakmem's mechanisms (collapses, purges, trims, remote drains, adoptions, spills) come with its slow
runs. The counters cost a few instructions per operation, so compare times only among runs that
all had `--stats` or none.

The bench binaries are `target/bench/release/wl-<alloc>` (built by the runner) or any
`cargo build --release -p hakmem-bench --bin wl-hakmem` output; scripts/ab.sh uses this script to
compare two commits. A failing run stops the comparison with its exit status.
Build the peers only as the runner does (bench/src/runner/builder.rs, `release_cargo`): a plain
`cargo build --release ... --features ...,snmalloc` inherits the workspace's `debug = 1`, cargo
tells build scripts `DEBUG=true`, and snmalloc-sys then builds snmalloc without `NDEBUG` (its
debug checks on: 1.5x the CPU of the runner's build on cfrac and glibc-simple; rows21, session
21). By hand:
`CXXFLAGS=-DNDEBUG cargo build --release --config 'profile.release.package."*".debug=false'
-p hakmem-bench --no-default-features --features hakmem-default,mimalloc,jemalloc,snmalloc
--target-dir target/bench --bin wl-hakmem --bin wl-snmalloc ...`. A BIN holding snmalloc's
assertion text (`assert fail: `) is refused unless `--allow-debug-peers` is given.

A BIN may carry environment settings for its runs only: `NAME=VALUE[,NAME=VALUE...]:PATH`, e.g.
`HAKMEM_PROF=1:target/bench/release/wl-hakmem` against the plain path (the profiler's A/B on one
binary). The spec, not the path, names the BIN in the output.

A BIN named after WORKLOAD is a C workload (`target/bench/c/W`, built by the runner): it runs
without the workload argument, under the environment its spec gives, e.g. the profiler's A/B
under LD_PRELOAD (C=target/bench/c/c-medium-churn): `scripts/paired.py c-medium-churn
LD_PRELOAD=$PWD/a.so:$C LD_PRELOAD=$PWD/a.so,HAKMEM_PROF=1:$C`.

`--sched shared|parallel` fixes how a 2-thread row's threads meet (rows20): a cross-thread row
such as xmalloc costs a different allocator the most in each of two modes that a loaded host
mixes at random. `shared` pins every run to CPU 0 (the threads take turns on one core, as under
other helpers' load); `parallel` runs it SCHED_FIFO (priority 10; root), so that nothing
preempts either thread and both run at once on two cores (as on an idle host; the real-time
throttle, sched_rt_runtime_us, leaves the host 5%). Default: neither (the host decides).
"""

import argparse
import csv
import os
import statistics
import subprocess
import sys
import time


def split_spec(spec):
    """(environment, path) of a BIN spec: `NAME=VALUE[,NAME=VALUE...]:PATH` or a plain PATH."""
    head, sep, path = spec.partition(":")
    if not sep or "=" not in head:
        return os.environ, spec
    env = dict(os.environ)
    for item in head.split(","):
        name, eq, value = item.partition("=")
        if not eq or not name:
            sys.exit(f"paired.py: bad environment setting {item!r} in {spec!r}")
        env[name] = value
    return env, path


def sched_setup(mode):
    """Puts this process, and so every run it starts, in `--sched` MODE (None: nothing). Set on
    the parent, not in a `preexec_fn`: that would make `subprocess` fork the interpreter, whose
    copy-on-write faults before the exec would count in the run's faults."""
    if mode == "shared":
        os.sched_setaffinity(0, {0})
    elif mode == "parallel":
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))


# snmalloc's `SNMALLOC_ASSERT_MSG` format, compiled in only without `NDEBUG` (ds_core/defines.h).
DEBUG_PEER_MARKER = b"assert fail: {} in {} on {} "


def debug_peer(path):
    """True if the binary at PATH carries snmalloc's assertion text: a peer built without
    `NDEBUG`, whose times are not the peer's (see the module doc)."""
    with open(path, "rb") as f:
        return DEBUG_PEER_MARKER in f.read()


def run_once(spec, workload, scale, threads, stats=False):
    """CPU seconds, minor faults, wall seconds and hakmem's exit counters (`--stats`: {name:
    value}, empty for a peer) of one run of the BIN SPEC."""
    env, binary = split_spec(spec)
    if stats:
        env = dict(env, HAKMEM_STATS="1")
    # A C workload binary (bench/c, `target/bench/c/W`) is named after its workload and takes
    # none as an argument.
    named = [] if os.path.basename(binary) == workload else [workload]
    start = time.monotonic()
    proc = subprocess.Popen(
        [binary, *named, "--scale", scale, "--threads", threads],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"paired.py: {binary} {workload} exited with {code}\n{err}")
    counters = {}
    if stats:
        # hakmem's report (src/stats.rs): `name value` lines after `hakmem: stats`.
        for line in err.splitlines():
            f = line.split()
            if len(f) == 2 and f[1].isdigit():
                counters[f[0]] = int(f[1])
    return usage.ru_utime + usage.ru_stime, usage.ru_minflt, wall, counters


# `--modes`: (name, lowest, highest CPU over wall time), in the order printed.
MODES = [("one-core", 0.9, 1.1), ("crowded", 0.0, 0.7), ("two-cores", 1.5, float("inf"))]


def mode_of(cpu, wall):
    """The schedule a run met (`--modes`), from its CPU and wall seconds."""
    par = cpu / wall if wall > 0 else 0.0
    for name, lo, hi in MODES:
        if lo <= par <= hi:
            return name
    return "between"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--scale", default="1")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--row", action="store_true", help="one markdown row (two binaries)")
    ap.add_argument("--spread", action="store_true", help="quantiles of every BIN's runs")
    ap.add_argument(
        "--runs-csv", metavar="FILE", help="every run: round,bin,cpu_ms,faults,wall_ms"
    )
    ap.add_argument(
        "--stats", action="store_true", help="HAKMEM_STATS=1: counters per run, their correlation"
    )
    ap.add_argument(
        "--modes", action="store_true", help="runs split by schedule (CPU over wall time)"
    )
    ap.add_argument(
        "--sched",
        choices=["shared", "parallel"],
        help="shared: every run on CPU 0; parallel: SCHED_FIFO (root), both threads at once",
    )
    ap.add_argument(
        "--allow-debug-peers",
        action="store_true",
        help="run a BIN that holds snmalloc's debug assertions (built without NDEBUG)",
    )
    ap.add_argument("workload")
    ap.add_argument("bins", nargs="+")
    a = ap.parse_args()
    if a.row and len(a.bins) != 2:
        ap.error("--row compares exactly two binaries")
    if a.spread and a.runs < 2:
        ap.error("--spread needs two runs or more")

    if not a.allow_debug_peers:
        for b in a.bins:
            path = split_spec(b)[1]
            if debug_peer(path):
                sys.exit(
                    f"paired.py: {path} holds snmalloc's debug assertions (built without "
                    "NDEBUG: a plain cargo build of the peers); build it as the runner does "
                    "(scripts/paired.py's module doc gives the command) "
                    "or pass --allow-debug-peers"
                )

    sched_setup(a.sched)
    cpu = {b: [] for b in a.bins}
    faults = {b: [] for b in a.bins}
    walls = {b: [] for b in a.bins}
    counters = {b: [] for b in a.bins}
    for i in range(a.runs):
        order = a.bins if i % 2 == 0 else list(reversed(a.bins))
        for b in order:
            c, f, w, k = run_once(b, a.workload, a.scale, a.threads, a.stats)
            cpu[b].append(c)
            faults[b].append(f)
            walls[b].append(w)
            counters[b].append(k)
    names = list(dict.fromkeys(n for b in a.bins for k in counters[b] for n in k))
    if a.runs_csv:
        with open(a.runs_csv, "w", newline="") as out:
            w = csv.writer(out)  # quotes a spec's commas (`NAME=VALUE,NAME=VALUE:PATH`)
            w.writerow(["round", "bin", "cpu_ms", "faults", "wall_ms", *names])
            for b in a.bins:
                for i, (c, f, t, k) in enumerate(zip(cpu[b], faults[b], walls[b], counters[b])):
                    extra = [k.get(n, "") for n in names]
                    w.writerow([i, b, f"{c * 1e3:.2f}", f, f"{t * 1e3:.2f}", *extra])

    first = a.bins[0]
    paired = {b: statistics.median(x / y for x, y in zip(cpu[b], cpu[first])) for b in a.bins}
    if a.row:
        b = a.bins[1]
        print(
            f"| {a.workload} | {statistics.median(cpu[first]) * 1e3:.1f} ms "
            f"| {statistics.median(cpu[b]) * 1e3:.1f} ms | {paired[b]:.3f} |"
        )
        return
    for b in a.bins:
        print(
            f"{a.workload:16s} {b:50s} median {statistics.median(cpu[b]) * 1e3:8.1f} ms"
            f"  min {min(cpu[b]) * 1e3:8.1f}  paired/first {paired[b]:.3f}"
            f"  faults {statistics.median(faults[b]):8.0f}"
        )
    if a.spread:
        for b in a.bins:
            ratios = [x / y for x, y in zip(cpu[b], cpu[first])]
            print(f"  {b}\n    cpu ms {spread([x * 1e3 for x in cpu[b]])}")
            print(f"    faults {spread(faults[b])}")
            if b != first:
                q = quantiles(ratios)
                print(f"    paired/first p10 {q[0]:.3f}  p90 {q[3]:.3f}")
    if a.modes:
        print_modes(a.bins, cpu, walls)
    if a.stats:
        print_stats(a.bins, cpu, faults, walls, counters, names)


def ranks(xs):
    """Each value's rank in XS (ties share their mean rank)."""
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2
        i = j + 1
    return r


def spearman(xs, ys):
    """Rank correlation of XS and YS (None when either is constant)."""
    rx, ry = ranks(xs), ranks(ys)
    mx, my = statistics.mean(rx), statistics.mean(ry)
    sxy = sum((x - mx) * (y - my) for x, y in zip(rx, ry))
    sx = sum((x - mx) ** 2 for x in rx) ** 0.5
    sy = sum((y - my) ** 2 for y in ry) ** 0.5
    return sxy / (sx * sy) if sx and sy else None


def print_stats(bins, cpu, faults, walls, counters, names):
    """`--stats`: per BIN that printed counters, each varying one's correlation with the CPU."""
    for b in bins:
        if not any(counters[b]):
            continue
        print(f"  {b}: rank correlation with CPU (median; constant counters left out)")
        cols = [("faults", faults[b]), ("wall_ms", [w * 1e3 for w in walls[b]])]
        cols += [(n, [k.get(n, 0) for k in counters[b]]) for n in names]
        for n, xs in cols:
            rho = spearman(cpu[b], xs)
            if rho is not None:
                print(f"    {n:28s} {rho:+.2f}  ({statistics.median(xs):.0f})")


def print_modes(bins, cpu, walls):
    """`--modes`: every BIN's runs by schedule, and the paired ratios within a shared mode."""
    modes = {b: [mode_of(c, w) for c, w in zip(cpu[b], walls[b])] for b in bins}
    first = bins[0]
    print("  by schedule (CPU / wall: one-core 0.9-1.1, crowded < 0.7, two-cores > 1.5)")
    for name in [m[0] for m in MODES] + ["between"]:
        for b in bins:
            xs = [c * 1e3 for c, m in zip(cpu[b], modes[b]) if m == name]
            if not xs:
                continue
            p90 = statistics.quantiles(xs, n=10, method="inclusive")[8] if len(xs) > 1 else xs[0]
            line = (
                f"    {name:9s} {b:50s} runs {len(xs):3d}  median {statistics.median(xs):8.1f}"
                f"  p90 {p90:8.1f}"
            )
            if b != first:
                ratios = [
                    x / y
                    for x, y, mx, my in zip(cpu[b], cpu[first], modes[b], modes[first])
                    if mx == my == name
                ]
                if ratios:
                    line += f"  paired/first {statistics.median(ratios):.3f} ({len(ratios)} rounds)"
            print(line)


def quantiles(xs):
    """10th, 25th, 75th and 90th percentiles of XS (inclusive method: exact for few runs)."""
    dec = statistics.quantiles(xs, n=10, method="inclusive")
    quart = statistics.quantiles(xs, n=4, method="inclusive")
    return dec[0], quart[0], quart[2], dec[8]


def spread(xs):
    """One line: min, quartiles, p90, max and p90 over the median of XS."""
    _, q1, q3, p90 = quantiles(xs)
    med = statistics.median(xs)
    return (
        f"min {min(xs):8.1f}  q1 {q1:8.1f}  median {med:8.1f}  q3 {q3:8.1f}"
        f"  p90 {p90:8.1f}  max {max(xs):8.1f}  p90/median {p90 / med:.3f}"
    )


if __name__ == "__main__":
    main()
