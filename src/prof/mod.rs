//! Profile box: a sampled heap profiler built into the allocator (`profile` feature).
//!
//! - **Sampling** (`sampler`): each thread counts requested bytes down from an exponential draw
//!   (mean `HAKMEM_PROF_SAMPLE`, default 512 KiB); the request that crosses zero is sampled.
//! - **Capture** (`stack`): the sampled request's call stack, by walking frame pointers.
//! - **Storage** (`arena`, `table`): a sampled request of at most `SLOT_SIZE` bytes gets a slot
//!   in a registered arena of its own; a medium one is a block of the medium tier marked in its
//!   span, its `Record` in the span's header page (or the block's last `RECORD_BYTES`:
//!   front::medium, `record_slot`); a bigger one is a
//!   large block whose header carries `SAMPLED_LARGE_MAGIC` and whose `Record` follows the
//!   header (`large_record`; the large box maps, caches and frees it like any large block).
//!   `free` recognises each on the registry path (never on the hinted fast path). Its stack is interned in
//!   a fixed, lock-free table whose counters hold weighted allocated and freed objects and bytes
//!   (`table`: a medium or large sample and its free take no lock).
//! - **Output** (`pprof`, `maps`): pprof protobuf, folded stacks and the leak report.
//!
//! Off by default; `HAKMEM_PROF=1` or `hakmem::profile::start()` turns it on. How the front end
//! counts small requests (per class, on its TLS lists), and what that costs when off, is in
//! src/front/profiling.rs.
//!
//! Boundary: uses `os`, `registry`, `debug`, `valgrind`; the front end calls `is_on`,
//! `alloc_sampled` (slots), `process_init` (before the first heap) and `register_exit` (after
//! it); the medium tier and the large box call `begin_sample`/`cancel_sample`/`end_sample`
//! around the blocks they mark or tag, and the large box forwards registry hits carrying
//! `SAMPLED_MAGIC` to `free_sampled`/`usable_size`. One lock
//! (`STATE`) guards dumps and the table's reset after a fork (and the arenas' slots with
//! `config::PROF_LOCKFREE_SLOTS` off): a leaf lock, never held while another box's lock is taken.
//! Samples and their frees take no lock: a small one claims and releases its arena slot in the
//! arena's used-slot word (`slots`), every one counts in the lock-free table.
//! Nothing here allocates through the global allocator, panics or formats.

mod arena;
mod maps;
mod pprof;
mod sampler;
pub mod slots;
mod stack;
mod table;

use core::mem::MaybeUninit;
use core::ptr::NonNull;

pub use arena::{Record, RECORD_BYTES, SAMPLED_MAGIC, SLOT_SIZE};
pub use sampler::{Sampler, DEFAULT_MEAN};
pub use stack::MAX_FRAMES;
pub use table::{claim_shard, LastStack, Shard};

use crate::config::{
    MIN_ALIGN, PAGE_SIZE, PROFILE, PROF_FLAT_SAMPLE, PROF_LEAN_SAMPLE, PROF_LOCKFREE_SLOTS,
};
use crate::lock::{ForkReset, Rank, SpinLock};
use crate::msg::Msg;
use crate::os;
use crate::registry::{self, RegionHead};
use crate::sync::plain::{AtomicBool, AtomicI32, AtomicU32, AtomicU8, Ordering};

/// Whether sampling is on. The front end's routing follows it (src/front/profiling.rs).
static ON: AtomicBool = AtomicBool::new(false);

/// Whether sampling is on (slow and general paths only).
#[inline]
pub fn is_on() -> bool {
    // ORDERING: SeqCst — stronger than needed (a plain load on x86): the switch publishes no
    // data, and each heap reads it on its own thread's slow paths (front::profiling::sync), so
    // any recent value is correct; kept SeqCst so `start`/`stop` are ordered with every later
    // read of the calling thread and of threads that synchronised with it.
    PROFILE && ON.load(Ordering::SeqCst)
}

