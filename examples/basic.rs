//! hakmem as the global allocator of an ordinary multi-threaded program.
//!
//! Four worker threads each generate a deterministic text (words drawn with a skewed, Zipf-like
//! distribution from a synthetic vocabulary), count word frequencies into a `HashMap<String, u64>`
//! and send the map to the main thread over a channel; the main thread merges the maps and prints
//! the most frequent words. Every string, map and channel node is allocated by hakmem, and the
//! maps are freed on a different thread than the one that built them.
//!
//! Output is deterministic apart from the elapsed time.
//!
//! ```text
//! cargo run --release --example basic
//! ```

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

#[global_allocator]
static GLOBAL: hakmem::HakMem = hakmem::HakMem;

const WORKERS: u64 = 4;
const WORDS_PER_WORKER: usize = 400_000;
const VOCABULARY: usize = 5_000;
const TOP: usize = 10;

/// xorshift64*: tiny and deterministic.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A pronounceable word per vocabulary index, made of 1 to 4 syllables.
fn vocabulary() -> Vec<String> {
    const ONSETS: [&str; 12] = ["b", "d", "f", "g", "k", "l", "m", "n", "r", "s", "t", "z"];
    const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ai"];
    let mut rng = XorShift(0x0DDB_1A5E_5BAD_5EED);
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::with_capacity(VOCABULARY);
    while words.len() < VOCABULARY {
        let syllables = 1 + rng.below(4);
        let word: String = (0..syllables)
            .map(|_| format!("{}{}", ONSETS[rng.below(12)], VOWELS[rng.below(6)]))
            .collect();
        if seen.insert(word.clone()) {
            words.push(word);
        }
    }
    words
}

/// Generates one worker's text: low vocabulary indexes are far more likely than high ones.
fn generate_text(worker: u64, vocabulary: &[String]) -> String {
    let mut rng =
        XorShift(0x9E37_79B9_7F4A_7C15 ^ (worker + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9));
    let mut text = String::new();
    for i in 0..WORDS_PER_WORKER {
        let bound = 1 + rng.below(vocabulary.len());
        let index = rng.below(bound);
        text.push_str(&vocabulary[index]);
        text.push(if i % 16 == 15 { '\n' } else { ' ' });
    }
    text
}

fn count_words(text: &str) -> HashMap<String, u64> {
    let mut counts = HashMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_owned()).or_insert(0) += 1;
    }
    counts
}

fn main() {
    let start = Instant::now();
    let vocabulary = std::sync::Arc::new(vocabulary());
    let (tx, rx) = mpsc::channel();
    let workers: Vec<_> = (0..WORKERS)
        .map(|worker| {
            let (tx, vocabulary) = (tx.clone(), vocabulary.clone());
            thread::spawn(move || {
                let text = generate_text(worker, &vocabulary);
                let counts = count_words(&text);
                tx.send((worker, counts)).expect("main thread gone");
            })
        })
        .collect();
    drop(tx);

    // Maps arrive in whatever order the workers finish; they are merged (and freed) here.
    let mut total: HashMap<String, u64> = HashMap::new();
    let mut distinct = [0; WORKERS as usize];
    for _ in 0..WORKERS {
        let (worker, counts) = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a worker sent nothing for 60 s");
        distinct[worker as usize] = counts.len();
        for (word, n) in counts {
            *total.entry(word).or_insert(0) += n;
        }
    }
    for worker in workers {
        worker.join().expect("worker panicked");
    }
    for (worker, n) in distinct.iter().enumerate() {
        println!("worker {worker}: {n} distinct words");
    }

    let mut ranked: Vec<(&String, &u64)> = total.iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(a.1).then_with(|| a.0.cmp(b.0)));
    let words: u64 = total.values().sum();
    assert_eq!(
        words,
        WORKERS * WORDS_PER_WORKER as u64,
        "words lost while counting"
    );
    println!("{words} words, {} distinct; top {TOP}:", total.len());
    for (rank, (word, n)) in ranked.iter().take(TOP).enumerate() {
        println!("{:>3}. {word:<12} {n}", rank + 1);
    }
    hakmem::collect();
    println!("elapsed: {:.3} s", start.elapsed().as_secs_f64());
}
