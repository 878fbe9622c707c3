//! Go (Plan 9) assembler syntax for amd64, as `go tool objdump` prints it:
//! a port of golang.org/x/arch/x86/x86asm/plan9x.go (`GoSyntax`) over
//! iced-x86's instruction model. Operands are reversed (except CMP's, kept
//! in reading order as plan9x does), a size suffix only on the mnemonics of
//! plan9x's `plan9Suffix` table, registers by their Plan 9 names, memory as
//! `disp(base)(index*scale)` and addresses that resolve to symbols as
//! `sym+off(SB)`.
//!
//! iced has no hand-written Go formatter, so the rules live here; where
//! x86asm's decoded values differ from iced's (a 32-bit displacement kept
//! unsigned, an 8-bit immediate of a byte operation kept unsigned), the
//! x86asm value is what is printed.

use std::fmt::Write;

use iced_x86::{Instruction, MemorySize, Mnemonic, OpKind, Register};

/// `symname` of plan9x: the symbol holding an address, with its start.
pub trait SymLookup {
    fn symbol(&self, addr: u64) -> Option<(String, u64)>;
}

/// Mnemonics that take a B/W/L/Q size suffix (`plan9Suffix`).
fn takes_suffix(m: Mnemonic) -> bool {
    use Mnemonic::*;
    matches!(
        m,
        Adc | Add
            | And
            | Bsf
            | Bsr
            | Bt
            | Btc
            | Btr
            | Bts
            | Cmp
            | Cmpxchg
            | Cvtsi2sd
            | Cvtsi2ss
            | Cvtsd2si
            | Cvtss2si
            | Cvttsd2si
            | Cvttss2si
            | Dec
            | Div
            | Fldenv
            | Frstor
            | Idiv
            | Imul
            | In
            | Inc
            | Lea
            | Mov
            | Movnti
            | Mul
            | Neg
            | Nop
            | Not
            | Or
            | Out
            | Pop
            | Popa
            | Popcnt
            | Push
            | Pusha
            | Rcl
            | Rcr
            | Rol
            | Ror
            | Sar
            | Sbb
            | Shl
            | Shld
            | Shr
            | Shrd
            | Sub
            | Test
            | Xadd
            | Xchg
            | Xor
    )
}

/// The instruction in Go syntax. `raw` is its encoding (for the operand
/// size attribute, which iced does not expose); `pc` its address.
pub fn format(ins: &Instruction, raw: &[u8], syms: &dyn SymLookup) -> String {
    let m = ins.mnemonic();
    if m == Mnemonic::Int3 {
        // x86asm decodes 0xCC as INT with an immediate 3.
        return "INT $0x3".into();
    }
    let data_size = operand_size(raw);
    let mut args: Vec<String> = (0..ins.op_count())
        .rev()
        .map(|i| operand(ins, i, data_size, syms))
        .collect();
    if m == Mnemonic::Cmp && args.len() >= 2 {
        // Reads left to right, as plan9x does (Go issue 60920).
        args.swap(0, 1);
    }

    let mut out = String::new();
    if ins.has_rep_prefix() {
        out.push_str("REP; ");
    } else if ins.has_repne_prefix() {
        out.push_str("REPNE; ");
    }
    if ins.has_lock_prefix() {
        out.push_str("LOCK ");
    }
    out.push_str(&mnemonic(ins));
    if takes_suffix(m) {
        let mem = (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory);
        let mem_bits = if mem && m != Mnemonic::Lea {
            memory_bits(ins.memory_size())
        } else {
            0
        };
        let s = if mem_bits != 0 {
            mem_bits
        } else if ins.op_count() == 1 && ins.op0_kind() == OpKind::Register && ins.op0_register().is_gpr64() {
            64
        } else {
            data_size
        };
        out.push_str(match s {
            8 => "B",
            16 => "W",
            32 => "L",
            64 => "Q",
            _ => "",
        });
    }
    if !args.is_empty() {
        out.push(' ');
        out.push_str(&args.join(", "));
    }
    out
}

/// x86asm's op name: iced's mnemonic in capitals, with x86asm's
/// disambiguation of the SSE scalar double moves from the string ones.
fn mnemonic(ins: &Instruction) -> String {
    let m = ins.mnemonic();
    let xmm = (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Register && ins.op_register(i).is_xmm());
    match m {
        Mnemonic::Movsd if xmm => "MOVSD_XMM".into(),
        Mnemonic::Cmpsd if xmm => "CMPSD_XMM".into(),
        _ => format!("{m:?}").to_ascii_uppercase(),
    }
}