/// Sets the switch (each heap follows it on its thread's next slow path, front::profiling).
pub fn set_on(on: bool) {
    // ORDERING: SeqCst — see `is_on`.
    ON.store(PROFILE && on, Ordering::SeqCst);
}

/// Sets the mean number of bytes between samples (`HAKMEM_PROF_SAMPLE`); 1 samples every request.
pub fn set_sample_interval(bytes: u64) {
    sampler::set_mean(bytes);
}

/// The mean number of bytes between samples.
pub fn sample_interval() -> u64 {
    sampler::mean()
}

/// Why a dump failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpError {
    /// Built without the `profile` feature.
    CompiledOut,
    /// The path is longer than 4095 bytes or contains a NUL.
    BadPath,
    /// Scratch memory could not be mapped.
    NoMemory,
    /// The file could not be created or written.
    Io,
}

/// Output formats.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Pprof,
    Folded,
    Leaks,
}

/// Writes the profile to `path` as pprof protobuf (gzip is optional for pprof readers).
pub fn dump(path: &str) -> Result<(), DumpError> {
    dump_as(path.as_bytes(), Format::Pprof)
}

/// Writes the bytes in use per stack to `path` as folded stacks (frames as `file+0xoffset`).
pub fn dump_folded(path: &str) -> Result<(), DumpError> {
    dump_as(path.as_bytes(), Format::Folded)
}

/// Totals over every sampled stack, weighted (estimates of the whole program's numbers).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Totals {
    /// Sampled blocks handed out / still live (raw sample counts).
    pub samples: u64,
    pub live_samples: u64,
    pub alloc_objects: f64,
    pub alloc_bytes: f64,
    pub live_objects: f64,
    pub live_bytes: f64,
}

/// The weighted totals of the profile so far.
pub fn totals() -> Totals {
    // Under the lock: a forked child whose lock was held at the fork takes it over here and
    // starts its fresh profile before reading it.
    STATE.with(|_| {
        let mut t = Totals::default();
        for e in TABLE.get().map_or(&[][..], |e| &e[..]) {
            let c = e.counts();
            t.samples += c.alloc_samples;
            t.live_samples += c.live_samples;
            t.alloc_objects += c.alloc_objects;
            t.alloc_bytes += c.alloc_bytes;
            t.live_objects += c.live_objects;
            t.live_bytes += c.live_bytes;
        }
        t
    })
}

/// The requested size of `ptr` if it is a live sampled arena or large block of this allocator,
/// else `None` (a medium block carries its record in its own tail: front::profiling asks the
/// medium tier for it first). `ptr` must not be freed meanwhile (a large block's mapping could
/// go away).
pub fn sampled_size(ptr: *const u8) -> Option<usize> {
    let head = NonNull::new(registry::lookup(ptr as usize))?;
    // SAFETY: registered regions start with a magic and are mapped while registered.
    match unsafe { head.as_ref().magic } {
        SAMPLED_MAGIC => slots_locked(|| {
            // SAFETY: a registered arena holding `ptr` (arenas are never unmapped), live per the
            // contract.
            unsafe { arena::peek(head, ptr as *mut u8) }.map(|r| r.size)
        }),
        SAMPLED_LARGE_MAGIC if head.as_ptr() as usize + PAGE_SIZE == ptr as usize => {
            // SAFETY: a tagged large block's header, live per the contract.
            Some(unsafe { large_record(head.as_ptr().cast()).read() }.size)
        }
        _ => None,
    }
}

// ---- sampled large blocks ----------------------------------------------------------------------

/// The header magic of a large block that carries a sample (the large box writes it instead of
/// its own; the registry path sends such blocks back to the large box, which frees them like any
/// other after `end_sample`).
pub const SAMPLED_LARGE_MAGIC: u64 = 0x4841_4b4d_4c53_4d50; // "HAKMLSMP"

/// Where a tagged large block's record lives: this many bytes after its header, inside the page
/// before the user pointer that the large box reserves for its header (large.rs asserts its
/// header fits before it).
pub const LARGE_RECORD_OFFSET: usize = 64;
const _: () = assert!(LARGE_RECORD_OFFSET + core::mem::size_of::<Record>() <= PAGE_SIZE);

