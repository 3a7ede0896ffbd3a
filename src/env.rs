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

use crate::sync::plain::{AtomicU8, Ordering};

use crate::config::{ADOPT, FORCE_NOTIFY, STATS, TLS_HINT};
use crate::debug::Msg;

const TLS_HINT_BIT: u8 = 1;
const ADOPT_BIT: u8 = 2;
const FORCE_NOTIFY_BIT: u8 = 4;
const MUST_ADOPT_BIT: u8 = 8;
const STATS_BIT: u8 = 16;
const DEBUG_BIT: u8 = 32;
const READ_BIT: u8 = 128;

/// Compiled-in defaults, in effect until the environment has been read.
const DEFAULTS: u8 = (if TLS_HINT { TLS_HINT_BIT } else { 0 })
    | (if ADOPT { ADOPT_BIT } else { 0 })
    | (if FORCE_NOTIFY { FORCE_NOTIFY_BIT } else { 0 });

static SWITCHES: AtomicU8 = AtomicU8::new(DEFAULTS);

/// The effective runtime switches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Switches {
    pub tls_hint: bool,
    pub adopt: bool,
    pub force_notify: bool,
    pub must_adopt: bool,
    pub stats: bool,
    pub debug: bool,
}

#[inline(always)]
fn bits() -> u8 {
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
#[inline]
pub fn force_notify() -> bool {
    bits() & FORCE_NOTIFY_BIT != 0
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
    }
}

/// `Some(true)` for "1", `Some(false)` for "0", `None` when unset or anything else.
fn read(name: &core::ffi::CStr) -> Option<bool> {
    // SAFETY: getenv with a NUL-terminated name; the result is read before any setenv could run
    // in this thread.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string.
    match unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes() {
        b"1" => Some(true),
        b"0" => Some(false),
        _ => None,
    }
}

fn warn_compiled_out(var: &str, feature: &str) {
    let mut m = Msg::new();
    m.str("hakmem: env: ")
        .str(var)
        .str("=1 ignored: built without the `")
        .str(feature)
        .str("` feature");
    m.emit();
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
    const VARS: [(&core::ffi::CStr, u8, bool, &str); 6] = [
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
    ];
    let mut b = DEFAULTS;
    for (var, bit, compiled, feature) in VARS {
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
    // ORDERING: Relaxed — see `bits`.
    SWITCHES.store(b | READ_BIT, Ordering::Relaxed);
    true
}

/// One-shot diagnostics: `site` logs `what` the first time it is reached with `HAKMEM_DEBUG=1`.
pub struct OneShot(AtomicU8);

impl OneShot {
    pub const fn new() -> Self {
        Self(AtomicU8::new(0))
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
