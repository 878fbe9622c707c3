//! The compiler's generated map hashers up to Go 1.26
//! (`cmd/compile/internal/reflectdata/alg.go`: `genhash`, `hashFunc`,
//! `hashfor`; `compare.Memrun`).

use super::hasher::HasherKind;
use super::keytype::{Alg, KeyType, MAX_DEPTH};
use super::plan::Op;
use super::HashError;

/// The map hasher up to 1.26 (`reflectdata.genhash`): by the whole type's
/// algorithm first, a generated function only for `ASPECIAL`.
pub(crate) fn classic_top(t: &KeyType, ops: &mut Vec<Op>) -> Result<HasherKind, HashError> {
    let alg = t.alg()?;
    if alg == Alg::Mem {
        let size = t.size()?;
        let name = match size {
            0 => "memhash0",
            1 => "memhash8",
            2 => "memhash16",
            4 => "memhash32",
            8 => "memhash64",
            16 => "memhash128",
            _ => {
                ops.push(Op::Mem { off: 0, len: size });
                return Ok(HasherKind::MemhashVarlen(size));
            }
        };
        match size {
            0 => {}
            4 => ops.push(Op::Mem32 { off: 0 }),
            8 => ops.push(Op::Mem64 { off: 0 }),
            _ => ops.push(Op::Mem { off: 0, len: size }),
        }
        return Ok(HasherKind::Runtime(name));
    }
    if let Some(name) = primitive(alg, 0, ops) {
        return Ok(HasherKind::Runtime(name));
    }
    classic_hash_func(t, 0, ops, 0)?;
    Ok(HasherKind::Generated { signature: None })
}

/// Pushes the runtime primitive for a non-memory, non-special algorithm.
fn primitive(alg: Alg, off: u64, ops: &mut Vec<Op>) -> Option<&'static str> {
    Some(match alg {
        Alg::Str => {
            ops.push(Op::Str { off });
            "strhash"
        }
        Alg::F32 => {
            ops.push(Op::F32 { off });
            "f32hash"
        }
        Alg::F64 => {
            ops.push(Op::F64 { off });
            "f64hash"
        }
        Alg::C64 => {
            ops.push(Op::F32 { off });
            ops.push(Op::F32 {
                off: off.saturating_add(4),
            });
            "c64hash"
        }
        Alg::C128 => {
            ops.push(Op::F64 { off });
            ops.push(Op::F64 {
                off: off.saturating_add(8),
            });
            "c128hash"
        }
        Alg::NilInter => {
            ops.push(Op::NilInter { off });
            "nilinterhash"
        }
        Alg::Inter => {
            ops.push(Op::Inter { off });
            "interhash"
        }
        Alg::Mem | Alg::Special => return None,
    })
}

/// `hashfor(t)` at `off`: the primitive, or the generated function.
fn classic_hash_for(t: &KeyType, off: u64, ops: &mut Vec<Op>, depth: usize) -> Result<(), HashError> {
    match t.alg()? {
        Alg::Mem => Err(HashError::Internal("hashfor with plain memory")),
        Alg::Special => classic_hash_func(t, off, ops, depth),
        alg => {
            primitive(alg, off, ops);
            Ok(())
        }
    }
}

/// `hashFunc(t)` up to 1.26: arrays loop over their elements; structs hash
/// maximal runs of memory fields with one `memhash(p, h, len)` each and
/// every other field with its own function.
fn classic_hash_func(t: &KeyType, off: u64, ops: &mut Vec<Op>, depth: usize) -> Result<(), HashError> {
    if depth > MAX_DEPTH {
        return Err(HashError::BadKeyType("key type nested too deeply"));
    }
    match t {
        KeyType::Array { len, elem } => {
            let mut body = Vec::new();
            classic_hash_for(elem, 0, &mut body, depth + 1)?;
            ops.push(Op::Loop {
                off,
                count: *len,
                stride: elem.size()?,
                body,
            });
        }
        KeyType::Struct { fields, .. } => {
            let mut i = 0;
            while let Some(f) = fields.get(i) {
                if f.blank {
                    i += 1;
                    continue;
                }
                let at = off
                    .checked_add(f.offset)
                    .ok_or(HashError::BadKeyType("offset overflows"))?;
                if f.ty.alg()? != Alg::Mem {
                    classic_hash_for(&f.ty, at, ops, depth + 1)?;
                    i += 1;
                    continue;
                }
                // compare.Memrun: extend while the previous field is not
                // followed by padding and the next is a named memory field.
                let mut next = i + 1;
                while let Some(nf) = fields.get(next) {
                    if t.is_padded_field(next - 1)? || nf.blank || nf.ty.alg()? != Alg::Mem {
                        break;
                    }
                    next += 1;
                }
                let last = fields.get(next - 1).ok_or(HashError::Internal("memory run"))?;
                let len = last
                    .offset
                    .checked_add(last.ty.size()?)
                    .and_then(|end| end.checked_sub(f.offset))
                    .ok_or(HashError::BadKeyType("struct fields overlap or are out of order"))?;
                ops.push(Op::Mem { off: at, len });
                i = next;
            }
        }
        _ => return Err(HashError::Internal("generated hasher for a non-composite type")),
    }
    Ok(())
}