/// The record slot of the tagged large block whose header is at `header` (64-aligned).
#[inline]
pub fn large_record(header: *mut u8) -> *mut Record {
    header.wrapping_add(LARGE_RECORD_OFFSET).cast()
}

// ---- state ------------------------------------------------------------------------------------

/// Scratch memory for dumps: the maps text, the parsed mappings, the output buffer, the leak
/// report's sort order.
const MAPS_TEXT: usize = 256 << 10;
const MAX_MAPPINGS: usize = 1024;
const OUT_BUF: usize = 64 << 10;
const PATH_MAX: usize = 4096;

struct Scratch {
    maps_text: [u8; MAPS_TEXT],
    maps: [maps::Mapping; MAX_MAPPINGS],
    out: [u8; OUT_BUF],
    order: [(u64, u32); table::CAPACITY],
    path: [u8; PATH_MAX],
}

struct State {
    scratch: *mut Scratch,
    /// `HAKMEM_PROF_DUMP`, NUL-terminated (empty: none).
    dump_path: [u8; PATH_MAX],
    /// The process that read the environment (a forked child does not write its parent's file
    /// at exit unless the path has `%p`).
    init_pid: u32,
}

/// The stack table (lock-free: `table`).
static TABLE: table::Table = table::Table::new();

/// The table's generation, bumped when a forked child resets it; a record of another generation
/// names a stack of a forgotten table, so freeing its block counts nothing.
static EPOCH: AtomicU32 = AtomicU32::new(0);

/// The table's current generation.
#[inline(always)]
fn epoch() -> u32 {
    // ORDERING: Relaxed — changed only by a forked child's only thread (`reset_after_fork`), so
    // every reader is that thread or ordered after the change by its own program order.
    EPOCH.load(Ordering::Relaxed)
}

// SAFETY: the raw pointers are only used under the lock.
unsafe impl Send for State {}

/// Fork: a holder that did not survive the fork was sampling, unsampling or dumping, so any
/// table entry may be half written (a stack without its frames, counts of a sample half added).
/// The child starts a new profile: the table is cleared and its generation bumped (blocks
/// sampled before the fork are still freed normally, but count nothing: their records — in
/// arena slots, large blocks' headers and medium blocks' tails — name the old generation).
/// Arenas, the dump path and the scratch memory are kept (a slot's bit and its record are each
/// written once, so a torn slot is at worst a slot never freed; the others are written once at
/// start-up, or rewritten by each dump).
///
/// Samples count themselves without the lock (`table`; small ones too since session 16,
/// `config::PROF_LOCKFREE_SLOTS`): a thread that was in the middle of that at the fork leaves at
/// most its one sample's counters torn in the child (a stack whose live samples and bytes
/// disagree by that one sample); the lock is not held then, so the table is kept.
impl ForkReset for State {
    fn reset_after_fork(&mut self) {
        TABLE.clear();
        // ORDERING: Relaxed — see `epoch`.
        EPOCH.store(epoch().wrapping_add(1), Ordering::Relaxed);
    }
}

static STATE: SpinLock<State> = SpinLock::new(
    Rank::ProfTables,
    State {
        scratch: core::ptr::null_mut(),
        dump_path: [0; PATH_MAX],
        init_pid: 0,
    },
);

/// Runs `f`, an arena slot's claim or release and its counting, under the profile lock only with
/// `config::PROF_LOCKFREE_SLOTS` off (both are lock-free: `arena`, `table`).
#[inline(always)]
fn slots_locked<R>(f: impl FnOnce() -> R) -> R {
    if PROF_LOCKFREE_SLOTS {
        f()
    } else {
        STATE.with(|_| f())
    }
}

/// A signal asked for a dump while the lock was held; the next holder writes it.
static DUMP_PENDING: AtomicU8 = AtomicU8::new(0);

// ---- the hooks --------------------------------------------------------------------------------

/// The table, mapped if needed (`None`: the OS refuses).
#[inline(always)]
fn table() -> Option<&'static table::Entries> {
    match TABLE.get() {
        Some(e) => Some(e),
        None => TABLE.map(),
    }
}

