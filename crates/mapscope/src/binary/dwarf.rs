//! DWARF from the Go linker (`cmd/link/internal/ld/dwarf.go`): named types and
//! global variables. Sections are decompressed on first use only, so `open`
//! stays cheap on large binaries; the index of every type and global (a walk
//! of every DIE) is built only when something needs all of them. One global
//! by name is looked for in its package's units first (the Go linker puts a
//! package's variables in the unit named by its path), which spares `path`
//! and `show` of `pkg.Var` the whole walk.

mod locals;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use gimli::{AttributeValue, EndianArcSlice, RunTimeEndian, UnitOffset};
use object::{Object, ObjectSection};

use super::bytes::ByteOrder;
use super::error::{BinaryError, Result};
use super::image::Image;
use super::rtype::Rtypes;
use super::types::{Field, GoType, Kind, TypeDetail, TypeId, TypeRef};

pub use locals::FrameLocal;

type R = EndianArcSlice<RunTimeEndian>;

const DW_AT_GO_KIND: gimli::DwAt = gimli::DwAt(0x2900);
const DW_AT_GO_KEY: gimli::DwAt = gimli::DwAt(0x2901);
const DW_AT_GO_ELEM: gimli::DwAt = gimli::DwAt(0x2902);
const DW_AT_GO_EMBEDDED_FIELD: gimli::DwAt = gimli::DwAt(0x2903);
const DW_AT_GO_RUNTIME_TYPE: gimli::DwAt = gimli::DwAt(0x2904);
/// Typedef chains and nested aggregates are shallow in Go; this bounds
/// recursion on corrupt (cyclic) input.
const MAX_DEPTH: u32 = 48;

/// A package-level variable from DWARF.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GlobalVar {
    pub name: String,
    pub addr: u64,
    pub ty: Option<TypeRef>,
}

/// Sections [`DwarfIndex::lists`] inflates on first use.
const LAZY_SECTIONS: [gimli::SectionId; 4] = [
    gimli::SectionId::DebugLoc,
    gimli::SectionId::DebugLocLists,
    gimli::SectionId::DebugRanges,
    gimli::SectionId::DebugRngLists,
];

pub(crate) struct DwarfIndex {
    /// Every section but [`LAZY_SECTIONS`] (present there as empty).
    dwarf: gimli::Dwarf<R>,
    /// [`LAZY_SECTIONS`] as the file holds them (format, bytes, inflated size).
    lazy_lists: Vec<(gimli::SectionId, object::CompressionFormat, Vec<u8>, u64)>,
    /// The location and range lists (with .debug_addr, which they index).
    lists: OnceLock<gimli::Dwarf<R>>,
    endian: RunTimeEndian,
    /// (start offset of the unit in .debug_info, unit), sorted.
    units: Vec<(u64, gimli::Unit<R>)>,
    /// Every unit's named types and globals; built on first need.
    names: OnceLock<std::result::Result<Names, String>>,
    /// Subprograms by PC, for locals; built on first use.
    frames: OnceLock<locals::FrameIndex>,
    /// Decoded variables per subprogram DIE, filled on first lookup in each.
    locals: Mutex<HashMap<u64, Arc<[locals::Local]>>>,
}

fn derr(e: gimli::Error) -> BinaryError {
    BinaryError::Dwarf(e.to_string())
}

pub(crate) fn load(img: &Image) -> Result<DwarfIndex> {
    let file = object::File::parse(img.data()).map_err(|e| BinaryError::NotElf(e.to_string()))?;
    if file.section_by_name(".debug_info").is_none() {
        return Err(BinaryError::NoDwarf);
    }
    let endian = match img.order {
        ByteOrder::Little => RunTimeEndian::Little,
        ByteOrder::Big => RunTimeEndian::Big,
    };
    // Location and range lists serve only frame locals: kept compressed
    // until those are asked for (inflating them was a fifth of `path`).
    let mut lazy_lists = Vec::new();
    for id in LAZY_SECTIONS {
        if let Some(c) = file.section_by_name(id.name()).and_then(|s| s.compressed_data().ok()) {
            lazy_lists.push((id, c.format, c.data.to_vec(), c.uncompressed_size));
        }
    }
    let load = |id: gimli::SectionId| -> Result<R> {
        if LAZY_SECTIONS.contains(&id) {
            return Ok(EndianArcSlice::new(Arc::from(&[][..]), endian));
        }
        let data: Arc<[u8]> = match file.section_by_name(id.name()) {
            Some(s) => {
                let c = s
                    .compressed_data()
                    .and_then(|c| c.decompress())
                    .map_err(|e| BinaryError::Dwarf(format!("{}: {e}", id.name())))?;
                Arc::from(&*c)
            }
            None => Arc::from(&[][..]),
        };
        Ok(EndianArcSlice::new(data, endian))
    };
    let dwarf = gimli::Dwarf::load(load)?;
    let mut idx = DwarfIndex {
        dwarf,
        lazy_lists,
        lists: OnceLock::new(),
        endian,
        units: Vec::new(),
        names: OnceLock::new(),
        frames: OnceLock::new(),
        locals: Mutex::new(HashMap::new()),
    };
    let mut headers = idx.dwarf.units();
    while let Some(h) = headers.next().map_err(derr)? {
        let Some(start) = h.offset().as_debug_info_offset() else {
            continue;
        };
        let unit = idx.dwarf.unit(h).map_err(derr)?;
        idx.units.push((start.0 as u64, unit));
    }
    idx.units.sort_by_key(|(o, _)| *o);
    Ok(idx)
}

