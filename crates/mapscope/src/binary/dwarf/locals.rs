//! Locals and parameters of functions from DWARF: which variable's stack
//! memory holds an address, at a given PC of a frame.
//!
//! The Go compiler (`cmd/compile/internal/dwarfgen`, `cmd/internal/dwarf`)
//! gives every subprogram `DW_AT_frame_base = DW_OP_call_frame_cfa` and
//! describes a stack-resident variable as `DW_OP_call_frame_cfa [DW_OP_consts
//! N DW_OP_plus]` or `DW_OP_fbreg N`, both relative to the CFA (amd64: the SP
//! before the CALL pushed the return address, `sp + framesize + 8`; arm64:
//! `sp + framesize`). Optimized code has location lists (DWARF 4 `.debug_loc`,
//! DWARF 5 `.debug_loclists` from Go 1.25) keyed by PC, whose entries may be
//! split into `DW_OP_piece`s living in registers or on the stack. Inlined
//! calls (`DW_TAG_inlined_subroutine`) carry their own variables whose name and
//! type come from the abstract function through `DW_AT_abstract_origin`.
//!
//! Nothing here is built when DWARF is loaded: the table of subprograms is
//! made on the first lookup, and each function's variables are decoded on the
//! first lookup in that function and cached.

use std::sync::Arc;

use gimli::{AttributeValue, UnitOffset};

use super::{derr, DwarfIndex, R};
use crate::binary::error::Result;

/// Nesting of lexical blocks and inlined calls inside one subprogram.
const MAX_NESTING: u32 = 64;
/// Variables decoded per subprogram (inlined ones included).
/// `DW_AT_go_closure_offset` (cmd/internal/dwarf).
const DW_AT_GO_CLOSURE_OFFSET: gimli::DwAt = gimli::DwAt(0x2907);
const MAX_VARS: usize = 1 << 16;
/// Entries read from one location list.
const MAX_LOCLIST_ENTRIES: usize = 1 << 14;
/// Operations read from one location expression.
const MAX_OPS: usize = 256;
/// Values on the little expression stack.
const MAX_STACK: usize = 16;
/// Address ranges read for one scope (lexical block or inlined call).
const MAX_RANGES: usize = 1 << 12;
/// A variable of a size beyond this is treated as unknown-sized (one word).
const MAX_VAR_SIZE: u64 = 1 << 32;

/// A local variable or parameter whose stack memory holds an address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FrameLocal {
    /// The DWARF name, as in the source (`m`, `out`, `~r0`).
    pub name: String,
    /// Address of the matching stack memory: the whole variable, or the one
    /// `DW_OP_piece` of it that holds the address.
    pub slot: u64,
    /// Bytes at `slot` that belong to the variable.
    pub len: u64,
    /// Offset of `slot` within the variable (non-zero for a later piece).
    pub offset: u64,
    /// A `DW_TAG_formal_parameter` (argument or result).
    pub param: bool,
    /// Declared in a function inlined into this frame's function.
    pub inlined: bool,
    /// Offset in .debug_info of the variable's type (`TypeId::Dwarf`).
    pub type_offset: Option<u64>,
}

/// One subprogram with code: `[low, high)` and its DIE (offset in `.debug_info`).
#[derive(Debug, Clone, Copy)]
struct Sub {
    low: u64,
    high: u64,
    die: u64,
}

/// Subprograms by `low_pc`, built on first use.
pub(crate) struct FrameIndex {
    subs: Vec<Sub>,
}

impl FrameIndex {
    /// The subprogram whose code holds `pc`, preferring the one that starts at `entry`.
    fn find(&self, entry: u64, pc: u64) -> Option<Sub> {
        let i = self.subs.partition_point(|s| s.low <= entry);
        let s = *self.subs.get(i.checked_sub(1)?)?;
        ((s.low <= pc && pc < s.high) || (s.low == entry && pc == entry)).then_some(s)
    }

    pub(crate) fn len(&self) -> usize {
        self.subs.len()
    }
}

/// A variable of one subprogram, decoded.
#[derive(Debug)]
pub(crate) struct Local {
    name: String,
    param: bool,
    inlined: bool,
    type_offset: Option<u64>,
    closure_offset: Option<u64>,
    /// PC ranges of the innermost lexical block or inlined call around the
    /// variable; empty when it is the subprogram's own (valid everywhere in it).
    scope: Vec<(u64, u64)>,
    loc: Loc,
}

#[derive(Debug)]
enum Loc {
    /// A single location expression, valid wherever the variable is in scope.
    Always(Vec<Piece>),
    /// `[begin, end)` → the pieces there.
    List(Vec<(u64, u64, Vec<Piece>)>),
}

