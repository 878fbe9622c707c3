//! Corrupt maps in real cores: flipped header fields, chains pointed back at
//! themselves, directories and tables with impossible values, random damage
//! to buckets and groups, truncated cores. Every walk must end — with the
//! entries that were sound and, where the damage was seen, a typed error —
//! and never panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::maps::{Container, MapError, MapHandle};
use mapscope::memory::{CoreFile, Memory, MemoryExt};

mod patched_memory;
use patched_memory::Patched;

struct Fixture {
    bin: GoBinary,
    core: Arc<dyn Memory>,
    truth: mapscope_fixtures::Truth,
}

fn fixture(name: &str) -> Fixture {
    let fx = mapscope_fixtures::get(name).unwrap();
    let exe = fx.binary_path().unwrap();
    Fixture {
        bin: GoBinary::open(&exe).unwrap(),
        core: Arc::new(CoreFile::open_with_executable(fx.core_path().unwrap(), &exe).unwrap()),
        truth: fx.truth().unwrap(),
    }
}

/// Opens `map` of the fixture over `mem`; the outcome of a full walk: the
/// entries yielded before any error, and the error.
fn walk(f: &Fixture, mem: Arc<dyn Memory>, map: &str) -> Result<(usize, Option<MapError>), MapError> {
    let m = f.truth.map(map).unwrap();
    let ty = f
        .bin
        .runtime_type(mapscope_fixtures::hex_u64(&m.type_address).unwrap())
        .unwrap();
    let h = MapHandle::for_type(mem, &f.bin, m.address_u64().unwrap(), &ty)?;
    let mut n = 0;
    for e in h.entries() {
        match e {
            Ok(_) => n += 1,
            Err(e) => return Ok((n, Some(e))),
        }
    }
    let (_, stats_err) = h.stats();
    Ok((n, stats_err))
}

fn containers(f: &Fixture, map: &str) -> Vec<Container> {
    let m = f.truth.map(map).unwrap();
    let ty = f
        .bin
        .runtime_type(mapscope_fixtures::hex_u64(&m.type_address).unwrap())
        .unwrap();
    let h = MapHandle::for_type(f.core.clone(), &f.bin, m.address_u64().unwrap(), &ty).unwrap();
    h.containers().map(Result::unwrap).collect()
}

fn patched(f: &Fixture) -> Patched {
    Patched {
        base: f.core.clone(),
        patches: BTreeMap::new(),
    }
}

fn field(f: &Fixture, structure: &str, name: &str) -> u64 {
    f.truth.structs[structure].fields[name]
}

#[test]
fn classic_overflow_chain_pointing_back_is_a_cycle() {
    let f = fixture("go1.22");
    let m = f.truth.map("main.Huge").unwrap();
    let cs = containers(&f, "main.Huge");
    // A bucket with an overflow bucket: make the overflow bucket point back
    // to its parent.
    let parent = cs.iter().find(|c| c.overflow != 0).expect("Huge has overflow chains");
    let size = m.descriptor_u64("bucketsize").unwrap();
    let mut p = patched(&f);
    p.word(parent.overflow + size - 8, parent.overflow);
    let (n, err) = walk(&f, Arc::new(p), "main.Huge").unwrap();
    assert!(matches!(err, Some(MapError::Cycle { .. })), "{err:?}");
    assert!(n <= m.len, "{n} entries from a corrupt map of {}", m.len);
    // And back into the bucket array itself.
    let mut p = patched(&f);
    p.word(parent.overflow + size - 8, m.header_u64("buckets").unwrap());
    let (_, err) = walk(&f, Arc::new(p), "main.Huge").unwrap();
    assert!(matches!(err, Some(MapError::Cycle { .. })), "{err:?}");
}

#[test]
fn classic_header_damage_is_reported() {
    let f = fixture("go1.22");
    let addr = f.truth.map("main.Huge").unwrap().address_u64().unwrap();
    // B far beyond any address space.
    let mut p = patched(&f);
    p.patches.insert(addr + field(&f, "runtime.hmap", "B"), 200);
    assert!(matches!(
        walk(&f, Arc::new(p), "main.Huge"),
        Err(MapError::Implausible { what: "B", .. })
    ));
    // Buckets pointing at unmapped memory.
    let mut p = patched(&f);
    p.word(addr + field(&f, "runtime.hmap", "buckets"), 0x10);
    let (n, err) = walk(&f, Arc::new(p), "main.Huge").unwrap();
    assert_eq!(n, 0);
    assert!(matches!(err, Some(MapError::Memory { .. })), "{err:?}");
    // A header address that is not mapped at all.
    let m = f.truth.map("main.Huge").unwrap();
    let ty = f
        .bin
        .runtime_type(mapscope_fixtures::hex_u64(&m.type_address).unwrap())
        .unwrap();
    assert!(matches!(
        MapHandle::for_type(f.core.clone(), &f.bin, 0x18, &ty),
        Err(MapError::Memory { .. })
    ));
}

