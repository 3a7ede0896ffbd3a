#!/usr/bin/env python3
"""Deterministic input files for scripts/real-programs.py.

    gen-data.py json N > big.json   N records of nested JSON (for jq)
    gen-data.py text N > big.txt    N lines of words (for sort, gawk, xz)
"""
import json
import sys

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
         "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo"]


def main():
    kind, n = sys.argv[1], int(sys.argv[2])
    x = 12345
    out = sys.stdout
    if kind == "json":
        out.write("[")
        for i in range(n):
            x = (x * 1103515245 + 12345) % 2**31
            rec = {"id": i, "name": f"{WORDS[x % 18]}-{x % 9973}", "group": WORDS[(x >> 8) % 18],
                   "tags": [WORDS[(x >> k) % 18] for k in range(0, 3 + x % 5)],
                   "score": (x % 100000) / 100.0,
                   "nested": {"a": x % 7, "b": f"{WORDS[(x >> 4) % 18]}{i}"}}
            out.write(("," if i else "") + json.dumps(rec))
        out.write("]\n")
    elif kind == "text":
        for i in range(n):
            x = (x * 1103515245 + 12345) % 2**31
            words = [WORDS[(x >> k) % 18] + str((x >> k) % 997) for k in range(0, 4 + x % 6)]
            out.write(" ".join(words) + "\n")
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
