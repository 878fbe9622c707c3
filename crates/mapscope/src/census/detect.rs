//! Is this object a map header, and of which type? Without a type from the
//! reference that reached it, a header is accepted only when it satisfies
//! the runtime's invariants: its pointer words are where the runtime's
//! header has pointers, its buckets/groups are allocations of the size the
//! runtime would have made for some map type of the binary, the walk of
//! those containers finds exactly the header's count, and the container's
//! GC mask is that map type's. Among the types that still fit, the stored
//! keys are hashed with the map's own seed and only types whose hashes give
//! the stored tophash/h2 bytes are kept.

use std::collections::{BTreeMap, HashMap};

use super::Ctx;
use crate::hash::placement::classic_seed;
use crate::heap::Object;
use crate::maps::classic::ClassicHeader;
use crate::maps::swiss::SwissHeader;
use crate::maps::MapHandle;
use crate::memory::MemoryExt;
use crate::path::MemResolver;

/// Stored keys hashed per candidate type: 8 matching h2 values leave a
/// 2^-56 chance of a wrong type surviving.
const KEYS_TO_PROVE: usize = 8;
const MAX_COUNT: u64 = 1 << 40;

/// What the header's own memory says about a map.
#[derive(Debug, Clone, Default)]
pub struct Detected {
    pub len: u64,
    /// Candidate indices whose shape, allocation sizes, GC mask and count
    /// fit (at most `MAX_KEPT`: a census holds one list per map).
    pub fits: Vec<u32>,
    /// How many fitted before the list was capped.
    pub fits_total: usize,
    /// Key types (`Candidate::key_group`) whose hashes reproduce the stored
    /// tags; meaningful only when `keys_checked > 0`.
    pub proved_keys: Vec<usize>,
    pub keys_checked: u32,
    /// Among several remaining types, the only one whose elem type every
    /// sampled elem agrees with (pointees of the right size or type, funcs
    /// that point at code); the rest stay candidates.
    pub by_elems: Option<usize>,
    /// The container allocation carries its own type (1.22+ malloc header or
    /// large span type), naming the map type outright.
    pub by_container_type: Option<usize>,
}

/// Candidates kept per map.
const MAX_KEPT: usize = 128;

impl Detected {
    /// The candidates that remain after every check.
    pub fn remaining(&self, cands: &super::candidates::Candidates) -> Vec<usize> {
        self.fits
            .iter()
            .map(|&i| i as usize)
            .filter(|&i| {
                self.keys_checked == 0 || cands.get(i).is_some_and(|c| self.proved_keys.contains(&c.key_group))
            })
            .collect()
    }

    /// Whether the hashes allow candidate `i`.
    pub fn allows(&self, cands: &super::candidates::Candidates, i: usize) -> bool {
        self.keys_checked == 0 || cands.get(i).is_some_and(|c| self.proved_keys.contains(&c.key_group))
    }
}

