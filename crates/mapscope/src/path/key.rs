//! The key to look up, from what the user typed: a Go literal (`"triple"`,
//! `42`, `-7`, `0x1f`, `1.5`, `true`, `'x'`), bare text for a string key, or
//! the key's raw bytes in hex (a string key's bytes, any other key's memory
//! image). The result is the key as a map slot would hold it, with the parts
//! a slot points to (a string's bytes, an interface's value) placed in the
//! [`Overlay`](super::overlay::Overlay).

use super::overlay::OVERLAY_BASE;
use super::PathError;
use crate::binary::{GoBinary, GoType, Kind};

/// How the key was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySpec {
    /// Go literal syntax, or bare text for a string-keyed map.
    Literal(String),
    /// The key's bytes: a string's contents, else its in-memory image.
    Hex(String),
}

/// The key as a slot holds it, plus the synthetic memory it points into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedKey {
    pub slot: Vec<u8>,
    pub regions: Vec<(u64, Vec<u8>)>,
}

/// Where an interface key's value goes; a string's bytes go at the base.
const IFACE_VALUE: u64 = OVERLAY_BASE + 0x10_0000;

fn bad(ty: &GoType, input: &str, why: impl std::fmt::Display) -> PathError {
    PathError::BadKey {
        key: input.to_string(),
        key_type: ty.name.clone(),
        why: why.to_string(),
    }
}

/// The runtime descriptor of a type by name: the type index, then DWARF
/// (which names the descriptor of each type it describes).
pub fn type_by_name(bin: &GoBinary, name: &str) -> Option<u64> {
    bin.runtime_type_by_name(name)
        .ok()
        .flatten()
        .and_then(|t| t.runtime_addr)
        .or_else(|| bin.dwarf_type_by_name(name).ok().flatten().and_then(|t| t.runtime_addr))
}

/// Parses `spec` as a key of type `ty` (the map's key type).
pub fn parse_key(bin: &GoBinary, ty: &GoType, spec: &KeySpec) -> Result<ParsedKey, PathError> {
    parse_key_with(ty, spec, &|name| type_by_name(bin, name))
}

/// [`parse_key`] with the caller's way of finding the runtime descriptor of
/// an interface key's dynamic type (`int`, `string`, `float64`, …).
pub fn parse_key_with(
    ty: &GoType,
    spec: &KeySpec,
    find_type: &dyn Fn(&str) -> Option<u64>,
) -> Result<ParsedKey, PathError> {
    match spec {
        KeySpec::Hex(h) => {
            let bytes = unhex(h).ok_or_else(|| bad(ty, h, "not a hex byte string"))?;
            if ty.kind == Kind::String {
                return Ok(string_key(bytes));
            }
            if bytes.len() as u64 != ty.size {
                return Err(bad(
                    ty,
                    h,
                    format!("{} bytes given, the key is {} bytes", bytes.len(), ty.size),
                ));
            }
            Ok(ParsedKey {
                slot: bytes,
                regions: Vec::new(),
            })
        }
        KeySpec::Literal(text) => literal(find_type, ty, text.trim()).map_err(|why| bad(ty, text, why)),
    }
}

fn string_key(bytes: Vec<u8>) -> ParsedKey {
    let mut slot = OVERLAY_BASE.to_le_bytes().to_vec();
    slot.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    ParsedKey {
        slot,
        regions: vec![(OVERLAY_BASE, bytes)],
    }
}

fn plain(slot: Vec<u8>) -> ParsedKey {
    ParsedKey {
        slot,
        regions: Vec::new(),
    }
}

