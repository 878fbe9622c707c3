//! The register tracking of `regs`/`flow`, for arm64: the same abstract
//! values (`Val`: map structure pointers, constants, container sizes) over
//! x0–x30 and the frame, with arm64's transfer rules. Go's arm64
//! ABIInternal passes integer arguments in R0–R15 (the map type in R0, the
//! header in R1 for the access/assign/delete entry points); addresses of
//! globals and type descriptors are `ADRP`+`ADD` pairs, tracked as constants.
//!
//! Where it gives up, as on amd64: every register after a call (stack slots
//! survive), the frame once SP's distance from the entry is unknown,
//! arithmetic other than add/sub of constants, `MADD`/`MUL` by a container
//! size and register-indexed addressing.

use std::collections::BTreeMap;

use yaxpeax_arm::armv8::a64::{Instruction, Opcode, Operand, SizeCode};

use super::arm64::{memory_access, Insn};
use super::flow::Machine;
use super::names::Arg;
use super::regs::{add, clobber_slots, field_load, meet_slots, scalar_only, Base, Ctx, Off, Scalar, Val};

const SP: u16 = 31;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub regs: [Val; 32],
    /// SP minus its value at entry; `None` once unknown.
    pub sp: Option<i64>,
    pub slots: BTreeMap<i64, Val>,
}

impl State {
    pub fn entry(args: &[Arg]) -> State {
        let mut s = State {
            sp: Some(0),
            ..State::default()
        };
        for (a, r) in args.iter().zip(s.regs.iter_mut()) {
            *r = match a {
                Arg::MapType => Val::Ptr(Base::MapType, Off::At(0)),
                Arg::Header => Val::Ptr(Base::Header, Off::At(0)),
                Arg::Table => Val::Ptr(Base::Table, Off::At(0)),
                Arg::Other => Val::Unknown,
            };
        }
        s
    }

    pub fn get(&self, r: u16) -> Val {
        if r == SP {
            return Val::Unknown;
        }
        self.regs.get(usize::from(r)).copied().unwrap_or_default()
    }

    fn set(&mut self, r: u16, v: Val) {
        if r == SP {
            return;
        }
        if let Some(slot) = self.regs.get_mut(usize::from(r)) {
            *slot = v;
        }
    }

    fn meet(&self, o: &State) -> State {
        let mut regs = self.regs;
        for (r, v) in regs.iter_mut().zip(o.regs.iter()) {
            *r = r.meet(*v);
        }
        let sp = if self.sp == o.sp { self.sp } else { None };
        let slots = if sp.is_some() {
            meet_slots(&self.slots, &o.slots)
        } else {
            BTreeMap::new()
        };
        State { regs, sp, slots }
    }

    /// The registers and SP offset without the frame's slots (for stepping an
    /// instruction that reads no memory).
    pub fn registers_only(&self) -> State {
        State {
            regs: self.regs,
            sp: self.sp,
            slots: BTreeMap::new(),
        }
    }

    fn clobber_slots(&mut self, key: i64, width: i64) {
        clobber_slots(&mut self.slots, key, width);
    }
}

/// Where a memory operand points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Stack(i64),
    Field(Base, Off),
    Static(u64),
    Other,
}

/// The memory operand of `i` (the first operand that addresses memory) and
/// the access width, before any writeback.
pub fn mem_target(st: &State, i: &Instruction) -> Option<(Target, u8, bool)> {
    let (width, store) = memory_access(i)?;
    let t = i.operands.iter().find_map(|o| match *o {
        // Pre-indexed (with or without writeback) accesses base + off;
        // post-indexed accesses the base, then adds.
        Operand::RegPreIndex(n, off, _) => Some(base_target(st, n, i64::from(off))),
        Operand::RegPostIndex(n, _) => Some(base_target(st, n, 0)),
        Operand::RegRegOffset(n, m, ..) => Some(match (st.get(n), st.get(m)) {
            (Val::Ptr(b, _), _) if b == Base::Dir => Target::Field(b, Off::Idx(0)),
            (Val::Ptr(b, o), Val::Scalar(Scalar::ContainerMul)) if o == Off::At(0) => Target::Field(b, o),
            (Val::Ptr(b, o), Val::Const(c)) => Target::Field(b, o.add(c as i64)),
            (Val::Ptr(b, o), _) => Target::Field(b, o.indexed()),
            _ => Target::Other,
        }),
        _ => None,
    })?;
    Some((t, width, store))
}