impl Ctx<'_> {
    /// The allocation whose data begins exactly at `addr`: a heap object, or
    /// a stack object (the compiler keeps a small non-escaping map's bucket
    /// or group in the frame too).
    fn alloc_at(&self, addr: u64) -> Option<Alloc> {
        if let Some(o) = self.heap.find(addr) {
            return (self.heap.data_start(o) == addr).then_some(Alloc::Heap(o));
        }
        self.stack_objects
            .get(&addr)
            .map(|&(size, _)| Alloc::Stack { addr, size })
    }

    /// Does an allocation of `alloc`'s kind hold exactly `bytes` of data?
    fn holds(&self, alloc: Alloc, bytes: u64, has_pointers: bool) -> bool {
        match alloc {
            Alloc::Heap(o) => self.heap.alloc_size(bytes, has_pointers) == o.size,
            Alloc::Stack { size, .. } => size == bytes,
        }
    }

    /// Pointer word offsets from the allocation's data start, where known.
    fn alloc_pointers(&self, alloc: Alloc) -> Option<Vec<u64>> {
        match alloc {
            Alloc::Heap(o) => {
                let mut offs = Vec::new();
                self.heap.pointer_offsets(&*self.mem, o, &mut offs).ok()?;
                let ds = self.heap.data_start(o) - o.base;
                Some(offs.iter().filter_map(|&x| u64::from(x).checked_sub(ds)).collect())
            }
            Alloc::Stack { addr, .. } => self
                .stack_objects
                .get(&addr)
                .map(|(_, p)| p.iter().map(|&x| u64::from(x)).collect()),
        }
    }

    /// Cheap necessary conditions on a heap object before its header is read:
    /// its pointer words are exactly the header's.
    pub fn header_pointer_mask_fits(&self, obj: Object) -> bool {
        let mut offs = Vec::new();
        if self.heap.pointer_offsets(&*self.mem, obj, &mut offs).is_err() {
            return false;
        }
        let ds = self.heap.data_start(obj) - obj.base;
        let mut rel = offs
            .iter()
            .filter_map(|&o| u64::from(o).checked_sub(ds))
            .filter(|&o| o < self.header.size);
        self.header_ptr_offsets
            .iter()
            .all(|&want| rel.next() == Some(u64::from(want)))
            && rel.next().is_none()
    }

    /// Checks the header at `addr` (on the heap or a stack) and tells which
    /// map types fit it; `None` when it is no map header.
    pub fn detect(&self, addr: u64) -> Option<Detected> {
        match self.variant {
            crate::binary::MapVariant::Classic => self.detect_classic(addr),
            _ => self.detect_swiss(addr),
        }
    }

    fn detect_classic(&self, addr: u64) -> Option<Detected> {
        let h = ClassicHeader::read(&*self.mem, addr, self.header).ok()?;
        if h.count >= MAX_COUNT || h.flags & 0xf0 != 0 {
            return None;
        }
        if h.buckets == 0 {
            let empty = h.count == 0 && h.oldbuckets == 0 && h.b == 0 && h.nevacuate == 0 && h.noverflow == 0;
            // hash0 is random; an all-zero object is far likelier to be something else.
            // No bucket was ever allocated: only a typed reference can tell the type.
            return (empty && h.hash0 != 0 && h.extra == 0).then(Detected::default);
        }
        let buckets = self.alloc_at(h.buckets)?;
        if h.oldbuckets != 0 {
            self.alloc_at(h.oldbuckets)?;
        }
        if h.extra != 0 {
            self.alloc_at(h.extra)?;
        }
        if h.nevacuate > h.bucket_count() {
            return None;
        }
        let n = h.bucket_count().saturating_add(spare_buckets(h.b));
        let seed = classic_seed(h.hash0);
        self.fit_and_prove(addr, h.count, seed, &[(buckets, n)], true)
    }

    fn detect_swiss(&self, addr: u64) -> Option<Detected> {
        let h = SwissHeader::read(&*self.mem, addr, self.header).ok()?;
        if h.used >= MAX_COUNT || h.writing > 1 || h.seed == 0 {
            return None;
        }
        if h.dir_len == 0 {
            if h.dir_ptr == 0 {
                return (h.used == 0).then(Detected::default);
            }
            if h.used > 8 {
                return None;
            }
            let group = self.alloc_at(h.dir_ptr)?;
            return self.fit_and_prove(addr, h.used, h.seed, &[(group, 1)], false);
        }
        if !h.dir_len.is_power_of_two() || h.dir_len > 1 << 26 {
            return None;
        }
        if u64::from(h.global_depth) != u64::from(h.dir_len.trailing_zeros())
            || u64::from(h.global_shift) != 64 - u64::from(h.global_depth)
        {
            return None;
        }
        let dir = self.alloc_at(h.dir_ptr)?;
        if !self.holds(dir, h.dir_len * 8, true) {
            return None;
        }
        // The first table's groups stand for all: every table of a map has the same group type.
        let table0 = self.mem.read_u64(h.dir_ptr).ok()?;
        self.alloc_at(table0)?;
        let table = self.table?;
        let groups_field = table.field("groups").map_or(16, |f| f.offset);
        let data = self.mem.read_u64(table0 + groups_field).ok()?;
        let mask = self.mem.read_u64(table0 + groups_field + 8).ok()?;
        if mask >= 1024 || !(mask + 1).is_power_of_two() {
            return None;
        }
        let groups = self.alloc_at(data)?;
        self.fit_and_prove(addr, h.used, h.seed, &[(groups, mask + 1)], false)
    }

    /// `containers`: allocations that hold `n` buckets/groups each.
    fn fit_and_prove(
        &self,
        addr: u64,
        count: u64,
        seed: u64,
        containers: &[(Alloc, u64)],
        classic: bool,
    ) -> Option<Detected> {
        let mut d = Detected {
            len: count,
            ..Detected::default()
        };
        let &(first, _) = containers.first()?;
        let ptr_offs = self.alloc_pointers(first);
        let container_type = match first {
            Alloc::Heap(o) => self.heap.type_of(&*self.mem, o),
            Alloc::Stack { .. } => None,
        };
        d.by_container_type = container_type.and_then(|t| self.cands.by_container_type(t));

        // Group the fitting types by container size: one walk per size.
        let mut by_size: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
        for s in self.cands.container_sizes() {
            for &i in self.cands.with_container_size(s) {
                let Some(c) = self.cands.get(i) else { continue };
                let sizes_fit = containers
                    .iter()
                    .all(|&(a, n)| self.holds(a, n.saturating_mul(s), c.container_has_pointers));
                if !sizes_fit {
                    continue;
                }
                if let (Some(t), Some(ct)) = (container_type, c.container_type) {
                    if t != ct {
                        continue;
                    }
                }
                if let (Some(offs), Some(mask)) = (&ptr_offs, &c.container_mask) {
                    let got = offs.iter().filter(|&&o| o < s).map(|&o| o as u32);
                    if !got.eq(mask.iter().copied()) {
                        continue;
                    }
                }
                by_size.entry(s).or_default().push(i);
            }
        }
        if by_size.is_empty() {
            return None;
        }
        let resolver = MemResolver::new(self.bin, &*self.mem);
        let mut sample_all: Vec<crate::maps::Entry> = Vec::new();
        for idx in by_size.values() {
            let Some(&rep) = idx.first() else { continue };
            let Some(c) = self.cands.get(rep) else { continue };
            let Ok(handle) = MapHandle::open(self.mem.clone(), &self.layout, self.variant, addr, c.shape) else {
                continue;
            };
            let (stats, err) = handle.stats();
            if err.is_some() || stats.entries != count {
                continue;
            }
            d.fits_total += idx.len();
            d.fits.extend(
                idx.iter()
                    .take(MAX_KEPT.saturating_sub(d.fits.len()))
                    .map(|&i| i as u32),
            );
            // Hash a few stored keys with each candidate's hasher.
            let sample: Vec<_> = handle.entries().take(KEYS_TO_PROVE).filter_map(Result::ok).collect();
            sample_all.extend_from_slice(&sample);
            // Types with the same key type hash alike: each key type once.
            let mut by_key: HashMap<usize, Option<u32>> = HashMap::new();
            for &i in idx {
                let Some(c) = self.cands.get(i) else { continue };
                let verdict = *by_key.entry(c.key_group).or_insert_with(|| {
                    c.hashes_match(
                        self.bin,
                        &*self.mem,
                        self.target.as_ref(),
                        &sample,
                        seed,
                        classic,
                        &resolver,
                    )
                    .agreed()
                });
                if let Some(checked) = verdict {
                    if !d.proved_keys.contains(&c.key_group) {
                        d.proved_keys.push(c.key_group);
                    }
                    d.keys_checked = d.keys_checked.max(checked);
                }
            }
        }
        if d.fits.is_empty() {
            return None;
        }
        let remaining = d.remaining(&self.cands);
        if d.by_container_type.is_none() && remaining.len() > 1 {
            d.by_elems = self.tell_by_elems(&remaining, &sample_all);
        }
        if count > 0 && d.keys_checked == 0 {
            // Keys exist but none could be hashed by any fitting type: the
            // fits stand, unproven.
            d.proved_keys.clear();
        }
        Some(d)
    }
}

