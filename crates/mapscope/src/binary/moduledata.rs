//! `runtime.firstmoduledata` (`runtime/symtab.go`): where the text, the type
//! descriptors and the typelinks are. The per-version field offsets live in
//! [`LAYOUTS`] and nowhere else.

use super::error::{BinaryError, Result};
use super::image::Image;
use super::version::GoVersion;

/// Field positions in pointer-sized words (every field before them is a
/// pointer, a uintptr or a slice, so words are exact on 64-bit targets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuledataLayout {
    pub name: &'static str,
    /// Go 1.N minor versions this layout covers.
    pub minors: (u32, u32),
    pub types: u64,
    pub etypes: u64,
    /// 1.27+: the type descriptors are walked linearly instead of via typelinks.
    /// `typedesclen` ends the typelinks part (unnamed types); `itaboffset` ends
    /// every type descriptor (named ones too; the itabs follow).
    pub typedesclen: Option<u64>,
    pub itaboffset: Option<u64>,
    pub typelinks: Option<u64>,
    /// `rodata`: base of the stack-object GC masks (`stackObjectRecord.gcdataoff`).
    pub rodata: u64,
    /// `gofunc`: base of the funcdata offsets of `_func`.
    pub gofunc: u64,
    /// `gcdatamask` / `gcbssmask`: the `bitvector`s `modulesinit` builds at start-up
    /// from the GC programs; they are in the process's memory, not in the file.
    pub gcdatamask: u64,
    pub gcbssmask: u64,
    pub size: u64,
}

const PCHEADER: u64 = 0;
const MINPC: u64 = 20;
const MAXPC: u64 = 21;
const TEXT: u64 = 22;
const ETEXT: u64 = 23;
// noptrdata … enoptrbss follow etext in every version (go-heap.md §6.5).
const NOPTRDATA: u64 = 24;
const ENOPTRDATA: u64 = 25;
const DATA: u64 = 26;
const EDATA: u64 = 27;
const BSS: u64 = 28;
const EBSS: u64 = 29;
const NOPTRBSS: u64 = 30;
const ENOPTRBSS: u64 = 31;

/// Offsets read from `runtime/symtab.go` of each release and checked against
/// the DWARF of `runtime.moduledata` (go-maps.md §7). 1.20 is inferred from its
/// neighbours: it added covctrs/ecovctrs, which 1.21 has too.
pub const LAYOUTS: &[ModuledataLayout] = &[
    ModuledataLayout {
        name: "go1.18-1.19",
        minors: (18, 19),
        types: 35,
        etypes: 36,
        typedesclen: None,
        itaboffset: None,
        typelinks: Some(42),
        rodata: 37,
        gofunc: 38,
        gcdatamask: 62,
        gcbssmask: 64,
        size: 69,
    },
    ModuledataLayout {
        name: "go1.20-1.22",
        minors: (20, 22),
        types: 37,
        etypes: 38,
        typedesclen: None,
        itaboffset: None,
        typelinks: Some(44),
        rodata: 39,
        gofunc: 40,
        gcdatamask: 67,
        gcbssmask: 69,
        size: 74,
    },
    ModuledataLayout {
        name: "go1.23-1.25",
        minors: (23, 25),
        types: 37,
        etypes: 38,
        typedesclen: None,
        itaboffset: None,
        typelinks: Some(44),
        rodata: 39,
        gofunc: 40,
        gcdatamask: 67,
        gcbssmask: 69,
        size: 73,
    },
    ModuledataLayout {
        name: "go1.26",
        minors: (26, 26),
        types: 37,
        etypes: 38,
        typedesclen: None,
        itaboffset: None,
        typelinks: Some(45),
        rodata: 39,
        gofunc: 40,
        gcdatamask: 68,
        gcbssmask: 70,
        size: 74,
    },
    ModuledataLayout {
        name: "go1.27",
        minors: (27, u32::MAX),
        types: 37,
        etypes: 39,
        typedesclen: Some(38),
        itaboffset: Some(40),
        typelinks: None,
        rodata: 42,
        gofunc: 43,
        gcdatamask: 65,
        gcbssmask: 67,
        size: 71,
    },
];

/// The fields of `runtime.firstmoduledata` mapscope uses.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Moduledata {
    pub addr: u64,
    pub layout: &'static str,
    pub pc_header: u64,
    pub text: u64,
    pub etext: u64,
    pub minpc: u64,
    pub maxpc: u64,
    pub types: u64,
    pub etypes: u64,
    pub typedesclen: Option<u64>,
    /// 1.27+: offset from `types` where the itabs begin, the end of all type
    /// descriptors.
    pub itaboffset: Option<u64>,
    /// (address, length) of the `[]int32` of type offsets (up to 1.26).
    pub typelinks: Option<(u64, u64)>,
    /// Section bounds as the runtime sees them: `[noptrdata, enoptrdata)`, `[data, edata)`,
    /// `[bss, ebss)`, `[noptrbss, enoptrbss)`.
    pub noptrdata: (u64, u64),
    pub data: (u64, u64),
    pub bss: (u64, u64),
    pub noptrbss: (u64, u64),
    pub rodata: u64,
    pub gofunc: u64,
    /// Addresses of the `gcdatamask` / `gcbssmask` bitvector fields (`{n int32, bytedata *uint8}`)
    /// inside moduledata: their contents exist only in a running process or core.
    pub gcdatamask_addr: u64,
    pub gcbssmask_addr: u64,
}

