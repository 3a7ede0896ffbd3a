//! Runtime A/B switches: each one, set in a child's environment, changes what the counters show.
//!
//! | variable | proof |
//! |---|---|
//! | `HAKMEM_TINY_SS_TLS_HINT=0` | a free-heavy loop scores hint hits by default, none with `=0` |
//! | `HAKMEM_TINY_SS_ADOPT=0` | exit-then-allocate adopts by default, not with `=0` |
//! | `HAKMEM_TINY_RF_FORCE_NOTIFY=0/1` | N remote frees notify once per slab, or N times when forced |
//! | `HAKMEM_TINY_MUST_ADOPT=1` | a dry current slab adopts before using the heap's own notified slab |
//! | `HAKMEM_STATS=1` | the counters are printed to stderr at exit |
//! | `HAKMEM_DEBUG=1` | one-shot `hakmem: debug:` lines appear, each site once |
//! | `HAKMEM_PURGE_DELAY_MS`, `HAKMEM_PURGE_MADV_FREE`, `HAKMEM_BACKGROUND`, `HAKMEM_LARGE_CACHE`, `HAKMEM_THP` | reported by `switches()` (their effect: tests/purge.rs) |
//!
//! A switch only turns off what the build compiled in; asking for a compiled-out box prints one
//! `hakmem: env: … ignored` warning and changes nothing. The child asserts against
//! `hakmem::switches()` and checks those against its own environment and the build's features,
//! so every test holds in every feature combination. The counter proofs need the `stats` feature
//! (the feature matrix turns it on); without it only the switches and the warnings are checked.

#![cfg(unix)]

mod support;

use std::collections::HashSet;

use hakmem::{HakMem, Switches};
use support::workloads;

#[global_allocator]
static GLOBAL: HakMem = HakMem;

const STATS: bool = cfg!(feature = "stats");
const TLS_HINT: bool = cfg!(feature = "tls-hint");
const ADOPT: bool = cfg!(feature = "adopt");
const FORCE_NOTIFY: bool = cfg!(feature = "force-notify");

const TLS_HINT_VAR: &str = "HAKMEM_TINY_SS_TLS_HINT";
const ADOPT_VAR: &str = "HAKMEM_TINY_SS_ADOPT";
const FORCE_NOTIFY_VAR: &str = "HAKMEM_TINY_RF_FORCE_NOTIFY";
const MUST_ADOPT_VAR: &str = "HAKMEM_TINY_MUST_ADOPT";
const STATS_VAR: &str = "HAKMEM_STATS";
const DEBUG_VAR: &str = "HAKMEM_DEBUG";
const MADV_FREE_VAR: &str = "HAKMEM_PURGE_MADV_FREE";
const BACKGROUND_VAR: &str = "HAKMEM_BACKGROUND";
const LARGE_CACHE_VAR: &str = "HAKMEM_LARGE_CACHE";
const THP_VAR: &str = "HAKMEM_THP";
const PURGE_DELAY_VAR: &str = "HAKMEM_PURGE_DELAY_MS";
/// `config::PURGE_DELAY_MS`.
const DEFAULT_PURGE_DELAY_MS: i64 = 1000;

/// `Some(true)` for "1", `Some(false)` for "0", `None` otherwise (as hakmem reads them).
fn flag(env: &dyn Fn(&str) -> Option<String>, var: &str) -> Option<bool> {
    match env(var).as_deref() {
        Some("1") => Some(true),
        Some("0") => Some(false),
        _ => None,
    }
}

