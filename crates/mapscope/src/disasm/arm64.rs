//! arm64 machine code, decoded with `yaxpeax-arm` (see Cargo.toml for why
//! that crate), and the one fact the readers of Go's arm64 code need from
//! it: which absolute addresses the code computes. Go's arm64 backend
//! reaches every global and type descriptor PC-relatively, as `ADRP xd,
//! page` followed by `ADD xd, xd, #lo12` (an address in a register, e.g.
//! the map type passed in x0) or a load/store `[xd, #lo12]` (a global read
//! or written).
//!
//! The tracking is a forward scan that forgets everything at branch targets
//! and after unconditional control transfers, and forgets a register when
//! anything else writes it, so a value it reports is the one every path to
//! that instruction computed; where it is unsure it reports nothing.

use yaxpeax_arch::{Decoder, U8Reader};
use yaxpeax_arm::armv8::a64::{InstDecoder, Instruction, Opcode, Operand, SIMDSizeCode, SizeCode};

/// One 4-byte slot of code. Only the word is kept and decoded again where
/// it is read: a decoded instruction is 104 bytes, and a 377k-instruction
/// function's listing would hold 40 MB of them.
#[derive(Clone, Copy, Debug)]
pub struct Insn {
    pub addr: u64,
    pub word: u32,
}

impl Insn {
    /// The decoded instruction; `None` where the word does not decode.
    pub fn ins(&self) -> Option<Instruction> {
        InstDecoder::default()
            .decode(&mut U8Reader::new(&self.word.to_le_bytes()))
            .ok()
    }

    pub fn opcode(&self) -> Option<Opcode> {
        self.ins().map(|i| i.opcode)
    }

    /// The absolute target of a direct branch or call (`B`, `BL`, `B.cond`,
    /// `CBZ`/`CBNZ`, `TBZ`/`TBNZ`).
    pub fn branch_target(&self) -> Option<u64> {
        let i = self.ins()?;
        if !is_direct_branch(i.opcode) {
            return None;
        }
        i.operands.iter().find_map(|o| match o {
            Operand::PCOffset(off) => Some(self.addr.wrapping_add_signed(*off)),
            _ => None,
        })
    }

    /// The assembler text (`ldr x0, [x1, #0x8]`), or `.word 0x…` when the word does not decode.
    pub fn text(&self) -> String {
        match self.ins() {
            Some(i) => i.to_string(),
            None => format!(".word {:#010x}", self.word),
        }
    }
}

fn is_direct_branch(op: Opcode) -> bool {
    matches!(
        op,
        Opcode::B | Opcode::BL | Opcode::Bcc(_) | Opcode::CBZ | Opcode::CBNZ | Opcode::TBZ | Opcode::TBNZ
    )
}

/// `bytes` (starting at `entry`) word by word; a trailing partial word is dropped.
pub fn decode(bytes: &[u8], entry: u64) -> Vec<Insn> {
    bytes
        .chunks_exact(4)
        .enumerate()
        .map(|(i, c)| Insn {
            addr: entry.wrapping_add(4 * i as u64),
            word: <[u8; 4]>::try_from(c).map_or(0, u32::from_le_bytes),
        })
        .collect()
}

/// How an instruction uses a PC-relative address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// `ADD xd, xn, #lo12` after `ADRP`: the address itself, now in a register.
    Address,
    /// A load of this many bytes (a pair load counts both registers).
    Load(u8),
    /// A store of this many bytes.
    Store(u8),
}

/// A PC-relative address an instruction computes or accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcRef {
    /// Index into the decoded instructions.
    pub index: usize,
    pub addr: u64,
    pub access: Access,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Val {
    /// The 4 KiB page an `ADRP` put in the register.
    Page(u64),
    /// A full address (page plus low 12 bits).
    Addr(u64),
}

/// What the scan knows about x0–x30 (and sp, index 31, never known).
#[derive(Clone, Copy, Debug, Default)]
pub struct Regs([Option<Val>; 32]);

impl Regs {
    /// The full address register `n` holds, if the code computed one.
    #[cfg(test)]
    pub fn address(&self, n: u16) -> Option<u64> {
        match self.0.get(usize::from(n)).copied().flatten() {
            Some(Val::Addr(a)) => Some(a),
            _ => None,
        }
    }

