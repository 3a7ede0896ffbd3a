#!/usr/bin/env bash
# Builds the owner-free double-free check variants of session 28's free28 as preloads, each in
# its own directory under OUT (default /tmp/free28), for scripts/preload-paired.py and
# cachegrind on scripts/real-programs/churn.cpp (docs/benchmarks.md "Session 28: free28"):
#
#   OUT/main      this tree as it is (the freed mark's load: `Block::is_marked_free`)
#   OUT/nomark    --cfg hakmem_no_free_mark (no double-free check on small blocks: the peers' way)
#   OUT/headonly  a scratch copy of this tree whose owner fast free compares the block with its
#                 TLS list's head instead of loading the mark (the mark is still stored, so the
#                 slow, remote and medium checks are unchanged); not a switch of the tree
#   OUT/bitmap    branch mark27 with --cfg hakmem_free_bitmap (session 27's per-SuperSlab bitmap)
#   OUT/m27base   branch mark27 as it is (its base, for what else differs from this tree)
#
#   scripts/free-check-variants.sh [OUT]
#
# Nothing here changes the tree: the scratch copies come from `git archive HEAD` / `git archive
# mark27`, extracted with the current time as the files' mtime (`tar -m`: git archive's commit
# times would let cargo reuse a build of other sources left in OUT). Each build is
# `cargo build --release -p hakmem-preload --target-dir OUT/NAME`.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/free28}
mkdir -p "$OUT"

build() { # NAME SRC-DIR RUSTFLAGS
    (cd "$2" && RUSTFLAGS="$3" cargo build --release -p hakmem-preload --target-dir "$OUT/$1")
    echo "$1: $OUT/$1/release/libhakmem.so"
}

build main "$PWD" ""
build nomark "$PWD" "--cfg hakmem_no_free_mark"

rm -rf "$OUT/headonly-src" && mkdir -p "$OUT/headonly-src"
git archive HEAD | tar -x -m -C "$OUT/headonly-src"
python3 - "$OUT/headonly-src/src/front/free.rs" <<'EOF'
import sys
p = sys.argv[1]
s = open(p).read()
old = """            if Block::is_marked_free(b, key) {
                return marked();
            }"""
new = """            if (*tls).head == b.as_ptr() {
                return marked();
            }"""
if s.count(old) != 1:
    sys.exit("free28: mark_and_push's mark check not found (the tree moved on)")
open(p, "w").write(s.replace(old, new))
EOF
build headonly "$OUT/headonly-src" ""

if git rev-parse -q --verify mark27 >/dev/null; then
    for v in bitmap m27base; do
        rm -rf "$OUT/$v-src" && mkdir -p "$OUT/$v-src"
        git archive mark27 | tar -x -m -C "$OUT/$v-src"
    done
    build bitmap "$OUT/bitmap-src" "--cfg hakmem_free_bitmap"
    build m27base "$OUT/m27base-src" ""
else
    echo "note: no branch mark27 here: bitmap and m27base skipped" >&2
fi
