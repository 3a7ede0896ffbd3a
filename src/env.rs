//! Runtime switches: read once from the environment with `libc::getenv` (never `std::env`, which
//! allocates) when the first thread heap is created, i.e. at or before the first allocation that
//! reaches a slow path. Consulted only on slow paths.
//!
//! A switch can only turn off what the build compiled in; asking for something compiled out prints
//! a one-shot warning and changes nothing. The block header layout (`headerless` or not) is a build
//! decision and cannot change at run time.
//!
//! | variable | effect |
//! |---|---|
//! | `HAKMEM_TINY_SS_TLS_HINT=0` | `free` stops filling the hint cache, so every free asks the registry |
//! | `HAKMEM_TINY_SS_ADOPT=0` | refill never adopts published slabs (the reclaim pass still returns emptied ones) |
//! | `HAKMEM_TINY_RF_FORCE_NOTIFY=0/1` | every remote free notifies the owner (1) or only the first (0) |
//! | `HAKMEM_TINY_MUST_ADOPT=1` | refill tries adoption as soon as the current slab runs dry, before its own partial and notified slabs |
//! | `HAKMEM_STATS=1` | print `hakmem::stats()` to stderr at exit |
//! | `HAKMEM_DEBUG=1` | one-shot diagnostics: each site logs at most once per process |
//! | `HAKMEM_PURGE_DELAY_MS=N` | emptied memory goes back to the OS `N` ms after it emptied (default `PURGE_DELAY_MS`); `0` at once, `-1` never (`collect()` still purges) |
//! | `HAKMEM_PURGE_MADV_FREE=1` | purge with `MADV_FREE` (lazy, RSS drops only under pressure) instead of `MADV_DONTNEED` |
//! | `HAKMEM_LARGE_CACHE=0` | freed large blocks are unmapped at once instead of cached for reuse |
//! | `HAKMEM_BACKGROUND=1` | a background thread purges on the clock, so an idle process shrinks too |
//! | `HAKMEM_THP=1` | each new SuperSlab is backed by a transparent huge page at once (`MADV_COLLAPSE`; default `config::THP`) |

use crate::sync::plain::{AtomicI64, AtomicU16, Ordering};

use crate::config::{ADOPT, FORCE_NOTIFY, PURGE_DELAY_MS, STATS, THP, TLS_HINT};
use crate::msg::Msg;

const TLS_HINT_BIT: u16 = 1;
const ADOPT_BIT: u16 = 2;
const FORCE_NOTIFY_BIT: u16 = 4;
const MUST_ADOPT_BIT: u16 = 8;
const STATS_BIT: u16 = 16;
const DEBUG_BIT: u16 = 32;
const MADV_FREE_BIT: u16 = 64;
const BACKGROUND_BIT: u16 = 128;
const LARGE_CACHE_BIT: u16 = 256;
const THP_BIT: u16 = 512;
const READ_BIT: u16 = 1 << 15;

/// Compiled-in defaults, in effect until the environment has been read.
const DEFAULTS: u16 = (if TLS_HINT { TLS_HINT_BIT } else { 0 })
    | (if ADOPT { ADOPT_BIT } else { 0 })
    | (if FORCE_NOTIFY { FORCE_NOTIFY_BIT } else { 0 })
    | LARGE_CACHE_BIT
    | (if THP { THP_BIT } else { 0 });

static SWITCHES: AtomicU16 = AtomicU16::new(DEFAULTS);
/// `HAKMEM_PURGE_DELAY_MS`: milliseconds, or -1 for never.
static PURGE_DELAY: AtomicI64 = AtomicI64::new(PURGE_DELAY_MS);

/// The effective runtime switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Switches {
    pub tls_hint: bool,
    pub adopt: bool,
    pub force_notify: bool,
    pub must_adopt: bool,
    pub stats: bool,
    pub debug: bool,
    /// Milliseconds between a range emptying and its purge; 0 at once, -1 never.
    pub purge_delay_ms: i64,
    /// Purge with `MADV_FREE` instead of `MADV_DONTNEED`.
    pub madv_free: bool,
    /// The background purger thread is wanted.
    pub background: bool,
    /// Freed large blocks are cached for reuse.
    pub large_cache: bool,
    /// New SuperSlabs are backed by transparent huge pages.
    pub thp: bool,
}

