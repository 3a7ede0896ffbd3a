//! The message writer: a fixed-capacity line built on the stack and written to a file descriptor,
//! without allocating and without `std::fmt`. Used by the fail-fast reports (`debug`), the event
//! ring dump (`trace`), the one-shot diagnostics (`env`) and the exit statistics (`stats`).
//!
//! Boundary: depends only on `os` (the write). Never panics; a message longer than the buffer is
//! cut short.

use crate::os;

/// A fixed-capacity message buffer on the stack.
pub struct Msg {
    buf: [u8; 512],
    len: usize,
}

impl Msg {
    pub const fn new() -> Self {
        Self {
            buf: [0; 512],
            len: 0,
        }
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.bytes(s.as_bytes())
    }

    /// Appends `s`, cut short where the buffer ends.
    fn bytes(&mut self, s: &[u8]) -> &mut Self {
        for &b in s {
            if self.len < self.buf.len() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        self
    }

    /// Appends `v` in base `radix` (2..=16), most significant digit first.
    fn digits(&mut self, v: usize, radix: usize) -> &mut Self {
        let mut buf = [0u8; 64];
        self.bytes(digits(v, radix, &mut buf))
    }

    pub fn hex(&mut self, v: usize) -> &mut Self {
        self.str("0x").digits(v, 16)
    }

    pub fn dec(&mut self, v: usize) -> &mut Self {
        self.digits(v, 10)
    }

    pub fn field_hex(&mut self, name: &str, v: usize) -> &mut Self {
        self.str(" ").str(name).str("=").hex(v)
    }

    pub fn field_dec(&mut self, name: &str, v: usize) -> &mut Self {
        self.str(" ").str(name).str("=").dec(v)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Writes the message and a newline to stderr.
    pub fn emit(&mut self) {
        self.emit_to(2);
    }

    /// Writes the message and a newline to `fd`.
    pub fn emit_to(&mut self, fd: i32) {
        self.str("\n");
        os::write_fd(fd, self.as_bytes());
    }
}

/// The digits of `v` in base `radix` (2..=16), most significant first: the tail of `buf` (64
/// bytes hold a `usize` in base 2). For writers that stream numbers without a `Msg` line on the
/// stack (the profiler's dumps: docs/design.md, "Stack depth").
pub fn digits(mut v: usize, radix: usize, buf: &mut [u8; 64]) -> &[u8] {
    let mut n = buf.len();
    loop {
        n -= 1;
        buf[n] = b"0123456789abcdef"[v % radix];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    &buf[n..]
}

impl Default for Msg {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(all(test, not(hakmem_loom)))]
mod tests {
    use super::*;

    #[test]
    fn formats_without_fmt() {
        let mut m = Msg::new();
        m.str("a")
            .field_hex("ptr", 0xdead_beef)
            .field_dec("class", 42)
            .field_dec("z", 0);
        assert_eq!(m.as_bytes(), b"a ptr=0xdeadbeef class=42 z=0");
    }
}
