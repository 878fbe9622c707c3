//! Finding `runtime.mheap_`: the symbol when `.symtab` is there, else the
//! address `lock(&mheap_.lock)` loads at the top of `runtime.allocmcache.func1`,
//! else a structural scan of `.bss`. Every candidate is checked against the
//! heap itself (`validate`): in-use spans of `allspans` must map back to
//! themselves through `arenas`.

use crate::binary::{Arch, GoBinary};
use crate::memory::{Memory, MemoryExt};

use super::layout::{self, HeapLayout, ARENA_L2_BITS, ARENA_SHIFT, PAGES_PER_ARENA, PAGE_SHIFT, SPAN_IN_USE};

pub const HOW_SYMBOL: &str = "symbol runtime.mheap_";
pub const HOW_CODE: &str = "code reference in runtime.allocmcache.func1";
pub const HOW_SCAN: &str = "structural scan of .bss";

/// Functions that take `&mheap_` first thing, in every version 1.19–1.27.
const CODE_REFS: &[(&str, &str)] = &[
    ("runtime.allocmcache.func1", HOW_CODE),
    ("runtime.freeStackSpans", "code reference in runtime.freeStackSpans"),
    ("runtime.gcResetMarkState", "code reference in runtime.gcResetMarkState"),
];

/// Upper bound on `len(allspans)` (a 100 GiB heap of one-page spans has 13M).
pub const MAX_SPANS: u64 = 1 << 25;

/// How many leading `allspans` entries `validate` follows.
const VALIDATE_SPANS: u64 = 64;

/// The heapArena of `p`, via `arenas[0][arenaIndex(p)]`; `None` when unmapped.
pub fn arena_of(mem: &dyn Memory, l2: u64, arch: Arch, p: u64) -> Option<u64> {
    let ai = p.wrapping_sub(layout::arena_base_offset(arch)) >> ARENA_SHIFT;
    // arenaL1Bits is 0 on linux: anything past L2 is not a heap address.
    if ai >> ARENA_L2_BITS != 0 {
        return None;
    }
    let ha = mem.read_u64(l2.checked_add(ai.checked_mul(8)?)?).ok()?;
    (ha != 0).then_some(ha)
}