fn literal(find_type: &dyn Fn(&str) -> Option<u64>, ty: &GoType, text: &str) -> Result<ParsedKey, String> {
    let size = ty.size;
    match ty.kind {
        Kind::String => Ok(string_key(match text.chars().next() {
            Some('"') | Some('`') => unquote(text)?,
            // Bare text: the key is exactly what was typed.
            _ => text.as_bytes().to_vec(),
        })),
        Kind::Bool => match text {
            "true" => Ok(plain(vec![1])),
            "false" => Ok(plain(vec![0])),
            _ => Err("a bool key is true or false".into()),
        },
        Kind::Int | Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64 => {
            let v = integer(text)?;
            let bits = size.saturating_mul(8).clamp(8, 64) as u32;
            let (lo, hi) = (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1);
            if v < lo || v > hi {
                return Err(format!("{v} overflows {}", ty.name));
            }
            Ok(plain(le_bytes(v as u64, size)))
        }
        Kind::Uint | Kind::Uint8 | Kind::Uint16 | Kind::Uint32 | Kind::Uint64 | Kind::Uintptr => {
            let v = integer(text)?;
            let bits = size.saturating_mul(8).clamp(8, 64) as u32;
            let hi = if bits == 64 {
                u64::MAX as i128
            } else {
                (1i128 << bits) - 1
            };
            if v < 0 || v > hi {
                return Err(format!("{v} overflows {}", ty.name));
            }
            Ok(plain(le_bytes(v as u64, size)))
        }
        // A pointer-shaped key is typed as the address fmt prints (or nil).
        Kind::Pointer | Kind::Chan | Kind::UnsafePointer => {
            let v = if matches!(text, "nil" | "<nil>") {
                0
            } else {
                integer(text)?
            };
            u64::try_from(v)
                .map(|v| plain(le_bytes(v, size)))
                .map_err(|_| "an address is not negative".into())
        }
        Kind::Float32 => Ok(plain(float32(text)?.to_bits().to_le_bytes().to_vec())),
        Kind::Float64 => Ok(plain(float64(text)?.to_bits().to_le_bytes().to_vec())),
        Kind::Complex64 => {
            let (re, im) = complex(text)?;
            let mut b = float32(re)?.to_bits().to_le_bytes().to_vec();
            b.extend_from_slice(&float32(im)?.to_bits().to_le_bytes());
            Ok(plain(b))
        }
        Kind::Complex128 => {
            let (re, im) = complex(text)?;
            let mut b = float64(re)?.to_bits().to_le_bytes().to_vec();
            b.extend_from_slice(&float64(im)?.to_bits().to_le_bytes());
            Ok(plain(b))
        }
        Kind::Interface => interface(find_type, ty, text),
        _ => Err(format!("a {} key is given with --key-hex (its memory image)", ty.name)),
    }
}

/// An untyped constant in an `interface{}` takes Go's default type.
fn interface(find_type: &dyn Fn(&str) -> Option<u64>, ty: &GoType, text: &str) -> Result<ParsedKey, String> {
    if matches!(text, "nil" | "<nil>") {
        return Ok(plain(vec![0; 16]));
    }
    // An interface with methods holds an itab, not a type: only nil can be
    // typed as a literal.
    if has_methods(ty) {
        return Err(format!("a {} key other than nil is given with --key-hex", ty.name));
    }
    let (type_name, value): (&str, Vec<u8>) = match text.chars().next() {
        Some('"') | Some('`') => ("string", Vec::new()),
        Some('\'') => ("int32", (rune(text)? as u32).to_le_bytes().to_vec()),
        _ if text == "true" || text == "false" => ("bool", vec![u8::from(text == "true")]),
        _ => match integer(text) {
            Ok(v) => (
                "int",
                i64::try_from(v)
                    .map_err(|_| format!("{v} overflows int"))?
                    .to_le_bytes()
                    .to_vec(),
            ),
            Err(_) => ("float64", float64(text)?.to_bits().to_le_bytes().to_vec()),
        },
    };
    let ty = find_type(type_name).ok_or_else(|| {
        format!("no {type_name} type found in the binary or among the map's keys, so no such key is in the map")
    })?;
    let mut regions = Vec::new();
    let data = if type_name == "string" {
        let s = unquote(text)?;
        let mut header = (OVERLAY_BASE).to_le_bytes().to_vec();
        header.extend_from_slice(&(s.len() as u64).to_le_bytes());
        regions.push((OVERLAY_BASE, s));
        header
    } else {
        value
    };
    regions.push((IFACE_VALUE, data));
    let mut slot = ty.to_le_bytes().to_vec();
    slot.extend_from_slice(&IFACE_VALUE.to_le_bytes());
    Ok(ParsedKey { slot, regions })
}

fn has_methods(ty: &GoType) -> bool {
    matches!(&ty.detail, crate::binary::TypeDetail::Interface { methods } if !methods.is_empty())
}

fn le_bytes(v: u64, size: u64) -> Vec<u8> {
    let n = usize::try_from(size).unwrap_or(8).min(8);
    v.to_le_bytes().get(..n).map(<[u8]>::to_vec).unwrap_or_default()
}

