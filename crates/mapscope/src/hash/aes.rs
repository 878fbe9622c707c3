//! The amd64 AES map hash (`aeshashbody`, `memhash32`, `memhash64` in
//! `runtime/asm_amd64.s`; `internal/runtime/maps/memhash_amd64.s` from 1.27),
//! computed with a software AES round so any host gets the target's numbers.

// The AES state and key schedule are fixed-size arrays indexed by loop
// counters bounded by their length: no input decides an index.
#![allow(clippy::indexing_slicing)]

/// One 128-bit XMM register as four little-endian 32-bit columns: column `c`
/// holds bytes `4c..4c+4`, which is also AES's column-major state order.
pub(crate) type Block = [u32; 4];

const fn xtime(x: u8) -> u8 {
    (x << 1) ^ if x & 0x80 != 0 { 0x1b } else { 0 }
}

/// The AES S-box, derived rather than typed in so a transcription slip is
/// impossible: walk the multiplicative group with generator 3, pairing each
/// element with its inverse, then apply the affine map.
const fn sbox() -> [u8; 256] {
    let mut sbox = [0u8; 256];
    let mut p: u8 = 1;
    let mut q: u8 = 1;
    loop {
        p = p ^ xtime(p);
        q ^= q << 1;
        q ^= q << 2;
        q ^= q << 4;
        if q & 0x80 != 0 {
            q ^= 0x09;
        }
        let x = q ^ q.rotate_left(1) ^ q.rotate_left(2) ^ q.rotate_left(3) ^ q.rotate_left(4);
        sbox[p as usize] = x ^ 0x63;
        if p == 1 {
            break;
        }
    }
    sbox[0] = 0x63;
    sbox
}

/// SubBytes and MixColumns fused for a byte entering row 0: the column it
/// contributes is (2s, s, s, 3s). Other rows use the same word rotated.
const fn t_table() -> [u32; 256] {
    let s = sbox();
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let v = s[i];
        let v2 = xtime(v);
        let v3 = v2 ^ v;
        t[i] = (v2 as u32) | (v as u32) << 8 | (v as u32) << 16 | (v3 as u32) << 24;
        i += 1;
    }
    t
}

static T0: [u32; 256] = t_table();
static SBOX: [u8; 256] = sbox();

#[inline(always)]
fn byte(w: u32, row: u32) -> usize {
    ((w >> (8 * row)) & 0xff) as usize
}

/// `AESENC`: ShiftRows, SubBytes, MixColumns, then XOR with `key`.
#[inline(always)]
pub(crate) fn aesenc(s: Block, key: Block) -> Block {
    let mut out = [0u32; 4];
    for (c, o) in out.iter_mut().enumerate() {
        // ShiftRows moves row r of column c+r into column c.
        let t = T0[byte(s[c], 0)]
            ^ T0[byte(s[(c + 1) & 3], 1)].rotate_left(8)
            ^ T0[byte(s[(c + 2) & 3], 2)].rotate_left(16)
            ^ T0[byte(s[(c + 3) & 3], 3)].rotate_left(24);
        *o = t ^ key[c];
    }
    out
}

/// ShiftRows and SubBytes without MixColumns (`AESENCLAST` with a zero
/// key; arm64's `AESE` after its key XOR).
#[inline(always)]
pub(crate) fn sub_shift(s: Block) -> Block {
    let mut out = [0u32; 4];
    for (c, o) in out.iter_mut().enumerate() {
        *o = (0..4u32).fold(0u32, |acc, r| {
            acc | u32::from(SBOX[byte(s[(c + r as usize) & 3], r)]) << (8 * r)
        });
    }
    out
}

/// `AESENC X, X`: the runtime's self-keyed scramble.
#[inline(always)]
fn scramble(s: Block) -> Block {
    aesenc(s, s)
}

#[inline(always)]
pub(crate) fn xor(a: Block, b: Block) -> Block {
    [a[0] ^ b[0], a[1] ^ b[1], a[2] ^ b[2], a[3] ^ b[3]]
}

#[inline(always)]
pub(crate) fn low64(b: Block) -> u64 {
    u64::from(b[0]) | u64::from(b[1]) << 32
}

pub(crate) fn from_bytes(b: &[u8; 16]) -> Block {
    let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    [w(0), w(4), w(8), w(12)]
}

/// An unaligned 16-byte load at `off`; missing bytes read as zero, which
/// only matters for the 1–15 byte case where the runtime masks them anyway.
pub(crate) fn load(data: &[u8], off: usize) -> Block {
    let mut b = [0u8; 16];
    if let Some(src) = data.get(off..) {
        let n = src.len().min(16);
        if let (Some(dst), Some(src)) = (b.get_mut(..n), src.get(..n)) {
            dst.copy_from_slice(src);
        }
    }
    from_bytes(&b)
}

/// The 128-byte `aeskeysched` of the target, as eight round keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AesKeys {
    k: [Block; 8],
}

impl AesKeys {
    pub(crate) fn new(schedule: &[u8; 128]) -> Self {
        let mut k = [[0u32; 4]; 8];
        for (i, chunk) in schedule.chunks_exact(16).enumerate() {
            let mut b = [0u8; 16];
            b.copy_from_slice(chunk);
            if let Some(slot) = k.get_mut(i) {
                *slot = from_bytes(&b);
            }
        }
        AesKeys { k }
    }

