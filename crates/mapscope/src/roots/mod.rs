//! Every GC root of a Go process: the pointer words of `.data`/`.bss` (from the
//! runtime's own `gcdatamask`/`gcbssmask`) and every goroutine's stack frames
//! with their live pointer slots and stack objects, found the way the GC's
//! `markroot`/`scanstack` finds them (`runtime/mgcmark.go`, `traceback.go`,
//! `stkframe.go`).
//!
//! Extra per-goroutine roots that are not stack slots (`scanstack`): the
//! `g.sched.ctxt` word, each `_defer` record's `fn` and `link` words and the word
//! holding a heap-allocated `_defer`, and the `g._panic` word. They are appended
//! to the **innermost frame's** `pointer_slots` (after that frame's own slots);
//! when a goroutine has no frames they form a pseudo-frame named
//! [`G_ROOTS_FRAME`]. Registers of running goroutines have no address and are
//! not reported.
//!
//! Nothing here aborts on a bad goroutine or frame: what cannot be read becomes
//! an entry in [`Roots::errors`] and the walk goes on.

mod allgs;
mod globals;
pub mod layout;
mod unwind;

use crate::binary::GoBinary;
use crate::memory::{Memory, MemoryError, ThreadStatus};

pub use layout::{g_layout, GLayout, G_LAYOUTS};

/// Name of the pseudo-frame that carries a goroutine's non-stack roots when it has no frames.
pub const G_ROOTS_FRAME: &str = "<g roots: sched.ctxt, _defer, _panic>";

/// The GC roots of one process.
#[derive(Debug, Default)]
pub struct Roots {
    /// Addresses of the pointer words of .data and .bss, from moduledata gcdatamask/gcbssmask
    /// (the runtime's own masks, built at start-up, present in any core), ascending.
    pub global_slots: Vec<u64>,
    pub goroutines: Vec<Goroutine>,
    /// What could not be read (a goroutine that could not be unwound, a frame without stack map, ...):
    /// partial results with a clear reason, never an abort.
    pub errors: Vec<RootsError>,
    /// Where `runtime.allgs` was found (its address) and how.
    pub allgs: Option<(u64, AllgsSource)>,
}

/// How `runtime.allgs` was located.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllgsSource {
    /// The `.symtab` symbol.
    Symbol,
    /// A structural scan of `.bss` for a `[]*g` of plausible goroutines.
    BssScan,
    /// A `.bss` slice holding a `g` taken from a thread's registers.
    ThreadG,
}

/// One goroutine (an element of `runtime.allgs` that is not dead or idle).
#[derive(Debug, Clone)]
pub struct Goroutine {
    pub goid: u64,
    pub g_addr: u64,
    /// `atomicstatus` with `_Gscan` masked off.
    pub status: u32,
    pub stack_lo: u64,
    pub stack_hi: u64,
    /// Innermost first.
    pub frames: Vec<Frame>,
}

/// One stack frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub function: String,
    pub entry: u64,
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    /// Addresses of the live pointer words of this frame (locals and args, by stack maps; every word when conservative).
    pub pointer_slots: Vec<u64>,
    pub conservative: bool,
    pub stack_objects: Vec<StackObject>,
}

