//! The portable fallback hash (`runtime/hash64.go`; from 1.27
//! `internal/runtime/maps/runtime_hash64.go`), used when the CPU lacks AES
//! or `GODEBUG=cpu.aes=off`, and on arm64 without the AES extension.

const M1: u64 = 0xa076_1d64_78bd_642f;
const M2: u64 = 0xe703_7ed1_a0b4_28db;
const M3: u64 = 0x8ebc_6af0_9c88_c6e3;
const M4: u64 = 0x5899_65cc_7537_4cc3;
const M5: u64 = 0x1d8e_4e27_c47d_124f;

/// The per-process keys as the fallback uses them. Up to 1.22 only
/// `hashkey[0]` is random and the fixed constants m1–m4 do the rest; from
/// 1.23 the four `hashkey` words replace m1–m4.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Wyhash {
    /// XORed into the seed first.
    seed_key: u64,
    /// The three lane keys of the 48-byte loop; `lane[0]` also keys `a`.
    lane: [u64; 3],
}

impl Wyhash {
    pub(crate) fn new(hashkey: [u64; 4], legacy_constants: bool) -> Self {
        if legacy_constants {
            Wyhash {
                seed_key: hashkey[0] ^ M1,
                lane: [M2, M3, M4],
            }
        } else {
            Wyhash {
                seed_key: hashkey[0],
                lane: [hashkey[1], hashkey[2], hashkey[3]],
            }
        }
    }

    pub(crate) fn memhash(&self, p: &[u8], seed: u64) -> u64 {
        let s = p.len();
        let mut seed = seed ^ self.seed_key;
        let [k1, k2, k3] = self.lane;
        let (a, b) = match s {
            0 => return seed,
            1..=3 => {
                let a = u64::from(at(p, 0)) | u64::from(at(p, s >> 1)) << 8 | u64::from(at(p, s - 1)) << 16;
                (a, 0)
            }
            4 => {
                let a = r4(p, 0);
                (a, a)
            }
            5..=7 => (r4(p, 0), r4(p, s - 4)),
            8 => {
                let a = r8(p, 0);
                (a, a)
            }
            9..=16 => (r8(p, 0), r8(p, s - 8)),
            _ => {
                let mut l = s;
                let mut o = 0usize;
                if l > 48 {
                    let mut seed1 = seed;
                    let mut seed2 = seed;
                    while l > 48 {
                        seed = mix(r8(p, o) ^ k1, r8(p, o + 8) ^ seed);
                        seed1 = mix(r8(p, o + 16) ^ k2, r8(p, o + 24) ^ seed1);
                        seed2 = mix(r8(p, o + 32) ^ k3, r8(p, o + 40) ^ seed2);
                        o += 48;
                        l -= 48;
                    }
                    seed ^= seed1 ^ seed2;
                }
                while l > 16 {
                    seed = mix(r8(p, o) ^ k1, r8(p, o + 8) ^ seed);
                    o += 16;
                    l -= 16;
                }
                (r8(p, o + l - 16), r8(p, o + l - 8))
            }
        };
        mix(M5 ^ s as u64, mix(a ^ k1, b ^ seed))
    }

    /// `memhash32Fallback` (`size` 4) and `memhash64Fallback` (`size` 8).
    pub(crate) fn memhash_word(&self, a: u64, size: u64, seed: u64) -> u64 {
        mix(M5 ^ size, mix(a ^ self.lane[0], a ^ seed ^ self.seed_key))
    }
}

#[inline(always)]
fn mix(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r >> 64) as u64 ^ r as u64
}

#[inline(always)]
fn at(p: &[u8], i: usize) -> u8 {
    p.get(i).copied().unwrap_or(0)
}

#[inline(always)]
fn r4(p: &[u8], o: usize) -> u64 {
    let mut b = [0u8; 4];
    if let Some(src) = p.get(o..o.saturating_add(4)) {
        b.copy_from_slice(src);
    }
    u64::from(u32::from_le_bytes(b))
}

#[inline(always)]
fn r8(p: &[u8], o: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(src) = p.get(o..o.saturating_add(8)) {
        b.copy_from_slice(src);
    }
    u64::from_le_bytes(b)
}
