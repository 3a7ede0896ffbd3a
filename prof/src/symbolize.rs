//! Address → function names, from the debug info of the file each address was mapped from.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSegment};

use crate::proto::Mapping;

/// One loaded file: its DWARF (and symbol table) and its load segments.
struct Module {
    loader: addr2line::Loader,
    /// `(file offset, file size, virtual address)` of each segment.
    segments: Vec<(u64, u64, u64)>,
}

impl Module {
    fn load(path: &Path) -> anyhow::Result<Self> {
        let data = std::fs::read(path)?;
        let file = object::File::parse(&*data)?;
        let segments = file
            .segments()
            .map(|s| {
                let (off, size) = s.file_range();
                (off, size, s.address())
            })
            .collect();
        let loader =
            addr2line::Loader::new(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok(Self { loader, segments })
    }

    /// The address in the file's own numbering (what DWARF uses) of file offset `off`.
    fn svma(&self, off: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|&&(o, size, _)| o <= off && off < o + size)
            .map(|&(o, _, vaddr)| vaddr + (off - o))
    }
}

/// Symbolizes addresses of one profile's mappings; files are loaded once each.
pub struct Symbolizer {
    modules: HashMap<PathBuf, Option<Module>>,
    /// Replaces the main binary's path (first mapping) when given.
    binary: Option<PathBuf>,
    main_file: Option<PathBuf>,
}

/// A frame: function name and the file it came from.
#[derive(Clone, Debug)]
pub struct Frame {
    pub function: String,
    pub file: PathBuf,
}

impl Symbolizer {
    pub fn new(binary: Option<PathBuf>, main_file: Option<PathBuf>) -> Self {
        Self {
            modules: HashMap::new(),
            binary,
            main_file,
        }
    }

    /// The frames at `pc` (innermost inlined frame first) in mapping `m` of file `file`.
    pub fn frames(&mut self, pc: u64, m: &Mapping, file: &str) -> Vec<Frame> {
        let mut path = PathBuf::from(file);
        if let (Some(b), Some(main)) = (&self.binary, &self.main_file) {
            if *main == path {
                path = b.clone();
            }
        }
        let module = self
            .modules
            .entry(path.clone())
            .or_insert_with(|| Module::load(&path).ok());
        let unknown = || {
            vec![Frame {
                function: format!(
                    "{}+{:#x}",
                    file_name(&path),
                    pc - m.memory_start + m.file_offset
                ),
                file: path.clone(),
            }]
        };
        let Some(module) = module else {
            return unknown();
        };
        let Some(svma) = module.svma(pc - m.memory_start + m.file_offset) else {
            return unknown();
        };
        let mut out = Vec::new();
        if let Ok(mut it) = module.loader.find_frames(svma) {
            while let Ok(Some(f)) = it.next() {
                if let Some(name) = f.function.as_ref().and_then(|n| n.demangle().ok()) {
                    out.push(Frame {
                        function: name.into_owned(),
                        file: path.clone(),
                    });
                }
            }
        }
        if out.is_empty() {
            if let Some(sym) = module.loader.find_symbol(svma) {
                out.push(Frame {
                    function: addr2line::demangle_auto(sym.into(), None).into_owned(),
                    file: path.clone(),
                });
            }
        }
        if out.is_empty() {
            return unknown();
        }
        out
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}