    fn get(&self, n: u16) -> Option<Val> {
        self.0.get(usize::from(n)).copied().flatten()
    }

    fn set(&mut self, n: u16, v: Option<Val>) {
        if let Some(slot) = self.0.get_mut(usize::from(n)) {
            *slot = v;
        }
    }
}

/// The PC-relative references of `insns` and, for each instruction, what
/// the registers held just before it.
pub fn track(insns: &[Insn]) -> (Vec<PcRef>, Vec<Regs>) {
    let (Some(first), Some(last)) = (insns.first(), insns.last()) else {
        return (Vec::new(), Vec::new());
    };
    let (lo, hi) = (first.addr, last.addr);
    // Calls (BL) return to the next instruction; only jumps make joins.
    let mut targets: Vec<u64> = insns
        .iter()
        .filter(|i| i.opcode() != Some(Opcode::BL))
        .filter_map(Insn::branch_target)
        .filter(|t| (lo..=hi).contains(t))
        .collect();
    targets.sort_unstable();
    targets.dedup();

    let mut refs = Vec::new();
    let mut before = Vec::with_capacity(insns.len());
    let mut regs = Regs::default();
    for (index, insn) in insns.iter().enumerate() {
        if targets.binary_search(&insn.addr).is_ok() {
            regs = Regs::default();
        }
        before.push(regs);
        let Some(i) = insn.ins() else {
            regs = Regs::default();
            continue;
        };
        step(index, insn.addr, &i, &mut regs, &mut refs);
    }
    (refs, before)
}

fn step(index: usize, pc: u64, i: &Instruction, regs: &mut Regs, refs: &mut Vec<PcRef>) {
    let ops = &i.operands;
    match i.opcode {
        Opcode::ADRP => {
            if let [Operand::Register(SizeCode::X, d), Operand::PCOffset(off), ..] = *ops {
                regs.set(d, Some(Val::Page((pc & !0xfff).wrapping_add_signed(off))));
                return;
            }
        }
        Opcode::ADD => {
            if let [Operand::RegisterOrSP(SizeCode::X, d), Operand::RegisterOrSP(SizeCode::X, n), Operand::Immediate(imm), _] =
                *ops
            {
                let v = match regs.get(n) {
                    Some(Val::Page(p)) => {
                        let a = p.wrapping_add(u64::from(imm));
                        refs.push(PcRef {
                            index,
                            addr: a,
                            access: Access::Address,
                        });
                        Some(Val::Addr(a))
                    }
                    Some(Val::Addr(a)) if n != 31 => Some(Val::Addr(a.wrapping_add(u64::from(imm)))),
                    _ => None,
                };
                regs.set(d, v);
                return;
            }
        }
        // MOV xd, xm is ORR xd, xzr, xm.
        Opcode::ORR => {
            if let [Operand::Register(SizeCode::X, d), Operand::Register(SizeCode::X, 31), Operand::Register(SizeCode::X, m), Operand::Nothing] =
                *ops
            {
                let v = regs.get(m);
                regs.set(d, v);
                return;
            }
        }
        Opcode::BL | Opcode::BLR | Opcode::SVC => {
            // Go's calling convention keeps no register live across a call.
            *regs = Regs::default();
            return;
        }
        Opcode::B | Opcode::BR | Opcode::RET | Opcode::ERET => {
            // The next instruction is reached only by a branch, if at all.
            *regs = Regs::default();
            return;
        }
        _ => {}
    }
    if let Some((size, store)) = memory_access(i) {
        for o in ops.iter() {
            if let Operand::RegPreIndex(n, off, _) = *o {
                if let Some(Val::Page(p) | Val::Addr(p)) = regs.get(n) {
                    refs.push(PcRef {
                        index,
                        addr: p.wrapping_add_signed(i64::from(off)),
                        access: if store { Access::Store(size) } else { Access::Load(size) },
                    });
                }
            }
        }
        if !store {
            clear_written(ops, 2, regs);
        }
        clear_writeback(ops, regs);
        return;
    }
    // Anything else: forget the registers it may write (the destination,
    // and a second one for the few instructions that write two).
    clear_written(ops, 1, regs);
    clear_writeback(ops, regs);
}

