//! Type-directed hashing as a flat list of runtime hash calls (what a
//! map's `Hasher` does), run over a key's bytes. Three rule sets produce
//! such lists: the compiler's generated hashers up to 1.26 (`generated`),
//! the 1.27 signature hashers (`signature`), and the runtime's `typehash`
//! (here), which hashes the dynamic value inside an interface in every
//! version.

use super::hasher::KeyResolver;
use super::keytype::{KeyType, MAX_DEPTH};
use super::params::{HashOutcome, HashParams, C0, C1};
use super::HashError;

/// One runtime hash call at byte offset `off` of the value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// `memhash(p+off, h, len)`.
    Mem {
        off: u64,
        len: u64,
    },
    Mem32 {
        off: u64,
    },
    Mem64 {
        off: u64,
    },
    Str {
        off: u64,
    },
    F32 {
        off: u64,
    },
    F64 {
        off: u64,
    },
    NilInter {
        off: u64,
    },
    Inter {
        off: u64,
    },
    /// `count` elements `stride` bytes apart, each hashed by `body`.
    Loop {
        off: u64,
        count: u64,
        stride: u64,
        body: Vec<Op>,
    },
}

/// Runtime hash calls allowed per key, interface contents included; keeps a
/// hostile type description (a huge array of empty structs) from spinning.
const MAX_STEPS: u64 = 1 << 24;

pub(crate) enum Step {
    Hash(u64),
    Nan,
}

pub(crate) struct Run<'a> {
    params: &'a HashParams,
    resolver: &'a dyn KeyResolver,
    steps: u64,
}

fn word(key: &[u8], off: u64) -> Result<u64, HashError> {
    let b = bytes(key, off, 8)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(b);
    Ok(u64::from_le_bytes(w))
}

fn bytes(key: &[u8], off: u64, len: u64) -> Result<&[u8], HashError> {
    let too_short = || HashError::KeyTooShort {
        need: off.saturating_add(len),
        got: key.len() as u64,
    };
    let start = usize::try_from(off).map_err(|_| too_short())?;
    let end = off
        .checked_add(len)
        .and_then(|e| usize::try_from(e).ok())
        .ok_or_else(too_short)?;
    key.get(start..end).ok_or_else(too_short)
}

impl<'a> Run<'a> {
    pub(crate) fn new(params: &'a HashParams, resolver: &'a dyn KeyResolver) -> Self {
        Run {
            params,
            resolver,
            steps: 0,
        }
    }