/// A piece of a variable's location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Piece {
    /// Offset of the piece within the variable.
    var_off: u64,
    len: u64,
    /// `Some(n)`: the piece is memory at CFA + n. `None`: a register, a
    /// constant, optimized out, or an expression this decoder does not know.
    cfa_off: Option<i64>,
}

impl Local {
    fn pieces_at(&self, pc: u64) -> &[Piece] {
        match &self.loc {
            Loc::Always(p) => {
                if self.scope.is_empty() || self.scope.iter().any(|&(lo, hi)| lo <= pc && pc < hi) {
                    p
                } else {
                    &[]
                }
            }
            Loc::List(l) => l
                .iter()
                .find(|(b, e, _)| *b <= pc && pc < *e)
                .map_or(&[][..], |(_, _, p)| p.as_slice()),
        }
    }
}

impl DwarfIndex {
    /// The subprogram table, built on first call.
    pub(crate) fn frame_index(&self) -> &FrameIndex {
        self.frames.get_or_init(|| self.build_frame_index())
    }

    fn build_frame_index(&self) -> FrameIndex {
        let mut subs = Vec::new();
        for (start, unit) in &self.units {
            // A unit that cannot be walked contributes what was read before the error.
            let _ = self.unit_subprograms(*start, unit, &mut subs);
        }
        subs.sort_by_key(|s| (s.low, s.high));
        subs.dedup_by_key(|s| s.low);
        FrameIndex { subs }
    }

    fn unit_subprograms(&self, start: u64, unit: &gimli::Unit<R>, out: &mut Vec<Sub>) -> Result<()> {
        let mut tree = unit.entries_tree(None).map_err(derr)?;
        let root = tree.root().map_err(derr)?;
        let mut children = root.children();
        while let Some(child) = children.next().map_err(derr)? {
            let e = child.entry();
            if e.tag() != gimli::DW_TAG_subprogram {
                continue;
            }
            if let Some((low, high)) = self.low_high(unit, e) {
                out.push(Sub {
                    low,
                    high,
                    die: start.saturating_add(e.offset().0 as u64),
                });
            }
        }
        Ok(())
    }

    /// `DW_AT_low_pc`/`DW_AT_high_pc` (an address, or a length from low_pc).
    fn low_high(&self, unit: &gimli::Unit<R>, e: &gimli::DebuggingInformationEntry<R>) -> Option<(u64, u64)> {
        let low = self
            .dwarf
            .attr_address(unit, e.attr_value(gimli::DW_AT_low_pc).ok()??)
            .ok()??;
        let high = match e.attr_value(gimli::DW_AT_high_pc).ok()?? {
            AttributeValue::Udata(n) => low.checked_add(n)?,
            v => self.dwarf.attr_address(unit, v).ok()??,
        };
        (high > low).then_some((low, high))
    }

    /// PC ranges of a lexical block or inlined call (`low_pc`/`high_pc` or `DW_AT_ranges`).
    fn scope_ranges(&self, unit: &gimli::Unit<R>, e: &gimli::DebuggingInformationEntry<R>) -> Vec<(u64, u64)> {
        if let Some(r) = self.low_high(unit, e) {
            return vec![r];
        }
        let mut out = Vec::new();
        let Some(v) = e.attr_value(gimli::DW_AT_ranges).ok().flatten() else {
            return out;
        };
        if let Ok(Some(mut it)) = self.lists().attr_ranges(unit, v) {
            while let Ok(Some(r)) = it.next() {
                if r.end > r.begin {
                    out.push((r.begin, r.end));
                }
                if out.len() >= MAX_RANGES {
                    break;
                }
            }
        }
        out
    }

    /// The variables of the subprogram whose DIE is at `die`, decoded once and cached.
    fn locals_of(&self, die: u64) -> Option<Arc<[Local]>> {
        if let Some(l) = self.locals.lock().ok().and_then(|c| c.get(&die).cloned()) {
            return Some(l);
        }
        let l: Arc<[Local]> = self.decode_locals(die)?.into();
        if let Ok(mut c) = self.locals.lock() {
            c.insert(die, l.clone());
        }
        Some(l)
    }

