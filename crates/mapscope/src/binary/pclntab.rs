//! The PC/line table (`runtime/symtab.go`, `cmd/link/internal/ld/pcln.go`):
//! function entries and names, and the pc-value tables that map a PC to its
//! file and line. Everything is decoded on demand from the table's bytes.

use std::sync::Arc;

use super::bytes::{cstr, uvarint, ByteOrder};
use super::error::{malformed, BinaryError, Result};
use super::image::Image;

const MAGIC_116: u32 = 0xffff_fffa;
const MAGIC_118: u32 = 0xffff_fff0;
const MAGIC_120: u32 = 0xffff_fff1;
const MAX_NAME: usize = 64 << 10;

/// Which header generation (the magic) the table has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum PclnVersion {
    /// 0xfffffffa, Go 1.16–1.17: ftab entries hold absolute PCs.
    Go116,
    /// 0xfffffff0, Go 1.18–1.19: PCs are offsets from textStart.
    Go118,
    /// 0xfffffff1, Go 1.20+.
    Go120,
}

/// One function: its entry PC, end PC (next function's entry) and name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Func {
    pub entry: u64,
    pub end: u64,
    pub name: String,
    /// Index into ftab, for [`Pclntab::line`] and friends.
    pub index: u32,
}

/// The file and line of each PC of one function ([`Pclntab::func_lines`]).
#[derive(Debug, Clone, Default)]
pub struct FuncLines {
    /// `(end PC, line)` runs in PC order.
    lines: Vec<(u64, i64)>,
    /// `(end PC, index into files)` runs in PC order.
    file_runs: Vec<(u64, Option<u32>)>,
    /// Each file once, shared by every instruction listed from it.
    files: Vec<Arc<str>>,
}

impl FuncLines {
    /// File and line of `pc`, as [`super::GoBinary::line_for_pc`] gives them.
    pub fn at(&self, pc: u64) -> Option<(&Arc<str>, u32)> {
        fn run<T>(runs: &[(u64, T)], pc: u64) -> Option<&T> {
            runs.get(runs.partition_point(|(end, _)| *end <= pc)).map(|(_, v)| v)
        }
        let &line = run(&self.lines, pc)?;
        let &file = run(&self.file_runs, pc)?;
        let file = self.files.get(file? as usize)?;
        Some((file, u32::try_from(line).ok()?))
    }
}

/// `abi.ArgsSizeUnknown`: `_func.args` of reflect stubs and assembly without a declared frame.
pub const ARGS_SIZE_UNKNOWN: i32 = i32::MIN;
/// `abi.FuncFlagTopFrame`: the outermost frame of a stack (`goexit`, `mstart`, `rt0_go`).
pub const FUNC_FLAG_TOP_FRAME: u8 = 1;
/// `abi.FuncFlagSPWrite`: writes SP in ways the pcsp table does not describe.
pub const FUNC_FLAG_SPWRITE: u8 = 2;
/// `abi.PCDATA_StackMapIndex` (the same index in every version since 1.12).
pub const PCDATA_STACK_MAP_INDEX: u32 = 1;
/// `abi.FUNCDATA_ArgsPointerMaps`, `FUNCDATA_LocalsPointerMaps`, `FUNCDATA_StackObjects`.
pub const FUNCDATA_ARGS_POINTER_MAPS: u32 = 0;
pub const FUNCDATA_LOCALS_POINTER_MAPS: u32 = 1;
pub const FUNCDATA_STACK_OBJECTS: u32 = 2;

/// The `_func` fields an unwinder needs (`runtime/runtime2.go` `_func`), for the
/// 1.18+ layouts (32-bit funcdata offsets from `moduledata.gofunc`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    pub entry: u64,
    /// Argument + result bytes, or [`ARGS_SIZE_UNKNOWN`].
    pub args: i32,
    /// Offset from entry of the deferreturn call, 0 when none.
    pub deferreturn: u32,
    /// Offset of the pc→SP-delta table in pctab.
    pub pcsp: u32,
    pub npcdata: u32,
    /// `abi.FuncID`; its numbering changes between releases, so prefer names.
    pub func_id: u8,
    /// `abi.FuncFlag` bits ([`FUNC_FLAG_TOP_FRAME`], [`FUNC_FLAG_SPWRITE`]).
    pub flag: u8,
    pub nfuncdata: u8,
    /// Offset of the `_func` record from the start of the table bytes.
    record: usize,
    /// Size of the fixed `_func` header before `pcdata[]`.
    header: usize,
}

