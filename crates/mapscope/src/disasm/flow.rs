//! Decoding one function and running the register tracking over its control
//! flow: a forward data-flow pass (join = keep what all predecessors agree
//! on) with a work budget, so a malformed function cannot loop us.

use std::collections::VecDeque;

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory};

use super::regs::{step, Ctx, State};

/// Functions longer than this are decoded only up to it (the largest Go
/// functions are a few hundred KiB; a corrupt pclntab could claim GiBs).
pub const MAX_FUNC_BYTES: u64 = 4 << 20;
/// Work budget per instruction for the fixpoint.
const VISITS_PER_INSN: usize = 24;

/// The decoded instructions of one function, in address order.
pub struct Decoded {
    pub insns: Vec<Instruction>,
    /// True when the function's bytes were cut at [`MAX_FUNC_BYTES`].
    pub truncated: bool,
}

pub fn decode(bytes: &[u8], ip: u64) -> Decoded {
    let truncated = bytes.len() as u64 > MAX_FUNC_BYTES;
    let bytes = bytes.get(..MAX_FUNC_BYTES as usize).unwrap_or(bytes);
    let mut d = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let mut insns = Vec::with_capacity(bytes.len() / 4);
    let mut ins = Instruction::default();
    // Each decode consumes at least one byte, so this ends.
    while d.can_decode() {
        d.decode_out(&mut ins);
        insns.push(ins);
    }
    Decoded { insns, truncated }
}

pub fn is_invalid(ins: &Instruction) -> bool {
    ins.code() == Code::INVALID
}

/// Index of the instruction starting exactly at `addr`.
fn index_of(insns: &[Instruction], addr: u64) -> Option<usize> {
    insns.binary_search_by_key(&addr, |i| i.ip()).ok()
}

/// Successors of instruction `i` (within the function).
fn successors(insns: &[Instruction], i: usize, out: &mut Vec<usize>) {
    out.clear();
    let Some(ins) = insns.get(i) else { return };
    if is_invalid(ins) {
        return; // bytes that do not decode: stop following this path
    }
    let next = (i + 1 < insns.len()).then_some(i + 1);
    match ins.flow_control() {
        FlowControl::Next | FlowControl::Call | FlowControl::IndirectCall | FlowControl::XbeginXabortXend => {
            out.extend(next)
        }
        FlowControl::ConditionalBranch => {
            out.extend(next);
            out.extend(index_of(insns, ins.near_branch_target()));
        }
        FlowControl::UnconditionalBranch => out.extend(index_of(insns, ins.near_branch_target())),
        // Indirect jumps (jump tables) and returns end the path: we give up there.
        FlowControl::IndirectBranch | FlowControl::Return | FlowControl::Interrupt | FlowControl::Exception => {}
    }
}

/// What the tracking knew before each instruction (`None`: not reached
/// from the entry along edges we follow), and whether the budget ran out.
pub struct Flow {
    pub before: Vec<Option<State>>,
    pub budget_exhausted: bool,
}

pub fn analyse(insns: &[Instruction], entry: State, ctx: &Ctx<'_>) -> Flow {
    let mut before: Vec<Option<State>> = vec![None; insns.len()];
    let mut info = InstructionInfoFactory::new();
    let mut work = VecDeque::new();
    if let Some(b) = before.first_mut() {
        *b = Some(entry);
        work.push_back(0usize);
    }
    let mut queued = vec![false; insns.len()];
    if let Some(q) = queued.first_mut() {
        *q = true;
    }
    let mut budget = insns.len().saturating_mul(VISITS_PER_INSN).saturating_add(64);
    let mut succ = Vec::with_capacity(2);
    while let Some(i) = work.pop_front() {
        if budget == 0 {
            return Flow {
                before,
                budget_exhausted: true,
            };
        }
        budget -= 1;
        if let Some(q) = queued.get_mut(i) {
            *q = false;
        }
        let (Some(Some(st)), Some(ins)) = (before.get(i), insns.get(i)) else {
            continue;
        };
        let mut out = st.clone();
        step(ctx, &mut out, ins, &mut info);
        successors(insns, i, &mut succ);
        for &s in &succ {
            // The morestack path jumps back to the entry with the arguments
            // reloaded: the entry state stays what the ABI says.
            if s == 0 {
                continue;
            }
            let Some(slot) = before.get_mut(s) else { continue };
            let merged = match slot {
                None => out.clone(),
                Some(old) => old.meet(&out),
            };
            if slot.as_ref() != Some(&merged) {
                *slot = Some(merged);
                if let Some(q) = queued.get_mut(s) {
                    if !*q {
                        *q = true;
                        work.push_back(s);
                    }
                }
            }
        }
    }
    Flow {
        before,
        budget_exhausted: false,
    }
}
