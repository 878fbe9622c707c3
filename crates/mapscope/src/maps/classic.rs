//! Classic maps (`runtime.hmap`, Go ≤1.23 and 1.24/1.25 with noswissmap).
//!
//! Walk order, as the runtime's own iterator covers every entry: the 2^B
//! buckets of the current array with their overflow chains, then, while
//! growing, the old array's buckets and chains. Only slots with tophash ≥ 5
//! hold entries; evacuated slots carry the marks 2–4 so nothing is counted
//! twice. The spare overflow buckets after the array are reached only through
//! overflow pointers (the last one points back at the array: a sentinel, so
//! cycles are checked).

use std::collections::HashSet;
use std::sync::Arc;

use super::fields::Fields;
use super::{Container, Entries, MapError, MapShape, Place};
use crate::layout::StructSpec;
use crate::memory::{Memory, MemoryExt};

pub const EMPTY_REST: u8 = 0;
pub const EMPTY_ONE: u8 = 1;
pub const EVACUATED_X: u8 = 2;
pub const EVACUATED_Y: u8 = 3;
pub const EVACUATED_EMPTY: u8 = 4;
pub const MIN_TOP_HASH: u8 = 5;
/// hmap.flags bit: the current growth keeps the bucket count.
pub const SAME_SIZE_GROW: u64 = 8;

/// B above this would mean more buckets than any address space holds.
const MAX_B: u64 = 40;

pub fn is_full(tophash: u8) -> bool {
    tophash >= MIN_TOP_HASH
}

