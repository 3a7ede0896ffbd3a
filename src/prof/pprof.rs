//! Writers of the profile: pprof's protobuf (`profile.proto` of github.com/google/pprof), folded
//! stacks, and the leak report — all streamed through a fixed buffer to a file descriptor,
//! without allocating and without `std::fmt` (this runs inside the allocator, under its lock, and
//! from a signal handler).
//!
//! The pprof profile is unsymbolized, like those jemalloc and tcmalloc write: each location is a
//! call-site address (return address - 1) with the mapping (file, range, offset) it falls in;
//! `pprof`, `hakmem-prof` and Pyroscope symbolize it with the binary's debug info. Sample types
//! follow Go's heap profiles: `alloc_objects`, `alloc_space`, `inuse_objects`, `inuse_space`
//! (default), every value already scaled by the sampling weight; `period` is the mean sampling
//! interval in bytes.

use super::maps::{self, Mapping};
use super::table::{Entry, CAPACITY};
use super::MAX_FRAMES;
use crate::msg;
use crate::os;

/// Where encoded bytes go.
pub trait Sink {
    fn put(&mut self, b: &[u8]);
}

/// Counts bytes (the length prefix of a nested message).
struct Count(usize);

impl Sink for Count {
    fn put(&mut self, b: &[u8]) {
        self.0 += b.len();
    }
}

/// Buffers bytes and writes them to a descriptor; remembers the first write error.
pub struct FdSink<'a> {
    fd: i32,
    buf: &'a mut [u8],
    len: usize,
    pub ok: bool,
}

impl<'a> FdSink<'a> {
    pub fn new(fd: i32, buf: &'a mut [u8]) -> Self {
        Self {
            fd,
            buf,
            len: 0,
            ok: true,
        }
    }

    /// Writes what is buffered; false if any write failed.
    pub fn flush(&mut self) -> bool {
        if self.ok && self.len > 0 {
            self.ok = os::write_all(self.fd, &self.buf[..self.len]);
        }
        self.len = 0;
        self.ok
    }
}

impl Sink for FdSink<'_> {
    fn put(&mut self, mut b: &[u8]) {
        while !b.is_empty() {
            if self.len == self.buf.len() {
                self.flush();
            }
            let n = b.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&b[..n]);
            self.len += n;
            b = &b[n..];
        }
    }
}

fn varint(s: &mut dyn Sink, mut v: u64) {
    let mut b = [0u8; 10];
    let mut n = 0;
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            b[n] = byte;
            n += 1;
            break;
        }
        b[n] = byte | 0x80;
        n += 1;
    }
    s.put(&b[..n]);
}

fn key(s: &mut dyn Sink, field: u32, wire: u32) {
    varint(s, ((field << 3) | wire) as u64);
}

/// A varint field (omitted when 0, as proto3 does).
fn uint(s: &mut dyn Sink, field: u32, v: u64) {
    if v != 0 {
        key(s, field, 0);
        varint(s, v);
    }
}

fn bytes(s: &mut dyn Sink, field: u32, b: &[u8]) {
    key(s, field, 2);
    varint(s, b.len() as u64);
    s.put(b);
}

/// A nested message: its length first (from a counting pass), then its fields.
fn message(s: &mut dyn Sink, field: u32, body: &dyn Fn(&mut dyn Sink)) {
    let mut c = Count(0);
    body(&mut c);
    key(s, field, 2);
    varint(s, c.0 as u64);
    body(s);
}

/// A packed repeated varint field.
fn packed(s: &mut dyn Sink, field: u32, n: usize, item: &dyn Fn(usize) -> u64) {
    message(s, field, &|s| {
        for i in 0..n {
            varint(s, item(i));
        }
    });
}

// String table indices (field 6 is written in this order; mapping file names follow).
const STRINGS: [&[u8]; 8] = [
    b"",
    b"alloc_objects",
    b"count",
    b"alloc_space",
    b"bytes",
    b"inuse_objects",
    b"inuse_space",
    b"space",
];
const S_COUNT: u64 = 2;
const S_BYTES: u64 = 4;
const S_SPACE: u64 = 7;
const S_INUSE_SPACE: u64 = 6;

/// The location id of frame `k` of stack entry `idx` (ids are dense per entry; pprof does not
/// require one location per address).
fn location_id(idx: usize, k: usize) -> u64 {
    (idx * MAX_FRAMES + k + 1) as u64
}

fn round(v: f64) -> u64 {
    if v <= 0.0 {
        0
    } else {
        (v + 0.5) as u64
    }
}