/// The switches hakmem should report for environment `env` in this build.
fn expected(env: &dyn Fn(&str) -> Option<String>) -> Switches {
    // "1" keeps (or turns on) what is compiled in, "0" turns it off, anything else: the default.
    let switch = |var, compiled: bool, default: bool| match flag(env, var) {
        Some(on) => on && compiled,
        None => default,
    };
    let adopt = switch(ADOPT_VAR, ADOPT, ADOPT);
    Switches {
        tls_hint: switch(TLS_HINT_VAR, TLS_HINT, TLS_HINT),
        adopt,
        force_notify: switch(FORCE_NOTIFY_VAR, FORCE_NOTIFY, FORCE_NOTIFY),
        // Must-adopt reads as off whenever adoption itself is off.
        must_adopt: adopt && switch(MUST_ADOPT_VAR, ADOPT, false),
        stats: switch(STATS_VAR, STATS, false),
        debug: switch(DEBUG_VAR, true, false),
        purge_delay_ms: env(PURGE_DELAY_VAR)
            .and_then(|v| v.parse::<i64>().ok())
            .filter(|&ms| ms >= -1 && !v_has_plus(env))
            .unwrap_or(DEFAULT_PURGE_DELAY_MS),
        madv_free: switch(MADV_FREE_VAR, true, false),
        background: switch(BACKGROUND_VAR, true, false),
        large_cache: switch(LARGE_CACHE_VAR, true, true),
        thp: switch(THP_VAR, true, false),
    }
}

/// Rust's `parse` accepts a leading `+`; hakmem does not.
fn v_has_plus(env: &dyn Fn(&str) -> Option<String>) -> bool {
    env(PURGE_DELAY_VAR).is_some_and(|v| v.starts_with('+'))
}

// ---- child side ------------------------------------------------------------------------------

/// The switches in effect, after checking them against the environment and the build.
fn checked_switches() -> Switches {
    let s = hakmem::switches();
    let want = expected(&|v| std::env::var(v).ok());
    assert_eq!(s, want, "switches() does not reflect the environment");
    s
}

fn hint() {
    let sw = checked_switches();
    let d = workloads::free_heavy(200, 5);
    let frees = 1000;
    assert_eq!(d.local_frees, frees, "{d}");
    if sw.tls_hint {
        assert!(d.hint_hits > 0, "the hint cache answers frees\n{d}");
        assert!(
            d.registry_lookups < frees / 2,
            "with hints most frees skip the registry\n{d}"
        );
    } else {
        assert_eq!(d.hint_hits, 0, "hint switched off or compiled out\n{d}");
        assert!(
            d.registry_lookups >= frees,
            "without hints every free asks the registry\n{d}"
        );
    }
}

fn adopt() {
    let sw = checked_switches();
    let e = workloads::exit_then_allocate();
    assert!(e.exit.publishes >= 1, "{}", e.exit);
    if sw.adopt {
        assert!(e.next.adopts >= 1, "the next thread adopts\n{}", e.next);
        assert!(e.same_slab, "the block comes from the adopted slab");
    } else {
        assert_eq!(e.next.adopts, 0, "adoption switched off\n{}", e.next);
        assert!(!e.same_slab, "no block from a published slab");
    }
}

fn notify() {
    const N: usize = 64;
    let sw = checked_switches();
    let r = workloads::remote_frees(N, 64);
    assert_eq!(r.during.remote_frees, N as u64, "{}", r.during);
    let want = if sw.force_notify { N } else { r.slabs };
    assert_eq!(
        r.during.notifications, want as u64,
        "notifications (force_notify={})\n{}",
        sw.force_notify, r.during
    );
}

fn must_adopt() {
    let sw = checked_switches();
    let r = workloads::run_dry_with_partial_and_published();
    if sw.must_adopt && sw.adopt {
        assert_eq!(r.dry.adopts, 1, "adoption comes first\n{}", r.dry);
        assert!(r.from_published, "the block comes from the published slab");
    } else {
        assert_eq!(
            r.dry.adopts, 0,
            "the heap's own notified slab comes before adoption\n{}",
            r.dry
        );
        assert!(
            !r.from_published,
            "the block comes from the heap's own slab"
        );
    }
    assert!(r.dry.blocks_drained >= 4 || sw.must_adopt, "{}", r.dry);
}

/// Some activity of every kind, for the exit report and the one-shot logs. Adoption twice, so a
/// one-shot site is reached twice.
fn busy() {
    let _ = checked_switches();
    for _ in 0..2 {
        let _ = workloads::exit_then_allocate();
    }
    let _ = workloads::remote_frees(100, 64);
    let _ = workloads::free_heavy(100, 3);
    for i in 1..40 {
        workloads::free_block(workloads::alloc_block(i * 1000), i * 1000);
    }
}

