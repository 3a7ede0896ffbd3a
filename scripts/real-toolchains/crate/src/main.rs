use serde::{Deserialize, Serialize};
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Row { id: u64, name: String, tags: Vec<String> }
fn main() -> anyhow::Result<()> {
    let rows: Vec<Row> = (0..20000u64).map(|i| Row { id: i, name: format!("n{}", i * 7919 % 10007), tags: (0..i % 5).map(|t| t.to_string()).collect() }).collect();
    let s = serde_json::to_string(&rows)?;
    let back: Vec<Row> = serde_json::from_str(&s)?;
    assert_eq!(rows, back);
    let ac = aho_corasick::AhoCorasick::new(["n1", "n22", "\"tags\":[]"])?;
    let hits = ac.find_iter(&s).count();
    let mut b = itoa::Buffer::new();
    let v: smallvec::SmallVec<[u8; 8]> = b.format(hits).bytes().collect();
    println!("{} {} {}", s.len(), hits, String::from_utf8_lossy(&v));
    Ok(())
}