/// Named types (first DIE of each name) and package-level variables.
#[derive(Default)]
struct Names {
    types: HashMap<String, u64>,
    vars: Vec<GlobalVar>,
    var_by_name: HashMap<String, usize>,
}

impl DwarfIndex {
    /// A `Dwarf` holding the location and range lists, inflated on first
    /// use; a list section that cannot be inflated reads as empty.
    fn lists(&self) -> &gimli::Dwarf<R> {
        self.lists.get_or_init(|| {
            let empty = || EndianArcSlice::new(Arc::from(&[][..]), self.endian);
            let section = |id: gimli::SectionId| -> std::result::Result<R, std::convert::Infallible> {
                if id == gimli::SectionId::DebugAddr {
                    return Ok(gimli::Section::reader(&self.dwarf.debug_addr).clone());
                }
                let inflated = self
                    .lazy_lists
                    .iter()
                    .find(|(i, ..)| *i == id)
                    .and_then(|(_, format, data, size)| {
                        let c = object::CompressedData {
                            format: *format,
                            data,
                            uncompressed_size: *size,
                        };
                        c.decompress()
                            .ok()
                            .map(|d| EndianArcSlice::new(Arc::from(&*d), self.endian))
                    });
                Ok(inflated.unwrap_or_else(empty))
            };
            match gimli::Dwarf::load(section) {
                Ok(d) => d,
                Err(never) => match never {},
            }
        })
    }

    fn names(&self) -> Result<&Names> {
        self.names
            .get_or_init(|| {
                let mut names = Names::default();
                for ui in 0..self.units.len() {
                    self.index_unit(ui, &mut names, None).map_err(|e| e.to_string())?;
                }
                Ok(names)
            })
            .as_ref()
            .map_err(|e| BinaryError::Dwarf(e.clone()))
    }

    /// Adds unit `ui`'s top-level types and variables to `names`; with
    /// `only`, just the variable of that name.
    fn index_unit(&self, ui: usize, names: &mut Names, only: Option<&str>) -> Result<()> {
        let Some((start, unit)) = self.units.get(ui) else {
            return Ok(());
        };
        let start = *start;
        let mut new_types = Vec::new();
        let mut new_vars = Vec::new();
        let mut tree = unit.entries_tree(None).map_err(derr)?;
        let root = tree.root().map_err(derr)?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(derr)? {
            let e = child.entry();
            let tag = e.tag();
            let is_type = matches!(
                tag,
                gimli::DW_TAG_base_type
                    | gimli::DW_TAG_typedef
                    | gimli::DW_TAG_structure_type
                    | gimli::DW_TAG_pointer_type
                    | gimli::DW_TAG_array_type
                    | gimli::DW_TAG_subroutine_type
            );
            if !is_type && tag != gimli::DW_TAG_variable || is_type && only.is_some() {
                continue;
            }
            let Some(name) = self.name_of(unit, e) else {
                continue;
            };
            if only.is_some_and(|o| o != name) {
                continue;
            }
            let off = start + e.offset().0 as u64;
            if is_type {
                new_types.push((name, off));
            } else if let Some(addr) = self.location(unit, e) {
                let ty = match e.attr_value(gimli::DW_AT_type) {
                    Ok(Some(v)) => self.ref_offset(unit, start, &v),
                    _ => None,
                };
                new_vars.push((name, addr, ty));
            }
        }
        for (name, off) in new_types {
            names.types.entry(name).or_insert(off);
        }
        for (name, addr, ty) in new_vars {
            let ty = ty.map(|o| TypeRef {
                name: self.name_at(o).unwrap_or_default(),
                id: TypeId::Dwarf(o),
            });
            names.var_by_name.entry(name.clone()).or_insert(names.vars.len());
            names.vars.push(GlobalVar { name, addr, ty });
        }
        Ok(())
    }