fn read_with(img: &Image, addr: u64, l: &ModuledataLayout) -> Result<Moduledata> {
    let p = u64::from(img.ptr_size);
    let w = |i: u64| img.word(addr.saturating_add(i * p), "runtime.firstmoduledata");
    let typelinks = match l.typelinks {
        Some(i) => Some((w(i)?, w(i + 1)?)),
        None => None,
    };
    Ok(Moduledata {
        addr,
        layout: l.name,
        pc_header: w(PCHEADER)?,
        text: w(TEXT)?,
        etext: w(ETEXT)?,
        minpc: w(MINPC)?,
        maxpc: w(MAXPC)?,
        types: w(l.types)?,
        etypes: w(l.etypes)?,
        typedesclen: match l.typedesclen {
            Some(i) => Some(w(i)?),
            None => None,
        },
        itaboffset: match l.itaboffset {
            Some(i) => Some(w(i)?),
            None => None,
        },
        typelinks,
        noptrdata: (w(NOPTRDATA)?, w(ENOPTRDATA)?),
        data: (w(DATA)?, w(EDATA)?),
        bss: (w(BSS)?, w(EBSS)?),
        noptrbss: (w(NOPTRBSS)?, w(ENOPTRBSS)?),
        rodata: w(l.rodata)?,
        gofunc: w(l.gofunc)?,
        gcdatamask_addr: addr.saturating_add(l.gcdatamask * p),
        gcbssmask_addr: addr.saturating_add(l.gcbssmask * p),
    })
}

/// Does this reading look like the real thing? Cheap structural checks that
/// reject the wrong layout (fields shift by a word or two between versions).
fn plausible(img: &Image, m: &Moduledata, l: &ModuledataLayout) -> bool {
    let p = u64::from(img.ptr_size);
    let cap_ok = match (l.typelinks, m.typelinks) {
        (Some(i), Some((ptr, len))) => {
            let cap = img.word(m.addr.saturating_add((i + 2) * p), "typelinks cap").ok();
            cap == Some(len)
                && len.saturating_mul(4) <= m.etypes.saturating_sub(m.types)
                && (len == 0 || img.is_mapped(ptr))
        }
        _ => true,
    };
    let within = |n: Option<u64>| n.map_or(true, |n| m.types.checked_add(n).is_some_and(|e| e <= m.etypes));
    let desc_ok =
        within(m.typedesclen) && within(m.itaboffset) && m.typedesclen.zip(m.itaboffset).map_or(true, |(d, i)| d <= i);
    m.text < m.etext
        && m.minpc >= m.text
        && m.minpc <= m.maxpc
        && m.types < m.etypes
        && img.is_mapped(m.types)
        && cap_ok
        && desc_ok
}

/// Layouts to try, the version's own first.
fn candidates(version: Option<&GoVersion>) -> Vec<&'static ModuledataLayout> {
    let mut v: Vec<_> = LAYOUTS.iter().collect();
    if let Some(ver) = version {
        v.sort_by_key(|l| !(ver.minor >= l.minors.0 && ver.minor <= l.minors.1));
    }
    v
}

pub(crate) fn locate(img: &Image, pclntab: u64, version: Option<&GoVersion>) -> Result<Moduledata> {
    let layouts = candidates(version);
    let try_at = |addr: u64| -> Option<Moduledata> {
        layouts.iter().find_map(|l| {
            let m = read_with(img, addr, l).ok()?;
            (m.pc_header == pclntab && plausible(img, &m, l)).then_some(m)
        })
    };
    // 1.26+ put firstmoduledata alone in its own section.
    if let Some(s) = img.section(".go.module") {
        return try_at(s.addr).ok_or_else(|| {
            BinaryError::NoModuledata(format!(
                ".go.module at {:#x} does not hold a moduledata whose pcHeader is the pclntab at {pclntab:#x}",
                s.addr
            ))
        });
    }
    // Before 1.26 it is in .noptrdata; its first word points at the pclntab.
    let mut regions: Vec<(u64, &[u8])> = Vec::new();
    if let Some(s) = img.section(".noptrdata") {
        if let Some(b) = img.section_data(s) {
            regions.push((s.addr, b));
        }
    }
    if regions.is_empty() {
        regions = img.writable_ranges().into_iter().map(|(a, _, b)| (a, b)).collect();
    }
    for (base, bytes) in regions {
        for (i, w) in bytes.chunks_exact(8).enumerate() {
            if img.order.u64(w, 0) != Some(pclntab) {
                continue;
            }
            if let Some(m) = try_at(base.saturating_add((i * 8) as u64)) {
                return Ok(m);
            }
        }
    }
    Err(BinaryError::NoModuledata(format!(
        "no word equal to the pclntab address {pclntab:#x} in .noptrdata starts a plausible moduledata"
    )))
}
