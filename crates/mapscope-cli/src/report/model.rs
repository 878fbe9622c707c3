//! What the report shows of one map, gathered in one pass over its
//! containers and one over its entries: a small JSON description (header
//! fields, tables, shape, statistics) and one binary blob of columnar arrays
//! (tag bytes, container addresses and places, per-entry hashes, key and
//! value text). The blob is what makes a 1M-entry map fit in a few tens of
//! MB: no per-entry JSON objects, and the browser reads the arrays as typed
//! arrays without parsing.

use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::hash::{HashOutcome, HasherKind};
use mapscope::layout::{RuntimeLayout, StructSpec};
use mapscope::maps::resolve::NamedMap;
use mapscope::maps::{MapHandle, Place};
use mapscope::memory::Memory;
use mapscope::path::PathMap;
use mapscope::values::ValueDecoder;
use serde::Serialize;
use serde_json::{json, Value as Json};

/// Longest key or value text kept per entry (bytes); longer ones are cut at
/// a character boundary and end in `…`, so one huge string cannot bloat the
/// report.
pub const MAX_TEXT: usize = 160;

/// Per-entry hash state in the `hstat` array.
const HASH_OK: u8 = 0;
const HASH_NAN: u8 = 1;
const HASH_NONE: u8 = 2;

/// Columnar arrays of one map, each starting at a multiple of 8 so the
/// browser can view it as a typed array in place.
#[derive(Default)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub sections: serde_json::Map<String, Json>,
}

impl Blob {
    fn section(&mut self, name: &str, data: &[u8]) {
        while self.bytes.len() % 8 != 0 {
            self.bytes.push(0);
        }
        self.sections
            .insert(name.to_string(), json!([self.bytes.len(), data.len()]));
        self.bytes.extend_from_slice(data);
    }
}

