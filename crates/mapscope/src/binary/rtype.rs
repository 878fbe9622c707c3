//! Runtime type descriptors (`internal/abi/type.go`, `runtime/type.go`):
//! decoding one `abi.Type` and its kind-specific tail, and enumerating them all.

use std::collections::{HashSet, VecDeque};

use super::bytes::uvarint;
use super::error::{malformed, Result};
use super::image::Image;
use super::maptype::{self, MapDescLayout, MapField};
use super::moduledata::Moduledata;
use super::types::{Field, GoType, Kind, MapDescriptor, Method, TypeDetail, TypeId, TypeRef};

/// `unsafe.Sizeof(abi.Type{})` on 64-bit targets.
const TYPE_SIZE: u64 = 48;
const UNCOMMON_SIZE: u64 = 16;
const METHOD_SIZE: u64 = 16;
const STRUCT_FIELD_SIZE: u64 = 24;
const IMETHOD_SIZE: u64 = 8;
const TFLAG_UNCOMMON: u8 = 1;
const TFLAG_EXTRA_STAR: u8 = 2;
const NAME_EMBEDDED: u8 = 8;
const MAX_NAME: u64 = 1 << 20;

pub(crate) struct Rtypes<'a> {
    pub img: &'a Image,
    pub md: &'a Moduledata,
    pub map_layout: &'static MapDescLayout,
}

struct Header {
    size: u64,
    tflag: u8,
    align: u8,
    kind: Kind,
    str_off: i32,
}

