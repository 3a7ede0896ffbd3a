//! The module graph follows the order written in `src/lib.rs` (and, word for word, in
//! docs/design.md): a module uses only modules listed before it, so the graph is acyclic.
//!
//! How: the module tree is read from the `mod` declarations starting at `src/lib.rs` (honouring
//! `#[path]`); every `crate::…` and `super::…` path in a module's file — `use` trees and paths
//! written inline, unit tests included, comments and strings excluded — is an edge to the module
//! it names. Each module belongs to the longest entry of the declared order that prefixes its path
//! (`slab::block` before `slab`, `front::tls_sll` …). An edge to an entry listed after its own
//! fails, naming both modules and the path that made it; so does a module no entry covers, an
//! entry naming no module, and `src/lib.rs` and docs/design.md listing different orders.
//! `src/lib.rs` itself is the crate's facade and may use every box.
//!
//! There is no list of tolerated back-edges: every one fails (the last ones — the freed-block key
//! and the address classifier living in `front::free` — left it in issue 14).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---- a lexer just good enough for paths and `mod` declarations ----

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    /// `::`
    Path,
    Punct(char),
}

fn lex(src: &str) -> Vec<Tok> {
    let b: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or('\0');
        if c == '/' && next == '/' {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == '*' {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == 'r' && (next == '"' || (next == '#' && b.get(i + 2) != Some(&'['))) {
            // raw string r"…" or r#"…"#
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(Tok::Ident("r".into()));
                i += 1;
                continue;
            }
            j += 1;
            let start = j;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|h| b.get(j + 1 + h) == Some(&'#')) {
                    break;
                }
                j += 1;
            }
            out.push(Tok::Str(b[start..j.min(b.len())].iter().collect()));
            i = j + 1 + hashes;
        } else if c == '"' || (c == 'b' && next == '"') {
            let mut j = if c == 'b' { i + 2 } else { i + 1 };
            let start = j;
            while j < b.len() && b[j] != '"' {
                if b[j] == '\\' {
                    j += 1;
                }
                j += 1;
            }
            out.push(Tok::Str(b[start..j.min(b.len())].iter().collect()));
            i = j + 1;
        } else if c == '\'' {
            // a char literal ('x', '\n', '\u{..}') or a lifetime ('a)
            if next == '\\' {
                let mut j = i + 3;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                i = j + 1;
            } else if b.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_' || b[i] == '.') {
                if b[i] == '.' && !b.get(i + 1).is_some_and(|d| d.is_ascii_digit()) {
                    break;
                }
                i += 1;
            }
        } else if c == ':' && next == ':' {
            out.push(Tok::Path);
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    out
}

fn ident(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Ident(s)) => Some(s),
        _ => None,
    }
}

/// Parses a use tree (or an inline path) starting at `toks[i]`, after `prefix::`; appends every
/// full path it names to `out` and returns the index after it.
fn use_tree(toks: &[Tok], mut i: usize, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
    let mut path = prefix.to_vec();
    loop {
        match toks.get(i) {
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i) {
                        Some(Tok::Punct('}')) => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        None => return i,
                        _ => {
                            let j = use_tree(toks, i, &path, out);
                            i = j.max(i + 1);
                        }
                    }
                }
            }
            Some(Tok::Ident(s)) => {
                path.push(s.clone());
                i += 1;
                if toks.get(i) == Some(&Tok::Path) {
                    i += 1;
                    continue;
                }
                if ident(toks.get(i)) == Some("as") {
                    i += 2; // `as alias`
                }
                out.push(path);
                return i;
            }
            Some(Tok::Punct('*')) => {
                out.push(path);
                return i + 1;
            }
            _ => {
                out.push(path);
                return i;
            }
        }
    }
}

/// What one file says: the modules it declares and the paths it names.
struct FileScan {
    /// (enclosing inline modules, name, `#[path]` value) of each `mod name;`
    mods: Vec<(Vec<String>, String, Option<String>)>,
    /// Absolute paths (segments after `crate`), with the text that produced them.
    paths: Vec<(Vec<String>, String)>,
}

