#!/usr/bin/env bash
# C++ and multi-threaded toolchains and everyday tools under LD_PRELOAD=libhakmem.so, compared
# with glibc (session 25, real25; the CPython/sqlite/perl/lua/git set is scripts/real-suites.sh).
#
#   scripts/real-toolchains.sh [LABEL='VAR=VALUE ...' ...]
#
# Per configuration: g++ -O2 of a C++17 file (maps, regex, shared_ptr, threads, alignas(64) and
# alignas(4096) new, std::pmr) and a run of the program; cargo build -j2 --offline of a small crate
# (serde derive, serde_json, aho-corasick, anyhow; cargo and the build scripts use the preloaded
# malloc, rustc its own jemalloc) and its run; mimalloc's C sources (from ~/.cargo/registry) with
# cmake + make -j2 and cmake + ninja; ruby and node churn scripts (threads, fork, workers);
# zstd -T2, xz -T2, pigz round trips; rsync -a; find | sort | uniq -c; mawk and gawk on a
# generated file; openssl (sha256 of the file, aes-256-cbc round trip, an RSA key);
# preload/tests/c/odd_api.c (odd-but-legal C API uses: see its header). Every output is hashed
# (lines starting `hakmem: ` dropped) with the command's exit code and must equal glibc's.
# Builds happen at one fixed path, so compiler outputs (object files) compare byte for byte.
# Default configuration: target/release/libhakmem.so. Exit status 1 on any difference.
# Needs: g++, cargo (offline registry with the crate's dependencies), cmake, ninja, make, ruby,
# node, zstd, xz, pigz, rsync, mawk, gawk, openssl.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/scripts/real-toolchains
SO=$ROOT/target/release/libhakmem.so
MI=$(ls -d "$HOME"/.cargo/registry/src/*/libmimalloc-sys-*/c_src/mimalloc/v2 2>/dev/null | head -1)
if [ $# -eq 0 ]; then
  [ -f "$SO" ] || { echo "build $SO first: cargo build --release -p hakmem-preload" >&2; exit 2; }
  set -- hakmem="LD_PRELOAD=$SO"
fi
W=$(mktemp -d /tmp/real-toolchains.XXXXXX)
B=$W/build # the one build path every configuration uses
# Input data, made once without the preload.
mkdir -p "$W/tree"
cp -a "$ROOT/src" "$ROOT/docs" "$ROOT/preload" "$W/tree/"
C=$ROOT/preload/tests/c
gcc -std=gnu11 -O2 -pthread -o "$W/odd_api" "$C/odd_api.c" -ldl || exit 2
gcc -O2 -shared -fPIC -pthread -o "$W/odd_lib.so" "$C/odd_lib.c" || exit 2
# mimalloc's options.c prints __DATE__ and __TIME__: pinned, so its objects compare.
export SOURCE_DATE_EPOCH=0
awk 'BEGIN { srand(25); for (i = 0; i < 600000; i++) printf "%d %s%d %.3f\n", i % 977, "w", int(rand() * 5000), rand() * 100 }' > "$W/data.txt"

# Prints "NAME rc HASH" for one command whose stdout+stderr is hashed.
h() {
  local name=$1
  shift
  local out rc
  out=$("$@" 2>&1)
  rc=$?
  out=$(printf '%s\n' "$out" | grep -v '^hakmem: ')
  echo "$name rc=$rc $(printf '%s' "$out" | md5sum | cut -c1-12)"
}

run_one() {
  local label=$1 envs=$2 d=$W/$1
  mkdir -p "$d"
  # shellcheck disable=SC2086
  local e="env $envs"
  {
    rm -rf "$B" && mkdir -p "$B"
    h g++ $e g++ -std=c++17 -O2 -pthread -o "$B/tmpl" "$HERE/tmpl.cpp"
    echo "g++-binary $(md5sum < "$B/tmpl" | cut -c1-12)"
    h tmpl-run $e "$B/tmpl"
    cp -a "$HERE/crate" "$B/crate"
    h cargo-build bash -c "cd '$B/crate' && $e cargo build -q -j2 --offline --release"
    h crate-run $e "$B/crate/target/release/r25crate"
    if [ -n "$MI" ]; then
      cp -a "$MI" "$B/mi" && cp -a "$HERE/mi-cmake" "$B/mi/cmake" # the crate leaves cmake/ out
      h cmake-make bash -c "cd '$B/mi' && mkdir m && cd m && $e cmake -G 'Unix Makefiles' -DCMAKE_BUILD_TYPE=Release -DMI_BUILD_TESTS=OFF .. >/dev/null && $e make -s -j2 >/dev/null"
      echo "make-objects $(find "$B/mi/m" -name '*.o' | sort | xargs cat | md5sum | cut -c1-12)"
      h cmake-ninja bash -c "cd '$B/mi' && mkdir n && cd n && $e cmake -G Ninja -DCMAKE_BUILD_TYPE=Release -DMI_BUILD_TESTS=OFF .. >/dev/null && $e ninja -j2 >/dev/null"
      echo "ninja-objects $(find "$B/mi/n" -name '*.o' | sort | xargs cat | md5sum | cut -c1-12)"
    fi
    h ruby $e ruby "$HERE/churn.rb"
    h node $e node "$HERE/churn.js"
    h zstd bash -c "tar cf - -C '$W' tree data.txt | $e zstd -q -T2 -5 | $e zstd -q -d -T2 | md5sum"
    h xz bash -c "tar cf - -C '$W' tree data.txt | $e xz -T2 -2 | $e xz -d -T2 | md5sum"
    h pigz bash -c "tar cf - -C '$W' tree data.txt | $e pigz -p 2 | $e pigz -d -p 2 | md5sum"
    h rsync bash -c "$e rsync -a '$W/tree/' '$B/rs/' && diff -r '$W/tree' '$B/rs' && echo same"
    h find-sort bash -c "cd '$W/tree' && $e find . -type f | $e sed 's/.*[.]//' | $e sort | $e uniq -c"
    h mawk $e mawk '{ c[$1] += $3; n[$2]++ } END { for (k in c) s += c[k] * k; m = 0; for (k in n) if (n[k] > m) m = n[k]; printf "%.1f %d %d\n", s, m, length(n) }' "$W/data.txt"
    h gawk $e gawk '{ c[$1] += $3; n[$2]++; t = t substr($2, 2, 1) } END { PROCINFO["sorted_in"] = "@ind_num_asc"; for (k in c) s += c[k] * k; printf "%.1f %d %d\n", s, length(n), length(t); for (k in n) if (k ~ /w4999/) print k, n[k] }' "$W/data.txt"
    h openssl-sha $e openssl dgst -sha256 -r "$W/data.txt"
    h openssl-aes bash -c "$e openssl enc -aes-256-cbc -pbkdf2 -pass pass:r25 -S 0011223344556677 -in '$W/data.txt' | $e openssl enc -d -aes-256-cbc -pbkdf2 -pass pass:r25 -S 0011223344556677 | md5sum"
    h openssl-rsa bash -c "$e openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out '$B/k.pem' 2>/dev/null && $e openssl pkey -in '$B/k.pem' -pubout | wc -l"
    h odd_api $e "$W/odd_api" "$W/odd_lib.so"
  } > "$d/result.txt" 2>&1
}

probe() { env "$@" HAKMEM_STATS=1 gawk 'BEGIN { x = sprintf("%1000s", "") }'; }
summary() { echo "$(wc -l < "$1") checks"; }
# shellcheck source=scripts/lib/against-glibc.sh
. "$ROOT/scripts/lib/against-glibc.sh"
against_glibc "$@"
echo "glibc: $(tr '\n' ';' < "$W/glibc/result.txt")"
echo "results in $W ($((SECONDS - start)) s)"
exit $status