/// Hex bytes, with an optional `0x` and any spaces, `_` or `:` between.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    let digits: Vec<u8> = s
        .bytes()
        .filter(|b| !matches!(b, b' ' | b'_' | b':'))
        .map(|b| (b as char).to_digit(16).map(|d| d as u8))
        .collect::<Option<_>>()?;
    if digits.len() % 2 != 0 {
        return None;
    }
    Some(
        digits
            .chunks_exact(2)
            .map(|p| p.iter().fold(0u8, |a, d| (a << 4) | d))
            .collect(),
    )
}

/// A Go integer literal (decimal, `0x`, `0o`, `0b`, legacy `0755` octal,
/// `_` separators, a sign) or a rune literal; i128 so every int64 and
/// uint64 fits and overflow can be reported by the caller.
pub fn integer(text: &str) -> Result<i128, String> {
    if text.starts_with('\'') {
        return Ok(i128::from(rune(text)? as u32));
    }
    let (neg, body) = match text.as_bytes().first() {
        Some(b'-') => (true, text.get(1..).unwrap_or("")),
        Some(b'+') => (false, text.get(1..).unwrap_or("")),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, lower.get(1..).unwrap_or(""))
    } else {
        (10, lower.as_str())
    };
    let digits = digits.strip_prefix('_').unwrap_or(digits);
    if digits.is_empty() || digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
        return Err(format!("{text:?} is not a Go integer literal"));
    }
    let clean: String = digits.chars().filter(|&c| c != '_').collect();
    let v = u128::from_str_radix(&clean, radix).map_err(|_| format!("{text:?} is not a Go integer literal"))?;
    let v = i128::try_from(v).map_err(|_| format!("{text} is out of range"))?;
    Ok(if neg { -v } else { v })
}

fn float_text(text: &str) -> Result<String, String> {
    let t = text.trim_start_matches('+');
    // fmt's spellings of the non-finite values, so that keys can be pasted
    // from `show`.
    let special = match t.to_ascii_lowercase().as_str() {
        "inf" => Some("inf"),
        "-inf" => Some("-inf"),
        "nan" => Some("NaN"),
        _ => None,
    };
    if let Some(s) = special {
        return Ok(s.to_string());
    }
    if t.starts_with('\'') || t.to_ascii_lowercase().starts_with("0x") || t.to_ascii_lowercase().starts_with("-0x") {
        return integer(text).map(|v| v.to_string());
    }
    if t.is_empty()
        || !t
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+' | b'_'))
    {
        return Err(format!("{text:?} is not a Go float literal"));
    }
    Ok(t.chars().filter(|&c| c != '_').collect())
}

pub fn float64(text: &str) -> Result<f64, String> {
    let t = float_text(text)?;
    let v: f64 = t.parse().map_err(|_| format!("{text:?} is not a Go float literal"))?;
    if v.is_infinite() && !t.contains("inf") {
        return Err(format!("{text} overflows float64"));
    }
    Ok(v)
}

pub fn float32(text: &str) -> Result<f32, String> {
    let t = float_text(text)?;
    let v: f32 = t.parse().map_err(|_| format!("{text:?} is not a Go float literal"))?;
    if v.is_infinite() && !t.contains("inf") {
        return Err(format!("{text} overflows float32"));
    }
    Ok(v)
}

/// `(1-2i)` as fmt prints a complex number, or `re+imi` without parentheses.
fn complex(text: &str) -> Result<(&str, &str), String> {
    let t = text.strip_prefix('(').and_then(|t| t.strip_suffix(')')).unwrap_or(text);
    let t = t
        .strip_suffix('i')
        .ok_or_else(|| format!("{text:?} is not a complex number like (1-2i)"))?;
    // The imaginary part's sign: the last + or - that is not the first
    // character and does not follow an exponent's e.
    let bytes = t.as_bytes();
    let split = (1..bytes.len())
        .rev()
        .find(|&i| {
            matches!(bytes.get(i), Some(b'+') | Some(b'-')) && !matches!(bytes.get(i - 1), Some(b'e') | Some(b'E'))
        })
        .ok_or_else(|| format!("{text:?} is not a complex number like (1-2i)"))?;
    let (re, im) = t.split_at(split);
    Ok((re, im))
}

