#!/usr/bin/env bash
# Runs the loom models in loom_tests/ against the production code, then shows that every seeded
# mutant (a constant in src/mutant.rs, set by `--cfg hakmem_mutant`) is caught by the models
# that claim to catch it.
#
#   scripts/loom.sh              models, then every mutant
#   scripts/loom.sh models       models only
#   scripts/loom.sh mutants      mutants only
#   scripts/loom.sh MUTANT...    the named mutants only
#   scripts/loom.sh clippy       clippy (-D warnings) on the library and the models as the models
#                                build them (the loom cfg), in the same target directory
#
# Models are built in release with debug assertions (they refuse to build without) and explored
# with LOOM_MAX_PREEMPTIONS (default 3). A mutant run passes when each model test that declares
# the mutant (`should_panic` under its cfg) panics with the expected message — loom found the
# bug — and every other test of the same files still passes.
#
# The mutant cfg reaches only this crate and its model crates, through scripts/loom-rustc.sh (a
# RUSTC_WRAPPER), so switching mutants rebuilds hakmem and the models but not loom. Cargo does not
# see the wrapper's input, so the script deletes hakmem's fingerprints to force that rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."

export RUSTFLAGS="--cfg hakmem_loom -C debug-assertions"
export RUSTC_WRAPPER="$PWD/scripts/loom-rustc.sh"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
target_dir="${CARGO_TARGET_DIR:-target}/loom"

all_models=(loom_remote loom_ownership loom_publish loom_hint loom_notify loom_span loom_pin loom_slots loom_registry loom_reclaim loom_rebind loom_push_list loom_once loom_foreign_class loom_batch)

# mutant -> the model files whose tests catch it
declare -A catchers=(
  [remote_push_relaxed]="loom_remote loom_publish loom_batch"
  [take_all_relaxed]="loom_remote loom_publish loom_batch"
  [acquire_plain_store]="loom_ownership"
  [acquire_cas_relaxed]="loom_ownership loom_notify"
  [acquire_cas_no_release]="loom_notify"
  [release_ownership_relaxed]="loom_ownership"
  [publish_before_release]="loom_publish"
  [skip_generation_check]="loom_hint"
  [no_generation_bump]="loom_hint"
  [notify_relaxed]="loom_notify"
  [push_first_stale]="loom_notify"
  [span_cache_before_unbind]="loom_span"
  [span_publish_before_drain]="loom_span"
  [span_purge_on_list]="loom_span"
  [unpinned_release]="loom_pin loom_foreign_class"
  [sampled_remote_plain_clear]="loom_span"
  [slot_claim_plain_store]="loom_slots"
  [slot_claim_relaxed]="loom_slots"
  [registry_leaf_plain_store]="loom_registry"
  [registry_leaf_relaxed]="loom_registry"
  [registry_slot_relaxed]="loom_registry"
  [reclaim_release_before_unlink]="loom_reclaim"
  [bind_owner_relaxed]="loom_rebind"
  [free_remote_owner_relaxed]="loom_rebind"
  [push_list_relaxed]="loom_push_list"
  [once_install_relaxed]="loom_once"
  [seal_relaxed]="loom_once"
  [bound_class_local]="loom_foreign_class"
  [batch_carve_local]="loom_batch"
)
mutant_order=(remote_push_relaxed take_all_relaxed acquire_plain_store acquire_cas_relaxed
  acquire_cas_no_release
  release_ownership_relaxed publish_before_release skip_generation_check no_generation_bump
  notify_relaxed push_first_stale span_cache_before_unbind span_publish_before_drain
  span_purge_on_list unpinned_release sampled_remote_plain_clear slot_claim_plain_store
  slot_claim_relaxed registry_leaf_plain_store registry_leaf_relaxed
  registry_slot_relaxed reclaim_release_before_unlink bind_owner_relaxed
  free_remote_owner_relaxed push_list_relaxed once_install_relaxed seal_relaxed
  bound_class_local batch_carve_local)

# run LABEL MUTANT MODEL... : builds with HAKMEM_MUTANT=MUTANT (empty: none) and runs the models.
run() {
  local label=$1 mutant=$2
  shift 2
  local args=()
  for m in "$@"; do args+=(--test "$m"); done
  rm -rf "$target_dir"/release/.fingerprint/hakmem-*
  local start=$SECONDS log
  log=$(mktemp)
  if HAKMEM_MUTANT="$mutant" cargo test -p hakmem --release --target-dir "$target_dir" \
    "${args[@]}" >"$log" 2>&1; then
    echo "PASS  $label  ($((SECONDS - start)) s)"
    rm -f "$log"
  else
    echo "FAIL  $label  ($((SECONDS - start)) s)"
    grep -E "^(error|test .*(FAILED|ok)|failures:)|panicked|did not panic|Causality" "$log" | head -40
    rm -f "$log"
    return 1
  fi
}

mode=${1:-all}
fail=0
if [[ $mode == clippy ]]; then
  # The library and the model crates only: the other integration tests are not built under the
  # loom cfg (they need `HakMem`, which the loom build leaves out). The loom target directory
  # keeps the check-mode artifacts of loom and its dependencies, so a rerun checks hakmem only
  # (about 10 s).
  args=()
  for m in "${all_models[@]}"; do args+=(--test "$m"); done
  start=$SECONDS
  cargo clippy -p hakmem --release --target-dir "$target_dir" --lib "${args[@]}" -- -D warnings
  echo "PASS  clippy under the loom cfg  ($((SECONDS - start)) s)"
  exit 0
fi
if [[ $mode == all || $mode == models ]]; then
  run "models (LOOM_MAX_PREEMPTIONS=$LOOM_MAX_PREEMPTIONS)" "" "${all_models[@]}" || fail=1
fi
if [[ $mode == all || $mode == mutants ]]; then
  selected=("${mutant_order[@]}")
elif [[ $mode != models ]]; then
  selected=("$@")
else
  selected=()
fi
for m in "${selected[@]}"; do
  if [[ -z ${catchers[$m]:-} ]]; then
    echo "unknown mutant: $m (known: ${mutant_order[*]})" >&2
    exit 2
  fi
  # shellcheck disable=SC2086 # the catcher list is a space-separated list of names
  run "mutant $m caught by ${catchers[$m]}" "$m" ${catchers[$m]} || fail=1
done
# Leave the build as the unmutated one, so that a later `cargo test` here sees production code.
if ((${#selected[@]})); then
  rm -rf "$target_dir"/release/.fingerprint/hakmem-*
fi
exit $fail