/// Checks that `x` is `mheap_`: returns how many in-use spans mapped back
/// to themselves, or why not.
pub fn validate(mem: &dyn Memory, l: &HeapLayout, arch: Arch, x: u64) -> Result<u32, String> {
    let rd = |a: u64, what: &str| mem.read_u64(a).map_err(|e| format!("{what} at {a:#x}: {e}"));
    let base = x.wrapping_add(l.mheap.allspans);
    let ptr = rd(base, "allspans.ptr")?;
    let len = rd(base.wrapping_add(8), "allspans.len")?;
    let cap = rd(base.wrapping_add(16), "allspans.cap")?;
    if ptr == 0 || ptr % 8 != 0 || len == 0 || len > cap || cap > MAX_SPANS {
        return Err(format!(
            "allspans at {base:#x} is {{{ptr:#x}, {len}, {cap}}}, expected a non-empty slice"
        ));
    }
    let l2 = rd(x.wrapping_add(l.mheap.arenas(arch)), "arenas[0]")?;
    if l2 == 0 {
        return Err(format!(
            "arenas[0] at {:#x} is nil",
            x.wrapping_add(l.mheap.arenas(arch))
        ));
    }
    let s = l.span;
    let mut checked = 0u32;
    for i in 0..len.min(VALIDATE_SPANS) {
        let sp = rd(ptr.wrapping_add(i * 8), "allspans[i]")?;
        let state = mem
            .read_u8(sp.wrapping_add(s.state.off))
            .map_err(|e| format!("span {sp:#x}: {e}"))?;
        if state != SPAN_IN_USE {
            continue;
        }
        let start = rd(sp.wrapping_add(s.start_addr.off), "span.startAddr")?;
        let ha = arena_of(mem, l2, arch, start).ok_or_else(|| format!("span {sp:#x}: no arena for {start:#x}"))?;
        let slot = ha
            .wrapping_add(l.arena.spans)
            .wrapping_add(((start >> PAGE_SHIFT) % PAGES_PER_ARENA) * 8);
        let back = rd(slot, "heapArena.spans[i]")?;
        if back != sp {
            return Err(format!(
                "span {sp:#x} (start {start:#x}) maps back to {back:#x} through arenas"
            ));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(format!(
            "none of the first {} allspans entries is in use",
            len.min(VALIDATE_SPANS)
        ));
    }
    Ok(checked)
}

/// `&mheap_` as loaded by the first PC-relative address computation of one
/// of `CODE_REFS` (amd64 `LEAQ x(RIP)`, arm64 `ADRP`+`ADD`). Unchecked.
pub fn by_code(bin: &GoBinary) -> Option<(u64, &'static str)> {
    CODE_REFS.iter().find_map(|&(name, how)| {
        let f = bin.func_by_name(name)?;
        let len = f.end.checked_sub(f.entry)?.min(512);
        let code = bin.read_at(f.entry, len).ok()?;
        let t = match bin.arch() {
            Arch::Amd64 => first_lea_amd64(code, f.entry),
            Arch::Arm64 => first_adrp_add_arm64(code, f.entry),
        }?;
        Some((t, how))
    })
}

/// `REX.W 8D /r` with ModRM mod=00 rm=101: `LEAQ disp32(RIP), reg`.
fn first_lea_amd64(code: &[u8], entry: u64) -> Option<u64> {
    code.windows(7).enumerate().find_map(|(i, w)| match *w {
        [rex, 0x8d, modrm, d0, d1, d2, d3] if rex & 0xf8 == 0x48 && modrm & 0xc7 == 0x05 => {
            let disp = i32::from_le_bytes([d0, d1, d2, d3]);
            let next = entry.checked_add(i as u64 + 7)?;
            Some(next.wrapping_add_signed(i64::from(disp)))
        }
        _ => None,
    })
}

/// `ADRP xd, page` followed by `ADD xd, xd, #lo12`.
fn first_adrp_add_arm64(code: &[u8], entry: u64) -> Option<u64> {
    let insns: Vec<u32> = code
        .chunks_exact(4)
        .map(|c| <[u8; 4]>::try_from(c).map_or(0, u32::from_le_bytes))
        .collect();
    insns.windows(2).enumerate().find_map(|(i, w)| {
        let (&a, &b) = (w.first()?, w.get(1)?);
        if a & 0x9f00_0000 != 0x9000_0000 || b & 0xffc0_0000 != 0x9100_0000 {
            return None;
        }
        let rd = a & 31;
        if b & 31 != rd || (b >> 5) & 31 != rd {
            return None;
        }
        let immlo = u64::from((a >> 29) & 3);
        let immhi = u64::from((a >> 5) & 0x7ffff);
        // 21-bit signed page count.
        let imm = (((immhi << 2) | immlo) << 43) as i64 >> 43;
        let pc = entry.checked_add(i as u64 * 4)?;
        let page = (pc & !0xfff).wrapping_add_signed(imm << 12);
        Some(page.wrapping_add(u64::from((b >> 10) & 0xfff)))
    })
}

/// Every 8-aligned address of `.bss` (then `.noptrbss`) whose `allspans` and
/// `arenas` look right and that passes `validate`; the first that does wins.
pub fn by_scan(bin: &GoBinary, mem: &dyn Memory, l: &HeapLayout) -> Result<u64, String> {
    let arch = bin.arch();
    let mut why = Vec::new();
    for sec in bin
        .sections()
        .iter()
        .filter(|s| s.name == ".bss" || s.name == ".noptrbss")
    {
        // mheap_ is ~92 KiB; .bss of a Go program is a few MiB at most.
        let size = sec.size.min(64 << 20);
        if size < l.mheap.size {
            continue;
        }
        let bytes = match mem.read_vec(sec.addr, size) {
            Ok(b) => b,
            Err(e) => {
                why.push(format!("{} unreadable: {e}", sec.name));
                continue;
            }
        };
        let word = |off: u64| -> Option<u64> {
            let o = usize::try_from(off).ok()?;
            let b = bytes.get(o..o.checked_add(8)?)?;
            Some(u64::from_le_bytes(b.try_into().ok()?))
        };
        let last = size - l.mheap.size;
        let mut off = (8 - sec.addr % 8) % 8;
        while off <= last {
            let a = off + l.mheap.allspans;
            let ok = (|| {
                let (ptr, len, cap) = (word(a)?, word(a + 8)?, word(a + 16)?);
                let arenas = word(off + l.mheap.arenas(arch))?;
                (ptr != 0
                    && ptr % 8 == 0
                    && len != 0
                    && len <= cap
                    && cap <= MAX_SPANS
                    && arenas != 0
                    && arenas % 8 == 0)
                    .then_some(())
            })()
            .is_some();
            if ok {
                let x = sec.addr + off;
                match validate(mem, l, arch, x) {
                    Ok(_) => return Ok(x),
                    Err(e) => why.push(format!("{x:#x}: {e}")),
                }
            }
            off += 8;
        }
    }
    why.truncate(4);
    Err(if why.is_empty() {
        "no .bss word looks like mheap_.allspans".to_string()
    } else {
        why.join("; ")
    })
}