/// A sample in an arena slot: captures the calling stack, then (under the lock only with
/// `config::PROF_LOCKFREE_SLOTS` off) interns it (through the thread's `last` stack), hands its record to `keep` (which places the
/// block; `None`: it could not, and nothing is counted) and counts it. The request of `size`
/// bytes was sampled as if it were `sampled_as` bytes (its weight; see `alloc_sampled_as`).
/// `None` also when the table cannot be mapped. Out of line: its caller writes a pending dump
/// (`after_unlock`) after this frame, with its 512-byte capture buffer, is gone (docs/design.md,
/// "Stack depth").
#[inline(never)]
fn sample_with<T>(
    size: usize,
    sampled_as: usize,
    last: &mut LastStack,
    shard: Shard,
    keep: impl FnOnce(Record) -> Option<T>,
) -> Option<T> {
    let mut buf = [MaybeUninit::uninit(); MAX_FRAMES];
    let frames = stack::capture(&mut buf);
    // One of the two, by `config::PROF_LEAN_SAMPLE` (the other is 0 and not read).
    let (weight, fixed) = if PROF_LEAN_SAMPLE {
        (0.0, sampler::weight_fixed_now(sampled_as))
    } else {
        (sampler::weight_now(sampled_as), 0)
    };
    slots_locked(|| {
        // Lock-free, as a medium sample (`record_into`); with `PROF_LOCKFREE_SLOTS` off, under
        // the lock (a fork's reset bumps the generation under it).
        let entries = table()?;
        let ep = epoch();
        let stack = TABLE.intern_cached(entries, frames, last, ep);
        let rec = if PROF_LEAN_SAMPLE {
            Record::from_fixed(stack, ep, size, fixed)
        } else {
            Record::new(stack, ep, size, weight)
        };
        let kept = keep(rec)?;
        table::Table::add(entries, &rec, shard);
        Some(kept)
    })
}

/// Serves a sampled request of at most `SLOT_SIZE` bytes and alignment from an arena slot:
/// captures the stack, places the block and counts it; `zero`: the block reads as zeros. Null if
/// memory cannot be had (the caller then serves the request normally). `last`: the calling
/// thread's last sampled stack (`Sampler::last_stack`).
#[cold]
#[inline(never)]
pub fn alloc_sampled(
    size: usize,
    align: usize,
    zero: bool,
    last: &mut LastStack,
    shard: Shard,
) -> *mut u8 {
    alloc_sampled_as(size, align, zero, size, last, shard)
}

/// `alloc_sampled` for a request that was sampled as if it were `sampled_as` bytes (its
/// probability was `1 - exp(-sampled_as / mean)`, so it stands for `weight(sampled_as)`
/// requests): the front end samples small requests per class, at the class's block size.
#[inline(never)]
pub fn alloc_sampled_as(
    size: usize,
    align: usize,
    zero: bool,
    sampled_as: usize,
    last: &mut LastStack,
    shard: Shard,
) -> *mut u8 {
    debug_assert!(size <= SLOT_SIZE && align <= SLOT_SIZE);
    let p = sample_with(size, sampled_as, last, shard, |rec| arena::alloc(rec, zero))
        .map_or(core::ptr::null_mut(), NonNull::as_ptr);
    after_unlock();
    p
}

/// Starts the sample of a request of `size` bytes that the medium tier or the large box serves
/// (a block bigger than a slot): captures the stack and counts it, without the lock (`table`).
/// The caller keeps the record with the block (`large_record`, a medium block's tail) and calls
/// `end_sample` when it is freed, or `cancel_sample` if no block could be had. `None`: the table
/// cannot be mapped (serve the request unsampled). `last`: the calling thread's last sampled
/// stack (`Sampler::last_stack`).
#[cold]
#[inline(never)]
pub fn begin_sample(size: usize, last: &mut LastStack, shard: Shard) -> Option<Record> {
    let mut rec = MaybeUninit::uninit();
    begin_sample_into(size, &mut rec, last, shard).then(|| {
        // SAFETY: `begin_sample_into` wrote it.
        unsafe { rec.assume_init() }
    })
}

