//! The workloads with mimalloc (the `mimalloc` crate) as global allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    hakmem_bench::wl_main("mimalloc")
}
