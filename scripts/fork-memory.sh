#!/usr/bin/env bash
# A forked child's memory (docs/benchmarks.md, "Session 20: fork21"): scripts/fork-memory/fork_reuse.c
# (parent threads alive across the fork keep 4 x 16 MiB; the child frees it all and allocates it
# again, three rounds), built twice (the child allocates from its one thread, or from 4 threads
# it starts), under glibc, the installed peers and hakmem's release preload library. Prints the
# child's RSS growth after each round, and hakmem's child's stats (HAKMEM_STATS=1).
#   scripts/fork-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p hakmem-preload -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -pthread -Wall -o "$out/one" scripts/fork-memory/fork_reuse.c
gcc -O2 -pthread -Wall -DCHILD_THREADS -o "$out/threads" scripts/fork-memory/fork_reuse.c
lib=/usr/lib/x86_64-linux-gnu
for prog in one threads; do
  echo "== the child allocates from: $prog"
  for a in glibc "$lib/libmimalloc.so.2" "$lib/libjemalloc.so.2" "$lib/libtcmalloc_minimal.so.4" \
    "$PWD/target/release/libhakmem.so"; do
    [ "$a" = glibc ] || [ -e "$a" ] || continue
    pre=""; [ "$a" = glibc ] || pre=$a
    printf '%-28s' "$(basename "$a")"
    LD_PRELOAD="$pre" "$out/$prog" | sed -n 's/child round \([0-9]\): rss growth \([0-9]*\) KiB.*/ \2/p' | tr -d '\n'
    echo " KiB"
  done
  echo "-- hakmem's child (HAKMEM_STATS=1; the first report is the child's)"
  LD_PRELOAD="$PWD/target/release/libhakmem.so" HAKMEM_STATS=1 "$out/$prog" 2>&1 >/dev/null |
    grep -E '^(remote_frees|medium_remote_frees|publishes|adopts|reclaims|slabs_bound|slabs_released|superslabs_mapped|bytes_in_use|footprint_bytes|threads_started|threads_exited) ' |
    head -12 | tr -s ' ' | tr '\n' ';'
  echo
done
