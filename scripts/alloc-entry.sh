#!/usr/bin/env bash
# Deterministic per-allocator instruction account of one bench workload: callgrind of each
# `wl-<alloc>` binary, split at the global allocator's entry points by scripts/cg-entry.py (calls,
# inclusive instructions and instructions per call of `__rust_alloc`, `__rust_realloc`,
# `__rust_dealloc`, `__rust_alloc_zeroed`; the rest of the program). snmalloc runs with the
# scripts/valgrind-snmalloc/shrink.c preload (its 256 GiB pagemap reservation does not start
# under valgrind otherwise). json26, session 26.
#
# Usage: scripts/alloc-entry.sh WORKLOAD [ALLOC ...]     default allocs: hakmem snmalloc mimalloc
#   BIN_DIR   where the wl-<alloc> binaries are (default target/bench/release, the runner's build:
#             bench/src/runner/builder.rs)
#   WL_ARGS   extra workload arguments (default "--scale 0.3 --threads 2")
#   OUT_DIR   where callgrind.out.<workload>.<alloc> files go (default target/alloc-entry)
#   CACHE=1   also run cachegrind --cache-sim=yes (--LL=1048576,16,64, setarch -R) and split it
#             with scripts/cg-split.py
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 2,17p "$0"; exit 64; }
wl=$1; shift
allocs=("$@"); [ ${#allocs[@]} -gt 0 ] || allocs=(hakmem snmalloc mimalloc)
bin=${BIN_DIR:-target/bench/release}
out=${OUT_DIR:-target/alloc-entry}
# shellcheck disable=SC2206
args=(${WL_ARGS:---scale 0.3 --threads 2})
mkdir -p "$out"
shim=$out/snshrink.so
cc -O2 -shared -fPIC -o "$shim" scripts/valgrind-snmalloc/shrink.c -ldl
files=(); cfiles=()
for a in "${allocs[@]}"; do
  pre=""; [ "$a" = snmalloc ] && pre=$shim
  f=$out/callgrind.out.$wl.$a
  LD_PRELOAD=$pre valgrind --tool=callgrind --callgrind-out-file="$f" "$bin/wl-$a" "$wl" "${args[@]}" \
    >"$f.log" 2>&1 || { echo "alloc-entry.sh: wl-$a failed under callgrind (log: $f.log)" >&2; exit 2; }
  files+=("$f")
  if [ "${CACHE:-0}" = 1 ]; then
    c=$out/cachegrind.out.$wl.$a
    LD_PRELOAD=$pre setarch -R valgrind --tool=cachegrind --cache-sim=yes --LL=1048576,16,64 \
      --cachegrind-out-file="$c" "$bin/wl-$a" "$wl" "${args[@]}" >"$c.log" 2>&1 \
      || { echo "alloc-entry.sh: wl-$a failed under cachegrind (log: $c.log)" >&2; exit 2; }
    cfiles+=("$c")
  fi
done
scripts/cg-entry.py "${files[@]}"
if [ ${#cfiles[@]} -gt 0 ]; then scripts/cg-split.py "${cfiles[@]}"; fi
