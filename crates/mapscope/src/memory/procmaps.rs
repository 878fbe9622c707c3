//! `/proc/PID/maps` parsing (the regions of a live process).

use std::path::PathBuf;
use std::sync::Arc;

use super::region::{Backing, Permissions, Region};

/// More lines than this are ignored (the kernel's default limit is 65530 mappings).
const MAX_MAPS_LINES: usize = 1 << 22;

/// Parses the text of `/proc/PID/maps`. Malformed lines are skipped; the
/// result is sorted and non-overlapping.
pub fn parse_proc_maps(text: &str) -> Vec<Region> {
    let mut out: Vec<Region> = text.lines().take(MAX_MAPS_LINES).filter_map(parse_line).collect();
    out.sort_by_key(|r| (r.start, r.end));
    super::image::dedup_regions(out)
}

fn parse_line(line: &str) -> Option<Region> {
    // start-end perms offset dev inode [path]; the path may contain spaces.
    let mut rest = line;
    let mut field = || {
        let t = rest.trim_start();
        let end = t.find(char::is_whitespace).unwrap_or(t.len());
        let (f, r) = t.split_at(end);
        rest = r;
        (!f.is_empty()).then_some(f)
    };
    let range = field()?;
    let perms = field()?.as_bytes();
    let offset = u64::from_str_radix(field()?, 16).ok()?;
    let _dev = field()?;
    let inode: u64 = field()?.parse().ok()?;
    let path = rest.trim_start();
    let (start, end) = range.split_once('-')?;
    let start = u64::from_str_radix(start, 16).ok()?;
    let end = u64::from_str_radix(end, 16).ok()?;
    let &[r, w, x, s, ..] = perms else {
        return None;
    };
    if end <= start {
        return None;
    }
    let perms = Permissions {
        read: r == b'r',
        write: w == b'w',
        execute: x == b'x',
        shared: s == b's',
    };
    let backing = if path.starts_with('[') {
        Backing::Special(Arc::from(path))
    } else if !path.is_empty() && (inode != 0 || path.starts_with('/')) {
        Backing::File {
            path: Arc::new(PathBuf::from(path)),
            offset,
        }
    } else {
        Backing::Anonymous
    };
    Some(Region {
        start,
        end,
        perms,
        backing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_typical_lines() {
        let text = "\
00400000-00494000 r-xp 00000000 fd:01 123 /tmp/my prog
c000000000-c000400000 rw-p 00000000 00:00 0 \n\
7ffe2cd1b000-7ffe2cd3c000 rw-p 00000000 00:00 0                          [stack]
garbage line
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
";
        let r = parse_proc_maps(text);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].path().unwrap().to_str(), Some("/tmp/my prog"));
        assert!(r[0].perms.execute && !r[0].perms.write);
        assert_eq!(r[1].backing, Backing::Anonymous);
        assert_eq!(r[2].backing, Backing::Special(Arc::from("[stack]")));
        assert!(!r[3].perms.read);
    }
}
