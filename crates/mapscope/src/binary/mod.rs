//! Reading Go executables: build info, pclntab, moduledata, runtime type
//! descriptors and DWARF, behind one type, [`GoBinary`].
//!
//! `open` does only what is cheap (ELF headers, build info, pclntab header,
//! moduledata); DWARF, the function-name index and the type enumeration are
//! built on first use and cached. Each sub-module holds one piece of Go
//! knowledge; per-version offsets live in `moduledata::LAYOUTS` and
//! `maptype`'s descriptor table only.
//!
//! # Why not the `gobin` crate
//!
//! `gobin` (crates.io, 0.6.0, Apache-2.0) was evaluated and not used:
//! - It picks the map descriptor layout from the Go minor version alone
//!   (`MapLayout::for_go_minor`: 24..=26 → Swiss) and never looks at
//!   `GOEXPERIMENT`, so 1.24/1.25 `noswissmap` builds — half of our classic
//!   fixtures — would be decoded with the Swiss layout; nor does it know the
//!   1.27 `mapsplitgroup` variant.
//! - It has no DWARF support, which is our primary source of layouts.
//! - Its API returns `Option` everywhere; we need typed errors that say what
//!   was expected where, and partial results.
//! - It requires Rust 1.88 (our MSRV is 1.80) and brings `goblin` next to the
//!   `object` parser we already use for ELF and compressed DWARF.
//! - It is young (0.2 → 0.6 within a short time, a handful of commits, one
//!   maintainer), so pinning our correctness to its release cadence is a risk.
//!
//! Its library code did look careful (no `unwrap` outside tests), and its
//! 1.27 descriptor walk agrees with ours; it remains a useful cross-check.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod buildinfo;
mod bytes;
mod dwarf;
mod error;
mod image;
pub(crate) mod maptype;
mod moduledata;
mod pclntab;
mod rtype;
mod runtime_version;
mod symbols;
mod types;
pub(crate) mod variant;
mod version;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use buildinfo::{BuildInfo, Module};
pub use bytes::ByteOrder;
pub use dwarf::{FrameLocal, GlobalVar};
pub use error::BinaryError;
pub use image::{Arch, Section, Segment};
pub use moduledata::{Moduledata, ModuledataLayout, LAYOUTS as MODULEDATA_LAYOUTS};
pub use pclntab::{
    Func, FuncInfo, FuncLines, PclnVersion, Pclntab, ARGS_SIZE_UNKNOWN, FUNCDATA_ARGS_POINTER_MAPS,
    FUNCDATA_LOCALS_POINTER_MAPS, FUNCDATA_STACK_OBJECTS, FUNC_FLAG_SPWRITE, FUNC_FLAG_TOP_FRAME,
    PCDATA_STACK_MAP_INDEX,
};
pub use symbols::DataSymbol;
pub use types::{
    canonical_name as canonical_type_name, Field, GoType, Kind, MapDescFamily, MapDescriptor, MapFlags, Method,
    TypeDetail, TypeId, TypeRef,
};
pub use variant::{MapVariant, VariantDetection};
pub use version::GoVersion;

use error::Result;
use image::{Backing, Image};
use rtype::Rtypes;

/// Choices a user can impose on detection.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Overrides the version from build info, e.g. `go1.24.11 X:noswissmap`
    /// or `1.27.3-X:mapsplitgroup` (`--go-version`).
    pub go_version: Option<String>,
    /// Keep `go_version` even where the binary's own evidence (its build
    /// info or `runtime.buildVersion`, its runtime's map functions)
    /// contradicts it; without this such an override is refused.
    pub allow_contradiction: bool,
}

/// A source position.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceLine {
    pub function: String,
    pub entry: u64,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// What `mapscope info --json` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Info {
    pub go_version: Option<String>,
    /// `build info`, `runtime.buildVersion` or `--go-version`.
    pub version_source: Option<&'static str>,
    pub goos: Option<String>,
    pub goarch: String,
    pub experiments: Vec<String>,
    pub variant: Option<MapVariant>,
    pub dwarf: bool,
    pub symbols: bool,
    pub functions: usize,
    pub types: usize,
    pub map_types: Vec<String>,
}

