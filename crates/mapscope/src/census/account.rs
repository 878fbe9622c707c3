//! What a map costs the heap: each of its allocations at the size the
//! allocator gave it, the part holding live entries, and the waste against a
//! map built fresh with the same number of entries.
//!
//! Fresh map (`make(map[K]V, len)`), per runtime:
//! - classic: `B` is the smallest value with `len <= 6.5 * 2^B` (0 for
//!   `len <= 8`); the bucket array holds `2^B` buckets plus `2^(B-4)` spare
//!   overflow buckets when `B >= 4`; no old buckets, no overflow.
//! - Swiss: `len == 0` is the header alone; `len <= 8` one group; above, the
//!   runtime's `NewMap`: capacity `len*8/7`, split into `ceil(capacity/1024)`
//!   tables (a power of two), each of `capacity/tables` slots rounded up to
//!   a power of two (at least 8), plus the directory and table structs.
//!
//! Indirect keys and elems (over 128 bytes) cost one allocation per live
//! entry either way. Waste is `bytes - fresh`, never below zero.

use std::collections::HashSet;

use serde::Serialize;

use super::Ctx;
use crate::heap::Object;
use crate::maps::{MapHandle, MapShape, Place};
use crate::memory::MemoryExt;

/// Where a map's bytes are, each allocation at its size class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    pub header: u64,
    pub directory: u64,
    pub tables: u64,
    pub groups: u64,
    pub buckets: u64,
    pub old_buckets: u64,
    pub overflow: u64,
    pub indirect: u64,
}

impl Breakdown {
    pub fn total(&self) -> u64 {
        [
            self.header,
            self.directory,
            self.tables,
            self.groups,
            self.buckets,
            self.old_buckets,
            self.overflow,
            self.indirect,
        ]
        .iter()
        .fold(0, |a, &b| a.saturating_add(b))
    }
}

/// The role of one of a map's allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Header,
    Directory,
    Table,
    Groups,
    Buckets,
    OldBuckets,
    Overflow,
    Extra,
    Indirect,
}

pub struct Accounting {
    pub breakdown: Breakdown,
    pub live: u64,
    pub fresh: u64,
    pub tombstones: u64,
    pub load_factor: f64,
    pub growing: bool,
    pub entries: u64,
    /// Every allocation of the map (base address, role), the header's included
    /// when it is on the heap.
    pub allocations: Vec<(Object, Role)>,
    pub error: Option<String>,
}

