//! Swiss-table maps (`internal/runtime/maps`, Go 1.24+).
//!
//! A small map (`dirLen == 0`) is one group at `dirPtr`. A large one has a
//! directory of `dirLen = 2^globalDepth` table pointers; a table with
//! `localDepth < globalDepth` fills several consecutive directory slots, so
//! tables are walked once each, in directory order. Every group of a table
//! is visited; a slot is full when its control byte has bit 7 clear.

use std::collections::HashSet;
use std::sync::Arc;

use super::fields::Fields;
use super::{Container, Entries, MapError, MapShape, Place};
use crate::layout::StructSpec;
use crate::memory::{Memory, MemoryExt};

pub const CTRL_EMPTY: u8 = 0x80;
pub const CTRL_DELETED: u8 = 0xFE;
/// `maxTableCapacity` in `internal/runtime/maps/table.go`.
pub const MAX_TABLE_CAPACITY: u64 = 1024;
/// A directory larger than this would index more tables than 2^26 × 1024
/// slots: no real heap holds that.
const MAX_DIR_LEN: u64 = 1 << 26;

pub fn is_full(ctrl: u8) -> bool {
    ctrl & 0x80 == 0
}

pub fn ctrl_state(c: u8) -> &'static str {
    match c {
        CTRL_EMPTY => "empty",
        CTRL_DELETED => "deleted",
        c if is_full(c) => "full",
        _ => "invalid",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwissHeader {
    pub addr: u64,
    pub used: u64,
    pub seed: u64,
    pub dir_ptr: u64,
    pub dir_len: u64,
    pub global_depth: u8,
    pub global_shift: u8,
    pub writing: u8,
    /// 1.25+.
    pub tombstone_possible: Option<bool>,
    pub clear_seq: u64,
}

impl SwissHeader {
    pub fn read(mem: &dyn Memory, addr: u64, map: &'static StructSpec) -> Result<Self, MapError> {
        if addr == 0 {
            return Err(MapError::Nil("header"));
        }
        let bytes = mem.read_vec(addr, map.size).map_err(|source| MapError::Memory {
            what: "map header (maps.Map)",
            addr,
            source,
        })?;
        let f = Fields {
            spec: map,
            bytes: &bytes,
        };
        Ok(SwissHeader {
            addr,
            used: f.get("used")?,
            seed: f.get("seed")?,
            dir_ptr: f.get("dirPtr")?,
            dir_len: f.get("dirLen")?,
            global_depth: f.get("globalDepth")? as u8,
            global_shift: f.get("globalShift")? as u8,
            writing: f.get("writing")? as u8,
            tombstone_possible: f.get_opt("tombstonePossible").map(|v| v != 0),
            clear_seq: f.get("clearSeq")?,
        })
    }

    pub fn is_small(&self) -> bool {
        self.dir_len == 0
    }
}

/// One table, as read, and where the directory points at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    pub addr: u64,
    pub used: u16,
    pub capacity: u16,
    pub growth_left: u16,
    pub local_depth: u8,
    /// `table.index` (the first directory slot; −1 when stale).
    pub index: i64,
    pub groups: u64,
    pub length_mask: u64,
    /// The first directory slot holding this table and how many do.
    pub dir_first: u64,
    pub dir_slots: u64,
}

impl TableInfo {
    pub fn group_count(&self) -> u64 {
        self.length_mask.saturating_add(1)
    }
}

pub struct SwissMap {
    pub header: SwissHeader,
    /// `unsafe.Sizeof` of maps.Map and maps.table in this build.
    pub header_size: u64,
    pub table_size: u64,
    pub shape: MapShape,
    pub tables: Vec<TableInfo>,
    mem: Arc<dyn Memory>,
}

impl SwissMap {
    pub fn open(
        mem: Arc<dyn Memory>,
        addr: u64,
        map: &'static StructSpec,
        table: &'static StructSpec,
        shape: MapShape,
    ) -> Result<Self, MapError> {
        let header = SwissHeader::read(&*mem, addr, map)?;
        if !shape.is_consistent() {
            return Err(MapError::Implausible {
                map: addr,
                what: "group size",
                value: shape.container_size(),
                why: "slots do not fit in the group",
            });
        }
        let tables = if header.is_small() {
            Vec::new()
        } else {
            read_tables(&*mem, &header, table)?
        };
        Ok(SwissMap {
            header,
            header_size: map.size,
            table_size: table.size,
            shape,
            tables,
            mem,
        })
    }

    pub fn groups(&self) -> Groups {
        Groups {
            small: self
                .header
                .is_small()
                .then_some(self.header.dir_ptr)
                .filter(|&p| p != 0),
            tables: self.tables.iter().map(|t| (t.groups, t.group_count())).collect(),
            table: 0,
            group: 0,
            size: self.shape.container_size(),
            mem: self.mem.clone(),
            done: false,
        }
    }

