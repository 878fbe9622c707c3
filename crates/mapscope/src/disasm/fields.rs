//! Field names for memory operands: the runtime map structures of *this*
//! binary (DWARF when present, else the per-version table in
//! `layout::runtime`) and the map type descriptor (the one offset table in
//! `binary::maptype`). Nothing here hard-codes a runtime offset except
//! `abi.Type`'s 48-byte header, which maptype.rs does not cover.

use crate::binary::maptype::{self, MapDescLayout};
use crate::binary::{variant, GoBinary, MapVariant};
use crate::layout::runtime::{GROUPS_REF_NAME, HMAP_NAME, SWISS_MAP_NAME, TABLE_NAME};
use crate::layout::{types::runtime_structs, RuntimeLayout, StructLayout};

/// `abi.Type` (`_type`), the first 48 bytes of every type descriptor
/// (go-maps.md §7): (offset, width, name).
const ABI_TYPE: &[(u64, u64, &str)] = &[
    (0, 8, "Size_"),
    (8, 8, "PtrBytes"),
    (16, 4, "Hash"),
    (20, 1, "TFlag"),
    (21, 1, "Align_"),
    (22, 1, "FieldAlign_"),
    (23, 1, "Kind_"),
    (24, 8, "Equal"),
    (32, 8, "GCData"),
    (40, 4, "Str"),
    (44, 4, "PtrToThis"),
];

/// One struct's fields as (offset, size, dotted name), nested structs flattened.
#[derive(Debug, Clone)]
pub struct FieldList {
    /// Short label prefix: `hmap`, `maps.Map`, `maps.table`, `MapType`.
    pub label: String,
    pub size: u64,
    pub fields: Vec<(u64, u64, String)>,
}

impl FieldList {
    /// The field covering byte `off`, as `label.field`.
    pub fn at(&self, off: i64) -> Option<String> {
        let o = u64::try_from(off).ok()?;
        self.fields
            .iter()
            .filter(|(fo, fs, _)| o >= *fo && o < fo.saturating_add((*fs).max(1)))
            // The innermost (smallest) field wins over its enclosing struct.
            .min_by_key(|(_, fs, _)| *fs)
            .map(|(_, _, n)| format!("{}.{n}", self.label))
    }
}

/// Every structure the annotator names fields of, for one binary.
#[derive(Debug, Clone)]
pub struct FieldTable {
    pub variant: MapVariant,
    /// `runtime.hmap` or `internal/runtime/maps.Map`.
    pub header: Option<FieldList>,
    pub table: Option<FieldList>,
    pub map_type: FieldList,
    /// Where the runtime structs came from (`dwarf`, `mapscope table`).
    pub source: String,
}

fn short_label(name: &str) -> String {
    match name {
        HMAP_NAME => "hmap".into(),
        SWISS_MAP_NAME => "maps.Map".into(),
        TABLE_NAME => "maps.table".into(),
        GROUPS_REF_NAME => "maps.groupsReference".into(),
        n => n.rsplit('/').next().unwrap_or(n).to_string(),
    }
}

/// Flattens one struct, descending one level into fields whose type is
/// another of the runtime structs (`table.groups` → `groups.data`).
fn flatten(s: &StructLayout, all: &[StructLayout]) -> FieldList {
    let mut fields = Vec::new();
    for f in &s.fields {
        let inner = all.iter().find(|o| o.name == f.type_name && o.name != s.name);
        match inner {
            Some(i) => {
                for g in &i.fields {
                    fields.push((
                        f.offset.saturating_add(g.offset),
                        g.size,
                        format!("{}.{}", f.name, g.name),
                    ));
                }
            }
            None => fields.push((f.offset, f.size, f.name.clone())),
        }
    }
    FieldList {
        label: short_label(&s.name),
        size: s.size,
        fields,
    }
}

fn map_type_fields(layout: &MapDescLayout, variant: MapVariant) -> FieldList {
    let mut fields: Vec<(u64, u64, String)> = ABI_TYPE.iter().map(|&(o, w, n)| (o, w, format!("Type.{n}"))).collect();
    let group = if variant == MapVariant::Classic {
        "Bucket"
    } else {
        "Group"
    };
    fields.push((maptype::KEY, 8, "Key".into()));
    fields.push((maptype::ELEM, 8, "Elem".into()));
    fields.push((maptype::BUCKET_OR_GROUP, 8, group.into()));
    fields.push((maptype::HASHER, 8, "Hasher".into()));
    for (f, off, width) in layout.fields {
        fields.push((*off, u64::from(*width), format!("{f:?}")));
    }
    FieldList {
        label: "MapType".into(),
        size: layout.size,
        fields,
    }
}

impl FieldTable {
    /// `None` when the binary's map variant cannot be told.
    pub fn for_binary(bin: &GoBinary) -> Option<FieldTable> {
        let variant = bin.map_variant().variant?;
        let rl = RuntimeLayout::for_binary(bin)?;
        let structs = runtime_structs(bin, &rl);
        let get = |n: &str| structs.iter().find(|s| s.name == n).map(|s| flatten(s, &structs));
        let (header, table) = if variant == MapVariant::Classic {
            (get(HMAP_NAME), None)
        } else {
            (get(SWISS_MAP_NAME), get(TABLE_NAME))
        };
        let typedesclen = bin.moduledata().ok().is_some_and(|m| m.typedesclen.is_some());
        let desc = variant::desc_layout(variant, bin.go_version(), typedesclen);
        let source = structs.first().map(|s| s.source.clone()).unwrap_or_default();
        Some(FieldTable {
            variant,
            header,
            table,
            map_type: map_type_fields(desc, variant),
            source,
        })
    }

    /// The map type descriptor field whose load gives a container size
    /// (`BucketSize` classic, `GroupSize` Swiss), for address arithmetic.
    pub fn is_container_size(&self, label: &str) -> bool {
        label == "MapType.BucketSize" || label == "MapType.GroupSize"
    }
}