/// Everything a writer needs: the stack table, the mappings and the text they point into.
pub struct Snapshot<'a> {
    pub entries: &'a [Entry],
    pub maps: &'a [Mapping],
    pub maps_text: &'a [u8],
    pub period: u64,
    pub time_nanos: u64,
}

impl Snapshot<'_> {
    fn name(&self, m: &Mapping) -> &[u8] {
        &self.maps_text[m.name_at..m.name_at + m.name_len]
    }
}

/// Writes the pprof protobuf encoding of `snap`.
pub fn write_pprof(s: &mut dyn Sink, snap: &Snapshot) {
    for (ty, unit) in [(1, S_COUNT), (3, S_BYTES), (5, S_COUNT), (6, S_BYTES)] {
        message(s, 1, &|s| {
            uint(s, 1, ty);
            uint(s, 2, unit);
        });
    }
    for (idx, e) in snap.entries.iter().enumerate() {
        if !e.used() {
            continue;
        }
        // Read once: `message` runs its body twice (sizing, then writing), and the counters move
        // while other threads sample and free (the table is lock-free); an entry's frames go
        // from unpublished (none) to published once.
        let (c, depth) = (e.counts(), e.frames().len());
        message(s, 2, &|s| {
            packed(s, 1, depth, &|k| location_id(idx, k));
            let values = [
                round(c.alloc_objects),
                round(c.alloc_bytes),
                round(c.live_objects),
                round(c.live_bytes),
            ];
            packed(s, 2, values.len(), &|i| values[i]);
        });
    }
    for (i, m) in snap.maps.iter().enumerate() {
        message(s, 3, &|s| {
            uint(s, 1, i as u64 + 1);
            uint(s, 2, m.start as u64);
            uint(s, 3, m.end as u64);
            uint(s, 4, m.offset as u64);
            uint(s, 5, (STRINGS.len() + i) as u64);
        });
    }
    for (idx, e) in snap.entries.iter().enumerate() {
        if !e.used() {
            continue;
        }
        for (k, &ret) in e.frames().iter().enumerate() {
            let pc = ret.saturating_sub(1);
            message(s, 4, &|s| {
                uint(s, 1, location_id(idx, k));
                uint(s, 2, maps::find(snap.maps, pc).map_or(0, |i| i as u64 + 1));
                uint(s, 3, pc as u64);
            });
        }
    }
    for st in STRINGS {
        bytes(s, 6, st);
    }
    for m in snap.maps {
        bytes(s, 6, snap.name(m));
    }
    uint(s, 9, snap.time_nanos);
    message(s, 11, &|s| {
        uint(s, 1, S_SPACE);
        uint(s, 2, S_BYTES);
    });
    uint(s, 12, snap.period);
    uint(s, 14, S_INUSE_SPACE);
}

/// `v` in decimal, streamed: the writers below hold no `Msg` line on the stack (a dump may run
/// inside an allocation or a signal handler: docs/design.md, "Stack depth").
fn dec(s: &mut dyn Sink, v: u64) {
    let mut b = [0u8; 64];
    s.put(msg::digits(v as usize, 10, &mut b));
}

/// `v` as `0x…`, streamed.
fn hex(s: &mut dyn Sink, v: usize) {
    let mut b = [0u8; 64];
    s.put(b"0x");
    s.put(msg::digits(v, 16, &mut b));
}

/// `file+0xoffset` (the file's base name and the offset of `pc` in the file), or the bare address
/// outside any file mapping.
fn frame_text(s: &mut dyn Sink, snap: &Snapshot, pc: usize) {
    match maps::find(snap.maps, pc) {
        Some(i) => {
            let map = &snap.maps[i];
            let name = snap.name(map);
            let base = name
                .iter()
                .rposition(|&b| b == b'/')
                .map_or(name, |p| &name[p + 1..]);
            s.put(base);
            s.put(b"+");
            hex(s, pc - map.start + map.offset);
        }
        None => hex(s, pc),
    }
}

/// Folded stacks of the bytes in use (`a;b;c 1234` per line, root first), unsymbolized:
/// frames read `file+0xoffset`. `hakmem-prof` writes symbolized ones from the pprof file.
pub fn write_folded(s: &mut dyn Sink, snap: &Snapshot) {
    for e in snap.entries.iter() {
        let v = round(e.counts().live_bytes);
        if v == 0 {
            continue;
        }
        let mut first = true;
        for &ret in e.frames().iter().rev() {
            if !first {
                s.put(b";");
            }
            first = false;
            frame_text(s, snap, ret.saturating_sub(1));
        }
        if first {
            s.put(b"[unknown]");
        }
        s.put(b" ");
        dec(s, v);
        s.put(b"\n");
    }
}

