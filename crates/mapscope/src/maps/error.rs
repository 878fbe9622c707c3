use crate::memory::MemoryError;

/// Why a map could not be walked (further). Each says what was being read
/// and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    #[error("reading the {what} at {addr:#x}: {source}")]
    Memory {
        what: &'static str,
        addr: u64,
        #[source]
        source: MemoryError,
    },
    #[error("implausible {what} {value} in the map at {map:#x}: {why}")]
    Implausible {
        map: u64,
        what: &'static str,
        value: u64,
        why: &'static str,
    },
    #[error("cycle: the {what} at {addr:#x} was already visited")]
    Cycle { what: &'static str, addr: u64 },
    #[error("more than {limit} {what}: the structure is corrupt or not a map")]
    TooMany { what: &'static str, limit: u64 },
    #[error("the runtime layout has no field {structure}.{field}")]
    Layout {
        structure: &'static str,
        field: &'static str,
    },
    #[error("map type {type_name}: {why}")]
    Type { type_name: String, why: &'static str },
    #[error("cannot tell which map runtime the binary uses (its Go version or variant is unknown; try --go-version)")]
    UnknownRuntime,
    #[error("a nil map has no {0}")]
    Nil(&'static str),
}
