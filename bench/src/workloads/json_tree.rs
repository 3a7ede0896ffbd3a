//! rust-json: worker threads generate JSON documents as text, parse them into trees of
//! `Value` (strings, vectors, boxes), check each tree against the statistics recorded while
//! generating, and send the trees to the main thread, which walks and drops them: a parser
//! service whose results die on another thread. No serde: the parser is part of the workload.

use std::fmt::Write;
use std::sync::mpsc::sync_channel;

use super::rng::Rng;
use super::{Outcome, Params};

const WHAT: &str = "rust-json";
const DOCS: usize = 400;
const DOC_BYTES: usize = 48 << 10;

#[derive(Debug)]
enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Arr(Vec<Value>),
    Obj(Vec<(String, Value)>),
}

/// What a document holds: values, sum of integers (true counts 1), bytes of (unescaped) strings and keys.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Stats {
    nodes: u64,
    int_sum: i64,
    str_bytes: u64,
}

impl Stats {
    fn digest(self) -> u64 {
        self.nodes ^ (self.int_sum as u64).rotate_left(21) ^ self.str_bytes.rotate_left(42)
    }
}

const WORDS: [&str; 8] = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "quo\"te",
    "back\\slash",
    "new\nline",
    "ü-utf8",
];

fn gen_string(rng: &mut Rng, out: &mut String, stats: &mut Stats) {
    out.push('"');
    for w in 0..rng.range(1, 4) {
        let word = WORDS[rng.below(WORDS.len())];
        if w > 0 {
            out.push(' ');
            stats.str_bytes += 1;
        }
        for c in word.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        stats.str_bytes += word.len() as u64;
    }
    out.push('"');
}

fn gen_value(rng: &mut Rng, depth: usize, out: &mut String, stats: &mut Stats) {
    stats.nodes += 1;
    let kind = if depth >= 5 {
        rng.below(4)
    } else {
        rng.below(7)
    };
    match kind {
        0 => out.push_str("null"),
        1 => {
            let b = rng.chance(50);
            stats.int_sum = stats.int_sum.wrapping_add(b as i64);
            out.push_str(if b { "true" } else { "false" });
        }
        2 => {
            let x = rng.next_u64() as i64 >> 20;
            stats.int_sum = stats.int_sum.wrapping_add(x);
            write!(out, "{x}").unwrap();
        }
        3 => gen_string(rng, out, stats),
        4 | 5 => {
            out.push('{');
            for i in 0..rng.range(0, 7) {
                if i > 0 {
                    out.push(',');
                }
                gen_string(rng, out, stats);
                out.push(':');
                gen_value(rng, depth + 1, out, stats);
            }
            out.push('}');
        }
        _ => {
            out.push('[');
            for i in 0..rng.range(0, 8) {
                if i > 0 {
                    out.push_str(", ");
                }
                gen_value(rng, depth + 1, out, stats);
            }
            out.push(']');
        }
    }
}

