#!/usr/bin/env bash
# Prints the lines to add to preload/startup.ld for one build of libhakmem.so: the functions of
# the library that `cat /proc/self/smaps` runs (callgrind) and that the linker left in the default
# `.text` instead of the start-up group. It is tests/preload.rs
# `start_up_functions_are_in_the_start_up_group` in its listing mode (HAKMEM_STARTUP_LIST=1), so
# it checks exactly what the test checks. Arguments go to `cargo test` and pick the build, e.g.
#   scripts/startup-list.sh                                   # the default features
#   scripts/startup-list.sh --no-default-features --features tls-hint,adopt,medium,stats
# Paste the output before the `*(.text.__udivti3)` line of preload/startup.ld (or append it with
# `--apply`). Needs valgrind, nm and objdump. No output: nothing to add.
set -euo pipefail
cd "$(dirname "$0")/.."
apply=0
args=()
for a in "$@"; do
  if [[ $a == --apply ]]; then apply=1; else args+=("$a"); fi
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# HAKMEM_PRELOAD_ALL: the preload tests skip feature sets other than the reference ones.
if ! HAKMEM_STARTUP_LIST=1 HAKMEM_PRELOAD_ALL=1 cargo test --test preload "${args[@]}" -- \
  --exact start_up_functions_are_in_the_start_up_group --nocapture >"$log" 2>&1; then
  cat "$log" >&2
  echo "startup-list: the test failed to run" >&2
  exit 1
fi
lines=$(sed -n 's/^STARTUP\.LD: //p' "$log")
[[ -z $lines ]] && exit 0
printf '%s\n' "$lines"
if (( apply )); then
  python3 - "$lines" <<'PY'
import sys
path = "preload/startup.ld"
text = open(path).read()
anchor = "    *(.text.__udivti3)\n"
assert anchor in text, "startup.ld: no `*(.text.__udivti3)` line to insert before"
text = text.replace(anchor, sys.argv[1] + "\n" + anchor, 1)
open(path, "w").write(text)
PY
  echo "startup-list: added to preload/startup.ld" >&2
fi