struct TypeIndex {
    addrs: Vec<u64>,
    by_name: HashMap<String, u64>,
}

/// A Go executable (ELF, amd64 or arm64), memory-mapped and parsed lazily.
pub struct GoBinary {
    img: Image,
    path: Option<PathBuf>,
    build_info: Result<BuildInfo>,
    version: Option<GoVersion>,
    overridden: bool,
    /// Where the version came from: `build info`, `runtime.buildVersion`, `--go-version`.
    version_source: Option<&'static str>,
    pclntab: Result<Pclntab>,
    moduledata: Result<Moduledata>,
    func_names: OnceLock<HashMap<String, u32>>,
    types: OnceLock<std::result::Result<TypeIndex, String>>,
    dwarf: OnceLock<Result<dwarf::DwarfIndex>>,
    variant: OnceLock<VariantDetection>,
    symbols: OnceLock<symbols::SymbolIndex>,
}

impl std::fmt::Debug for GoBinary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoBinary")
            .field("path", &self.path)
            .field("arch", &self.img.arch)
            .field("version", &self.version.as_ref().map(|v| &v.raw))
            .finish_non_exhaustive()
    }
}

impl GoBinary {
    /// Memory-maps and parses `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<GoBinary> {
        Self::open_with(path, &OpenOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, opts: &OpenOptions) -> Result<GoBinary> {
        let path = path.as_ref();
        let io = |source| BinaryError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            // mmap would say "No such device".
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                if meta.is_dir() {
                    "a directory, not an executable"
                } else {
                    "not a regular file (a device or pipe), not an executable"
                },
            )));
        }
        // SAFETY: the map is read-only; a file truncated under us can SIGBUS,
        // which is the accepted trade-off of every mmap-based reader.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let mut b = Self::from_backing(Backing::Mapped(map), opts)?;
        b.path = Some(path.to_path_buf());
        Ok(b)
    }

    /// An override the binary's own evidence contradicts: another Go minor
    /// version than its build info or `runtime.buildVersion` says, or another
    /// map implementation than its runtime's functions are.
    fn check_override(&self, img_version: Option<(GoVersion, &'static str)>) -> Result<()> {
        let Some(given) = self.version.as_ref().filter(|_| self.overridden) else {
            return Ok(());
        };
        if let Some((own, source)) = img_version {
            if own.minor != given.minor || own.major != given.major {
                return Err(BinaryError::VersionContradicted {
                    given: given.raw.clone(),
                    evidence: format!("its {source} says {}", own.raw),
                });
            }
        }
        let det = self.map_variant_inner(true);
        if let (Some(o), Some(s)) = (det.from_override, det.from_structure) {
            // 1.27's split groups are told apart from interleaved ones by a
            // descriptor stride; the runtime's functions only say Swiss.
            let swiss = |v: MapVariant| !matches!(v, MapVariant::Classic);
            if swiss(o) != swiss(s) {
                return Err(BinaryError::VersionContradicted {
                    given: given.raw.clone(),
                    evidence: format!(
                        "{} maps, but its runtime's map functions are those of {} maps",
                        o.as_str(),
                        s.as_str()
                    ),
                });
            }
        }
        Ok(())
    }

    /// Parses an executable held in memory (tests, fuzzing).
    pub fn parse(bytes: Vec<u8>) -> Result<GoBinary> {
        Self::parse_with(bytes, &OpenOptions::default())
    }

    pub fn parse_with(bytes: Vec<u8>, opts: &OpenOptions) -> Result<GoBinary> {
        Self::from_backing(Backing::Owned(bytes), opts)
    }

    fn from_backing(backing: Backing, opts: &OpenOptions) -> Result<GoBinary> {
        let img = Image::new(backing)?;
        let build_info = buildinfo::read(&img);
        let from_build_info = || {
            build_info
                .as_ref()
                .ok()
                .and_then(|b| GoVersion::parse(&b.go_version).ok())
        };
        let own = || match from_build_info() {
            Some(v) => Some((v, "build info")),
            None => runtime_version::find(&img).map(|v| (v, "runtime.buildVersion")),
        };
        let mut own_version = None;
        let (version, overridden, version_source) = match &opts.go_version {
            Some(v) => {
                own_version = own();
                (Some(GoVersion::parse(v)?), true, Some("--go-version"))
            }
            None => match own() {
                Some((v, source)) => (Some(v), false, Some(source)),
                None => (None, false, None),
            },
        };
        let pclntab = pclntab::locate(&img).and_then(|(addr, start, end)| {
            let bytes = img.data().get(start..end).ok_or(BinaryError::NoPclntab)?;
            Pclntab::parse(addr, bytes, img.order, start)
        });
        if let (Err(b), Err(p)) = (&build_info, &pclntab) {
            return Err(BinaryError::NotGo(format!("{b}; {p}")));
        }
        let moduledata = match &pclntab {
            Ok(p) => moduledata::locate(&img, p.addr, version.as_ref()),
            Err(e) => Err(BinaryError::NoModuledata(format!("needs the pclntab: {e}"))),
        };
        let mut pclntab = pclntab;
        if let (Ok(p), Ok(m)) = (&mut pclntab, &moduledata) {
            // 1.26+ leaves pcHeader.textStart 0; the runtime uses moduledata.text.
            if p.version != PclnVersion::Go116 {
                p.text_start = m.text;
            }
        }
        let b = GoBinary {
            img,
            path: None,
            build_info,
            version,
            overridden,
            version_source,
            pclntab,
            moduledata,
            func_names: OnceLock::new(),
            types: OnceLock::new(),
            dwarf: OnceLock::new(),
            variant: OnceLock::new(),
            symbols: OnceLock::new(),
        };
        if !opts.allow_contradiction {
            b.check_override(own_version)?;
        }
        Ok(b)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn arch(&self) -> Arch {
        self.img.arch
    }

    pub fn pointer_size(&self) -> u8 {
        self.img.ptr_size
    }

    pub fn byte_order(&self) -> ByteOrder {
        self.img.order
    }

    pub fn sections(&self) -> &[Section] {
        &self.img.sections
    }

    pub fn segments(&self) -> &[Segment] {
        &self.img.segments
    }

    /// `len` bytes at virtual address `vaddr` as the file's loaded sections
    /// and segments hold them; an error when any of it is not in the file
    /// (e.g. .bss, or beyond a segment's file size).
    pub fn read_at(&self, vaddr: u64, len: u64) -> Result<&[u8]> {
        self.img.read(vaddr, len, "read_at")
    }

    /// The whole file.
    pub fn file_bytes(&self) -> &[u8] {
        self.img.data()
    }

    /// Has a symbol table (not built with `-ldflags=-s`).
    pub fn has_symbols(&self) -> bool {
        self.img.has_symtab
    }

    fn symbol_index(&self) -> &symbols::SymbolIndex {
        self.symbols.get_or_init(|| {
            if self.img.has_symtab {
                symbols::SymbolIndex::load(self.img.data())
            } else {
                symbols::SymbolIndex::default()
            }
        })
    }

    /// A data symbol of `.symtab` by name (`runtime.mheap_`); `None` when stripped.
    pub fn data_symbol(&self, name: &str) -> Option<&DataSymbol> {
        self.symbol_index().by_name(name)
    }

    /// The data symbol whose bytes hold `addr`; `None` when stripped or outside every symbol.
    pub fn data_symbol_at(&self, addr: u64) -> Option<&DataSymbol> {
        self.symbol_index().containing(addr)
    }

    /// The data symbol of nonzero size whose bytes hold `addr` (how `go tool objdump` resolves addresses).
    pub fn sized_data_symbol_at(&self, addr: u64) -> Option<&DataSymbol> {
        self.symbol_index().sized_containing(addr)
    }

    /// Has DWARF sections (not built with `-ldflags=-w`); not yet parsed.
    pub fn has_dwarf(&self) -> bool {
        self.img.section(".debug_info").is_some()
    }

    pub fn build_info(&self) -> std::result::Result<&BuildInfo, &BinaryError> {
        self.build_info.as_ref()
    }

    /// The version in force: the override, else build info's, else the
    /// `runtime.buildVersion` string the linker wrote.
    pub fn go_version(&self) -> Option<&GoVersion> {
        self.version.as_ref()
    }

    /// How [`GoBinary::go_version`] was found.
    pub fn version_source(&self) -> Option<&'static str> {
        self.version_source
    }

    /// Experiments in force: the override's, else the GOEXPERIMENT build
    /// setting, else the version string's `X:` suffix.
    pub fn experiments(&self) -> Vec<String> {
        match (&self.version, &self.build_info) {
            (Some(v), _) if self.overridden => v.experiments.clone(),
            (_, Ok(b)) => b.experiments(),
            (Some(v), Err(_)) => v.experiments.clone(),
            (None, Err(_)) => Vec::new(),
        }
    }

    pub fn goos(&self) -> Option<&str> {
        self.build_info.as_ref().ok().and_then(|b| b.setting("GOOS"))
    }

    pub fn goarch(&self) -> &str {
        self.build_info
            .as_ref()
            .ok()
            .and_then(|b| b.setting("GOARCH"))
            .unwrap_or(self.img.arch.goarch())
    }

    pub fn pclntab(&self) -> std::result::Result<&Pclntab, &BinaryError> {
        self.pclntab.as_ref()
    }

    pub fn moduledata(&self) -> std::result::Result<&Moduledata, &BinaryError> {
        self.moduledata.as_ref()
    }

    fn pcln(&self) -> Result<&Pclntab> {
        self.pclntab.as_ref().map_err(|_| BinaryError::NoPclntab)
    }

    fn md(&self) -> Result<&Moduledata> {
        self.moduledata
            .as_ref()
            .map_err(|e| BinaryError::NoModuledata(e.to_string()))
    }

    pub fn function_count(&self) -> usize {
        self.pclntab.as_ref().map_or(0, |p| p.nfunc as usize)
    }

    /// Function `i` of ftab (sorted by entry PC).
    pub fn function(&self, i: u32) -> Result<Func> {
        self.pcln()?.func(&self.img, i)
    }

    /// All functions in PC order; stops being useful at the first error but
    /// never loops: there are exactly `function_count()` items.
    pub fn functions(&self) -> impl Iterator<Item = Result<Func>> + '_ {
        (0..self.function_count() as u32).map(move |i| self.function(i))
    }

    /// The function whose code contains `pc` (binary search over ftab).
    pub fn func_for_pc(&self, pc: u64) -> Option<Func> {
        let p = self.pclntab.as_ref().ok()?;
        let f = p.func(&self.img, p.find_index(&self.img, pc)?).ok()?;
        (pc < f.end).then_some(f)
    }

    /// The `_func` fields an unwinder needs (args, pcsp, flags, pcdata/funcdata counts).
    pub fn func_info(&self, f: &Func) -> Option<FuncInfo> {
        self.pclntab.as_ref().ok()?.func_info(&self.img, f.index)
    }

    /// `runtime.pcvalue`: the value of the pc-value table at pctab offset `table` at `pc`.
    pub fn pcvalue(&self, f: &FuncInfo, table: u32, pc: u64) -> Option<i64> {
        self.pclntab.as_ref().ok()?.pcvalue_at(&self.img, table, f.entry, pc)
    }

    /// `funcspdelta`: bytes between SP and the frame's top (excluding the return PC on amd64) at `pc`.
    pub fn pcsp(&self, f: &FuncInfo, pc: u64) -> Option<i64> {
        if f.pcsp == 0 {
            return None;
        }
        self.pcvalue(f, f.pcsp, pc)
    }

    /// `pcdatavalue(f, idx, pc)`; `None` when the function has no such table or it does not cover `pc`.
    pub fn pcdata_value(&self, f: &FuncInfo, idx: u32, pc: u64) -> Option<i64> {
        let p = self.pclntab.as_ref().ok()?;
        let table = p.pcdata_table(&self.img, f, idx)?;
        p.pcvalue_at(&self.img, table, f.entry, pc)
    }

    /// `funcdata(f, idx)`: the address of that funcdata (`moduledata.gofunc` + offset), `None` when absent.
    pub fn funcdata_addr(&self, f: &FuncInfo, idx: u32) -> Option<u64> {
        let off = self.pclntab.as_ref().ok()?.funcdata_off(&self.img, f, idx)?;
        self.moduledata.as_ref().ok()?.gofunc.checked_add(u64::from(off))
    }

    /// Function, file and line of `pc`.
    pub fn line_for_pc(&self, pc: u64) -> Option<SourceLine> {
        let p = self.pclntab.as_ref().ok()?;
        let f = self.func_for_pc(pc)?;
        let fl = p.line(&self.img, &f, pc);
        Some(SourceLine {
            function: f.name,
            entry: f.entry,
            file: fl.as_ref().map(|(f, _)| f.clone()),
            line: fl.map(|(_, l)| l),
        })
    }

    /// File and line of every PC of `f`, decoded once: for listing a
    /// function instruction by instruction.
    pub fn func_lines(&self, f: &Func) -> FuncLines {
        match &self.pclntab {
            Ok(p) => p.func_lines(&self.img, f),
            Err(_) => FuncLines::default(),
        }
    }

    /// A function by its full name (`main.main`, `runtime.(*Map).foo`);
    /// the name index is built on first call. A few names repeat (assembly
    /// ABI0 bodies and their ABIInternal wrappers); the lowest PC wins.
    pub fn func_by_name(&self, name: &str) -> Option<Func> {
        let idx = self.func_names.get_or_init(|| {
            let mut m = HashMap::new();
            for f in self.functions().flatten() {
                m.entry(f.name).or_insert(f.index);
            }
            m
        });
        self.function(*idx.get(name)?).ok()
    }

    fn rtypes(&self) -> Result<Rtypes<'_>> {
        let md = self.md()?;
        let variant = self.map_variant_inner(false).variant.unwrap_or(MapVariant::Swiss);
        Ok(Rtypes {
            img: &self.img,
            md,
            map_layout: variant::desc_layout(variant, self.version.as_ref(), md.typedesclen.is_some()),
        })
    }

    /// The runtime type descriptor at `addr` (an interface's type word, a
    /// `0xADDR:map[K]V` expression, a DW_AT_go_runtime_type).
    pub fn runtime_type(&self, addr: u64) -> Result<GoType> {
        self.rtypes()?.read(addr)
    }

    /// Just the name of the descriptor at `addr`.
    pub fn runtime_type_name(&self, addr: u64) -> Result<String> {
        self.rtypes()?.name(addr)
    }

    /// Whether values of the type at descriptor `addr` sit directly in an
    /// interface's data word (pointer-shaped types) instead of behind it.
    pub fn runtime_type_direct_iface(&self, addr: u64) -> Result<bool> {
        self.rtypes()?.direct_iface(addr)
    }

    fn type_index(&self) -> Result<&TypeIndex> {
        let r = self.types.get_or_init(|| {
            let rt = self.rtypes().map_err(|e| e.to_string())?;
            let addrs = rt.enumerate().map_err(|e| e.to_string())?;
            let mut by_name = HashMap::new();
            for &a in &addrs {
                if let Ok(n) = rt.name(a) {
                    by_name.entry(n).or_insert(a);
                }
            }
            Ok(TypeIndex { addrs, by_name })
        });
        r.as_ref()
            .map_err(|e| BinaryError::NoModuledata(format!("type enumeration failed: {e}")))
    }

    /// Addresses of every runtime type descriptor (sorted).
    pub fn runtime_types(&self) -> Result<&[u64]> {
        Ok(&self.type_index()?.addrs)
    }

    pub fn runtime_type_by_name(&self, name: &str) -> Result<Option<GoType>> {
        let idx = self.type_index()?;
        let found = idx
            .by_name
            .get(name)
            .or_else(|| idx.by_name.get(&types::canonical_name(name)));
        match found {
            Some(&a) => self.runtime_type(a).map(Some),
            None => Ok(None),
        }
    }

    /// Every map type, from the runtime descriptors, sorted by name (then
    /// address: distinct types can share a name, `v1.List` of two packages
    /// named v1, and each is kept).
    pub fn map_types(&self) -> Result<Vec<GoType>> {
        let rt = self.rtypes()?;
        let idx = self.type_index()?;
        let mut out: Vec<GoType> = idx
            .addrs
            .iter()
            .filter(|&&a| rt.kind(a).ok() == Some(Kind::Map))
            .filter_map(|&a| rt.read(a).ok())
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.runtime_addr.cmp(&b.runtime_addr)));
        Ok(out)
    }

    fn dwarf(&self) -> Result<&dwarf::DwarfIndex> {
        match self.dwarf.get_or_init(|| dwarf::load(&self.img)) {
            Ok(d) => Ok(d),
            Err(BinaryError::NoDwarf) => Err(BinaryError::NoDwarf),
            Err(e) => Err(BinaryError::Dwarf(e.to_string())),
        }
    }

    /// A type by its DWARF name; `Ok(None)` when DWARF has no such type.
    pub fn dwarf_type_by_name(&self, name: &str) -> Result<Option<GoType>> {
        let d = self.dwarf()?;
        let off = match d.type_offset(name)? {
            Some(off) => Some(off),
            None => d.type_offset(&types::canonical_name(name))?,
        };
        let Some(off) = off else {
            return Ok(None);
        };
        d.go_type(off, self.rtypes().ok().as_ref()).map(Some)
    }

    /// Names of all top-level DWARF types.
    pub fn dwarf_type_names(&self) -> Result<Vec<String>> {
        let mut v: Vec<String> = self.dwarf()?.type_names()?.map(|(n, _)| n.to_string()).collect();
        v.sort();
        Ok(v)
    }

    /// A type by name: DWARF first (richer, and has the runtime's internal
    /// structs), then the runtime descriptors (stripped binaries).
    pub fn type_by_name(&self, name: &str) -> Result<Option<GoType>> {
        match self.dwarf_type_by_name(name) {
            Ok(Some(t)) => return Ok(Some(t)),
            Ok(None) | Err(BinaryError::NoDwarf) | Err(BinaryError::Dwarf(_)) => {}
            Err(e) => return Err(e),
        }
        self.runtime_type_by_name(name)
    }

    /// Follows a [`TypeRef`].
    pub fn type_by_id(&self, id: TypeId) -> Result<GoType> {
        match id {
            TypeId::Runtime(a) => self.runtime_type(a),
            TypeId::Dwarf(o) => self.dwarf()?.go_type(o, self.rtypes().ok().as_ref()),
        }
    }

    /// Package-level variables from DWARF.
    pub fn globals(&self) -> Result<&[GlobalVar]> {
        self.dwarf()?.globals()
    }

    /// One package-level variable from DWARF by name (`pkg/path.Var`).
    pub fn global(&self, name: &str) -> Result<Option<GlobalVar>> {
        self.dwarf()?.global(name)
    }

    /// The local variable or parameter (DWARF) whose stack memory holds `addr`
    /// in a frame of the function starting at `entry`, at `pc` (the frame's PC
    /// as an unwinder reports it: a return address for callers; the lookup uses
    /// `pc - 1` unless `pc == entry`), with canonical frame address `cfa`
    /// (amd64 `sp + framesize + 8`, arm64 `sp + framesize`: `roots::Frame::fp`).
    ///
    /// Only stack slots count: a variable that lives in a register at that PC,
    /// or has no location there, does not match. Variables of inlined calls are
    /// included. `Ok(None)`: DWARF names nothing there. The table of
    /// subprograms is built on the first call (DWARF loading does not pay for
    /// it), and each function's variables are decoded once.
    pub fn frame_local(&self, entry: u64, pc: u64, cfa: u64, addr: u64) -> Result<Option<FrameLocal>> {
        Ok(self.dwarf()?.frame_local(entry, pc, cfa, addr))
    }

    /// The variable captured at byte `offset` of a funcval of the closure
    /// function at `entry` (`slot` is that offset), where DWARF says (Go ≥1.23).
    pub fn closure_capture(&self, entry: u64, offset: u64) -> Result<Option<FrameLocal>> {
        Ok(self.dwarf()?.closure_capture(entry, offset))
    }

    /// Every variable (or piece of one) that DWARF places on the stack in such
    /// a frame at `pc`, in DIE order; see [`GoBinary::frame_local`].
    pub fn frame_locals(&self, entry: u64, pc: u64, cfa: u64) -> Result<Vec<FrameLocal>> {
        Ok(self.dwarf()?.frame_locals(entry, pc, cfa))
    }

    /// Number of subprograms with code in DWARF (builds the table that
    /// [`GoBinary::frame_local`] uses, if not yet built).
    pub fn dwarf_subprogram_count(&self) -> Result<usize> {
        Ok(self.dwarf()?.frame_index().len())
    }

    /// The map implementation, with how it was decided.
    pub fn map_variant(&self) -> &VariantDetection {
        self.variant.get_or_init(|| self.map_variant_inner(true))
    }

    fn map_variant_inner(&self, structural: bool) -> VariantDetection {
        let from_version = self.version.as_ref().map(|v| {
            let exps = self.experiments();
            MapVariant::from_version(v, &exps)
        });
        let from_structure = if structural { self.structural_variant() } else { None };
        let from_override = if self.overridden { from_version } else { None };
        VariantDetection {
            variant: from_version.or(from_structure),
            from_override,
            from_version: if self.overridden { None } else { from_version },
            from_structure,
        }
    }

    fn structural_variant(&self) -> Option<MapVariant> {
        let classic = self.func_by_name(variant::CLASSIC_MARKER).is_some();
        let swiss = self.func_by_name(variant::SWISS_MARKER).is_some();
        match (classic, swiss) {
            (true, false) => Some(MapVariant::Classic),
            (false, true) => {
                // Only 1.27 descriptors say whether groups are split.
                let md = self.md().ok()?;
                if md.typedesclen.is_none() {
                    return Some(MapVariant::Swiss);
                }
                let rt = Rtypes {
                    img: &self.img,
                    md,
                    map_layout: &maptype::SWISS_127,
                };
                let addrs = rt.enumerate().ok()?;
                let d = addrs
                    .iter()
                    .filter(|&&a| rt.kind(a).ok() == Some(Kind::Map))
                    .filter_map(|&a| rt.map_descriptor(a).ok())
                    .find(|d| d.key_stride.unwrap_or(0) > 0)?;
                let (ko, ks, eo) = (d.keys_off?, d.key_stride?, d.elems_off?);
                Some(if eo >= ko.saturating_add(ks.saturating_mul(8)) {
                    MapVariant::SwissSplit
                } else {
                    MapVariant::Swiss
                })
            }
            _ => None,
        }
    }

    /// The facts `mapscope info` prints.
    pub fn info(&self) -> Info {
        Info {
            go_version: self.version.as_ref().map(|v| v.raw.clone()),
            version_source: self.version_source,
            goos: self.goos().map(str::to_string),
            goarch: self.goarch().to_string(),
            experiments: self.experiments(),
            variant: self.map_variant().variant,
            dwarf: self.has_dwarf(),
            symbols: self.has_symbols(),
            functions: self.function_count(),
            types: self.runtime_types().map_or(0, <[u64]>::len),
            map_types: self
                .map_types()
                .map(|v| v.into_iter().map(|t| t.name).collect())
                .unwrap_or_default(),
        }
    }
}