/// `[xn, #off]`.
fn base_target(st: &State, n: u16, off: i64) -> Target {
    if n == SP {
        return match st.sp {
            Some(d) => Target::Stack(d.saturating_add(off)),
            None => Target::Other,
        };
    }
    match st.get(n) {
        Val::Ptr(b, o) => Target::Field(b, o.add(off)),
        Val::Const(c) => Target::Static(c.wrapping_add_signed(off)),
        _ => Target::Other,
    }
}

fn loaded(ctx: &Ctx<'_>, st: &State, t: Target, width: u64) -> Val {
    match t {
        Target::Stack(k) if width == 8 => st.slots.get(&k).copied().unwrap_or_default(),
        Target::Field(b, off) => field_load(ctx, b, off, width),
        _ => Val::Unknown,
    }
}

fn reg_of(o: &Operand) -> Option<(u16, bool)> {
    match *o {
        Operand::Register(size, r) | Operand::RegisterOrSP(size, r) => Some((r, size == SizeCode::X)),
        _ => None,
    }
}

/// The value of a source operand (`xzr` is zero, `sp` unknown).
fn src(st: &State, o: &Operand) -> Val {
    match *o {
        Operand::Register(SizeCode::X, 31) => Val::Const(0),
        Operand::Register(SizeCode::X, r) | Operand::RegisterOrSP(SizeCode::X, r) => st.get(r),
        Operand::Immediate(c) => Val::Const(u64::from(c)),
        Operand::ImmShift(c, s) => Val::Const(u64::from(c).checked_shl(u32::from(s)).unwrap_or(0)),
        // A shifted register: some multiple of it.
        Operand::RegShift(_, _, SizeCode::X, r) => match st.get(r) {
            Val::Scalar(_) => Val::Scalar(Scalar::ContainerMul),
            _ => Val::Unknown,
        },
        _ => Val::Unknown,
    }
}

pub fn step(ctx: &Ctx<'_>, st: &mut State, insn: &Insn) {
    let Some(i) = &insn.ins() else {
        // An undecodable word: nothing is known after it.
        *st = State {
            sp: None,
            ..State::default()
        };
        return;
    };
    let ops = &i.operands;
    match i.opcode {
        Opcode::ADRP => {
            if let [Operand::Register(SizeCode::X, d), Operand::PCOffset(off), ..] = *ops {
                st.set(d, Val::Const((insn.addr & !0xfff).wrapping_add_signed(off)));
            }
            return;
        }
        Opcode::ADD | Opcode::SUB => {
            if let (Some((d, true)), Some((n, true))) = (reg_of(&ops[0]), reg_of(&ops[1])) {
                let b = src(st, &ops[2]);
                if d == SP && n == SP {
                    st.sp = match (st.sp, b) {
                        (Some(s), Val::Const(c)) if i.opcode == Opcode::ADD => Some(s.wrapping_add(c as i64)),
                        (Some(s), Val::Const(c)) => Some(s.wrapping_sub(c as i64)),
                        _ => None,
                    };
                    return;
                }
                let a = if n == SP { Val::Unknown } else { st.get(n) };
                let v = match (i.opcode, b) {
                    (Opcode::ADD, _) => add(a, b),
                    (_, Val::Const(c)) => add(a, Val::Const((c as i64).wrapping_neg() as u64)),
                    _ => Val::Unknown,
                };
                if d == SP {
                    st.sp = None;
                } else {
                    st.set(d, v);
                }
                return;
            }
        }
        // MOV xd, xm is ORR xd, xzr, xm; MOV to/from SP is ADD #0 (above).
        Opcode::ORR => {
            if let [Operand::Register(SizeCode::X, d), Operand::Register(SizeCode::X, 31), Operand::Register(SizeCode::X, m), Operand::Nothing] =
                *ops
            {
                let v = st.get(m);
                st.set(d, v);
                return;
            }
        }
        Opcode::MADD => {
            if let [Operand::Register(SizeCode::X, d), Operand::Register(_, n), Operand::Register(_, m), Operand::Register(_, a)] =
                *ops
            {
                let prod = match (st.get(n), st.get(m)) {
                    (Val::Scalar(_), _) | (_, Val::Scalar(_)) => Val::Scalar(Scalar::ContainerMul),
                    _ => Val::Unknown,
                };
                let v = if a == 31 { prod } else { add(st.get(a), prod) };
                st.set(d, v);
                return;
            }
        }
        Opcode::BL | Opcode::BLR => {
            st.regs = [Val::Unknown; 32];
            return;
        }
        _ => {}
    }
    if let Some((t, width, store)) = mem_target(st, i) {
        let w = u64::from(width);
        let pair = matches!(i.opcode, Opcode::LDP | Opcode::STP | Opcode::LDXP | Opcode::LDAXP);
        if store {
            if let Target::Stack(k) = t {
                st.clobber_slots(k, i64::from(width));
                if let (Some((r, true)), true) = (reg_of(&ops[0]), w == 8 || pair) {
                    st.slots.insert(k, src(st, &Operand::Register(SizeCode::X, r)));
                    if pair {
                        if let Some((r2, true)) = reg_of(&ops[1]) {
                            let v2 = src(st, &Operand::Register(SizeCode::X, r2));
                            st.slots.insert(k.saturating_add(8), v2);
                        }
                    }
                }
            }
        } else {
            let one = if pair { w / 2 } else { w };
            let v0 = loaded(ctx, st, t, one);
            let v1 = match t {
                Target::Stack(k) if pair => loaded(ctx, st, Target::Stack(k.saturating_add(8)), 8),
                Target::Field(b, o) if pair => loaded(ctx, st, Target::Field(b, o.add(8)), 8),
                _ => Val::Unknown,
            };
            if let Some((r, x)) = reg_of(&ops[0]) {
                st.set(r, if x && one == 8 { v0 } else { scalar_only(v0) });
            }
            if pair {
                if let Some((r, x)) = reg_of(&ops[1]) {
                    st.set(r, if x { v1 } else { scalar_only(v1) });
                }
            }
        }
        writeback(st, ops);
        return;
    }
    // Anything else: its destination (and, for two-result forms, the second) is unknown.
    let dests = match i.opcode {
        Opcode::STXR | Opcode::STLXR | Opcode::STXRB | Opcode::STLXRB | Opcode::STXRH | Opcode::STLXRH => 1,
        op if writes_no_register(op) => 0,
        _ => 1,
    };
    for o in ops.iter().take(dests) {
        if let Some((r, _)) = reg_of(o) {
            if r == SP && matches!(o, Operand::RegisterOrSP(..)) {
                st.sp = None;
            } else {
                st.set(r, Val::Unknown);
            }
        }
    }
    writeback(st, ops);
}

