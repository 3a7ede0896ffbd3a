#!/usr/bin/env bash
# Same-run A/B of two commits of hakmem on the bench workloads: CPU time (user + sys) of
# `wl-hakmem` built from each, runs interleaved (A, B, B, A, …), medians and the paired ratio
# printed (scripts/paired.py).
#
#   scripts/ab.sh BASE_REV [NEW_REV] [-- WORKLOAD...]
#
# NEW_REV defaults to the working tree (HEAD plus uncommitted changes). Each revision is exported
# with `git archive` into target/ab/<rev>/src and built there (`--features hakmem-default`, as the
# bench runner builds it), so the two builds never share a tree. Environment: AB_REPS (default 7),
# AB_SCALE (default 2), AB_THREADS (default 2). Without workloads, every workload of `--list`.
#
# CPU time, not wall time: this machine is shared, and CPU time moves far less with the load.
# Interleaving spreads whatever drift remains over both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

base=${1:?usage: scripts/ab.sh BASE_REV [NEW_REV] [-- WORKLOAD...]}
shift
new=""
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  new=$1
  shift
fi
[ "${1:-}" = "--" ] && shift
reps=${AB_REPS:-7}
scale=${AB_SCALE:-2}
threads=${AB_THREADS:-2}
out="$root/target/ab"
mkdir -p "$out"

# build REV DIR: wl-hakmem of REV (empty: the working tree) → DIR/wl-hakmem
build() {
  local rev=$1 dir=$2 src
  if [ -n "$rev" ]; then
    src="$dir/src"
    rm -rf "$src"
    mkdir -p "$src"
    git archive "$rev" | tar -x -C "$src"
  else
    src=$root
  fi
  (cd "$src" && cargo build --release -q -p hakmem-bench --bin wl-hakmem \
    --no-default-features --features hakmem-default --target-dir "$dir/target")
  cp "$dir/target/release/wl-hakmem" "$dir/wl-hakmem"
}

base_dir="$out/base-$(git rev-parse --short=12 "$base")"
new_dir="$out/new-${new:+$(git rev-parse --short=12 "$new")}"
[ -z "$new" ] && new_dir="$out/new-worktree"
echo "building A = $base, B = ${new:-working tree}" >&2
build "$base" "$base_dir"
build "$new" "$new_dir"

workloads=("$@")
if [ ${#workloads[@]} -eq 0 ]; then
  mapfile -t workloads < <("$base_dir/wl-hakmem" --list | awk '{print $1}')
fi

# scripts/paired.py: interleaved runs, CPU time from the kernel's rusage (microseconds; the
# `/usr/bin/time` this script used rounds to 10 ms), the median of the per-round ratios.
echo "| workload | A: $base | B: ${new:-worktree} | B/A (paired median) |"
echo "|---|---|---|---|"
for w in "${workloads[@]}"; do
  python3 "$root/scripts/paired.py" --row --runs "$reps" --scale "$scale" --threads "$threads" \
    "$w" "$base_dir/wl-hakmem" "$new_dir/wl-hakmem"
done
