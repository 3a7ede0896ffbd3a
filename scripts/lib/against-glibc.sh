# Sourced by scripts/real-suites.sh and scripts/real-toolchains.sh: the driver both share.
#
#   against_glibc LABEL='VAR=VALUE ...' ...
#
# Runs the caller's `run_one NAME ENV` (which writes $W/NAME/result.txt) first with no preload
# (glibc), then once per LABEL with its environment, and diffs each result with glibc's. A
# configuration whose environment preloads a library must show hakmem's counters when the
# caller's `probe` (a small command, run with that environment and HAKMEM_STATS=1) exits; else it
# warns (not preloaded, or a build without `stats`). `summary FILE` prints what the "same as
# glibc" line adds. Sets `status` (1 on any difference) and `start` (SECONDS at the start).
against_glibc() {
  start=$SECONDS
  run_one glibc ""
  status=0
  local arg label
  for arg in "$@"; do
    label=${arg%%=*}
    # shellcheck disable=SC2086
    if [[ "${arg#*=}" == *LD_PRELOAD=* ]] &&
      ! probe ${arg#*=} 2>&1 | grep -q '^ *allocs'; then
      echo "$label: warning: no hakmem counters under HAKMEM_STATS=1 (not preloaded, or built without stats)"
    fi
    run_one "$label" "${arg#*=}"
    if diff "$W/glibc/result.txt" "$W/$label/result.txt" > "$W/$label.diff"; then
      echo "$label: same as glibc ($(summary "$W/$label/result.txt"))"
    else
      echo "$label: DIFFERENT from glibc:"
      cat "$W/$label.diff"
      status=1
    fi
  done
}