#[inline(always)]
fn bits() -> u16 {
    // ORDERING: Relaxed — each switch is an independent flag written once at start-up; a thread
    // that reads the compiled-in default a moment longer is still correct.
    SWITCHES.load(Ordering::Relaxed)
}

#[inline]
pub fn tls_hint() -> bool {
    bits() & TLS_HINT_BIT != 0
}
#[inline]
pub fn adopt() -> bool {
    bits() & ADOPT_BIT != 0
}
/// The bit is set only where the build compiled the switch in (`DEFAULTS`, `init`), so a build
/// without it folds the test away: the remote free path (`free_remote`) reads no switch.
#[inline]
pub fn force_notify() -> bool {
    FORCE_NOTIFY && bits() & FORCE_NOTIFY_BIT != 0
}
#[inline]
pub fn must_adopt() -> bool {
    bits() & MUST_ADOPT_BIT != 0
}
#[inline]
pub fn stats() -> bool {
    bits() & STATS_BIT != 0
}
#[inline]
pub fn debug() -> bool {
    bits() & DEBUG_BIT != 0
}
#[inline]
pub fn madv_free() -> bool {
    bits() & MADV_FREE_BIT != 0
}
#[inline]
pub fn background() -> bool {
    bits() & BACKGROUND_BIT != 0
}
#[inline]
pub fn large_cache() -> bool {
    bits() & LARGE_CACHE_BIT != 0
}
#[inline]
pub fn thp() -> bool {
    bits() & THP_BIT != 0
}
/// `HAKMEM_PURGE_DELAY_MS`: milliseconds, or -1 for never.
#[inline]
pub fn purge_delay_ms() -> i64 {
    // ORDERING: Relaxed — as `bits`: written once at start-up, any value seen is a valid setting.
    PURGE_DELAY.load(Ordering::Relaxed)
}

/// The effective switches.
pub fn switches() -> Switches {
    let b = bits();
    Switches {
        tls_hint: b & TLS_HINT_BIT != 0,
        adopt: b & ADOPT_BIT != 0,
        force_notify: b & FORCE_NOTIFY_BIT != 0,
        must_adopt: b & MUST_ADOPT_BIT != 0,
        stats: b & STATS_BIT != 0,
        debug: b & DEBUG_BIT != 0,
        purge_delay_ms: purge_delay_ms(),
        madv_free: b & MADV_FREE_BIT != 0,
        background: b & BACKGROUND_BIT != 0,
        large_cache: b & LARGE_CACHE_BIT != 0,
        thp: b & THP_BIT != 0,
    }
}

/// The value of `name`, if set.
fn raw(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv with a NUL-terminated name; the result is read before any setenv could run
    // in this thread.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string, which lives as long as the environment.
    Some(unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes())
}

/// `Some(true)` for "1", `Some(false)` for "0", `None` when unset or anything else.
fn read(name: &core::ffi::CStr) -> Option<bool> {
    match raw(name)? {
        b"1" => Some(true),
        b"0" => Some(false),
        _ => None,
    }
}

/// A decimal integer, optionally negative; `None` for anything else (or overflow).
pub(crate) fn parse_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut v: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((d - b'0') as i64)?;
    }
    Some(if neg { -v } else { v })
}

/// `HAKMEM_PURGE_DELAY_MS`: a delay >= 0 or -1; anything else warns once and keeps the default.
fn read_purge_delay() -> i64 {
    let Some(v) = raw(c"HAKMEM_PURGE_DELAY_MS") else {
        return PURGE_DELAY_MS;
    };
    match parse_int(v) {
        Some(ms) if ms >= -1 => ms,
        _ => {
            warn_purge_delay();
            PURGE_DELAY_MS
        }
    }
}

/// The warnings are out of line: their 512-byte line is not in `init`'s frame (docs/design.md,
/// "Stack depth").
#[cold]
#[inline(never)]
fn warn_purge_delay() {
    let mut m = Msg::new();
    m.str("hakmem: env: HAKMEM_PURGE_DELAY_MS ignored: expected milliseconds >= 0 or -1")
        .field_dec("default", PURGE_DELAY_MS as usize);
    m.emit();
}

#[cold]
#[inline(never)]
fn warn_compiled_out(var: &str, feature: &str) {
    let mut m = Msg::new();
    m.str("hakmem: env: ")
        .str(var)
        .str("=1 ignored: built without the `")
        .str(feature)
        .str("` feature");
    m.emit();
}

