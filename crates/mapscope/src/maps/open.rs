//! One entry point for both runtimes: a map opened by address with the
//! runtime layout and the map variant of its binary.

use std::sync::Arc;

use super::classic::ClassicMap;
use super::swiss::SwissMap;
use super::{Container, Entry, MapError, MapShape};
use crate::binary::MapVariant;
use crate::layout::runtime::{HMAP_NAME, SWISS_MAP_NAME, TABLE_NAME};
use crate::layout::RuntimeLayout;
use crate::memory::Memory;

pub enum MapHandle {
    Classic(ClassicMap),
    Swiss(SwissMap),
}

impl MapHandle {
    pub fn open(
        mem: Arc<dyn Memory>,
        layout: &RuntimeLayout,
        variant: MapVariant,
        addr: u64,
        shape: MapShape,
    ) -> Result<MapHandle, MapError> {
        let spec = |name: &'static str| {
            layout.get(name).ok_or(MapError::Layout {
                structure: name,
                field: "(whole structure)",
            })
        };
        Ok(match variant {
            MapVariant::Classic => MapHandle::Classic(ClassicMap::open(mem, addr, spec(HMAP_NAME)?, shape)?),
            MapVariant::Swiss | MapVariant::SwissSplit => MapHandle::Swiss(SwissMap::open(
                mem,
                addr,
                spec(SWISS_MAP_NAME)?,
                spec(TABLE_NAME)?,
                shape,
            )?),
        })
    }

    /// The header's entry count (`hmap.count` / `Map.used`).
    pub fn header_len(&self) -> u64 {
        match self {
            MapHandle::Classic(m) => m.header.count,
            MapHandle::Swiss(m) => m.header.used,
        }
    }

    /// A writer is in the middle of an operation on the map: classic
    /// `hmap.flags & hashWriting` (4), Swiss `Map.writing != 0`. A snapshot
    /// taken then may hold a half-made entry.
    pub fn writing(&self) -> bool {
        const HASH_WRITING: u8 = 4;
        match self {
            MapHandle::Classic(m) => m.header.flags & HASH_WRITING != 0,
            MapHandle::Swiss(m) => m.header.writing != 0,
        }
    }

    pub fn shape(&self) -> &MapShape {
        match self {
            MapHandle::Classic(m) => &m.shape,
            MapHandle::Swiss(m) => &m.shape,
        }
    }

    /// What a tophash (classic) or control byte (Swiss) says about its slot.
    pub fn tag_state(&self, tag: u8) -> &'static str {
        match self {
            MapHandle::Classic(_) => super::classic::tophash_state(tag),
            MapHandle::Swiss(_) => super::swiss::ctrl_state(tag),
        }
    }

    pub fn containers(&self) -> Box<dyn Iterator<Item = Result<Container, MapError>> + Send + '_> {
        match self {
            MapHandle::Classic(m) => Box::new(m.buckets()),
            MapHandle::Swiss(m) => Box::new(m.groups()),
        }
    }

    pub fn entries(&self) -> Box<dyn Iterator<Item = Result<Entry, MapError>> + Send + '_> {
        match self {
            MapHandle::Classic(m) => Box::new(m.entries()),
            MapHandle::Swiss(m) => Box::new(m.entries()),
        }
    }
}

/// A map type's decoding facts, from the binary that declares it.
pub fn shape_of(bin: &crate::binary::GoBinary, map_type: &crate::binary::GoType) -> Result<MapShape, MapError> {
    let not_a_map = MapError::Type {
        type_name: map_type.name.clone(),
        why: "not a map type with a runtime descriptor",
    };
    let desc = map_type.map_descriptor().ok_or(not_a_map)?;
    let size = |r: Option<&crate::binary::TypeRef>, what: &'static str| -> Result<u64, MapError> {
        let r = r.ok_or_else(|| MapError::Type {
            type_name: map_type.name.clone(),
            why: what,
        })?;
        bin.type_by_id(r.id).map(|t| t.size).map_err(|_| MapError::Type {
            type_name: map_type.name.clone(),
            why: what,
        })
    };
    let key = size(map_type.map_key(), "its key type cannot be read")?;
    let elem = size(map_type.elem(), "its elem type cannot be read")?;
    MapShape::from_descriptor(desc, key, elem).ok_or_else(|| MapError::Type {
        type_name: map_type.name.clone(),
        why: "its descriptor lacks a layout field",
    })
}

impl MapHandle {
    /// Opens the map whose header is at `addr`, typed by `map_type`, with the
    /// runtime layout and variant of `bin`.
    pub fn for_type(
        mem: Arc<dyn Memory>,
        bin: &crate::binary::GoBinary,
        addr: u64,
        map_type: &crate::binary::GoType,
    ) -> Result<MapHandle, MapError> {
        let shape = shape_of(bin, map_type)?;
        let layout = RuntimeLayout::for_binary(bin).ok_or(MapError::UnknownRuntime)?;
        let variant = bin.map_variant().variant.ok_or(MapError::UnknownRuntime)?;
        MapHandle::open(mem, &layout, variant, addr, shape)
    }
}
