//! realloc-growth: 64 buffers grow side by side by `realloc` in small steps (1–64 bytes, as a
//! string or log buffer grows in C), each up to its own target of 4–256 KiB; a buffer that
//! reaches its target is checked byte for byte and freed, and a new one starts. Interleaving
//! the buffers means a block can grow in place only if the allocator leaves room for it.

use super::block::Block;
use super::rng::Rng;
use super::{Outcome, Params};

const WHAT: &str = "realloc-growth";
const BUFFERS: usize = 64;
const STEPS: usize = 400_000;

fn pattern(id: u64, off: usize) -> u8 {
    (id as u8).wrapping_mul(31) ^ (off as u8) ^ (off >> 9) as u8
}

struct Buf {
    id: u64,
    len: usize,
    target: usize,
    block: Block,
}

impl Buf {
    fn new(id: u64, rng: &mut Rng) -> Buf {
        Buf {
            id,
            len: 0,
            target: rng.log_size(4 << 10, 256 << 10),
            block: Block::new(1, id),
        }
    }

    fn check(&self) -> Result<(), String> {
        let p = self.block.as_ptr();
        for off in 0..self.len {
            // SAFETY: off < len ≤ size; bytes 0..len were written by `grow`.
            let got = unsafe { p.add(off).read() };
            if got != pattern(self.id, off) {
                return Err(format!(
                    "{WHAT}: buffer {} ({} bytes at {:#x}) corrupted at offset {off}",
                    self.id,
                    self.len,
                    self.block.addr()
                ));
            }
        }
        Ok(())
    }

    fn grow(&mut self, by: usize) {
        let new_len = self.len + by;
        self.block.realloc(new_len);
        let p = self.block.as_mut_ptr();
        for off in self.len..new_len {
            // SAFETY: off < new_len == the block's size after realloc.
            unsafe { p.add(off).write(pattern(self.id, off)) };
        }
        self.len = new_len;
    }
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let mut rng = Rng::new(p.seed, 0x8E);
    let mut out = Outcome::default();
    let mut next_id = 0u64;
    let mut bufs: Vec<Buf> = (0..BUFFERS)
        .map(|_| {
            next_id += 1;
            Buf::new(next_id, &mut rng)
        })
        .collect();
    for step in 0..p.n(STEPS) {
        let i = step % BUFFERS;
        let by = rng.range(1, 64);
        bufs[i].grow(by);
        out.ops += 1;
        out.checksum = out.checksum.wrapping_add(by as u64);
        if p.inject_fault && step == BUFFERS * 3 {
            // SAFETY: byte 0 of buffer i, which holds at least 3 bytes by now.
            unsafe { *bufs[i].block.as_mut_ptr() ^= 0xFF };
        }
        if bufs[i].len >= bufs[i].target {
            bufs[i].check()?;
            next_id += 1;
            bufs[i] = Buf::new(next_id, &mut rng);
        }
    }
    for b in &bufs {
        b.check()?;
    }
    Ok(out)
}