    fn name_of(&self, unit: &gimli::Unit<R>, e: &gimli::DebuggingInformationEntry<R>) -> Option<String> {
        let v = e.attr_value(gimli::DW_AT_name).ok()??;
        let s = self.dwarf.attr_string(unit, v).ok()?;
        Some(String::from_utf8_lossy(&s).into_owned())
    }

    /// A global's address from a `DW_OP_addr` (or DWARF 5 `DW_OP_addrx`) location.
    fn location(&self, unit: &gimli::Unit<R>, e: &gimli::DebuggingInformationEntry<R>) -> Option<u64> {
        let Ok(Some(AttributeValue::Exprloc(expr))) = e.attr_value(gimli::DW_AT_location) else {
            return None;
        };
        let mut ops = expr.operations(unit.encoding());
        match ops.next().ok()?? {
            gimli::Operation::Address { address } => Some(address),
            gimli::Operation::AddressIndex { index } => self.dwarf.address(unit, index).ok(),
            _ => None,
        }
    }

    fn ref_offset(&self, _unit: &gimli::Unit<R>, unit_start: u64, v: &AttributeValue<R>) -> Option<u64> {
        match v {
            AttributeValue::UnitRef(o) => unit_start.checked_add(o.0 as u64),
            AttributeValue::DebugInfoRef(o) => Some(o.0 as u64),
            _ => None,
        }
    }

    fn unit_for(&self, off: u64) -> Option<&(u64, gimli::Unit<R>)> {
        let i = self.units.partition_point(|(s, _)| *s <= off);
        self.units.get(i.checked_sub(1)?)
    }

    fn with_entry<T>(
        &self,
        off: u64,
        f: impl FnOnce(&gimli::Unit<R>, u64, &gimli::DebuggingInformationEntry<R>) -> Option<T>,
    ) -> Option<T> {
        let (start, unit) = self.unit_for(off)?;
        let uo = UnitOffset(usize::try_from(off.checked_sub(*start)?).ok()?);
        let e = unit.entry(uo).ok()?;
        f(unit, *start, &e)
    }

    fn name_at(&self, off: u64) -> Option<String> {
        self.with_entry(off, |u, _, e| self.name_of(u, e))
    }

    fn tref(&self, off: u64) -> TypeRef {
        TypeRef {
            name: self.name_at(off).unwrap_or_else(|| format!("<dwarf {off:#x}>")),
            id: TypeId::Dwarf(off),
        }
    }

    pub fn type_offset(&self, name: &str) -> Result<Option<u64>> {
        Ok(self.names()?.types.get(name).copied())
    }

    pub fn type_names(&self) -> Result<impl Iterator<Item = (&str, u64)>> {
        Ok(self.names()?.types.iter().map(|(k, v)| (k.as_str(), *v)))
    }

    pub fn globals(&self) -> Result<&[GlobalVar]> {
        Ok(&self.names()?.vars)
    }

    /// The global `name` (`pkg/path.Var`): from the units of its package
    /// when the full index is not built yet, else (or when they do not hold
    /// it) from the full index.
    pub fn global(&self, name: &str) -> Result<Option<GlobalVar>> {
        if self.names.get().is_none() {
            let mut found = Names::default();
            for (ui, (_, unit)) in self.units.iter().enumerate() {
                let of_package = unit.name.as_ref().is_some_and(|u| {
                    name.as_bytes()
                        .strip_prefix(u.bytes())
                        .is_some_and(|rest| rest.first() == Some(&b'.'))
                });
                if !of_package {
                    continue;
                }
                if self.index_unit(ui, &mut found, Some(name)).is_err() {
                    break;
                }
                if let Some(v) = found.vars.into_iter().next() {
                    return Ok(Some(v));
                }
                found = Names::default();
            }
        }
        let names = self.names()?;
        Ok(names.var_by_name.get(name).and_then(|&i| names.vars.get(i)).cloned())
    }