fn scan(src: &str, module: &[String]) -> FileScan {
    let toks = lex(src);
    let mut mods = Vec::new();
    let mut paths = Vec::new();
    // Inline modules open in this file: the brace depth at which each was opened.
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut pending_inline: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i] {
            Tok::Punct('{') => {
                depth += 1;
                if let Some(name) = pending_inline.take() {
                    inline.push((depth, name));
                }
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(d, _)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some(name), Some(t)) = (ident(toks.get(i + 1)), toks.get(i + 2)) {
                    if *t == Tok::Punct(';') {
                        let within = inline.iter().map(|(_, n)| n.clone()).collect();
                        mods.push((within, name.to_string(), path_attr(&toks, i)));
                    } else if *t == Tok::Punct('{') {
                        pending_inline = Some(name.to_string());
                    }
                }
            }
            Tok::Ident(k)
                if (k == "crate" || k == "super") && toks.get(i + 1) == Some(&Tok::Path) =>
            {
                if i > 0 && toks[i - 1] == Tok::Path {
                    // `$crate`-free code: `a::crate` cannot occur; `pub(crate)` has no `::`.
                    i += 1;
                    continue;
                }
                let (base, mut j) = if k == "crate" {
                    (Vec::new(), i + 2)
                } else {
                    let mut supers = 0;
                    let mut j = i;
                    while ident(toks.get(j)) == Some("super") && toks.get(j + 1) == Some(&Tok::Path)
                    {
                        supers += 1;
                        j += 2;
                    }
                    if supers <= inline.len() {
                        // Within this file: the module itself.
                        i = j;
                        continue;
                    }
                    let up = supers - inline.len();
                    assert!(
                        up <= module.len(),
                        "`super` above the crate root in {}",
                        module.join("::")
                    );
                    (module[..module.len() - up].to_vec(), j)
                };
                let mut found = Vec::new();
                j = use_tree(&toks, j, &base, &mut found);
                let text = format!("{}::…", k);
                for p in found {
                    let shown = if k == "crate" {
                        format!("crate::{}", p.join("::"))
                    } else {
                        text.clone()
                    };
                    paths.push((p, shown));
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    FileScan { mods, paths }
}

/// The `#[path = "…"]` among the attributes before the `mod` at `at`, if any.
fn path_attr(toks: &[Tok], at: usize) -> Option<String> {
    let mut i = at;
    // skip visibility: `pub`, `pub(crate)`
    while i > 0 {
        match &toks[i - 1] {
            Tok::Ident(s) if s == "pub" || s == "crate" => i -= 1,
            Tok::Punct('(') | Tok::Punct(')') => i -= 1,
            _ => break,
        }
    }
    // walk back over attributes `# [ … ]`
    while i > 0 && toks[i - 1] == Tok::Punct(']') {
        let end = i - 1;
        let mut j = end;
        while j > 0 && toks[j] != Tok::Punct('[') {
            j -= 1;
        }
        if j == 0 || toks[j - 1] != Tok::Punct('#') {
            break;
        }
        if let [Tok::Ident(p), Tok::Punct('='), Tok::Str(v)] = &toks[j + 1..end] {
            if p == "path" {
                return Some(v.clone());
            }
        }
        i = j - 1;
    }
    None
}

/// Every module file reached from `src/lib.rs`: file → module path.
fn module_tree() -> BTreeMap<PathBuf, Vec<String>> {
    let src = root().join("src");
    let mut files = BTreeMap::new();
    let mut todo = vec![(src.join("lib.rs"), Vec::<String>::new())];
    while let Some((file, module)) = todo.pop() {
        if files.contains_key(&file) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let dir = file.parent().unwrap().to_path_buf();
        let is_dir_owner = matches!(
            file.file_name().and_then(|n| n.to_str()),
            Some("lib.rs" | "mod.rs")
        );
        let child_dir = if is_dir_owner {
            dir.clone()
        } else {
            dir.join(file.file_stem().unwrap())
        };
        let mut children = Vec::new();
        for (within, name, attr) in scan(&text, &module).mods {
            let mut m = module.clone();
            m.extend(within.iter().cloned());
            m.push(name.clone());
            let dir_of_inline = within.iter().fold(child_dir.clone(), |d, w| d.join(w));
            let target = match attr {
                Some(p) => dir.join(p),
                None => {
                    let flat = dir_of_inline.join(format!("{name}.rs"));
                    if flat.exists() {
                        flat
                    } else {
                        dir_of_inline.join(&name).join("mod.rs")
                    }
                }
            };
            children.push((target, m));
        }
        files.insert(file, module);
        // Visit in reverse so the first declaration of a file (not a later `#[path]` alias) wins.
        todo.extend(children.into_iter().rev());
    }
    files
}

/// The numbered list of boxes in `text`: each entry's backticked names before its " — ".
fn declared_order(text: &str, strip: &str) -> Vec<Vec<String>> {
    let mut entries: Vec<String> = Vec::new();
    let mut open = false;
    for line in text.lines() {
        let Some(line) = line.strip_prefix(strip) else {
            open = false;
            continue;
        };
        let t = line.trim_start();
        let numbered = t
            .split_once(". ")
            .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if numbered && line.len() - t.len() == 0 {
            entries.push(t.split_once(". ").unwrap().1.to_string());
            open = true;
        } else if open && !t.is_empty() && line.starts_with("   ") {
            let last = entries.last_mut().unwrap();
            last.push(' ');
            last.push_str(t);
        } else {
            open = false;
        }
    }
    entries
        .iter()
        .map(|e| {
            let names = e.split(" — ").next().unwrap();
            names
                .split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn lib_order() -> Vec<Vec<String>> {
    let lib = fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let order = declared_order(&lib, "//! ");
    assert!(order.len() > 5, "no numbered box list in src/lib.rs");
    order
}

/// The declared entries, flattened, with their position.
fn ranks() -> Vec<(Vec<String>, usize)> {
    lib_order()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, n)| (n.split("::").map(str::to_string).collect(), i))
        .collect()
}

fn entry_of<'a>(
    ranks: &'a [(Vec<String>, usize)],
    module: &[String],
) -> Option<&'a (Vec<String>, usize)> {
    ranks
        .iter()
        .filter(|(e, _)| module.starts_with(e))
        .max_by_key(|(e, _)| e.len())
}