/// A document: a top-level array of values, about `DOC_BYTES` long.
fn gen_doc(rng: &mut Rng) -> (String, Stats) {
    let mut out = String::new();
    let mut stats = Stats {
        nodes: 1,
        ..Stats::default()
    };
    out.push('[');
    while out.len() < DOC_BYTES {
        if out.len() > 1 {
            out.push_str(",\n");
        }
        gen_value(rng, 1, &mut out, &mut stats);
    }
    out.push(']');
    (out, stats)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, String> {
        Err(format!("{WHAT}: parse error at byte {}: {what}", self.i))
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            self.err(&format!("expected {:?}", c as char))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.eat(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.i) {
                None => return self.err("unterminated string"),
                Some(b'"') => break,
                Some(b'\\') => {
                    out.push(match self.s.get(self.i + 1) {
                        Some(b'n') => b'\n',
                        Some(&c @ (b'"' | b'\\' | b'/')) => c,
                        _ => return self.err("bad escape"),
                    });
                    self.i += 2;
                }
                Some(&c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
        self.i += 1;
        String::from_utf8(out).or_else(|_| self.err("invalid UTF-8"))
    }

    fn value(&mut self) -> Result<Value, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(b'n') if self.s[self.i..].starts_with(b"null") => {
                self.i += 4;
                Ok(Value::Null)
            }
            Some(b't') if self.s[self.i..].starts_with(b"true") => {
                self.i += 4;
                Ok(Value::Bool(true))
            }
            Some(b'f') if self.s[self.i..].starts_with(b"false") => {
                self.i += 5;
                Ok(Value::Bool(false))
            }
            Some(b'"') => Ok(Value::Str(self.string()?)),
            Some(b'[') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Ok(Value::Arr(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b']') => {
                            self.i += 1;
                            return Ok(Value::Arr(items));
                        }
                        _ => return self.err("expected , or ]"),
                    }
                }
            }
            Some(b'{') => {
                self.i += 1;
                let mut members = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Ok(Value::Obj(members));
                }
                loop {
                    let k = self.string()?;
                    self.eat(b':')?;
                    members.push((k, self.value()?));
                    self.ws();
                    match self.s.get(self.i) {
                        Some(b',') => self.i += 1,
                        Some(b'}') => {
                            self.i += 1;
                            return Ok(Value::Obj(members));
                        }
                        _ => return self.err("expected , or }"),
                    }
                }
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                self.i += 1;
                while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                text.parse()
                    .map(Value::Int)
                    .or_else(|_| self.err("bad number"))
            }
            _ => self.err("unexpected character"),
        }
    }
}

fn parse(text: &str) -> Result<Value, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value()?;
    p.ws();
    if p.i != p.s.len() {
        return p.err("trailing characters");
    }
    Ok(v)
}

fn stats(v: &Value, s: &mut Stats) {
    s.nodes += 1;
    match v {
        Value::Null => {}
        Value::Bool(b) => s.int_sum = s.int_sum.wrapping_add(*b as i64),
        Value::Int(x) => s.int_sum = s.int_sum.wrapping_add(*x),
        Value::Str(t) => s.str_bytes += t.len() as u64,
        Value::Arr(items) => items.iter().for_each(|i| stats(i, s)),
        Value::Obj(members) => {
            for (k, v) in members {
                s.str_bytes += k.len() as u64;
                stats(v, s);
            }
        }
    }
}

fn stats_of(v: &Value) -> Stats {
    let mut s = Stats::default();
    stats(v, &mut s);
    s
}

pub fn run(p: &Params) -> Result<Outcome, String> {
    let threads = p.threads.max(1);
    let docs = p.n(DOCS);
    std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<(Value, Stats)>(2 * threads);
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let tx = tx.clone();
                scope.spawn(move || -> Result<(), String> {
                    for d in (t..docs).step_by(threads) {
                        let mut rng = Rng::new(p.seed, d as u64);
                        let (text, want) = gen_doc(&mut rng);
                        let mut tree = parse(&text)?;
                        drop(text);
                        if p.inject_fault && d == 0 {
                            if let Value::Arr(items) = &mut tree {
                                items.push(Value::Null);
                            }
                        }
                        let got = stats_of(&tree);
                        if got != want {
                            return Err(format!(
                                "{WHAT}: document {d} parsed to {got:?}, generated {want:?}"
                            ));
                        }
                        if tx.send((tree, want)).is_err() {
                            break;
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        drop(tx);
        // The main thread walks every tree again and drops it: all frees here are remote.
        let mut out = Outcome::default();
        let mut result = Ok(());
        for (tree, want) in rx {
            let got = stats_of(&tree);
            if got != want && result.is_ok() {
                result = Err(format!(
                    "{WHAT}: a tree changed in transit: {got:?} vs {want:?}"
                ));
            }
            out.ops += got.nodes;
            out.checksum = out.checksum.wrapping_add(got.digest());
            drop(tree);
        }
        for w in workers {
            w.join().map_err(|_| format!("{WHAT}: worker panicked"))??;
        }
        result.map(|()| out)
    })
}
