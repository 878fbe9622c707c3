//! Layouts of types read from a binary (DWARF or runtime descriptors): the
//! runtime's map structures and every map type's bucket or group, with the
//! 8-slot arrays spelled out slot by slot.

use super::report::{FieldLayout, StructLayout};
use super::runtime::RuntimeLayout;
use crate::binary::{BinaryError, GoBinary, GoType, Kind, TypeDetail, TypeId};

/// Arrays this long or shorter are listed element by element: a bucket's
/// or group's 8 slots are what a reader wants to see.
const EXPAND_LEN: u64 = 8;

fn source_of(ty: &GoType) -> &'static str {
    match ty.id {
        TypeId::Runtime(_) => "runtime type descriptor",
        _ => "dwarf",
    }
}

/// The layout of a struct type, with short arrays (and the structs inside
/// them) expanded into their elements.
pub fn struct_layout(bin: &GoBinary, ty: &GoType, name: &str) -> Result<StructLayout, BinaryError> {
    let mut fields = Vec::new();
    for f in ty.fields() {
        let ft = bin.type_by_id(f.ty.id)?;
        expand(bin, &f.name, f.offset, &ft, &mut fields, 0)?;
    }
    Ok(StructLayout::new(name, ty.size, ty.align.max(1), fields, source_of(ty)))
}

fn expand(
    bin: &GoBinary,
    name: &str,
    offset: u64,
    ty: &GoType,
    out: &mut Vec<FieldLayout>,
    depth: u32,
) -> Result<(), BinaryError> {
    if depth < 2 {
        if let TypeDetail::Array { elem, len } = &ty.detail {
            if *len > 0 && *len <= EXPAND_LEN {
                let et = bin.type_by_id(elem.id)?;
                for i in 0..*len {
                    let off = offset.saturating_add(i.saturating_mul(et.size));
                    let n = format!("{name}[{i}]");
                    if et.kind == Kind::Struct && !et.fields().is_empty() {
                        for sf in et.fields() {
                            let st = bin.type_by_id(sf.ty.id)?;
                            expand(
                                bin,
                                &format!("{n}.{}", sf.name),
                                off.saturating_add(sf.offset),
                                &st,
                                out,
                                depth + 1,
                            )?;
                        }
                    } else {
                        expand(bin, &n, off, &et, out, depth + 1)?;
                    }
                }
                return Ok(());
            }
        }
    }
    out.push(FieldLayout {
        name: name.to_string(),
        offset,
        size: ty.size,
        align: ty.align.max(1),
        type_name: ty.name.clone(),
    });
    Ok(())
}

/// The runtime's map structures of this binary: from DWARF when it has
/// them, else from mapscope's per-version table.
pub fn runtime_structs(bin: &GoBinary, table: &RuntimeLayout) -> Vec<StructLayout> {
    table
        .structs
        .iter()
        .map(|spec| match bin.dwarf_type_by_name(spec.name) {
            Ok(Some(t)) if t.kind == Kind::Struct => {
                struct_layout(bin, &t, spec.name).unwrap_or_else(|_| spec.to_layout())
            }
            _ => spec.to_layout(),
        })
        .collect()
}

/// The bucket (classic) or group (Swiss) of a map type, named as the
/// runtime names it (`map.bucket[K]V`, `map.group[K]V`).
pub fn map_container(bin: &GoBinary, map: &GoType) -> Result<Option<StructLayout>, BinaryError> {
    let Some(desc) = map.map_descriptor() else {
        return Ok(None);
    };
    let Some(r) = &desc.bucket_or_group else {
        return Ok(None);
    };
    let t = bin.type_by_id(r.id)?;
    let name = t.name.strip_prefix("noalg.").unwrap_or(&t.name).to_string();
    struct_layout(bin, &t, &name).map(Some)
}

/// What Go's `fieldalignment` analyzer would suggest for a struct: its
/// fields ordered by alignment, largest first, and the size that order gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reorder {
    pub size: u64,
    pub order: Vec<String>,
}

/// `None` when the struct is already as small as reordering can make it.
/// Sorting by alignment is optimal for size because every Go type's size is
/// a multiple of its alignment; zero-size fields go first, since a trailing
/// one would be padded out (the compiler makes room for its address).
pub fn reorder_hint(bin: &GoBinary, ty: &GoType) -> Result<Option<Reorder>, BinaryError> {
    let mut fields = Vec::with_capacity(ty.fields().len());
    for f in ty.fields() {
        let ft = bin.type_by_id(f.ty.id)?;
        fields.push((f.name.clone(), ft.size, ft.align.max(1)));
    }
    fields.sort_by(|a, b| (a.1 != 0).cmp(&(b.1 != 0)).then(b.2.cmp(&a.2)).then(b.1.cmp(&a.1)));
    let align = fields.iter().map(|f| f.2).max().unwrap_or(1).max(ty.align.max(1));
    let mut end = 0u64;
    for f in &fields {
        end = end.next_multiple_of(f.2).saturating_add(f.1);
    }
    let size = end.next_multiple_of(align);
    Ok((size < ty.size).then(|| Reorder {
        size,
        order: fields.into_iter().map(|f| f.0).collect(),
    }))
}
