//! Map type descriptors beyond the common header: the one table of their
//! per-family field offsets (go-maps.md §2.4, §3.4) and the flag bit orders.

use super::types::{MapDescFamily, MapFlags};

/// Byte offsets inside a map type descriptor (64-bit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MapDescLayout {
    pub family: MapDescFamily,
    /// `unsafe.Sizeof(MapType)`: where the uncommon type starts.
    pub size: u64,
    pub fields: &'static [(MapField, u64, u8)],
}

/// Fields common to every family: Key@48, Elem@56, Bucket|Group@64, Hasher@72.
pub(crate) const KEY: u64 = 48;
pub(crate) const ELEM: u64 = 56;
pub(crate) const BUCKET_OR_GROUP: u64 = 64;
pub(crate) const HASHER: u64 = 72;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MapField {
    KeySize,
    ValueSize,
    BucketSize,
    GroupSize,
    SlotSize,
    KeysOff,
    KeyStride,
    ElemsOff,
    ElemStride,
    ElemOff,
    Flags,
}

use MapField::*;

/// (field, offset, width in bytes).
pub(crate) const CLASSIC: MapDescLayout = MapDescLayout {
    family: MapDescFamily::Classic,
    size: 88,
    fields: &[
        (KeySize, 80, 1),
        (ValueSize, 81, 1),
        (BucketSize, 82, 2),
        (Flags, 84, 4),
    ],
};
pub(crate) const SWISS: MapDescLayout = MapDescLayout {
    family: MapDescFamily::Swiss,
    size: 112,
    fields: &[(GroupSize, 80, 8), (SlotSize, 88, 8), (ElemOff, 96, 8), (Flags, 104, 4)],
};
pub(crate) const SWISS_127: MapDescLayout = MapDescLayout {
    family: MapDescFamily::Swiss127,
    size: 136,
    fields: &[
        (GroupSize, 80, 8),
        (KeysOff, 88, 8),
        (KeyStride, 96, 8),
        (ElemsOff, 104, 8),
        (ElemStride, 112, 8),
        (ElemOff, 120, 8),
        (Flags, 128, 4),
    ],
};

impl MapDescLayout {
    pub fn field(&self, f: MapField) -> Option<(u64, u8)> {
        self.fields.iter().find(|(g, _, _)| *g == f).map(|&(_, o, w)| (o, w))
    }
}

/// Bit order of the flags word per family (`abi.MapType` flags constants).
pub(crate) fn decode_flags(family: MapDescFamily, raw: u32) -> MapFlags {
    let bit = |b: u32| raw & b != 0;
    match family {
        MapDescFamily::Classic => MapFlags {
            raw,
            indirect_key: bit(1),
            indirect_elem: bit(2),
            reflexive_key: Some(bit(4)),
            need_key_update: bit(8),
            hash_might_panic: bit(16),
        },
        MapDescFamily::Swiss | MapDescFamily::Swiss127 => MapFlags {
            raw,
            need_key_update: bit(1),
            hash_might_panic: bit(2),
            indirect_key: bit(4),
            indirect_elem: bit(8),
            reflexive_key: None,
        },
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_observed_in_real_binaries() {
        // go-maps.md §2.4/§3.4: string keys give 12 (classic) and 1 (Swiss).
        let c = decode_flags(MapDescFamily::Classic, 12);
        assert!(c.need_key_update && c.reflexive_key == Some(true) && !c.indirect_key);
        let s = decode_flags(MapDescFamily::Swiss, 1);
        assert!(s.need_key_update && !s.indirect_key);
        let s = decode_flags(MapDescFamily::Swiss127, 12);
        assert!(s.indirect_key && s.indirect_elem);
    }
}
