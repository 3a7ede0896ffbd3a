//! The workloads with snmalloc (the `snmalloc-rs` crate, built with `cc`) as global allocator.
#[global_allocator]
static GLOBAL: snmalloc_rs::SnMalloc = snmalloc_rs::SnMalloc;

fn main() {
    hakmem_bench::wl_main("snmalloc")
}
