//! The one type model callers see, whether a type came from DWARF or from the
//! runtime's own type descriptors.

use serde::Serialize;

/// Go's `reflect.Kind` numbering (`internal/abi.Kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Invalid,
    Bool,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    Float32,
    Float64,
    Complex64,
    Complex128,
    Array,
    Chan,
    Func,
    Interface,
    Map,
    Pointer,
    Slice,
    String,
    Struct,
    UnsafePointer,
}

impl Kind {
    /// From the low 5 bits of `abi.Type.Kind_` or DW_AT_go_kind.
    pub fn from_u8(v: u8) -> Kind {
        use Kind::*;
        const ALL: [Kind; 27] = [
            Invalid,
            Bool,
            Int,
            Int8,
            Int16,
            Int32,
            Int64,
            Uint,
            Uint8,
            Uint16,
            Uint32,
            Uint64,
            Uintptr,
            Float32,
            Float64,
            Complex64,
            Complex128,
            Array,
            Chan,
            Func,
            Interface,
            Map,
            Pointer,
            Slice,
            String,
            Struct,
            UnsafePointer,
        ];
        ALL.get(usize::from(v & 0x1f)).copied().unwrap_or(Invalid)
    }
}

/// Where a type's facts were read from; also its identity for [`TypeRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "source", content = "at", rename_all = "snake_case")]
pub enum TypeId {
    /// Address of an `abi.Type` descriptor.
    Runtime(u64),
    /// Offset of the DIE in .debug_info.
    Dwarf(u64),
}

/// A reference to another type: its name (for display) and how to fetch it
/// (`GoBinary::type_by_id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeRef {
    pub name: String,
    pub id: TypeId,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub offset: u64,
    pub ty: TypeRef,
    pub embedded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Method {
    pub name: String,
    pub ty: Option<TypeRef>,
}

/// Which map implementation a map type descriptor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapDescFamily {
    Classic,
    /// 1.24–1.26 `SwissMapType`/`MapType`: SlotSize and ElemOff.
    Swiss,
    /// 1.27 `MapType`: explicit KeysOff/KeyStride/ElemsOff/ElemStride.
    Swiss127,
}

/// Map type flags, decoded from whichever bit order the family uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MapFlags {
    pub raw: u32,
    pub indirect_key: bool,
    pub indirect_elem: bool,
    /// Classic only; Swiss maps do not record it.
    pub reflexive_key: Option<bool>,
    pub need_key_update: bool,
    pub hash_might_panic: bool,
}

/// The fields of a map type descriptor beyond `abi.Type`, key and elem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapDescriptor {
    pub family: MapDescFamily,
    /// Address of the map type descriptor these were read from.
    pub addr: u64,
    /// `map.bucket[K]V` (classic) or `map.group[K]V` (Swiss).
    pub bucket_or_group: Option<TypeRef>,
    /// Address of the hasher's code (`Hasher` funcval's first word).
    pub hasher_funcval: u64,
    pub flags: MapFlags,
    /// Classic: keysize/valuesize/bucketsize (slot sizes; 8 when indirect).
    pub key_size: Option<u64>,
    pub value_size: Option<u64>,
    pub bucket_size: Option<u64>,
    /// Swiss: GroupSize, SlotSize (≤1.26), ElemOff.
    pub group_size: Option<u64>,
    pub slot_size: Option<u64>,
    pub elem_off: Option<u64>,
    /// Where key i / elem i live in a group: `keys_off + i*key_stride`,
    /// `elems_off + i*elem_stride`. Read from 1.27 descriptors, derived from
    /// SlotSize/ElemOff before (the control word is 8 bytes).
    pub keys_off: Option<u64>,
    pub key_stride: Option<u64>,
    pub elems_off: Option<u64>,
    pub elem_stride: Option<u64>,
}

/// Kind-specific structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum TypeDetail {
    Plain,
    Struct {
        fields: Vec<Field>,
    },
    Array {
        elem: TypeRef,
        len: u64,
    },
    Slice {
        elem: TypeRef,
    },
    Pointer {
        elem: Option<TypeRef>,
    },
    Chan {
        elem: TypeRef,
        dir: u64,
    },
    Func {
        params: Vec<TypeRef>,
        results: Vec<TypeRef>,
        variadic: bool,
    },
    Interface {
        methods: Vec<Method>,
    },
    Map {
        key: TypeRef,
        elem: TypeRef,
        /// From the runtime descriptor (present in DWARF-sourced types too when
        /// the DIE names its runtime type).
        descriptor: Option<Box<MapDescriptor>>,
    },
}

/// A Go type with the facts layout and value decoding need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GoType {
    pub id: TypeId,
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    pub align: u64,
    /// Address of the runtime descriptor, when known (always for Runtime ids;
    /// from DW_AT_go_runtime_type for DWARF).
    pub runtime_addr: Option<u64>,
    pub detail: TypeDetail,
}

impl GoType {
    pub fn fields(&self) -> &[Field] {
        match &self.detail {
            TypeDetail::Struct { fields } => fields,
            _ => &[],
        }
    }

    /// Element type of arrays, slices, pointers and channels.
    pub fn elem(&self) -> Option<&TypeRef> {
        match &self.detail {
            TypeDetail::Array { elem, .. } | TypeDetail::Slice { elem } | TypeDetail::Chan { elem, .. } => Some(elem),
            TypeDetail::Pointer { elem } => elem.as_ref(),
            TypeDetail::Map { elem, .. } => Some(elem),
            _ => None,
        }
    }

    pub fn map_key(&self) -> Option<&TypeRef> {
        match &self.detail {
            TypeDetail::Map { key, .. } => Some(key),
            _ => None,
        }
    }

    pub fn map_descriptor(&self) -> Option<&MapDescriptor> {
        match &self.detail {
            TypeDetail::Map { descriptor, .. } => descriptor.as_deref(),
            _ => None,
        }
    }
}

/// The spelling the runtime and DWARF use for a type name a user may write
/// differently: `any` → `interface {}` (Go 1.18 made them the same type, but
/// both the descriptors and DWARF name it `interface {}`), and `interface{}`
/// → `interface {}`. Identifiers that merely contain `any` are left alone.
pub fn canonical_name(name: &str) -> String {
    let name = name.replace("interface{}", "interface {}");
    let bytes = name.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b >= 0x80;
    let mut out = String::with_capacity(name.len() + 16);
    let mut i = 0;
    while i < name.len() {
        let is_any = name[i..].starts_with("any")
            && (i == 0 || bytes.get(i - 1).is_some_and(|&b| !ident(b)))
            && !bytes.get(i + 3).is_some_and(|&b| ident(b));
        if is_any {
            out.push_str("interface {}");
            i += 3;
        } else {
            let c = name[i..].chars().next().unwrap_or(' ');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

#[cfg(test)]
mod canonical_name_tests {
    use super::canonical_name;

    #[test]
    fn any_is_the_empty_interface() {
        assert_eq!(canonical_name("map[string]any"), "map[string]interface {}");
        assert_eq!(canonical_name("map[any][]any"), "map[interface {}][]interface {}");
        assert_eq!(canonical_name("map[string]interface{}"), "map[string]interface {}");
        assert_eq!(canonical_name("main.anyThing"), "main.anyThing");
        assert_eq!(canonical_name("map[company]int"), "map[company]int");
        assert_eq!(canonical_name("pkg.any"), "pkg.any");
    }
}
