//! The arm64 AES map hash (`aeshashbody`, `memhash32`, `memhash64` in
//! `runtime/asm_arm64.s`; `internal/runtime/maps/memhash_arm64.s` from 1.27).
//!
//! It is its own algorithm, not amd64's: `AESE` XORs the key in *before*
//! ShiftRows/SubBytes and `AESMC` adds MixColumns, so one `AESE`+`AESMC`
//! pair is [`aesenc`] of `state ^ key` with a zero key, and a lone `AESE`
//! is [`sub_shift`] of `state ^ key`. Every lane is keyed by a seed block
//! (or, past 128 bytes, by the data), the length rides in the seed's high
//! half, short inputs are scattered into fixed byte lanes, and `memhash32`/
//! `memhash64` use the first schedule block three times.

// Lanes are fixed-size arrays indexed by loop counters bounded by their length.
#![allow(clippy::indexing_slicing)]

use super::aes::{aesenc, from_bytes, load, low64, sub_shift, xor, Block};

const ZERO: Block = [0; 4];

/// `AESE k, x; AESMC x, x`.
#[inline(always)]
fn round(x: Block, k: Block) -> Block {
    aesenc(xor(x, k), ZERO)
}

/// `AESE k, x` alone (the last round of every lane).
#[inline(always)]
fn last(x: Block, k: Block) -> Block {
    sub_shift(xor(x, k))
}

/// Two full rounds then a last one, all keyed by `k`: how every lane ends.
#[inline(always)]
fn three(x: Block, k: Block) -> Block {
    last(round(round(x, k), k), k)
}

/// How a release's assembly differs from the 1.21–1.27 code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quirks {
    /// Go 1.19: the 1–16 byte path ends its third round without `AESMC`
    /// (later releases apply it, and the lone `AESE` disappears there).
    pub short_last_without_mc: bool,
    /// Go 1.27 (`memHash32AES`): the whole 64-bit seed in the low half and
    /// the value in column 2. Before, `VMOV R1, V0.S[0]` kept only the
    /// seed's low 32 bits, with the value in column 1.
    pub memhash32_full_seed: bool,
}

/// The 128-byte `aeskeysched` as eight blocks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Arm64AesKeys {
    k: [Block; 8],
    quirks: Quirks,
}

impl Arm64AesKeys {
    pub(crate) fn new(schedule: &[u8; 128], quirks: Quirks) -> Self {
        let mut k = [ZERO; 8];
        for (i, chunk) in schedule.chunks_exact(16).enumerate() {
            let mut b = [0u8; 16];
            b.copy_from_slice(chunk);
            if let Some(slot) = k.get_mut(i) {
                *slot = from_bytes(&b);
            }
        }
        Arm64AesKeys { k, quirks }
    }

    /// `aeshashbody`: R0 data, R1 seed, R2 length.
    pub(crate) fn memhash(&self, data: &[u8], seed: u64) -> u64 {
        let len = data.len();
        // V30: the seed in D[0], the whole length in D[1].
        let l = len as u64;
        let v30: Block = [seed as u32, (seed >> 32) as u32, l as u32, (l >> 32) as u32];
        let lane_seed = |i: usize| round(self.k[i], v30);
        let s0 = lane_seed(0);
        match len {
            0 => low64(s0),
            1..=16 => {
                let x = if len == 16 { load(data, 0) } else { scatter_short(data) };
                let x = round(round(x, s0), s0);
                let x = if self.quirks.short_last_without_mc {
                    last(x, s0)
                } else {
                    round(x, s0)
                };
                low64(x)
            }
            17..=32 => {
                let a = three(load(data, 0), s0);
                let b = three(load(data, len - 16), lane_seed(1));
                low64(xor(a, b))
            }
            33..=64 => {
                let offs = [0, 16, len - 32, len - 16];
                let mut acc = ZERO;
                for (i, off) in offs.into_iter().enumerate() {
                    let seed = if i == 0 { s0 } else { lane_seed(i) };
                    acc = xor(acc, three(load(data, off), seed));
                }
                low64(acc)
            }
            65..=128 => {
                let mut acc = ZERO;
                for i in 0..8 {
                    let off = if i < 4 { 16 * i } else { len - 64 + 16 * (i - 4) };
                    let seed = if i == 0 { s0 } else { lane_seed(i) };
                    acc = xor(acc, three(load(data, off), seed));
                }
                low64(acc)
            }
            _ => {
                // The seeds are the state and the data the keys: first the
                // last 128 bytes, then each iteration applies the block it
                // loaded last time and the next 128 bytes (so the final
                // block is applied three times, the last without AESMC).
                let mut v: [Block; 8] = std::array::from_fn(|i| if i == 0 { s0 } else { lane_seed(i) });
                let block = |at: usize| -> [Block; 8] { std::array::from_fn(|i| load(data, at + 16 * i)) };
                let mut keys = block(len - 128);
                let iterations = (len - 1) >> 7;
                for it in 0..iterations {
                    for (lane, key) in v.iter_mut().zip(keys) {
                        *lane = round(*lane, key);
                    }
                    keys = block(it * 128);
                    for (lane, key) in v.iter_mut().zip(keys) {
                        *lane = round(*lane, key);
                    }
                }
                for (lane, key) in v.iter_mut().zip(keys) {
                    *lane = last(round(round(*lane, key), key), key);
                }
                low64(v.iter().fold(ZERO, |acc, l| xor(acc, *l)))
            }
        }
    }

    /// `memhash32`.
    pub(crate) fn memhash32(&self, value: u32, seed: u64) -> u64 {
        let x: Block = if self.quirks.memhash32_full_seed {
            [seed as u32, (seed >> 32) as u32, value, 0]
        } else {
            [seed as u32, value, 0, 0]
        };
        low64(three(x, self.k[0]))
    }

    /// `memhash64`: the seed in D[0], the value in D[1].
    pub(crate) fn memhash64(&self, value: u64, seed: u64) -> u64 {
        let x: Block = [seed as u32, (seed >> 32) as u32, value as u32, (value >> 32) as u32];
        low64(three(x, self.k[0]))
    }
}

/// The 1–15 byte loads of `aes0to15`: by the length's bits, 8 bytes to
/// D[0], 4 to S[2], 2 to H[6], 1 to B[14], consumed from the front in that
/// order; every other byte is zero.
fn scatter_short(data: &[u8]) -> Block {
    let mut b = [0u8; 16];
    let mut at = 0usize;
    for (bit, lane) in [(8usize, 0usize), (4, 8), (2, 12), (1, 14)] {
        if data.len() & bit != 0 {
            if let (Some(dst), Some(src)) = (b.get_mut(lane..lane + bit), data.get(at..at + bit)) {
                dst.copy_from_slice(src);
            }
            at += bit;
        }
    }
    from_bytes(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_land_in_fixed_lanes() {
        let x = scatter_short(&[1, 2, 3, 4, 5]);
        // 4 bytes to column 2, the fifth byte to byte 14.
        assert_eq!(x, [0, 0, u32::from_le_bytes([1, 2, 3, 4]), 5 << 16]);
        let y = scatter_short(&[9; 15]);
        assert_eq!(y[3] >> 24, 0, "byte 15 is never loaded");
    }
}
