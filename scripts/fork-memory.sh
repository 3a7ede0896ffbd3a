#!/usr/bin/env bash
# A forked child's memory (docs/benchmarks.md, "Session 20: fork21" and "Session 21: take21"):
# preload/tests/c/fork_reuse.c, the preload test's own program (parent threads alive across the
# fork keep 4 x 16 MiB; a child frees it all and allocates it again, three rounds, first from its
# one thread, then, in a second child, from 4 threads it starts), under glibc, the installed peers
# and hakmem's release preload library. Prints each child's RSS growth after each round, and
# hakmem's two children's stats (HAKMEM_STATS=1). Without HAKMEM_EXPECT_TAKEOVER the program
# asserts nothing about the growth.
#   scripts/fork-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p hakmem-preload -q
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
gcc -O2 -pthread -Wall -I preload/tests/c -o "$out/fork_reuse" preload/tests/c/fork_reuse.c -ldl
lib=/usr/lib/x86_64-linux-gnu
for a in glibc "$lib/libmimalloc.so.2" "$lib/libjemalloc.so.2" "$lib/libtcmalloc_minimal.so.4" \
  "$PWD/target/release/libhakmem.so"; do
  [ "$a" = glibc ] || [ -e "$a" ] || continue
  pre=""; [ "$a" = glibc ] || pre=$a
  LD_PRELOAD="$pre" "$out/fork_reuse" > "$out/log"
  for who in "one thread" "four threads"; do
    printf '%-28s %-13s' "$(basename "$a")" "$who"
    sed -n "s/child ($who) round \([0-9]\): rss growth \([0-9]*\) KiB.*/ \2/p" "$out/log" | tr -d '\n'
    echo " KiB"
  done
done
echo "-- hakmem's children (HAKMEM_STATS=1; the first report is the one-thread child's, the second the four-thread child's)"
LD_PRELOAD="$PWD/target/release/libhakmem.so" HAKMEM_STATS=1 "$out/fork_reuse" 2>&1 >/dev/null |
  grep -E '^(remote_frees|medium_remote_frees|publishes|adopts|reclaims|slabs_bound|slabs_released|superslabs_mapped|bytes_in_use|footprint_bytes|threads_started|threads_exited) ' |
  head -24 | tr -s ' ' | tr '\n' ';'
echo
