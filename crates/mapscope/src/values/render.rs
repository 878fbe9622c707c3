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

/// Appends the rendering of `v` to `out`.
pub(crate) fn write_value(out: &mut Vec<u8>, v: &Value) {
    match &v.kind {
        ValueKind::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        ValueKind::Int(i) => write_int(out, *i),
        ValueKind::Uint(u) => write_uint(out, *u),
        ValueKind::Float32(f) => write_float(out, f64::from(*f), true, false),
        ValueKind::Float64(f) => write_float(out, *f, false, false),
        ValueKind::Complex64(r, i) => write_complex(out, f64::from(*r), f64::from(*i), true),
        ValueKind::Complex128(r, i) => write_complex(out, *r, *i, false),
        ValueKind::String { bytes, len } => {
            out.extend_from_slice(bytes);
            if (bytes.len() as u64) < *len {
                out.extend_from_slice(MORE.as_bytes());
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

fn write_seq(out: &mut Vec<u8>, elems: &[Value], len: u64) {
    for (i, e) in elems.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        write_value(out, e);
    }
    if (elems.len() as u64) < len {
        if !elems.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(MORE.as_bytes());
    }
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
