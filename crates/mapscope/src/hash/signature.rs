//! Go 1.27's signature-based hashers (`cmd/compile/internal/reflectdata/alg.go`:
//! `eqSignature`, `hashFunc`). A key type flattens to a string such as
//! `SM8` (a string, then 8 bytes of memory); the generated hasher walks it,
//! hashing 4- and 8-byte memory runs with memhash32/memhash64. Flattening
//! merges adjacent memory across nested structs and unrolled array
//! elements, which is why 1.27 hashes some keys differently.

use super::keytype::{Alg, KeyType, MAX_DEPTH};
use super::plan::Op;
use super::HashError;

/// Signatures longer than this are refused rather than built.
const MAX_SIGNATURE: usize = 1 << 20;

const PTR_SIZE: u64 = 8;

/// `eqSignature(t)` on a 64-bit target that can merge loads (amd64, arm64),
/// so without an alignment prefix.
pub(crate) fn signature(t: &KeyType) -> Result<String, HashError> {
    let mut b = Builder::default();
    b.build(t, 0)?;
    b.flush(true);
    Ok(b.out)
}

#[derive(Default)]
struct Builder {
    out: String,
    reg_mem: u64,
    skip_mem: u64,
}

impl Builder {
    fn flush(&mut self, at_end: bool) {
        if self.reg_mem > 0 {
            self.out.push('M');
            self.out.push_str(&self.reg_mem.to_string());
            self.reg_mem = 0;
        }
        if self.skip_mem > 0 {
            if !at_end {
                self.out.push('K');
                self.out.push_str(&self.skip_mem.to_string());
            }
            self.skip_mem = 0;
        }
    }

    fn regular(&mut self, n: u64) -> Result<(), HashError> {
        if self.reg_mem == 0 {
            self.flush(false);
        }
        self.reg_mem = self
            .reg_mem
            .checked_add(n)
            .ok_or(HashError::BadKeyType("memory run overflows"))?;
        Ok(())
    }

    fn skip(&mut self, n: u64) -> Result<(), HashError> {
        if self.skip_mem == 0 {
            self.flush(false);
        }
        self.skip_mem = self
            .skip_mem
            .checked_add(n)
            .ok_or(HashError::BadKeyType("skip overflows"))?;
        Ok(())
    }

    fn op(&mut self, c: char) -> Result<(), HashError> {
        self.flush(false);
        self.out.push(c);
        self.check_len()
    }

    fn check_len(&self) -> Result<(), HashError> {
        if self.out.len() > MAX_SIGNATURE {
            return Err(HashError::TooComplex("the Go 1.27 hash signature is too long"));
        }
        Ok(())
    }

    fn build(&mut self, t: &KeyType, depth: usize) -> Result<(), HashError> {
        if depth > MAX_DEPTH {
            return Err(HashError::BadKeyType("key type nested too deeply"));
        }
        match t {
            // A zero-size Memory stands for struct{} or [0]T; neither can
            // change a hash, and struct{} emits nothing.
            KeyType::Memory { size: 0 } => {}
            KeyType::Memory { size } => self.regular(*size)?,
            KeyType::Float32 => self.op('F')?,
            KeyType::Float64 => self.op('G')?,
            KeyType::Complex64 => {
                self.op('F')?;
                self.op('F')?;
            }
            KeyType::Complex128 => {
                self.op('G')?;
                self.op('G')?;
            }
            KeyType::String => self.op('S')?,
            KeyType::Interface { empty: true } => self.op('E')?,
            KeyType::Interface { empty: false } => self.op('I')?,
            KeyType::Struct { size, fields } => {
                let mut off = 0u64;
                for f in fields.iter().filter(|f| !f.blank) {
                    if off < f.offset {
                        self.skip(f.offset - off)?;
                    }
                    self.build(&f.ty, depth + 1)?;
                    off = f.offset.saturating_add(f.ty.size()?);
                }
                if off < *size {
                    self.skip(size - off)?;
                }
            }
            KeyType::Array { len, elem } => {
                if t.alg()? == Alg::Mem {
                    self.regular(t.size()?)?;
                    return Ok(());
                }
                let mut n = *len;
                match n {
                    0 => {}
                    1 => self.build(elem, depth + 1)?,
                    _ => {
                        let es = elem.size()?;
                        if es == 0 {
                            return Ok(());
                        }
                        // Loop bodies cover about 32 bytes; the remainder
                        // elements come first, inline.
                        let unroll = (32 / es).max(1);
                        while n % unroll != 0 {
                            self.build(elem, depth + 1)?;
                            n -= 1;
                        }
                        if n == 0 {
                        } else if n == unroll {
                            for _ in 0..n {
                                self.build(elem, depth + 1)?;
                            }
                        } else {
                            self.flush(false);
                            self.out.push('[');
                            self.out.push_str(&(n / unroll).to_string());
                            for _ in 0..unroll {
                                self.build(elem, depth + 1)?;
                            }
                            self.flush(false);
                            self.out.push(']');
                        }
                    }
                }
            }
        }
        self.check_len()
    }
}

