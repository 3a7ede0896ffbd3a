#!/usr/bin/env python3
"""Real, public programs under LD_PRELOAD: hakmem against glibc, mimalloc, jemalloc and tcmalloc.

    scripts/real-programs.py [--rounds N] [--only NAME,NAME] [LABEL=LIB ...]

Runs each program below once per allocator per round, the allocator order rotated every round
and reversed every other round, so no allocator always runs first on a warm or cold machine.
CPU time (user + sys) comes from the kernel's rusage of the child (`os.wait4`, microseconds; it
includes the tiny `/usr/bin/time` wrapper); peak RSS is `/usr/bin/time`'s `%M` of the program
(the wrapper forks it, so the driver's own RSS is not inherited). LIB `-` (label `glibc`) means
no preload. Every run's output (stdout, and the object file for gcc) is hashed and must be
identical across allocators and rounds; a mismatch or failure stops the script.
Default LIBs: hakmem (target/release/libhakmem.so, build it first with
`cargo build --release -p hakmem-preload`), glibc, mimalloc, jemalloc, tcmalloc from Debian.

Prints, per program and allocator, the median CPU seconds, the median per-round ratio of hakmem
over that allocator (paired: both runs of one round saw the same load) with the 10th-90th
percentiles, and the median peak RSS in MiB; then a markdown table.
Needs: gcc, python3, perl, lua5.4, sqlite3, git (`apt-get install lua5.4 sqlite3`). Optional
(session 28): g++ (a C++ node-container workload, scripts/real-programs/churn.cpp, compiled once
before timing, and `g++ -O2` compiling it), xz (a two-thread `xz -T2` round trip), jq, gawk; a
program that is not installed is skipped with a note on stderr.
"""

import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "scripts", "real-programs")
LIBDIR = "/usr/lib/x86_64-linux-gnu"
DEFAULT_LIBS = [
    ("hakmem", os.path.join(ROOT, "target", "release", "libhakmem.so")),
    ("glibc", "-"),
    ("mimalloc", f"{LIBDIR}/libmimalloc.so.2"),
    ("jemalloc", f"{LIBDIR}/libjemalloc.so.2"),
    ("tcmalloc", f"{LIBDIR}/libtcmalloc_minimal.so.4"),
]


def programs(work):
    """(name, argv, stdin file or None, extra environment, output file to hash or None)."""
    big_c = os.path.join(work, "big.c")
    with open(big_c, "w") as f:
        subprocess.run([sys.executable, os.path.join(HERE, "gen-c.py"), "500"], stdout=f,
                       check=True)
    obj = os.path.join(work, "big.o")
    progs = [
        ("gcc-O2", ["gcc", "-O2", "-c", big_c, "-o", obj], None, {}, obj),
        # A fixed hash seed: with a random one the program's own work moves by ~1% a run
        # (callgrind, docs/benchmarks.md "Session 26: pyt26").
        ("python", ["python3", os.path.join(HERE, "churn.py"), "150000"], None,
         {"PYTHONHASHSEED": "0"}, None),
        ("python-malloc", ["python3", os.path.join(HERE, "churn.py"), "150000"], None,
         {"PYTHONMALLOC": "malloc", "PYTHONHASHSEED": "0"}, None),
        ("perl", ["perl", os.path.join(HERE, "churn.pl"), "80000"], None, {}, None),
        ("lua", ["lua5.4", os.path.join(HERE, "churn.lua"), "80000"], None, {}, None),
        ("sqlite3", ["sqlite3", ":memory:", "-init", "/dev/null"],
         os.path.join(HERE, "sqlite.sql"), {}, None),
        ("git-log-p", ["git", "-C", ROOT, "log", "-p", "-n", "600", "3ce8b60"], None, {}, None),
    ]
    # Session 28 (docs/benchmarks.md "Session 28: real28"): patterns the set above lacks.
    cpp = os.path.join(HERE, "churn.cpp")
    if shutil.which("g++"):
        exe = os.path.join(work, "churn-cpp")
        subprocess.run(["g++", "-O2", cpp, "-o", exe], check=True)
        # std::map / unordered_map / list nodes, std::string, shared_ptr: one block an element.
        progs.append(("cpp-churn", [exe, "60000"], None, {}, None))
        # cc1plus: a C++ compiler's own allocation (GCC's GC pools plus libstdc++ headers).
        cxx_obj = os.path.join(work, "churn.o")
        progs.append(("g++-O2", ["g++", "-O2", "-c", cpp, "-o", cxx_obj], None, {}, cxx_obj))
    text = os.path.join(work, "words.txt")
    with open(text, "w") as f:
        subprocess.run([sys.executable, os.path.join(HERE, "gen-data.py"), "text", "150000"],
                       stdout=f, check=True)
    if shutil.which("xz"):
        # Two threads each way: per-block buffers allocated in worker threads, freed by others.
        progs.append(("xz-T2", ["sh", "-c", f"xz -T2 -1 --block-size=1MiB -c {text} | "
                                "xz -T2 -d -c"], None, {}, None))
    if shutil.which("jq"):
        big_json = os.path.join(work, "big.json")
        with open(big_json, "w") as f:
            subprocess.run([sys.executable, os.path.join(HERE, "gen-data.py"), "json", "60000"],
                           stdout=f, check=True)
        # jq's values are reference-counted heap blocks: parse, group, sort, rebuild.
        progs.append(("jq", ["jq", "-c", "group_by(.group) | map({g: .[0].group, n: length, "
                             "s: (map(.score) | add), t: (map(.tags[]) | unique)})", big_json],
                      None, {}, None))
    if shutil.which("gawk"):
        # gawk's associative arrays and string concatenation (its own node pools and malloc).
        progs.append(("gawk", ["gawk", "-f", os.path.join(HERE, "assoc.awk"), text], None, {},
                      None))
    for name, tool in (("cpp-churn, g++-O2", "g++"), ("xz-T2", "xz"), ("jq", "jq"),
                       ("gawk", "gawk")):
        if not shutil.which(tool):
            print(f"note: {tool} not found, skipping {name}", file=sys.stderr)
    return progs


