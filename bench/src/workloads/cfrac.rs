//! cfrac-like (after the cfrac factoring program of the classic allocator studies): expands
//! √n as a continued fraction with a naive bignum library whose every operation returns a
//! freshly allocated number, so the run is millions of tiny objects that die young. Every
//! partial quotient is checked against the same recurrence computed in `u128`.

use super::rng::Rng;
use super::{Outcome, Params};

const WHAT: &str = "cfrac";
const NUMBERS: usize = 300;
const TERMS: usize = 500;

/// A nonnegative bignum: little-endian 32-bit limbs, no trailing zero limb (zero is empty).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn from_u128(mut x: u128) -> Big {
        let mut v = Vec::new();
        while x != 0 {
            v.push(x as u32);
            x >>= 32;
        }
        Big(v)
    }

    fn to_u128(&self) -> Option<u128> {
        if self.0.len() > 4 {
            return None;
        }
        Some(
            self.0
                .iter()
                .rev()
                .fold(0u128, |a, &l| (a << 32) | l as u128),
        )
    }

    fn trim(mut v: Vec<u32>) -> Big {
        while v.last() == Some(&0) {
            v.pop();
        }
        Big(v)
    }

    fn bits(&self) -> usize {
        match self.0.last() {
            None => 0,
            Some(&top) => self.0.len() * 32 - top.leading_zeros() as usize,
        }
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|l| (l >> (i % 32)) & 1 == 1)
    }

    fn cmp(&self, o: &Big) -> std::cmp::Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn add(&self, o: &Big) -> Big {
        let mut v = Vec::with_capacity(self.0.len().max(o.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(o.0.len()) {
            let s = *self.0.get(i).unwrap_or(&0) as u64 + *o.0.get(i).unwrap_or(&0) as u64 + carry;
            v.push(s as u32);
            carry = s >> 32;
        }
        v.push(carry as u32);
        Big::trim(v)
    }

    /// `self - o`, requires `self >= o`.
    fn sub(&self, o: &Big) -> Big {
        let mut v = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let d = self.0[i] as i64 - *o.0.get(i).unwrap_or(&0) as i64 - borrow;
            v.push(d.rem_euclid(1 << 32) as u32);
            borrow = (d < 0) as i64;
        }
        Big::trim(v)
    }

    fn mul(&self, o: &Big) -> Big {
        let mut v = vec![0u32; self.0.len() + o.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in o.0.iter().enumerate() {
                let t = a as u64 * b as u64 + v[i + j] as u64 + carry;
                v[i + j] = t as u32;
                carry = t >> 32;
            }
            v[i + o.0.len()] = carry as u32;
        }
        Big::trim(v)
    }

    /// `2·self + bit`.
    fn shl1_or(&self, bit: bool) -> Big {
        let mut v = Vec::with_capacity(self.0.len() + 1);
        let mut carry = bit as u32;
        for &l in &self.0 {
            v.push((l << 1) | carry);
            carry = l >> 31;
        }
        v.push(carry);
        Big::trim(v)
    }

    /// `(self / d, self % d)` by binary long division: two fresh numbers per bit.
    fn divmod(&self, d: &Big) -> (Big, Big) {
        assert!(!d.0.is_empty(), "division by zero");
        let mut q = vec![0u32; self.0.len()];
        let mut r = Big(Vec::new());
        for i in (0..self.bits()).rev() {
            r = r.shl1_or(self.bit(i));
            if r.cmp(d) != std::cmp::Ordering::Less {
                r = r.sub(d);
                q[i / 32] |= 1 << (i % 32);
            }
        }
        (Big::trim(q), r)
    }

    /// ⌊√self⌋ by Newton's iteration.
    fn isqrt(&self) -> Big {
        if self.0.is_empty() {
            return Big(Vec::new());
        }
        let two = Big(vec![2]);
        let mut x = Big(vec![0; self.bits().div_ceil(64) + 1]);
        *x.0.last_mut().unwrap() = 1; // a power of two ≥ √self
        loop {
            let y = x.add(&self.divmod(&x).0).divmod(&two).0;
            if y.cmp(&x) != std::cmp::Ordering::Less {
                return x;
            }
            x = y;
        }
    }
}

fn isqrt_u128(n: u128) -> u128 {
    let mut x = (n as f64).sqrt() as u128;
    while x * x > n {
        x -= 1;
    }
    while (x + 1) * (x + 1) <= n {
        x += 1;
    }
    x
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let mut rng = Rng::new(p.seed, 0xCF);
    let mut out = Outcome::default();
    let numbers = p.n(NUMBERS);
    for k in 0..numbers {
        // n in [2^60, 2^62), not a perfect square.
        let mut n = (1u128 << 60) + (rng.next_u64() >> 2) as u128 % (3u128 << 60);
        if isqrt_u128(n).pow(2) == n {
            n += 1;
        }
        let nb = Big::from_u128(n);
        let a0b = nb.isqrt();
        let a0 = isqrt_u128(n);
        if a0b.to_u128() != Some(a0) {
            return Err(format!("{WHAT}: isqrt({n}) gave {a0b:?}, expected {a0}"));
        }
        // √n = a0 + 1/(a1 + 1/(a2 + …)):  m' = d·a − m,  d' = (n − m'²)/d,  a' = (a0 + m')/d'.
        let (mut m, mut d, mut a) = (0u128, 1u128, a0);
        let (mut mb, mut db, mut ab) = (Big(Vec::new()), Big(vec![1]), a0b.clone());
        for term in 0..TERMS {
            m = d * a - m;
            d = (n - m * m) / d;
            a = (a0 + m) / d;
            mb = db.mul(&ab).sub(&mb);
            db = nb.sub(&mb.mul(&mb)).divmod(&db).0;
            ab = a0b.add(&mb).divmod(&db).0;
            if p.inject_fault && k == 0 && term == 3 {
                ab = ab.add(&Big(vec![1]));
            }
            if ab.to_u128() != Some(a) {
                return Err(format!(
                    "{WHAT}: term {term} of √{n}: bignum gave {ab:?}, u128 reference gave {a}"
                ));
            }
            out.checksum = out.checksum.wrapping_add(a as u64);
            out.ops += 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bignum_agrees_with_u128() {
        let mut r = Rng::new(3, 4);
        for _ in 0..200 {
            let a = r.next_u64() as u128 * (r.next_u64() >> 3) as u128;
            let b = (r.next_u64() >> 5) as u128 + 1;
            let (ba, bb) = (Big::from_u128(a), Big::from_u128(b));
            let (q, m) = ba.divmod(&bb);
            assert_eq!(q.to_u128(), Some(a / b));
            assert_eq!(m.to_u128(), Some(a % b));
            assert_eq!(ba.add(&bb).to_u128(), Some(a + b));
            assert_eq!(ba.sub(&Big::from_u128(a / 2)).to_u128(), Some(a - a / 2));
            assert_eq!(bb.mul(&bb).to_u128(), Some(b * b));
            assert_eq!(ba.isqrt().to_u128(), Some(isqrt_u128(a)));
        }
    }
}
