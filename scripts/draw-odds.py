#!/usr/bin/env python3
"""How often a runner draw puts a row over the 1.05 bar, from measured paired rounds.

    scripts/draw-odds.py [--draws N] [--bar B] RUNS.CSV [RUNS.CSV...]

Reads the per-run CSV that `scripts/paired.py --runs-csv FILE` writes (round,bin,cpu_ms,faults,
wall_ms, and with `--stats` hakmem's counters; only `bin` and `cpu_ms` are read; the first BIN is
hakmem, the others its peers) and simulates runner draws: REPS rounds picked at
random, with replacement, from the measured ones (each round ran every BIN back to back, as one
runner rep does). For every row it prints the share of draws over the bar under three rules:
- `med5`: the runner's rule today (`ratios.py`): hakmem's median CPU of 5 reps over the fastest
  peer's median of the same reps;
- `med9`: the same rule with 9 reps;
- `pair5`: the paired rule: per peer, the median of the 5 per-rep ratios hakmem / peer (both
  runs of a rep saw the same load), the largest over the peers.
Seeded, so the same CSV gives the same shares.
"""

import argparse
import collections
import csv
import os
import random
import statistics


def load(path):
    """{bin: [cpu_ms by round]} in the CSV's bin order (the first is hakmem)."""
    cpu = collections.OrderedDict()
    with open(path) as f:
        for r in csv.DictReader(f):
            cpu.setdefault(r["bin"], []).append(float(r["cpu_ms"]))
    return cpu


def odds(cpu, draws, bar, reps, rule, rng):
    bins = list(cpu)
    hk, peers = bins[0], bins[1:]
    rounds = len(cpu[hk])
    over = 0
    for _ in range(draws):
        pick = [rng.randrange(rounds) for _ in range(reps)]
        if rule == "pair":
            r = max(statistics.median(cpu[hk][i] / cpu[p][i] for i in pick) for p in peers)
        else:
            med = {b: statistics.median(cpu[b][i] for i in pick) for b in bins}
            r = med[hk] / min(med[p] for p in peers)
        over += r > bar
    return over / draws


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=4000)
    ap.add_argument("--bar", type=float, default=1.05)
    ap.add_argument("csvs", nargs="+")
    a = ap.parse_args()
    print(f"{'row':18s} {'med5':>6s} {'med9':>6s} {'pair5':>6s}   (share of {a.draws} draws over {a.bar})")
    for path in a.csvs:
        cpu = load(path)
        rng = random.Random(23)
        cells = [
            odds(cpu, a.draws, a.bar, 5, "med", rng),
            odds(cpu, a.draws, a.bar, 9, "med", rng),
            odds(cpu, a.draws, a.bar, 5, "pair", rng),
        ]
        name = os.path.basename(path).rsplit(".", 1)[0]
        print(f"{name:18s} " + " ".join(f"{c:6.1%}" for c in cells))


if __name__ == "__main__":
    main()
