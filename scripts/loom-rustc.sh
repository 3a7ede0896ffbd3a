#!/bin/sh
# RUSTC_WRAPPER used by scripts/loom.sh: adds `--cfg hakmem_mutant="$HAKMEM_MUTANT"` to the
# compilation of this crate and its loom test crates only, so that switching mutants rebuilds
# hakmem and the models but not loom and its dependencies.
rustc=$1
shift
if [ -n "${HAKMEM_MUTANT:-}" ]; then
  case " $* " in
    *" --crate-name hakmem "* | *" --crate-name loom_"*)
      exec "$rustc" "$@" --cfg "hakmem_mutant=\"$HAKMEM_MUTANT\"" ;;
  esac
fi
exec "$rustc" "$@"