impl Rtypes<'_> {
    /// Upper bound on how many descriptors the types region can hold; caps
    /// every loop over counts read from the file.
    fn max_types(&self) -> u64 {
        self.md.etypes.saturating_sub(self.md.types) / 8 + 1
    }

    fn in_types(&self, addr: u64) -> bool {
        addr >= self.md.types && addr < self.md.etypes
    }

    fn header(&self, addr: u64) -> Result<Header> {
        let b = self.img.read(addr, TYPE_SIZE, "type descriptor")?;
        let o = self.img.order;
        let bad = || malformed("type descriptor", addr, "truncated");
        Ok(Header {
            size: o.u64(b, 0).ok_or_else(bad)?,
            tflag: b.get(20).copied().ok_or_else(bad)?,
            align: b.get(21).copied().ok_or_else(bad)?,
            kind: Kind::from_u8(b.get(23).copied().ok_or_else(bad)?),
            str_off: o.u32(b, 40).ok_or_else(bad)? as i32,
        })
    }

    /// An `abi.Name`: flag byte, uvarint length, bytes.
    fn name_at(&self, addr: u64) -> Result<(String, u8)> {
        let b = self.img.bytes_from(addr).ok_or(super::BinaryError::Unmapped {
            what: "type name",
            addr,
            len: 1,
        })?;
        let flags = b.first().copied().unwrap_or(0);
        let (len, n) = uvarint(b, 1).ok_or_else(|| malformed("type name", addr, "bad uvarint length"))?;
        if len > MAX_NAME {
            return Err(malformed("type name", addr, format!("length {len} too large")));
        }
        let s = b
            .get(1 + n..(1 + n).saturating_add(len as usize))
            .ok_or_else(|| malformed("type name", addr, format!("length {len} runs past the section")))?;
        Ok((String::from_utf8_lossy(s).into_owned(), flags))
    }

    fn name_off(&self, off: i32) -> Result<String> {
        let addr = self.md.types.wrapping_add(off as i64 as u64);
        Ok(self.name_at(addr)?.0)
    }

    /// The type's string as `reflect.Type.String()` gives it.
    pub fn name(&self, addr: u64) -> Result<String> {
        let h = self.header(addr)?;
        let mut n = self.name_off(h.str_off)?;
        if h.tflag & TFLAG_EXTRA_STAR != 0 && n.starts_with('*') {
            n.remove(0);
        }
        Ok(n)
    }

    fn tref(&self, addr: u64) -> Result<TypeRef> {
        Ok(TypeRef {
            name: self.name(addr)?,
            id: TypeId::Runtime(addr),
        })
    }

    fn word(&self, addr: u64) -> Result<u64> {
        self.img.word(addr, "type descriptor field")
    }

    /// Size of the kind-specific struct, i.e. where the uncommon type starts.
    fn base_size(&self, kind: Kind) -> u64 {
        match kind {
            Kind::Array => TYPE_SIZE + 24,
            Kind::Chan => TYPE_SIZE + 16,
            Kind::Func | Kind::Pointer | Kind::Slice => TYPE_SIZE + 8,
            Kind::Interface | Kind::Struct => TYPE_SIZE + 32,
            Kind::Map => self.map_layout.size,
            _ => TYPE_SIZE,
        }
    }

    /// A slice header {ptr, len} at `addr`, with len capped by the region size.
    fn slice(&self, addr: u64, elem_size: u64) -> Result<(u64, u64)> {
        let ptr = self.word(addr)?;
        let len = self.word(addr + 8)?;
        if len.saturating_mul(elem_size) > self.md.etypes.saturating_sub(self.md.types).saturating_add(1 << 20) {
            return Err(malformed(
                "type descriptor slice",
                addr,
                format!("length {len} larger than the types region"),
            ));
        }
        Ok((ptr, len))
    }

    pub fn read(&self, addr: u64) -> Result<GoType> {
        let h = self.header(addr)?;
        let mut name = self.name_off(h.str_off)?;
        if h.tflag & TFLAG_EXTRA_STAR != 0 && name.starts_with('*') {
            name.remove(0);
        }
        let tail = addr.saturating_add(TYPE_SIZE);
        let detail = match h.kind {
            Kind::Array => TypeDetail::Array {
                elem: self.tref(self.word(tail)?)?,
                len: self.word(tail + 16)?,
            },
            Kind::Chan => TypeDetail::Chan {
                elem: self.tref(self.word(tail)?)?,
                dir: self.word(tail + 8)?,
            },
            Kind::Slice => TypeDetail::Slice {
                elem: self.tref(self.word(tail)?)?,
            },
            Kind::Pointer => TypeDetail::Pointer {
                elem: Some(self.tref(self.word(tail)?)?),
            },
            Kind::Func => {
                let inc = u64::from(self.img.u16(tail, "func type inCount")?);
                let outc = self.img.u16(tail + 2, "func type outCount")?;
                let mut p = addr.saturating_add(self.base_size(Kind::Func));
                if h.tflag & TFLAG_UNCOMMON != 0 {
                    p = p.saturating_add(UNCOMMON_SIZE);
                }
                let mut params = Vec::new();
                let mut results = Vec::new();
                for i in 0..inc + u64::from(outc & 0x7fff) {
                    let t = self.tref(self.word(p.saturating_add(i * 8))?)?;
                    if i < inc {
                        params.push(t);
                    } else {
                        results.push(t);
                    }
                }
                TypeDetail::Func {
                    params,
                    results,
                    variadic: outc & 0x8000 != 0,
                }
            }
            Kind::Interface => {
                let (ptr, len) = self.slice(tail + 8, IMETHOD_SIZE)?;
                let mut methods = Vec::new();
                for i in 0..len {
                    let m = ptr.saturating_add(i * IMETHOD_SIZE);
                    let nameoff = self.img.u32(m, "interface method")? as i32;
                    let typoff = self.img.u32(m + 4, "interface method")? as i32;
                    let taddr = self.md.types.wrapping_add(typoff as i64 as u64);
                    methods.push(Method {
                        name: self.name_off(nameoff)?,
                        ty: self.tref(taddr).ok(),
                    });
                }
                TypeDetail::Interface { methods }
            }
            Kind::Struct => {
                let (ptr, len) = self.slice(tail + 8, STRUCT_FIELD_SIZE)?;
                let mut fields = Vec::new();
                for i in 0..len {
                    let f = ptr.saturating_add(i * STRUCT_FIELD_SIZE);
                    let (fname, flags) = self.name_at(self.word(f)?)?;
                    fields.push(Field {
                        name: fname,
                        ty: self.tref(self.word(f + 8)?)?,
                        offset: self.word(f + 16)?,
                        embedded: flags & NAME_EMBEDDED != 0,
                    });
                }
                TypeDetail::Struct { fields }
            }
            Kind::Map => TypeDetail::Map {
                key: self.tref(self.word(addr + maptype::KEY)?)?,
                elem: self.tref(self.word(addr + maptype::ELEM)?)?,
                descriptor: Some(Box::new(self.map_descriptor(addr)?)),
            },
            _ => TypeDetail::Plain,
        };
        Ok(GoType {
            id: TypeId::Runtime(addr),
            name,
            kind: h.kind,
            size: h.size,
            align: u64::from(h.align),
            runtime_addr: Some(addr),
            detail,
        })
    }

    pub fn map_descriptor(&self, addr: u64) -> Result<MapDescriptor> {
        let l = self.map_layout;
        let get = |f: MapField| -> Result<Option<u64>> {
            let Some((off, width)) = l.field(f) else {
                return Ok(None);
            };
            let a = addr.saturating_add(off);
            Ok(Some(match width {
                1 => u64::from(self.img.u8(a, "map type descriptor")?),
                2 => u64::from(self.img.u16(a, "map type descriptor")?),
                4 => u64::from(self.img.u32(a, "map type descriptor")?),
                _ => self.word(a)?,
            }))
        };
        let bucket = self.word(addr + maptype::BUCKET_OR_GROUP)?;
        let hasher = self.word(addr + maptype::HASHER)?;
        let raw_flags = get(MapField::Flags)?.unwrap_or(0) as u32;
        let (key_size, value_size, bucket_size) = (
            get(MapField::KeySize)?,
            get(MapField::ValueSize)?,
            get(MapField::BucketSize)?,
        );
        let (group_size, slot_size, elem_off) = (
            get(MapField::GroupSize)?,
            get(MapField::SlotSize)?,
            get(MapField::ElemOff)?,
        );
        let mut keys_off = get(MapField::KeysOff)?;
        let mut key_stride = get(MapField::KeyStride)?;
        let mut elems_off = get(MapField::ElemsOff)?;
        let mut elem_stride = get(MapField::ElemStride)?;
        match l.family {
            // Bucket: tophash [8]u8, keys [8]K, elems [8]V, overflow.
            super::types::MapDescFamily::Classic => {
                if let (Some(k), Some(v)) = (key_size, value_size) {
                    keys_off = Some(8);
                    key_stride = Some(k);
                    elems_off = Some(8 + 8 * k);
                    elem_stride = Some(v);
                }
            }
            // Group: ctrl word, then 8 slots of {key, elem}.
            super::types::MapDescFamily::Swiss => {
                if let (Some(s), Some(e)) = (slot_size, elem_off) {
                    keys_off = Some(8);
                    key_stride = Some(s);
                    elems_off = Some(8u64.saturating_add(e));
                    elem_stride = Some(s);
                }
            }
            super::types::MapDescFamily::Swiss127 => {}
        }
        Ok(MapDescriptor {
            family: l.family,
            addr,
            bucket_or_group: if bucket == 0 { None } else { self.tref(bucket).ok() },
            hasher_funcval: hasher,
            flags: maptype::decode_flags(l.family, raw_flags),
            key_size,
            value_size,
            bucket_size,
            group_size,
            slot_size,
            elem_off,
            keys_off,
            key_stride,
            elems_off,
            elem_stride,
        })
    }

    /// `abi.Type.DescriptorSize` (1.27): header, kind tail, uncommon, inline
    /// params/fields/imethods, methods — in that order in memory.
    fn descriptor_size(&self, addr: u64) -> Result<u64> {
        let h = self.header(addr)?;
        let tail = addr.saturating_add(TYPE_SIZE);
        let add = match h.kind {
            Kind::Func => {
                let inc = u64::from(self.img.u16(tail, "func type")?);
                let outc = u64::from(self.img.u16(tail + 2, "func type")? & 0x7fff);
                (inc + outc) * 8
            }
            Kind::Interface => self.slice(tail + 8, IMETHOD_SIZE)?.1 * IMETHOD_SIZE,
            Kind::Struct => self.slice(tail + 8, STRUCT_FIELD_SIZE)?.1 * STRUCT_FIELD_SIZE,
            Kind::Invalid => {
                return Err(malformed(
                    "type descriptor",
                    addr,
                    "kind 0 (invalid) while walking the types region",
                ))
            }
            _ => 0,
        };
        let mut size = self.base_size(h.kind).saturating_add(add);
        if h.tflag & TFLAG_UNCOMMON != 0 {
            let u = addr.saturating_add(self.base_size(h.kind));
            let mcount = u64::from(self.img.u16(u + 4, "uncommon type")?);
            size = size.saturating_add(UNCOMMON_SIZE + mcount * METHOD_SIZE);
        }
        Ok(size)
    }

    /// Descriptors a type points at (elements, fields, params, …), for the
    /// closure over typelinks: typelinks hold only unnamed types.
    fn refs(&self, addr: u64, out: &mut Vec<u64>) -> Result<()> {
        let h = self.header(addr)?;
        let tail = addr.saturating_add(TYPE_SIZE);
        match h.kind {
            Kind::Array | Kind::Chan | Kind::Slice | Kind::Pointer => out.push(self.word(tail)?),
            Kind::Map => {
                for off in [maptype::KEY, maptype::ELEM, maptype::BUCKET_OR_GROUP] {
                    out.push(self.word(addr + off)?);
                }
            }
            Kind::Func => {
                let n = u64::from(self.img.u16(tail, "func type")?)
                    + u64::from(self.img.u16(tail + 2, "func type")? & 0x7fff);
                let mut p = addr.saturating_add(self.base_size(Kind::Func));
                if h.tflag & TFLAG_UNCOMMON != 0 {
                    p = p.saturating_add(UNCOMMON_SIZE);
                }
                for i in 0..n {
                    out.push(self.word(p.saturating_add(i * 8))?);
                }
            }
            Kind::Struct => {
                let (ptr, len) = self.slice(tail + 8, STRUCT_FIELD_SIZE)?;
                for i in 0..len {
                    out.push(self.word(ptr.saturating_add(i * STRUCT_FIELD_SIZE + 8))?);
                }
            }
            _ => {}
        }
        // A pointer type's own *T (PtrToThis) names types reflect can reach.
        let ptr_to_this = self.img.u32(addr + 44, "type descriptor")?;
        if ptr_to_this != 0 {
            out.push(self.md.types.wrapping_add(u64::from(ptr_to_this)));
        }
        Ok(())
    }

    /// Every type descriptor the module holds, sorted by address: the 1.27
    /// linear walk over all descriptors, or typelinks; plus everything they reach.
    pub fn enumerate(&self) -> Result<Vec<u64>> {
        let max = self.max_types();
        let mut seen = HashSet::new();
        let mut queue = VecDeque::new();
        if let Some(len) = self.md.typedesclen {
            // The linker puts the typelinks types (unnamed, sorted by string)
            // first, up to `typedesclen`, then every other type descriptor
            // (named types among them) up to `itaboffset`, all pointer-aligned
            // and contiguous (cmd/link dodataSect). The runtime walks only the
            // first part; mapscope walks both.
            let links_end = self.md.types.saturating_add(len);
            let end = self
                .md
                .itaboffset
                .map_or(links_end, |o| self.md.types.saturating_add(o).max(links_end));
            let mut td = self.md.types.saturating_add(8);
            while td < end && (seen.len() as u64) < max {
                td = td.saturating_add(7) & !7;
                if td >= end {
                    break;
                }
                let sz = match self.descriptor_size(td) {
                    Ok(0) => Err(malformed("type descriptor", td, "zero descriptor size")),
                    r => r,
                };
                let sz = match sz {
                    Ok(sz) => sz,
                    Err(e) if td < links_end => return Err(e),
                    // Past the typelinks the walk is mapscope's own: what it
                    // reached stands, the closure below adds what it missed.
                    Err(_) => break,
                };
                if seen.insert(td) {
                    queue.push_back(td);
                }
                td = td.saturating_add(sz);
            }
        } else {
            let (ptr, len) = self.md.typelinks.unwrap_or((0, 0));
            if len > max {
                return Err(malformed(
                    "typelinks",
                    ptr,
                    format!("{len} entries do not fit in the types region"),
                ));
            }
            let b = self.img.read(ptr, len.saturating_mul(4), "typelinks")?;
            for c in b.chunks_exact(4) {
                let off = self.img.order.u32(c, 0).unwrap_or(0) as i32;
                let a = self.md.types.wrapping_add(off as i64 as u64);
                if self.in_types(a) && seen.insert(a) {
                    queue.push_back(a);
                }
            }
        }
        // Types reachable from those (named types behind fields, elems,
        // params, PtrToThis) are descriptors too.
        let mut refs = Vec::new();
        while let Some(a) = queue.pop_front() {
            refs.clear();
            // A type we cannot follow still counts; its neighbours are lost.
            let _ = self.refs(a, &mut refs);
            for &r in &refs {
                if self.in_types(r) && (seen.len() as u64) < max && seen.insert(r) {
                    queue.push_back(r);
                }
            }
        }
        let mut out: Vec<u64> = seen.into_iter().collect();
        out.sort_unstable();
        Ok(out)
    }

    /// Whether an interface's data word holds a value of this type itself
    /// rather than a pointer to it. Up to 1.25 that is `Kind_ & 0x20`
    /// (KindDirectIface); from 1.26 `TFlag & 0x20` (TFlagDirectIface). Each
    /// bit is unused in the other field in the other versions (kinds stop at
    /// 26, and TFlag had no 0x20 before 1.26), so testing both needs no version.
    pub fn direct_iface(&self, addr: u64) -> Result<bool> {
        let b = self.img.read(addr, TYPE_SIZE, "type descriptor")?;
        let bad = || malformed("type descriptor", addr, "truncated");
        let tflag = b.get(20).copied().ok_or_else(bad)?;
        let kind_byte = b.get(23).copied().ok_or_else(bad)?;
        Ok(kind_byte & 0x20 != 0 || tflag & 0x20 != 0)
    }

    pub fn kind(&self, addr: u64) -> Result<Kind> {
        Ok(self.header(addr)?.kind)
    }
}