/// `begin_sample` that writes the record straight where the block keeps it (a medium block's
/// tail): no copies of it on the way, counted on `shard` (the calling thread's heap's). False
/// (nothing written): serve the request unsampled. In line in its callers
/// (`config::PROF_FLAT_SAMPLE`: a call less a sample; `record_into` keeps its own frame).
#[cfg_attr(not(hakmem_no_prof_flat_sample), inline(always))]
#[cfg_attr(hakmem_no_prof_flat_sample, inline(never))]
pub fn begin_sample_into(
    size: usize,
    out: &mut MaybeUninit<Record>,
    last: &mut LastStack,
    shard: Shard,
) -> bool {
    let kept = record_into(size, out, last, shard);
    // After `record_into`'s frame, with its 512-byte capture buffer, is gone (docs/design.md,
    // "Stack depth").
    after_unlock();
    kept
}

/// The sample of `begin_sample_into`: captures, interns and counts.
#[inline(never)]
fn record_into(
    size: usize,
    out: &mut MaybeUninit<Record>,
    last: &mut LastStack,
    shard: Shard,
) -> bool {
    record_with(
        &mut [MaybeUninit::uninit(); MAX_FRAMES],
        size,
        out,
        last,
        shard,
    )
}

/// `begin_sample_into` for a sampled medium request (`front::alloc::alloc_medium_sampled`): with
/// `config::PROF_FLAT_SAMPLE` the sample is taken in line, its stack captured into `buf` (the
/// heap's `prof_frames`, not the stack: the caller's frame stays small), one call and one
/// prologue less a sample.
#[inline(always)]
pub fn begin_medium_sample_into(
    size: usize,
    out: &mut MaybeUninit<Record>,
    last: &mut LastStack,
    buf: &mut [MaybeUninit<usize>; MAX_FRAMES],
    shard: Shard,
) -> bool {
    if !PROF_FLAT_SAMPLE {
        return begin_sample_into(size, out, last, shard);
    }
    let kept = record_with(buf, size, out, last, shard);
    after_unlock();
    kept
}

/// `record_into` capturing into `buf`.
#[inline(always)]
fn record_with(
    buf: &mut [MaybeUninit<usize>; MAX_FRAMES],
    size: usize,
    out: &mut MaybeUninit<Record>,
    last: &mut LastStack,
    shard: Shard,
) -> bool {
    let frames = stack::capture(buf);
    let Some(entries) = table() else {
        return false;
    };
    let ep = epoch();
    let stack = TABLE.intern_cached(entries, frames, last, ep);
    let rec = out.write(if PROF_LEAN_SAMPLE {
        Record::from_fixed(stack, ep, size, sampler::weight_fixed_now(size))
    } else {
        Record::new(stack, ep, size, sampler::weight_now(size))
    });
    table::Table::add(entries, rec, shard);
    true
}

/// The table `rec` counted itself in, if it still is the current one (a record of an older
/// generation — sampled before a forked child's reset — counts nothing).
#[inline(always)]
fn table_of(rec: &Record) -> Option<&'static table::Entries> {
    if rec.epoch == epoch() {
        TABLE.get()
    } else {
        None
    }
}

/// The block of `rec` (from `begin_sample`) was freed: its bytes are no longer live, counted on
/// `shard` (the freeing thread's heap's). No lock.
pub fn end_sample(rec: &Record, shard: Shard) {
    if let Some(entries) = table_of(rec) {
        table::Table::remove(entries, rec, shard);
    }
    after_unlock();
}

/// No block could be had for `rec` (from `begin_sample` on `shard`, by this thread): it counts as
/// never sampled. No lock.
pub fn cancel_sample(rec: &Record, shard: Shard) {
    if let Some(entries) = table_of(rec) {
        table::Table::cancel(entries, rec, shard);
    }
    after_unlock();
}