    fn step(&mut self) -> Result<(), HashError> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(HashError::TooComplex("more than 2^24 hash calls for one key"));
        }
        Ok(())
    }

    pub(crate) fn ops(
        &mut self,
        ops: &[Op],
        key: &[u8],
        base: u64,
        mut h: u64,
        depth: usize,
    ) -> Result<Step, HashError> {
        let p = self.params;
        let at = |off: u64| base.checked_add(off).ok_or(HashError::BadKeyType("offset overflows"));
        for op in ops {
            self.step()?;
            h = match op {
                Op::Mem { off, len } => p.memhash(bytes(key, at(*off)?, *len)?, h),
                Op::Mem32 { off } => p.memhash32(half(key, at(*off)?)?, h),
                Op::Mem64 { off } => p.memhash64(word(key, at(*off)?)?, h),
                Op::Str { off } => {
                    let ptr = word(key, at(*off)?)?;
                    let len = word(key, at(*off)?.saturating_add(8))?;
                    if len == 0 {
                        p.strhash(&[], h)
                    } else {
                        let data = self.resolver.string_data(ptr, len)?;
                        if data.len() as u64 != len {
                            return Err(HashError::Unresolved {
                                what: "string data (short)",
                                addr: ptr,
                                len,
                            });
                        }
                        p.strhash(&data, h)
                    }
                }
                Op::F32 { off } => {
                    let v = f32::from_bits(half(key, at(*off)?)?);
                    match p.f32hash(v, h) {
                        HashOutcome::Hash(h) => h,
                        HashOutcome::NanRandom => return Ok(Step::Nan),
                    }
                }
                Op::F64 { off } => match p.f64hash(f64::from_bits(word(key, at(*off)?)?), h) {
                    HashOutcome::Hash(h) => h,
                    HashOutcome::NanRandom => return Ok(Step::Nan),
                },
                Op::NilInter { off } => match self.interface(key, at(*off)?, true, h, depth)? {
                    Step::Hash(h) => h,
                    Step::Nan => return Ok(Step::Nan),
                },
                Op::Inter { off } => match self.interface(key, at(*off)?, false, h, depth)? {
                    Step::Hash(h) => h,
                    Step::Nan => return Ok(Step::Nan),
                },
                Op::Loop {
                    off,
                    count,
                    stride,
                    body,
                } => {
                    let start = at(*off)?;
                    let mut hh = h;
                    for i in 0..*count {
                        self.step()?;
                        let elem = i
                            .checked_mul(*stride)
                            .and_then(|o| o.checked_add(start))
                            .ok_or(HashError::BadKeyType("offset overflows"))?;
                        hh = match self.ops(body, key, elem, hh, depth)? {
                            Step::Hash(h) => h,
                            Step::Nan => return Ok(Step::Nan),
                        };
                    }
                    hh
                }
            };
        }
        Ok(Step::Hash(h))
    }

    /// `nilinterhash`/`interhash` for the interface at `off`.
    pub(crate) fn interface(
        &mut self,
        key: &[u8],
        off: u64,
        empty: bool,
        h: u64,
        depth: usize,
    ) -> Result<Step, HashError> {
        let type_word = word(key, off)?;
        if type_word == 0 {
            return Ok(Step::Hash(h));
        }
        if depth >= MAX_DEPTH {
            return Err(HashError::TooComplex("interfaces nested too deeply"));
        }
        let data_word = word(key, off.saturating_add(8))?;
        let dv = self.resolver.interface_value(type_word, data_word, empty)?;
        Ok(match self.typehash(&dv.key_type, &dv.bytes, h ^ C0, depth + 1)? {
            Step::Hash(x) => Step::Hash(C1.wrapping_mul(x)),
            Step::Nan => Step::Nan,
        })
    }

    pub(crate) fn typehash(&mut self, t: &KeyType, value: &[u8], seed: u64, depth: usize) -> Result<Step, HashError> {
        t.validate()?;
        let size = t.size()?;
        if (value.len() as u64) < size {
            return Err(HashError::KeyTooShort {
                need: size,
                got: value.len() as u64,
            });
        }
        let mut ops = Vec::new();
        typehash_ops(t, 0, &mut ops, 0)?;
        self.ops(&ops, value, 0, seed, depth)
    }
}

fn half(key: &[u8], off: u64) -> Result<u32, HashError> {
    let b = bytes(key, off, 4)?;
    let mut w = [0u8; 4];
    w.copy_from_slice(b);
    Ok(u32::from_le_bytes(w))
}

/// `runtime.typehash`: regular memory whole (4 and 8 bytes through
/// memhash32/memhash64, issue 37086), otherwise element by element and
/// field by field, never merging runs.
fn typehash_ops(t: &KeyType, off: u64, ops: &mut Vec<Op>, depth: usize) -> Result<(), HashError> {
    if depth > MAX_DEPTH {
        return Err(HashError::BadKeyType("key type nested too deeply"));
    }
    if t.is_regular_memory()? {
        ops.push(match t.size()? {
            4 => Op::Mem32 { off },
            8 => Op::Mem64 { off },
            len => Op::Mem { off, len },
        });
        return Ok(());
    }
    match t {
        KeyType::Memory { .. } => return Err(HashError::Internal("memory that is not regular memory")),
        KeyType::Float32 => ops.push(Op::F32 { off }),
        KeyType::Float64 => ops.push(Op::F64 { off }),
        KeyType::Complex64 => {
            ops.push(Op::F32 { off });
            ops.push(Op::F32 {
                off: off.saturating_add(4),
            });
        }
        KeyType::Complex128 => {
            ops.push(Op::F64 { off });
            ops.push(Op::F64 {
                off: off.saturating_add(8),
            });
        }
        KeyType::String => ops.push(Op::Str { off }),
        KeyType::Interface { empty: true } => ops.push(Op::NilInter { off }),
        KeyType::Interface { empty: false } => ops.push(Op::Inter { off }),
        KeyType::Array { len, elem } => {
            let mut body = Vec::new();
            typehash_ops(elem, 0, &mut body, depth + 1)?;
            ops.push(Op::Loop {
                off,
                count: *len,
                stride: elem.size()?,
                body,
            });
        }
        KeyType::Struct { fields, .. } => {
            for f in fields.iter().filter(|f| !f.blank) {
                let at = off
                    .checked_add(f.offset)
                    .ok_or(HashError::BadKeyType("offset overflows"))?;
                typehash_ops(&f.ty, at, ops, depth + 1)?;
            }
        }
    }
    Ok(())
}
