//! Structure-aware fuzzing of value decoding: real maps in a real core,
//! whose memory is patched near the places a walk and a decode read
//! (the header, the buckets or directory, tables, groups, and what their
//! slots point at), then walked and decoded into typed values, and looked
//! up by `path`. The binary and the core are parsed once; an execution
//! costs one walk.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::Cursor;
use crate::binary::{GoBinary, GoType};
use crate::maps::resolve::NamedMap;
use crate::maps::MapHandle;
use crate::memory::{Memory, MemoryError, MemoryExt, Region};
use crate::path::{KeySpec, PathMap};
use crate::values::{EntryPlans, Limits, ValueDecoder};

/// Entries decoded per execution, and bounds on each value: enough to
/// reach every decoder, little enough to keep executions fast.
const MAX_ENTRIES: usize = 64;
const MAX_ANCHORS: usize = 48;

fn limits() -> Limits {
    Limits {
        max_depth: 16,
        max_string_bytes: 256,
        max_elems: 64,
        max_nodes: 4096,
        closure_words: 4,
        max_total_bytes: 64 << 10,
    }
}

/// A map of the base core: where it is, its type, and the addresses its
/// walk reads from, to aim patches at.
pub struct BaseMap {
    named: NamedMap,
    plans: EntryPlans,
    anchors: Vec<u64>,
}

/// A real executable and core, and the maps of the core to fuzz.
pub struct ValuesBase {
    bin: GoBinary,
    core: Arc<dyn Memory>,
    maps: Vec<BaseMap>,
}

impl ValuesBase {
    /// `maps` are (name, header address, map type descriptor address), as
    /// the fixture program reported them; maps whose type or plans cannot be
    /// had are left out.
    pub fn new(bin: GoBinary, core: Arc<dyn Memory>, maps: &[(String, u64, u64)]) -> ValuesBase {
        let mut out = Vec::new();
        {
            let dec = ValueDecoder::new(&bin, core.clone());
            for (name, header, type_addr) in maps {
                let Ok(map_type) = bin.runtime_type(*type_addr) else {
                    continue;
                };
                let Ok(plans) = dec.entry_plans(&map_type) else {
                    continue;
                };
                let anchors = anchors(&*core, *header);
                out.push(BaseMap {
                    named: NamedMap {
                        name: name.clone(),
                        map_type,
                        variable: None,
                        header: *header,
                    },
                    plans,
                    anchors,
                });
            }
        }
        ValuesBase { bin, core, maps: out }
    }

    pub fn maps(&self) -> usize {
        self.maps.len()
    }

    pub fn map_type(&self, i: usize) -> Option<&GoType> {
        self.maps.get(i).map(|m| &m.named.map_type)
    }
}

/// The header and, breadth first, every mapped pointer found in the first
/// bytes of what is already an anchor: buckets, directory, tables, groups,
/// the strings and boxes slots point at.
fn anchors(mem: &dyn Memory, header: u64) -> Vec<u64> {
    let mut out = vec![header];
    let mut i = 0;
    while i < out.len() && out.len() < MAX_ANCHORS {
        let Some(Ok(bytes)) = out.get(i).map(|&a| mem.read_vec(a, 256)) else {
            i += 1;
            continue;
        };
        for w in bytes.chunks_exact(8) {
            let p = u64::from_le_bytes(w.try_into().unwrap_or([0; 8]));
            if p > 0x1000 && mem.is_mapped(p, 8) && !out.contains(&p) && out.len() < MAX_ANCHORS {
                out.push(p);
            }
        }
        i += 1;
    }
    out
}

/// The base's memory with some bytes replaced.
struct Patched {
    base: Arc<dyn Memory>,
    bytes: BTreeMap<u64, u8>,
}

impl Memory for Patched {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.base.read(addr, buf)?;
        for (&a, &b) in self.bytes.range(addr..addr.saturating_add(buf.len() as u64)) {
            if let Some(slot) = usize::try_from(a - addr).ok().and_then(|i| buf.get_mut(i)) {
                *slot = b;
            }
        }
        Ok(())
    }

    fn regions(&self) -> Vec<Region> {
        self.base.regions()
    }

    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        self.base.is_mapped(addr, len)
    }

    fn byte_order(&self) -> crate::memory::ByteOrder {
        self.base.byte_order()
    }

    fn pointer_size(&self) -> usize {
        self.base.pointer_size()
    }
}

/// A map of the base with `data`'s patches over its memory: the walk, the
/// typed decode of its entries and the lookup of a key must all end, with
/// values or typed errors. Input: the map (byte 0), flags (byte 1: bit 0
/// runs `path`, bit 1 decodes the whole map as fmt prints it, bit 2 takes
/// the walk's statistics), then patches of (anchor, offset, length, bytes).
pub fn values_decode(base: &ValuesBase, data: &[u8]) {
    let mut c = Cursor(data);
    let Some(m) = base.maps.get(usize::from(c.u8()) % base.maps.len().max(1)) else {
        return;
    };
    let flags = c.u8();
    let mut bytes = BTreeMap::new();
    let mut n = 0;
    while !c.is_empty() && n < 32 {
        n += 1;
        let anchor = m
            .anchors
            .get(usize::from(c.u8()) % m.anchors.len().max(1))
            .copied()
            .unwrap_or(m.named.header);
        let at = anchor.wrapping_add(u64::from(c.u16() % 4096));
        let len = usize::from(c.u8() % 17);
        for (i, &b) in c.bytes(len).iter().enumerate() {
            bytes.insert(at.wrapping_add(i as u64), b);
        }
    }
    let mem: Arc<dyn Memory> = Arc::new(Patched {
        base: base.core.clone(),
        bytes,
    });
    let bin = &base.bin;
    let ty = &m.named.map_type;
    let dec = ValueDecoder::new(bin, mem.clone()).with_limits(limits());
    let Ok(map) = MapHandle::for_type(mem.clone(), bin, m.named.header, ty) else {
        return;
    };
    if flags & 4 != 0 {
        let _ = map.stats();
    }
    let mut out = Vec::new();
    let mut first_key = None;
    for e in map.entries().take(MAX_ENTRIES) {
        let Ok(e) = e else {
            break;
        };
        let (k, v) = dec.decode_entry(&m.plans, &e);
        if first_key.is_none() {
            first_key = Some(k.go_bytes());
        }
        k.write_text(&mut out);
        v.write_text(&mut out);
        let _ = serde_json::to_vec(&v.to_json());
        out.clear();
    }
    if flags & 2 != 0 {
        // fmt's sorted whole-map form, nested maps included.
        let whole = dec.decode_map_header(m.named.header, ty);
        whole.write_go(&mut out);
    }
    if flags & 1 != 0 {
        let Ok(pm) = PathMap::open(bin, mem, m.named.clone()) else {
            return;
        };
        if let Some(k) = first_key.and_then(|k| String::from_utf8(k).ok()) {
            if let Ok(key) = pm.parse_key(&KeySpec::Literal(k)) {
                let _ = pm.trace(&key);
            }
        }
        let _ = pm.verify_all(4);
    }
}
