//! Bounds-checked little/big-endian reads over byte slices.
//!
//! Every accessor returns `None` instead of panicking so that the callers can
//! attach the address and the structure they were reading to the error.

/// Byte order of the target, as stated by the ELF header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ByteOrder {
    Little,
    Big,
}

impl ByteOrder {
    pub(crate) fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        })
    }

    pub(crate) fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        })
    }

    pub(crate) fn u64(self, b: &[u8], off: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            ByteOrder::Little => u64::from_le_bytes(a),
            ByteOrder::Big => u64::from_be_bytes(a),
        })
    }

    /// A target `uintptr`; only 4 and 8 are meaningful pointer sizes.
    pub(crate) fn uptr(self, b: &[u8], off: usize, ptr_size: u8) -> Option<u64> {
        match ptr_size {
            4 => self.u32(b, off).map(u64::from),
            8 => self.u64(b, off),
            _ => None,
        }
    }
}

/// Go's `binary.Uvarint`: returns (value, bytes consumed); at most 10 bytes.
pub(crate) fn uvarint(b: &[u8], off: usize) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for i in 0..10usize {
        let byte = *b.get(off.checked_add(i)?)?;
        let bits = u64::from(byte & 0x7f);
        let shift = 7 * i as u32;
        if i == 9 && byte > 1 {
            return None;
        }
        v |= bits.checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// A NUL-terminated string starting at `off`, at most `max` bytes long.
pub(crate) fn cstr(b: &[u8], off: usize, max: usize) -> Option<&[u8]> {
    let rest = b.get(off..)?;
    let rest = rest.get(..rest.len().min(max))?;
    let end = rest.iter().position(|&c| c == 0)?;
    rest.get(..end)
}

/// Offsets of `needle` in `hay` that are multiples of `align`.
pub(crate) fn find_aligned<'a>(hay: &'a [u8], needle: &'a [u8], align: usize) -> impl Iterator<Item = usize> + 'a {
    let align = align.max(1);
    hay.chunks(align).enumerate().filter_map(move |(i, _)| {
        let off = i.checked_mul(align)?;
        (hay.get(off..off.checked_add(needle.len())?)? == needle).then_some(off)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn uvarint_matches_go_encoding() {
        // Values from encoding/binary's own test table.
        assert_eq!(uvarint(&[0x00], 0), Some((0, 1)));
        assert_eq!(uvarint(&[0x96, 0x01], 0), Some((150, 2)));
        assert_eq!(uvarint(&[0xff; 11], 0), None);
        assert_eq!(uvarint(&[0x80], 0), None);
    }
}