/// Frees a sampled arena block (the registry found `SAMPLED_MAGIC` at `head`), counted on
/// `shard` (the freeing thread's heap's).
///
/// # Safety
/// `head` is the registry's answer for `ptr` and carries `SAMPLED_MAGIC`.
pub unsafe fn free_sampled(head: NonNull<RegionHead>, ptr: *mut u8, shard: Shard) {
    slots_locked(|| {
        // SAFETY: per the contract.
        let rec = unsafe { arena::free(head, ptr) };
        if let Some(entries) = table_of(&rec) {
            table::Table::remove(entries, &rec, shard);
        }
    });
    after_unlock();
}

/// Usable bytes of a sampled block of `size` requested bytes: the request rounded up to
/// `MIN_ALIGN`, so a `realloc` that grows it moves it (or, a medium block within its class,
/// redraws its sample in place: `front::medium::resample_in_place`) and its new size is counted.
pub fn usable_of(size: usize) -> usize {
    size.next_multiple_of(MIN_ALIGN)
}

/// Usable bytes of a sampled arena block.
///
/// # Safety
/// As for `free_sampled`; the block is live.
pub unsafe fn usable_size(head: NonNull<RegionHead>, ptr: *mut u8) -> usize {
    // SAFETY: per the contract.
    slots_locked(|| usable_of(unsafe { arena::record(head, ptr) }.size))
}

/// Writes a dump a signal asked for while the lock was held (after each sample and free: the
/// lock-free ones too, so a program that only makes those still gets it).
#[inline(always)]
fn after_unlock() {
    // ORDERING: Relaxed — a request flag; the dump takes the lock, which orders the data.
    if DUMP_PENDING.load(Ordering::Relaxed) != 0 {
        dump_pending();
    }
}

/// Out of line: the callers keep no registers for it.
#[cold]
#[inline(never)]
fn dump_pending() {
    // ORDERING: Relaxed — see `after_unlock`.
    if DUMP_PENDING.swap(0, Ordering::Relaxed) != 0 {
        STATE.with(dump_to_env_path);
    }
}

// ---- dumping ----------------------------------------------------------------------------------

fn dump_as(path: &[u8], format: Format) -> Result<(), DumpError> {
    if !PROFILE {
        return Err(DumpError::CompiledOut);
    }
    if path.len() >= PATH_MAX || path.contains(&0) {
        return Err(DumpError::BadPath);
    }
    STATE.with(|st| {
        let scratch = scratch(st).ok_or(DumpError::NoMemory)?;
        scratch.path[..path.len()].copy_from_slice(path);
        scratch.path[path.len()] = 0;
        write(st, format)
    })
}

fn scratch(st: &mut State) -> Option<&'static mut Scratch> {
    if st.scratch.is_null() {
        let bytes = core::mem::size_of::<Scratch>().next_multiple_of(crate::config::PAGE_SIZE);
        st.scratch = os::reserve_aligned(bytes, crate::config::PAGE_SIZE)?
            .as_ptr()
            .cast();
    }
    // SAFETY: zeroed, mapped once and never unmapped; only used under the lock the caller holds
    // (every field is plain bytes or integers, for which zero is valid).
    Some(unsafe { &mut *st.scratch })
}

/// Writes `format` to the NUL-terminated path in the scratch's `path` ("-" or empty: stderr).
fn write(st: &mut State, format: Format) -> Result<(), DumpError> {
    let entries = table().ok_or(DumpError::NoMemory)?;
    let sc = scratch(st).ok_or(DumpError::NoMemory)?;
    let len = os::read_file(c"/proc/self/maps", &mut sc.maps_text);
    let n = maps::parse(&sc.maps_text[..len], &mut sc.maps);
    let snap = pprof::Snapshot {
        entries: &entries[..],
        maps: &sc.maps[..n],
        maps_text: &sc.maps_text[..len],
        period: sampler::mean(),
        time_nanos: os::now_nanos(),
    };
    let plen = sc.path.iter().position(|&b| b == 0).unwrap_or(0);
    let to_stderr = plen == 0 || &sc.path[..plen] == b"-";
    let fd = if to_stderr {
        err_fd()
    } else {
        let path =
            core::ffi::CStr::from_bytes_until_nul(&sc.path).map_err(|_| DumpError::BadPath)?;
        os::create_file(path).ok_or(DumpError::Io)?
    };
    let mut sink = pprof::FdSink::new(fd, &mut sc.out);
    match format {
        Format::Pprof => pprof::write_pprof(&mut sink, &snap),
        Format::Folded => pprof::write_folded(&mut sink, &snap),
        Format::Leaks => pprof::write_leaks(&mut sink, &snap, &mut sc.order, 20),
    }
    let ok = sink.flush();
    let closed = to_stderr || os::close(fd);
    if ok && closed {
        Ok(())
    } else {
        Err(DumpError::Io)
    }
}