fn writes_no_register(op: Opcode) -> bool {
    matches!(
        op,
        Opcode::CBZ
            | Opcode::CBNZ
            | Opcode::TBZ
            | Opcode::TBNZ
            | Opcode::B
            | Opcode::Bcc(_)
            | Opcode::BR
            | Opcode::RET
            | Opcode::PRFM
            | Opcode::PRFUM
    )
}

fn writeback(st: &mut State, ops: &[Operand; 4]) {
    for o in ops.iter() {
        let (n, delta) = match *o {
            Operand::RegPreIndex(n, off, true) | Operand::RegPostIndex(n, off) => (n, Some(i64::from(off))),
            Operand::RegPostIndexReg(n, _) => (n, None),
            _ => continue,
        };
        if n == SP {
            st.sp = match (st.sp, delta) {
                (Some(s), Some(d)) => Some(s.wrapping_add(d)),
                _ => None,
            };
        } else {
            let v = match delta {
                Some(d) => add(st.get(n), Val::Const(d as u64)),
                None => Val::Unknown,
            };
            st.set(n, v);
        }
    }
}

fn successors(insns: &[Insn], i: usize, out: &mut Vec<usize>) {
    out.clear();
    let Some(insn) = insns.get(i) else { return };
    let index_of = |a: u64| {
        let first = insns.first()?.addr;
        let k = usize::try_from(a.checked_sub(first)? / 4).ok()?;
        (a % 4 == first % 4 && k < insns.len()).then_some(k)
    };
    let falls = i + 1 < insns.len();
    match insn.opcode() {
        None | Some(Opcode::BR | Opcode::RET | Opcode::ERET | Opcode::BRK | Opcode::UDF) => {}
        Some(Opcode::B) => out.extend(insn.branch_target().and_then(index_of)),
        Some(Opcode::Bcc(_) | Opcode::CBZ | Opcode::CBNZ | Opcode::TBZ | Opcode::TBNZ) => {
            if falls {
                out.push(i + 1);
            }
            out.extend(insn.branch_target().and_then(index_of));
        }
        Some(_) if falls => out.push(i + 1),
        Some(_) => {}
    }
}

/// arm64 for the shared data flow (`flow::analyse`).
pub struct Arm64<'c> {
    pub ctx: &'c Ctx<'c>,
}

impl Machine for Arm64<'_> {
    type Insn = Insn;
    type State = State;
    fn successors(insns: &[Insn], i: usize, out: &mut Vec<usize>) {
        successors(insns, i, out);
    }
    fn step(&mut self, st: &mut State, insn: &Insn) {
        step(self.ctx, st, insn);
    }
    fn meet(a: &State, b: &State) -> State {
        a.meet(b)
    }
    fn prune(st: &mut State) {
        super::regs::prune_slots(&mut st.slots);
    }
}