/// An address-taken local (`stackObjectRecord`): live only if something points into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackObject {
    pub addr: u64,
    pub size: u64,
    /// Byte offsets of the pointer words, from the record's GC mask.
    pub pointer_offsets: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RootsError {
    #[error("roots need {what} of the executable: {detail}")]
    Binary { what: &'static str, detail: String },
    #[error("roots need the Go version of the executable (build info), found none")]
    NoVersion,
    #[error("no runtime.g layout for Go 1.{minor} (known: 1.19 and later)")]
    UnsupportedVersion { minor: u32 },
    #[error("roots support 64-bit targets only (pointer size {0})")]
    PointerSize(usize),
    #[error("cannot read {what} at {addr:#x}: {source}")]
    Memory {
        what: &'static str,
        addr: u64,
        #[source]
        source: MemoryError,
    },
    #[error("global pointer mask {which}: {detail}")]
    GlobalMask { which: &'static str, detail: String },
    #[error("runtime.allgs not found: {0}")]
    NoAllgs(String),
    #[error("runtime.allgs at {addr:#x}: {detail}")]
    BadAllgs { addr: u64, detail: String },
    #[error("goroutine {goid} (g {g_addr:#x}): {detail}")]
    Goroutine { goid: u64, g_addr: u64, detail: String },
    #[error("goroutine {goid}, frame {function} pc {pc:#x}: {detail}")]
    Frame {
        goid: u64,
        function: String,
        pc: u64,
        detail: String,
    },
}

/// Locates runtime.allgs (symbol, else a structural .bss scan as go-heap.md §5 describes, else via a thread's g),
/// reads every goroutine and unwinds it through pclntab. `threads`: register sets of the process's threads
/// (from core notes, or empty for a live process) for running goroutines.
///
/// Fails only when nothing at all can be done (no moduledata, no version, a
/// version without a `g` layout); everything else is a partial result with
/// entries in [`Roots::errors`].
pub fn find_roots(bin: &GoBinary, mem: &dyn Memory, threads: &[ThreadStatus]) -> Result<Roots, RootsError> {
    let md = bin.moduledata().map_err(|e| RootsError::Binary {
        what: "runtime.firstmoduledata",
        detail: e.to_string(),
    })?;
    if bin.pclntab().is_err() {
        return Err(RootsError::Binary {
            what: "the pclntab",
            detail: "not found".into(),
        });
    }
    let minor = bin.go_version().map(|v| v.minor).ok_or(RootsError::NoVersion)?;
    let layout = g_layout(minor).ok_or(RootsError::UnsupportedVersion { minor })?;
    if mem.pointer_size() != 8 || bin.pointer_size() != 8 {
        return Err(RootsError::PointerSize(mem.pointer_size()));
    }
    let mut roots = Roots::default();
    roots.global_slots = globals::global_slots(md, mem, &mut roots.errors);

    let thread_gs: Vec<u64> = threads.iter().filter_map(|t| thread_g(mem, t)).collect();
    match allgs::locate(bin, md, mem, layout, &thread_gs) {
        Ok(found) => {
            roots.allgs = Some((found.addr, found.source));
            let mut walker = unwind::Walker::new(bin, mem, layout, minor);
            for g in found.gs {
                if let Some(gr) = walker.goroutine(g, threads, &mut roots.errors) {
                    roots.goroutines.push(gr);
                }
            }
        }
        Err(e) => roots.errors.push(e),
    }
    Ok(roots)
}

/// The `g` a thread was running: r14 (amd64, Go ABIInternal) / x28 (arm64),
/// else the TLS slot at `fs_base - 8` (amd64 linux, non-cgo).
fn thread_g(mem: &dyn Memory, t: &ThreadStatus) -> Option<u64> {
    use crate::memory::MemoryExt;
    let tls = t
        .registers
        .tls_base()
        .filter(|&b| b >= 8)
        .and_then(|b| mem.read_u64(b - 8).ok())
        .filter(|&g| g != 0);
    tls.or_else(|| t.registers.go_g().filter(|&g| g != 0))
}

/// DWARF name of the local variable or parameter of `frame`'s function whose
/// stack slot holds `addr` (a pointer word or a stack object's address inside
/// the frame), where the binary has DWARF.
///
/// The variable's location at the frame's PC decides (location lists of
/// optimized code included; `pc - 1` for a return address): only a stack
/// location counts, and `addr` may be any byte of the variable (or of the
/// `DW_OP_piece` of it on the stack), not only its first word. Variables of
/// functions inlined into this one are named plainly. `None` without DWARF
/// (stripped binaries), for pseudo-frames, and wherever DWARF names nothing
/// (compiler temporaries, a variable kept only in registers).
pub fn local_name(bin: &GoBinary, frame: &Frame, addr: u64) -> Option<String> {
    local_var(bin, frame, addr).map(|l| l.name)
}

/// The DWARF local or parameter holding `addr` in `frame`, with where it
/// starts and its type, where DWARF exists.
pub fn local_var(bin: &GoBinary, frame: &Frame, addr: u64) -> Option<crate::binary::FrameLocal> {
    if frame.entry == 0 || frame.fp == 0 || addr < frame.sp {
        return None;
    }
    bin.frame_local(frame.entry, frame.pc, frame.fp, addr).ok()?
}
