//! Naming a map: a global variable (`main.Handlers`, from DWARF) or an
//! address with a type (`0xc000123400:map[string]int`, the type found among
//! the binary's runtime type descriptors — how stripped binaries work).

use crate::binary::{GoBinary, GoType, Kind};
use crate::memory::{Memory, MemoryExt};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    #[error("no global variable {0} (globals come from DWARF; a stripped binary needs 0xADDR:map[K]V)")]
    NoGlobal(String),
    #[error("the binary has no map type {0} among its runtime type descriptors")]
    NoType(String),
    #[error("{name} is of type {type_name}, not a map")]
    NotAMap { name: String, type_name: String },
    #[error("bad map expression {0:?}: expected a global name or 0xADDR:map[K]V")]
    BadExpression(String),
    #[error("reading the map pointer in {name} at {addr:#x}: {source}")]
    Read {
        name: String,
        addr: u64,
        #[source]
        source: crate::memory::MemoryError,
    },
    #[error(transparent)]
    Binary(#[from] crate::binary::BinaryError),
}

/// A map found by name: its type, and the header address (0 for a nil map).
#[derive(Debug, Clone)]
pub struct NamedMap {
    pub name: String,
    pub map_type: GoType,
    /// Where the map pointer is stored, for a global.
    pub variable: Option<u64>,
    pub header: u64,
}

impl NamedMap {
    /// The map as a heading: `main.Handlers  map[string]int  at 0x…`, or
    /// without the name when it only repeats the address and type it was
    /// given as (`0x…:map[string]int`).
    pub fn title(&self) -> String {
        title(&self.name, &self.map_type.name, self.header)
    }
}

/// See [`NamedMap::title`].
pub fn title(name: &str, type_name: &str, header: u64) -> String {
    let spec = format!("{header:#x}:{type_name}");
    if name == spec || name.strip_prefix("0x").is_some_and(|rest| !rest.contains(':')) {
        format!("{type_name}  at {header:#x}")
    } else {
        format!("{name}  {type_name}  at {header:#x}")
    }
}

fn as_map(bin: &GoBinary, name: &str, t: GoType) -> Result<GoType, ResolveError> {
    if t.kind != Kind::Map {
        return Err(ResolveError::NotAMap {
            name: name.to_string(),
            type_name: t.name,
        });
    }
    if t.map_descriptor().is_some() {
        return Ok(t);
    }
    // A DWARF map type without its runtime descriptor: take the descriptor's.
    bin.runtime_type_by_name(&t.name)?.ok_or(ResolveError::NoType(t.name))
}

/// The type of the global `name`, if it is a map (for listing).
pub fn global_map_type(bin: &GoBinary, name: &str) -> Result<Option<GoType>, ResolveError> {
    let Some(var) = bin.global(name)? else { return Ok(None) };
    let Some(tr) = &var.ty else { return Ok(None) };
    let t = bin.type_by_id(tr.id)?;
    if t.kind != Kind::Map {
        return Ok(None);
    }
    as_map(bin, name, t).map(Some)
}

pub fn resolve(bin: &GoBinary, mem: &dyn Memory, expr: &str) -> Result<NamedMap, ResolveError> {
    if let Some((addr, ty)) = expr.split_once(':') {
        if let Some(hex) = addr.strip_prefix("0x").or_else(|| addr.strip_prefix("0X")) {
            let header = u64::from_str_radix(hex, 16).map_err(|_| ResolveError::BadExpression(expr.to_string()))?;
            let t = bin
                .runtime_type_by_name(ty)?
                .ok_or_else(|| ResolveError::NoType(ty.to_string()))?;
            return Ok(NamedMap {
                name: expr.to_string(),
                map_type: as_map(bin, expr, t)?,
                variable: None,
                header,
            });
        }
    }
    if expr.is_empty() || expr.contains(char::is_whitespace) {
        return Err(ResolveError::BadExpression(expr.to_string()));
    }
    let var = bin
        .global(expr)?
        .ok_or_else(|| ResolveError::NoGlobal(expr.to_string()))?
        .clone();
    let tr = var
        .ty
        .as_ref()
        .ok_or_else(|| ResolveError::NoGlobal(expr.to_string()))?;
    let map_type = as_map(bin, expr, bin.type_by_id(tr.id)?)?;
    let header = mem.read_ptr(var.addr).map_err(|source| ResolveError::Read {
        name: expr.to_string(),
        addr: var.addr,
        source,
    })?;
    Ok(NamedMap {
        name: expr.to_string(),
        map_type,
        variable: Some(var.addr),
        header,
    })
}
