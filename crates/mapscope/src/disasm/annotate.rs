//! One function, decoded and annotated: every memory operand whose base
//! register the tracking can follow to a map structure gets that
//! structure's field name, and the offsets touched are collected for the
//! cross-check against the layout knowledge.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use iced_x86::{FlowControl, Formatter, Instruction, IntelFormatter, MemorySizeOptions, OpKind};
use serde::Serialize;

use super::arm64::{self as a64, Insn};
use super::arm64_flow::{self, Target as A64Target};
use super::fields::FieldTable;
use super::flow::{analyse, decode, is_invalid, Amd64};
use super::names;
use super::plan9;
use super::regs::{label, mem_target, Base, Ctx, Off, State, Target};
use super::{check_arch, hex, DisasmError, Syntax};
use crate::binary::{Arch, Func, GoBinary, Kind};

#[derive(Debug, Clone, Serialize)]
pub struct AnnotatedInstruction {
    #[serde(serialize_with = "hex::u64")]
    pub address: u64,
    /// In the chosen [`Syntax`]: Intel as `go tool objdump -gnu` prints
    /// it (the default), or Go's as `go tool objdump` does.
    pub text: String,
    /// The map structure field the memory operand touches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Raw bytes (hex in JSON and text).
    pub bytes: CodeBytes,
    /// Shared by the instructions of one file (a 150k-instruction listing
    /// would otherwise hold 150k copies of one long path).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// Symbol of a branch target or a static address (a type's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Bytes that do not decode as an instruction.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub invalid: bool,
}

/// One instruction's bytes, kept inline (at most 15, x86's longest): a
/// huge function's listing holds one per instruction, and a heap string
/// each was a tenth of its memory. Shown as lowercase hex.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CodeBytes {
    len: u8,
    bytes: [u8; 15],
}

impl CodeBytes {
    pub fn new(raw: &[u8]) -> CodeBytes {
        let mut bytes = [0u8; 15];
        let n = raw.len().min(bytes.len());
        if let (Some(dst), Some(src)) = (bytes.get_mut(..n), raw.get(..n)) {
            dst.copy_from_slice(src);
        }
        CodeBytes { len: n as u8, bytes }
    }

    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl std::fmt::Display for CodeBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Through pad, so that `{:<20}` lines up a listing's columns.
        f.pad(&hex::bytes(self.as_slice()))
    }
}

impl std::fmt::Debug for CodeBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for CodeBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// One offset of a map structure that the code touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OffsetUse {
    /// `hmap`, `maps.Map`, `maps.table`, `MapType`.
    pub structure: String,
    pub offset: i64,
    /// The field it falls in; `None` means the layout knowledge has no field
    /// there (a new Go release moved something).
    pub field: Option<String>,
    pub uses: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct AnnotatedFunction {
    pub name: String,
    #[serde(serialize_with = "hex::u64")]
    pub entry: u64,
    #[serde(serialize_with = "hex::u64")]
    pub end: u64,
    pub instructions: Vec<AnnotatedInstruction>,
    /// Distinct field labels annotated, sorted.
    pub fields: Vec<String>,
    /// Offsets of the header, table and map type the code touches.
    pub offsets: Vec<OffsetUse>,
    /// The subset of `offsets` that match no known field.
    pub unknown_offsets: Vec<OffsetUse>,
    pub invalid_instructions: usize,
    /// Where the register tracking stopped short, in words.
    pub notes: Vec<String>,
}

/// Annotates many functions of one binary, sharing the layout lookups.
pub struct Annotator<'b> {
    bin: &'b GoBinary,
    fields: Option<FieldTable>,
    syntax: Syntax,
}

impl<'b> Annotator<'b> {
    pub fn new(bin: &'b GoBinary) -> Result<Annotator<'b>, DisasmError> {
        check_arch(bin)?;
        Ok(Annotator {
            bin,
            fields: FieldTable::for_binary(bin),
            syntax: Syntax::Intel,
        })
    }

    /// Writes instruction text in `syntax`; Go syntax only for amd64.
    pub fn with_syntax(mut self, syntax: Syntax) -> Result<Annotator<'b>, DisasmError> {
        if syntax == Syntax::Go && self.bin.arch() != Arch::Amd64 {
            return Err(DisasmError::UnsupportedSyntax {
                syntax: syntax.as_str(),
                arch: self.bin.arch().goarch(),
            });
        }
        self.syntax = syntax;
        Ok(self)
    }

    pub fn field_table(&self) -> Option<&FieldTable> {
        self.fields.as_ref()
    }