/// A rune literal: `'x'`, `'世'`, `'\n'`, `'\x41'`, `'\u00e9'`.
pub fn rune(text: &str) -> Result<char, String> {
    let inner = text
        .strip_prefix('\'')
        .and_then(|t| t.strip_suffix('\''))
        .ok_or_else(|| format!("{text:?} is not a rune literal"))?;
    let mut chars = inner.chars().peekable();
    let c = match chars.next() {
        Some('\\') => escape(&mut chars, '\'')?.ok_or_else(|| format!("{text:?}: a rune is one character"))?,
        Some(c) => Esc::Char(c),
        None => return Err("an empty rune literal".into()),
    };
    if chars.next().is_some() {
        return Err(format!("{text:?}: a rune literal holds one character"));
    }
    match c {
        Esc::Char(c) => Ok(c),
        Esc::Byte(b) => Ok(char::from(b)),
    }
}

enum Esc {
    Char(char),
    Byte(u8),
}

/// One escape after its backslash. `quote` is the delimiter that may be
/// escaped (`"` in strings, `'` in runes).
fn escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, quote: char) -> Result<Option<Esc>, String> {
    let c = chars.next().ok_or("a trailing backslash")?;
    let mut hex = |n: usize| -> Result<u32, String> {
        let mut v = 0u32;
        for _ in 0..n {
            let d = chars.next().and_then(|c| c.to_digit(16)).ok_or("a short hex escape")?;
            v = v * 16 + d;
        }
        Ok(v)
    };
    Ok(Some(match c {
        'a' => Esc::Byte(7),
        'b' => Esc::Byte(8),
        'f' => Esc::Byte(12),
        'n' => Esc::Byte(b'\n'),
        'r' => Esc::Byte(b'\r'),
        't' => Esc::Byte(b'\t'),
        'v' => Esc::Byte(11),
        '\\' => Esc::Byte(b'\\'),
        'x' => Esc::Byte(hex(2)? as u8),
        'u' => Esc::Char(char::from_u32(hex(4)?).ok_or("an invalid \\u code point")?),
        'U' => Esc::Char(char::from_u32(hex(8)?).ok_or("an invalid \\U code point")?),
        '0'..='7' => {
            let mut v = c.to_digit(8).unwrap_or(0);
            for _ in 0..2 {
                let d = chars.next().and_then(|c| c.to_digit(8)).ok_or("a short octal escape")?;
                v = v * 8 + d;
            }
            Esc::Byte(u8::try_from(v).map_err(|_| "an octal escape above \\377")?)
        }
        c if c == quote => Esc::Byte(c as u8),
        c => return Err(format!("unknown escape \\{c}")),
    }))
}

/// A Go string literal, interpreted (`"…"` with escapes) or raw (`` `…` ``),
/// as the bytes it denotes (`\xff` is one byte, not UTF-8).
pub fn unquote(text: &str) -> Result<Vec<u8>, String> {
    if let Some(raw) = text.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        // Carriage returns are dropped from raw strings.
        return Ok(raw.bytes().filter(|&b| b != b'\r').collect());
    }
    let inner = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|_| text.len() >= 2)
        .ok_or_else(|| format!("{text:?} is not a Go string literal"))?;
    let mut out = Vec::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match escape(&mut chars, '"')? {
                Some(Esc::Byte(b)) => out.push(b),
                Some(Esc::Char(c)) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                None => {}
            },
            '"' => return Err(format!("{text:?}: an unescaped quote inside the string")),
            c => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(integer("0x1f"), Ok(31));
        assert_eq!(integer("-7"), Ok(-7));
        assert_eq!(integer("0755"), Ok(0o755));
        assert_eq!(integer("1_000"), Ok(1000));
        assert_eq!(integer("0b101"), Ok(5));
        assert_eq!(integer("'x'"), Ok(120));
        assert!(integer("1__0").is_err());
        assert!(integer("abc").is_err());
        assert_eq!(unquote(r#""a\"b\n\xff\u00e9""#), Ok(b"a\"b\n\xff\xc3\xa9".to_vec()));
        assert_eq!(unquote("`raw\\n`"), Ok(b"raw\\n".to_vec()));
        assert_eq!(rune("'世'"), Ok('世'));
        assert_eq!(rune(r"'\''"), Ok('\''));
        assert_eq!(float64("1e21"), Ok(1e21));
        assert_eq!(float64("-0").map(f64::to_bits), Ok((-0.0f64).to_bits()));
        assert!(float64("NaN").is_ok_and(f64::is_nan));
        assert!(float32("1e39").is_err());
        assert_eq!(complex("(1-2i)"), Ok(("1", "-2")));
        assert_eq!(complex("(0.5+1e+21i)"), Ok(("0.5", "+1e+21")));
        assert_eq!(unhex("0x00ff"), Some(vec![0, 255]));
        assert_eq!(unhex("abc"), None);
    }
}
