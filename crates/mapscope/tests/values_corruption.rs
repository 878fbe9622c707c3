//! The value decoder on memory that lies: random addresses in a real core,
//! and random bytes whose words often point back into themselves or name
//! real type descriptors (so interfaces, strings, slices and maps chain
//! through garbage). It must never panic and must stay fast.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mapscope::binary::{GoBinary, GoType};
use mapscope::memory::{CoreFile, Memory, SliceMemory};
use mapscope::values::{Limits, ValueDecoder};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Every map type of the binary, with its key and elem types.
fn types(bin: &GoBinary) -> Vec<GoType> {
    let mut out = Vec::new();
    for m in bin.map_types().unwrap() {
        for r in [m.map_key(), m.elem()].into_iter().flatten() {
            if let Ok(t) = bin.type_by_id(r.id) {
                out.push(t);
            }
        }
        out.push(m);
    }
    assert!(out.len() > 50, "only {} types", out.len());
    out
}

fn limits() -> Limits {
    Limits {
        max_nodes: 20_000,
        max_elems: 1_000,
        max_string_bytes: 4096,
        ..Limits::default()
    }
}

const BASE: u64 = 0xc000_000000;
const SIZE: usize = 256 << 10;

/// Random words, a third of them pointers into the region itself and some
/// real type descriptor addresses, so that garbage is followed far.
fn hostile_memory(rng: &mut Rng, type_addrs: &[u64]) -> SliceMemory {
    let mut bytes = vec![0u8; SIZE];
    for w in bytes.chunks_exact_mut(8) {
        let v = match rng.below(10) {
            0..=2 => BASE + rng.below(SIZE as u64),
            3 => type_addrs[rng.below(type_addrs.len() as u64) as usize],
            4 => rng.below(64),
            5 => 0,
            _ => rng.next(),
        };
        w.copy_from_slice(&v.to_le_bytes());
    }
    SliceMemory::new().with(BASE, bytes).unwrap()
}

#[test]
fn random_bytes_and_garbage_addresses_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut decoded = 0u64;
    let (mut complete, mut incomplete) = (0u64, 0u64);
    let start = Instant::now();
    for name in ["go1.22", "go1.27-stripped", "go1.24-noswiss"] {
        let fx = mapscope_fixtures::get(name).unwrap();
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        let types = types(&bin);
        let type_addrs: Vec<u64> = types.iter().filter_map(|t| t.runtime_addr).collect();

        // Garbage addresses in a real core: unmapped, misaligned, near the top.
        let core: Arc<dyn Memory> =
            Arc::new(CoreFile::open_with_executable(fx.core_path().unwrap(), fx.binary_path().unwrap()).unwrap());
        let regions = core.regions();
        let dec = ValueDecoder::new(&bin, core.clone()).with_limits(limits());
        for _ in 0..3000 {
            let t = &types[rng.below(types.len() as u64) as usize];
            let addr = match rng.below(4) {
                0 => rng.next(),
                1 => u64::MAX - rng.below(64),
                _ => {
                    let r = &regions[rng.below(regions.len() as u64) as usize];
                    r.start + rng.below(r.end - r.start)
                }
            };
            let v = dec.decode(addr, t);
            let _ = v.go_bytes();
            let _ = v.to_json();
            decoded += 1;
        }

        // Hostile bytes, decoded as every type at random offsets.
        for round in 0..4 {
            let mem: Arc<dyn Memory> = Arc::new(hostile_memory(&mut rng, &type_addrs));
            let lim = if round == 0 { Limits::default() } else { limits() };
            let dec = ValueDecoder::new(&bin, mem).with_limits(lim);
            for t in &types {
                for _ in 0..4 {
                    let addr = BASE + rng.below(SIZE as u64);
                    let t0 = Instant::now();
                    let v = dec.decode(addr, t);
                    let _ = v.go_bytes();
                    if v.is_complete() {
                        complete += 1;
                    } else {
                        incomplete += 1;
                    }
                    assert!(
                        t0.elapsed() < Duration::from_secs(5),
                        "{name}: decoding {} at {addr:#x} took {:?}",
                        t.name,
                        t0.elapsed()
                    );
                    decoded += 1;
                }
            }
        }
    }
    eprintln!(
        "decoded {decoded} garbage values in {:?}; of the hostile ones {complete} complete, {incomplete} not",
        start.elapsed()
    );
    // Both outcomes occur: the garbage is followed, not rejected up front.
    assert!(complete > 100 && incomplete > 100);
    assert!(start.elapsed() < Duration::from_secs(120));
}