    pub fn annotate(&self, f: &Func) -> Result<AnnotatedFunction, DisasmError> {
        let bin = self.bin;
        let len = f.end.saturating_sub(f.entry);
        let bytes = bin.read_at(f.entry, len)?;
        let row = names::lookup(&f.name);
        let entry = match row {
            Some(r) => State::entry(r.args),
            None => State::entry(&[]),
        };
        let ctx = Ctx {
            fields: self.fields.as_ref(),
            small: f.name.contains("Small"),
            key_size: names::fast_key_size(&f.name),
        };
        if bin.arch() == Arch::Arm64 {
            return Ok(self.annotate_arm64(f, bytes, row.map(|r| r.args), &ctx));
        }
        let dec = decode(bytes, f.entry);
        let mut m = Amd64::new(&ctx);
        let flow = analyse(&dec.insns, entry, &mut m);
        let indirect = dec
            .insns
            .iter()
            .filter(|i| i.flow_control() == FlowControl::IndirectBranch)
            .count();
        let notes = self.notes(row.is_some(), dec.truncated, flow.budget_exhausted, indirect);

        let mut fmt = formatter();
        let mut out = Vec::with_capacity(dec.insns.len());
        let mut offsets: BTreeMap<(String, i64), (Option<String>, usize)> = BTreeMap::new();
        let mut labels = BTreeSet::new();
        let mut invalid = 0usize;
        let mut unreached = 0usize;
        let lines = bin.func_lines(f);
        // The listing first, then the labels written into it as the flow
        // walks each block (in no particular order): nothing per
        // instruction is kept beside the listing itself.
        for ins in &dec.insns {
            let bad = is_invalid(ins);
            invalid += usize::from(bad);
            let off = usize::try_from(ins.ip().saturating_sub(f.entry)).unwrap_or(usize::MAX);
            let raw = bytes.get(off..off.saturating_add(ins.len())).unwrap_or(&[]);
            let mut text = String::new();
            if bad {
                text.push_str("(bad)");
            } else {
                match self.syntax {
                    Syntax::Intel => fmt.format(ins, &mut text),
                    Syntax::Go => text = plan9::format(ins, raw, &Symbols(bin)),
                }
                text.shrink_to_fit();
            }
            let line = lines.at(ins.ip());
            out.push(AnnotatedInstruction {
                address: ins.ip(),
                text,
                field: None,
                bytes: CodeBytes::new(raw),
                file: line.map(|(f, _)| Arc::clone(f)),
                line: line.map(|(_, l)| l),
                target: self.target_of(f, ins),
                invalid: bad,
            });
        }
        let mut reached = vec![false; dec.insns.len()];
        flow.visit(&dec.insns, &mut m, |i, st| {
            if let Some(r) = reached.get_mut(i) {
                *r = true;
            }
            let Some(ins) = dec.insns.get(i).filter(|ins| !is_invalid(ins)) else {
                return;
            };
            if let Some((b, o, l)) = field_of(&ctx, st, ins) {
                record(&mut offsets, &ctx, b, o, &l);
                labels.insert(l.clone());
                if let Some(slot) = out.get_mut(i) {
                    slot.field = Some(l);
                }
            }
        });
        drop(flow);
        unreached += dec
            .insns
            .iter()
            .zip(&reached)
            .filter(|(ins, r)| !**r && !is_padding(ins))
            .count();
        Ok(Tally {
            out,
            offsets,
            labels,
            invalid,
            unreached,
            notes,
        }
        .finish(f))
    }

    /// What a reader of a listing must know about its limits, for either
    /// architecture.
    fn notes(&self, entry_known: bool, truncated: bool, budget_exhausted: bool, indirect: usize) -> Vec<String> {
        let mut notes = Vec::new();
        if self.fields.is_none() {
            notes.push("map variant or runtime layout unknown: no field names".into());
        }
        if !entry_known {
            notes.push("not in the runtime map function table: entry registers unknown".into());
        }
        if truncated {
            notes.push(format!(
                "function longer than {} bytes: decoded only that far",
                super::flow::MAX_FUNC_BYTES
            ));
        }
        if budget_exhausted {
            notes.push("register tracking ran out of its work budget: later labels may be missing".into());
        }
        if indirect > 0 {
            notes.push(format!("{indirect} indirect jump(s): their targets are not followed"));
        }
        notes
    }

