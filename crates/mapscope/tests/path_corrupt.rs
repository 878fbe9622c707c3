//! `path` and `--all` on damaged maps never panic and never loop: the
//! header, the directory, tables and buckets/groups of real fixture maps are
//! overwritten with pseudo-random bytes (an overlay over the core), and the
//! lookup and the placement check must end with a result or an error. A map
//! whose tag bytes are damaged must not verify.

use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::maps::resolve::resolve;
use mapscope::maps::MapHandle;
use mapscope::memory::{CoreFile, Memory, MemoryExt};
use mapscope::path::{KeySpec, Overlay, PathMap};

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn damaged_maps_give_results_or_errors() {
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let exe = fx.binary_path().unwrap();
        let bin = GoBinary::open(&exe).unwrap();
        let base: Arc<dyn Memory> = Arc::new(CoreFile::open_with_executable(fx.core_path().unwrap(), &exe).unwrap());
        for (map, key) in [
            ("main.Huge", "77777"),
            ("main.Strings", "hello"),
            ("main.MidGrowth", "3"),
        ] {
            let named = resolve(&bin, &*base, map).unwrap();
            let pm = PathMap::open(&bin, base.clone(), named.clone()).unwrap();
            // Where the lookup reads: the header, and the first bucket array
            // or directory and table.
            let mut targets = vec![(named.header, 64u64)];
            match &pm.map {
                MapHandle::Classic(m) => {
                    targets.push((m.header.buckets, 4096));
                    targets.push((m.header.oldbuckets, 4096));
                }
                MapHandle::Swiss(m) => {
                    targets.push((m.header.dir_ptr, 4096));
                    for t in m.tables.iter().take(4) {
                        targets.push((t.addr, 32));
                        targets.push((t.groups, 4096));
                    }
                }
            }
            for (i, &(addr, len)) in targets.iter().enumerate().filter(|(_, t)| t.0 != 0) {
                for seed in 0..24u64 {
                    let mut bytes = base.read_vec(addr, len).unwrap();
                    // Damage a few bytes, or all of them.
                    let n = noise(seed * 31 + i as u64, bytes.len());
                    if seed % 4 == 0 {
                        bytes.copy_from_slice(&n);
                    } else {
                        for k in 0..(1 + seed as usize % 16) {
                            let at = (n[k] as usize * 16 + n[k + 1] as usize) % bytes.len();
                            bytes[at] = n[k + 2];
                        }
                    }
                    let mem: Arc<dyn Memory> = Arc::new(Overlay::new(base.clone(), vec![(addr, bytes)]));
                    let named = resolve(&bin, &*mem, map).unwrap();
                    let Ok(pm) = PathMap::open(&bin, mem, named) else {
                        continue;
                    };
                    if let Ok(k) = pm.parse_key(&KeySpec::Literal(key.into())) {
                        let _ = pm.trace(&k);
                    }
                    let _ = pm.verify_all(4);
                }
            }
        }
    }
}

/// A stored tag byte changed: the key's path must not verify, and `--all`
/// must report that entry misplaced.
#[test]
fn a_changed_tag_is_a_misplacement() {
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let exe = fx.binary_path().unwrap();
        let bin = GoBinary::open(&exe).unwrap();
        let base: Arc<dyn Memory> = Arc::new(CoreFile::open_with_executable(fx.core_path().unwrap(), &exe).unwrap());
        let named = resolve(&bin, &*base, "main.Huge").unwrap();
        let pm = PathMap::open(&bin, base.clone(), named.clone()).unwrap();
        let key = pm.parse_key(&KeySpec::Literal("77777".into())).unwrap();
        let p = pm.trace(&key).unwrap();
        assert!(p.verified);
        let f = p.found.unwrap();
        // Another full tag: classic ≥ 5, Swiss < 0x80.
        let other = if variant == "go1.22" {
            f.tag ^ 0x40 | 0x08
        } else {
            (f.tag ^ 0x11) & 0x7f
        };
        // The overlay serves reads that lie inside one region: replace the
        // whole bucket or group.
        let size = pm.map.shape().container_size();
        let mut tags = base.read_vec(f.container, size).unwrap();
        tags[usize::from(f.slot)] = other;
        let mem: Arc<dyn Memory> = Arc::new(Overlay::new(base.clone(), vec![(f.container, tags)]));
        // As the runtime's lookup would, the path finds the key absent
        // where its hash leads; asked to scan, it finds it elsewhere.
        let pm = PathMap::open(&bin, mem.clone(), named.clone()).unwrap();
        let p = pm.trace(&key).unwrap();
        assert!(
            !p.verified && p.found.is_none() && p.absent_by_hash,
            "{variant}: {:?}",
            p.notes
        );
        let pm = PathMap::open(&bin, mem, named).unwrap().scan_absent(true);
        let p = pm.trace(&key).unwrap();
        assert!(!p.verified, "{variant}: {:?}", p.checks);
        assert!(p.found.is_some_and(|f| !f.by_hash), "{variant}: found by scanning");
        let r = pm.verify_all(4);
        assert_eq!(r.misplaced, 1, "{variant}: {:?}", r.misplacements);
        assert!(r.misplacements[0].key_go == "77777", "{:?}", r.misplacements);
    }
}
