#!/usr/bin/env bash
# Test suites and programs no one here wrote, under LD_PRELOAD=libhakmem.so, compared with glibc.
#
#   scripts/real-suites.sh [LABEL='VAR=VALUE ...' ...]
#
# Per configuration: a subset of CPython's own regression tests (Debian's libpython3.11-testsuite,
# PYTHONMALLOC=malloc so every object goes through malloc; threads, fork, subprocess, mmap, ctypes,
# json, pickle, gc, tracemalloc), and an sqlite3 script (on disk and in memory), a perl script
# (hashes, regexes, fork, ithreads), a lua script (tables, strings, coroutines), sort/xz/gzip
# pipelines and git (clone --no-local, log -p, gc --aggressive, fsck, repack, blame, diff, grep)
# on a snapshot of this repository. Every output is hashed and must equal glibc's (lines starting
# `hakmem: ` dropped); the Python tests that fail must be those that fail under glibc.
# Default configuration: hakmem (target/release/libhakmem.so: build it first with
# `cargo build --release -p hakmem-preload`). LABEL arguments replace it, e.g.
#   scripts/real-suites.sh prof="LD_PRELOAD=$PWD/target/release/libhakmem.so HAKMEM_PROF=1" \
#     bg="LD_PRELOAD=$PWD/target/release/libhakmem.so HAKMEM_BACKGROUND=1"
# About 100 s per configuration (glibc's included) on 2 busy cores: 3.3 minutes with the default.
# Exit status 1 on any difference. A configuration with LD_PRELOAD must show hakmem's counters
# under HAKMEM_STATS=1 (a build without `stats` warns instead).
# Needs: python3.11 with libpython3.11-testsuite, sqlite3, perl, lua5.4, git, xz, gzip.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
HERE=$ROOT/scripts/real-suites
SO=$ROOT/target/release/libhakmem.so
PY=${PYTHON:-/usr/bin/python3.11}
TESTS="test_threading test_thread test_fork1 test_wait4 test_mmap test_ctypes test_json test_pickle
test_gc test_weakref test_dict test_set test_re test_os test_tracemalloc test_subprocess test_queue
test_posix test_threading_local test_exceptions test_zlib test_decimal"
if [ $# -eq 0 ]; then
  [ -f "$SO" ] || { echo "build $SO first: cargo build --release -p hakmem-preload" >&2; exit 2; }
  set -- hakmem="LD_PRELOAD=$SO"
fi
W=$(mktemp -d /tmp/real-suites.XXXXXX)
git clone -q --bare --no-local "$ROOT" "$W/snap.git" || exit 2

# One configuration: prints one line per check ("NAME HASH"), the Python failures last.
run_one() {
  local label=$1 envs=$2 d=$W/$1
  mkdir -p "$d"
  local e="env $envs"
  {
    echo "sqlite-disk $($e sqlite3 "$d/t.db" < "$HERE/suite.sql" 2>&1 | grep -v '^hakmem: ' | md5sum)"
    echo "sqlite-mem $($e sqlite3 :memory: < "$HERE/suite.sql" 2>&1 | grep -v '^hakmem: ' | md5sum)"
    echo "perl $($e perl "$HERE/suite.pl" 2>&1 | grep -v '^hakmem: ' | md5sum)"
    echo "lua $($e lua5.4 "$HERE/suite.lua" 2>&1 | grep -v '^hakmem: ' | md5sum)"
    echo "sort $(seq 1 300000 | $e sort -R --random-source="$HERE/suite.sql" | $e sort -n | md5sum)"
    echo "xz $(tar cf - -C "$ROOT" src docs | $e xz -T2 -3 | $e xz -d | md5sum)"
    (
      cd "$d" && $e git clone -q --no-local "$W/snap.git" repo 2>&1 | grep -v '^hakmem: '
      cd repo || exit 1
      echo "git-log $($e git log -p --stat -n 300 | md5sum)"
      $e git gc -q --aggressive 2>&1 | grep -v 'hakmem: '
      echo "git-fsck $($e git fsck --full 2>&1 | grep -v 'hakmem: ' | md5sum)"
      $e git repack -q -adf --threads=2 2>&1 | grep -v 'hakmem: '
      echo "git-blame $($e git blame -w src/lib.rs | md5sum)"
      echo "git-diff $($e git diff HEAD~100 HEAD | md5sum)"
      echo "git-grep $($e git grep -n unsafe | md5sum)"
      echo "git-objects $($e git rev-list --objects --all | wc -l)"
    )
    # shellcheck disable=SC2086
    (cd "$d" && $e PYTHONMALLOC=malloc timeout 600 "$PY" -m test -j2 $TESTS > "$d/python.log" 2>&1)
    echo "python-rc $?"
    echo "python-failed $(grep -E '^    test_' "$d/python.log" | tr -s ' \n' ' ')"
  } > "$d/result.txt" 2>&1
}

probe() { env "$@" HAKMEM_STATS=1 sqlite3 :memory: 'select 1;'; }
summary() { grep python-failed "$1"; }
# shellcheck source=scripts/lib/against-glibc.sh
. "$ROOT/scripts/lib/against-glibc.sh"
against_glibc "$@"
echo "$((SECONDS - start)) s; logs in $W"
exit $status
