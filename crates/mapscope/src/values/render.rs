//! `fmt.Sprint` of a decoded value (`fmt/print.go` printValue with verb
//! `v`), as bytes: Go strings are arbitrary bytes and fmt copies them as is.
//!
//! Methods (`String`, `Error`, `Format`) are not applied: they are code in
//! the target, which a memory reader cannot run.
//!
//! What fmt never prints gets a marker of its own: `…` for a truncated
//! string, slice, array or map and for an elided part, and
//! `<unreadable: why>` for memory that could not be read.

use std::io::Write as _;

use super::float::{write_complex, write_float};
use super::value::{Value, ValueKind};

const NIL: &[u8] = b"<nil>";
const MORE: &str = "…";

/// How strings are written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strings {
    /// As fmt.Sprint copies them: the bytes themselves.
    Raw,
    /// As `%q` writes them (`strconv.Quote`): quoted, with control and
    /// format characters and invalid UTF-8 escaped, safe for a terminal.
    Quoted,
}

/// Appends the rendering of `v` to `out`.
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    write_value_as(out, v, Strings::Raw)
}

pub(crate) fn write_value_as(out: &mut Vec<u8>, v: &Value, strings: Strings) {
    let write_value = |out: &mut Vec<u8>, v: &Value| write_value_as(out, v, strings);
    let write_seq = |out: &mut Vec<u8>, elems: &[Value], len: u64| write_seq(out, elems, len, strings);
    match &v.kind {
        ValueKind::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        ValueKind::Int(i) => write_int(out, *i),
        ValueKind::Uint(u) => write_uint(out, *u),
        ValueKind::Float32(f) => write_float(out, f64::from(*f), true, false),
        ValueKind::Float64(f) => write_float(out, *f, false, false),
        ValueKind::Complex64(r, i) => write_complex(out, f64::from(*r), f64::from(*i), true),
        ValueKind::Complex128(r, i) => write_complex(out, *r, *i, false),
        ValueKind::String { bytes, len } => {
            let cut = (bytes.len() as u64) < *len;
            if strings == Strings::Quoted {
                write_quoted(out, bytes);
                if cut {
                    let _ = write!(out, "{MORE}({len} bytes)");
                }
            } else {
                out.extend_from_slice(bytes);
                if cut {
                    out.extend_from_slice(MORE.as_bytes());
                }
            }
        }
        ValueKind::Array { elems, len } | ValueKind::Slice { elems, len, .. } => {
            out.push(b'[');
            write_seq(out, elems, *len);
            out.push(b']');
        }
        ValueKind::Struct { fields } => {
            out.push(b'{');
            for (i, f) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_value(out, &f.value);
            }
            out.push(b'}');
        }
        ValueKind::Pointer { ptr, target } => match target {
            Some(t) => {
                out.push(b'&');
                write_value(out, t);
            }
            None => write_pointer(out, *ptr),
        },
        ValueKind::UnsafePointer(p) | ValueKind::Chan(p) => write_pointer(out, *p),
        ValueKind::Func(f) => write_pointer(out, f.as_ref().map_or(0, |f| f.pc)),
        ValueKind::Map {
            len, entries, error, ..
        } => {
            out.extend_from_slice(b"map[");
            for (i, (k, e)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                write_value(out, k);
                out.push(b':');
                write_value(out, e);
            }
            if error.is_some() || (entries.len() as u64) < *len {
                if !entries.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(MORE.as_bytes());
            }
            out.push(b']');
        }
        ValueKind::Interface(d) => match d {
            Some(d) => write_value(out, &d.value),
            None => out.extend_from_slice(NIL),
        },
        ValueKind::Elided(_) => out.extend_from_slice(MORE.as_bytes()),
        ValueKind::Unreadable(e) => {
            let _ = write!(out, "<unreadable: {e}>");
        }
    }
}

fn write_seq(out: &mut Vec<u8>, elems: &[Value], len: u64, strings: Strings) {
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_value_as(out, e, strings);
    }
    if (elems.len() as u64) < len {
        if !elems.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(MORE.as_bytes());
    }
}

/// `strconv.Quote`: `\a \b \f \n \r \t \v \\ \"` by name, other
/// control bytes and invalid UTF-8 as `\xNN`, non-printing characters
/// (C1 controls, format characters such as bidi overrides and zero-width
/// joiners, line and paragraph separators) as `\uNNNN`.
pub(crate) fn write_quoted(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\u{7}' => out.extend_from_slice(b"\\a"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '\u{b}' => out.extend_from_slice(b"\\v"),
                '\\' => out.extend_from_slice(b"\\\\"),
                '"' => out.extend_from_slice(b"\\\""),
                c if (c as u32) < 0x20 || c == '\u{7f}' => {
                    let _ = write!(out, "\\x{:02x}", c as u32);
                }
                c if !prints(c) => {
                    if (c as u32) < 0x10000 {
                        let _ = write!(out, "\\u{:04x}", c as u32);
                    } else {
                        let _ = write!(out, "\\U{:08x}", c as u32);
                    }
                }
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out.push(b'"');
}

/// Whether Go's `strconv.IsPrint` holds, for the characters that matter to
/// a terminal: controls, format characters (Cf), separators other than the
/// ASCII space, private use and noncharacters do not print.
fn prints(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || matches!(u, 0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f | 0x2028..=0x202e
            | 0x2060..=0x206f | 0xfeff | 0xfff9..=0xfffb | 0xe000..=0xf8ff | 0xfdd0..=0xfdef
            | 0xe0001 | 0xe0020..=0xe007f | 0xf0000..)
        || (c.is_whitespace() && c != ' ')
        || u & 0xfffe == 0xfffe)
}

/// fmtPointer with `v`: `0x` and lowercase hex, or `<nil>`.
fn write_pointer(out: &mut Vec<u8>, p: u64) {
    if p == 0 {
        out.extend_from_slice(NIL);
    } else {
        let _ = write!(out, "{p:#x}");
    }
}

/// Decimal digits without going through `core::fmt` (the hot path of
/// integer maps).
pub(crate) fn write_uint(out: &mut Vec<u8>, mut u: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(b) = buf.get_mut(i) {
            *b = b'0' + (u % 10) as u8;
        }
        u /= 10;
        if u == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or(&[]));
}

pub(crate) fn write_int(out: &mut Vec<u8>, i: i64) {
    if i < 0 {
        out.push(b'-');
    }
    write_uint(out, i.unsigned_abs());
}

#[cfg(test)]
mod quote_tests {
    use super::write_quoted;

    fn q(b: &[u8]) -> String {
        let mut out = Vec::new();
        write_quoted(&mut out, b);
        String::from_utf8_lossy(&out).into_owned()
    }

    /// strconv.Quote's output for the same bytes (go doc strconv.Quote).
    #[test]
    fn control_bytes_and_bad_utf8_are_escaped_as_strconv_quote_does() {
        assert_eq!(q(b"quote\"and\nnewline"), r#""quote\"and\nnewline""#);
        assert_eq!(q(b"\x1b[31mred\x07"), r#""\x1b[31mred\a""#);
        assert_eq!(q(b"\xff\xfe\x00binary"), r#""\xff\xfe\x00binary""#);
        assert_eq!(q("héllo wörld".as_bytes()), "\"héllo wörld\"");
        // C1 CSI and a bidi override.
        assert_eq!(q("\u{9b}2J\u{202e}".as_bytes()), r#""\u009b2J\u202e""#);
        assert_eq!(q(b"\\"), r#""\\""#);
    }
}