/// A parsed pcHeader plus the bytes of the table (from the header to its end).
#[derive(Debug, Clone)]
pub struct Pclntab {
    pub addr: u64,
    pub version: PclnVersion,
    pub min_lc: u8,
    pub ptr_size: u8,
    pub nfunc: u32,
    pub nfiles: u32,
    /// Base that ftab entry offsets are relative to: pcHeader.textStart before
    /// 1.26, moduledata.text from 1.26 (where pcHeader.textStart is 0).
    pub text_start: u64,
    order: ByteOrder,
    funcname: usize,
    cu: usize,
    filetab: usize,
    pctab: usize,
    pcln: usize,
    data_start: usize,
    data_end: usize,
}

impl Pclntab {
    /// `bytes` start at the header (`addr`) and run to the end of the table or
    /// of whatever section holds it.
    pub(crate) fn parse(addr: u64, bytes: &[u8], order: ByteOrder, data_start: usize) -> Result<Pclntab> {
        let bad = |p: &str| malformed("pclntab header", addr, p.to_string());
        let magic = order.u32(bytes, 0).ok_or_else(|| bad("truncated before the magic"))?;
        let version = match magic {
            MAGIC_116 => PclnVersion::Go116,
            MAGIC_118 => PclnVersion::Go118,
            MAGIC_120 => PclnVersion::Go120,
            _ => return Err(BinaryError::BadPclntabMagic { addr, magic }),
        };
        let pad = (bytes.get(4), bytes.get(5));
        if pad != (Some(&0), Some(&0)) {
            return Err(bad("pad bytes 4..6 are not zero"));
        }
        let min_lc = bytes.get(6).copied().unwrap_or(0);
        let ptr_size = bytes.get(7).copied().unwrap_or(0);
        if !matches!(min_lc, 1 | 2 | 4) || !matches!(ptr_size, 4 | 8) {
            return Err(bad(&format!(
                "minLC {min_lc} / ptrSize {ptr_size}, expected 1|2|4 and 4|8"
            )));
        }
        let p = usize::from(ptr_size);
        let field = |i: usize| -> Result<u64> {
            order
                .uptr(bytes, 8 + i * p, ptr_size)
                .ok_or_else(|| bad("truncated header"))
        };
        let nfunc = field(0)?;
        let nfiles = field(1)?;
        let (text_start, rest) = match version {
            PclnVersion::Go116 => (0, 2),
            _ => (field(2)?, 3),
        };
        let off = |i: usize| -> Result<usize> {
            let v = field(rest + i)?;
            let v = usize::try_from(v).map_err(|_| bad("offset overflows"))?;
            if v > bytes.len() {
                return Err(bad(&format!(
                    "table offset {v:#x} beyond the {:#x} bytes of the table",
                    bytes.len()
                )));
            }
            Ok(v)
        };
        let (funcname, cu, filetab, pctab, pcln) = (off(0)?, off(1)?, off(2)?, off(3)?, off(4)?);
        let ent = ftab_entry_size(version, ptr_size);
        // nfunc+1 ftab entries must fit: this caps every later loop by the file size.
        let need = nfunc
            .checked_add(1)
            .and_then(|n| n.checked_mul(ent as u64))
            .and_then(|n| n.checked_add(pcln as u64));
        if need.map_or(true, |n| n > bytes.len() as u64) || nfunc > u64::from(u32::MAX) {
            return Err(bad(&format!("{nfunc} functions do not fit in the table")));
        }
        Ok(Pclntab {
            addr,
            version,
            min_lc,
            ptr_size,
            nfunc: nfunc as u32,
            nfiles: u32::try_from(nfiles).unwrap_or(u32::MAX),
            text_start,
            order,
            funcname,
            cu,
            filetab,
            pctab,
            pcln,
            data_start,
            data_end: data_start.saturating_add(bytes.len()),
        })
    }