    /// Everything one DIE says about its type, attributes read once.
    fn die(&self, off: u64) -> Option<Die> {
        self.with_entry(off, |unit, start, e| {
            let attr = |a| e.attr_value(a).ok().flatten();
            let udata = |a| attr(a).and_then(|v: AttributeValue<R>| v.udata_value());
            let r = |a| attr(a).and_then(|v| self.ref_offset(unit, start, &v));
            let mut children = Vec::new();
            if e.has_children() {
                let mut tree = unit.entries_tree(Some(e.offset())).ok()?;
                let root = tree.root().ok()?;
                let mut it = root.children();
                while let Ok(Some(c)) = it.next() {
                    let ce = c.entry();
                    let cattr = |a| ce.attr_value(a).ok().flatten();
                    children.push(Child {
                        tag: ce.tag(),
                        name: self.name_of(unit, ce),
                        ty: cattr(gimli::DW_AT_type).and_then(|v| self.ref_offset(unit, start, &v)),
                        offset: cattr(gimli::DW_AT_data_member_location)
                            .and_then(|v: AttributeValue<R>| v.udata_value()),
                        count: cattr(gimli::DW_AT_count)
                            .and_then(|v: AttributeValue<R>| v.udata_value())
                            .or_else(|| {
                                cattr(gimli::DW_AT_upper_bound)
                                    .and_then(|v: AttributeValue<R>| v.udata_value())
                                    .map(|u| u.saturating_add(1))
                            }),
                        flag: matches!(cattr(gimli::DW_AT_variable_parameter), Some(AttributeValue::Flag(true)))
                            || matches!(cattr(DW_AT_GO_EMBEDDED_FIELD), Some(AttributeValue::Flag(true))),
                    });
                }
            }
            Some(Die {
                tag: e.tag(),
                name: self.name_of(unit, e),
                size: udata(gimli::DW_AT_byte_size),
                go_kind: udata(DW_AT_GO_KIND).map(|k| Kind::from_u8(k as u8)),
                ty: r(gimli::DW_AT_type),
                key: r(DW_AT_GO_KEY),
                elem: r(DW_AT_GO_ELEM),
                runtime_type: udata(DW_AT_GO_RUNTIME_TYPE).or_else(|| match attr(DW_AT_GO_RUNTIME_TYPE) {
                    Some(AttributeValue::Addr(a)) => Some(a),
                    _ => None,
                }),
                children,
            })
        })
    }

    fn size_of(&self, off: u64, depth: u32) -> Option<u64> {
        let d = self.die(off)?;
        if let Some(s) = d.size {
            return Some(s);
        }
        match d.tag {
            gimli::DW_TAG_pointer_type => Some(8),
            _ if depth < MAX_DEPTH => self.size_of(d.ty?, depth + 1),
            _ => None,
        }
    }

    /// DWARF has no alignment; derive it the way the Go compiler does.
    fn align_of(&self, off: u64, depth: u32) -> u64 {
        let Some(d) = self.die(off) else { return 1 };
        if depth >= MAX_DEPTH {
            return 1;
        }
        match d.tag {
            gimli::DW_TAG_structure_type => d
                .children
                .iter()
                .filter(|c| c.tag == gimli::DW_TAG_member)
                .filter_map(|c| c.ty)
                .map(|t| self.align_of(t, depth + 1))
                .max()
                .unwrap_or(1),
            gimli::DW_TAG_array_type => d.ty.map_or(1, |t| self.align_of(t, depth + 1)),
            gimli::DW_TAG_typedef => d.ty.map_or(8, |t| self.align_of(t, depth + 1)),
            gimli::DW_TAG_base_type => match (d.go_kind, d.size) {
                (Some(Kind::Complex64), _) => 4,
                (Some(Kind::Complex128), _) => 8,
                (_, Some(s)) => s.clamp(1, 8),
                _ => 1,
            },
            _ => 8,
        }
    }