/// What a tophash byte says about its slot.
pub fn tophash_state(t: u8) -> &'static str {
    match t {
        EMPTY_REST => "emptyRest",
        EMPTY_ONE => "emptyOne",
        EVACUATED_X => "evacuatedX",
        EVACUATED_Y => "evacuatedY",
        EVACUATED_EMPTY => "evacuatedEmpty",
        _ => "full",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassicHeader {
    pub addr: u64,
    pub count: u64,
    pub flags: u8,
    pub b: u8,
    pub noverflow: u16,
    pub hash0: u32,
    pub buckets: u64,
    pub oldbuckets: u64,
    pub nevacuate: u64,
    pub clear_seq: Option<u64>,
    pub extra: u64,
}

impl ClassicHeader {
    pub fn read(mem: &dyn Memory, addr: u64, hmap: &'static StructSpec) -> Result<Self, MapError> {
        if addr == 0 {
            return Err(MapError::Nil("header"));
        }
        let bytes = mem.read_vec(addr, hmap.size).map_err(|source| MapError::Memory {
            what: "map header (runtime.hmap)",
            addr,
            source,
        })?;
        let f = Fields {
            spec: hmap,
            bytes: &bytes,
        };
        let h = ClassicHeader {
            addr,
            count: f.get("count")?,
            flags: f.get("flags")? as u8,
            b: f.get("B")? as u8,
            noverflow: f.get("noverflow")? as u16,
            hash0: f.get("hash0")? as u32,
            buckets: f.get("buckets")?,
            oldbuckets: f.get("oldbuckets")?,
            nevacuate: f.get("nevacuate")?,
            clear_seq: f.get_opt("clearSeq"),
            extra: f.get("extra")?,
        };
        if u64::from(h.b) > MAX_B {
            return Err(MapError::Implausible {
                map: addr,
                what: "B",
                value: h.b.into(),
                why: "more buckets than an address space holds",
            });
        }
        Ok(h)
    }

    pub fn growing(&self) -> bool {
        self.oldbuckets != 0
    }

    pub fn same_size_grow(&self) -> bool {
        u64::from(self.flags) & SAME_SIZE_GROW != 0
    }

    pub fn bucket_count(&self) -> u64 {
        1u64 << self.b
    }

    /// The old array holds half as many buckets, or as many for a same-size grow.
    pub fn old_bucket_count(&self) -> u64 {
        if !self.growing() {
            0
        } else if self.same_size_grow() || self.b == 0 {
            self.bucket_count()
        } else {
            self.bucket_count() / 2
        }
    }
}

/// A classic map ready to walk.
pub struct ClassicMap {
    pub header: ClassicHeader,
    /// `unsafe.Sizeof(hmap)` of this build.
    pub header_size: u64,
    pub shape: MapShape,
    mem: Arc<dyn Memory>,
}

impl ClassicMap {
    pub fn open(mem: Arc<dyn Memory>, addr: u64, hmap: &'static StructSpec, shape: MapShape) -> Result<Self, MapError> {
        let header = ClassicHeader::read(&*mem, addr, hmap)?;
        if !shape.is_consistent() {
            return Err(MapError::Implausible {
                map: addr,
                what: "bucket size",
                value: shape.container_size(),
                why: "slots do not fit in the bucket",
            });
        }
        Ok(ClassicMap {
            header,
            header_size: hmap.size,
            shape,
            mem,
        })
    }

    /// Every bucket: the current array with chains, then the old array's.
    pub fn buckets(&self) -> Buckets {
        let h = &self.header;
        // The runtime grows (same-size) once overflow buckets reach about the
        // bucket count, so a sound map never has many more than its arrays;
        // the bound is loose and only stops corrupt chains.
        let arrays = h.bucket_count().saturating_add(h.old_bucket_count());
        let limit = arrays
            .saturating_mul(4)
            .saturating_add(u64::from(h.noverflow))
            .saturating_add(4096);
        Buckets {
            mem: self.mem.clone(),
            size: self.shape.container_size(),
            arrays: [(h.buckets, h.bucket_count()), (h.oldbuckets, h.old_bucket_count())],
            array: 0,
            index: 0,
            chain: None,
            visited: HashSet::new(),
            limit,
            done: false,
            buf: Vec::new(),
        }
    }

    pub fn entries(&self) -> Entries<Buckets> {
        Entries::new(self.buckets(), self.shape, self.mem.clone(), is_full)
    }
}

pub struct Buckets {
    mem: Arc<dyn Memory>,
    size: u64,
    /// (base, count) of the current and the old array.
    arrays: [(u64, u64); 2],
    array: usize,
    index: u64,
    /// The next overflow bucket to visit and its depth in the chain.
    chain: Option<(u64, u32)>,
    visited: HashSet<u64>,
    limit: u64,
    done: bool,
    buf: Vec<u8>,
}

impl Buckets {
    fn fail(&mut self, e: MapError) -> Option<Result<Container, MapError>> {
        self.done = true;
        Some(Err(e))
    }

    fn read(&mut self, addr: u64, place: Place) -> Result<Container, MapError> {
        let what = match place {
            Place::Bucket {
                depth: 0, old: false, ..
            } => "bucket",
            Place::Bucket {
                depth: 0, old: true, ..
            } => "old bucket",
            _ => "overflow bucket",
        };
        self.buf
            .resize(usize::try_from(self.size).unwrap_or(usize::MAX).min(1 << 20), 0);
        self.mem
            .read(addr, &mut self.buf)
            .map_err(|source| MapError::Memory { what, addr, source })?;
        let mut tags = [0u8; 8];
        tags.copy_from_slice(self.buf.get(..8).unwrap_or(&[0; 8]));
        let ovf = self.buf.len().saturating_sub(8);
        let overflow = self
            .buf
            .get(ovf..)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        Ok(Container {
            place,
            addr,
            tags,
            overflow,
        })
    }
}

impl Buckets {
    /// True when `addr` lies inside either bucket array: an overflow pointer
    /// there would make the array part of a chain (corruption).
    fn in_arrays(&self, addr: u64) -> bool {
        self.arrays.iter().any(|&(base, count)| {
            base != 0
                && addr >= base
                && count
                    .checked_mul(self.size)
                    .and_then(|n| base.checked_add(n))
                    .is_some_and(|end| addr < end)
        })
    }
}

impl Iterator for Buckets {
    type Item = Result<Container, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let (addr, place) = if let Some((addr, depth)) = self.chain.take() {
            if self.in_arrays(addr) || !self.visited.insert(addr) {
                return self.fail(MapError::Cycle {
                    what: "overflow bucket",
                    addr,
                });
            }
            if self.visited.len() as u64 > self.limit {
                return self.fail(MapError::TooMany {
                    what: "overflow buckets",
                    limit: self.limit,
                });
            }
            // The chain belongs to the bucket before `index`.
            (
                addr,
                Place::Bucket {
                    old: self.array == 1,
                    index: self.index.saturating_sub(1),
                    depth,
                },
            )
        } else {
            let base = loop {
                let &(base, count) = self.arrays.get(self.array)?;
                if self.index < count && base != 0 {
                    break base;
                }
                self.array += 1;
                self.index = 0;
                if self.array >= self.arrays.len() {
                    self.done = true;
                    return None;
                }
            };
            let Some(addr) = self.index.checked_mul(self.size).and_then(|o| base.checked_add(o)) else {
                return self.fail(MapError::Implausible {
                    map: base,
                    what: "bucket array base",
                    value: base,
                    why: "the array wraps the address space",
                });
            };
            let place = Place::Bucket {
                old: self.array == 1,
                index: self.index,
                depth: 0,
            };
            self.index += 1;
            (addr, place)
        };
        match self.read(addr, place) {
            Ok(c) => {
                if c.overflow != 0 {
                    let depth = match place {
                        Place::Bucket { depth, .. } => depth.saturating_add(1),
                        Place::Group { .. } => 1,
                    };
                    self.chain = Some((c.overflow, depth));
                }
                Some(Ok(c))
            }
            Err(e) => self.fail(e),
        }
    }
}