/// Bits of a memory operand; 0 when iced gives it no plain size.
fn memory_bits(s: MemorySize) -> u32 {
    match s.size() {
        1 => 8,
        2 => 16,
        4 => 32,
        8 => 64,
        _ => 0,
    }
}

/// The operand-size attribute in 64-bit mode: REX.W gives 64, 0x66 gives
/// 16, else 32 (x86asm's `DataSize`, which a byte operation also has).
fn operand_size(raw: &[u8]) -> u32 {
    let mut opsize16 = false;
    for &b in raw {
        match b {
            0x66 => opsize16 = true,
            0x67 | 0xF0 | 0xF2 | 0xF3 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65 => {}
            0x40..=0x4F if b & 0x08 != 0 => return 64,
            _ => break,
        }
    }
    if opsize16 {
        16
    } else {
        32
    }
}

fn operand(ins: &Instruction, i: u32, data_size: u32, syms: &dyn SymLookup) -> String {
    match ins.op_kind(i) {
        OpKind::Register => reg(ins.op_register(i)),
        OpKind::NearBranch16 | OpKind::NearBranch32 | OpKind::NearBranch64 => {
            let t = ins.near_branch_target();
            // A function's start by name, anything else (a jump inside a
            // function) as a raw address: easier to search for.
            match syms.symbol(t) {
                Some((s, base)) if base == t => format!("{s}(SB)"),
                _ => format!("{t:#x}"),
            }
        }
        OpKind::Memory => memory(ins, syms),
        // String instructions' implicit operands, as x86asm spells them.
        OpKind::MemoryESDI | OpKind::MemoryESEDI | OpKind::MemoryESRDI => "ES:0(DI)".into(),
        OpKind::MemorySegSI | OpKind::MemorySegESI | OpKind::MemorySegRSI => {
            format!("{}:0(SI)", reg(ins.memory_segment()))
        }
        k => match immediate(ins, i, k) {
            Some(v) => {
                if matches!(ins.mnemonic(), Mnemonic::Mov | Mnemonic::Push) && data_size == 32 {
                    // Go issue 72942: only MOVL/PUSHL immediates are symbolized.
                    if let Some((s, base)) = syms.symbol(v as u64) {
                        let off = (v as u64).wrapping_sub(base) as i64;
                        return if off != 0 {
                            format!("${s}{off:+}(SB)")
                        } else {
                            format!("${s}(SB)")
                        };
                    }
                }
                if i64::from(v as i32) == v {
                    format!("${}", signed_hex(v))
                } else {
                    format!("${:#x}", v as u64)
                }
            }
            None => format!("?{k:?}"),
        },
    }
}

/// The immediate as x86asm holds it: sign-extended except an 8-bit one of
/// a byte-sized operation and RET/ENTER's 16-bit one.
fn immediate(ins: &Instruction, i: u32, k: OpKind) -> Option<i64> {
    Some(match k {
        OpKind::Immediate8 => i64::from(ins.immediate8()),
        OpKind::Immediate8_2nd => i64::from(ins.immediate8_2nd()),
        OpKind::Immediate16 => {
            if matches!(ins.mnemonic(), Mnemonic::Ret | Mnemonic::Retf | Mnemonic::Enter) {
                i64::from(ins.immediate16())
            } else {
                i64::from(ins.immediate16() as i16)
            }
        }
        OpKind::Immediate32 => i64::from(ins.immediate32() as i32),
        OpKind::Immediate64 => ins.immediate64() as i64,
        OpKind::Immediate8to16 => i64::from(ins.immediate8to16()),
        OpKind::Immediate8to32 => i64::from(ins.immediate8to32()),
        OpKind::Immediate8to64 => ins.immediate8to64(),
        OpKind::Immediate32to64 => ins.immediate32to64(),
        _ => {
            let _ = i;
            return None;
        }
    })
}

/// Go's `%#x` of a signed value: `-0x8`, `0x10`.
fn signed_hex(v: i64) -> String {
    if v < 0 {
        format!("-{:#x}", v.unsigned_abs())
    } else {
        format!("{v:#x}")
    }
}