def run_once(prog, lib, work):
    name, argv, stdin, extra, outfile = prog
    env = dict(os.environ)
    env.update(extra)
    env.pop("LD_PRELOAD", None)
    rss_file = os.path.join(work, "rss")
    pre = [] if lib == "-" else ["env", f"LD_PRELOAD={lib}"]
    cmd = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + pre + argv
    out_path = os.path.join(work, "stdout")
    with open(out_path, "wb") as out, open(stdin or "/dev/null", "rb") as inp:
        proc = subprocess.Popen(cmd, stdin=inp, stdout=out, env=env, cwd=work)
        _, status, ru = os.wait4(proc.pid, 0)
    if status != 0:
        sys.exit(f"{name} under {lib}: exit status {status}")
    h = hashlib.sha256(open(out_path, "rb").read())
    if outfile:
        h.update(open(outfile, "rb").read())
        os.unlink(outfile)
    rss_kib = int(open(rss_file).read().split()[-1])
    return ru.ru_utime + ru.ru_stime, rss_kib / 1024, h.hexdigest()


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * (len(xs) - 1) + 0.5))]


def main():
    args = sys.argv[1:]
    rounds, only = 5, None
    while args and args[0].startswith("--"):
        if args[0] == "--rounds":
            rounds = int(args[1])
        elif args[0] == "--only":
            only = set(args[1].split(","))
        else:
            sys.exit(__doc__)
        args = args[2:]
    libs = [tuple(a.split("=", 1)) for a in args] or DEFAULT_LIBS
    work = tempfile.mkdtemp(prefix="real-programs-")
    progs = [p for p in programs(work) if only is None or p[0] in only]
    cpu = {(p[0], l): [] for p in progs for l, _ in libs}
    rss = {(p[0], l): [] for p in progs for l, _ in libs}
    digest = {}
    for r in range(rounds):
        for prog in progs:
            order = libs[r % len(libs):] + libs[:r % len(libs)]
            if r % 2:
                order.reverse()
            for label, lib in order:
                c, m, h = run_once(prog, lib, work)
                if digest.setdefault(prog[0], (h, label))[0] != h:
                    sys.exit(f"{prog[0]}: output under {label} differs from {digest[prog[0]][1]}")
                cpu[(prog[0], label)].append(c)
                rss[(prog[0], label)].append(m)
        print(f"round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    first = libs[0][0]
    print(f"# {rounds} rounds; CPU s median; {first}/X paired median ratio (p10-p90); RSS MiB")
    hdr = "| program | " + " | ".join(f"{l} CPU s" for l, _ in libs) + " | " + \
        " | ".join(f"{first}/{l}" for l, _ in libs[1:]) + " | " + \
        " | ".join(f"{l} RSS" for l, _ in libs) + " |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for prog in progs:
        n = prog[0]
        cells = [f"{statistics.median(cpu[(n, l)]):.3f}" for l, _ in libs]
        for l, _ in libs[1:]:
            ratios = [a / b for a, b in zip(cpu[(n, first)], cpu[(n, l)])]
            cells.append(f"{statistics.median(ratios):.2f} ({pct(ratios, 0.1):.2f}-"
                         f"{pct(ratios, 0.9):.2f})")
        cells += [f"{statistics.median(rss[(n, l)]):.1f}" for l, _ in libs]
        print(f"| {n} | " + " | ".join(cells) + " |")
    print("raw cpu:", {f"{k[0]}/{k[1]}": [round(x, 4) for x in v] for k, v in cpu.items()})
    print("raw rss:", {f"{k[0]}/{k[1]}": v for k, v in rss.items()})


if __name__ == "__main__":
    main()
