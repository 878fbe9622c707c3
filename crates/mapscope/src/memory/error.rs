//! The one error type of the memory layer.
//!
//! Read failures carry the range that was wanted (`addr`, `len`) and the first
//! address that could not be served (`at`), so a decoder's message can say both
//! what it was looking for and where the target's memory ran out.

use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemoryError {
    #[error("cannot read {len} bytes at {addr:#x}: {at:#x} is not mapped")]
    Unmapped { addr: u64, len: u64, at: u64 },

    #[error("cannot read {len} bytes at {addr:#x}: {at:#x} is mapped without read permission")]
    NoAccess { addr: u64, len: u64, at: u64 },

    #[error(
        "cannot read {len} bytes at {addr:#x}: {at:#x} lies beyond the end of the truncated core \
         (needs file offset {file_offset:#x}, the file has {file_len:#x} bytes)"
    )]
    TruncatedCore {
        addr: u64,
        len: u64,
        at: u64,
        file_offset: u64,
        file_len: u64,
    },

    #[error(
        "cannot read {len} bytes at {addr:#x}: {at:#x} is file-backed by {} which the core \
         does not hold and which was not supplied",
        path.display()
    )]
    FileUnavailable {
        addr: u64,
        len: u64,
        at: u64,
        path: PathBuf,
    },

    #[error(
        "cannot read {len} bytes at {addr:#x}: {at:#x} maps file offset {file_offset:#x} of {what}, \
         which has only {file_len:#x} bytes"
    )]
    BeyondFileEnd {
        addr: u64,
        len: u64,
        at: u64,
        what: String,
        file_offset: u64,
        file_len: u64,
    },

    #[error("cannot read {len} bytes at {addr:#x} of process {pid} (failed at {at:#x}): {source}")]
    Live {
        pid: i32,
        addr: u64,
        len: u64,
        at: u64,
        #[source]
        source: io::Error,
    },

    #[error("{len} bytes at {addr:#x} wrap around the end of the address space")]
    AddressOverflow { addr: u64, len: u64 },

    #[error("refusing to read {len} bytes at {addr:#x}: more than the cap of {cap} bytes")]
    TooLarge { addr: u64, len: u64, cap: u64 },

    #[error("no NUL terminator within {max} bytes at {addr:#x}")]
    Unterminated { addr: u64, max: u64 },

    #[error("{op} {}: {source}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error("malformed {what}: {reason}")]
    Malformed { what: &'static str, reason: String },

    #[error("{what}: {reason}")]
    Unsupported { what: &'static str, reason: String },

    #[error("the executable does not match the core: {reason}")]
    ExecutableMismatch { reason: String },

    #[error("process {pid} does not exist or has exited")]
    NoSuchProcess { pid: i32 },

    #[error("cannot send {signal} to process {pid}: {source}")]
    Signal {
        pid: i32,
        signal: &'static str,
        #[source]
        source: io::Error,
    },

    #[error("process {pid} did not stop within {waited_ms} ms (it was resumed)")]
    PauseTimeout { pid: i32, waited_ms: u64 },

    #[error("too many processes paused at once (at most {max})")]
    TooManyPaused { max: usize },
}

impl MemoryError {
    /// The error for a read of `len` bytes at `addr` whose byte `at` is outside every region.
    pub(crate) fn unmapped(addr: u64, len: usize, at: u64) -> Self {
        MemoryError::Unmapped {
            addr,
            len: len as u64,
            at,
        }
    }

    pub(crate) fn malformed(what: &'static str, reason: impl Into<String>) -> Self {
        MemoryError::Malformed {
            what,
            reason: reason.into(),
        }
    }

    /// True when the failure is about the target's address space (the bytes are
    /// not there), as opposed to a broken file, a bad request or an OS failure.
    /// Decoders use it to tell "this pointer is bad" from "the input is bad".
    pub fn is_missing_memory(&self) -> bool {
        matches!(
            self,
            MemoryError::Unmapped { .. }
                | MemoryError::NoAccess { .. }
                | MemoryError::TruncatedCore { .. }
                | MemoryError::FileUnavailable { .. }
                | MemoryError::BeyondFileEnd { .. }
                | MemoryError::Live { .. }
                | MemoryError::AddressOverflow { .. }
        )
    }
}

/// Checks that `addr..addr+len` does not wrap and returns its exclusive end.
pub(crate) fn checked_end(addr: u64, len: usize) -> Result<u64, MemoryError> {
    u64::try_from(len)
        .ok()
        .and_then(|l| addr.checked_add(l))
        .ok_or(MemoryError::AddressOverflow { addr, len: len as u64 })
}
