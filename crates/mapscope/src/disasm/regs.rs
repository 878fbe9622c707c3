//! What a general-purpose register (or a stack slot) is known to hold, and
//! how one instruction changes that. Deliberately small: the abstract values
//! are "a pointer to (an offset in) a map structure", "a constant", and the
//! few scalars that turn a bucket/group index into an address. Anything the
//! model does not cover makes the destination unknown, so a label is only
//! ever printed for a register we can follow from the function's entry.
//!
//! Where it gives up (by design):
//! - after any `call`, every register is unknown (ABIInternal has no
//!   callee-saved registers); stack slots survive, since Go keeps spilled
//!   values in its own frame,
//! - stack slots are tracked only while RSP's distance from the entry is
//!   known (push/pop, `sub/add rsp, imm`),
//! - 32/16/8-bit writes to a register make it unknown (a pointer never
//!   lives in a partial register),
//! - memory other than the stack frame is not modelled: a pointer stored to
//!   the heap and read back is unknown,
//! - arithmetic other than add/sub of constants, `imul` by a bucket/group
//!   size, and `base + index` address forms makes the result unknown.

use std::collections::BTreeMap;

use iced_x86::{Instruction, InstructionInfoFactory, Mnemonic, OpAccess, OpKind, Register};

use super::fields::FieldTable;
use super::names::Arg;

/// The map structure a pointer points into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Base {
    MapType,
    /// `hmap` or `maps.Map`.
    Header,
    /// A classic bucket (`bmap` plus keys, elems, overflow).
    Bucket,
    Table,
    Group,
    /// What `maps.Map.dirPtr` points at: the directory of a large map
    /// (`[dirLen]*table`) or the single group of a small one.
    Dir,
}

/// Where in the structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Off {
    At(i64),
    /// At least this offset, plus an index we do not know (a loop cursor).
    Idx(i64),
    /// Relative to the end of the bucket (`bucketsize` from the type).
    End(i64),
    Var,
}

impl Off {
    pub(super) fn add(self, c: i64) -> Off {
        match self {
            Off::At(n) => Off::At(n.saturating_add(c)),
            Off::Idx(n) if c >= 0 => Off::Idx(n.saturating_add(c)),
            Off::End(n) => Off::End(n.saturating_add(c)),
            _ => Off::Var,
        }
    }

    /// An unknown non-negative index added.
    pub(super) fn indexed(self) -> Off {
        match self {
            Off::At(n) | Off::Idx(n) => Off::Idx(n),
            _ => Off::Var,
        }
    }

    fn meet(self, o: Off) -> Off {
        match (self, o) {
            (a, b) if a == b => a,
            (Off::At(a) | Off::Idx(a), Off::At(b) | Off::Idx(b)) if a.min(b) >= 0 => Off::Idx(a.min(b)),
            _ => Off::Var,
        }
    }
}

/// Scalars that matter for address arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `MapType.BucketSize` / `MapType.GroupSize` as loaded.
    ContainerSize,
    /// Some multiple of it: an index scaled to a bucket/group boundary.
    ContainerMul,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Val {
    #[default]
    Unknown,
    Const(u64),
    Ptr(Base, Off),
    Scalar(Scalar),
}

impl Val {
    pub(super) fn meet(self, o: Val) -> Val {
        match (self, o) {
            (a, b) if a == b => a,
            (Val::Ptr(a, x), Val::Ptr(b, y)) if a == b => Val::Ptr(a, x.meet(y)),
            (Val::Scalar(_), Val::Scalar(_)) => Val::Scalar(Scalar::ContainerMul),
            _ => Val::Unknown,
        }
    }
}

/// Registers and the frame, before one instruction.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub regs: [Val; 16],
    /// RSP minus its value at entry; `None` once unknown.
    pub rsp: Option<i64>,
    /// Entry-relative stack offset → value (only known values are kept).
    pub slots: BTreeMap<i64, Val>,
}

impl State {
    /// On entry: the argument registers per the name table.
    pub fn entry(args: &[Arg]) -> State {
        // ABIInternal integer argument order (cmd/compile/abi-internal.md).
        const ORDER: [Register; 9] = [
            Register::RAX,
            Register::RBX,
            Register::RCX,
            Register::RDI,
            Register::RSI,
            Register::R8,
            Register::R9,
            Register::R10,
            Register::R11,
        ];
        let mut s = State {
            rsp: Some(0),
            ..State::default()
        };
        for (a, r) in args.iter().zip(ORDER) {
            let v = match a {
                Arg::MapType => Val::Ptr(Base::MapType, Off::At(0)),
                Arg::Header => Val::Ptr(Base::Header, Off::At(0)),
                Arg::Table => Val::Ptr(Base::Table, Off::At(0)),
                Arg::Other => Val::Unknown,
            };
            s.set(r, v);
        }
        s
    }