/// The child entry point (see `support`): runs the scenario named in the environment.
#[test]
#[ignore = "child process entry point; run by the other tests"]
fn child() {
    let Some(name) = support::child::scenario() else {
        return;
    };
    workloads::quiesce();
    match name.as_str() {
        "switches" => {
            let _ = checked_switches();
        }
        "hint" => hint(),
        "adopt" => adopt(),
        "notify" => notify(),
        "must_adopt" => must_adopt(),
        "busy" => busy(),
        other => panic!("unknown scenario {other:?}"),
    }
}

// ---- parent side -----------------------------------------------------------------------------

/// Runs `scenario` with `env`, asserts it passed, and checks hakmem's `env:` warnings: exactly one
/// per variable set to "1" that names a compiled-out box, none otherwise.
fn run(scenario: &str, env: &[(&str, &str)]) -> support::child::Child {
    let c = support::child::run(scenario, env);
    c.assert_passed();
    let compiled = |var: &str| match var {
        TLS_HINT_VAR => TLS_HINT,
        ADOPT_VAR | MUST_ADOPT_VAR => ADOPT,
        FORCE_NOTIFY_VAR => FORCE_NOTIFY,
        STATS_VAR => STATS,
        _ => true,
    };
    let warnings: Vec<&str> = c
        .hakmem_lines()
        .into_iter()
        .filter(|l| l.starts_with("hakmem: env: ") && !l.contains(PURGE_DELAY_VAR))
        .collect();
    for var in support::child::HAKMEM_VARS {
        let set_on = env.iter().any(|&(k, v)| k == *var && v == "1");
        let n = warnings
            .iter()
            .filter(|l| l.contains(&format!("{var}=1")) && l.contains("ignored"))
            .count();
        let want = usize::from(set_on && !compiled(var));
        assert_eq!(n, want, "`{var}=1` warnings\n{}", c.report());
    }
    assert_eq!(
        warnings.len(),
        env.iter()
            .filter(|&&(k, v)| v == "1" && !compiled(k))
            .count(),
        "unexpected env warnings\n{}",
        c.report()
    );
    c
}

/// `run` for a scenario that proves its switch through the counters; without the `stats` feature
/// (every counter 0) only the switches and warnings are checked.
fn run_counting(scenario: &str, env: &[(&str, &str)]) {
    run(if STATS { scenario } else { "switches" }, env);
}

#[test]
fn switches_reflect_environment() {
    run("switches", &[]);
    let all = |v| {
        [
            TLS_HINT_VAR,
            ADOPT_VAR,
            FORCE_NOTIFY_VAR,
            MUST_ADOPT_VAR,
            STATS_VAR,
            DEBUG_VAR,
            MADV_FREE_VAR,
            BACKGROUND_VAR,
            LARGE_CACHE_VAR,
            THP_VAR,
        ]
        .map(|k| (k, v))
    };
    run("switches", &all("0"));
    run("switches", &all("1"));
    // Values other than 0 and 1 leave the defaults.
    run("switches", &all("yes"));
}

/// The purge delay is a number: milliseconds, 0 or -1; anything else warns once and keeps the
/// default.
#[test]
fn purge_delay_reads_milliseconds() {
    for v in ["0", "250", "-1"] {
        let c = run("switches", &[(PURGE_DELAY_VAR, v)]);
        assert!(!c.stderr.contains(PURGE_DELAY_VAR), "{}", c.report());
    }
    for v in ["-2", "1s", "", "+5"] {
        let c = run("switches", &[(PURGE_DELAY_VAR, v)]);
        let n = c
            .hakmem_lines()
            .into_iter()
            .filter(|l| l.starts_with("hakmem: env: HAKMEM_PURGE_DELAY_MS ignored"))
            .count();
        assert_eq!(n, 1, "one warning for {v:?}\n{}", c.report());
    }
}