fn memory(ins: &Instruction, syms: &dyn SymLookup) -> String {
    let base = ins.memory_base();
    let index = ins.memory_index();
    let seg = ins.segment_prefix();
    // x86asm keeps an 8-bit displacement sign-extended but a 32-bit one
    // unsigned (0xfffffff8(SP), not -0x8(SP)); RIP-relative ones too, so a
    // negative one never resolves to a symbol there either.
    let (disp, rip_target) = if base == Register::RIP {
        let rel = ins.memory_displacement64().wrapping_sub(ins.next_ip()) as u32;
        (i64::from(rel), ins.next_ip().wrapping_add(u64::from(rel)))
    } else {
        let d = ins.memory_displacement64() as i64;
        match ins.memory_displ_size() {
            1 => (i64::from(d as i8), 0),
            2 => (i64::from(d as u16), 0),
            0 => (0, 0),
            _ => (i64::from(d as u32), 0),
        }
    };
    if seg == Register::None && disp != 0 && index == Register::None {
        let addr = match base {
            Register::RIP | Register::EIP => Some(rip_target),
            Register::None => Some(disp as u64),
            _ => None,
        };
        if let Some((s, b)) = addr.and_then(|a| syms.symbol(a).map(|(s, b)| (s, a.wrapping_sub(b) as i64))) {
            return if b != 0 {
                format!("{s}{b:+}(SB)")
            } else {
                format!("{s}(SB)")
            };
        }
    }
    let mut out = String::new();
    if seg != Register::None {
        out.push_str(&reg(seg));
        out.push(':');
    }
    if disp != 0 {
        out.push_str(&signed_hex(disp));
    } else {
        out.push('0');
    }
    if base != Register::None {
        let _ = write!(out, "({})", reg(base));
    }
    if index != Register::None {
        let _ = write!(out, "({}*{})", reg(index), ins.memory_index_scale());
    }
    out
}

/// `plan9Reg`: a general register by its 64-bit name without the R
/// (AX, R8), whatever the width; X0.., M0.., F0.. for the others.
fn reg(r: Register) -> String {
    use Register::*;
    let gpr = ["AX", "CX", "DX", "BX", "SP", "BP", "SI", "DI"];
    match r {
        AH => "AH".into(),
        CH => "CH".into(),
        DH => "DH".into(),
        BH => "BH".into(),
        RIP | EIP => "IP".into(),
        ES => "ES".into(),
        CS => "CS".into(),
        SS => "SS".into(),
        DS => "DS".into(),
        FS => "FS".into(),
        GS => "GS".into(),
        _ if r.is_gpr() => {
            let n = r.full_register().number();
            match gpr.get(n) {
                Some(s) if r == AL || r == CL || r == DL || r == BL => s.chars().take(1).collect::<String>() + "L",
                Some(s) => (*s).into(),
                Option::None => format!("R{n}"),
            }
        }
        _ if r.is_xmm() => format!("X{}", r.number()),
        _ if r.is_mm() => format!("M{}", r.number()),
        _ if r.is_st() => format!("F{}", r.number()),
        _ => format!("{r:?}").to_ascii_uppercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use iced_x86::{Decoder, DecoderOptions};

    struct NoSyms;
    impl SymLookup for NoSyms {
        fn symbol(&self, _: u64) -> Option<(String, u64)> {
            None
        }
    }

    fn go(bytes: &[u8]) -> String {
        let mut d = Decoder::with_ip(64, bytes, 0x1000, DecoderOptions::NONE);
        format(&d.decode(), bytes, &NoSyms)
    }

    // Expected texts are `go tool objdump`'s for the same bytes.
    #[test]
    fn matches_plan9x() {
        assert_eq!(
            go(&[0x4c, 0x8d, 0xa4, 0x24, 0xa8, 0xf8, 0xff, 0xff]),
            "LEAQ 0xfffff8a8(SP), R12"
        );
        assert_eq!(go(&[0x4d, 0x3b, 0x66, 0x10]), "CMPQ R12, 0x10(R14)");
        assert_eq!(go(&[0x55]), "PUSHQ BP");
        assert_eq!(go(&[0x48, 0x81, 0xec, 0xd0, 0x07, 0, 0]), "SUBQ $0x7d0, SP");
        assert_eq!(go(&[0x0f, 0x1f, 0x00]), "NOPL 0(AX)");
        assert_eq!(go(&[0xc6, 0x84, 0x24, 0xc3, 0x02, 0, 0, 0x01]), "MOVB $0x1, 0x2c3(SP)");
        assert_eq!(go(&[0x48, 0xc7, 0x00, 0x01, 0, 0, 0]), "MOVQ $0x1, 0(AX)");
        assert_eq!(go(&[0x48, 0x8d, 0x05, 0x79, 0x96, 0x01, 0x00]), "LEAQ 0x19679(IP), AX");
        assert_eq!(go(&[0xf3, 0x48, 0xab]), "REP; STOSQ AX, ES:0(DI)");
        assert_eq!(go(&[0x83, 0xc2, 0xfe]), "ADDL $-0x2, DX");
        assert_eq!(go(&[0x66, 0xc7, 0x00, 0xff, 0xff]), "MOVW $-0x1, 0(AX)");
        assert_eq!(go(&[0x3c, 0x05]), "CMPL AL, $0x5");
    }
}