    pub fn get(&self, r: Register) -> Val {
        gpr(r).and_then(|i| self.regs.get(i).copied()).unwrap_or_default()
    }

    fn set(&mut self, r: Register, v: Val) {
        if let Some(slot) = gpr(r).and_then(|i| self.regs.get_mut(i)) {
            *slot = v;
        }
    }

    /// Joins two paths: what both agree on survives.
    pub fn meet(&self, o: &State) -> State {
        let mut regs = self.regs;
        for (r, v) in regs.iter_mut().zip(o.regs.iter()) {
            *r = r.meet(*v);
        }
        let rsp = if self.rsp == o.rsp { self.rsp } else { None };
        let slots = if rsp.is_some() {
            meet_slots(&self.slots, &o.slots)
        } else {
            BTreeMap::new()
        };
        State { regs, rsp, slots }
    }

    fn clobber_slots(&mut self, key: i64, width: i64) {
        clobber_slots(&mut self.slots, key, width);
    }
}

/// What a join block's stored state keeps of the frame: the slots holding
/// pointers the labels need, not the constants. Go's write-barrier branches
/// make a join after every pointer store, and a large frame's constants at
/// each join were most of the memory (4.4M slots, 400 MB, in aws-sdk-go's
/// endpoints.init). Constants are still followed inside each tree.
pub(super) fn prune_slots(slots: &mut BTreeMap<i64, Val>) {
    slots.retain(|_, v| !matches!(v, Val::Const(_)));
}

/// Stack slots both paths agree on (the same frame on both sides).
pub(super) fn meet_slots(a: &BTreeMap<i64, Val>, b: &BTreeMap<i64, Val>) -> BTreeMap<i64, Val> {
    a.iter()
        .filter_map(|(k, v)| {
            let m = v.meet(b.get(k).copied().unwrap_or_default());
            (m != Val::Unknown).then_some((*k, m))
        })
        .collect()
}

/// A store of `width` bytes at `key` ends every slot it overlaps (slots are
/// up to 8 bytes wide, so one starting 7 bytes below is hit too).
pub(super) fn clobber_slots(slots: &mut BTreeMap<i64, Val>, key: i64, width: i64) {
    let lo = key.saturating_sub(7);
    let hi = key.saturating_add(width.max(1));
    let gone: Vec<i64> = slots.range(lo..hi).map(|(k, _)| *k).collect();
    for k in gone {
        slots.remove(&k);
    }
}

/// 0..16 for RAX..R15 (encoding order), for 64-bit registers only.
fn gpr(r: Register) -> Option<usize> {
    r.is_gpr64().then(|| r.number())
}

fn is_partial_gpr(r: Register) -> bool {
    r.is_gpr() && !r.is_gpr64()
}

/// Per-function facts the transfer needs.
pub struct Ctx<'a> {
    pub fields: Option<&'a FieldTable>,
    /// In `*Small*` Swiss functions `dirPtr` is known to be one group.
    pub small: bool,
    /// Key size of a `_fast32/_fast64/_faststr` specialisation.
    pub key_size: Option<u64>,
}

/// What a memory operand refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `[rsp+…]` at this entry-relative offset.
    Stack(i64),
    /// A map structure.
    Field(Base, Off),
    /// `[rip+…]`: a static address.
    Static(u64),
    Other,
}