    fn annotate_arm64(&self, f: &Func, bytes: &[u8], args: Option<&[names::Arg]>, ctx: &Ctx<'_>) -> AnnotatedFunction {
        let insns = a64::decode(bytes, f.entry);
        let mut m = arm64_flow::Arm64 { ctx };
        let flow = analyse(&insns, arm64_flow::State::entry(args.unwrap_or(&[])), &mut m);
        let indirect = insns
            .iter()
            .filter(|i| matches!(i.opcode(), Some(yaxpeax_arm::armv8::a64::Opcode::BR)))
            .count();
        let notes = self.notes(args.is_some(), false, flow.budget_exhausted, indirect);
        let lines = self.bin.func_lines(f);
        let mut out = Vec::with_capacity(insns.len());
        let mut offsets: BTreeMap<(String, i64), (Option<String>, usize)> = BTreeMap::new();
        let mut labels = BTreeSet::new();
        let mut invalid = 0usize;
        // The listing first, then what the flow knows written into it, as
        // on amd64: no state is kept per instruction.
        for insn in &insns {
            let bad = insn.ins().is_none();
            invalid += usize::from(bad);
            let line = lines.at(insn.addr);
            out.push(AnnotatedInstruction {
                address: insn.addr,
                text: insn.text(),
                field: None,
                bytes: CodeBytes::new(&insn.word.to_le_bytes()),
                file: line.map(|(f, _)| Arc::clone(f)),
                line: line.map(|(_, l)| l),
                target: insn.branch_target().and_then(|t| self.branch_label(f, t)),
                invalid: bad,
            });
        }
        let mut reached = vec![false; insns.len()];
        flow.visit(&insns, &mut m, |k, st| {
            if let Some(r) = reached.get_mut(k) {
                *r = true;
            }
            let (Some(insn), Some(slot)) = (insns.get(k), out.get_mut(k)) else {
                return;
            };
            let Some(i) = insn.ins() else { return };
            if let Some((A64Target::Field(b, o), width, _)) = arm64_flow::mem_target(st, &i) {
                if let Some(l) = label(ctx, b, o, u64::from(width)) {
                    record(&mut offsets, ctx, b, o, &l);
                    labels.insert(l.clone());
                    slot.field = Some(l);
                }
            }
            if slot.target.is_none() {
                slot.target = self.type_address_arm64(insn, &i, st);
            }
        });
        drop(flow);
        // Go pads arm64 functions with zero words (udf #0).
        let unreached = insns
            .iter()
            .zip(&reached)
            .filter(|(insn, r)| !**r && insn.word != 0)
            .count();
        Tally {
            out,
            offsets,
            labels,
            invalid,
            unreached,
            notes,
        }
        .finish(f)
    }

    /// A branch target's symbol: `runtime.mapassign` for a function's
    /// entry, `main.fill+0x2e0` inside one. Both architectures.
    fn branch_label(&self, f: &Func, t: u64) -> Option<String> {
        if t >= f.entry && t < f.end {
            return Some(format!("{}+{:#x}", f.name, t - f.entry));
        }
        let g = self.bin.func_for_pc(t)?;
        Some(if g.entry == t {
            g.name
        } else {
            format!("{}+{:#x}", g.name, t - g.entry)
        })
    }

    /// The type whose descriptor starts at `a`. Only a descriptor's own
    /// start is a type: other addresses in the types section (strings, name
    /// data) would read as garbage names. Both architectures.
    fn type_at(&self, a: u64) -> Option<crate::binary::GoType> {
        let md = self.bin.moduledata().ok()?;
        let known = self.bin.runtime_types().ok()?.binary_search(&a).is_ok();
        if a >= md.types && a < md.etypes && known {
            return self.bin.runtime_type(a).ok();
        }
        None
    }

    /// arm64: the type an `ADD` after `ADRP` addresses, from the state before `i`.
    fn type_address_arm64(
        &self,
        insn: &Insn,
        i: &yaxpeax_arm::armv8::a64::Instruction,
        st: &arm64_flow::State,
    ) -> Option<String> {
        if i.opcode != yaxpeax_arm::armv8::a64::Opcode::ADD {
            return None;
        }
        let yaxpeax_arm::armv8::a64::Operand::RegisterOrSP(_, d) = i.operands[0] else {
            return None;
        };
        // ADD reads registers only: step a copy without the frame.
        let mut after = st.registers_only();
        arm64_flow::step(
            &Ctx {
                fields: None,
                small: false,
                key_size: None,
            },
            &mut after,
            insn,
        );
        let super::regs::Val::Const(a) = after.get(d) else {
            return None;
        };
        self.type_at(a).map(|t| t.name)
    }

