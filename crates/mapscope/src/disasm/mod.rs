//! Map operations in the machine code (`mapscope disasm`): the calls user
//! code makes to the runtime's map functions, with the map type each call
//! passes ([`call_sites`]), and the runtime's map functions themselves,
//! decoded and annotated with the field each memory operand touches, using
//! the layouts of the very binary being read ([`annotate_function`]).
//!
//! amd64 (iced-x86; `flow`, `regs`) and arm64 (yaxpeax-arm; `arm64`,
//! `arm64_flow`: the same abstract values with arm64's transfer rules).
//! Bytes that do not decode are marked invalid, never a panic, and every
//! loop is bounded by the function's size or a work budget.
//!
//! The register tracking (see `regs`) is a small forward data-flow over one
//! function: Go's ABIInternal puts the map type in RAX and the header in RBX
//! on entry to the access/assign/delete entry points (`names`), and loads,
//! moves, spills and address arithmetic carry those facts to later
//! instructions. It says where it gives up in [`AnnotatedFunction::notes`].

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod annotate;
pub(crate) mod arm64;
mod arm64_flow;
mod callsites;
mod fields;
mod flow;
mod inflight;
mod names;
mod plan9;
mod regs;

pub use annotate::{AnnotatedFunction, AnnotatedInstruction, Annotator, CodeBytes, OffsetUse};
pub use callsites::{call_sites, call_sites_where, CallSite};
pub use fields::{FieldList, FieldTable};
pub use inflight::{in_window, store_in_flight, stores_in_flight, Holder, Stage, StoreInFlight};
pub use names::{lookup as map_function, MapFunc, MapOp, MAP_FUNCS, STRING_LOOKUP, STRING_LOOKUP_SWISS};

use crate::binary::{Arch, BinaryError, Func, GoBinary};

/// Why a binary or function could not be disassembled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisasmError {
    #[error("disasm: {0} is not supported (amd64 and arm64 machine code are decoded)")]
    UnsupportedArch(&'static str),
    #[error("disasm: --syntax {syntax} is not supported for {arch} (Go syntax is printed for amd64 only)")]
    UnsupportedSyntax { syntax: &'static str, arch: &'static str },
    #[error(transparent)]
    Binary(#[from] BinaryError),
}

/// How instruction text is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Syntax {
    /// Intel, as `go tool objdump -gnu` prints it.
    #[default]
    Intel,
    /// Go's assembler (Plan 9) syntax, as `go tool objdump` prints it; amd64 only.
    Go,
}

impl Syntax {
    pub fn as_str(self) -> &'static str {
        match self {
            Syntax::Intel => "intel",
            Syntax::Go => "go",
        }
    }
}

pub(crate) fn check_arch(bin: &GoBinary) -> Result<(), DisasmError> {
    match bin.arch() {
        Arch::Amd64 | Arch::Arm64 => Ok(()),
    }
}

/// Decodes and annotates one function.
pub fn annotate_function(bin: &GoBinary, f: &Func) -> Result<AnnotatedFunction, DisasmError> {
    Annotator::new(bin)?.annotate(f)
}

/// The runtime's map functions present in this binary (entry points,
/// internals, the Swiss map package, reflect's linknamed twins), in PC order.
pub fn runtime_map_functions(bin: &GoBinary) -> Vec<Func> {
    bin.functions()
        .filter_map(Result::ok)
        .filter(|f| is_map_code(&f.name))
        .collect()
}

/// Whether a function holds the runtime's map code (not a caller of it).
fn is_map_code(name: &str) -> bool {
    names::is_map_package(name) || (names::lookup(name).is_some() && !name.starts_with("maps."))
}

/// The string-key lookup (`m["k"]`) of this binary.
pub fn string_lookup(bin: &GoBinary) -> Option<Func> {
    bin.func_by_name(STRING_LOOKUP)
        .or_else(|| bin.func_by_name(STRING_LOOKUP_SWISS))
}

/// Functions matching `pattern`: the exact name if there is one, else a
/// glob (`*` and `?`) over the full name if it has wildcards, else every
/// name containing it.
pub fn find_functions(bin: &GoBinary, pattern: &str) -> Vec<Func> {
    if let Some(f) = bin.func_by_name(pattern) {
        return vec![f];
    }
    let wild = pattern.contains(['*', '?']);
    bin.functions()
        .filter_map(Result::ok)
        .filter(|f| {
            if wild {
                glob(pattern.as_bytes(), f.name.as_bytes())
            } else {
                f.name.contains(pattern)
            }
        })
        .collect()
}

/// `*` any run, `?` any one byte; iterative with one backtrack point, so
/// linear-ish and never recursive.
fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
            }
            Some(&c) if c == b'?' || Some(&c) == s.get(si) => {
                pi += 1;
                si += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    pi = sp + 1;
                    si = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    p.get(pi..).is_some_and(|rest| rest.iter().all(|&c| c == b'*'))
}

/// Hex rendering shared by the JSON forms: addresses as `0x…` strings.
pub(crate) mod hex {
    use std::fmt::Write;

    pub fn u64<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:#x}"))
    }

    pub fn opt_u64<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => s.serialize_str(&format!("{v:#x}")),
            None => s.serialize_none(),
        }
    }

    pub fn bytes(b: &[u8]) -> String {
        let mut out = String::with_capacity(b.len() * 2);
        for x in b {
            let _ = write!(out, "{x:02x}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn glob_matches() {
        assert!(glob(b"runtime.mapaccess*", b"runtime.mapaccess1_faststr"));
        assert!(glob(b"*faststr", b"runtime.mapassign_faststr"));
        assert!(glob(b"main.?ill", b"main.fill"));
        assert!(!glob(b"main.*x", b"main.fill"));
    }
}
