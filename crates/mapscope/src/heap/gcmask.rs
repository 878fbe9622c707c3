//! 1.24+ `TFlagGCMaskOnDemand` types: their `GCData` is a slot the runtime
//! fills on first use (`getGCMaskOnDemand`, `src/runtime/type.go`). When a
//! core was taken before that, the mask is rebuilt here from the type the
//! way `buildGCMask` does it: types with a mask copy it, arrays repeat their
//! element, structs place their pointerful fields.

use crate::memory::{Memory, MemoryExt};

/// `abi.Kind` values (`Kind_ & 31`).
const KIND_ARRAY: u8 = 17;
const KIND_STRUCT: u8 = 25;
/// `TFlagGCMaskOnDemand` (1.24+).
const TFLAG_ON_DEMAND: u8 = 16;
/// Offsets in `abi.ArrayType` / `abi.StructType` / `abi.StructField`.
const ARRAY_ELEM: u64 = 48;
const ARRAY_LEN: u64 = 64;
const STRUCT_FIELDS: u64 = 56;
const FIELD_SIZE: u64 = 24;
const FIELD_TYP: u64 = 8;
const FIELD_OFFSET: u64 = 16;
/// Bounds: the runtime's recursion halves the size at each level (at most
/// 64 deep); the step budget bounds absurd lengths read from a corrupt type.
const MAX_DEPTH: u32 = 80;
const MAX_FIELDS: u64 = 1 << 16;

struct Ty {
    size: u64,
    ptr_bytes: u64,
    tflag: u8,
    kind: u8,
    gcdata: u64,
}

fn read_ty(mem: &dyn Memory, addr: u64) -> Option<Ty> {
    let mut b = [0u8; 48];
    mem.read(addr, &mut b).ok()?;
    let w = |o: usize| {
        b.get(o..o + 8)
            .and_then(|x| <[u8; 8]>::try_from(x).ok())
            .map(u64::from_le_bytes)
    };
    Some(Ty {
        size: w(0)?,
        ptr_bytes: w(8)?,
        tflag: *b.get(20)?,
        kind: *b.get(23)? & 31,
        gcdata: w(32)?,
    })
}

struct Builder<'a> {
    mem: &'a dyn Memory,
    bits: Vec<u8>,
    steps: u64,
}

impl Builder<'_> {
    fn set(&mut self, word: u64) -> Option<()> {
        let b = self.bits.get_mut(usize::try_from(word / 8).ok()?)?;
        *b |= 1 << (word % 8);
        Some(())
    }

    fn step(&mut self, n: u64) -> Option<()> {
        self.steps = self.steps.checked_sub(n.max(1))?;
        Some(())
    }

    /// Writes `t`'s mask at word `at`; `force` descends even when `t` has
    /// its own mask (tests compare the two).
    fn build(&mut self, t: u64, at: u64, depth: u32, force: bool) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let ty = read_ty(self.mem, t)?;
        if ty.ptr_bytes == 0 {
            return Some(());
        }
        let words = ty.ptr_bytes / 8;
        let descend = force || ty.tflag & TFLAG_ON_DEMAND != 0;
        if !descend || !matches!(ty.kind, KIND_ARRAY | KIND_STRUCT) {
            if ty.tflag & TFLAG_ON_DEMAND != 0 {
                // An on-demand type that is neither array nor struct: none exist.
                return None;
            }
            self.step(words)?;
            let mask = self.mem.read_vec(ty.gcdata, words.div_ceil(8)).ok()?;
            for j in 0..words {
                if mask
                    .get(usize::try_from(j / 8).ok()?)
                    .is_some_and(|b| b >> (j % 8) & 1 != 0)
                {
                    self.set(at + j)?;
                }
            }
            return Some(());
        }
        if ty.kind == KIND_ARRAY {
            let elem = self.mem.read_u64(t.wrapping_add(ARRAY_ELEM)).ok()?;
            let len = self.mem.read_u64(t.wrapping_add(ARRAY_LEN)).ok()?;
            let esize = read_ty(self.mem, elem)?.size;
            if esize == 0 || esize % 8 != 0 || len.checked_mul(esize)? > ty.size {
                return None;
            }
            for i in 0..len {
                self.step(1)?;
                self.build(elem, at + i * (esize / 8), depth + 1, false)?;
            }
            return Some(());
        }
        let fields = self.mem.read_u64(t.wrapping_add(STRUCT_FIELDS)).ok()?;
        let nfields = self.mem.read_u64(t.wrapping_add(STRUCT_FIELDS + 8)).ok()?;
        if nfields > MAX_FIELDS {
            return None;
        }
        for i in 0..nfields {
            self.step(1)?;
            let f = fields.wrapping_add(i * FIELD_SIZE);
            let ft = self.mem.read_u64(f.wrapping_add(FIELD_TYP)).ok()?;
            let off = self.mem.read_u64(f.wrapping_add(FIELD_OFFSET)).ok()?;
            if off % 8 != 0 || off >= ty.size {
                continue;
            }
            self.build(ft, at + off / 8, depth + 1, false)?;
        }
        Some(())
    }
}

/// The 1-bit pointer mask of the type at `typ` (`PtrBytes/8` bits), built
/// from its structure; `None` when the type cannot be read or makes no sense.
/// `force` rebuilds even a type that carries its own mask.
pub fn rebuild(mem: &dyn Memory, typ: u64, force: bool) -> Option<Vec<u8>> {
    let ty = read_ty(mem, typ)?;
    if ty.ptr_bytes > ty.size || ty.ptr_bytes % 8 != 0 {
        return None;
    }
    let words = ty.ptr_bytes / 8;
    let mut b = Builder {
        mem,
        bits: vec![0u8; usize::try_from(words.div_ceil(8)).ok()?],
        steps: words.saturating_mul(4).saturating_add(1 << 20),
    };
    b.build(typ, 0, 0, force)?;
    Some(b.bits)
}
