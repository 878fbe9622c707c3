//! A key's identity for matching entries across snapshots: its `fmt.Sprint`
//! text and its content bytes, never its hash or address.
//!
//! The content bytes are the key's bytes as Go compares them: scalars as
//! their memory bytes, a string as the bytes it points at (its data pointer
//! differs when a key is re-inserted: string keys are copied on overwrite),
//! an interface as its dynamic type's name and then its value, pointers and
//! channels as the address they hold (Go compares those by address). Text
//! alone is not enough: `int(1)` and `int64(1)` in an `any`, `+0` and `-0`,
//! or two NaN payloads print alike.

use crate::values::{Value, ValueKind};

/// Appends the key identity of `v`: its text, a 0xff separator (never part
/// of valid UTF-8 and so rare in text), then its content bytes. Returns the
/// length of the text.
pub fn push_identity(out: &mut Vec<u8>, v: &Value) -> usize {
    let start = out.len();
    v.write_go(out);
    let text = out.len() - start;
    out.push(0xff);
    push_content(out, v);
    text
}

fn push_len(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(&n.to_le_bytes());
}

/// The content bytes of one value, tagged by kind so that different shapes
/// never encode alike.
pub fn push_content(out: &mut Vec<u8>, v: &Value) {
    match &v.kind {
        ValueKind::Bool(b) => out.extend_from_slice(&[b'b', u8::from(*b)]),
        ValueKind::Int(i) => {
            out.push(b'i');
            out.extend_from_slice(&i.to_le_bytes());
        }
        ValueKind::Uint(u) => {
            out.push(b'u');
            out.extend_from_slice(&u.to_le_bytes());
        }
        ValueKind::Float32(f) => {
            out.push(b'f');
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        ValueKind::Float64(f) => {
            out.push(b'F');
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        ValueKind::Complex64(r, i) => {
            out.push(b'c');
            out.extend_from_slice(&r.to_bits().to_le_bytes());
            out.extend_from_slice(&i.to_bits().to_le_bytes());
        }
        ValueKind::Complex128(r, i) => {
            out.push(b'C');
            out.extend_from_slice(&r.to_bits().to_le_bytes());
            out.extend_from_slice(&i.to_bits().to_le_bytes());
        }
        ValueKind::String { bytes, len } => {
            out.push(b's');
            push_len(out, *len);
            out.extend_from_slice(bytes);
        }
        ValueKind::Array { elems, len } => {
            out.push(b'a');
            push_len(out, *len);
            for e in elems {
                push_content(out, e);
            }
        }
        ValueKind::Slice { data, len, .. } => {
            // Not comparable in Go; only reachable through corrupt types.
            out.push(b'S');
            push_len(out, *data);
            push_len(out, *len);
        }
        ValueKind::Struct { fields } => {
            out.push(b'{');
            push_len(out, fields.len() as u64);
            for f in fields {
                push_content(out, &f.value);
            }
        }
        ValueKind::Pointer { ptr, .. } => {
            out.push(b'p');
            push_len(out, *ptr);
        }
        ValueKind::UnsafePointer(p) => {
            out.push(b'P');
            push_len(out, *p);
        }
        ValueKind::Chan(c) => {
            out.push(b'h');
            push_len(out, *c);
        }
        ValueKind::Func(f) => {
            out.push(b'g');
            push_len(out, f.as_ref().map_or(0, |f| f.funcval));
        }
        ValueKind::Map { header, .. } => {
            out.push(b'm');
            push_len(out, *header);
        }
        ValueKind::Interface(None) => out.push(b'n'),
        ValueKind::Interface(Some(d)) => {
            out.push(b'I');
            push_len(out, d.type_name.len() as u64);
            out.extend_from_slice(d.type_name.as_bytes());
            push_content(out, &d.value);
        }
        // What could not be read is only ever the same as itself.
        ValueKind::Elided(_) | ValueKind::Unreadable(_) => {
            out.push(b'?');
            push_len(out, v.addr);
        }
    }
}