/// Dumps to `HAKMEM_PROF_DUMP` (with `%p` replaced by the pid); lock held. Reads the path in
/// place and expands it into the scratch: no copy of it on the stack (this runs in the
/// allocation that finds a signal's dump pending, within its 2 KiB: docs/design.md, "Stack
/// depth").
fn dump_to_env_path(st: &mut State) {
    let Some(sc) = scratch(st) else { return };
    let len = st.dump_path.iter().position(|&b| b == 0).unwrap_or(0);
    let src = &st.dump_path[..len];
    if src.is_empty() {
        return;
    }
    let mut n = 0;
    let mut i = 0;
    while i < src.len() && n + 12 < PATH_MAX {
        if src[i] == b'%' && src.get(i + 1) == Some(&b'p') {
            let mut digits = [0u8; 64];
            for &b in crate::msg::digits(os::getpid() as usize, 10, &mut digits) {
                sc.path[n] = b;
                n += 1;
            }
            i += 2;
        } else {
            sc.path[n] = src[i];
            n += 1;
            i += 1;
        }
    }
    sc.path[n] = 0;
    let format = if src.ends_with(b".folded") {
        Format::Folded
    } else {
        Format::Pprof
    };
    if write(st, format).is_err() {
        dump_failed(&st.dump_path[..len]);
    }
}

/// The message of a dump that could not be written (out of line: its line buffer is not on the
/// stack while the dump is written).
#[cold]
#[inline(never)]
fn dump_failed(path: &[u8]) {
    let mut m = Msg::new();
    m.str("hakmem: profile: could not write HAKMEM_PROF_DUMP=")
        .str(core::str::from_utf8(path).unwrap_or("?"));
    m.emit_to(err_fd());
}

// ---- environment, exit and signal -------------------------------------------------------------

fn getenv(name: &core::ffi::CStr) -> Option<&'static [u8]> {
    // SAFETY: getenv with a NUL-terminated name; read once at start-up.
    let v = unsafe { libc::getenv(name.as_ptr()) };
    if v.is_null() {
        return None;
    }
    // SAFETY: getenv returns a NUL-terminated string that lives as long as the environment.
    Some(unsafe { core::ffi::CStr::from_ptr(v) }.to_bytes())
}

fn number(v: &[u8]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut n = 0u64;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add((b - b'0') as u64)?;
    }
    Some(n)
}

static AT_EXIT_LEAKS: AtomicU8 = AtomicU8::new(0);

