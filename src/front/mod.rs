//! The thread front end: TLS lists, refill and spill, hint cache, thread heaps, and the alloc/free paths
//! built on them.

pub mod alloc;
pub mod foreign;
pub mod free;
pub mod heap;
pub mod hint;
pub mod mark;
pub mod medium;
pub mod owned;
pub mod profiling;
pub mod remote_batch;
pub mod small;
pub mod thread;
pub mod tls_limit;
pub mod tls_sll;
