#!/usr/bin/env python3
"""Paired CPU time of one command under several LD_PRELOAD libraries (session 28, cpp28).

    scripts/preload-paired.py ROUNDS "COMMAND ARGS" LABEL=LIB [LABEL=LIB ...]

Each round runs the command once per library, the order rotated every round and reversed every
other round; CPU time (user + sys) is the kernel's rusage of the child (`os.wait4`). LIB `-` means
no preload. Prints per library the median CPU seconds and the median of the per-round ratios over
the first library (paired: both runs of a round saw the same load), with the 10th-90th
percentiles. stdout of the command is discarded; a non-zero exit stops the script.
"""
import os
import statistics
import sys


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    rounds = int(sys.argv[1])
    cmd = sys.argv[2].split()
    libs = [a.split("=", 1) for a in sys.argv[3:]]
    cpu = {label: [] for label, _ in libs}
    for r in range(rounds):
        order = libs[r % len(libs):] + libs[:r % len(libs)]
        if r % 2:
            order = order[::-1]
        for label, lib in order:
            env = dict(os.environ)
            if lib != "-":
                env["LD_PRELOAD"] = lib
            pid = os.fork()
            if pid == 0:
                fd = os.open("/dev/null", os.O_WRONLY)
                os.dup2(fd, 1)
                os.execvpe(cmd[0], cmd, env)
            _, status, ru = os.wait4(pid, 0)
            if status != 0:
                sys.exit(f"{label}: {cmd} exited with status {status:#x}")
            cpu[label].append(ru.ru_utime + ru.ru_stime)
    base = libs[0][0]
    for label, _ in libs:
        rs = [a / b for a, b in zip(cpu[label], cpu[base])]
        print(f"{label:14s} median {statistics.median(cpu[label]):.3f} s  {label}/{base} "
              f"{statistics.median(rs):.3f} (p10-p90 {pct(rs, 0.1):.3f}-{pct(rs, 0.9):.3f})")


if __name__ == "__main__":
    main()