    /// One type as a [`GoType`]. `rt` adds what DWARF lacks (map descriptor
    /// fields, interface methods, exact alignment) when the DIE names its
    /// runtime type.
    pub fn go_type(&self, off: u64, rt: Option<&Rtypes<'_>>) -> Result<GoType> {
        let d = self
            .die(off)
            .ok_or_else(|| BinaryError::Dwarf(format!("no type DIE at .debug_info offset {off:#x}")))?;
        let runtime_addr = match (d.runtime_type, rt) {
            (Some(v), Some(rt)) if v != 0 => Some(rt.md.types.wrapping_add(v)),
            _ => None,
        };
        let rtype = || runtime_addr.zip(rt).and_then(|(a, rt)| rt.read(a).ok());
        let target = if d.tag == gimli::DW_TAG_typedef {
            d.ty.and_then(|t| self.die(t))
        } else {
            None
        };
        let shape = target.as_ref().unwrap_or(&d);
        // A named Go type is a typedef of its underlying type; the kind is the
        // underlying one's when the typedef carries none.
        let kind = d.go_kind.or(shape.go_kind).unwrap_or(match shape.tag {
            gimli::DW_TAG_pointer_type => Kind::Pointer,
            gimli::DW_TAG_structure_type => Kind::Struct,
            gimli::DW_TAG_array_type => Kind::Array,
            gimli::DW_TAG_subroutine_type => Kind::Func,
            _ => Kind::Invalid,
        });
        let detail = match kind {
            Kind::Map => TypeDetail::Map {
                key: d.key.map(|o| self.tref(o)).unwrap_or_else(|| self.tref(0)),
                elem: d.elem.map(|o| self.tref(o)).unwrap_or_else(|| self.tref(0)),
                descriptor: rtype().and_then(|t| t.map_descriptor().cloned()).map(Box::new),
            },
            Kind::Slice => TypeDetail::Slice {
                elem: self.tref(d.elem.unwrap_or(0)),
            },
            Kind::Chan => TypeDetail::Chan {
                elem: self.tref(d.elem.unwrap_or(0)),
                dir: match rtype().map(|t| t.detail) {
                    Some(TypeDetail::Chan { dir, .. }) => dir,
                    _ => 0,
                },
            },
            Kind::Interface => match rtype().map(|t| t.detail) {
                Some(det @ TypeDetail::Interface { .. }) => det,
                _ => TypeDetail::Interface { methods: Vec::new() },
            },
            Kind::Pointer | Kind::UnsafePointer => TypeDetail::Pointer {
                elem: d.ty.map(|o| self.tref(o)),
            },
            Kind::Array => TypeDetail::Array {
                elem: self.tref(shape.ty.unwrap_or(0)),
                len: shape
                    .children
                    .iter()
                    .find(|c| c.tag == gimli::DW_TAG_subrange_type)
                    .and_then(|c| c.count)
                    .unwrap_or(0),
            },
            Kind::Func => {
                let ps = shape
                    .children
                    .iter()
                    .filter(|c| c.tag == gimli::DW_TAG_formal_parameter);
                let (res, par): (Vec<&Child>, Vec<&Child>) = ps.partition(|c| c.flag);
                TypeDetail::Func {
                    params: par.iter().filter_map(|c| c.ty).map(|o| self.tref(o)).collect(),
                    results: res.iter().filter_map(|c| c.ty).map(|o| self.tref(o)).collect(),
                    variadic: shape
                        .children
                        .iter()
                        .any(|c| c.tag == gimli::DW_TAG_unspecified_parameters),
                }
            }
            Kind::Struct => TypeDetail::Struct {
                fields: shape
                    .children
                    .iter()
                    .filter(|c| c.tag == gimli::DW_TAG_member)
                    .map(|c| Field {
                        name: c.name.clone().unwrap_or_default(),
                        offset: c.offset.unwrap_or(0),
                        ty: self.tref(c.ty.unwrap_or(0)),
                        embedded: c.flag,
                    })
                    .collect(),
            },
            _ => TypeDetail::Plain,
        };
        let size = d.size.or_else(|| self.size_of(off, 0)).unwrap_or(0);
        let align = match runtime_addr
            .zip(rt)
            .and_then(|(a, rt)| rt.img.u8(a + 21, "type align").ok())
        {
            Some(a) if a != 0 => u64::from(a),
            _ => self.align_of(off, 0),
        };
        Ok(GoType {
            id: TypeId::Dwarf(off),
            name: d.name.unwrap_or_default(),
            kind,
            size,
            align,
            runtime_addr,
            detail,
        })
    }
}

struct Die {
    tag: gimli::DwTag,
    name: Option<String>,
    size: Option<u64>,
    go_kind: Option<Kind>,
    ty: Option<u64>,
    key: Option<u64>,
    elem: Option<u64>,
    runtime_type: Option<u64>,
    children: Vec<Child>,
}

struct Child {
    tag: gimli::DwTag,
    name: Option<String>,
    ty: Option<u64>,
    offset: Option<u64>,
    count: Option<u64>,
    /// DW_AT_variable_parameter (a result, 1.24+) or DW_AT_go_embedded_field.
    flag: bool,
}
