#!/usr/bin/env bash
# Classifies the checked-out commit for `git bisect run`: exit 0 good, 1 bad, 125 skip.
#
# Usage (from anywhere in the repository). Copy the script out of the tree first: bisection
# checks out commits that may not have it (or have another version of it).
#   cp scripts/bisect-run.sh /tmp/bisect-run.sh
#   git bisect start <bad> <good>
#   git bisect run /tmp/bisect-run.sh                                     # cargo test --release
#   git bisect run /tmp/bisect-run.sh cargo test --release --test cross_thread
#   git bisect run /tmp/bisect-run.sh cargo test --no-default-features \
#       --features stats,fault-injection,tls-hint,adopt --test cross_thread
#   BISECT_BAD_PATTERN='hakmem: remote:' git bisect run /tmp/bisect-run.sh /tmp/my-repro.sh
#   git bisect reset
#
# Steps:
# 1. Build. A commit that does not build is skipped (125), not called bad: the breakage is usually
#    unrelated to the bug being hunted. The build command is, in order of preference,
#    $BISECT_BUILD (run with `bash -c`); for a `cargo test ...` command, the same command with
#    `--no-run` (so exactly the tested configuration is built); otherwise `cargo build --release`.
# 2. Run the command (default `cargo test --release`) under a time limit of $BISECT_TIMEOUT
#    seconds (default 900). A run past the limit is bad: a hang is a bug.
# 3. Bad if the command failed, or if its output (stdout and stderr) matches the extended regular
#    expression $BISECT_BAD_PATTERN (e.g. one abort box); else good. Every failure maps to 1,
#    because exit codes above 127 (a test killed by SIGABRT gives 134) would abort the bisection.
#
# The last run's output is kept in target/bisect-run.log.
set -u
root=$(git rev-parse --show-toplevel) || exit 125
cd "$root" || exit 125

if [ $# -eq 0 ]; then
  set -- cargo test --release
fi
timeout_s=${BISECT_TIMEOUT:-900}
log=target/bisect-run.log
mkdir -p target
commit=$(git rev-parse --short HEAD)

# ---- 1. build ----
if [ -n "${BISECT_BUILD:-}" ]; then
  build=(bash -c "$BISECT_BUILD")
elif [ "$1" = cargo ] && [ "${2:-}" = test ]; then
  # Insert --no-run before a `--` that starts the test binary's own arguments.
  build=()
  inserted=0
  for a in "$@"; do
    if [ "$a" = -- ] && [ $inserted -eq 0 ]; then
      build+=(--no-run)
      inserted=1
    fi
    build+=("$a")
  done
  if [ $inserted -eq 0 ]; then build+=(--no-run); fi
else
  build=(cargo build --release)
fi
echo "bisect-run: $commit: building: ${build[*]}" >&2
if ! "${build[@]}" >"$log" 2>&1; then
  echo "bisect-run: $commit: SKIP (does not build; log: $log)" >&2
  tail -5 "$log" >&2
  exit 125
fi

# ---- 2. run ----
echo "bisect-run: $commit: running: $* (limit ${timeout_s} s)" >&2
timeout --kill-after=10 "$timeout_s" "$@" >"$log" 2>&1
status=$?

# ---- 3. classify ----
if [ $status -eq 124 ] || [ $status -eq 137 ]; then
  echo "bisect-run: $commit: BAD (timed out after ${timeout_s} s: a hang)" >&2
  exit 1
fi
if [ $status -ne 0 ]; then
  echo "bisect-run: $commit: BAD (exit status $status; log: $log)" >&2
  grep -E "^hakmem: |panicked|FAILED" "$log" | head -5 >&2
  exit 1
fi
if [ -n "${BISECT_BAD_PATTERN:-}" ] && grep -Eq -- "$BISECT_BAD_PATTERN" "$log"; then
  echo "bisect-run: $commit: BAD (output matches $BISECT_BAD_PATTERN)" >&2
  exit 1
fi
echo "bisect-run: $commit: GOOD" >&2
exit 0