/// Moves the `max` pairs of most bytes to the front of `order`, most first; the others stay
/// behind them in some order. A selection, not a sort: no recursion and no scratch on the stack
/// (the library's sort takes ~1 KiB of both); `max · order.len()` comparisons, for a report
/// written once.
fn select_largest(order: &mut [(u64, u32)], max: usize) {
    for k in 0..max.min(order.len()) {
        let mut best = k;
        for j in k + 1..order.len() {
            if order[j].0 > order[best].0 {
                best = j;
            }
        }
        order.swap(k, best);
    }
}

/// The leak report: stacks with sampled blocks still live, largest first (at most `max`), then
/// a total line. `order` is scratch space for `CAPACITY` (live bytes, index) pairs: the sort
/// key is read once per stack, since other threads may still sample and free while the report
/// is written (a key read again could have changed between comparisons).
pub fn write_leaks(s: &mut dyn Sink, snap: &Snapshot, order: &mut [(u64, u32)], max: usize) {
    let mut n = 0;
    for (i, e) in snap
        .entries
        .iter()
        .enumerate()
        .take(CAPACITY.min(order.len()))
    {
        let c = e.counts();
        if c.live_samples > 0 {
            order[n] = (round(c.live_bytes), i as u32);
            n += 1;
        }
    }
    let order = &mut order[..n];
    select_largest(order, max);
    let (mut bytes_total, mut objects_total) = (0.0, 0.0);
    for e in snap.entries {
        let c = e.counts();
        bytes_total += c.live_bytes;
        objects_total += c.live_objects;
    }
    s.put(b"hakmem: leaks: ");
    dec(s, round(bytes_total));
    s.put(b" bytes in ");
    dec(s, round(objects_total));
    s.put(b" objects still live at exit (estimated from ");
    dec(s, n as u64);
    s.put(b" sampled stacks), largest first:\n");
    for &(_, i) in order.iter().take(max) {
        let e = &snap.entries[i as usize];
        let c = e.counts();
        s.put(b"hakmem: leak: ");
        dec(s, round(c.live_bytes));
        s.put(b" bytes in ");
        dec(s, round(c.live_objects));
        s.put(b" objects (");
        dec(s, c.live_samples);
        s.put(b" samples) allocated at:\n");
        for &ret in e.frames() {
            let pc = ret.saturating_sub(1);
            s.put(b"    ");
            hex(s, pc);
            s.put(b" ");
            frame_text(s, snap, pc);
            s.put(b"\n");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Vec8(std::vec::Vec<u8>);
    impl Sink for Vec8 {
        fn put(&mut self, b: &[u8]) {
            self.0.extend_from_slice(b);
        }
    }

    #[test]
    fn varints_and_nested_lengths() {
        let mut v = Vec8(vec![]);
        varint(&mut v, 300);
        assert_eq!(v.0, [0xac, 0x02]);
        let mut v = Vec8(vec![]);
        message(&mut v, 2, &|s| uint(s, 1, 150));
        // key(2, LEN), length 3, key(1, VARINT), 150 = 0x96 0x01
        assert_eq!(v.0, [0x12, 0x03, 0x08, 0x96, 0x01]);
    }

    #[test]
    fn leak_order_is_largest_first_and_keeps_every_pair() {
        let mut order = [(5, 0), (9, 1), (1, 2), (9, 3), (7, 4), (0, 5)];
        select_largest(&mut order, 3);
        assert_eq!(order[..3], [(9, 1), (9, 3), (7, 4)]);
        let mut rest: std::vec::Vec<_> = order[3..].to_vec();
        rest.sort();
        assert_eq!(rest, [(0, 5), (1, 2), (5, 0)]);
        select_largest(&mut order, 99);
        assert_eq!(order, [(9, 1), (9, 3), (7, 4), (5, 0), (1, 2), (0, 5)]);
    }

    #[test]
    fn numbers_stream_without_a_line_buffer() {
        let mut v = Vec8(vec![]);
        dec(&mut v, 0);
        v.put(b" ");
        dec(&mut v, 18_446_744_073_709_551_615);
        v.put(b" ");
        hex(&mut v, 0xdead_beef);
        assert_eq!(v.0, b"0 18446744073709551615 0xdeadbeef");
    }
}
