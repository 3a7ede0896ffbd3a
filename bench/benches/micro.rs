//! Micro-benchmarks of allocator fast paths, every allocator in the same run.
//!
//! `cargo bench -p hakmem-bench --features micro --bench micro` (add `-- <filter>` to narrow,
//! e.g. `-- pair/`).
//!
//! Each allocator's `GlobalAlloc` impl is called directly, through generic functions
//! (monomorphised per allocator, no dynamic dispatch); this process's own global allocator
//! stays the system one. The four groups:
//! - `pair/<alloc>/<size>`: one alloc + free, the fast path of each size class;
//! - `batch1000/<alloc>/<size>`: 1,000 allocations, then 1,000 frees in allocation order;
//! - `remote_free/<alloc>`: this thread allocates batches of 1,000 × 64 B and another thread
//!   frees them (pipelined through a channel), the remote-free path;
//! - `realloc_growth/<alloc>`: a block grown from 16 B to 4 KiB in 16-byte steps, then freed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

static HAKMEM: hakmem::HakMem = hakmem::HakMem;
static MIMALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
static JEMALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
static SYSTEM: System = System;

const PAIR_SIZES: [usize; 6] = [16, 64, 256, 1024, 4096, 32 << 10];
const BATCH: usize = 1000;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 8).expect("valid layout")
}

/// Runs `f` once per allocator, each time with that allocator's concrete type.
macro_rules! for_each_alloc {
    ($f:ident, $($arg:expr),*) => {
        $f("hakmem", &HAKMEM, $($arg),*);
        $f("mimalloc", &MIMALLOC, $($arg),*);
        $f("jemalloc", &JEMALLOC, $($arg),*);
        $f("system", &SYSTEM, $($arg),*);
    };
}

fn pair<A: GlobalAlloc>(name: &str, a: &'static A, c: &mut Criterion) {
    let mut g = c.benchmark_group("pair");
    for size in PAIR_SIZES {
        let l = layout(size);
        g.bench_with_input(BenchmarkId::new(name, size), &l, |b, &l| {
            b.iter(|| {
                // SAFETY: l has a nonzero size; the block is freed with the same layout.
                unsafe {
                    let p = a.alloc(l);
                    assert!(!p.is_null());
                    a.dealloc(black_box(p), l);
                }
            })
        });
    }
    g.finish();
}

fn batch<A: GlobalAlloc>(name: &str, a: &'static A, c: &mut Criterion) {
    let mut g = c.benchmark_group("batch1000");
    g.throughput(Throughput::Elements(BATCH as u64));
    for size in [16, 64, 512] {
        let l = layout(size);
        let mut ptrs: Vec<*mut u8> = Vec::with_capacity(BATCH);
        g.bench_with_input(BenchmarkId::new(name, size), &l, |b, &l| {
            b.iter(|| {
                for _ in 0..BATCH {
                    // SAFETY: nonzero size.
                    let p = unsafe { a.alloc(l) };
                    assert!(!p.is_null());
                    ptrs.push(p);
                }
                for p in ptrs.drain(..) {
                    // SAFETY: p came from a.alloc(l) above and is freed once.
                    unsafe { a.dealloc(black_box(p), l) };
                }
            })
        });
    }
    g.finish();
}

/// Messages to the freeing thread: a batch to free, or a request to confirm that everything
/// sent before it has been freed.
enum Msg {
    Free(Vec<usize>),
    Sync(Sender<()>),
}

fn remote_free<A: GlobalAlloc + Sync>(name: &str, a: &'static A, c: &mut Criterion) {
    let mut g = c.benchmark_group("remote_free");
    g.throughput(Throughput::Elements(BATCH as u64));
    let l = layout(64);
    let (to_freer, inbox): (Sender<Msg>, Receiver<Msg>) = channel();
    let (give_back, spare): (Sender<Vec<usize>>, Receiver<Vec<usize>>) = channel();
    let freer = std::thread::spawn(move || {
        for msg in inbox {
            match msg {
                Msg::Free(mut batch) => {
                    for p in batch.drain(..) {
                        // SAFETY: p came from a.alloc(l) on the other thread and is freed once.
                        unsafe { a.dealloc(p as *mut u8, l) };
                    }
                    let _ = give_back.send(batch);
                }
                Msg::Sync(done) => {
                    let _ = done.send(());
                }
            }
        }
    });
    g.bench_function(BenchmarkId::new(name, 64), |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                let mut batch = spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BATCH));
                for _ in 0..BATCH {
                    // SAFETY: nonzero size.
                    let p = unsafe { a.alloc(l) };
                    assert!(!p.is_null());
                    batch.push(p as usize);
                }
                to_freer
                    .send(Msg::Free(batch))
                    .expect("freeing thread alive");
            }
            let (done, wait) = channel();
            to_freer
                .send(Msg::Sync(done))
                .expect("freeing thread alive");
            wait.recv().expect("freeing thread alive");
            start.elapsed()
        })
    });
    g.finish();
    drop(to_freer);
    freer.join().expect("freeing thread");
}

fn realloc_growth<A: GlobalAlloc>(name: &str, a: &'static A, c: &mut Criterion) {
    let mut g = c.benchmark_group("realloc_growth");
    g.bench_function(BenchmarkId::new(name, "16B..4KiB"), |b| {
        b.iter(|| {
            let mut size = 16;
            // SAFETY: nonzero size; every realloc passes the current layout; freed once.
            unsafe {
                let mut p = a.alloc(layout(size));
                assert!(!p.is_null());
                p.write(1);
                while size < 4096 {
                    p = a.realloc(p, layout(size), size + 16);
                    assert!(!p.is_null());
                    size += 16;
                    p.add(size - 1).write(2);
                }
                a.dealloc(black_box(p), layout(size));
            }
        })
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    for_each_alloc!(pair, c);
    for_each_alloc!(batch, c);
    for_each_alloc!(remote_free, c);
    for_each_alloc!(realloc_growth, c);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = all
}
criterion_main!(benches);