/// The memory operand of `ins` (there is at most one in the forms we model).
pub fn mem_target(st: &State, ins: &Instruction) -> Target {
    if ins.is_ip_rel_memory_operand() {
        return Target::Static(ins.ip_rel_memory_address());
    }
    let disp = ins.memory_displacement64() as i64;
    let (base, index, scale) = (ins.memory_base(), ins.memory_index(), ins.memory_index_scale());
    if base == Register::RSP && index == Register::None {
        return match st.rsp {
            Some(d) => Target::Stack(d.saturating_add(disp)),
            None => Target::Other,
        };
    }
    let bv = if base == Register::None {
        Val::Unknown
    } else {
        st.get(base)
    };
    let iv = if index == Register::None {
        None
    } else {
        Some(st.get(index))
    };
    // Go's assembler writes `[bucket+i]` as often as `[i+bucket]`.
    let (bv, iv) = match (bv, iv) {
        (Val::Ptr(..), _) => (bv, iv),
        (_, Some(p @ Val::Ptr(..))) if scale == 1 => (p, Some(bv)),
        _ => (bv, iv),
    };
    let Val::Ptr(b, off) = bv else {
        return Target::Other;
    };
    let off = match iv {
        None => off.add(disp),
        Some(Val::Scalar(Scalar::ContainerSize)) if b == Base::Bucket => match off {
            Off::At(n) => Off::End(n.saturating_add(disp)),
            _ => Off::Var,
        },
        // base + k·size is the start of another bucket/group of the array.
        Some(Val::Scalar(Scalar::ContainerMul)) if off == Off::At(0) => Off::At(disp),
        // Any index into the directory is "some entry": keeps the transfer
        // monotone when a path with a constant index joins one without.
        Some(_) if b == Base::Dir => Off::Idx(0),
        Some(Val::Const(c)) => off.add((c as i64).saturating_mul(i64::from(scale))).add(disp),
        Some(_) => off.add(disp).indexed(),
    };
    Target::Field(b, off)
}

/// The label of a memory operand on a map structure, e.g. `hmap.buckets`.
/// Also returns the header offset for the cross-check when the base is the
/// header at a constant offset.
pub fn label(ctx: &Ctx<'_>, b: Base, off: Off, width: u64) -> Option<String> {
    let f = ctx.fields?;
    let at = |list: Option<&super::fields::FieldList>, n: i64, suffix: &str| {
        let list = list?;
        Some(match list.at(n) {
            Some(l) => format!("{l}{suffix}"),
            None => format!("{}+{n:#x}?", list.label),
        })
    };
    match (b, off) {
        (Base::Header, Off::At(n)) => at(f.header.as_ref(), n, ""),
        (Base::Table, Off::At(n)) => at(f.table.as_ref(), n, ""),
        (Base::MapType, Off::At(n)) => at(Some(&f.map_type), n, ""),
        (Base::Header | Base::Table | Base::MapType, Off::Idx(n)) => {
            let list = match b {
                Base::Header => f.header.as_ref(),
                Base::Table => f.table.as_ref(),
                _ => Some(&f.map_type),
            };
            at(list, n, "[i]")
        }
        (Base::Bucket, Off::At(n)) => Some(bucket_label(ctx, n, false, width)),
        (Base::Bucket, Off::Idx(n)) => Some(bucket_label(ctx, n, true, width)),
        (Base::Bucket, Off::End(-8)) => Some("bmap.overflow".into()),
        (Base::Bucket, _) => Some("bmap".into()),
        (Base::Group, Off::At(0)) if width <= 8 => Some("group.ctrl".into()),
        (Base::Group, Off::At(n) | Off::Idx(n)) if n >= 8 => Some("group.slots".into()),
        (Base::Group, Off::Idx(_)) if width == 1 => Some("group.ctrl[i]".into()),
        (Base::Group, Off::Idx(_)) => Some("group+i".into()),
        (Base::Group, _) => Some("group".into()),
        (Base::Dir, Off::At(0)) => Some("dirPtr[0] (directory[0] or small group.ctrl)".into()),
        (Base::Dir, _) => Some("directory[i]".into()),
        _ => None,
    }
}

fn bucket_label(ctx: &Ctx<'_>, n: i64, indexed: bool, width: u64) -> String {
    if n < 8 {
        // An unknown index from below 8 is a tophash byte only for 1-byte
        // accesses; a `lea` of it is bucket-relative arithmetic.
        return match (indexed, width) {
            (false, _) => "bmap.tophash".into(),
            (true, 1) => "bmap.tophash[i]".into(),
            (true, _) => "bmap+i".into(),
        };
    }
    match ctx.key_size {
        Some(ks) if n < 8 + 8 * ks as i64 => "bmap.keys".into(),
        Some(_) => "bmap.elems".into(),
        None => "bmap.keys/elems".into(),
    }
}

/// The value a load from `t` yields.
fn loaded(ctx: &Ctx<'_>, st: &State, t: &Target, width: u64) -> Val {
    match t {
        Target::Stack(k) if width == 8 => st.slots.get(k).copied().unwrap_or_default(),
        Target::Field(b, off) => field_load(ctx, *b, *off, width),
        _ => Val::Unknown,
    }
}