/// One map of the report: `meta` goes into the page's JSON, `blob` is
/// compressed into its own script element.
pub struct MapReport {
    pub meta: Json,
    pub blob: Blob,
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn le(bytes: &[u8], off: u64, size: u64) -> Option<u64> {
    let s = usize::try_from(off).ok()?;
    let e = s.checked_add(usize::try_from(size).ok()?)?;
    let b = bytes.get(s..e)?;
    let mut w = [0u8; 8];
    w.get_mut(..b.len().min(8))?.copy_from_slice(b.get(..b.len().min(8))?);
    Some(u64::from_le_bytes(w))
}

/// The header's fields as this build lays them out, with the values read
/// from the target: the header record of the map view.
fn header_record(mem: &dyn Memory, spec: &StructSpec, addr: u64) -> Json {
    let mut bytes = vec![0u8; usize::try_from(spec.size).unwrap_or(0)];
    let read = mem.read(addr, &mut bytes);
    let fields: Vec<Json> = spec
        .fields
        .iter()
        .map(|f| {
            let value = read.as_ref().ok().and_then(|_| le(&bytes, f.offset, f.size.min(8)));
            json!({"name": f.name, "offset": f.offset, "size": f.size, "type": f.ty,
                   "value": value.map(hex)})
        })
        .collect();
    json!({"struct": spec.name, "size": spec.size, "address": hex(addr), "fields": fields,
           "error": read.err().map(|e| e.to_string())})
}

fn hash_json(pm: &PathMap<'_>) -> Json {
    match &pm.hasher {
        Ok((h, th)) => json!({
            "available": true,
            "algorithm": if th.params.uses_aes() { "aes" } else { "fallback" },
            "hasher": match h.kind() {
                HasherKind::Runtime(n) => (*n).to_string(),
                HasherKind::MemhashVarlen(n) => format!("memhash_varlen({n})"),
                HasherKind::Generated { signature: Some(s) } => format!("type:.hash.{s}"),
                HasherKind::Generated { signature: None } => format!("type:.hash.{}", pm.key_type.name),
            },
            "keys_from": th.globals.source.as_str(),
            "seed": hex(pm.seed()),
        }),
        Err(why) => json!({"available": false, "why": why, "seed": hex(pm.seed())}),
    }
}

fn push_text(out: &mut Vec<u8>, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    let mut cut = text.len().min(MAX_TEXT);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    // NUL separates the texts in the blob.
    out.extend(text[..cut].bytes().map(|b| if b == 0 { b' ' } else { b }));
    if cut < text.len() {
        out.extend_from_slice("…".as_bytes());
    }
    out.push(0);
}

/// Gathers one map. Structural errors end the walk and are listed in the
/// map's `errors`; what was read before them is kept.
pub fn map_report(
    bin: &GoBinary,
    mem: Arc<dyn Memory>,
    named: NamedMap,
    id: usize,
    census_index: Option<usize>,
) -> anyhow::Result<MapReport> {
    let name = named.name.clone();
    let type_name = named.map_type.name.clone();
    let header = named.header;
    let pm = PathMap::open(bin, mem.clone(), named)?;
    let layout = RuntimeLayout::for_binary(bin).ok_or_else(|| anyhow::anyhow!("unknown map runtime"))?;
    let mut errors: Vec<String> = Vec::new();
    let shape = *pm.map.shape();
    let (stats, stats_err) = pm.map.stats();
    errors.extend(stats_err.map(|e| e.to_string()));

    // Containers: tags, addresses, places.
    let (mut tags, mut addrs, mut places) = (Vec::new(), Vec::new(), Vec::new());
    let mut full_slots = 0u64;
    let is_full = |t: u8| match &pm.map {
        MapHandle::Classic(_) => mapscope::maps::classic::is_full(t),
        MapHandle::Swiss(_) => mapscope::maps::swiss::is_full(t),
    };
    for c in pm.map.containers() {
        match c {
            Ok(c) => {
                tags.extend_from_slice(&c.tags);
                addrs.extend_from_slice(&c.addr.to_le_bytes());
                let (a, b) = match c.place {
                    Place::Bucket { old, index, depth } => (index as u32, depth | (u32::from(old) << 31)),
                    Place::Group { table, index } => (index as u32, table.map_or(u32::MAX, |t| t as u32)),
                };
                places.extend_from_slice(&a.to_le_bytes());
                places.extend_from_slice(&b.to_le_bytes());
                full_slots += c.tags.iter().filter(|&&t| is_full(t)).count() as u64;
            }
            Err(e) => {
                errors.push(format!("containers: {e}"));
                break;
            }
        }
    }
    let containers = addrs.len() / 8;

    // Entries: hash, key and value text, indirect addresses.
    let decoder = ValueDecoder::new(bin, mem.clone());
    let plans = decoder.entry_plans(&pm.named.map_type).ok();
    let (mut hashes, mut hstat, mut text) = (Vec::new(), Vec::new(), Vec::new());
    let (mut kaddr, mut eaddr) = (Vec::new(), Vec::new());
    let mut key = vec![0u8; usize::try_from(shape.key_size).unwrap_or(0)];
    let mut scratch = Vec::new();
    let mut entries = 0u64;
    for e in pm.map.entries() {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                errors.push(format!("entries: {err}"));
                break;
            }
        };
        entries += 1;
        let h = match mem.read(e.key, &mut key) {
            Ok(()) => pm.hash_key(&key, &*mem),
            Err(err) => Err(err.to_string()),
        };
        let (v, s) = match h {
            Ok(HashOutcome::Hash(h)) => (h, HASH_OK),
            Ok(HashOutcome::NanRandom) => (0, HASH_NAN),
            Err(_) => (0, HASH_NONE),
        };
        hashes.extend_from_slice(&v.to_le_bytes());
        hstat.push(s);
        match &plans {
            Some(p) => {
                let (k, v) = decoder.decode_entry(p, &e);
                scratch.clear();
                k.write_go(&mut scratch);
                push_text(&mut text, &scratch);
                scratch.clear();
                v.write_go(&mut scratch);
                push_text(&mut text, &scratch);
            }
            None => {
                push_text(&mut text, b"?");
                push_text(&mut text, b"?");
            }
        }
        if shape.indirect_key {
            kaddr.extend_from_slice(&e.key.to_le_bytes());
        }
        if shape.indirect_elem {
            eaddr.extend_from_slice(&e.elem.to_le_bytes());
        }
    }
    if entries != full_slots {
        errors.push(format!(
            "{full_slots} full slots but {entries} entries read: the atlas marks the slots without an entry"
        ));
    }

    let mut blob = Blob::default();
    blob.section("tags", &tags);
    blob.section("addr", &addrs);
    blob.section("place", &places);
    blob.section("hash", &hashes);
    blob.section("hstat", &hstat);
    blob.section("text", &text);
    if shape.indirect_key {
        blob.section("kaddr", &kaddr);
    }
    if shape.indirect_elem {
        blob.section("eaddr", &eaddr);
    }

    let (variant_json, header_spec) = match &pm.map {
        MapHandle::Classic(m) => {
            let h = &m.header;
            (
                json!({"kind": "classic", "B": h.b, "flags": h.flags, "hash0": format!("{:#010x}", h.hash0),
                    "buckets": hex(h.buckets), "oldbuckets": hex(h.oldbuckets), "nevacuate": h.nevacuate,
                    "noverflow": h.noverflow, "growing": h.growing(), "same_size_grow": h.same_size_grow(),
                    "bucket_count": h.bucket_count(), "old_bucket_count": h.old_bucket_count()}),
                layout.get(mapscope::layout::runtime::HMAP_NAME),
            )
        }
        MapHandle::Swiss(m) => {
            let h = &m.header;
            let tables: Vec<Json> = m
                .tables
                .iter()
                .map(|t| {
                    json!({"address": hex(t.addr), "used": t.used, "capacity": t.capacity,
                        "growthLeft": t.growth_left, "localDepth": t.local_depth, "index": t.index,
                        "groups": hex(t.groups), "lengthMask": t.length_mask,
                        "dirFirst": t.dir_first, "dirSlots": t.dir_slots})
                })
                .collect();
            (
                json!({"kind": "swiss", "seed": hex(h.seed), "dirPtr": hex(h.dir_ptr), "dirLen": h.dir_len,
                    "globalDepth": h.global_depth, "globalShift": h.global_shift, "small": h.is_small(),
                    "tables": tables}),
                layout.get(mapscope::layout::runtime::SWISS_MAP_NAME),
            )
        }
    };
    let header_json = header_spec.map(|s| header_record(&*mem, s, header));
    let meta = json!({
        "id": id,
        "name": name,
        "type": type_name,
        "address": hex(header),
        "census": census_index,
        "len": pm.map.header_len(),
        "header": header_json,
        "variant": variant_json,
        "shape": {
            "key_size": shape.key_size, "elem_size": shape.elem_size,
            "container_size": shape.container_size(),
            "indirect_key": shape.indirect_key, "indirect_elem": shape.indirect_elem,
            "key_off": (0..8u8).map(|i| shape.key_offset(i)).collect::<Vec<_>>(),
            "elem_off": (0..8u8).map(|i| shape.elem_offset(i)).collect::<Vec<_>>(),
        },
        "stats": serde_json::to_value(&stats).unwrap_or(Json::Null),
        "hash": hash_json(&pm),
        "containers": containers,
        "entries": entries,
        "full_slots": full_slots,
        "errors": errors,
    });
    Ok(MapReport { meta, blob })
}

/// The layouts the layout view draws: the runtime's map structures and the
/// bucket or group of each shown map type.
#[derive(Serialize)]
pub struct LayoutEntry {
    #[serde(flatten)]
    pub layout: mapscope::layout::StructLayout,
    pub map: Option<String>,
}

pub fn layouts(bin: &GoBinary, map_types: &[&mapscope::binary::GoType]) -> (Vec<LayoutEntry>, Vec<String>) {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    if let Some(table) = RuntimeLayout::for_binary(bin) {
        out.extend(
            mapscope::layout::types::runtime_structs(bin, &table)
                .into_iter()
                .map(|layout| LayoutEntry { layout, map: None }),
        );
    }
    for t in map_types {
        match mapscope::layout::types::map_container(bin, t) {
            Ok(Some(layout)) => out.push(LayoutEntry {
                layout,
                map: Some(t.name.clone()),
            }),
            Ok(None) => errors.push(format!("{}: its descriptor names no bucket/group type", t.name)),
            Err(e) => errors.push(format!("{}: {e}", t.name)),
        }
    }
    (out, errors)
}
