//! The per-map-type facts a decoder needs: where key and elem `i` sit in a
//! bucket or group, and whether they are stored behind a pointer. Built from
//! the map type descriptor (or DWARF) of the binary.

/// Average entries per bucket at which a classic map grows
/// (`loadFactorNum/loadFactorDen` = 13/2 in runtime/map.go).
pub const CLASSIC_MAX_LOAD: f64 = 6.5;
/// Entries per 8-slot group at which a Swiss table grows
/// (`maxAvgGroupLoad` in internal/runtime/maps).
pub const SWISS_MAX_GROUP_LOAD: u64 = 7;
/// Slots in a bucket or group, in every map runtime.
pub const SLOTS: u64 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotLayout {
    /// tophash [8]u8 at 0, keys at 8, elems after the 8 keys, the overflow
    /// pointer in the last word.
    Classic {
        bucket_size: u64,
        key_slot: u64,
        elem_slot: u64,
    },
    /// ctrl word at 0; key i at `keys_off + i*key_stride`, elem i at
    /// `elems_off + i*elem_stride` (covers interleaved and split groups).
    Swiss {
        group_size: u64,
        keys_off: u64,
        key_stride: u64,
        elems_off: u64,
        elem_stride: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapShape {
    /// Size of the key itself (the pointee when indirect).
    pub key_size: u64,
    pub elem_size: u64,
    pub indirect_key: bool,
    pub indirect_elem: bool,
    pub slots: SlotLayout,
}

impl MapShape {
    /// A classic shape from the descriptor's KeySize/ValueSize/BucketSize
    /// (slot sizes: a pointer when indirect).
    pub fn classic(
        key_size: u64,
        elem_size: u64,
        indirect_key: bool,
        indirect_elem: bool,
        bucket_size: u64,
        key_slot: u64,
        elem_slot: u64,
    ) -> Self {
        MapShape {
            key_size,
            elem_size,
            indirect_key,
            indirect_elem,
            slots: SlotLayout::Classic {
                bucket_size,
                key_slot,
                elem_slot,
            },
        }
    }

    /// A Swiss shape from 1.24–1.26 descriptor fields (interleaved slots).
    pub fn swiss_interleaved(
        key_size: u64,
        elem_size: u64,
        indirect_key: bool,
        indirect_elem: bool,
        group_size: u64,
        slot_size: u64,
        elem_off: u64,
    ) -> Self {
        MapShape {
            key_size,
            elem_size,
            indirect_key,
            indirect_elem,
            slots: SlotLayout::Swiss {
                group_size,
                keys_off: 8,
                key_stride: slot_size,
                elems_off: 8u64.saturating_add(elem_off),
                elem_stride: slot_size,
            },
        }
    }

    pub fn container_size(&self) -> u64 {
        match self.slots {
            SlotLayout::Classic { bucket_size, .. } => bucket_size,
            SlotLayout::Swiss { group_size, .. } => group_size,
        }
    }

    pub fn key_offset(&self, i: u8) -> u64 {
        let i = u64::from(i);
        match self.slots {
            SlotLayout::Classic { key_slot, .. } => 8u64.saturating_add(i.saturating_mul(key_slot)),
            SlotLayout::Swiss {
                keys_off, key_stride, ..
            } => keys_off.saturating_add(i.saturating_mul(key_stride)),
        }
    }

    pub fn elem_offset(&self, i: u8) -> u64 {
        let i = u64::from(i);
        match self.slots {
            SlotLayout::Classic {
                key_slot, elem_slot, ..
            } => 8u64
                .saturating_add(key_slot.saturating_mul(8))
                .saturating_add(i.saturating_mul(elem_slot)),
            SlotLayout::Swiss {
                elems_off, elem_stride, ..
            } => elems_off.saturating_add(i.saturating_mul(elem_stride)),
        }
    }

    /// True when every slot of a container lies inside it, and a bucket has
    /// room for its overflow word: a shape that fails this cannot be walked.
    pub fn is_consistent(&self) -> bool {
        let size = self.container_size();
        let key_w = if self.indirect_key { 8 } else { self.key_size };
        let elem_w = if self.indirect_elem { 8 } else { self.elem_size };
        let fits = |off: u64, w: u64| off.checked_add(w).is_some_and(|end| end <= size);
        let slots_fit = fits(self.key_offset(7), key_w) && fits(self.elem_offset(7), elem_w);
        match self.slots {
            SlotLayout::Classic { .. } => size >= 16 && slots_fit && fits(self.elem_offset(7), elem_w + 8),
            SlotLayout::Swiss { .. } => size >= 8 && slots_fit,
        }
    }
}

impl MapShape {
    /// The shape a binary's map type descriptor gives, with the key and elem
    /// types' own sizes. `None` when the descriptor lacks a field its family
    /// must have.
    pub fn from_descriptor(d: &crate::binary::MapDescriptor, key_size: u64, elem_size: u64) -> Option<MapShape> {
        use crate::binary::MapDescFamily;
        let (ik, ie) = (d.flags.indirect_key, d.flags.indirect_elem);
        Some(match d.family {
            MapDescFamily::Classic => {
                MapShape::classic(key_size, elem_size, ik, ie, d.bucket_size?, d.key_size?, d.value_size?)
            }
            MapDescFamily::Swiss | MapDescFamily::Swiss127 => MapShape {
                key_size,
                elem_size,
                indirect_key: ik,
                indirect_elem: ie,
                slots: SlotLayout::Swiss {
                    group_size: d.group_size?,
                    keys_off: d.keys_off?,
                    key_stride: d.key_stride?,
                    elems_off: d.elems_off?,
                    elem_stride: d.elem_stride?,
                },
            },
        })
    }
}