/// The value a load of `width` bytes from a map structure field yields.
pub(super) fn field_load(ctx: &Ctx<'_>, b: Base, off: Off, width: u64) -> Val {
    let l = label(ctx, b, off, width).unwrap_or_default();
    match (b, off) {
        _ if ctx.fields.is_some_and(|f| f.is_container_size(&l)) => Val::Scalar(Scalar::ContainerSize),
        _ if width != 8 => Val::Unknown,
        (Base::Header, _) if l == "hmap.buckets" || l == "hmap.oldbuckets" => Val::Ptr(Base::Bucket, Off::At(0)),
        (Base::Header, _) if l == "maps.Map.dirPtr" => {
            Val::Ptr(if ctx.small { Base::Group } else { Base::Dir }, Off::At(0))
        }
        (Base::Dir, Off::Idx(_) | Off::Var) => Val::Ptr(Base::Table, Off::At(0)),
        (Base::Table, _) if l.ends_with("groups.data") => Val::Ptr(Base::Group, Off::At(0)),
        (Base::Bucket, Off::End(-8)) => Val::Ptr(Base::Bucket, Off::At(0)),
        _ => Val::Unknown,
    }
}

fn operand_val(ctx: &Ctx<'_>, st: &State, ins: &Instruction, i: u32) -> Val {
    match ins.op_kind(i) {
        OpKind::Register => {
            let r = ins.op_register(i);
            if r.is_gpr64() {
                st.get(r)
            } else {
                Val::Unknown
            }
        }
        OpKind::Memory => loaded(ctx, st, &mem_target(st, ins), ins.memory_size().size() as u64),
        _ => ins.try_immediate(i).map(Val::Const).unwrap_or_default(),
    }
}

/// Only the scalars we model survive a zero/sign-extending load.
pub(super) fn scalar_only(v: Val) -> Val {
    if matches!(v, Val::Scalar(_)) {
        v
    } else {
        Val::Unknown
    }
}

pub(super) fn add(a: Val, b: Val) -> Val {
    match (a, b) {
        (Val::Ptr(p, o), Val::Const(c)) | (Val::Const(c), Val::Ptr(p, o)) => Val::Ptr(p, o.add(c as i64)),
        (Val::Ptr(p, Off::At(0)), Val::Scalar(Scalar::ContainerMul))
        | (Val::Scalar(Scalar::ContainerMul), Val::Ptr(p, Off::At(0))) => Val::Ptr(p, Off::At(0)),
        (Val::Ptr(Base::Bucket, Off::At(n)), Val::Scalar(Scalar::ContainerSize))
        | (Val::Scalar(Scalar::ContainerSize), Val::Ptr(Base::Bucket, Off::At(n))) => {
            Val::Ptr(Base::Bucket, Off::End(n))
        }
        (Val::Ptr(p, o), Val::Unknown | Val::Scalar(_)) | (Val::Unknown | Val::Scalar(_), Val::Ptr(p, o)) => {
            Val::Ptr(p, o.indexed())
        }
        (Val::Const(x), Val::Const(y)) => Val::Const(x.wrapping_add(y)),
        _ => Val::Unknown,
    }
}

