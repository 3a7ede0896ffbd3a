#!/usr/bin/env python3
"""Where a program's peak RSS sits: samples /proc/PID/smaps_rollup while it runs.

    scripts/peak-smaps.py [--every MS] [--series] [--stdin FILE] LIB -- ARGV...

Runs ARGV (stdin from FILE, else /dev/null; stdout discarded) with LD_PRELOAD=LIB (`-`: no
preload), reads the child's /proc/PID/smaps_rollup every MS milliseconds (default 10) and prints
the sample with the largest Rss: Rss, Anonymous, AnonHugePages (transparent huge pages, e.g.
hakmem's collapsed SuperSlabs and spans), Private_Dirty and the file-backed part, in KiB. With
`--series`, also about 40 evenly spaced samples `seconds:Rss/AnonHugePages` in MiB, to see whether
the peak is the end of a steady growth (live data) or a transient spike (memory held on a clock).

Reads the direct child only: for a driver that forks the real work (gcc -> cc1), run the worker
itself. Sampling misses peaks shorter than MS; `/usr/bin/time -f %M` gives the exact maximum.
Written in session 24 (mem24, docs/benchmarks.md "Session 24: mem24").
"""

import os
import subprocess
import sys
import time

KEYS = ("Rss", "Anonymous", "AnonHugePages", "Private_Dirty", "Shared_Clean", "Private_Clean")


def read_rollup(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[-1] == "kB":
                    fields[parts[0].rstrip(":")] = int(parts[1])
    except (OSError, ValueError):
        return None
    return fields or None


def main():
    args = sys.argv[1:]
    every, series, stdin = 0.010, False, "/dev/null"
    while args and args[0].startswith("--") and args[0] != "--":
        if args[0] == "--every":
            every = float(args[1]) / 1000
            args = args[2:]
        elif args[0] == "--series":
            series = True
            args = args[1:]
        elif args[0] == "--stdin":
            stdin = args[1]
            args = args[2:]
        else:
            sys.exit(__doc__)
    if len(args) < 3 or args[1] != "--":
        sys.exit(__doc__)
    lib, argv = args[0], args[2:]
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    if lib != "-":
        env["LD_PRELOAD"] = lib
    t0 = time.monotonic()
    with open(stdin, "rb") as inp:
        proc = subprocess.Popen(argv, stdin=inp, stdout=subprocess.DEVNULL, env=env)
        best, samples = None, []
        while proc.poll() is None:
            d = read_rollup(proc.pid)
            if d:
                samples.append((time.monotonic() - t0, d.get("Rss", 0), d.get("AnonHugePages", 0)))
                if best is None or d.get("Rss", 0) > best.get("Rss", 0):
                    best = d
            time.sleep(every)
    if proc.returncode != 0:
        sys.exit(f"{argv[0]} exited with status {proc.returncode}")
    if best is None:
        sys.exit("no sample taken: the program ended within one interval")
    print("peak sample (KiB): " + ", ".join(f"{k} {best[k]}" for k in KEYS if k in best))
    if series:
        step = max(1, len(samples) // 40)
        print(" ".join(f"{t:.2f}:{r // 1024}/{h // 1024}" for t, r, h in samples[::step]))


if __name__ == "__main__":
    main()
