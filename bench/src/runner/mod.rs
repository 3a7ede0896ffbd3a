//! The runner's parts, in the order a session uses them: arguments, builds, the C suite's
//! allocators, running and measuring one process, metadata, results and the chart.

pub mod builder;
pub mod c_suite;
pub mod chart;
pub mod cli;
pub mod measure;
pub mod meta;
pub mod report;