impl Ctx<'_> {
    pub fn account(&self, handle: &MapHandle, header: u64) -> Accounting {
        let mut seen: HashSet<u64> = HashSet::new();
        let mut allocs: Vec<(Object, Role)> = Vec::new();
        let mut add = |addr: u64, role: Role, allocs: &mut Vec<(Object, Role)>| {
            if addr == 0 {
                return;
            }
            if let Some(o) = self.heap.find(addr) {
                if seen.insert(o.base) {
                    allocs.push((o, role));
                }
            }
        };
        add(header, Role::Header, &mut allocs);
        let (stats, err) = handle.stats();
        let shape = *handle.shape();
        let growing;
        let load_factor;
        match handle {
            MapHandle::Classic(m) => {
                let h = &m.header;
                add(h.buckets, Role::Buckets, &mut allocs);
                add(h.oldbuckets, Role::OldBuckets, &mut allocs);
                if h.extra != 0 {
                    add(h.extra, Role::Extra, &mut allocs);
                    // mapextra.overflow and .oldoverflow: *[]*bmap, each a slice
                    // header allocation and its backing array.
                    for off in [0u64, 8] {
                        if let Ok(p) = self.mem.read_u64(h.extra + off) {
                            add(p, Role::Extra, &mut allocs);
                            if p != 0 {
                                if let Ok(arr) = self.mem.read_u64(p) {
                                    add(arr, Role::Extra, &mut allocs);
                                }
                            }
                        }
                    }
                }
                growing = h.growing();
                load_factor = if h.buckets == 0 {
                    0.0
                } else {
                    h.count as f64 / h.bucket_count() as f64
                };
            }
            MapHandle::Swiss(m) => {
                let h = &m.header;
                if h.is_small() {
                    add(h.dir_ptr, Role::Groups, &mut allocs);
                } else {
                    add(h.dir_ptr, Role::Directory, &mut allocs);
                    for t in &m.tables {
                        add(t.addr, Role::Table, &mut allocs);
                        add(t.groups, Role::Groups, &mut allocs);
                    }
                }
                growing = false;
                let capacity: u64 = if h.is_small() {
                    if h.dir_ptr == 0 {
                        0
                    } else {
                        8
                    }
                } else {
                    m.tables.iter().map(|t| u64::from(t.capacity)).sum()
                };
                load_factor = if capacity == 0 {
                    0.0
                } else {
                    h.used as f64 / capacity as f64
                };
            }
        }
        // Overflow buckets allocated apart from the bucket array, and indirect
        // keys and elems, are found by walking.
        for c in handle.containers().map_while(Result::ok) {
            if matches!(c.place, Place::Bucket { depth: 1.., .. }) {
                add(c.addr, Role::Overflow, &mut allocs);
            }
        }
        if shape.indirect_key || shape.indirect_elem {
            for e in handle.entries().map_while(Result::ok) {
                if shape.indirect_key {
                    add(e.key, Role::Indirect, &mut allocs);
                }
                if shape.indirect_elem {
                    add(e.elem, Role::Indirect, &mut allocs);
                }
            }
        }
        let mut b = Breakdown::default();
        for (o, role) in &allocs {
            let slot = match role {
                Role::Header | Role::Extra => &mut b.header,
                Role::Directory => &mut b.directory,
                Role::Table => &mut b.tables,
                Role::Groups => &mut b.groups,
                Role::Buckets => &mut b.buckets,
                Role::OldBuckets => &mut b.old_buckets,
                Role::Overflow => &mut b.overflow,
                Role::Indirect => &mut b.indirect,
            };
            *slot = slot.saturating_add(o.size);
        }
        let len = handle.header_len();
        Accounting {
            live: live_bytes(&shape, stats.entries, self),
            fresh: self.fresh_bytes(&shape, len),
            breakdown: b,
            tombstones: stats.tombstones,
            load_factor,
            growing,
            entries: stats.entries,
            allocations: allocs,
            error: err.map(|e| e.to_string()),
        }
    }

    /// What `make(map[K]V, len)` would allocate (see the module comment).
    pub fn fresh_bytes(&self, shape: &MapShape, len: u64) -> u64 {
        let header = self.heap.alloc_size(self.header.size, true);
        let size = shape.container_size();
        let indirect = len.saturating_mul(
            u64::from(shape.indirect_key) * self.heap.alloc_size(shape.key_size, true)
                + u64::from(shape.indirect_elem) * self.heap.alloc_size(shape.elem_size, true),
        );
        let body = match self.variant {
            crate::binary::MapVariant::Classic => {
                if len == 0 {
                    0
                } else {
                    let mut b = 0u32;
                    while b < 40 && len > 8 && (len as f64) > crate::maps::shape::CLASSIC_MAX_LOAD * (1u64 << b) as f64
                    {
                        b += 1;
                    }
                    let mut n = 1u64 << b;
                    if b >= 4 {
                        n += 1u64 << (b - 4);
                    }
                    self.heap.alloc_size(n.saturating_mul(size), true)
                }
            }
            _ => {
                if len == 0 {
                    0
                } else if len <= 8 {
                    self.heap.alloc_size(size, true)
                } else {
                    let capacity =
                        len.saturating_mul(crate::maps::shape::SLOTS) / crate::maps::shape::SWISS_MAX_GROUP_LOAD;
                    let dir = capacity.div_ceil(1024).next_power_of_two();
                    let per_table = (capacity / dir).max(8).next_power_of_two();
                    let table_size = self.table.map_or(32, |t| t.size);
                    self.heap.alloc_size(dir * 8, true)
                        + dir
                            * (self.heap.alloc_size(table_size, true)
                                + self.heap.alloc_size((per_table / 8).saturating_mul(size), true))
                }
            }
        };
        header.saturating_add(body).saturating_add(indirect)
    }
}

/// The bytes live entries occupy: their key and elem slots and tag byte,
/// plus indirect pointees at their size class.
fn live_bytes(shape: &MapShape, entries: u64, ctx: &Ctx<'_>) -> u64 {
    let key_w = if shape.indirect_key { 8 } else { shape.key_size };
    let elem_w = if shape.indirect_elem { 8 } else { shape.elem_size };
    let indirect = u64::from(shape.indirect_key) * ctx.heap.alloc_size(shape.key_size, true)
        + u64::from(shape.indirect_elem) * ctx.heap.alloc_size(shape.elem_size, true);
    entries.saturating_mul(key_w + elem_w + 1 + indirect)
}
