//! A struct's layout as mapscope reports it: every field with offset, size and
//! alignment, the padding holes between them, and where 64-byte lines fall
//! counted from the start of the struct. Those are the CPU's cache lines only
//! for an instance that starts on a 64-byte boundary: the allocator places
//! small objects at multiples of their size class from a page start (and
//! 1.22+ puts an 8-byte malloc header before objects of 512 bytes or more),
//! and group i of an array starts i group sizes in.

use serde::Serialize;

pub const CACHE_LINE: u64 = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldLayout {
    pub name: String,
    pub offset: u64,
    pub size: u64,
    pub align: u64,
    #[serde(rename = "type")]
    pub type_name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Hole {
    pub offset: u64,
    pub size: u64,
}

/// One cache line of the struct and the fields that have bytes in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheLine {
    pub index: u64,
    pub offset: u64,
    pub fields: Vec<String>,
    /// Fields that start in an earlier line or end in a later one.
    pub split: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructLayout {
    pub name: String,
    pub size: u64,
    pub align: u64,
    pub fields: Vec<FieldLayout>,
    pub holes: Vec<Hole>,
    pub cache_lines: Vec<CacheLine>,
    /// Where the layout was read from: `dwarf`, `runtime type descriptor`,
    /// or `mapscope table` (the per-version table, for stripped binaries).
    pub source: String,
}

impl StructLayout {
    /// Builds the report from fields in any order. Fields that overlap an
    /// earlier one (unions do not exist in Go; a corrupt input might) are kept
    /// but do not create negative holes.
    pub fn new(name: impl Into<String>, size: u64, align: u64, mut fields: Vec<FieldLayout>, source: &str) -> Self {
        fields.sort_by_key(|f| (f.offset, f.size));
        let holes = holes(&fields, size);
        let cache_lines = cache_lines(&fields, size);
        StructLayout {
            name: name.into(),
            size,
            align,
            fields,
            holes,
            cache_lines,
            source: source.to_string(),
        }
    }

    pub fn field(&self, name: &str) -> Option<&FieldLayout> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn padding(&self) -> u64 {
        self.holes.iter().map(|h| h.size).sum()
    }
}

fn holes(fields: &[FieldLayout], size: u64) -> Vec<Hole> {
    let mut out = Vec::new();
    let mut end = 0u64;
    for f in fields {
        if f.offset > end {
            out.push(Hole {
                offset: end,
                size: f.offset - end,
            });
        }
        end = end.max(f.offset.saturating_add(f.size));
    }
    if size > end {
        out.push(Hole {
            offset: end,
            size: size - end,
        });
    }
    out
}

/// Lines are listed only up to a bound: a 1 MB array type would otherwise
/// produce 16 384 of them. Past the bound the report stops.
const MAX_LINES: u64 = 4096;

fn cache_lines(fields: &[FieldLayout], size: u64) -> Vec<CacheLine> {
    let n = size.div_ceil(CACHE_LINE).min(MAX_LINES);
    (0..n)
        .map(|index| {
            let lo = index * CACHE_LINE;
            let hi = lo + CACHE_LINE;
            let mut line = CacheLine {
                index,
                offset: lo,
                fields: Vec::new(),
                split: Vec::new(),
            };
            for f in fields {
                let (start, end) = (f.offset, f.offset.saturating_add(f.size));
                if start < hi && end > lo && f.size > 0 {
                    line.fields.push(f.name.clone());
                    if start < lo || end > hi {
                        line.split.push(f.name.clone());
                    }
                }
            }
            line
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str, offset: u64, size: u64) -> FieldLayout {
        FieldLayout {
            name: name.into(),
            offset,
            size,
            align: size.clamp(1, 8),
            type_name: String::new(),
        }
    }

    #[test]
    fn holes_between_and_after_fields() {
        // struct { a int8; b int64; c int16 } as the Go compiler lays it out.
        let l = StructLayout::new("P", 24, 8, vec![f("c", 16, 2), f("a", 0, 1), f("b", 8, 8)], "test");
        assert_eq!(l.holes, vec![Hole { offset: 1, size: 7 }, Hole { offset: 18, size: 6 }]);
        assert_eq!(l.padding(), 13);
        assert_eq!(l.fields[0].name, "a");
    }

    #[test]
    fn cache_lines_name_split_fields() {
        let l = StructLayout::new("G", 136, 8, vec![f("ctrl", 0, 8), f("slots", 8, 128)], "test");
        assert_eq!(l.cache_lines.len(), 3);
        assert_eq!(l.cache_lines[0].fields, vec!["ctrl", "slots"]);
        assert_eq!(l.cache_lines[0].split, vec!["slots"]);
        assert_eq!(l.cache_lines[2].fields, vec!["slots"]);
    }
}