    fn tab<'a>(&self, img: &'a Image) -> &'a [u8] {
        img.data().get(self.data_start..self.data_end).unwrap_or(&[])
    }

    /// (entry PC, offset of `_func` from the pcln table) of ftab entry `i`
    /// (`i == nfunc` is the end-of-text sentinel).
    fn ftab(&self, tab: &[u8], i: u32) -> Option<(u64, usize)> {
        let ent = ftab_entry_size(self.version, self.ptr_size);
        let at = self.pcln.checked_add((i as usize).checked_mul(ent)?)?;
        match self.version {
            PclnVersion::Go116 => {
                let entry = self.order.uptr(tab, at, self.ptr_size)?;
                let fo = self.order.uptr(tab, at + usize::from(self.ptr_size), self.ptr_size)?;
                Some((entry, usize::try_from(fo).ok()?))
            }
            _ => {
                let eo = self.order.u32(tab, at)?;
                let fo = self.order.u32(tab, at + 4)?;
                Some((self.text_start.checked_add(u64::from(eo))?, fo as usize))
            }
        }
    }

    fn func_field(&self, tab: &[u8], funcoff: usize, field: FuncField) -> Option<u32> {
        let base = self.pcln.checked_add(funcoff)?;
        let off = match self.version {
            // Go116 `_func` starts with a full uintptr entry.
            PclnVersion::Go116 => usize::from(self.ptr_size) + field as usize - 4,
            _ => field as usize,
        };
        self.order.u32(tab, base.checked_add(off)?)
    }

    pub(crate) fn func(&self, img: &Image, i: u32) -> Result<Func> {
        let tab = self.tab(img);
        let err = || malformed("pclntab ftab", self.addr, format!("entry {i} unreadable"));
        if i >= self.nfunc {
            return Err(err());
        }
        let (entry, funcoff) = self.ftab(tab, i).ok_or_else(err)?;
        let (end, _) = self.ftab(tab, i + 1).ok_or_else(err)?;
        let nameoff = self.func_field(tab, funcoff, FuncField::NameOff).ok_or_else(err)?;
        let name = self
            .funcname
            .checked_add(nameoff as usize)
            .and_then(|o| cstr(tab, o, MAX_NAME))
            .ok_or_else(|| {
                malformed(
                    "pclntab funcname",
                    self.addr,
                    format!("name of function {i} at offset {nameoff:#x} unreadable"),
                )
            })?;
        Ok(Func {
            entry,
            end,
            name: String::from_utf8_lossy(name).into_owned(),
            index: i,
        })
    }

    /// Binary search of ftab (sorted by entry) for the function containing `pc`.
    pub(crate) fn find_index(&self, img: &Image, pc: u64) -> Option<u32> {
        let tab = self.tab(img);
        let (first, _) = self.ftab(tab, 0)?;
        let (end, _) = self.ftab(tab, self.nfunc)?;
        if pc < first || pc >= end {
            return None;
        }
        let (mut lo, mut hi) = (0u32, self.nfunc);
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            let (e, _) = self.ftab(tab, mid)?;
            if e <= pc {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// File and line of `pc` inside function `f`, from its pcfile/pcln tables.
    pub(crate) fn line(&self, img: &Image, f: &Func, pc: u64) -> Option<(String, u32)> {
        let tab = self.tab(img);
        let (_, funcoff) = self.ftab(tab, f.index)?;
        let pcfile = self.func_field(tab, funcoff, FuncField::PcFile)?;
        let pcln = self.func_field(tab, funcoff, FuncField::PcLn)?;
        let line = self.pcvalue(tab, pcln, f.entry, pc)?;
        let fileno = self.pcvalue(tab, pcfile, f.entry, pc)?;
        let file = match self.version {
            PclnVersion::Go116 | PclnVersion::Go118 | PclnVersion::Go120 => {
                let cu = self.func_field(tab, funcoff, FuncField::CuOffset)?;
                self.file_name(tab, cu, fileno)?
            }
        };
        Some((String::from_utf8_lossy(file).into_owned(), u32::try_from(line).ok()?))
    }

    /// File and line of every PC of `f`, from one pass over its pcfile and
    /// pcln tables: what [`Pclntab::line`] answers for each PC, without
    /// re-walking the tables from the entry each time (which made a listing
    /// of a 150k-instruction function quadratic: 19 s for aws-sdk-go's
    /// `endpoints.init`).
    pub(crate) fn func_lines(&self, img: &Image, f: &Func) -> FuncLines {
        let tab = self.tab(img);
        let mut out = FuncLines::default();
        let Some((_, funcoff)) = self.ftab(tab, f.index) else {
            return out;
        };
        let field = |k| self.func_field(tab, funcoff, k);
        if let Some(pcln) = field(FuncField::PcLn) {
            out.lines = self.pcvalue_runs(tab, pcln, f.entry, f.end);
        }
        let Some(pcfile) = field(FuncField::PcFile) else {
            return out;
        };
        let cu = match self.version {
            PclnVersion::Go116 | PclnVersion::Go118 | PclnVersion::Go120 => field(FuncField::CuOffset),
        };
        let mut seen: Vec<(i64, Option<u32>)> = Vec::new();
        for (end, fileno) in self.pcvalue_runs(tab, pcfile, f.entry, f.end) {
            let idx = match seen.iter().find(|(n, _)| *n == fileno) {
                Some(&(_, idx)) => idx,
                None => {
                    let name = cu.and_then(|cu| self.file_name(tab, cu, fileno));
                    let idx = name.and_then(|n| {
                        let i = u32::try_from(out.files.len()).ok()?;
                        out.files.push(Arc::from(String::from_utf8_lossy(n)));
                        Some(i)
                    });
                    seen.push((fileno, idx));
                    idx
                }
            };
            out.file_runs.push((end, idx));
        }
        out
    }

    /// The name of file `fileno` of the compilation unit at `cu`.
    fn file_name<'t>(&self, tab: &'t [u8], cu: u32, fileno: i64) -> Option<&'t [u8]> {
        let idx = (cu as usize).checked_add(usize::try_from(fileno).ok()?)?;
        let fo = self.order.u32(tab, self.cu.checked_add(idx.checked_mul(4)?)?)?;
        if fo == u32::MAX {
            return None;
        }
        cstr(tab, self.filetab.checked_add(fo as usize)?, MAX_NAME)
    }

    /// A pc-value table as runs `(end PC, value)`, each value holding from
    /// the previous end (the entry for the first) up to its own end, as far
    /// as `stop` or the first malformed byte ([`Pclntab::pcvalue`]'s walk).
    fn pcvalue_runs(&self, tab: &[u8], off: u32, entry: u64, stop: u64) -> Vec<(u64, i64)> {
        let mut runs = Vec::new();
        let mut p = match self.pctab.checked_add(off as usize) {
            Some(p) if off != 0 => p,
            _ => return runs,
        };
        let mut pc = entry;
        let mut val: i64 = -1;
        let mut first = true;
        for _ in 0..tab.len() {
            let Some((uv, n)) = uvarint(tab, p) else { break };
            if uv == 0 && !first {
                break;
            }
            let delta = if uv & 1 != 0 {
                !(uv >> 1) as i64
            } else {
                (uv >> 1) as i64
            };
            let Some(v) = val.checked_add(delta) else { break };
            let Some((pcd, m)) = p
                .checked_add(n)
                .and_then(|q| uvarint(tab, q).and_then(|(d, m)| Some((d, q.checked_add(m)?))))
            else {
                break;
            };
            let Some(next) = pcd.checked_mul(u64::from(self.min_lc)).and_then(|d| pc.checked_add(d)) else {
                break;
            };
            (p, val, pc, first) = (m, v, next, false);
            runs.push((pc, val));
            if pc >= stop {
                break;
            }
        }
        runs
    }

    /// `runtime.pcvalue`: walk (value delta, pc delta) pairs until past `target`.
    fn pcvalue(&self, tab: &[u8], off: u32, entry: u64, target: u64) -> Option<i64> {
        if off == 0 {
            return None;
        }
        let mut p = self.pctab.checked_add(off as usize)?;
        let mut pc = entry;
        let mut val: i64 = -1;
        let mut first = true;
        // Each step consumes at least one byte, so the table length bounds the loop.
        for _ in 0..tab.len() {
            let (uv, n) = uvarint(tab, p)?;
            if uv == 0 && !first {
                return None;
            }
            p = p.checked_add(n)?;
            let delta = if uv & 1 != 0 {
                !(uv >> 1) as i64
            } else {
                (uv >> 1) as i64
            };
            val = val.checked_add(delta)?;
            let (pcd, n) = uvarint(tab, p)?;
            p = p.checked_add(n)?;
            pc = pc.checked_add(pcd.checked_mul(u64::from(self.min_lc))?)?;
            first = false;
            if target < pc {
                return Some(val);
            }
        }
        None
    }

    /// The unwinder's `_func` fields of ftab entry `i`. `None` for the 1.16–1.17
    /// table (absolute funcdata pointers, not supported) or an unreadable record.
    pub(crate) fn func_info(&self, img: &Image, i: u32) -> Option<FuncInfo> {
        let tab = self.tab(img);
        if i >= self.nfunc {
            return None;
        }
        let (entry, funcoff) = self.ftab(tab, i)?;
        // 1.20 inserted startLine (4 bytes) before funcID (go-heap.md §6.1).
        let (id_at, header) = match self.version {
            PclnVersion::Go116 => return None,
            PclnVersion::Go118 => (36, 40),
            PclnVersion::Go120 => (40, 44),
        };
        let record = self.pcln.checked_add(funcoff)?;
        let byte = |o: usize| tab.get(record.checked_add(o)?).copied();
        Some(FuncInfo {
            entry,
            args: self.func_field(tab, funcoff, FuncField::Args)? as i32,
            deferreturn: self.func_field(tab, funcoff, FuncField::Deferreturn)?,
            pcsp: self.func_field(tab, funcoff, FuncField::PcSp)?,
            npcdata: self.func_field(tab, funcoff, FuncField::Npcdata)?,
            func_id: byte(id_at)?,
            flag: byte(id_at + 1)?,
            nfuncdata: byte(id_at + 3)?,
            record,
            header,
        })
    }

    /// `pcdata[i]` of `f`: the pctab offset of that table, `None` when absent.
    pub(crate) fn pcdata_table(&self, img: &Image, f: &FuncInfo, i: u32) -> Option<u32> {
        if i >= f.npcdata {
            return None;
        }
        let at = f.record.checked_add(f.header)?.checked_add(i as usize * 4)?;
        self.order.u32(self.tab(img), at).filter(|&o| o != 0)
    }

    /// `funcdata[i]` of `f`: the offset from `moduledata.gofunc`, `None` when absent (^0).
    pub(crate) fn funcdata_off(&self, img: &Image, f: &FuncInfo, i: u32) -> Option<u32> {
        if i >= u32::from(f.nfuncdata) {
            return None;
        }
        let at = f
            .record
            .checked_add(f.header)?
            .checked_add((f.npcdata as usize).checked_mul(4)?)?
            .checked_add(i as usize * 4)?;
        self.order.u32(self.tab(img), at).filter(|&o| o != u32::MAX)
    }

    /// The value of the pc-value table at pctab offset `table` for `pc` in the function at `entry`.
    pub(crate) fn pcvalue_at(&self, img: &Image, table: u32, entry: u64, pc: u64) -> Option<i64> {
        self.pcvalue(self.tab(img), table, entry, pc)
    }

    /// Where the ftab entries start, for sanity checks against moduledata.
    pub fn ftab_addr(&self) -> u64 {
        self.addr.saturating_add(self.pcln as u64)
    }
}