/// Where a map's bucket or group array lives.
#[derive(Debug, Clone, Copy)]
enum Alloc {
    Heap(Object),
    Stack { addr: u64, size: u64 },
}

/// What one candidate's elem type says about the sampled elems.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Evidence {
    Agrees,
    Contradicts,
    Silent,
}

impl Ctx<'_> {
    /// The single candidate whose elem type the sampled elems positively
    /// agree with, when no other candidate is both uncontradicted and agreeing.
    fn tell_by_elems(&self, remaining: &[usize], sample: &[crate::maps::Entry]) -> Option<usize> {
        let mut agreeing = Vec::new();
        for &i in remaining {
            let c = self.cands.get(i)?;
            let mut agrees = false;
            let mut contradicted = false;
            for e in sample {
                match self.elem_evidence(c, e.elem) {
                    Evidence::Agrees => agrees = true,
                    Evidence::Contradicts => contradicted = true,
                    Evidence::Silent => {}
                }
            }
            if agrees && !contradicted {
                agreeing.push(i);
            }
        }
        match agreeing.as_slice() {
            [one] => Some(*one),
            _ => None,
        }
    }

    fn elem_evidence(&self, c: &super::candidates::Candidate, elem: u64) -> Evidence {
        use crate::binary::Kind;
        let Some(et) = &c.elem else { return Evidence::Silent };
        if et.kind == Kind::Bool {
            // A bool is one byte, 0 or 1; but an int holding 0 or 1 looks the
            // same, so a bool can be ruled out, never proved.
            return match self.mem.read_u8(elem) {
                Ok(2..) => Evidence::Contradicts,
                _ => Evidence::Silent,
            };
        }
        if !matches!(et.kind, Kind::Pointer | Kind::Map | Kind::Func | Kind::Chan) {
            return Evidence::Silent;
        }
        let Ok(v) = self.mem.read_u64(elem) else {
            return Evidence::Silent;
        };
        if v == 0 {
            return Evidence::Silent;
        }
        let obj = self.heap.find(v);
        match et.kind {
            Kind::Func => {
                // A func value points at a funcval whose first word is code.
                match self.mem.read_u64(v) {
                    Ok(code) if self.bin.func_for_pc(code).is_some() => Evidence::Agrees,
                    _ => Evidence::Contradicts,
                }
            }
            Kind::Map => match obj {
                Some(o) if self.heap.data_start(o) == v && o.size == self.heap.alloc_size(self.header.size, true) => {
                    Evidence::Agrees
                }
                Some(_) => Evidence::Contradicts,
                None => Evidence::Silent,
            },
            Kind::Chan => match obj {
                Some(o) if o.size < 96 => Evidence::Contradicts,
                _ => Evidence::Silent,
            },
            _ => {
                let Some(o) = obj else { return Evidence::Silent };
                if self.heap.data_start(o) != v {
                    return Evidence::Silent;
                }
                let Some(pt) = &c.elem_pointee else {
                    return Evidence::Silent;
                };
                if let (Some(have), Some(want)) = (self.heap.type_of(&*self.mem, o), pt.runtime_addr) {
                    return if have == want {
                        Evidence::Agrees
                    } else {
                        Evidence::Contradicts
                    };
                }
                // Tiny allocations share 16-byte blocks: their size says nothing.
                if pt.size < 16 {
                    return Evidence::Silent;
                }
                let fits = [true, false]
                    .iter()
                    .any(|&p| self.heap.alloc_size(pt.size, p) == o.size);
                if fits {
                    Evidence::Agrees
                } else {
                    Evidence::Contradicts
                }
            }
        }
    }
}

/// makeBucketArray preallocates 2^(B-4) spare overflow buckets for B ≥ 4.
fn spare_buckets(b: u8) -> u64 {
    if b >= 4 {
        1u64 << (b - 4).min(60)
    } else {
        0
    }
}
