//! Pointer words of `.data` and `.bss` from the runtime's `gcdatamask` /
//! `gcbssmask` (`modulesinit` expands the linker's GC programs into these
//! bitvectors at start-up, so any core taken after init holds them).

use super::RootsError;
use crate::binary::Moduledata;
use crate::memory::{Memory, MemoryExt};

/// Larger than any real `.data`/`.bss` (1 GiB of pointer words); guards a garbage `n`.
const MAX_MASK_BITS: u64 = 1 << 27;

pub(super) fn global_slots(md: &Moduledata, mem: &dyn Memory, errors: &mut Vec<RootsError>) -> Vec<u64> {
    let mut slots = Vec::new();
    for (which, field, (start, end)) in [
        ("gcdatamask", md.gcdatamask_addr, md.data),
        ("gcbssmask", md.gcbssmask_addr, md.bss),
    ] {
        if let Err(e) = one_mask(mem, field, start, end, &mut slots) {
            errors.push(RootsError::GlobalMask { which, detail: e });
        }
    }
    slots.sort_unstable();
    slots.dedup();
    slots
}

/// `bitvector{n int32 @0, bytedata *uint8 @8}`: bit i set = pointer at `start + 8i`.
fn one_mask(mem: &dyn Memory, field: u64, start: u64, end: u64, out: &mut Vec<u64>) -> Result<(), String> {
    let words = end.saturating_sub(start) / 8;
    let n = mem
        .read_u32(field)
        .map_err(|e| format!("bitvector at {field:#x}: {e}"))? as i32;
    let bytedata = mem
        .read_u64(field.saturating_add(8))
        .map_err(|e| format!("bitvector at {field:#x}: {e}"))?;
    if n < 0 || n as u64 > MAX_MASK_BITS {
        return Err(format!(
            "bitvector at {field:#x} has n = {n}, expected 0..={MAX_MASK_BITS}"
        ));
    }
    let n = n as u64;
    if n == 0 {
        return if words == 0 {
            Ok(())
        } else {
            Err(format!(
                "bitvector at {field:#x} is empty but the section [{start:#x}, {end:#x}) has {words} words \
                 (a core taken before runtime init?)"
            ))
        };
    }
    // The runtime sizes the mask as (end-start)/PtrSize; a mismatch means the
    // moduledata layout is wrong, so trust neither.
    if n != words {
        return Err(format!(
            "bitvector at {field:#x} has {n} bits, expected {words} = ([{start:#x}, {end:#x}) / 8)"
        ));
    }
    let bytes = mem
        .read_vec(bytedata, n.div_ceil(8))
        .map_err(|e| format!("mask bytes at {bytedata:#x}: {e}"))?;
    for (i, b) in bytes.iter().enumerate() {
        for bit in 0..8u64 {
            let idx = i as u64 * 8 + bit;
            if idx < n && b & (1 << bit) != 0 {
                out.push(start.saturating_add(idx * 8));
            }
        }
    }
    Ok(())
}
