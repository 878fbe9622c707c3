//! The map decoders against every fixture core: every map's entry count
//! equals the program's `len`, and for integer-keyed, integer-valued maps the
//! decoded entries equal what the program printed. Shapes come from the map
//! type descriptor fields the program itself read.

use std::sync::Arc;

use mapscope::layout::runtime::{HMAP_NAME, SWISS_MAP_NAME, TABLE_NAME};
use mapscope::layout::RuntimeLayout;
use mapscope::maps::classic::ClassicMap;
use mapscope::maps::swiss::SwissMap;
use mapscope::maps::{Entry, MapError, MapShape, SlotLayout};
use mapscope::memory::{CoreFile, Memory, MemoryExt};
use mapscope_fixtures::{MapTruth, Truth};

fn minor(v: &str) -> u32 {
    v.strip_prefix("go1.")
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|m| m.parse().ok())
        .unwrap()
}

fn shape(t: &Truth, m: &MapTruth) -> MapShape {
    let d = |f: &str| {
        m.descriptor_u64(f)
            .unwrap_or_else(|| panic!("{}: descriptor.{f}", m.name))
    };
    let flags = d("flags");
    if t.variant == "classic" {
        let (ik, ie) = (flags & 1 != 0, flags & 2 != 0);
        MapShape::classic(
            m.key_size,
            m.elem_size,
            ik,
            ie,
            d("bucketsize"),
            d("keysize"),
            d("valuesize"),
        )
    } else {
        let (ik, ie) = (flags & 4 != 0, flags & 8 != 0);
        if m.descriptor.contains_key("KeysOff") {
            MapShape {
                key_size: m.key_size,
                elem_size: m.elem_size,
                indirect_key: ik,
                indirect_elem: ie,
                slots: SlotLayout::Swiss {
                    group_size: d("GroupSize"),
                    keys_off: d("KeysOff"),
                    key_stride: d("KeyStride"),
                    elems_off: d("ElemsOff"),
                    elem_stride: d("ElemStride"),
                },
            }
        } else {
            MapShape::swiss_interleaved(
                m.key_size,
                m.elem_size,
                ik,
                ie,
                d("GroupSize"),
                d("SlotSize"),
                d("ElemOff"),
            )
        }
    }
}

fn decode(mem: Arc<dyn Memory>, t: &Truth, m: &MapTruth) -> Vec<Result<Entry, MapError>> {
    let layout = RuntimeLayout::for_build(minor(&t.go_version), t.variant != "classic");
    let addr = m.address_u64().unwrap();
    let shape = shape(t, m);
    if t.variant == "classic" {
        let map = ClassicMap::open(mem, addr, layout.get(HMAP_NAME).unwrap(), shape).unwrap();
        assert_eq!(map.header.count as usize, m.len);
        assert_eq!(m.header_u64("B"), Some(map.header.b.into()), "{}", m.name);
        map.entries().collect()
    } else {
        let map = SwissMap::open(
            mem,
            addr,
            layout.get(SWISS_MAP_NAME).unwrap(),
            layout.get(TABLE_NAME).unwrap(),
            shape,
        )
        .unwrap();
        assert_eq!(map.header.used as usize, m.len);
        let want_tables = m.tables.as_ref().map_or(0, Vec::len);
        assert_eq!(map.tables.len(), want_tables, "{}: unique tables", m.name);
        for (got, want) in map.tables.iter().zip(m.tables.iter().flatten()) {
            assert_eq!(
                Some(got.addr),
                want["address"].as_str().and_then(mapscope_fixtures::hex_u64)
            );
            assert_eq!(Some(u64::from(got.capacity)), want["capacity"].as_u64());
            assert_eq!(Some(u64::from(got.used)), want["used"].as_u64());
        }
        map.entries().collect()
    }
}

/// Signed or unsigned integer rendering of `size` little-endian bytes, as fmt prints it.
fn int_text(mem: &dyn Memory, addr: u64, ty: &str, size: u64) -> Option<String> {
    if !matches!(
        ty,
        "int" | "int8" | "int16" | "int32" | "int64" | "uint" | "uint8" | "uint16" | "uint32" | "uint64" | "uintptr"
    ) {
        return None;
    }
    let raw = mem.read_vec(addr, size).ok()?;
    let mut w = [0u8; 8];
    w[..raw.len()].copy_from_slice(&raw);
    let u = u64::from_le_bytes(w);
    let bits = size * 8;
    Some(match ty {
        "int" | "int8" | "int16" | "int32" | "int64" => {
            let shift = 64 - bits;
            (((u << shift) as i64) >> shift).to_string()
        }
        "uint" | "uint8" | "uint16" | "uint32" | "uint64" | "uintptr" => u.to_string(),
        _ => return None,
    })
}

