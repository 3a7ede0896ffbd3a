//! malloc-large-like (after mimalloc-bench's malloc-large): keeps 20 live blocks of 5–25 MiB
//! and repeatedly replaces a random one. It measures how the allocator gets large blocks from
//! the OS and gives them back (mmap/munmap, caching, huge pages) and how much memory it keeps.
//! Each block is stamped at its head and tail and touched once per MiB.

use super::block::Block;
use super::rng::Rng;
use super::{tag, Outcome, Params};

const WHAT: &str = "malloc-large";
const LIVE: usize = 20;
const MIN: usize = 5 << 20;
const MAX: usize = 25 << 20;
const REPLACES: usize = 6_000;
const TOUCH_STRIDE: usize = 1 << 20;

fn touch(b: &mut Block) {
    let tag = b.tag() as u8;
    let p = b.as_mut_ptr();
    for off in (TOUCH_STRIDE..b.size() - 64).step_by(TOUCH_STRIDE) {
        // SAFETY: off < size, inside the live block.
        unsafe { p.add(off).write(tag ^ (off >> 20) as u8) };
    }
}

fn check_touched(b: &Block) -> Result<(), String> {
    b.check(WHAT)?;
    let tag = b.tag() as u8;
    let p = b.as_ptr();
    for off in (TOUCH_STRIDE..b.size() - 64).step_by(TOUCH_STRIDE) {
        // SAFETY: off < size, inside the live block, written by `touch`.
        if unsafe { p.add(off).read() } != tag ^ (off >> 20) as u8 {
            return Err(format!(
                "{WHAT}: block {:#x} corrupted at offset {off}",
                b.addr()
            ));
        }
    }
    Ok(())
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let mut rng = Rng::new(p.seed, 0x1A);
    let mut out = Outcome::default();
    let mut live: Vec<Option<Block>> = (0..LIVE).map(|_| None).collect();
    for i in 0..p.n(REPLACES) {
        let slot = rng.below(LIVE);
        if let Some(old) = live[slot].take() {
            check_touched(&old)?;
        }
        let size = rng.range(MIN, MAX);
        let mut b = Block::new(size, tag(0, i as u64, size));
        touch(&mut b);
        if p.inject_fault && i == 0 {
            b.corrupt();
        }
        live[slot] = Some(b);
        out.ops += 1;
        out.checksum = out.checksum.wrapping_add(size as u64);
    }
    for b in live.into_iter().flatten() {
        check_touched(&b)?;
    }
    Ok(out)
}
