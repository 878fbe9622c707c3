//! Map decoders: the header, every bucket or group, and every entry of one
//! map, read from any [`Memory`](crate::memory::Memory).
//!
//! Both runtimes are walked as a stream of *containers* (a classic bucket, a
//! Swiss group) from which entries are taken, so a 1M-entry map is never
//! held in memory twice. Each iterator yields `Result`s and stops after the
//! first structural error: what was sound before it stays usable. Every
//! traversal is bounded by numbers derived from the header and checked
//! against what the memory source maps.

pub mod classic;
mod error;
mod fields;
mod open;
pub mod resolve;
pub mod shape;
pub mod snapshot;
mod stats;
pub mod swiss;

pub use error::MapError;
pub use open::{shape_of, MapHandle};
pub use shape::{MapShape, SlotLayout};
pub use stats::{Bytes, MapStats};

/// Where a container sits in the map's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A classic bucket: `depth` 0 is the bucket in the array, 1.. its overflow chain.
    Bucket { old: bool, index: u64, depth: u32 },
    /// A Swiss group: `table` is the table's position among the map's unique
    /// tables (`None` for a small map's single group).
    Group { table: Option<usize>, index: u64 },
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Place::Bucket { old, index, depth } => {
                write!(f, "{}bucket {index}", if old { "old " } else { "" })?;
                if depth > 0 {
                    write!(f, " overflow {depth}")?;
                }
                Ok(())
            }
            Place::Group { table: None, .. } => write!(f, "group (small map)"),
            Place::Group { table: Some(t), index } => write!(f, "table {t} group {index}"),
        }
    }
}

/// A bucket or group as read: its address, the 8 tag bytes (tophash or
/// control bytes) and, for a classic bucket, the overflow pointer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub place: Place,
    pub addr: u64,
    pub tags: [u8; 8],
    pub overflow: u64,
}

/// One live entry: where its slot is, and where its key and elem are (after
/// following an indirect slot's pointer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub place: Place,
    pub container: u64,
    pub slot: u8,
    /// The tophash or control byte of the slot.
    pub tag: u8,
    pub key_slot: u64,
    pub elem_slot: u64,
    pub key: u64,
    pub elem: u64,
}

/// Turns a container stream into an entry stream.
pub struct Entries<I> {
    containers: I,
    current: Option<Container>,
    slot: u8,
    shape: MapShape,
    mem: std::sync::Arc<dyn crate::memory::Memory>,
    full: fn(u8) -> bool,
    done: bool,
}

impl<I> Entries<I> {
    pub(crate) fn new(
        containers: I,
        shape: MapShape,
        mem: std::sync::Arc<dyn crate::memory::Memory>,
        full: fn(u8) -> bool,
    ) -> Self {
        Entries {
            containers,
            current: None,
            slot: 0,
            shape,
            mem,
            full,
            done: false,
        }
    }
}

impl<I: Iterator<Item = Result<Container, MapError>>> Iterator for Entries<I> {
    type Item = Result<Entry, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        use crate::memory::MemoryExt;
        loop {
            if self.done {
                return None;
            }
            let Some(c) = &self.current else {
                match self.containers.next()? {
                    Ok(c) => {
                        self.current = Some(c);
                        self.slot = 0;
                        continue;
                    }
                    Err(e) => {
                        self.done = true;
                        return Some(Err(e));
                    }
                }
            };
            if self.slot >= 8 {
                self.current = None;
                continue;
            }
            let i = self.slot;
            self.slot += 1;
            let Some(&tag) = c.tags.get(usize::from(i)) else {
                continue;
            };
            if !(self.full)(tag) {
                continue;
            }
            let key_slot = c.addr.wrapping_add(self.shape.key_offset(i));
            let elem_slot = c.addr.wrapping_add(self.shape.elem_offset(i));
            let follow = |indirect: bool, slot: u64, what: &'static str| {
                if indirect {
                    self.mem.read_ptr(slot).map_err(|source| MapError::Memory {
                        what,
                        addr: slot,
                        source,
                    })
                } else {
                    Ok(slot)
                }
            };
            let place = c.place;
            let container = c.addr;
            let entry = follow(self.shape.indirect_key, key_slot, "indirect key pointer").and_then(|key| {
                Ok(Entry {
                    place,
                    container,
                    slot: i,
                    tag,
                    key_slot,
                    elem_slot,
                    key,
                    elem: follow(self.shape.indirect_elem, elem_slot, "indirect elem pointer")?,
                })
            });
            if entry.is_err() {
                self.done = true;
            }
            return Some(entry);
        }
    }
}
