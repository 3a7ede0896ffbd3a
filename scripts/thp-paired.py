#!/usr/bin/env python3
"""Paired runs of one program under several preloads (or binaries), with hakmem's collapse counters.

    scripts/thp-paired.py ROUNDS LABEL=LIB [LABEL=bin:PATH ...] -- CMD [ARGS...]

Runs CMD once per LABEL per round (order reversed every other round) with `HAKMEM_STATS=1` and
`LD_PRELOAD=LIB`, or with CMD's first word replaced by PATH for `bin:PATH` (a `wl-hakmem` build).
Prints per LABEL the median CPU, user and system seconds (`os.wait4`), the worst system time,
median minor faults, and the medians of `thp_collapses`, `thp_collapse_us` (max too) and
`thp_collapses_skipped` from the stats dump, and the paired CPU ratio over the first LABEL
(session 26, thp26; docs/benchmarks.md "Session 26: thp26").
"""
import os, sys, subprocess, statistics as st
args=sys.argv[1:]; rounds=int(args[0]); i=args.index('--'); libs=[a.split('=',1) for a in args[1:i]]; cmd=args[i+1:]
res={l:[] for l,_ in libs}
for r in range(rounds):
    order=libs if r%2==0 else libs[::-1]
    for lab,so in order:
        env=dict(os.environ, HAKMEM_STATS='1')
        c=list(cmd)
        if so.startswith('bin:'): c[0]=so[4:]
        else: env['LD_PRELOAD']=so
        p=subprocess.Popen(c,env=env,stdout=subprocess.DEVNULL,stderr=subprocess.PIPE)
        err=p.stderr.read().decode(errors='replace')
        _,status,ru=os.wait4(p.pid,0)
        assert status==0,(lab,status)
        thp={}
        for line in err.splitlines():
            f=line.split()
            if len(f)==2 and f[0].startswith('thp_'): thp[f[0]]=int(f[1])
        res[lab].append((ru.ru_utime,ru.ru_stime,ru.ru_minflt,thp.get('thp_collapses',0),thp.get('thp_collapse_us',0),thp.get('thp_collapses_skipped',0)))
base=libs[0][0]
for lab,_ in libs:
    v=res[lab]; u=[x[0] for x in v]; s=[x[1] for x in v]; c=[x[0]+x[1] for x in v]
    ratios=[ (a[0]+a[1])/(b[0]+b[1]) for a,b in zip(v,res[base])]
    print(f"{lab}: cpu med {st.median(c):.3f} user med {st.median(u):.3f} sys med {st.median(s):.3f} max {max(s):.3f} | faults med {st.median([x[2] for x in v]):.0f} | collapses med {st.median([x[3] for x in v])} cost ms med {st.median([x[4] for x in v])/1000:.1f} max {max(x[4] for x in v)/1000:.1f} skipped med {st.median([x[5] for x in v])} | cpu/{base} paired med {st.median(ratios):.3f}")
    print("   sys:", ' '.join(f"{x:.2f}" for x in s))
