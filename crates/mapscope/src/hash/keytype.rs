//! The key-type description hashing needs, and the compiler's classification
//! of it (`types.AlgType`): which parts are plain memory and which need
//! their own hash function.

use super::HashError;

/// How a Go key type is laid out and hashed: just enough of the Go type to
/// pick the runtime's hash functions. Build it from DWARF or the runtime
/// type descriptors; sizes and offsets are those of the target (amd64 and
/// arm64 agree).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Bytes compared as plain memory: bool, integers, uintptr, pointers,
    /// channels, unsafe.Pointer. Any array or struct the runtime flags
    /// `TFlagRegularMemory` may also be given as one `Memory` of its size;
    /// the hash is the same either way.
    Memory {
        size: u64,
    },
    String,
    Float32,
    Float64,
    Complex64,
    Complex128,
    /// `empty` is true for `interface{}`/`any` (an eface, word 0 the type),
    /// false for interfaces with methods (an iface, word 0 the itab).
    Interface {
        empty: bool,
    },
    Array {
        len: u64,
        elem: Box<KeyType>,
    },
    /// Fields in declaration order. `size` includes trailing padding.
    Struct {
        size: u64,
        fields: Vec<KeyField>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct KeyField {
    /// A field named `_`: never hashed, and it splits memory runs.
    pub blank: bool,
    pub offset: u64,
    pub ty: KeyType,
}

impl KeyField {
    pub fn new(name: &str, offset: u64, ty: KeyType) -> Self {
        KeyField {
            blank: name == "_",
            offset,
            ty,
        }
    }
}

/// Nesting beyond this is refused: real key types are shallow, and the
/// walks below recurse.
pub(crate) const MAX_DEPTH: usize = 64;

/// `types.AlgKind`, without the not-comparable kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Alg {
    Mem,
    Str,
    Inter,
    NilInter,
    F32,
    F64,
    C64,
    C128,
    Special,
}

impl KeyType {
    pub fn string() -> Self {
        KeyType::String
    }

    pub fn memory(size: u64) -> Self {
        KeyType::Memory { size }
    }

    pub fn array(len: u64, elem: KeyType) -> Self {
        KeyType::Array {
            len,
            elem: Box::new(elem),
        }
    }

    /// The size in bytes on a 64-bit target.
    pub fn size(&self) -> Result<u64, HashError> {
        Ok(match self {
            KeyType::Memory { size } | KeyType::Struct { size, .. } => *size,
            KeyType::Float32 => 4,
            KeyType::Float64 | KeyType::Complex64 => 8,
            KeyType::String | KeyType::Complex128 | KeyType::Interface { .. } => 16,
            KeyType::Array { len, elem } => elem
                .size()?
                .checked_mul(*len)
                .ok_or(HashError::BadKeyType("array size overflows"))?,
        })
    }

    /// Checks what the hashers rely on: fields in ascending, non-overlapping
    /// order inside the struct, sizes without overflow, bounded nesting.
    pub fn validate(&self) -> Result<(), HashError> {
        self.validate_at(0)
    }

    fn validate_at(&self, depth: usize) -> Result<(), HashError> {
        if depth > MAX_DEPTH {
            return Err(HashError::BadKeyType("key type nested too deeply"));
        }
        match self {
            KeyType::Array { elem, .. } => {
                elem.validate_at(depth + 1)?;
                self.size()?;
            }
            KeyType::Struct { size, fields } => {
                let mut end = 0u64;
                for f in fields {
                    f.ty.validate_at(depth + 1)?;
                    if f.offset < end {
                        return Err(HashError::BadKeyType("struct fields overlap or are out of order"));
                    }
                    end = f
                        .offset
                        .checked_add(f.ty.size()?)
                        .ok_or(HashError::BadKeyType("field end overflows"))?;
                    if end > *size {
                        return Err(HashError::BadKeyType("field extends past the struct"));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `types.AlgType` as `CalcSize` computes it. Assumes `validate`.
    pub(crate) fn alg(&self) -> Result<Alg, HashError> {
        Ok(match self {
            KeyType::Memory { .. } => Alg::Mem,
            KeyType::String => Alg::Str,
            KeyType::Float32 => Alg::F32,
            KeyType::Float64 => Alg::F64,
            KeyType::Complex64 => Alg::C64,
            KeyType::Complex128 => Alg::C128,
            KeyType::Interface { empty: true } => Alg::NilInter,
            KeyType::Interface { empty: false } => Alg::Inter,
            KeyType::Array { len, elem } => match (elem.alg()?, len) {
                (Alg::Mem, _) | (_, 0) => Alg::Mem,
                // A single-element array is its lone element.
                (a, 1) => a,
                _ => Alg::Special,
            },
            KeyType::Struct { fields, .. } => match fields.as_slice() {
                // A one-field struct is that field alone.
                [f] if !f.blank => f.ty.alg()?,
                _ => {
                    for i in 0..fields.len() {
                        let Some(f) = fields.get(i) else { break };
                        if f.ty.alg()? != Alg::Mem || f.blank || self.is_padded_field(i)? {
                            return Ok(Alg::Special);
                        }
                    }
                    Alg::Mem
                }
            },
        })
    }

    /// `types.IsPaddedField`: field `i` does not end where the next field
    /// (or the struct) begins.
    pub(crate) fn is_padded_field(&self, i: usize) -> Result<bool, HashError> {
        let KeyType::Struct { size, fields } = self else {
            return Ok(false);
        };
        let f = fields.get(i).ok_or(HashError::BadKeyType("field index out of range"))?;
        let next = fields.get(i + 1).map_or(*size, |n| n.offset);
        Ok(f.offset.checked_add(f.ty.size()?) != Some(next))
    }

    /// The runtime's `TFlagRegularMemory`.
    pub(crate) fn is_regular_memory(&self) -> Result<bool, HashError> {
        Ok(self.alg()? == Alg::Mem)
    }
}
