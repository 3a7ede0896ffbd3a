#!/usr/bin/env bash
# Builds and tests hakmem under all 16 combinations of its A/B backout features
# (headerless, tls-hint, adopt, force-notify), each with the medium tier on, plus two rows with the
# medium tier off (`medium` absent: sizes above 32 KiB take the large path) — the default set and
# the empty set — and prints one PASS/FAIL line per combination.
# The `profile` feature (the sampled heap profiler, not a backout) rides along: it is on in the
# combinations with an odd number of backouts on, so every backout is built and tested both with
# and without it (pairwise coverage) without doubling the matrix.
# Extra arguments are passed to `cargo test` (e.g. `--release`, `--test stress`).
# Exit status: 0 when every combination passes.
set -u
cd "$(dirname "$0")/.."
# The proptest state machine runs 2,000 cases in the plain `cargo test`; 250 per combination here.
export PROPTEST_CASES=${PROPTEST_CASES:-250}
# Disk: every row builds ~40 test binaries (~350 MiB) under its own fingerprint, so 18 rows kept side
# by side fill a small CI disk (CI failed this way: "could not compile" from a full disk). Rows build
# in their own target dir without incremental state, and each row's hakmem artifacts are deleted
# after it runs (the dependencies stay, shared by every row).
export CARGO_INCREMENTAL=0
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/matrix"
features=(headerless tls-hint adopt force-notify)
fail=0
summary=()
rows=()
for mask in $(seq 0 15); do
  set=(medium)
  for i in 0 1 2 3; do
    if (( mask & (1 << i) )); then set+=("${features[$i]}"); fi
  done
  # The profiler (not a backout) rides along, on where an odd number of backouts is: every
  # backout is then built and tested with and without it.
  if (( (${#set[@]} - 1) % 2 == 1 )); then set+=(profile); fi
  rows+=("$(IFS=,; echo "${set[*]}")")
done
# The medium tier's A/B rows: without it.
rows+=("headerless,tls-hint,adopt" "")
for list in "${rows[@]}"; do
  label=${list:-"(none)"}
  log=$(mktemp)
  start=$SECONDS
  if cargo test -p hakmem --no-default-features --features "stats,fault-injection${list:+,$list}" "$@" >"$log" 2>&1; then
    line="PASS  $label  ($((SECONDS - start)) s)"
  else
    line="FAIL  $label  ($((SECONDS - start)) s)"
    fail=1
    echo "---- log of failing combination: $label"
    if ! grep -E "^(error|test .*FAILED|failures:)|error:|panicked|hakmem: |No space|LLVM ERROR|signal:|FAIL [^ ]+\\.c:[0-9]+" "$log" | head -40; then
      tail -30 "$log"
    fi
    df -h "$CARGO_TARGET_DIR" | tail -1
  fi
  rm -f "$log"
  cargo clean -p hakmem >/dev/null 2>&1 || true
  echo "$line"
  summary+=("$line")
done
echo "== feature matrix summary"
printf '%s\n' "${summary[@]}"
passed=$(printf '%s\n' "${summary[@]}" | grep -c '^PASS')
echo "feature-matrix: $passed passed, $((${#rows[@]} - passed)) failed"
exit $fail
