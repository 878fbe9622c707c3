//! Past the elem slot: the reads a use of the value makes. A func value is
//! a pointer to a funcval whose first word is the code pointer (and that
//! code belongs to a function with a file and line); a pointer leads to its
//! pointee; an interface to its dynamic type and, unless the value is
//! pointer-shaped, to the value behind its data word.

use super::{PathError, PathMap, Recorder, STEP_BYTES};
use crate::binary::{GoType, Kind, TypeDetail};

/// Offset of `Type` in an itab.
const ITAB_TYPE: u64 = 8;

/// Records the hops behind the value at `elem` of type `ty`. Failures end
/// the hops with a note: the path up to the value is complete either way.
pub(crate) fn follow(pm: &PathMap<'_>, rec: &mut Recorder<'_>, elem: u64, ty: &GoType, notes: &mut Vec<String>) {
    if let Err(e) = hop(pm, rec, elem, ty) {
        notes.push(format!("following the value: {e}"));
    }
}

fn hop(pm: &PathMap<'_>, rec: &mut Recorder<'_>, elem: u64, ty: &GoType) -> Result<(), PathError> {
    let word = |at: u64| crate::memory::MemoryExt::read_u64(&*pm.mem, at).unwrap_or(0);
    match ty.kind {
        Kind::Func => {
            let funcval = word(elem);
            if funcval == 0 {
                return Ok(());
            }
            let pc = rec.read_u64("funcval", "funcval.fn: the code pointer", funcval, 0)?;
            code(pm, rec, pc);
        }
        Kind::Pointer | Kind::UnsafePointer => {
            let p = word(elem);
            if p == 0 {
                return Ok(());
            }
            // The record read at the pointer holds the pointee, so it is
            // labelled with the pointee's type (`unicode.RangeTable` for a
            // `*unicode.RangeTable` slot), not with the pointer's.
            let (size, pointee) = match &ty.detail {
                TypeDetail::Pointer { elem: Some(r) } => {
                    (pm.bin.type_by_id(r.id).map(|t| t.size).unwrap_or(8), r.name.clone())
                }
                _ => (8, "unknown pointee".to_string()),
            };
            rec.read("pointee", pointee, p, 0, size.min(STEP_BYTES as u64))?;
        }
        Kind::Map => {
            let h = word(elem);
            if h != 0 {
                rec.read("map header", "the nested map's header (count first)", h, 0, 8)?;
            }
        }
        Kind::String => {
            let (p, n) = (word(elem), word(elem.wrapping_add(8)));
            if n > 0 {
                rec.read(
                    "string data",
                    format!("the value's bytes ({n})"),
                    p,
                    0,
                    n.min(STEP_BYTES as u64),
                )?;
            }
        }
        Kind::Interface => {
            let (w0, data) = (word(elem), word(elem.wrapping_add(8)));
            if w0 == 0 {
                return Ok(());
            }
            let empty = matches!(&ty.detail, TypeDetail::Interface { methods } if methods.is_empty());
            let type_addr = if empty {
                w0
            } else {
                rec.read_u64("itab", "itab.Type: the dynamic type", w0, ITAB_TYPE)?
            };
            let name = pm.bin.runtime_type_name(type_addr).unwrap_or_else(|_| "?".into());
            let dynamic = pm.bin.runtime_type(type_addr)?;
            rec.read_num(
                "type",
                format!("the dynamic type {name} (abi.Type.Size_)"),
                type_addr,
                0,
                8,
            )?;
            if pm.bin.runtime_type_direct_iface(type_addr).unwrap_or(false) {
                // Pointer-shaped: the data word is the value; follow it as one.
                return hop_direct(pm, rec, elem.wrapping_add(8), &dynamic);
            }
            rec.read(
                "interface data",
                format!("the {name} value"),
                data,
                0,
                dynamic.size.min(STEP_BYTES as u64),
            )?;
            if dynamic.kind == Kind::Func {
                hop(pm, rec, data, &dynamic)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn hop_direct(pm: &PathMap<'_>, rec: &mut Recorder<'_>, word_at: u64, ty: &GoType) -> Result<(), PathError> {
    match ty.kind {
        Kind::Func | Kind::Pointer | Kind::UnsafePointer | Kind::Map => hop(pm, rec, word_at, ty),
        _ => Ok(()),
    }
}

/// The code pointer's function, file and line (from the pclntab).
fn code(pm: &PathMap<'_>, rec: &mut Recorder<'_>, pc: u64) {
    let what = match pm.bin.line_for_pc(pc) {
        Some(l) => format!(
            "code of {} ({}:{})",
            l.function,
            l.file.as_deref().unwrap_or("?"),
            l.line.map_or_else(|| "?".to_string(), |n| n.to_string())
        ),
        None => "code (no function in the pclntab)".to_string(),
    };
    let bytes = pm.bin.read_at(pc, 8).map(<[u8]>::to_vec).unwrap_or_default();
    let off = pm.bin.func_for_pc(pc).map_or(0, |f| pc.saturating_sub(f.entry));
    rec.push("code", what, pc, off, bytes.len() as u64, &bytes);
}
