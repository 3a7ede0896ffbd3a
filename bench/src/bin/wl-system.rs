//! The workloads with Rust's system allocator (glibc malloc on Linux) as global allocator.
#[global_allocator]
static GLOBAL: std::alloc::System = std::alloc::System;

fn main() {
    hakmem_bench::wl_main("system")
}
