#!/usr/bin/env bash
# Where does a workload's time go under an allocator? A flat profile (self time per symbol)
# of one workload process, for the profile notes in docs/benchmarks.md.
#
#   scripts/bench-profile.sh [--alloc NAME] [--scale X] [--threads N] [--top N] WORKLOAD...
#
# NAME: hakmem (default), hakmem-header, system, mimalloc, jemalloc, snmalloc; for the C
# workloads (c-*): hakmem, system, mimalloc, jemalloc. The binaries are the runner's: run
# `cargo run --release -p hakmem-bench -- --quick` once first. Uses `perf record -e cpu-clock`
# (a software event, so it works where hardware counters are not exposed, e.g. in VMs); falls
# back to `valgrind --tool=callgrind` when perf is missing or not permitted.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
alloc=hakmem scale=0.3 threads=$(nproc) top=12
workloads=()
while [ $# -gt 0 ]; do
  case $1 in
    --alloc) alloc=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --top) top=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) workloads+=("$1"); shift ;;
  esac
done
[ ${#workloads[@]} -gt 0 ] || { echo "usage: $0 [--alloc NAME] [--scale X] [--threads N] WORKLOAD..." >&2; exit 64; }

preload_of() {
  case $1 in
    system) echo "" ;;
    hakmem) echo "$target/release/libhakmem.so" ;;
    mimalloc) ldconfig -p | awk '/libmimalloc\.so/ {print $NF; exit}' ;;
    jemalloc) ldconfig -p | awk '/libjemalloc\.so/ {print $NF; exit}' ;;
    *) echo "no C build for $1" >&2; exit 64 ;;
  esac
}

# Symbols and libraries that belong to an allocator (for the "allocator share" line).
alloc_re='hakmem::|libhakmem|__rust_(alloc|dealloc|realloc|alloc_zeroed)|__rdl_|mi_|libmimalloc|je_|rjem|libjemalloc|snmalloc|[[] (malloc|free|calloc|realloc|cfree|_int_malloc|_int_free|_int_realloc|malloc_consolidate|tcache|arena_get2|unlink_chunk|__libc_(malloc|free|calloc|realloc))'

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
use_perf=0
if command -v perf >/dev/null && perf record -e cpu-clock -o "$tmp/probe" true >/dev/null 2>&1; then
  use_perf=1
fi

for w in "${workloads[@]}"; do
  env=()
  if [[ $w == c-* ]]; then
    cmd=("$target/bench/c/$w" --scale "$scale" --threads "$threads")
    env=(LD_PRELOAD="$(preload_of "$alloc")")
  elif [ "$alloc" = hakmem-header ]; then
    cmd=("$target/bench-header/release/wl-hakmem" "$w" --scale "$scale" --threads "$threads")
  else
    cmd=("$target/bench/release/wl-$alloc" "$w" --scale "$scale" --threads "$threads")
  fi
  [ -x "${cmd[0]}" ] || { echo "${cmd[0]} missing: run the runner once first" >&2; exit 1; }
  echo "=== $w under $alloc (scale $scale, $threads threads) ==="
  if [ $use_perf = 1 ]; then
    env "${env[@]}" perf record -q -e cpu-clock -F 2000 -o "$tmp/perf.data" -- "${cmd[@]}" >/dev/null
    perf report -i "$tmp/perf.data" --no-children --sort dso,symbol --stdio 2>/dev/null \
      | grep -E "^ +[0-9]" | sed -E "s/[ -]+$//" > "$tmp/flat"
    head -n "$top" "$tmp/flat" | cut -c1-150
    samples=$(perf report -i "$tmp/perf.data" --stdio 2>/dev/null | awk '/^# Samples:/ && !n {print $3; n = 1}')
    # The allocator's share: its own symbols and libraries, and Rust's __rust_alloc shims
    # (hakmem's fast paths are inlined there); the workload's own code (hakmem_bench::) is not.
    grep -v 'hakmem_bench::' "$tmp/flat" | grep -E "$alloc_re" \
      | awk -v s="$samples" '{sub("%", "", $1); t += $1} END {printf "allocator share: %.1f%% of %s samples\n", t, s}'
  else
    env "${env[@]}" valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" -- "${cmd[@]}" \
      >/dev/null 2>&1
    callgrind_annotate --inclusive=no "$tmp/cg.out" 2>/dev/null | grep -E '^ *[0-9,]+ \(' \
      | head -n "$top" | cut -c1-150
  fi
  echo
done