    /// `runtime.mapassign` for a call, `main.fill+0x2e0` for a jump, a type
    /// name for `lea rax, [rip+…]` of a type descriptor.
    fn target_of(&self, f: &Func, ins: &Instruction) -> Option<String> {
        if matches!(ins.op0_kind(), OpKind::NearBranch64) {
            return self.branch_label(f, ins.near_branch_target());
        }
        if ins.is_ip_rel_memory_operand() {
            let t = self.type_at(ins.ip_rel_memory_address())?;
            return (t.kind == Kind::Map || ins.mnemonic() == iced_x86::Mnemonic::Lea).then_some(t.name);
        }
        None
    }
}

/// Symbols for Go syntax, as objdump finds them: the function or data
/// symbol whose bytes hold an address.
struct Symbols<'a>(&'a GoBinary);

impl plan9::SymLookup for Symbols<'_> {
    fn symbol(&self, addr: u64) -> Option<(String, u64)> {
        if let Some(f) = self.0.func_for_pc(addr).filter(|f| f.entry <= addr) {
            return Some((f.name, f.entry));
        }
        self.0.sized_data_symbol_at(addr).map(|s| (s.name.clone(), s.addr))
    }
}

fn formatter() -> IntelFormatter {
    let mut fmt = IntelFormatter::new();
    let o = fmt.options_mut();
    o.set_hex_prefix("0x");
    o.set_hex_suffix("");
    o.set_uppercase_hex(false);
    o.set_space_after_operand_separator(true);
    o.set_memory_size_options(MemorySizeOptions::Minimal);
    o.set_show_branch_size(false);
    o.set_branch_leading_zeros(false);
    o.set_rip_relative_addresses(true);
    o.set_small_hex_numbers_in_decimal(false);
    fmt
}

/// Go pads functions with int3; an unreached pad is not worth a note.
fn is_padding(ins: &Instruction) -> bool {
    ins.mnemonic() == iced_x86::Mnemonic::Int3 || ins.mnemonic() == iced_x86::Mnemonic::Nop
}

/// The labelled memory operand of `ins`, if any.
fn field_of(ctx: &Ctx<'_>, st: &State, ins: &Instruction) -> Option<(Base, Off, String)> {
    let has_mem = (0..ins.op_count()).any(|i| ins.op_kind(i) == OpKind::Memory);
    // Multi-byte nops carry a memory operand that is never accessed.
    if !has_mem || ins.mnemonic() == iced_x86::Mnemonic::Nop {
        return None;
    }
    let Target::Field(b, o) = mem_target(st, ins) else {
        return None;
    };
    // `lea` computes an address without touching memory: label it all the
    // same, it is how Go addresses a field it passes on.
    let width = ins.memory_size().size() as u64;
    label(ctx, b, o, width).map(|l| (b, o, l))
}

fn record(offsets: &mut BTreeMap<(String, i64), (Option<String>, usize)>, ctx: &Ctx<'_>, b: Base, o: Off, l: &str) {
    let Off::At(n) = o else { return };
    let Some(f) = ctx.fields else { return };
    let list = match b {
        Base::Header => f.header.as_ref(),
        Base::Table => f.table.as_ref(),
        Base::MapType => Some(&f.map_type),
        _ => None,
    };
    let Some(list) = list else { return };
    let known = !l.ends_with('?');
    let e = offsets
        .entry((list.label.clone(), n))
        .or_insert_with(|| (known.then(|| l.to_string()), 0));
    e.1 += 1;
}

/// What annotating one function gathered, on either architecture.
struct Tally {
    out: Vec<AnnotatedInstruction>,
    offsets: BTreeMap<(String, i64), (Option<String>, usize)>,
    labels: BTreeSet<String>,
    invalid: usize,
    unreached: usize,
    notes: Vec<String>,
}

impl Tally {
    fn finish(self, f: &Func) -> AnnotatedFunction {
        let mut notes = self.notes;
        if self.unreached > 0 {
            notes.push(format!(
                "{} instruction(s) not reached from the entry along followed edges: not annotated",
                self.unreached
            ));
        }
        let offsets: Vec<OffsetUse> = self
            .offsets
            .into_iter()
            .map(|((structure, offset), (field, uses))| OffsetUse {
                structure,
                offset,
                field,
                uses,
            })
            .collect();
        let unknown_offsets = offsets.iter().filter(|o| o.field.is_none()).cloned().collect();
        AnnotatedFunction {
            name: f.name.clone(),
            entry: f.entry,
            end: f.end,
            instructions: self.out,
            fields: self.labels.into_iter().collect(),
            offsets,
            unknown_offsets,
            invalid_instructions: self.invalid,
            notes,
        }
    }
}
