//! The one error type of the `binary` layer.

use std::path::PathBuf;

/// Why a Go executable (or part of it) could not be read.
///
/// Messages say what was expected and where, so a user can check the file with
/// `readelf`/`go tool nm` and a bug report carries enough to reproduce.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not an ELF file: {0}")]
    NotElf(String),
    #[error("unsupported ELF machine {0}: expected x86-64 (amd64) or AArch64 (arm64)")]
    UnsupportedArch(String),
    #[error("unsupported pointer size {0}: only 64-bit Go targets are decoded")]
    UnsupportedPointerSize(u8),
    #[error("{what} at {addr:#x}: {len} bytes are not backed by the file's sections or segments")]
    Unmapped { what: &'static str, addr: u64, len: u64 },
    #[error("{what} at {addr:#x}: {problem}")]
    Malformed {
        what: &'static str,
        addr: u64,
        problem: String,
    },
    #[error("pclntab at {addr:#x}: bad magic {magic:#x}, expected 0xfffffff0/0xfffffff1/0xfffffffa")]
    BadPclntabMagic { addr: u64, magic: u32 },
    #[error("no pclntab: no .gopclntab section and no pclntab magic (0xfffffff0/0xfffffff1/0xfffffffa) in read-only data; not a Go 1.16+ binary?")]
    NoPclntab,
    #[error("no Go build info: {0}")]
    NoBuildInfo(String),
    #[error("runtime.firstmoduledata not found: {0}")]
    NoModuledata(String),
    #[error("bad Go version {0:?}: expected go1.N[.P] with optional \" X:exp,...\" or \"-X:exp,...\"")]
    BadVersion(String),
    #[error("DWARF: {0}")]
    Dwarf(String),
    #[error("not a Go executable: {0}")]
    NotGo(String),
    #[error("no DWARF: the binary has no .debug_info (stripped with -ldflags=-w?)")]
    NoDwarf,
    #[error("this is a core dump, not an executable: give the Go executable first and the core after it (`-` as the executable takes the one named in the core)")]
    CoreNotExecutable,
    #[error("the version override {given} contradicts the binary: {evidence}")]
    VersionContradicted { given: String, evidence: String },
}

pub type Result<T, E = BinaryError> = std::result::Result<T, E>;

pub(crate) fn malformed(what: &'static str, addr: u64, problem: impl Into<String>) -> BinaryError {
    BinaryError::Malformed {
        what,
        addr,
        problem: problem.into(),
    }
}