#[test]
fn tls_hint_switch_changes_hint_hits() {
    run_counting("hint", &[]);
    run_counting("hint", &[(TLS_HINT_VAR, "0")]);
    run_counting("hint", &[(TLS_HINT_VAR, "1")]);
}

#[test]
fn adopt_switch_changes_adopts() {
    run_counting("adopt", &[]);
    run_counting("adopt", &[(ADOPT_VAR, "0")]);
    run_counting("adopt", &[(ADOPT_VAR, "1")]);
}

#[test]
fn force_notify_switch_changes_notifications() {
    run_counting("notify", &[]);
    run_counting("notify", &[(FORCE_NOTIFY_VAR, "0")]);
    run_counting("notify", &[(FORCE_NOTIFY_VAR, "1")]);
}

#[test]
fn must_adopt_switch_changes_refill_order() {
    run_counting("must_adopt", &[]);
    run_counting("must_adopt", &[(MUST_ADOPT_VAR, "1")]);
    run_counting("must_adopt", &[(MUST_ADOPT_VAR, "1"), (ADOPT_VAR, "0")]);
}

/// The exit report: `hakmem: stats`, then one `name value` line per counter, once.
#[test]
fn stats_switch_prints_counters_at_exit() {
    let quiet = run("busy", &[]);
    assert!(
        !quiet.stderr.contains("hakmem: stats"),
        "no report unless asked\n{}",
        quiet.report()
    );
    let c = run("busy", &[(STATS_VAR, "1")]);
    if !STATS {
        assert!(!c.stderr.contains("hakmem: stats"), "{}", c.report());
        return;
    }
    let lines: Vec<&str> = c.stderr.lines().collect();
    let at = lines
        .iter()
        .position(|l| *l == "hakmem: stats")
        .unwrap_or_else(|| panic!("no `hakmem: stats` line\n{}", c.report()));
    assert_eq!(
        lines.iter().filter(|l| **l == "hakmem: stats").count(),
        1,
        "one report\n{}",
        c.report()
    );
    let mut names = Vec::new();
    hakmem::stats().for_each(|n, _| names.push(n));
    let report = &lines[at + 1..at + 1 + names.len()];
    for (line, name) in report.iter().zip(&names) {
        let mut it = line.split_whitespace();
        assert_eq!(
            it.next(),
            Some(*name),
            "report line {line:?}\n{}",
            c.report()
        );
        let v: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        // The workload's big blocks are medium ones with the `medium` feature, large without.
        let big = if cfg!(feature = "medium") {
            "medium_allocs"
        } else {
            "large_allocs"
        };
        if matches!(*name, "allocs" | "remote_frees" | "threads_started") || *name == big {
            assert!(v > 0, "{name} is 0 after the workload\n{}", c.report());
        }
    }
}

/// One-shot diagnostics: present with `HAKMEM_DEBUG=1` (the workload adopts twice, reaching the
/// adoption site twice), each site at most once; absent without it.
#[test]
fn debug_switch_logs_each_site_once() {
    let debug_lines = |c: &support::child::Child| -> Vec<String> {
        c.hakmem_lines()
            .into_iter()
            .filter(|l| l.starts_with("hakmem: debug: "))
            .map(str::to_owned)
            .collect()
    };
    let quiet = run("busy", &[]);
    assert!(debug_lines(&quiet).is_empty(), "{}", quiet.report());
    let c = run("busy", &[(DEBUG_VAR, "1")]);
    let lines = debug_lines(&c);
    if ADOPT {
        assert!(
            lines.iter().any(|l| l.contains("adopt")),
            "no one-shot line from the adoption site\n{}",
            c.report()
        );
    }
    // The site is what precedes the pointer; the pointer differs between occurrences.
    let mut sites = HashSet::new();
    for l in &lines {
        let site = l.split(" ptr=").next().unwrap_or(l);
        assert!(
            sites.insert(site.to_owned()),
            "logged twice: {l}\n{}",
            c.report()
        );
    }
}
