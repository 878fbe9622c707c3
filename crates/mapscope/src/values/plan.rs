//! Decode plans: a [`GoType`] reduced once to what decoding a value of it
//! needs (kind, size, field offsets, element stride), so that decoding a
//! million map entries never looks a type up again.
//!
//! A plan is shallow: the types it refers to (fields, elements, a map's key
//! and elem) are [`Child`] cells resolved on first use through the
//! decoder's [`PlanCache`]. That keeps recursive types (`type T struct{ next
//! []T }`) finite and makes an untouched field cost nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use super::error::ValueError;
use crate::binary::{GoBinary, GoType, Kind, TypeDetail, TypeId, TypeRef};
use crate::maps::MapShape;

/// The decoding recipe of one Go type. Opaque; get one from
/// [`ValueDecoder::plan`](super::ValueDecoder::plan).
#[derive(Debug)]
pub struct Plan {
    pub(crate) name: Arc<str>,
    pub(crate) size: u64,
    /// The runtime descriptor: an interface holding this type has it in its
    /// type word, and fmtsort orders interface keys by it.
    pub(crate) runtime_addr: Option<u64>,
    /// An interface's data word holds the value itself, not a pointer to it.
    pub(crate) direct_iface: bool,
    pub(crate) shape: Shape,
}

impl Plan {
    /// The type's name as reflect prints it.
    pub fn type_name(&self) -> &str {
        &self.name
    }

    /// `unsafe.Sizeof` of the type.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The type's runtime descriptor, when it has one.
    pub fn runtime_addr(&self) -> Option<u64> {
        self.runtime_addr
    }

    /// A string kind (`string` or a named string type): fmt.Sprint prints
    /// its bytes bare, and `%q` quotes them.
    pub fn is_string(&self) -> bool {
        matches!(self.shape, Shape::String)
    }
}

#[derive(Debug)]
pub(crate) enum Shape {
    Bool,
    /// Signed integer of `size` bytes.
    Int,
    Uint,
    Float32,
    Float64,
    Complex64,
    Complex128,
    String,
    UnsafePointer,
    Chan,
    Func,
    Array {
        elem: Child,
        len: u64,
        stride: u64,
    },
    Slice {
        elem: Child,
    },
    Struct {
        fields: Vec<FieldPlan>,
    },
    Pointer {
        elem: Option<Child>,
    },
    Interface {
        /// `interface{}`: the first word is the type; otherwise an itab.
        empty: bool,
    },
    Map(Box<MapPlan>),
    Unsupported(Kind),
}

#[derive(Debug)]
pub(crate) struct FieldPlan {
    pub name: Arc<str>,
    pub offset: u64,
    pub ty: Child,
}

#[derive(Debug)]
pub(crate) struct MapPlan {
    pub key: Child,
    pub elem: Child,
    /// Where keys and elems sit in buckets/groups; an error when the map
    /// type's descriptor could not be read (then every such map is unreadable).
    pub shape: Result<MapShape, ValueError>,
}

/// A reference to another type's plan, resolved on first use.
#[derive(Debug)]
pub(crate) struct Child {
    pub id: TypeId,
    cell: OnceLock<Result<Arc<Plan>, ValueError>>,
}

impl Child {
    fn new(r: &TypeRef) -> Child {
        Child {
            id: r.id,
            cell: OnceLock::new(),
        }
    }

    pub fn get(&self, cache: &PlanCache, bin: &GoBinary) -> Result<&Arc<Plan>, &ValueError> {
        self.cell.get_or_init(|| cache.by_id(bin, self.id)).as_ref()
    }
}

/// Plans by type identity, shared by every decode of one decoder.
#[derive(Debug, Default)]
pub(crate) struct PlanCache {
    plans: Mutex<HashMap<TypeId, Result<Arc<Plan>, ValueError>>>,
}

fn type_error(name: &str, e: impl std::fmt::Display) -> ValueError {
    ValueError::Type {
        type_name: name.to_string(),
        message: e.to_string(),
    }
}

impl PlanCache {
    fn cached(&self, id: TypeId) -> Option<Result<Arc<Plan>, ValueError>> {
        // A poisoned lock only means another thread panicked mid-insert; the
        // map itself is still a valid cache.
        let g = self.plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.get(&id).cloned()
    }

    fn store(&self, id: TypeId, r: Result<Arc<Plan>, ValueError>) -> Result<Arc<Plan>, ValueError> {
        let mut g = self.plans.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        g.entry(id).or_insert(r).clone()
    }

    /// The plan of the type `id` names.
    pub fn by_id(&self, bin: &GoBinary, id: TypeId) -> Result<Arc<Plan>, ValueError> {
        if let Some(r) = self.cached(id) {
            return r;
        }
        let r = match bin.type_by_id(id) {
            Ok(t) => build(bin, &t),
            Err(e) => Err(type_error(&format!("{id:?}"), e)),
        };
        self.store(id, r)
    }

