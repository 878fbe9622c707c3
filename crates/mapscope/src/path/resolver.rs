//! Reading what a key points to in the target (a string's bytes, an
//! interface's dynamic value) for the hasher, and comparing two keys the way
//! the map type's `Key.Equal` does: by content, ±0 equal, NaN never equal.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;

use crate::binary::GoBinary;
use crate::hash::{DynamicValue, HashError, KeyResolver, KeyType};
use crate::memory::{Memory, MemoryExt};

/// Offset of `Type` in `runtime.itab` / `abi.ITab` (every version 1.19–1.27).
const ITAB_TYPE: u64 = 8;
/// Interfaces nest (an interface holding a struct holding an interface…);
/// real keys are shallow.
const MAX_IFACE_DEPTH: u32 = 16;

/// A dynamic type's hashing view and whether it is direct-interface, or
/// why it cannot be hashed.
type DynType = Result<(KeyType, bool), String>;

/// A [`KeyResolver`] over the target's memory and type descriptors.
pub struct MemResolver<'a> {
    bin: &'a GoBinary,
    mem: &'a dyn Memory,
    /// Dynamic types by descriptor address: (hashing view, direct-interface).
    types: RefCell<HashMap<u64, DynType>>,
}

impl<'a> MemResolver<'a> {
    pub fn new(bin: &'a GoBinary, mem: &'a dyn Memory) -> Self {
        MemResolver {
            bin,
            mem,
            types: RefCell::new(HashMap::new()),
        }
    }

    fn read(&self, what: &'static str, addr: u64, len: u64) -> Result<Vec<u8>, HashError> {
        if len == 0 {
            return Ok(Vec::new());
        }
        self.mem
            .read_vec(addr, len)
            .map_err(|_| HashError::Unresolved { what, addr, len })
    }

    /// The dynamic type behind an interface's word 0.
    fn dynamic_type(&self, type_word: u64, empty: bool) -> Result<(u64, KeyType, bool), HashError> {
        let type_addr = if empty {
            type_word
        } else {
            self.mem
                .read_u64(type_word.wrapping_add(ITAB_TYPE))
                .map_err(|_| HashError::Unresolved {
                    what: "itab type",
                    addr: type_word,
                    len: 16,
                })?
        };
        if let Some(hit) = self.types.borrow().get(&type_addr) {
            return hit
                .clone()
                .map(|(kt, d)| (type_addr, kt, d))
                .map_err(|_| HashError::Unhashable { type_word });
        }
        let made = self
            .bin
            .runtime_type(type_addr)
            .map_err(|e| e.to_string())
            .and_then(|t| KeyType::from_go_type(self.bin, &t).map_err(|e| e.to_string()))
            .map(|kt| (kt, self.bin.runtime_type_direct_iface(type_addr).unwrap_or(false)));
        self.types.borrow_mut().insert(type_addr, made.clone());
        made.map(|(kt, d)| (type_addr, kt, d))
            .map_err(|_| HashError::Unhashable { type_word })
    }

    /// The value an interface holds: its bytes, as the hasher wants them.
    fn dynamic_bytes(&self, kt: &KeyType, direct: bool, data_word: u64) -> Result<Vec<u8>, HashError> {
        if direct {
            Ok(data_word.to_le_bytes().to_vec())
        } else {
            self.read("interface data", data_word, kt.size()?)
        }
    }

    /// `Key.Equal(a, b)` for two keys of type `kt`, each given by its slot
    /// bytes (after any indirect-key hop).
    pub fn keys_equal(&self, kt: &KeyType, a: &[u8], b: &[u8]) -> Result<bool, HashError> {
        self.equal(kt, a, b, 0)
    }

