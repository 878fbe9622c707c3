//! Where a hash puts an entry: the classic map's bucket and tophash, the
//! Swiss map's h1/h2, directory slot and probe sequence.

use super::HashError;

/// The classic `hmap.hash0` is 32 bits and reaches the hasher as
/// `uintptr(hash0)`; the Swiss `Map.seed` is used as is.
pub fn classic_seed(hash0: u32) -> u64 {
    u64::from(hash0)
}

/// `minTopHash`: tophash values below it mark empty or evacuated slots.
pub const MIN_TOP_HASH: u8 = 5;

/// The bucket among `2^b`: `hash & (2^b - 1)`.
pub fn classic_bucket(hash: u64, b: u8) -> Result<u64, HashError> {
    Ok(hash & low_mask(b)?)
}

/// While growing, the bucket in the old array (`2^(b-1)` buckets, or `2^b`
/// for a same-size grow) that a key came from.
pub fn classic_old_bucket(hash: u64, b: u8, same_size_grow: bool) -> Result<u64, HashError> {
    let old_b = if same_size_grow {
        b
    } else {
        b.checked_sub(1)
            .ok_or(HashError::BadPlacement("a growing map with B = 0"))?
    };
    classic_bucket(hash, old_b)
}

/// `tophash(hash)`: the top byte, moved past the reserved marks.
pub fn classic_tophash(hash: u64) -> u8 {
    let top = (hash >> 56) as u8;
    if top < MIN_TOP_HASH {
        top + MIN_TOP_HASH
    } else {
        top
    }
}

fn low_mask(b: u8) -> Result<u64, HashError> {
    match b {
        0..=63 => Ok((1u64 << b) - 1),
        64 => Ok(u64::MAX),
        _ => Err(HashError::BadPlacement("B above 64")),
    }
}

/// `h1`: the probe position bits.
pub fn swiss_h1(hash: u64) -> u64 {
    hash >> 7
}

/// `h2`: the control byte of a full slot.
pub fn swiss_h2(hash: u64) -> u8 {
    (hash & 0x7f) as u8
}

/// `Map.directoryIndex`: the table slot for `hash`. A small map (no
/// directory, `dir_len == 0`) and a one-entry directory both give 0; the
/// runtime masks the shift to 6 bits, so this does too.
pub fn swiss_directory_index(hash: u64, global_shift: u8, dir_len: u64) -> u64 {
    if dir_len <= 1 {
        return 0;
    }
    hash >> (global_shift & 63)
}

/// The groups a lookup visits in a table with `length_mask + 1` groups:
/// `h1 & mask`, then +1, +2, +3, … (triangular steps), all mod the group
/// count. Over a power-of-two group count this visits every group exactly
/// once, so the iterator ends after `length_mask + 1` groups.
#[derive(Clone, Debug)]
pub struct ProbeSeq {
    mask: u64,
    offset: u64,
    index: u64,
    remaining: u64,
}

impl ProbeSeq {
    /// From the full hash (not h1) and the table's `groups.lengthMask`.
    pub fn new(hash: u64, length_mask: u64) -> Self {
        ProbeSeq {
            mask: length_mask,
            offset: swiss_h1(hash) & length_mask,
            index: 0,
            remaining: length_mask.saturating_add(1),
        }
    }
}

impl Iterator for ProbeSeq {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let here = self.offset;
        self.index = self.index.wrapping_add(1);
        self.offset = self.offset.wrapping_add(self.index) & self.mask;
        Some(here)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_visits_every_group_once() {
        for mask in [0u64, 1, 7, 127] {
            let mut seen: Vec<u64> = ProbeSeq::new(0xdead_beef_1234_5678, mask).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..=mask).collect::<Vec<_>>());
        }
        let first: Vec<u64> = ProbeSeq::new(3 << 7, 7).take(4).collect();
        assert_eq!(first, [3, 4, 6, 1]);
    }

    #[test]
    fn tophash_skips_marks() {
        assert_eq!(classic_tophash(0x04 << 56), 9);
        assert_eq!(classic_tophash(0x05 << 56), 5);
        assert_eq!(classic_tophash(u64::MAX), 0xff);
    }

    #[test]
    fn buckets_and_directory() {
        assert_eq!(classic_bucket(0xff, 4).ok(), Some(0xf));
        assert_eq!(classic_bucket(0xff, 0).ok(), Some(0));
        assert!(classic_bucket(0, 65).is_err());
        assert_eq!(classic_old_bucket(0xff, 4, false).ok(), Some(0x7));
        assert_eq!(classic_old_bucket(0xff, 4, true).ok(), Some(0xf));
        assert_eq!(swiss_directory_index(u64::MAX, 64, 1), 0);
        assert_eq!(swiss_directory_index(u64::MAX, 62, 4), 3);
        assert_eq!(swiss_h2(0x1ff), 0x7f);
        assert_eq!(swiss_h1(0x1ff), 3);
    }
}
