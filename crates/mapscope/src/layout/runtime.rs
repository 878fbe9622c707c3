//! The runtime's map structures on 64-bit targets (amd64 and arm64 lay them
//! out identically), per map runtime and Go version: the one table of these
//! layouts in mapscope. DWARF, when a binary has it, is read in preference
//! and checked against this table by the corpus tests; stripped binaries get
//! the table. Sources: `runtime/map.go` (≤1.23), `runtime/map_noswiss.go`
//! (1.24/1.25), `internal/runtime/maps/{map,table,group}.go` (1.24+).

use super::report::{FieldLayout, StructLayout};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: &'static str,
    pub offset: u64,
    pub size: u64,
    pub align: u64,
    pub ty: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructSpec {
    pub name: &'static str,
    pub size: u64,
    pub align: u64,
    pub fields: &'static [FieldSpec],
}

const fn f(name: &'static str, offset: u64, size: u64, ty: &'static str) -> FieldSpec {
    // Every field here is a scalar or pointer: alignment is its size, capped
    // at the word; groupsReference is two words.
    let align = if size > 8 { 8 } else { size };
    FieldSpec {
        name,
        offset,
        size,
        align,
        ty,
    }
}

pub const HMAP_NAME: &str = "runtime.hmap";
pub const BMAP_NAME: &str = "runtime.bmap";
pub const SWISS_MAP_NAME: &str = "internal/runtime/maps.Map";
pub const TABLE_NAME: &str = "internal/runtime/maps.table";
pub const GROUPS_REF_NAME: &str = "internal/runtime/maps.groupsReference";

static HMAP_119: StructSpec = StructSpec {
    name: HMAP_NAME,
    size: 48,
    align: 8,
    fields: &[
        f("count", 0, 8, "int"),
        f("flags", 8, 1, "uint8"),
        f("B", 9, 1, "uint8"),
        f("noverflow", 10, 2, "uint16"),
        f("hash0", 12, 4, "uint32"),
        f("buckets", 16, 8, "unsafe.Pointer"),
        f("oldbuckets", 24, 8, "unsafe.Pointer"),
        f("nevacuate", 32, 8, "uintptr"),
        f("extra", 40, 8, "*runtime.mapextra"),
    ],
};

/// 1.24/1.25 with noswissmap: `clearSeq` before `extra`.
static HMAP_124: StructSpec = StructSpec {
    name: HMAP_NAME,
    size: 56,
    align: 8,
    fields: &[
        f("count", 0, 8, "int"),
        f("flags", 8, 1, "uint8"),
        f("B", 9, 1, "uint8"),
        f("noverflow", 10, 2, "uint16"),
        f("hash0", 12, 4, "uint32"),
        f("buckets", 16, 8, "unsafe.Pointer"),
        f("oldbuckets", 24, 8, "unsafe.Pointer"),
        f("nevacuate", 32, 8, "uintptr"),
        f("clearSeq", 40, 8, "uint64"),
        f("extra", 48, 8, "*runtime.mapextra"),
    ],
};

/// The fixed head of every bucket; keys, elems and the overflow pointer
/// follow, typed per map (see the map type's bucket type).
static BMAP: StructSpec = StructSpec {
    name: BMAP_NAME,
    size: 8,
    align: 1,
    fields: &[FieldSpec {
        name: "tophash",
        offset: 0,
        size: 8,
        align: 1,
        ty: "[8]uint8",
    }],
};

/// 1.24: byte 35 is padding.
static SWISS_MAP_124: StructSpec = StructSpec {
    name: SWISS_MAP_NAME,
    size: 48,
    align: 8,
    fields: &[
        f("used", 0, 8, "uint64"),
        f("seed", 8, 8, "uintptr"),
        f("dirPtr", 16, 8, "unsafe.Pointer"),
        f("dirLen", 24, 8, "int"),
        f("globalDepth", 32, 1, "uint8"),
        f("globalShift", 33, 1, "uint8"),
        f("writing", 34, 1, "uint8"),
        f("clearSeq", 40, 8, "uint64"),
    ],
};

/// 1.25+: `tombstonePossible` fills byte 35.
static SWISS_MAP_125: StructSpec = StructSpec {
    name: SWISS_MAP_NAME,
    size: 48,
    align: 8,
    fields: &[
        f("used", 0, 8, "uint64"),
        f("seed", 8, 8, "uintptr"),
        f("dirPtr", 16, 8, "unsafe.Pointer"),
        f("dirLen", 24, 8, "int"),
        f("globalDepth", 32, 1, "uint8"),
        f("globalShift", 33, 1, "uint8"),
        f("writing", 34, 1, "uint8"),
        f("tombstonePossible", 35, 1, "bool"),
        f("clearSeq", 40, 8, "uint64"),
    ],
};

static TABLE: StructSpec = StructSpec {
    name: TABLE_NAME,
    size: 32,
    align: 8,
    fields: &[
        f("used", 0, 2, "uint16"),
        f("capacity", 2, 2, "uint16"),
        f("growthLeft", 4, 2, "uint16"),
        f("localDepth", 6, 1, "uint8"),
        f("index", 8, 8, "int"),
        f("groups", 16, 16, GROUPS_REF_NAME),
    ],
};

static GROUPS_REF: StructSpec = StructSpec {
    name: GROUPS_REF_NAME,
    size: 16,
    align: 8,
    fields: &[f("data", 0, 8, "unsafe.Pointer"), f("lengthMask", 8, 8, "uint64")],
};

/// The runtime map structures of one build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuntimeLayout {
    pub structs: &'static [&'static StructSpec],
}

static CLASSIC_119: [&StructSpec; 2] = [&HMAP_119, &BMAP];
static CLASSIC_124: [&StructSpec; 2] = [&HMAP_124, &BMAP];
static SWISS_124: [&StructSpec; 3] = [&SWISS_MAP_124, &TABLE, &GROUPS_REF];
static SWISS_125: [&StructSpec; 3] = [&SWISS_MAP_125, &TABLE, &GROUPS_REF];

impl RuntimeLayout {
    /// `minor` is the Go 1.x minor version; `swiss` says which map runtime the
    /// build uses (1.24/1.25 can be either).
    pub fn for_build(minor: u32, swiss: bool) -> RuntimeLayout {
        let structs: &'static [&'static StructSpec] = match (swiss, minor) {
            (false, m) if m < 24 => &CLASSIC_119,
            (false, _) => &CLASSIC_124,
            (true, m) if m < 25 => &SWISS_124,
            (true, _) => &SWISS_125,
        };
        RuntimeLayout { structs }
    }

    pub fn get(&self, name: &str) -> Option<&'static StructSpec> {
        self.structs.iter().copied().find(|s| s.name == name)
    }
}

impl StructSpec {
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn to_layout(&self) -> StructLayout {
        let fields = self
            .fields
            .iter()
            .map(|f| FieldLayout {
                name: f.name.to_string(),
                offset: f.offset,
                size: f.size,
                align: f.align,
                type_name: f.ty.to_string(),
            })
            .collect();
        StructLayout::new(self.name, self.size, self.align, fields, "mapscope table")
    }
}

impl RuntimeLayout {
    /// The layout of a binary's map runtime, from its Go version and the
    /// variant detected (or overridden) for it.
    pub fn for_binary(bin: &crate::binary::GoBinary) -> Option<RuntimeLayout> {
        let minor = bin.go_version()?.minor;
        let variant = bin.map_variant().variant?;
        Some(Self::for_build(minor, variant != crate::binary::MapVariant::Classic))
    }
}
