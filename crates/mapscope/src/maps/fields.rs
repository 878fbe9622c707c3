//! Reading a runtime structure's fields by name, with the offsets and widths
//! of the layout table (or DWARF), out of one read of the whole structure.

use super::MapError;
use crate::layout::StructSpec;

pub(crate) struct Fields<'a> {
    pub spec: &'static StructSpec,
    pub bytes: &'a [u8],
}

impl Fields<'_> {
    pub fn get(&self, field: &'static str) -> Result<u64, MapError> {
        let missing = MapError::Layout {
            structure: self.spec.name,
            field,
        };
        let f = self.spec.field(field).ok_or(missing)?;
        let start = usize::try_from(f.offset).ok();
        let len = usize::try_from(f.size.min(8)).ok();
        let raw = start
            .zip(len)
            .and_then(|(s, l)| self.bytes.get(s..s.checked_add(l)?))
            .ok_or(MapError::Layout {
                structure: self.spec.name,
                field,
            })?;
        let mut word = [0u8; 8];
        for (w, b) in word.iter_mut().zip(raw) {
            *w = *b;
        }
        Ok(u64::from_le_bytes(word))
    }

    /// Present in some versions only (`tombstonePossible`).
    pub fn get_opt(&self, field: &'static str) -> Option<u64> {
        self.spec.field(field)?;
        self.get(field).ok()
    }
}