    /// `memhash(p, seed, len)` / `aeshashbody`.
    pub(crate) fn memhash(&self, data: &[u8], seed: u64) -> u64 {
        let len = data.len();
        // The seed register: 64 bits of seed, then the low 16 bits of the
        // length repeated four times (PINSRW $4 + PSHUFHW $0).
        let l = u32::from(len as u16);
        let s: Block = [seed as u32, (seed >> 32) as u32, l | l << 16, l | l << 16];
        let k = &self.k;
        let lane_seed = |i: usize| scramble(xor(s, k[i]));
        let x0 = lane_seed(0);
        match len {
            0 => low64(scramble(x0)),
            1..=16 => {
                let mut x = xor(load(data, 0), x0);
                for _ in 0..3 {
                    x = scramble(x);
                }
                low64(x)
            }
            17..=32 => {
                let mut a = xor(load(data, 0), x0);
                let mut b = xor(load(data, len - 16), lane_seed(1));
                for _ in 0..3 {
                    a = scramble(a);
                    b = scramble(b);
                }
                low64(xor(a, b))
            }
            33..=64 => {
                let offs = [0, 16, len - 32, len - 16];
                let mut v = [[0u32; 4]; 4];
                for (i, lane) in v.iter_mut().enumerate() {
                    let seed = if i == 0 { x0 } else { lane_seed(i) };
                    *lane = xor(load(data, offs[i]), seed);
                }
                finish(&mut v)
            }
            65..=128 => {
                let mut v = [[0u32; 4]; 8];
                for (i, lane) in v.iter_mut().enumerate() {
                    let off = if i < 4 { 16 * i } else { len + 16 * i - 128 };
                    let seed = if i == 0 { x0 } else { lane_seed(i) };
                    *lane = xor(load(data, off), seed);
                }
                finish(&mut v)
            }
            _ => {
                // Start from the last (possibly overlapping) 128 bytes, then
                // fold in every leading 128-byte block, tail included again.
                let mut v = [[0u32; 4]; 8];
                let tail = len - 128;
                for (i, lane) in v.iter_mut().enumerate() {
                    let seed = if i == 0 { x0 } else { lane_seed(i) };
                    *lane = xor(load(data, tail + 16 * i), seed);
                }
                let blocks = (len - 1) >> 7;
                for blk in 0..blocks {
                    for (i, lane) in v.iter_mut().enumerate() {
                        *lane = aesenc(scramble(*lane), load(data, blk * 128 + 16 * i));
                    }
                }
                finish(&mut v)
            }
        }
    }

    /// `memhash32` / `memhash64`: seed in the low half, value above it, then
    /// three rounds keyed by the first three schedule blocks.
    pub(crate) fn memhash_word(&self, value: u64, seed: u64) -> u64 {
        let mut x: Block = [seed as u32, (seed >> 32) as u32, value as u32, (value >> 32) as u32];
        for key in &self.k[..3] {
            x = aesenc(x, *key);
        }
        low64(x)
    }
}

/// Three self-rounds per lane, then XOR every lane together.
fn finish<const N: usize>(v: &mut [Block; N]) -> u64 {
    for _ in 0..3 {
        for lane in v.iter_mut() {
            *lane = scramble(*lane);
        }
    }
    low64(v.iter().fold([0u32; 4], |acc, l| xor(acc, *l)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_from_be_hex(h: u128) -> Block {
        let b = h.to_le_bytes();
        from_bytes(&b)
    }

    /// FIPS-197 Appendix B, round 1: the state after SubBytes+ShiftRows,
    /// and after MixColumns too (`aesenc` with a zero key).
    #[test]
    fn fips197_round_one() {
        let b = |x: [u8; 16]| from_bytes(&x);
        let start = b([
            0x19, 0x3d, 0xe3, 0xbe, 0xa0, 0xf4, 0xe2, 0x2b, 0x9a, 0xc6, 0x8d, 0x2a, 0xe9, 0xf8, 0x48, 0x08,
        ]);
        let shifted = b([
            0xd4, 0xbf, 0x5d, 0x30, 0xe0, 0xb4, 0x52, 0xae, 0xb8, 0x41, 0x11, 0xf1, 0x1e, 0x27, 0x98, 0xe5,
        ]);
        let mixed = b([
            0x04, 0x66, 0x81, 0xe5, 0xe0, 0xcb, 0x19, 0x9a, 0x48, 0xf8, 0xd3, 0x7a, 0x28, 0x06, 0x26, 0x4c,
        ]);
        assert_eq!(sub_shift(start), shifted);
        assert_eq!(aesenc(start, [0; 4]), mixed);
    }

    #[test]
    fn sbox_known_entries() {
        let s = sbox();
        assert_eq!(s[0x00], 0x63);
        assert_eq!(s[0x01], 0x7c);
        assert_eq!(s[0x53], 0xed);
        assert_eq!(s[0xff], 0x16);
    }

    /// The AESENC example from Intel's AES-NI white paper.
    #[test]
    fn aesenc_intel_example() {
        let state = block_from_be_hex(0x7b5b5465_73745665_63746f72_5d53475d);
        let key = block_from_be_hex(0x48692853_68617929_5b477565_726f6e5d);
        let want = block_from_be_hex(0xa8311c2f_9fdba3c5_8b104b58_ded7e595);
        assert_eq!(aesenc(state, key), want);
    }
}