    pub fn entries(&self) -> Entries<Groups> {
        Entries::new(self.groups(), self.shape, self.mem.clone(), is_full)
    }
}

fn read_tables(mem: &dyn Memory, h: &SwissHeader, table: &'static StructSpec) -> Result<Vec<TableInfo>, MapError> {
    let implausible = |what, value, why| MapError::Implausible {
        map: h.addr,
        what,
        value,
        why,
    };
    if !h.dir_len.is_power_of_two() {
        return Err(implausible("dirLen", h.dir_len, "not a power of two"));
    }
    if h.dir_len > MAX_DIR_LEN {
        return Err(implausible(
            "dirLen",
            h.dir_len,
            "larger than the 2^26 directory slots mapscope reads",
        ));
    }
    if h.dir_len != 1u64.checked_shl(h.global_depth.into()).unwrap_or(0) {
        return Err(implausible("dirLen", h.dir_len, "differs from 2^globalDepth"));
    }
    let dir = mem
        .read_vec(h.dir_ptr, h.dir_len.saturating_mul(8))
        .map_err(|source| MapError::Memory {
            what: "directory",
            addr: h.dir_ptr,
            source,
        })?;
    let mut seen: HashSet<u64> = HashSet::new();
    let mut tables: Vec<TableInfo> = Vec::new();
    for (i, word) in dir.chunks_exact(8).enumerate() {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        let tp = u64::from_le_bytes(w);
        let i = i as u64;
        if !seen.insert(tp) {
            match tables.last_mut() {
                // A table's directory slots are consecutive.
                Some(last) if last.addr == tp => last.dir_slots += 1,
                _ => return Err(implausible("directory slot", i, "a table reappears after another one")),
            }
            continue;
        }
        let bytes = mem.read_vec(tp, table.size).map_err(|source| MapError::Memory {
            what: "table",
            addr: tp,
            source,
        })?;
        let f = Fields {
            spec: table,
            bytes: &bytes,
        };
        let groups_at = table.field("groups").map(|g| g.offset).ok_or(MapError::Layout {
            structure: table.name,
            field: "groups",
        })?;
        let word_at = |off: u64| {
            usize::try_from(groups_at + off)
                .ok()
                .and_then(|s| bytes.get(s..s.checked_add(8)?))
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_le_bytes)
                .ok_or(MapError::Layout {
                    structure: table.name,
                    field: "groups",
                })
        };
        let t = TableInfo {
            addr: tp,
            used: f.get("used")? as u16,
            capacity: f.get("capacity")? as u16,
            growth_left: f.get("growthLeft")? as u16,
            local_depth: f.get("localDepth")? as u8,
            index: f.get("index")? as i64,
            groups: word_at(0)?,
            length_mask: word_at(8)?,
            dir_first: i,
            dir_slots: 1,
        };
        let cap = u64::from(t.capacity);
        if !cap.is_power_of_two() || !(8..=MAX_TABLE_CAPACITY).contains(&cap) {
            return Err(MapError::Implausible {
                map: tp,
                what: "table capacity",
                value: cap,
                why: "not a power of two in 8..=1024",
            });
        }
        if t.length_mask.saturating_add(1) != cap / 8 {
            return Err(MapError::Implausible {
                map: tp,
                what: "table lengthMask",
                value: t.length_mask,
                why: "not capacity/8 - 1 (groups - 1) for the table's capacity",
            });
        }
        tables.push(t);
    }
    Ok(tables)
}

pub struct Groups {
    small: Option<u64>,
    tables: Vec<(u64, u64)>,
    table: usize,
    group: u64,
    size: u64,
    mem: Arc<dyn Memory>,
    done: bool,
}

impl Groups {
    fn read(&mut self, addr: u64, place: Place) -> Option<Result<Container, MapError>> {
        match self.mem.read_u64(addr) {
            Ok(ctrl) => Some(Ok(Container {
                place,
                addr,
                tags: ctrl.to_le_bytes(),
                overflow: 0,
            })),
            Err(source) => {
                self.done = true;
                Some(Err(MapError::Memory {
                    what: "group control word",
                    addr,
                    source,
                }))
            }
        }
    }
}

impl Iterator for Groups {
    type Item = Result<Container, MapError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if let Some(addr) = self.small.take() {
            self.done = true;
            let r = self.read(addr, Place::Group { table: None, index: 0 });
            self.done = true;
            return r;
        }
        loop {
            let &(base, count) = self.tables.get(self.table)?;
            if self.group < count {
                let g = self.group;
                self.group += 1;
                let Some(addr) = g.checked_mul(self.size).and_then(|o| base.checked_add(o)) else {
                    self.done = true;
                    return Some(Err(MapError::Implausible {
                        map: base,
                        what: "group array base",
                        value: base,
                        why: "the array wraps the address space",
                    }));
                };
                return self.read(
                    addr,
                    Place::Group {
                        table: Some(self.table),
                        index: g,
                    },
                );
            }
            self.table += 1;
            self.group = 0;
        }
    }
}