fn clear_written(ops: &[Operand; 4], n: usize, regs: &mut Regs) {
    for o in ops.iter().take(n) {
        if let Operand::Register(_, r) | Operand::RegisterOrSP(_, r) = *o {
            regs.set(r, None);
        }
    }
}

fn clear_writeback(ops: &[Operand; 4], regs: &mut Regs) {
    for o in ops.iter() {
        match *o {
            Operand::RegPreIndex(n, _, true) | Operand::RegPostIndex(n, _) | Operand::RegPostIndexReg(n, _) => {
                regs.set(n, None)
            }
            _ => {}
        }
    }
}

/// `(bytes, is_store)` for the plain loads and stores Go emits.
pub fn memory_access(i: &Instruction) -> Option<(u8, bool)> {
    let reg = |o: &Operand| -> u8 {
        match o {
            Operand::Register(SizeCode::X, _) => 8,
            Operand::Register(SizeCode::W, _) => 4,
            Operand::SIMDRegister(s, _) => simd_bytes(*s),
            _ => 8,
        }
    };
    let first = i.operands.first()?;
    let (size, store) = match i.opcode {
        Opcode::LDRB | Opcode::LDRSB | Opcode::LDURB | Opcode::LDURSB | Opcode::LDARB => (1, false),
        Opcode::LDRH | Opcode::LDRSH | Opcode::LDURH | Opcode::LDURSH | Opcode::LDARH => (2, false),
        Opcode::LDRSW | Opcode::LDURSW => (4, false),
        Opcode::LDR | Opcode::LDUR | Opcode::LDAR | Opcode::LDXR | Opcode::LDAXR => (reg(first), false),
        Opcode::LDP | Opcode::LDXP | Opcode::LDAXP => (reg(first).saturating_mul(2), false),
        Opcode::LDPSW => (8, false),
        Opcode::STRB | Opcode::STURB | Opcode::STLRB => (1, true),
        Opcode::STRH | Opcode::STURH | Opcode::STLRH => (2, true),
        Opcode::STR | Opcode::STUR | Opcode::STLR => (reg(first), true),
        Opcode::STP => (reg(first).saturating_mul(2), true),
        _ => return None,
    };
    Some((size, store))
}

fn simd_bytes(s: SIMDSizeCode) -> u8 {
    match s {
        SIMDSizeCode::B => 1,
        SIMDSizeCode::H => 2,
        SIMDSizeCode::S => 4,
        SIMDSizeCode::D => 8,
        SIMDSizeCode::Q => 16,
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn words(ws: &[u32]) -> Vec<u8> {
        ws.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn adrp_add_and_adrp_ldr_resolve() {
        // adrp x0, +2 pages; add x0, x0, #0x10; adrp x27, 0; ldrb w10, [x27, #0x20]; bl .
        let code = words(&[
            0x9000_0000 | (2 << 29),
            0x9100_4000,
            0x9000_001b,
            0x3940_836a,
            0x9400_0000,
        ]);
        let insns = decode(&code, 0x10_0ff8);
        let (refs, before) = track(&insns);
        assert_eq!(
            refs,
            vec![
                PcRef {
                    index: 1,
                    addr: 0x10_2010,
                    access: Access::Address
                },
                PcRef {
                    index: 3,
                    addr: 0x10_1020,
                    access: Access::Load(1)
                },
            ]
        );
        assert_eq!(before[4].address(0), Some(0x10_2010));
        assert_eq!(insns[4].branch_target(), Some(insns[4].addr));
    }

    #[test]
    fn branch_targets_forget() {
        // adrp x0, 0; add x0, x0, #8; b.eq +8 (to the bl); nop; bl .
        let code = words(&[0x9000_0000, 0x9100_2000, 0x5400_0040, 0xd503_201f, 0x9400_0000]);
        let insns = decode(&code, 0x4000);
        let (_, before) = track(&insns);
        assert_eq!(before[3].address(0), Some(0x4008));
        assert_eq!(before[4].address(0), None, "the bl is a branch target");
    }

    #[test]
    fn garbage_decodes_without_panicking() {
        let bytes: Vec<u8> = (0..4096u32)
            .flat_map(|i| i.wrapping_mul(0x9e37_79b9).to_le_bytes())
            .collect();
        let insns = decode(&bytes, 0);
        let _ = track(&insns);
        assert_eq!(insns.len(), 4096);
    }
}