#[derive(Clone, Copy)]
enum FuncField {
    NameOff = 4,
    Args = 8,
    Deferreturn = 12,
    PcSp = 16,
    PcFile = 20,
    PcLn = 24,
    Npcdata = 28,
    CuOffset = 32,
}

fn ftab_entry_size(v: PclnVersion, ptr_size: u8) -> usize {
    match v {
        PclnVersion::Go116 => 2 * usize::from(ptr_size),
        _ => 8,
    }
}

/// Find the table: the `.gopclntab` section, else a header-shaped magic in
/// read-only data (stripped of section headers).
pub(crate) fn locate(img: &Image) -> Result<(u64, usize, usize)> {
    if let Some(s) = img.section(".gopclntab") {
        let r = s.file_range.clone().ok_or(BinaryError::NoPclntab)?;
        return Ok((s.addr, r.start as usize, r.end as usize));
    }
    for (base, file_off, bytes) in img.readonly_ranges() {
        for (i, w) in bytes.chunks_exact(8).enumerate() {
            let magic = img.order.u32(w, 0).unwrap_or(0);
            let plausible = matches!(magic, MAGIC_116 | MAGIC_118 | MAGIC_120)
                && w.get(4..6) == Some(&[0, 0])
                && matches!(w.get(6), Some(1 | 2 | 4))
                && w.get(7) == Some(&8);
            if !plausible {
                continue;
            }
            let addr = base.saturating_add((i * 8) as u64);
            let Some(rest) = bytes.get(i * 8..) else {
                continue;
            };
            if Pclntab::parse(addr, rest, img.order, 0).is_ok() {
                let start = file_off.saturating_add(i * 8);
                return Ok((addr, start, start.saturating_add(rest.len())));
            }
        }
    }
    Err(BinaryError::NoPclntab)
}