#[test]
fn every_map_of_every_core_decodes_to_len_entries() {
    let mut decoded_maps = 0;
    let mut compared_entries = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        for run in fx.runs() {
            let truth = run.truth().unwrap();
            for kind in run.core_kinds().collect::<Vec<_>>() {
                let core = run.core_path(kind).unwrap().unwrap();
                let mem: Arc<dyn Memory> =
                    Arc::new(CoreFile::open_with_executable(&core, fx.binary_path().unwrap()).unwrap());
                for m in &truth.maps {
                    if m.address_u64() == Some(0) {
                        continue;
                    }
                    let entries = decode(mem.clone(), &truth, m);
                    let ctx = format!("{} {} {kind} {}", fx.name(), run.entry.name, m.name);
                    let entries: Vec<Entry> = entries
                        .into_iter()
                        .map(|e| e.unwrap_or_else(|e| panic!("{ctx}: {e}")))
                        .collect();
                    assert_eq!(entries.len(), m.len, "{ctx}: entries found vs len");
                    decoded_maps += 1;
                    let texts: Option<Vec<(String, String)>> = entries
                        .iter()
                        .map(|e| {
                            Some((
                                int_text(&*mem, e.key, &m.key_type, m.key_size)?,
                                int_text(&*mem, e.elem, &m.elem_type, m.elem_size)?,
                            ))
                        })
                        .collect();
                    if let Some(mut got) = texts {
                        let mut want = m.entries.clone();
                        got.sort();
                        want.sort();
                        assert_eq!(got, want, "{ctx}: entries");
                        compared_entries += got.len();
                    }
                }
            }
        }
    }
    eprintln!("decoded {decoded_maps} maps; compared {compared_entries} integer entries with the programs' own");
    assert!(decoded_maps > 500 && compared_entries > 100_000);
}

#[test]
fn mid_growth_classic_maps_are_really_mid_growth() {
    let mut seen = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let t = fx.truth().unwrap();
        if t.variant != "classic" {
            continue;
        }
        let m = t.map("main.MidGrowth").unwrap();
        assert_ne!(
            m.header_u64("oldbuckets"),
            Some(0),
            "{}: MidGrowth is not growing",
            fx.name()
        );
        seen += 1;
    }
    assert!(seen >= 6);
}

fn open(mem: Arc<dyn Memory>, t: &Truth, m: &MapTruth) -> mapscope::maps::MapHandle {
    use mapscope::binary::MapVariant;
    let layout = RuntimeLayout::for_build(minor(&t.go_version), t.variant != "classic");
    let variant = match t.variant.as_str() {
        "classic" => MapVariant::Classic,
        "swiss" => MapVariant::Swiss,
        _ => MapVariant::SwissSplit,
    };
    mapscope::maps::MapHandle::open(mem, &layout, variant, m.address_u64().unwrap(), shape(t, m)).unwrap()
}

#[test]
fn stats_agree_with_the_runtimes_own_header_and_tables() {
    let mut tombstones_seen = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let t = fx.truth().unwrap();
        let mem: Arc<dyn Memory> =
            Arc::new(CoreFile::open_with_executable(fx.core_path().unwrap(), fx.binary_path().unwrap()).unwrap());
        for m in t.maps.iter().filter(|m| m.address_u64() != Some(0)) {
            let ctx = format!("{} {}", fx.name(), m.name);
            let (s, err) = open(mem.clone(), &t, m).stats();
            assert!(err.is_none(), "{ctx}: {err:?}");
            assert_eq!(s.entries as usize, m.len, "{ctx}");
            if t.variant == "classic" {
                let b = m.header_u64("B").unwrap();
                let want = if m.header_u64("buckets") == Some(0) {
                    0
                } else {
                    1u64 << b
                };
                assert_eq!(s.buckets, want, "{ctx}: buckets");
                let old = m.header_u64("oldbuckets").unwrap();
                let same_size = m.header_u64("flags").unwrap() & 8 != 0;
                let want_old = if old == 0 {
                    0
                } else if same_size {
                    1 << b
                } else {
                    1 << (b - 1)
                };
                assert_eq!(s.old_buckets, want_old, "{ctx}: old buckets");
                assert!(s.bytes.header as usize == t.structs["runtime.hmap"].size as usize);
            } else {
                let tables = m.tables.clone().unwrap_or_default();
                let groups: u64 = if tables.is_empty() {
                    u64::from(m.header_u64("dirPtr") != Some(0))
                } else {
                    tables.iter().map(|t| t["capacity"].as_u64().unwrap() / 8).sum()
                };
                assert_eq!(s.groups, groups, "{ctx}: groups");
                // growthLeft = 7/8·capacity − used − tombstones for tables above 8 slots.
                let tomb: u64 = tables
                    .iter()
                    .map(|t| {
                        let (cap, used, left) = (
                            t["capacity"].as_u64().unwrap(),
                            t["used"].as_u64().unwrap(),
                            t["growthLeft"].as_u64().unwrap(),
                        );
                        cap * 7 / 8 - used - left
                    })
                    .sum();
                assert_eq!(s.tombstones, tomb, "{ctx}: tombstones");
                tombstones_seen += tomb;
            }
            assert!(s.bytes.total >= s.bytes.live, "{ctx}: {:?}", s.bytes);
        }
    }
    assert!(tombstones_seen > 100, "the corpus should hold Swiss tombstones");
}
