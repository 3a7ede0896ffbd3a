#!/usr/bin/env python3
"""Static worst-case stack depth per entry point of an x86_64 ELF (docs/design.md, "Stack depth").

    scripts/stack-depth.py target/release/libhakmem.so [--cut REGEX]... SYMBOL...

Frames come from the prologues (pushes, every `sub $N,%rsp`, stack realignment), edges from
direct calls, tail jumps and calls/jumps through GOT slots that resolve (R_X86_64_RELATIVE /
GLOB_DAT / JUMP_SLOT) to a function of the file; a function outside it (libc) is assumed to take
256 bytes. Calls through a register are counted ("ind N") and not followed; recursion is cut.
`--cut REGEX` drops the functions whose mangled name matches (e.g. `panicking`, `debug5fatal`,
`dump_pending`) to see the worst path without them. Prints the deepest path of each SYMBOL
(mangled names as `nm` prints them; `malloc`, `free`, ... for the C entry points), each function
with its frame. An estimate: preload/tests/c/small_stacks.c measures the real depth."""
import re, subprocess, sys
args = sys.argv[1:]
cuts = [args[i + 1] for i, a in enumerate(args) if a == '--cut']
args = [a for i, a in enumerate(args) if a != '--cut' and (i == 0 or args[i - 1] != '--cut')]
so = args[0]; entries = args[1:]
dis = subprocess.run(['objdump', '-d', '--no-show-raw-insn', so], capture_output=True, text=True).stdout
got = {}
for line in subprocess.run(['readelf', '-rW', so], capture_output=True, text=True).stdout.splitlines():
    p = line.split()
    if len(p) >= 4 and re.fullmatch(r'[0-9a-f]{16}', p[0]):
        if p[2] == 'R_X86_64_RELATIVE': got[int(p[0], 16)] = int(p[3], 16)
        elif p[2] in ('R_X86_64_GLOB_DAT', 'R_X86_64_JUMP_SLOT') and len(p) >= 5:
            got[int(p[0], 16)] = p[4].split('@')[0]
funcs = {}; addr2name = {}; cur = None
for line in dis.splitlines():
    m = re.match(r'^([0-9a-f]+) <(.*)>:$', line)
    if m:
        cur = m.group(2); addr2name[int(m.group(1), 16)] = cur
        funcs[cur] = {'frame': 8, 'calls': set(), 'tail': set(), 'indirect': 0, 'align': 0}; continue
    if cur is None or not line.strip(): continue
    f = funcs[cur]
    if re.search(r'\tpush\s', line): f['frame'] += 8
    m = re.search(r'\tsub\s+\$0x([0-9a-f]+),%rsp', line)
    if m: f['frame'] += int(m.group(1), 16)
    m = re.search(r'\tand\s+\$0xffffffffffffff([0-9a-f]+),%rsp', line)
    if m: f['align'] = max(f['align'], 256 - int(m.group(1), 16) - 8)
    m = re.search(r'\t(call|jmp)\s+[0-9a-f]+ <([^>+]+)(\+0x[0-9a-f]+)?>', line)
    if m:
        if m.group(1) == 'call': f['calls'].add(m.group(2))
        elif m.group(2) != cur and not m.group(3): f['tail'].add(m.group(2))
        continue
    m = re.search(r'\t(call|jmp)\s+\*0x[0-9a-f]+\(%rip\)\s+# ([0-9a-f]+)', line)
    if m:
        t = got.get(int(m.group(2), 16))
        if t is None: f['indirect'] += 1; continue
        (f['calls'] if m.group(1) == 'call' else f['tail']).add(t)
        continue
    if re.search(r'\t(call|jmp)\s+\*%', line) or re.search(r'\tcall\s+\*', line): f['indirect'] += 1
for f in funcs.values():
    f['frame'] += f['align']
    for k in ('calls', 'tail'):
        f[k] = {addr2name.get(t, hex(t)) if isinstance(t, int) else t for t in f[k]}
LIBC = 256
memo = {}; onstack = set()
def depth(n):
    if n in memo: return memo[n]
    if n not in funcs or n.endswith('@plt'): return (LIBC, [n + f' (outside, assumed {LIBC})'])
    if n in onstack: return (0, [n + ' (recursion)'])
    if any(re.search(c, n) for c in cuts): return (0, [n + ' (cut)'])
    onstack.add(n)
    f = funcs[n]; best = (f['frame'], [n])
    for c in f['calls']:
        d, p = depth(c)
        if f['frame'] + d > best[0]: best = (f['frame'] + d, [n] + p)
    for c in f['tail']:
        d, p = depth(c)
        if d > best[0]: best = (d, [n + ' (tail)'] + p)
    onstack.discard(n); memo[n] = best
    return best
def demangle(names):
    return subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True, text=True).stdout.split('\n')
for e in entries:
    d, p = depth(e)
    print(f'{e}: {d} bytes')
    for n, dn in zip(p, demangle(p)):
        f = funcs.get(n.split(' ')[0], {})
        print(f"    {f.get('frame', ''):>6} {('ind ' + str(f['indirect'])) if f.get('indirect') else '':>6}  {dn[:150]}")
