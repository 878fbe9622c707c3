//! Why a value (or a part of it) could not be decoded.
//!
//! Errors are `Clone` because they live inside [`Value`](super::Value) trees
//! (an unreadable part is a node, not an abort) and inside cached plans; the
//! lower layers' errors are therefore kept as their messages.

/// What went wrong decoding a value or preparing to decode one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The target's memory could not be read.
    #[error("reading {what} at {addr:#x}: {message}")]
    Memory {
        what: &'static str,
        addr: u64,
        message: String,
    },
    /// A type could not be read from the executable.
    #[error("type {type_name}: {message}")]
    Type { type_name: String, message: String },
    /// An interface's type word names no type descriptor we can read (corrupt
    /// memory, or a type made at run time by reflect).
    #[error("dynamic type at {type_addr:#x} cannot be read: {message}")]
    DynamicType { type_addr: u64, message: String },
    /// A nested map could not be opened or walked.
    #[error("map at {addr:#x}: {message}")]
    Map { addr: u64, message: String },
    /// The value's kind cannot be decoded (e.g. kind 0 in a corrupt descriptor).
    #[error("cannot decode a value of type {type_name} (kind {kind})")]
    Unsupported { type_name: String, kind: String },
}

impl ValueError {
    pub(crate) fn memory(what: &'static str, addr: u64, e: impl std::fmt::Display) -> ValueError {
        ValueError::Memory {
            what,
            addr,
            message: e.to_string(),
        }
    }
}
