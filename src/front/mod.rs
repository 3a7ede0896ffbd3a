//! The thread front end: TLS lists, magazines, hint cache, thread heaps, and the alloc/free paths
//! built on them.

pub mod alloc;
pub mod free;
pub mod heap;
pub mod hint;
pub mod magazine;
pub mod mark;
pub mod medium;
pub mod owned;
pub mod profiling;
pub mod thread;
pub mod tls_sll;