#[test]
fn design_md_lists_the_same_order_as_lib_rs() {
    let design = fs::read_to_string(root().join("docs/design.md")).unwrap();
    let section = design
        .split("## Boxes and their order")
        .nth(1)
        .expect("docs/design.md has a '## Boxes and their order' section");
    let section = section.split("\n## ").next().unwrap();
    assert_eq!(
        declared_order(section, ""),
        lib_order(),
        "docs/design.md and src/lib.rs declare different box orders"
    );
}

#[test]
fn every_module_is_in_the_declared_order_and_every_entry_names_one() {
    let ranks = ranks();
    let tree = module_tree();
    let modules: BTreeSet<&Vec<String>> = tree.values().collect();
    let mut problems = Vec::new();
    for (file, m) in &tree {
        if m.is_empty() || entry_of(&ranks, m).is_some() {
            continue;
        }
        let container = ranks.iter().any(|(e, _)| e.starts_with(m));
        let text = fs::read_to_string(file).unwrap();
        if !container {
            problems.push(format!(
                "module {} is in no entry of the declared order",
                m.join("::")
            ));
        } else if !scan(&text, m).paths.is_empty() {
            // A parent of entries (`front`) only declares them; code there would have no rank.
            problems.push(format!(
                "module {} holds code but only its children are ranked",
                m.join("::")
            ));
        }
    }
    for (e, _) in &ranks {
        if !modules.iter().any(|m| m.starts_with(e)) {
            problems.push(format!("declared entry {} names no module", e.join("::")));
        }
    }
    // Every source file belongs to the tree (no orphan reached by nothing).
    let mut stack = vec![root().join("src")];
    while let Some(d) = stack.pop() {
        for f in fs::read_dir(&d).unwrap() {
            let p = f.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") && !tree.contains_key(&p) {
                problems.push(format!("{} is no module of the crate", p.display()));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_module_uses_one_listed_after_it() {
    let ranks = ranks();
    let mut found: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for (file, module) in module_tree() {
        if module.is_empty() {
            continue; // src/lib.rs: the facade
        }
        let Some((from, from_rank)) = entry_of(&ranks, &module) else {
            continue; // reported by the test above
        };
        let text = fs::read_to_string(&file).unwrap();
        for (path, shown) in scan(&text, &module).paths {
            let (to, to_rank) = match entry_of(&ranks, &path) {
                Some((e, r)) => (e.join("::"), *r),
                None => ("crate root".to_string(), usize::MAX),
            };
            if to_rank > *from_rank {
                let rel = file.strip_prefix(root()).unwrap_or(Path::new("?"));
                found
                    .entry((from.join("::"), to))
                    .or_default()
                    .push(format!("{} ({})", shown, rel.display()));
            }
        }
    }
    let mut problems = Vec::new();
    for ((from, to), sites) in &found {
        let mut sites = sites.clone();
        sites.dedup();
        problems.push(format!(
            "{from} uses {to}, listed after it in src/lib.rs: {}",
            sites.join(", ")
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_scanner_sees_use_trees_inline_paths_and_super() {
    let src = r#"
        // crate::commented::out
        use crate::{a::b, c::{d, e::F as G}, h};
        use super::sibling::X;
        fn f() { let s = "crate::in_a_string"; crate::inline::call(); let c = '{'; }
        mod tests { use super::*; use super::super::up::Y; }
        #[cfg(x)]
        #[path = "other.rs"]
        pub(crate) mod aliased;
        mod outer { pub mod inner; }
    "#;
    let s = scan(src, &["front".to_string(), "alloc".to_string()]);
    let got: Vec<String> = s.paths.iter().map(|(p, _)| p.join("::")).collect();
    assert_eq!(
        got,
        [
            "a::b",
            "c::d",
            "c::e::F",
            "h",
            "front::sibling::X",
            "inline::call",
            "front::up::Y"
        ]
    );
    assert_eq!(
        s.mods,
        [
            (vec![], "aliased".to_string(), Some("other.rs".to_string())),
            (vec!["outer".to_string()], "inner".to_string(), None),
        ]
    );
}
