//! A [`KeyType`] from a binary's own type information ([`GoType`], from DWARF
//! or the runtime type descriptors): what hashing a map's key, or an
//! interface's dynamic value, needs to know about the type.

use super::keytype::{KeyField, KeyType, MAX_DEPTH};
use super::HashError;
use crate::binary::{GoBinary, GoType, Kind, TypeDetail, TypeId};

impl KeyType {
    /// The hashing view of `ty`. Kinds Go cannot compare (funcs, maps,
    /// slices, or structs and arrays holding them) are
    /// [`HashError::BadKeyType`]: no map can have them as keys and no
    /// interface holding them can be hashed.
    pub fn from_go_type(bin: &GoBinary, ty: &GoType) -> Result<KeyType, HashError> {
        let kt = build(bin, ty, 0)?;
        kt.validate()?;
        Ok(kt)
    }
}

fn build(bin: &GoBinary, ty: &GoType, depth: usize) -> Result<KeyType, HashError> {
    if depth > MAX_DEPTH {
        return Err(HashError::BadKeyType("key type nested too deeply"));
    }
    let child = |id: TypeId| -> Result<KeyType, HashError> {
        let t = bin
            .type_by_id(id)
            .map_err(|_| HashError::BadKeyType("a component type cannot be read"))?;
        build(bin, &t, depth + 1)
    };
    Ok(match ty.kind {
        Kind::Bool
        | Kind::Int
        | Kind::Int8
        | Kind::Int16
        | Kind::Int32
        | Kind::Int64
        | Kind::Uint
        | Kind::Uint8
        | Kind::Uint16
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Uintptr
        | Kind::Pointer
        | Kind::Chan
        | Kind::UnsafePointer => KeyType::Memory { size: ty.size },
        Kind::String => KeyType::String,
        Kind::Float32 => KeyType::Float32,
        Kind::Float64 => KeyType::Float64,
        Kind::Complex64 => KeyType::Complex64,
        Kind::Complex128 => KeyType::Complex128,
        Kind::Interface => KeyType::Interface {
            empty: interface_is_empty(ty),
        },
        Kind::Array => match &ty.detail {
            TypeDetail::Array { elem, len } => KeyType::array(*len, child(elem.id)?),
            _ => return Err(HashError::BadKeyType("array type without its element type")),
        },
        Kind::Struct => {
            let mut fields = Vec::with_capacity(ty.fields().len());
            for f in ty.fields() {
                fields.push(KeyField::new(&f.name, f.offset, child(f.ty.id)?));
            }
            KeyType::Struct { size: ty.size, fields }
        }
        Kind::Func | Kind::Map | Kind::Slice => {
            return Err(HashError::BadKeyType("func, map and slice values are not comparable"))
        }
        Kind::Invalid => return Err(HashError::BadKeyType("invalid type")),
    })
}

/// `interface{}` (an eface, word 0 the type) or an interface with methods
/// (an iface, word 0 the itab). A runtime descriptor lists the methods; a
/// DWARF-only interface type does not, so its name has to tell.
fn interface_is_empty(ty: &GoType) -> bool {
    let no_methods = matches!(&ty.detail, TypeDetail::Interface { methods } if methods.is_empty());
    match ty.id {
        TypeId::Runtime(_) => no_methods,
        TypeId::Dwarf(_) => no_methods && matches!(ty.name.as_str(), "interface {}" | "any"),
    }
}