#[test]
fn swiss_directory_and_table_damage_is_reported() {
    let f = fixture("go1.26");
    let m = f.truth.map("main.Huge").unwrap();
    let addr = m.address_u64().unwrap();
    let map_s = "internal/runtime/maps.Map";
    // dirLen not a power of two / not 2^globalDepth.
    let mut p = patched(&f);
    p.word(addr + field(&f, map_s, "dirLen"), 3);
    assert!(matches!(
        walk(&f, Arc::new(p), "main.Huge"),
        Err(MapError::Implausible { what: "dirLen", .. })
    ));
    // A table with an impossible capacity.
    let dir = m.header_u64("dirPtr").unwrap();
    let table = f.core.read_u64(dir).unwrap();
    let mut p = patched(&f);
    p.word(table + field(&f, "internal/runtime/maps.table", "capacity"), 5000);
    assert!(matches!(
        walk(&f, Arc::new(p), "main.Huge"),
        Err(MapError::Implausible { .. })
    ));
    // A directory slot pointing nowhere.
    let mut p = patched(&f);
    p.word(dir + 8 * 5, 0x20);
    assert!(matches!(
        walk(&f, Arc::new(p), "main.Huge"),
        Err(MapError::Memory { .. })
    ));
    // A table's groups pointing at unmapped memory: the tables before it are
    // walked, then the error.
    let last = f
        .core
        .read_u64(dir + 8 * (m.header_u64("dirLen").unwrap() - 1))
        .unwrap();
    let mut p = patched(&f);
    p.word(last + field(&f, "internal/runtime/maps.table", "groups"), 0x30);
    let (n, err) = walk(&f, Arc::new(p), "main.Huge").unwrap();
    assert!(matches!(err, Some(MapError::Memory { .. })), "{err:?}");
    assert!(n > 0 && n < m.len, "{n}");
}

#[test]
fn random_damage_to_buckets_and_groups_ends_every_walk() {
    for name in ["go1.22", "go1.24-noswiss", "go1.26", "go1.27-split"] {
        let f = fixture(name);
        for map in [
            "main.Huge",
            "main.Deleted",
            "main.MidGrowth",
            "main.Strings",
            "main.BigKeys",
        ] {
            let cs = containers(&f, map);
            let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ cs.len() as u64;
            let mut next = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            for round in 0..20 {
                let mut p = patched(&f);
                for _ in 0..(1 + round * 10) {
                    let c = &cs[(next() % cs.len() as u64) as usize];
                    let off = next() % 256;
                    p.patches.insert(c.addr + off, next() as u8);
                }
                // Either opens and walks to an end, or refuses: both are fine.
                let _ = walk(&f, Arc::new(p), map);
            }
        }
    }
}

#[test]
fn truncated_cores_give_typed_errors_and_the_sound_entries() {
    let fx = mapscope_fixtures::get("go1.26").unwrap();
    let exe = fx.binary_path().unwrap();
    let data = std::fs::read(fx.core_path().unwrap()).unwrap();
    let truth = fx.truth().unwrap();
    let bin = GoBinary::open(&exe).unwrap();
    let dir = std::env::temp_dir().join(format!("mapscope-trunc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut saw_truncation_error = false;
    // The heap sits in the first half of the file: keep less and less of it.
    for frac in [2usize, 4, 8, 16, 64] {
        let cut = dir.join(format!("core-{frac}"));
        std::fs::write(&cut, &data[..data.len() / frac]).unwrap();
        let core = match CoreFile::open_with_executable(&cut, &exe) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("1/{frac} of the core: {e}");
                continue;
            }
        };
        let core: Arc<dyn Memory> = Arc::new(core);
        for m in truth.maps.iter().filter(|m| m.address_u64() != Some(0)) {
            let ty = bin
                .runtime_type(mapscope_fixtures::hex_u64(&m.type_address).unwrap())
                .unwrap();
            match MapHandle::for_type(core.clone(), &bin, m.address_u64().unwrap(), &ty) {
                Ok(h) => {
                    let mut n = 0;
                    for e in h.entries() {
                        match e {
                            Ok(_) => n += 1,
                            Err(e) => {
                                saw_truncation_error |= e.to_string().contains("truncated");
                                break;
                            }
                        }
                    }
                    assert!(n <= m.len);
                }
                Err(e) => saw_truncation_error |= e.to_string().contains("truncated"),
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    assert!(saw_truncation_error, "no walk met the truncation");
}

/// The header's count held against what the walk finds (issue 14): a count
/// of 2^63-1 over 9 entries, one more than the buckets hold, and a classic
/// bucket pointer aimed at the header itself are all errors of the snapshot.
#[test]
fn header_counts_the_walk_does_not_find_are_errors() {
    for name in ["go1.22", "go1.26", "go1.27-split"] {
        let f = fixture(name);
        let m = f.truth.map("main.Strings").unwrap();
        let header = m.address_u64().unwrap();
        let ty = f
            .bin
            .runtime_type(mapscope_fixtures::hex_u64(&m.type_address).unwrap())
            .unwrap();
        let classic = f.truth.variant == "classic";
        let mut cases: Vec<(u64, u64)> = vec![(header, (1u64 << 63) - 1), (header, m.len as u64 + 1)];
        if classic {
            cases.push((header + field(&f, "runtime.hmap", "buckets"), header));
        }
        for (at, value) in cases {
            let mut p = patched(&f);
            p.word(at, value);
            let mem: Arc<dyn Memory> = Arc::new(p);
            let snap =
                mapscope::maps::snapshot::snapshot(|| MapHandle::for_type(mem.clone(), &f.bin, header, &ty), false, 1)
                    .unwrap();
            let err = snap.count_error();
            assert!(
                err.as_deref().is_some_and(|e| e.contains("the header counts")),
                "{name}: {value:#x} at {at:#x}: {err:?} (found {})",
                snap.stats.entries
            );
        }
        // The sound map: no error.
        let snap =
            mapscope::maps::snapshot::snapshot(|| MapHandle::for_type(f.core.clone(), &f.bin, header, &ty), false, 1)
                .unwrap();
        assert_eq!(snap.count_error(), None, "{name}");
        assert_eq!(snap.stats.entries, m.len as u64, "{name}");
    }
}
