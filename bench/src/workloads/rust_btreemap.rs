//! rust-btreemap: a typical Rust program's heap use. Builds a `BTreeMap<String, Vec<u64>>` of
//! formatted keys and short vectors, removes a third of the entries, grows the vectors of
//! another fifth, rebuilds the keys of a tenth as new strings, sums everything and drops the map.
//! The sum is compared with the same sum computed without the map.

use std::collections::BTreeMap;

use super::rng::mix;
use super::{Outcome, Params};

const WHAT: &str = "rust-btreemap";
const ENTRIES: usize = 100_000;

fn key(i: u64) -> String {
    format!("user:{:08x}:{i}", mix(i) as u32)
}

fn value(i: u64) -> Vec<u64> {
    (0..1 + i % 12).map(|k| i.wrapping_mul(k + 1)).collect()
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let n = p.n(ENTRIES) as u64;
    let mut map: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for i in 0..n {
        map.insert(key(i), value(i));
    }
    if p.inject_fault {
        if let Some(v) = map.get_mut(&key(n / 2)) {
            v[0] ^= 1;
        }
    }
    for i in (0..n).step_by(3) {
        map.remove(&key(i));
    }
    for i in (1..n).step_by(5) {
        if let Some(v) = map.get_mut(&key(i)) {
            v.extend((0..20).map(|k| i + k));
        }
    }
    for i in (2..n).step_by(10) {
        if let Some(v) = map.remove(&key(i)) {
            map.insert(format!("{}:moved", key(i)), v);
        }
    }
    let mut sum = 0u64;
    for (k, v) in &map {
        sum = sum.wrapping_add(k.len() as u64);
        sum = v.iter().fold(sum, |s, &x| s.wrapping_add(x));
    }
    let entries = map.len();
    drop(map);

    // The same sum without the map.
    let mut want = 0u64;
    let mut want_entries = 0;
    for i in 0..n {
        if i % 3 == 0 {
            continue;
        }
        want_entries += 1;
        let moved = i >= 2 && (i - 2) % 10 == 0;
        want = want.wrapping_add(key(i).len() as u64 + if moved { 6 } else { 0 });
        want = value(i).iter().fold(want, |s, &x| s.wrapping_add(x));
        if i >= 1 && (i - 1) % 5 == 0 {
            want = (0..20).fold(want, |s, k| s.wrapping_add(i + k));
        }
    }
    if sum != want || entries != want_entries {
        return Err(format!(
            "{WHAT}: map holds {entries} entries summing to {sum:#x}, expected {want_entries} \
             summing to {want:#x}"
        ));
    }
    Ok(Outcome {
        ops: n,
        checksum: sum,
    })
}