/// Overrides `HAKMEM_PURGE_DELAY_MS` (test hook: `testing::set_purge_delay_ms`).
#[cfg(feature = "fault-injection")]
pub fn set_purge_delay_ms(ms: i64) {
    // ORDERING: Relaxed — see `purge_delay_ms`.
    PURGE_DELAY.store(ms.max(-1), Ordering::Relaxed);
}

/// Reads the environment once. Returns true on the call that read it.
pub fn init() -> bool {
    // ORDERING: Relaxed — see `bits`. The fetch_or elects exactly one first caller, which alone
    // reads the environment and prints warnings; a racing caller keeps the compiled-in defaults
    // until the store below.
    let prev = SWITCHES.fetch_or(READ_BIT, Ordering::Relaxed);
    if prev & READ_BIT != 0 {
        return false;
    }
    const VARS: [(&core::ffi::CStr, u16, bool, &str); 10] = [
        (
            c"HAKMEM_TINY_SS_TLS_HINT",
            TLS_HINT_BIT,
            TLS_HINT,
            "tls-hint",
        ),
        (c"HAKMEM_TINY_SS_ADOPT", ADOPT_BIT, ADOPT, "adopt"),
        (
            c"HAKMEM_TINY_RF_FORCE_NOTIFY",
            FORCE_NOTIFY_BIT,
            FORCE_NOTIFY,
            "force-notify",
        ),
        (c"HAKMEM_TINY_MUST_ADOPT", MUST_ADOPT_BIT, ADOPT, "adopt"),
        (c"HAKMEM_STATS", STATS_BIT, STATS, "stats"),
        (c"HAKMEM_DEBUG", DEBUG_BIT, true, ""),
        (c"HAKMEM_PURGE_MADV_FREE", MADV_FREE_BIT, true, ""),
        (c"HAKMEM_BACKGROUND", BACKGROUND_BIT, true, ""),
        (c"HAKMEM_LARGE_CACHE", LARGE_CACHE_BIT, true, ""),
        (c"HAKMEM_THP", THP_BIT, true, ""),
    ];
    let mut b = DEFAULTS;
    // By reference: iterating the array by value copies its 480 bytes onto the stack.
    for &(var, bit, compiled, feature) in &VARS {
        match read(var) {
            Some(false) => b &= !bit,
            Some(true) if compiled => b |= bit,
            Some(true) => warn_compiled_out(var.to_str().unwrap_or("?"), feature),
            None => {}
        }
    }
    // Must-adopt means nothing once adoption is off: report it off.
    if b & ADOPT_BIT == 0 {
        b &= !MUST_ADOPT_BIT;
    }
    // ORDERING: Relaxed — see `purge_delay_ms`.
    PURGE_DELAY.store(read_purge_delay(), Ordering::Relaxed);
    // ORDERING: Relaxed — see `bits`.
    SWITCHES.store(b | READ_BIT, Ordering::Relaxed);
    true
}

/// One-shot diagnostics: `site` logs `what` the first time it is reached with `HAKMEM_DEBUG=1`.
pub struct OneShot(crate::sync::plain::AtomicU8);

impl OneShot {
    pub const fn new() -> Self {
        Self(crate::sync::plain::AtomicU8::new(0))
    }

    #[cold]
    pub fn log(&self, site: &str, what: &str, ptr: usize) {
        // ORDERING: Relaxed — only "at most once" matters; nothing is published.
        if debug() && self.0.swap(1, Ordering::Relaxed) == 0 {
            let mut m = Msg::new();
            m.str("hakmem: debug: ")
                .str(site)
                .str(": ")
                .str(what)
                .field_hex("ptr", ptr);
            m.emit();
        }
    }
}

impl Default for OneShot {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::parse_int;

    #[test]
    fn parse_int_reads_decimal_and_minus_one() {
        assert_eq!(parse_int(b"0"), Some(0));
        assert_eq!(parse_int(b"1500"), Some(1500));
        assert_eq!(parse_int(b"-1"), Some(-1));
        assert_eq!(parse_int(b""), None);
        assert_eq!(parse_int(b"-"), None);
        assert_eq!(parse_int(b"1s"), None);
        assert_eq!(parse_int(b"99999999999999999999"), None);
    }
}