    /// The plan of the runtime type descriptor at `addr` (an interface's
    /// dynamic type); a descriptor that cannot be read is a typed error.
    pub fn by_runtime_addr(&self, bin: &GoBinary, addr: u64) -> Result<Arc<Plan>, ValueError> {
        let id = TypeId::Runtime(addr);
        if let Some(r) = self.cached(id) {
            return r;
        }
        let r = match bin.runtime_type(addr) {
            Ok(t) => build(bin, &t),
            Err(e) => Err(ValueError::DynamicType {
                type_addr: addr,
                message: e.to_string(),
            }),
        };
        self.store(id, r)
    }

    /// The plan of `ty` itself (it may not be reachable by id, e.g. a type a
    /// caller assembled).
    pub fn for_type(&self, bin: &GoBinary, ty: &GoType) -> Result<Arc<Plan>, ValueError> {
        if let Some(r) = self.cached(ty.id) {
            return r;
        }
        self.store(ty.id, build(bin, ty))
    }
}

/// Builds the shallow plan of `ty`. A DWARF type that names its runtime
/// descriptor is planned from the descriptor: runtime descriptors are what
/// the program itself uses (interface flags, struct field names and offsets),
/// and every type they refer to has one too.
fn build(bin: &GoBinary, ty: &GoType) -> Result<Arc<Plan>, ValueError> {
    if let (TypeId::Dwarf(_), Some(addr)) = (ty.id, ty.runtime_addr) {
        if let Ok(rt) = bin.runtime_type(addr) {
            if rt.kind == ty.kind {
                return build(bin, &rt);
            }
        }
    }
    let shape = match (ty.kind, &ty.detail) {
        (Kind::Bool, _) => Shape::Bool,
        (Kind::Int | Kind::Int8 | Kind::Int16 | Kind::Int32 | Kind::Int64, _) => Shape::Int,
        (Kind::Uint | Kind::Uint8 | Kind::Uint16 | Kind::Uint32 | Kind::Uint64 | Kind::Uintptr, _) => Shape::Uint,
        (Kind::Float32, _) => Shape::Float32,
        (Kind::Float64, _) => Shape::Float64,
        (Kind::Complex64, _) => Shape::Complex64,
        (Kind::Complex128, _) => Shape::Complex128,
        (Kind::String, _) => Shape::String,
        (Kind::UnsafePointer, _) => Shape::UnsafePointer,
        (Kind::Chan, _) => Shape::Chan,
        (Kind::Func, _) => Shape::Func,
        (Kind::Array, TypeDetail::Array { elem, len }) => Shape::Array {
            elem: Child::new(elem),
            len: *len,
            // Go arrays have no padding between elements: size = len·elem.
            stride: ty.size.checked_div(*len).unwrap_or(0),
        },
        (Kind::Slice, TypeDetail::Slice { elem }) => Shape::Slice { elem: Child::new(elem) },
        (Kind::Struct, TypeDetail::Struct { fields }) => Shape::Struct {
            fields: fields
                .iter()
                .map(|f| FieldPlan {
                    name: Arc::from(f.name.as_str()),
                    offset: f.offset,
                    ty: Child::new(&f.ty),
                })
                .collect(),
        },
        (Kind::Pointer, TypeDetail::Pointer { elem }) => Shape::Pointer {
            elem: elem.as_ref().map(Child::new),
        },
        (Kind::Interface, TypeDetail::Interface { methods }) => Shape::Interface {
            // A DWARF-only interface type has no method list; its name tells.
            empty: match ty.id {
                TypeId::Runtime(_) => methods.is_empty(),
                TypeId::Dwarf(_) => methods.is_empty() && matches!(ty.name.as_str(), "interface {}" | "any"),
            },
        },
        (Kind::Map, TypeDetail::Map { key, elem, .. }) => Shape::Map(Box::new(MapPlan {
            key: Child::new(key),
            elem: Child::new(elem),
            shape: crate::maps::shape_of(bin, ty).map_err(|e| type_error(&ty.name, e)),
        })),
        (k, _) => Shape::Unsupported(k),
    };
    let direct_iface = match ty.runtime_addr {
        Some(a) => bin.runtime_type_direct_iface(a).unwrap_or(false),
        None => structurally_direct(ty),
    };
    Ok(Arc::new(Plan {
        name: Arc::from(ty.name.as_str()),
        size: ty.size,
        runtime_addr: ty.runtime_addr,
        direct_iface,
        shape,
    }))
}

/// The compiler's rule (`types.IsDirectIface`) for types with no runtime
/// descriptor to ask: pointer-shaped types, one level of single-element
/// wrapping judged by size (a struct or array of one pointer-shaped thing is
/// exactly one word).
fn structurally_direct(ty: &GoType) -> bool {
    match ty.kind {
        Kind::Pointer | Kind::Chan | Kind::Map | Kind::Func | Kind::UnsafePointer => true,
        Kind::Struct => match ty.fields() {
            [f] => ty.size == 8 && f.offset == 0 && is_pointer_name(&f.ty.name),
            _ => false,
        },
        Kind::Array => match &ty.detail {
            TypeDetail::Array { elem, len: 1 } => ty.size == 8 && is_pointer_name(&elem.name),
            _ => false,
        },
        _ => false,
    }
}

fn is_pointer_name(n: &str) -> bool {
    n.starts_with('*')
        || n.starts_with("map[")
        || n.starts_with("chan ")
        || n.starts_with("<-chan ")
        || n.starts_with("func(")
        || n == "unsafe.Pointer"
}
