# Writes a large C file (F functions with loops, switches and structs) for gcc -O2 to compile.
import sys

f = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
out = ["#include <string.h>", "struct s { int a; long b; char c[16]; double d; };"]
for i in range(f):
    out.append(f"static int g{i}(struct s *p, int n) {{")
    out.append("  int r = 0;")
    out.append(f"  for (int i = 0; i < n; i++) {{ r += p[i].a * {i % 13 + 1} + (int)p[i].b; p[i].d += r * 0.5; }}")
    out.append("  switch (n & 15) {")
    for c in range(16):
        out.append(f"  case {c}: r ^= {(i * 31 + c) % 1000} + (int)strlen(p->c); break;")
    out.append("  }")
    out.append(f"  if (r > {i}) memcpy(p->c, \"f{i}\", {len(str(i)) + 2});")
    out.append("  return r;")
    out.append("}")
out.append("int run(struct s *p, int n) { int r = 0;")
for i in range(f):
    out.append(f"  r += g{i}(p, n + {i % 7});")
out.append("  return r; }")
print("\n".join(out))
