#!/usr/bin/env bash
# Runs some of the normal integration-test binaries, built with `--features valgrind`, under
# `valgrind --tool=memcheck --leak-check=full` and reports whether each is clean (memcheck's
# "ERROR SUMMARY: 0 errors" and the tests passing). With the feature, hakmem tells memcheck about
# every block (src/valgrind.rs), so an error here is a use-after-free, invalid free or leak in
# the tests or a wrong client request in hakmem.
#
# Usage: scripts/valgrind.sh [TEST ...]          default: sizes cross_thread realloc zeroed
#        VALGRIND_FEATURES="valgrind"            extra cargo flags come from VALGRIND_CARGO_ARGS,
#                                                e.g. VALGRIND_CARGO_ARGS="--no-default-features"
#                                                with VALGRIND_FEATURES="valgrind,tls-hint,adopt"
#                                                for header mode; VALGRIND_TARGET_DIR (default
#                                                target/valgrind/suite) keeps builds apart.
# Suppressions: scripts/valgrind.supp (possible leaks of the *system* allocator only: std's thread
# handles, a test watchdog's TLS).
# Logs: <target dir>/<test>.memcheck.log. Exit status: 0 when every binary is clean.
set -u
cd "$(dirname "$0")/.."
tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
  tests=(sizes cross_thread realloc zeroed)
fi
features=${VALGRIND_FEATURES:-valgrind}
# shellcheck disable=SC2206
extra=(${VALGRIND_CARGO_ARGS:-})
target=${VALGRIND_TARGET_DIR:-target/valgrind/suite}
mkdir -p "$target"
if ! command -v valgrind >/dev/null; then
  echo "valgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
  exit 2
fi

test_args=()
for t in "${tests[@]}"; do test_args+=(--test "$t"); done
# The executables come from cargo's JSON messages ("executable":"/path").
if ! json=$(cargo test -p hakmem "${extra[@]}" --features "$features" --target-dir "$target" \
  --no-run --message-format=json "${test_args[@]}" 2>"$target/build.log"); then
  echo "valgrind.sh: build failed (log: $target/build.log)" >&2
  tail -20 "$target/build.log" >&2
  exit 2
fi

fail=0
for t in "${tests[@]}"; do
  exe=$(printf '%s\n' "$json" | grep -o "\"executable\":\"[^\"]*/deps/$t-[0-9a-f]*\"" |
    head -1 | sed 's/.*"executable":"\(.*\)"/\1/')
  if [ -z "$exe" ]; then
    echo "MISSING  $t (no test binary)"
    fail=1
    continue
  fi
  log="$target/$t.memcheck.log"
  start=$SECONDS
  # --test-threads=2: memcheck runs one thread at a time anyway; fewer threads, less waiting.
  valgrind --tool=memcheck --leak-check=full --num-callers=24 \
    --suppressions=scripts/valgrind.supp --log-file="$log" \
    "$exe" --test-threads=2 >"$target/$t.stdout" 2>&1
  rc=$?
  summary=$(grep -o "ERROR SUMMARY: [0-9,]* errors from [0-9,]* contexts" "$log" | tail -1)
  result=$(grep -o "test result: [a-zA-Z]*\. [0-9]* passed; [0-9]* failed" "$target/$t.stdout" | tail -1)
  if [ $rc -eq 0 ] && [[ "$summary" == "ERROR SUMMARY: 0 errors"* ]]; then
    echo "CLEAN    $t  ($summary; $result; $((SECONDS - start)) s)"
  else
    echo "ERRORS   $t  (exit $rc; ${summary:-no summary}; ${result:-no result}; log: $log)"
    grep -E "^==[0-9]+== [A-Z][a-z]+ .*|are definitely lost|are possibly lost" "$log" | head -20
    fail=1
  fi
done
if [ $fail -eq 0 ]; then
  echo "valgrind.sh: the normal test suite is clean under valgrind (${tests[*]})"
fi
exit $fail
