//! Fail-fast reporting: one message to stderr, written without allocating, then abort.
//!
//! Boundary: depends on `msg` (the writer), `trace` (the ring dumped after the message) and `os`
//! (the abort). Shape of every message:
//! `hakmem: <box>: <what went wrong> ptr=0x… [superslab=0x… slab=… class=… gen=…]`
//! (the bracketed fields appear when known). Never formats with `std::fmt`, never panics.

use crate::msg::Msg;
use crate::os;
use crate::trace;

/// What is known about the pointer a failure concerns.
#[derive(Clone, Copy, Default)]
pub struct Where {
    pub ptr: usize,
    pub superslab: Option<usize>,
    pub slab: Option<usize>,
    pub class: Option<usize>,
    pub generation: Option<usize>,
}

impl Where {
    pub fn ptr(ptr: usize) -> Self {
        Self {
            ptr,
            ..Self::default()
        }
    }
}

/// Reports `what` in box `box_name` at `at`, then aborts the process.
#[cold]
#[inline(never)]
pub fn fatal(box_name: &str, what: &str, at: Where) -> ! {
    let mut m = Msg::new();
    m.str("hakmem: ").str(box_name).str(": ").str(what);
    m.field_hex("ptr", at.ptr);
    if let Some(s) = at.superslab {
        m.field_hex("superslab", s);
    }
    if let Some(s) = at.slab {
        m.field_dec("slab", s);
    }
    if let Some(c) = at.class {
        m.field_dec("class", c);
    }
    if let Some(g) = at.generation {
        m.field_dec("gen", g);
    }
    m.emit();
    trace::dump();
    os::abort()
}