    fn decode_locals(&self, die: u64) -> Option<Vec<Local>> {
        let (start, unit) = self.unit_for(die)?;
        let uo = UnitOffset(usize::try_from(die.checked_sub(*start)?).ok()?);
        let sub = unit.entry(uo).ok()?;
        // Go always sets DW_OP_call_frame_cfa; anything else leaves DW_OP_fbreg undecoded.
        let fb_is_cfa = match sub.attr_value(gimli::DW_AT_frame_base).ok().flatten() {
            None => true,
            Some(AttributeValue::Exprloc(e)) => matches!(
                e.operations(unit.encoding()).next(),
                Ok(Some(gimli::Operation::CallFrameCFA))
            ),
            Some(_) => false,
        };
        let mut tree = unit.entries_tree(Some(uo)).ok()?;
        let root = tree.root().ok()?;
        let mut out = Vec::new();
        let cx = Cx {
            unit,
            start: *start,
            fb_is_cfa,
        };
        // Errors inside the tree keep what was decoded so far.
        let _ = self.walk_scope(&cx, root, &[], false, 0, &mut out);
        Some(out)
    }

    fn walk_scope(
        &self,
        cx: &Cx<'_>,
        node: gimli::EntriesTreeNode<'_, '_, '_, R>,
        scope: &[(u64, u64)],
        inlined: bool,
        depth: u32,
        out: &mut Vec<Local>,
    ) -> Result<()> {
        let mut children = node.children();
        while let Some(child) = children.next().map_err(derr)? {
            if out.len() >= MAX_VARS {
                return Ok(());
            }
            let e = child.entry();
            match e.tag() {
                gimli::DW_TAG_variable | gimli::DW_TAG_formal_parameter => {
                    if let Some(l) = self.decode_local(cx, e, scope, inlined) {
                        out.push(l);
                    }
                }
                t @ (gimli::DW_TAG_lexical_block | gimli::DW_TAG_inlined_subroutine) if depth < MAX_NESTING => {
                    let r = self.scope_ranges(cx.unit, e);
                    let inner = if r.is_empty() { scope.to_vec() } else { r };
                    let inl = inlined || t == gimli::DW_TAG_inlined_subroutine;
                    self.walk_scope(cx, child, &inner, inl, depth + 1, out)?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn decode_local(
        &self,
        cx: &Cx<'_>,
        e: &gimli::DebuggingInformationEntry<R>,
        scope: &[(u64, u64)],
        inlined: bool,
    ) -> Option<Local> {
        // Go ≥1.23: where a closure's captured variable sits in its funcval.
        let closure_offset = e
            .attr_value(DW_AT_GO_CLOSURE_OFFSET)
            .ok()
            .flatten()
            .and_then(|v| v.udata_value());
        let loc = e.attr_value(gimli::DW_AT_location).ok().flatten();
        if loc.is_none() && closure_offset.is_none() {
            return None;
        }
        let mut name = self.name_of(cx.unit, e);
        let mut ty = e
            .attr_value(gimli::DW_AT_type)
            .ok()
            .flatten()
            .and_then(|v| self.ref_offset(cx.unit, cx.start, &v));
        if name.is_none() || ty.is_none() {
            // A concrete instance (inlined or out of line) names its abstract variable.
            let origin = e
                .attr_value(gimli::DW_AT_abstract_origin)
                .ok()
                .flatten()
                .and_then(|v| self.ref_offset(cx.unit, cx.start, &v));
            if let Some(o) = origin {
                let (oname, oty) = self
                    .with_entry(o, |u, s, oe| {
                        let t = oe
                            .attr_value(gimli::DW_AT_type)
                            .ok()
                            .flatten()
                            .and_then(|v| self.ref_offset(u, s, &v));
                        Some((self.name_of(u, oe), t))
                    })
                    .unwrap_or((None, None));
                name = name.or(oname);
                ty = ty.or(oty);
            }
        }
        let name = name?;
        let size = ty
            .and_then(|t| self.size_of(t, 0))
            .filter(|&s| s > 0 && s <= MAX_VAR_SIZE)
            .unwrap_or(8);
        let loc = match loc {
            None => Loc::List(Vec::new()),
            Some(AttributeValue::Exprloc(expr)) => Loc::Always(pieces(&expr, cx.unit.encoding(), size, cx.fb_is_cfa)),
            Some(v) => {
                let mut it = self.lists().attr_locations(cx.unit, v).ok()??;
                let mut list = Vec::new();
                while let Ok(Some(le)) = it.next() {
                    if le.range.end > le.range.begin {
                        let p = pieces(&le.data, cx.unit.encoding(), size, cx.fb_is_cfa);
                        list.push((le.range.begin, le.range.end, p));
                    }
                    if list.len() >= MAX_LOCLIST_ENTRIES {
                        break;
                    }
                }
                Loc::List(list)
            }
        };
        Some(Local {
            name,
            param: e.tag() == gimli::DW_TAG_formal_parameter,
            inlined,
            type_offset: ty,
            closure_offset,
            scope: scope.to_vec(),
            loc,
        })
    }

    /// The variable a closure function captured at byte `offset` of its
    /// funcval (`DW_AT_go_closure_offset`, Go ≥1.23), with its type.
    pub(crate) fn closure_capture(&self, entry: u64, offset: u64) -> Option<FrameLocal> {
        let sub = self.frame_index().find(entry, entry)?;
        let locals = self.locals_of(sub.die)?;
        let l = locals.iter().find(|l| !l.inlined && l.closure_offset == Some(offset))?;
        Some(FrameLocal {
            name: l.name.clone(),
            slot: offset,
            len: 8,
            offset: 0,
            param: l.param,
            inlined: false,
            type_offset: l.type_offset,
        })
    }

    /// The variable whose stack memory holds `addr` in the frame of the
    /// function at `entry`, stopped at `pc` with canonical frame address `cfa`.
    ///
    /// `pc` is the frame's PC as the unwinder reports it (a return address for
    /// callers); like the runtime, the lookup uses `pc - 1` unless `pc` is the
    /// entry. Only stack locations count: a variable held in a register at
    /// that PC does not match. When several match (overlapping pieces), the
    /// smallest one wins.
    pub(crate) fn frame_local(&self, entry: u64, pc: u64, cfa: u64, addr: u64) -> Option<FrameLocal> {
        let lpc = if pc != entry { pc.checked_sub(1)? } else { pc };
        let sub = self.frame_index().find(entry, lpc)?;
        let locals = self.locals_of(sub.die)?;
        let mut best: Option<(&Local, Piece, u64)> = None;
        for l in locals.iter() {
            for p in l.pieces_at(lpc) {
                let Some(off) = p.cfa_off else { continue };
                let slot = cfa.wrapping_add(off as u64);
                if addr >= slot && addr - slot < p.len && best.as_ref().map_or(true, |b| p.len < b.1.len) {
                    best = Some((l, *p, slot));
                }
            }
        }
        best.map(|(l, p, slot)| FrameLocal {
            name: l.name.clone(),
            slot,
            len: p.len,
            offset: p.var_off,
            param: l.param,
            inlined: l.inlined,
            type_offset: l.type_offset,
        })
    }

    /// Every stack-resident variable (or piece) of the frame, in DIE order.
    pub(crate) fn frame_locals(&self, entry: u64, pc: u64, cfa: u64) -> Vec<FrameLocal> {
        let lpc = if pc != entry { pc.saturating_sub(1) } else { pc };
        let Some(locals) = self.frame_index().find(entry, lpc).and_then(|s| self.locals_of(s.die)) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for l in locals.iter() {
            for p in l.pieces_at(lpc) {
                if let Some(off) = p.cfa_off {
                    out.push(FrameLocal {
                        name: l.name.clone(),
                        slot: cfa.wrapping_add(off as u64),
                        len: p.len,
                        offset: p.var_off,
                        param: l.param,
                        inlined: l.inlined,
                        type_offset: l.type_offset,
                    });
                }
            }
        }
        out
    }
}

/// What decoding one subprogram's variables needs to carry along.
struct Cx<'a> {
    unit: &'a gimli::Unit<R>,
    start: u64,
    fb_is_cfa: bool,
}

/// A value on the expression stack, as far as stack locations need.
#[derive(Clone, Copy)]
enum Val {
    Cfa(i64),
    Const(i64),
    Unknown,
}

/// The pieces of one location expression. Without `DW_OP_piece` the whole
/// variable (`size` bytes) is one piece.
fn pieces(expr: &gimli::Expression<R>, enc: gimli::Encoding, size: u64, fb_is_cfa: bool) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut stack: Vec<Val> = Vec::new();
    // The current piece is not memory (a register, a value, an unknown op).
    let mut not_mem = false;
    let mut var_off = 0u64;
    let mut ops = expr.clone().operations(enc);
    let push = |stack: &mut Vec<Val>, v: Val| {
        if stack.len() < MAX_STACK {
            stack.push(v);
        }
    };
    for _ in 0..MAX_OPS {
        let op = match ops.next() {
            Ok(Some(op)) => op,
            Ok(None) => break,
            Err(_) => return Vec::new(),
        };
        match op {
            gimli::Operation::CallFrameCFA => push(&mut stack, Val::Cfa(0)),
            gimli::Operation::FrameOffset { offset } => {
                push(&mut stack, if fb_is_cfa { Val::Cfa(offset) } else { Val::Unknown })
            }
            gimli::Operation::SignedConstant { value } => push(&mut stack, Val::Const(value)),
            gimli::Operation::UnsignedConstant { value } => push(&mut stack, Val::Const(value as i64)),
            gimli::Operation::Plus | gimli::Operation::Minus => {
                let minus = matches!(op, gimli::Operation::Minus);
                let (b, a) = (stack.pop(), stack.pop());
                let v = match (a, b) {
                    (Some(Val::Cfa(x)), Some(Val::Const(c))) => {
                        Val::Cfa(if minus { x.wrapping_sub(c) } else { x.wrapping_add(c) })
                    }
                    (Some(Val::Const(c)), Some(Val::Cfa(x))) if !minus => Val::Cfa(x.wrapping_add(c)),
                    (Some(Val::Const(x)), Some(Val::Const(c))) => {
                        Val::Const(if minus { x.wrapping_sub(c) } else { x.wrapping_add(c) })
                    }
                    _ => Val::Unknown,
                };
                push(&mut stack, v);
            }
            gimli::Operation::PlusConstant { value } => {
                let v = match stack.pop() {
                    Some(Val::Cfa(x)) => Val::Cfa(x.wrapping_add(value as i64)),
                    Some(Val::Const(x)) => Val::Const(x.wrapping_add(value as i64)),
                    _ => Val::Unknown,
                };
                push(&mut stack, v);
            }
            gimli::Operation::Nop => {}
            gimli::Operation::Piece {
                size_in_bits,
                bit_offset,
            } => {
                let len = size_in_bits / 8;
                let cfa_off = match (not_mem, bit_offset.unwrap_or(0), stack.last()) {
                    (false, 0, Some(Val::Cfa(x))) if size_in_bits % 8 == 0 => Some(*x),
                    _ => None,
                };
                if len > 0 {
                    out.push(Piece { var_off, len, cfa_off });
                }
                var_off = var_off.saturating_add(len);
                stack.clear();
                not_mem = false;
            }
            // Registers, values, and anything else: not a stack slot.
            _ => not_mem = true,
        }
    }
    if out.is_empty() && !not_mem {
        if let Some(Val::Cfa(x)) = stack.last() {
            out.push(Piece {
                var_off: 0,
                len: size,
                cfa_off: Some(*x),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(bytes: &[u8], size: u64) -> Vec<Piece> {
        let enc = gimli::Encoding {
            address_size: 8,
            format: gimli::Format::Dwarf32,
            version: 5,
        };
        let data: Arc<[u8]> = Arc::from(bytes);
        let expr = gimli::Expression(gimli::EndianArcSlice::new(data, gimli::RunTimeEndian::Little));
        pieces(&expr, enc, size, true)
    }

    const CFA: u8 = 0x9c;
    const FBREG: u8 = 0x91;
    const CONSTS: u8 = 0x11;
    const PLUS: u8 = 0x22;
    const PIECE: u8 = 0x93;
    const REG0: u8 = 0x50;

    fn p(var_off: u64, len: u64, cfa_off: Option<i64>) -> Piece {
        Piece { var_off, len, cfa_off }
    }

    #[test]
    fn cfa_alone_and_with_offset() {
        assert_eq!(run(&[CFA], 8), vec![p(0, 8, Some(0))]);
        // -40 as SLEB128 is 0x58.
        assert_eq!(run(&[CFA, CONSTS, 0x58, PLUS], 16), vec![p(0, 16, Some(-40))]);
        // fbreg -296: SLEB128 0xd8 0x7d.
        assert_eq!(run(&[FBREG, 0xd8, 0x7d], 8), vec![p(0, 8, Some(-296))]);
    }

    #[test]
    fn registers_are_not_slots() {
        assert_eq!(run(&[REG0], 8), vec![]);
        assert_eq!(
            run(&[REG0, PIECE, 8, FBREG, 0x58, PIECE, 8], 16),
            vec![p(0, 8, None), p(8, 8, Some(-40))]
        );
        // An empty piece is an optimized-out part.
        assert_eq!(
            run(&[PIECE, 8, CFA, PIECE, 8], 16),
            vec![p(0, 8, None), p(8, 8, Some(0))]
        );
    }

    #[test]
    fn garbage_is_harmless() {
        assert_eq!(run(&[], 8), vec![]);
        assert_eq!(run(&[PLUS, PLUS, PLUS], 8), vec![]);
        assert_eq!(run(&[0xff, 0xff, 0xff], 8), vec![]);
        assert_eq!(run(&[FBREG], 8), vec![]);
        let long = vec![CFA; 10_000];
        assert_eq!(run(&long, 8), vec![p(0, 8, Some(0))]);
    }
}
