//! The executable mappings of the process (`/proc/self/maps`), read at dump time into scratch
//! memory, so a profile can name the file and offset behind every return address.

/// One executable file mapping.
#[derive(Clone, Copy)]
pub struct Mapping {
    pub start: usize,
    pub end: usize,
    /// File offset of `start`.
    pub offset: usize,
    /// The file name: `name_at..name_at + name_len` of the maps text.
    pub name_at: usize,
    pub name_len: usize,
}

/// Parses `text` (the contents of `/proc/self/maps`) into `out`; returns how many executable,
/// file-backed mappings it found (at most `out.len()`).
pub fn parse(text: &[u8], out: &mut [Mapping]) -> usize {
    let mut n = 0;
    let mut at = 0;
    while at < text.len() && n < out.len() {
        let end = text[at..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |p| at + p);
        if let Some(m) = parse_line(text, at, end) {
            out[n] = m;
            n += 1;
        }
        at = end + 1;
    }
    n
}

/// `start-end perms offset dev inode   path`
fn parse_line(text: &[u8], at: usize, end: usize) -> Option<Mapping> {
    let line = &text[at..end];
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let range = fields.next()?;
    let perms = fields.next()?;
    let offset = hex(fields.next()?)?;
    let _dev = fields.next()?;
    let _inode = fields.next()?;
    let path = fields.next()?;
    if perms.get(2) != Some(&b'x') || path.first() != Some(&b'/') {
        return None;
    }
    let dash = range.iter().position(|&b| b == b'-')?;
    let name_at = path.as_ptr() as usize - text.as_ptr() as usize;
    // The path runs to the end of the line (it may contain spaces).
    Some(Mapping {
        start: hex(&range[..dash])?,
        end: hex(&range[dash + 1..])?,
        offset,
        name_at,
        name_len: end - name_at,
    })
}

fn hex(s: &[u8]) -> Option<usize> {
    let mut v = 0usize;
    for &b in s {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        v = v.checked_mul(16)?.checked_add(d as usize)?;
    }
    Some(v)
}

/// The index of the mapping holding `addr`.
pub fn find(maps: &[Mapping], addr: usize) -> Option<usize> {
    maps.iter().position(|m| m.start <= addr && addr < m.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_executable_file_mappings_only() {
        let text = b"55d0c0a00000-55d0c0a20000 r--p 00000000 08:01 123  /usr/bin/prog\n\
55d0c0a20000-55d0c0a80000 r-xp 00020000 08:01 123  /usr/bin/prog\n\
7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n\
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0  [vdso]\n\
7f1000000000-7f1000100000 r-xp 00001000 08:01 9 /lib/my lib.so\n";
        let mut out = [Mapping {
            start: 0,
            end: 0,
            offset: 0,
            name_at: 0,
            name_len: 0,
        }; 8];
        let n = parse(text, &mut out);
        assert_eq!(n, 2);
        assert_eq!(out[0].start, 0x55d0_c0a2_0000);
        assert_eq!(out[0].offset, 0x20000);
        let name = |m: &Mapping| &text[m.name_at..m.name_at + m.name_len];
        assert_eq!(name(&out[0]), b"/usr/bin/prog");
        assert_eq!(name(&out[1]), b"/lib/my lib.so");
        assert_eq!(find(&out[..n], 0x55d0_c0a2_0010), Some(0));
        assert_eq!(find(&out[..n], 0x10), None);
    }
}