/// Applies `ins` to `st`. `info` is a reusable iced factory.
pub fn step(ctx: &Ctx<'_>, st: &mut State, ins: &Instruction, info: &mut InstructionInfoFactory) {
    let n = ins.op_count();
    let dst = if n >= 1 && ins.op_kind(0) == OpKind::Register {
        Some(ins.op_register(0))
    } else {
        None
    };
    let dst64 = dst.filter(|r| r.is_gpr64());
    let m = ins.mnemonic();
    // RSP bookkeeping first: it decides which stack slot an operand is.
    if dst == Some(Register::RSP) && !matches!(m, Mnemonic::Cmp | Mnemonic::Test) {
        let imm = ins.try_immediate(1).ok().map(|v| v as i64);
        st.rsp = match (m, st.rsp, imm) {
            (Mnemonic::Sub, Some(d), Some(c)) => Some(d.saturating_sub(c)),
            (Mnemonic::Add, Some(d), Some(c)) => Some(d.saturating_add(c)),
            _ => None,
        };
        if st.rsp.is_none() {
            st.slots.clear();
        }
        return;
    }
    match m {
        Mnemonic::Push => {
            st.rsp = st.rsp.map(|d| d - 8);
            if let (Some(d), OpKind::Register) = (st.rsp, ins.op_kind(0)) {
                let v = st.get(ins.op_register(0));
                st.clobber_slots(d, 8);
                if v != Val::Unknown {
                    st.slots.insert(d, v);
                }
            }
            return;
        }
        Mnemonic::Pop => {
            let v = st.rsp.and_then(|d| st.slots.get(&d).copied()).unwrap_or_default();
            st.rsp = st.rsp.map(|d| d + 8);
            if let Some(r) = dst {
                st.set(r, if r.is_gpr64() { v } else { Val::Unknown });
            }
            return;
        }
        Mnemonic::Call => {
            st.regs = [Val::Unknown; 16];
            return;
        }
        _ => {}
    }
    // Stores to the frame.
    if n >= 1 && ins.op_kind(0) == OpKind::Memory {
        if let Target::Stack(k) = mem_target(st, ins) {
            let width = ins.memory_size().size() as i64;
            let v = if m == Mnemonic::Mov && width == 8 {
                operand_val(ctx, st, ins, 1)
            } else {
                Val::Unknown
            };
            st.clobber_slots(k, width);
            if v != Val::Unknown {
                st.slots.insert(k, v);
            }
        }
        // Other stores change no register (xchg/xadd/cmpxchg fall to the default below).
        if !matches!(m, Mnemonic::Xchg | Mnemonic::Xadd | Mnemonic::Cmpxchg) {
            return;
        }
    }
    // 32-bit destinations zero-extend into the full register.
    if let Some(r) = dst.filter(|r| is_partial_gpr(*r)) {
        let handled = match m {
            Mnemonic::Mov if r.size() == 4 && ins.op_kind(1) != OpKind::Memory => {
                // `mov r32, imm32`: a type address below 4 GiB.
                Some(ins.try_immediate(1).map(Val::Const).unwrap_or_default())
            }
            Mnemonic::Movzx | Mnemonic::Mov if r.size() == 4 && ins.op_kind(1) == OpKind::Memory => {
                // `movzx r32, word [type+BucketSize]`.
                Some(scalar_only(operand_val(ctx, st, ins, 1)))
            }
            Mnemonic::Xor if n == 2 && ins.op_kind(1) == OpKind::Register && ins.op_register(1) == r => {
                Some(Val::Const(0))
            }
            _ => None,
        };
        if let Some(v) = handled {
            st.set(r.full_register(), v);
            return;
        }
    }
    let new = match (m, dst64) {
        (Mnemonic::Mov, Some(_)) => Some(operand_val(ctx, st, ins, 1)),
        (Mnemonic::Movzx | Mnemonic::Movsx | Mnemonic::Movsxd, Some(_)) => {
            Some(scalar_only(operand_val(ctx, st, ins, 1)))
        }
        (Mnemonic::Lea, Some(_)) => Some(match mem_target(st, ins) {
            Target::Static(a) => Val::Const(a),
            Target::Field(b, o) => Val::Ptr(b, o),
            Target::Stack(_) | Target::Other => Val::Unknown,
        }),
        (Mnemonic::Add, Some(r)) => Some(add(st.get(r), operand_val(ctx, st, ins, 1))),
        (Mnemonic::Sub, Some(r)) => Some(match (st.get(r), operand_val(ctx, st, ins, 1)) {
            (Val::Ptr(p, o), Val::Const(c)) => Val::Ptr(p, o.add((c as i64).saturating_neg())),
            _ => Val::Unknown,
        }),
        (Mnemonic::Imul, Some(r)) => {
            let a = if n >= 3 { Val::Unknown } else { st.get(r) };
            let b = operand_val(ctx, st, ins, 1);
            Some(if matches!(a, Val::Scalar(_)) || matches!(b, Val::Scalar(_)) {
                Val::Scalar(Scalar::ContainerMul)
            } else {
                Val::Unknown
            })
        }
        (Mnemonic::Xor, Some(r)) if n == 2 && ins.op_kind(1) == OpKind::Register && ins.op_register(1) == r => {
            Some(Val::Const(0))
        }
        _ => None,
    };
    if let (Some(r), Some(v)) = (dst64, new) {
        st.set(r, v);
        return;
    }
    // Everything else: whatever it writes becomes unknown.
    let written: Vec<Register> = info
        .info(ins)
        .used_registers()
        .iter()
        .filter(|u| {
            matches!(
                u.access(),
                OpAccess::Write | OpAccess::CondWrite | OpAccess::ReadWrite | OpAccess::ReadCondWrite
            )
        })
        .map(|u| u.register().full_register())
        .collect();
    for r in written {
        if r == Register::RSP {
            st.rsp = None;
            st.slots.clear();
        } else {
            st.set(r, Val::Unknown);
        }
    }
}
