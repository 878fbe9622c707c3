//! The census on damaged cores: map headers with absurd counts, containers
//! pointed back at their header, random words of the heap overwritten. The
//! census must finish — with what was sound, and no map reported with a count
//! its memory does not hold — and never panic.

use std::collections::BTreeMap;
use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::census;
use mapscope::heap::Heap;
use mapscope::memory::{CoreFile, ImageMemory, Memory};

mod patched_memory;
use patched_memory::Patched;

fn open(
    variant: &str,
) -> (
    GoBinary,
    Arc<dyn Memory>,
    Vec<mapscope::memory::ThreadStatus>,
    mapscope_fixtures::Truth,
) {
    let fx = mapscope_fixtures::get(variant).unwrap();
    let exe = fx.binary_path().unwrap();
    let mut cf = CoreFile::open(fx.core_path().unwrap()).unwrap();
    cf.attach_executable(ImageMemory::open(&exe).unwrap()).unwrap();
    let threads = cf.notes().threads.clone();
    (
        GoBinary::open(&exe).unwrap(),
        Arc::new(cf),
        threads,
        fx.truth().unwrap(),
    )
}

/// A tiny deterministic generator (no dependency for a test's dice).
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn damaged_headers_are_not_believed() {
    for variant in ["go1.22", "go1.26"] {
        let (bin, mem, threads, truth) = open(variant);
        let classic = truth.variant == "classic";
        let mut p = Patched {
            base: mem.clone(),
            patches: BTreeMap::new(),
        };
        let maps: Vec<u64> = truth
            .maps
            .iter()
            .filter(|m| m.len > 0 && m.root == "global")
            .filter_map(|m| m.address_u64())
            .collect();
        let (absurd, cyclic): (Vec<u64>, Vec<u64>) = maps.iter().take(20).partition(|&&a| a % 32 < 16);
        // count/used at offset 0 in every layout.
        for &a in &absurd {
            p.word(a, 1 << 62);
        }
        // buckets (classic, +16) or dirPtr (Swiss, +16) pointed at the header itself.
        for &a in &cyclic {
            p.word(a + 16, a);
            if !classic {
                // dirLen 1, so the header is read as a directory.
                p.word(a + 24, 1);
            }
        }
        let c = census::run(&bin, Arc::new(p), &threads, None).unwrap();
        for a in absurd.iter().chain(&cyclic) {
            if let Some(m) = c.maps.iter().find(|m| m.address == *a) {
                assert!(
                    m.error.is_some() || m.len < 1 << 40,
                    "{variant}: damaged map {a:#x} believed: len {} bytes {}",
                    m.len,
                    m.bytes
                );
            }
        }
        // The undamaged maps are all still there.
        for a in maps.iter().skip(20) {
            assert!(c.maps.iter().any(|m| m.address == *a), "{variant}: {a:#x} lost");
        }
    }
}

#[test]
fn random_heap_damage_ends() {
    for variant in ["go1.22", "go1.26", "go1.27-stripped"] {
        let (bin, mem, threads, _) = open(variant);
        let heap = Heap::open(&bin, &*mem).unwrap();
        let objects: Vec<_> = heap.objects().collect();
        let mut dice = Dice(0x9e37_79b9_7f4a_7c15);
        for trial in 0..6 {
            let mut p = Patched {
                base: mem.clone(),
                patches: BTreeMap::new(),
            };
            for _ in 0..400 {
                let o = objects[(dice.next() % objects.len() as u64) as usize];
                let off = (dice.next() % o.size.max(8)) & !7;
                let v = match dice.next() % 4 {
                    0 => 0,
                    1 => dice.next(),
                    2 => o.base,
                    _ => objects[(dice.next() % objects.len() as u64) as usize].base + 16,
                };
                p.word(o.base + off, v);
            }
            let t0 = std::time::Instant::now();
            let r = census::run(&bin, Arc::new(p), &threads, None);
            assert!(t0.elapsed().as_secs() < 30, "{variant} trial {trial}: too slow");
            if let Ok(c) = r {
                let mut seen = std::collections::HashSet::new();
                assert!(c.maps.iter().all(|m| seen.insert(m.address)), "{variant}: a map twice");
            }
        }
    }
}