/// Reads `HAKMEM_PROF*` once, before the first heap is created (it profiles that heap; nothing
/// here allocates). The exit handler is registered later, by `register_exit`.
pub fn process_init() {
    let on = getenv(c"HAKMEM_PROF") == Some(b"1");
    let dump = getenv(c"HAKMEM_PROF_DUMP").filter(|p| !p.is_empty());
    let leaks = getenv(c"HAKMEM_PROF_LEAKS") == Some(b"1");
    if !PROFILE {
        if on || dump.is_some() || leaks {
            warn(
                "hakmem: env: HAKMEM_PROF* ignored: built without the `profile` feature",
                None,
            );
        }
        return;
    }
    if let Some(n) = getenv(c"HAKMEM_PROF_SAMPLE").and_then(number) {
        set_sample_interval(n);
    }
    if on {
        // The first heap is created right after this and profiled then.
        set_on(true);
    }
    if let Some(p) = dump {
        if p.len() < PATH_MAX {
            STATE.with(|st| {
                st.dump_path[..p.len()].copy_from_slice(p);
                st.init_pid = os::getpid();
            });
        }
        if let Some(sig) = getenv(c"HAKMEM_PROF_SIGNAL").and_then(number) {
            if !os::install_signal(sig as i32, on_signal) {
                warn(
                    "hakmem: profile: cannot install HAKMEM_PROF_SIGNAL=",
                    Some(sig as usize),
                );
            }
        }
    }
    if leaks {
        // ORDERING: Relaxed — read by the exit handler of this process.
        AT_EXIT_LEAKS.store(1, Ordering::Relaxed);
    }
    if dump.is_some() || leaks {
        // ORDERING: Relaxed — read by `register_exit` on the same thread.
        AT_EXIT_WANTED.store(1, Ordering::Relaxed);
    }
}

/// Whether `process_init` found work for the exit (`HAKMEM_PROF_DUMP`, `HAKMEM_PROF_LEAKS`).
static AT_EXIT_WANTED: AtomicU8 = AtomicU8::new(0);

/// A private copy of stderr for the leak report and dumps to "-" (a program may close or
/// redirect fd 2 before its exit handlers run; ours, registered at the first allocation, runs
/// last). 2 until `register_exit` duplicates it, or if it cannot.
static ERR_FD: AtomicI32 = AtomicI32::new(2);

fn err_fd() -> i32 {
    // ORDERING: Relaxed — written once by the first heap's thread, before the exit handler that
    // reads it is registered (`atexit` and `exit` order the rest).
    ERR_FD.load(Ordering::Relaxed)
}

/// Once per process, after the first heap is in place (called with the other exit
/// registrations, front::thread): the exit handler and its copy of stderr. Never before the
/// heap: `atexit` may allocate, and that allocation must find the thread's heap (issue 12.5).
pub fn register_exit() {
    // ORDERING: Relaxed — see `AT_EXIT_WANTED`.
    if !PROFILE || AT_EXIT_WANTED.load(Ordering::Relaxed) == 0 {
        return;
    }
    if let Some(fd) = os::dup_stderr() {
        // ORDERING: Relaxed — see `err_fd`.
        ERR_FD.store(fd, Ordering::Relaxed);
    }
    crate::hook::at(crate::hook::Point::ProcessInit);
    if !os::at_exit(at_exit) {
        warn(
            "hakmem: profile: atexit refused: no exit dump or leak report",
            None,
        );
    }
}

/// Writes `what` (and `n`) to stderr; out of line, so that its 512-byte line is not in the frames
/// of the process's first allocation (docs/design.md, "Stack depth").
#[cold]
#[inline(never)]
fn warn(what: &str, n: Option<usize>) {
    let mut m = Msg::new();
    m.str(what);
    if let Some(n) = n {
        m.dec(n);
    }
    m.emit();
}

extern "C" fn at_exit() {
    STATE.with(|st| {
        let has_pid = st.dump_path.windows(2).any(|w| w == b"%p");
        if st.dump_path[0] != 0 && (st.init_pid == os::getpid() || has_pid) {
            dump_to_env_path(st);
        }
        // ORDERING: Relaxed — see `process_init`.
        if AT_EXIT_LEAKS.load(Ordering::Relaxed) != 0 {
            if let Some(sc) = scratch(st) {
                sc.path[0] = 0;
                let _ = write(st, Format::Leaks);
            }
        }
    });
}

extern "C" fn on_signal(_sig: i32) {
    // SAFETY: errno of the interrupted thread, restored below (the dump's syscalls change it).
    let errno = unsafe { *libc::__errno_location() };
    if STATE.try_with(dump_to_env_path).is_none() {
        // The interrupted code may hold the lock: the next holder writes the dump.
        // ORDERING: Relaxed — see `after_unlock`.
        DUMP_PENDING.store(1, Ordering::Relaxed);
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}
