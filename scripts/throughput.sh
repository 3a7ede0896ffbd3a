#!/usr/bin/env bash
# Cross-thread throughput of libhakmem.so against the installed peers, in wall time, the way the
# public multi-threaded C benchmarks report it (ops/s): bench/c/throughput/*.c under LD_PRELOAD,
# allocators interleaved within each repetition, medians printed.
#
#   scripts/throughput.sh [LIBHAKMEM.so ...]
#
# Without arguments, target/release/libhakmem.so (build it first:
# `cargo build --release -p hakmem-preload`). More than one hakmem library (say, two builds
# to A/B) are all run, labelled hakmem, hakmem2, …; hk/best is the first over the fastest peer.
# Environment: TP_REPS (default 5),
# TP_SECONDS (default 2, per run), TP_THREADS (default 2), TP_ROWS (space-separated subset of
# larson xmalloc-w1 xmalloc-w2 rreplace rreplace-x threadtest).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
reps=${TP_REPS:-5}
secs=${TP_SECONDS:-2}
T=${TP_THREADS:-2}
rows=${TP_ROWS:-larson xmalloc-w1 xmalloc-w2 rreplace rreplace-x}
bin="$root/target/throughput"
mkdir -p "$bin"
for src in bench/c/throughput/*.c; do
  name=$(basename "$src" .c)
  cc -O2 -pthread -Wall -Wextra -o "$bin/$name" "$src" -lm
done

declare -a labels libs
if [ $# -eq 0 ]; then set -- "$root/target/release/libhakmem.so"; fi
i=0
for h in "$@"; do
  i=$((i + 1))
  if [ $i -eq 1 ]; then labels+=(hakmem); else labels+=("hakmem$i"); fi
  libs+=("$(realpath "$h")")
done
for peer in libmimalloc.so.2 libjemalloc.so.2 libtcmalloc_minimal.so.4 libsnmalloc.so; do
  f=$(ls /usr/lib/x86_64-linux-gnu/$peer /usr/local/lib/$peer 2>/dev/null | head -1 || true)
  if [ -n "$f" ]; then
    labels+=("${peer%%.so*}")
    libs+=("$f")
  fi
done
labels+=(glibc)
libs+=("")

cmd_of() {
  case $1 in
    larson) echo "$bin/larson $secs 8 1000 5000 100 4141 $T" ;;
    xmalloc-w1) echo "$bin/xmalloc-test 1 $secs 64" ;;
    xmalloc-w2) echo "$bin/xmalloc-test $T $secs 64" ;;
    xmalloc-rand) echo "$bin/xmalloc-test 1 $secs -1" ;;
    rreplace) echo "$bin/rreplace $T $secs 5000 16 1000 0" ;;
    rreplace-x) echo "$bin/rreplace $T $secs 5000 16 16000 8" ;;
    *) echo "unknown row $1" >&2; exit 1 ;;
  esac
}

tmp=$(mktemp -d)
for r in $(seq "$reps"); do
  for row in $rows; do
    for k in "${!labels[@]}"; do
      out=$(LD_PRELOAD="${libs[$k]}" $(cmd_of "$row"))
      echo "$out" | sed -n 's/.*ops_per_s=\([0-9]*\).*/\1/p' >> "$tmp/$row.${labels[$k]}.wall"
      echo "$out" | sed -n 's/.*ops_per_cpu_s=\([0-9]*\).*/\1/p' >> "$tmp/$row.${labels[$k]}.cpu"
    done
  done
done
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for kind in wall cpu; do
  if [ $kind = wall ]; then
    echo "median ops per second of wall time (M), $reps runs of ${secs}s each, $T threads"
  else
    echo "median ops per CPU second (user + sys, M): what the allocator costs, less moved by other load"
  fi
  printf '%-12s' row
  for l in "${labels[@]}"; do printf ' %12s' "${l#lib}"; done
  printf ' %8s\n' "hk/best"
  for row in $rows; do
    printf '%-12s' "$row"
    best=0
    hk=0
    for l in "${labels[@]}"; do
      m=$(median "$tmp/$row.$l.$kind")
      printf ' %12s' "$(awk -v m="$m" 'BEGIN {printf "%.2f", m / 1e6}')"
      case $l in
        hakmem) hk=$m ;;
        hakmem[0-9]*) ;;
        *) if [ "$m" -gt "$best" ]; then best=$m; fi ;;
      esac
    done
    printf ' %8s\n' "$(awk -v h="$hk" -v b="$best" 'BEGIN {printf "%.2f", h / b}')"
  done
done
rm -rf "$tmp"
