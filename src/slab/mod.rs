//! The SuperSlab/slab layout: blocks, slabs and the SuperSlab header, plus the per-block header of
//! header mode.

pub mod block;
pub mod header;
#[allow(clippy::module_inception)] // slab/slab.rs: the slab metadata, as in the layout of STYLE.md
pub mod slab;
pub mod superslab;
