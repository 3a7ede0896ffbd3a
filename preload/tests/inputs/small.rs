// A small program for the rustc-under-LD_PRELOAD test: compiled with rustc, then run (its output
// must match the one compiled without the preload).
use std::collections::{BTreeMap, HashMap};
use std::thread;

fn main() {
    let handles: Vec<_> = (0..4u64)
        .map(|t| {
            thread::spawn(move || {
                let mut m: HashMap<String, Vec<u64>> = HashMap::new();
                for i in 0..20_000u64 {
                    m.entry(format!("k{}", (i * 7 + t) % 1000)).or_default().push(i);
                }
                let b: BTreeMap<_, _> = m.iter().map(|(k, v)| (k.clone(), v.iter().sum::<u64>())).collect();
                b.values().fold(t, |acc, v| acc.wrapping_mul(31).wrapping_add(*v))
            })
        })
        .collect();
    for h in handles {
        println!("{}", h.join().unwrap());
    }
}