/// The Go runtime function a whole signature maps to (`genhashSig`'s
/// switch), or None when the compiler generates `type:.hash.<sig>`.
pub(crate) fn primitive_for(sig: &str) -> Option<&'static str> {
    Some(match sig {
        "" => "memhash0",
        "M1" => "memhash8",
        "M2" => "memhash16",
        "M4" => "memhash32",
        "M8" => "memhash64",
        "M16" => "memhash128",
        "S" => "strhash",
        "I" => "interhash",
        "E" => "nilinterhash",
        "F" => "f32hash",
        "G" => "f64hash",
        "FF" => "c64hash",
        "GG" => "c128hash",
        _ => return None,
    })
}

/// What `hashFunc(sig)` does, as operations relative to the key start.
pub(crate) fn ops(sig: &str) -> Result<Vec<Op>, HashError> {
    let mut p = Parser {
        s: sig.as_bytes(),
        i: 0,
    };
    let (ops, _) = p.seq(0)?;
    if p.i != p.s.len() {
        return Err(HashError::Internal("unbalanced ] in hash signature"));
    }
    Ok(ops)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn num(&mut self) -> Result<u64, HashError> {
        let start = self.i;
        let mut v: u64 = 0;
        while let Some(d) = self.s.get(self.i).filter(|c| c.is_ascii_digit()) {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .ok_or(HashError::Internal("number overflows in hash signature"))?;
            self.i += 1;
        }
        if self.i == start {
            return Err(HashError::Internal("missing number in hash signature"));
        }
        Ok(v)
    }

    /// Parses up to the end or a `]`, returning the operations and the byte
    /// size they cover (`sigSize`).
    fn seq(&mut self, depth: usize) -> Result<(Vec<Op>, u64), HashError> {
        if depth > MAX_DEPTH {
            return Err(HashError::BadKeyType("key type nested too deeply"));
        }
        let overflow = || HashError::BadKeyType("key size overflows");
        let mut ops = Vec::new();
        let mut off = 0u64;
        while let Some(&c) = self.s.get(self.i) {
            self.i += 1;
            let size = match c {
                b'M' => {
                    let n = self.num()?;
                    ops.push(match n {
                        4 => Op::Mem32 { off },
                        8 => Op::Mem64 { off },
                        _ => Op::Mem { off, len: n },
                    });
                    n
                }
                b'K' => self.num()?,
                b'F' => {
                    ops.push(Op::F32 { off });
                    4
                }
                b'G' => {
                    ops.push(Op::F64 { off });
                    8
                }
                b'S' => {
                    ops.push(Op::Str { off });
                    2 * PTR_SIZE
                }
                b'E' => {
                    ops.push(Op::NilInter { off });
                    2 * PTR_SIZE
                }
                b'I' => {
                    ops.push(Op::Inter { off });
                    2 * PTR_SIZE
                }
                b'[' => {
                    let count = self.num()?;
                    let (body, stride) = self.seq(depth + 1)?;
                    if self.s.get(self.i) != Some(&b']') {
                        return Err(HashError::Internal("unterminated [ in hash signature"));
                    }
                    self.i += 1;
                    ops.push(Op::Loop {
                        off,
                        count,
                        stride,
                        body,
                    });
                    count.checked_mul(stride).ok_or_else(overflow)?
                }
                b']' => {
                    self.i -= 1;
                    break;
                }
                _ => return Err(HashError::Internal("unknown character in hash signature")),
            };
            off = off.checked_add(size).ok_or_else(overflow)?;
        }
        Ok((ops, off))
    }
}