    fn equal(&self, kt: &KeyType, a: &[u8], b: &[u8], depth: u32) -> Result<bool, HashError> {
        let size = usize::try_from(kt.size()?).map_err(|_| HashError::BadKeyType("key too large"))?;
        let (Some(a), Some(b)) = (a.get(..size), b.get(..size)) else {
            return Err(HashError::KeyTooShort {
                need: size as u64,
                got: a.len().min(b.len()) as u64,
            });
        };
        Ok(match kt {
            KeyType::Memory { .. } => a == b,
            KeyType::String => {
                let (pa, la) = words(a);
                let (pb, lb) = words(b);
                la == lb && (pa == pb || self.read("string data", pa, la)? == self.read("string data", pb, lb)?)
            }
            KeyType::Float32 => f32_at(a, 0) == f32_at(b, 0),
            KeyType::Float64 => f64_at(a, 0) == f64_at(b, 0),
            KeyType::Complex64 => f32_at(a, 0) == f32_at(b, 0) && f32_at(a, 4) == f32_at(b, 4),
            KeyType::Complex128 => f64_at(a, 0) == f64_at(b, 0) && f64_at(a, 8) == f64_at(b, 8),
            KeyType::Interface { empty } => {
                let (ta, da) = words(a);
                let (tb, db) = words(b);
                // efaceeq/ifaceeq: the same type (or itab) word, then the
                // values by that type.
                if ta != tb {
                    return Ok(false);
                }
                if ta == 0 {
                    return Ok(true);
                }
                if depth >= MAX_IFACE_DEPTH {
                    return Err(HashError::TooComplex("interfaces nested too deeply"));
                }
                let (_, dyn_kt, direct) = self.dynamic_type(ta, *empty)?;
                if direct {
                    da == db
                } else {
                    let va = self.dynamic_bytes(&dyn_kt, false, da)?;
                    let vb = self.dynamic_bytes(&dyn_kt, false, db)?;
                    self.equal(&dyn_kt, &va, &vb, depth + 1)?
                }
            }
            KeyType::Array { len, elem } => {
                let es = usize::try_from(elem.size()?).map_err(|_| HashError::BadKeyType("element too large"))?;
                for i in 0..usize::try_from(*len).unwrap_or(usize::MAX) {
                    let at = i.saturating_mul(es);
                    let (ea, eb) = (a.get(at..).unwrap_or(&[]), b.get(at..).unwrap_or(&[]));
                    if !self.equal(elem, ea, eb, depth)? {
                        return Ok(false);
                    }
                }
                true
            }
            KeyType::Struct { fields, .. } => {
                for f in fields.iter().filter(|f| !f.blank) {
                    let at = usize::try_from(f.offset).unwrap_or(usize::MAX);
                    let (fa, fb) = (a.get(at..).unwrap_or(&[]), b.get(at..).unwrap_or(&[]));
                    if !self.equal(&f.ty, fa, fb, depth)? {
                        return Ok(false);
                    }
                }
                true
            }
        })
    }
}

fn word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        w.copy_from_slice(s);
    }
    u64::from_le_bytes(w)
}

fn words(b: &[u8]) -> (u64, u64) {
    (word(b, 0), word(b, 8))
}

fn f32_at(b: &[u8], at: usize) -> f32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    f32::from_le_bytes(w)
}

fn f64_at(b: &[u8], at: usize) -> f64 {
    f64::from_bits(word(b, at))
}

impl KeyResolver for MemResolver<'_> {
    fn string_data(&self, ptr: u64, len: u64) -> Result<Cow<'_, [u8]>, HashError> {
        self.read("string data", ptr, len).map(Cow::Owned)
    }

    fn interface_value(&self, type_word: u64, data_word: u64, empty: bool) -> Result<DynamicValue<'_>, HashError> {
        let (_, kt, direct) = self.dynamic_type(type_word, empty)?;
        let bytes = self.dynamic_bytes(&kt, direct, data_word)?;
        Ok(DynamicValue {
            key_type: Cow::Owned(kt),
            bytes: Cow::Owned(bytes),
        })
    }
}
