//! Finding `runtime.allgs` (`[]*g` in `.bss`): the `.symtab` symbol when the
//! binary has one, else a structural scan of `.bss` (go-heap.md §5): a slice
//! header `{ptr, len, cap}` with `len <= cap` whose every element points to a
//! readable, plausible `g`.

use super::layout::{status, GLayout};
use super::{AllgsSource, RootsError};
use crate::binary::{GoBinary, Moduledata};
use crate::memory::{Memory, MemoryExt};

/// More goroutines than any process has had; bounds the element read.
const MAX_GOROUTINES: u64 = 1 << 24;
/// `.bss` larger than this is not scanned in one read.
const MAX_BSS_SCAN: u64 = 256 << 20;
/// Go's maximum stack on 64-bit (`maxstacksize`, 1 GB) bounds `hi - lo`.
const MAX_STACK: u64 = 1 << 30;

pub(super) struct Found {
    pub addr: u64,
    pub source: AllgsSource,
    pub gs: Vec<u64>,
}

pub(super) fn locate(
    bin: &GoBinary,
    md: &Moduledata,
    mem: &dyn Memory,
    l: &GLayout,
    thread_gs: &[u64],
) -> Result<Found, RootsError> {
    if let Some(sym) = bin.data_symbol("runtime.allgs") {
        let gs = read_slice(mem, sym.addr)?;
        return Ok(Found {
            addr: sym.addr,
            source: AllgsSource::Symbol,
            gs,
        });
    }
    scan_bss(md, mem, l, thread_gs)
}

fn read_slice(mem: &dyn Memory, addr: u64) -> Result<Vec<u64>, RootsError> {
    let rd = |a: u64| {
        mem.read_u64(a).map_err(|source| RootsError::Memory {
            what: "runtime.allgs slice header",
            addr: a,
            source,
        })
    };
    let (ptr, len, cap) = (rd(addr)?, rd(addr + 8)?, rd(addr + 16)?);
    if len > cap || len > MAX_GOROUTINES {
        return Err(RootsError::BadAllgs {
            addr,
            detail: format!("len {len} cap {cap}: expected len <= cap <= {MAX_GOROUTINES}"),
        });
    }
    read_elems(mem, ptr, len).map_err(|source| RootsError::Memory {
        what: "runtime.allgs elements",
        addr: ptr,
        source,
    })
}

fn read_elems(mem: &dyn Memory, ptr: u64, len: u64) -> Result<Vec<u64>, crate::memory::MemoryError> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let bytes = mem.read_vec(ptr, len * 8)?;
    Ok(bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect())
}

/// A readable `g` with a sane stack, status and goid.
pub(super) fn plausible_g(mem: &dyn Memory, l: &GLayout, g: u64) -> bool {
    if g == 0 || g % 8 != 0 {
        return false;
    }
    let (Ok(lo), Ok(hi), Ok(st), Ok(goid)) = (
        mem.read_u64(g + l.stack_lo),
        mem.read_u64(g + l.stack_hi),
        mem.read_u32(g + l.atomicstatus),
        mem.read_u64(g + l.goid),
    ) else {
        return false;
    };
    let stack_ok = (lo == 0 && hi == 0) || (lo < hi && (hi - lo) % 2048 == 0 && hi - lo <= MAX_STACK);
    stack_ok && (st & !status::SCAN) <= status::DEAD_EXTRA && goid < (1 << 40)
}

fn scan_bss(md: &Moduledata, mem: &dyn Memory, l: &GLayout, thread_gs: &[u64]) -> Result<Found, RootsError> {
    let (start, end) = md.bss;
    let size = end.saturating_sub(start);
    if size == 0 || size > MAX_BSS_SCAN {
        return Err(RootsError::NoAllgs(format!(
            "no symbol, and .bss [{start:#x}, {end:#x}) from moduledata is empty or larger than {MAX_BSS_SCAN:#x}"
        )));
    }
    let bss = mem.read_vec(start, size).map_err(|source| RootsError::Memory {
        what: ".bss (scanning for runtime.allgs)",
        addr: start,
        source,
    })?;
    let words: Vec<u64> = bss
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
        .collect();
    // (address, elements, holds a thread's g)
    let mut best: Option<(u64, Vec<u64>, bool)> = None;
    for (i, w) in words.windows(3).enumerate() {
        let &[ptr, len, cap] = w else { continue };
        if ptr == 0 || ptr % 8 != 0 || len == 0 || len > cap || cap > MAX_GOROUTINES {
            continue;
        }
        // Cheap pre-check on the first element before reading them all.
        let Ok(first) = mem.read_u64(ptr) else { continue };
        if !plausible_g(mem, l, first) {
            continue;
        }
        let Ok(gs) = read_elems(mem, ptr, len) else { continue };
        if !gs.iter().all(|&g| plausible_g(mem, l, g)) {
            continue;
        }
        let has_thread_g = gs.iter().any(|g| thread_gs.contains(g));
        let better = match &best {
            None => true,
            Some((_, b, bt)) => (has_thread_g, gs.len()) > (*bt, b.len()),
        };
        if better {
            best = Some((start + i as u64 * 8, gs, has_thread_g));
        }
    }
    match best {
        Some((addr, gs, t)) => Ok(Found {
            addr,
            source: if t { AllgsSource::ThreadG } else { AllgsSource::BssScan },
            gs,
        }),
        None => Err(RootsError::NoAllgs(format!(
            "no symbol, and no slice in .bss [{start:#x}, {end:#x}) whose elements are all plausible goroutines"
        ))),
    }
}
