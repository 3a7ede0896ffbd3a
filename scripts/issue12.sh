#!/usr/bin/env bash
# Issue 12's scenarios from outside, under LD_PRELOAD (docs/verification.md, "Session 7: defects7"):
# each program of scripts/issue12/ runs RUNS times (default: the issue's counts) under hakmem's
# release preload library and, for comparison, glibc and mimalloc (when installed), each under
# `timeout`; prints per program and allocator how many runs passed, hung (timeout) or failed.
#   scripts/issue12.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p hakmem-preload -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for f in scripts/issue12/*.c; do
  gcc -O1 -g -pthread -Wall -o "$out/$(basename "$f" .c)" "$f"
done
declare -A libs=([hakmem]="$PWD/target/release/libhakmem.so" [glibc]="")
mi=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
[ -e "$mi" ] && libs[mimalloc]=$mi
# The issue's counts: 35 runs of the trim scenario, 30 of each fork scenario.
declare -A runs=([trim_heapless]=35 [fork_stdio]=30 [fork_in_fork_signal]=30 [fork_fallback]=30)
for prog in trim_heapless fork_stdio fork_in_fork_signal fork_fallback; do
  n=${1:-${runs[$prog]}}
  for name in hakmem glibc mimalloc; do
    [ -n "${libs[$name]+x}" ] || continue
    ok=0 hung=0 failed=0
    for _ in $(seq "$n"); do
      rc=0
      timeout 60 env LD_PRELOAD="${libs[$name]}" "$out/$prog" >/dev/null 2>"$out/err" || rc=$?
      case $rc in
        0) ok=$((ok + 1)) ;;
        124) hung=$((hung + 1)) ;;
        *) failed=$((failed + 1)); echo "  $prog/$name rc=$rc: $(head -c 300 "$out/err")" ;;
      esac
    done
    printf '%-20s %-9s runs %3d  ok %3d  hung %3d  failed %3d\n' "$prog" "$name" "$n" "$ok" "$hung" "$failed"
  done
done
