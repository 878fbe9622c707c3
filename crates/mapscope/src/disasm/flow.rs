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

/// What the tracking knew at the head of each basic block (`None`: not
/// reached from the entry along edges we follow), and whether the budget
/// ran out. States inside a block are recomputed on demand
/// ([`Flow::for_each_state`]): keeping one per instruction cost gigabytes on
/// functions of 150k instructions with large frames (aws-sdk-go's
/// `endpoints.init`); one per block is what a block's single entry needs.
pub struct Flow {
    /// Index of each block's first instruction, ascending (block 0 starts at 0).
    starts: Vec<usize>,
    heads: Vec<Option<State>>,
    pub budget_exhausted: bool,
}

/// Block heads: the entry, every branch target, and every instruction after
/// one that does not simply fall through.
fn block_starts(insns: &[Instruction]) -> Vec<usize> {
    let mut lead = vec![false; insns.len()];
    if let Some(l) = lead.first_mut() {
        *l = true;
    }
    for (i, ins) in insns.iter().enumerate() {
        let falls_through = !is_invalid(ins)
            && matches!(
                ins.flow_control(),
                FlowControl::Next | FlowControl::Call | FlowControl::IndirectCall | FlowControl::XbeginXabortXend
            );
        if !falls_through {
            if let Some(l) = lead.get_mut(i + 1) {
                *l = true;
            }
        }
        if !is_invalid(ins)
            && matches!(
                ins.flow_control(),
                FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch
            )
        {
            if let Some(t) = index_of(insns, ins.near_branch_target()) {
                if let Some(l) = lead.get_mut(t) {
                    *l = true;
                }
            }
        }
    }
    lead.iter().enumerate().filter(|(_, &l)| l).map(|(i, _)| i).collect()
}

impl Flow {
    fn block_of(&self, i: usize) -> Option<usize> {
        match self.starts.binary_search(&i) {
            Ok(b) => Some(b),
            Err(0) => None,
            Err(b) => Some(b - 1),
        }
    }

    fn block_range(&self, b: usize, n: usize) -> std::ops::Range<usize> {
        let start = self.starts.get(b).copied().unwrap_or(n);
        let end = self.starts.get(b + 1).copied().unwrap_or(n);
        start..end
    }

    /// Calls `f(i, state before instruction i)` for every instruction, in
    /// address order.
    pub fn for_each_state(&self, insns: &[Instruction], ctx: &Ctx<'_>, mut f: impl FnMut(usize, Option<&State>)) {
        let mut info = InstructionInfoFactory::new();
        for (b, head) in self.heads.iter().enumerate() {
            let range = self.block_range(b, insns.len());
            let Some(head) = head else {
                range.for_each(|i| f(i, None));
                continue;
            };
            let mut st = head.clone();
            for i in range {
                f(i, Some(&st));
                if let Some(ins) = insns.get(i) {
                    step(ctx, &mut st, ins, &mut info);
                }
            }
        }
    }

    /// The states before the instructions `wanted` (ascending indices).
    pub fn states_at(&self, insns: &[Instruction], ctx: &Ctx<'_>, wanted: &[usize]) -> Vec<Option<State>> {
        let mut out = Vec::with_capacity(wanted.len());
        let mut info = InstructionInfoFactory::new();
        for &w in wanted {
            let Some(b) = self.block_of(w) else {
                out.push(None);
                continue;
            };
            let Some(Some(head)) = self.heads.get(b) else {
                out.push(None);
                continue;
            };
            let mut st = head.clone();
            for i in self.block_range(b, insns.len()).take_while(|&i| i < w) {
                if let Some(ins) = insns.get(i) {
                    step(ctx, &mut st, ins, &mut info);
                }
            }
            out.push(Some(st));
        }
        out
    }
}

pub fn analyse(insns: &[Instruction], entry: State, ctx: &Ctx<'_>) -> Flow {
    let starts = block_starts(insns);
    let mut flow = Flow {
        heads: vec![None; starts.len()],
        starts,
        budget_exhausted: false,
    };
    let mut info = InstructionInfoFactory::new();
    let mut work = VecDeque::new();
    let mut queued = vec![false; flow.starts.len()];
    if let (Some(h), Some(q)) = (flow.heads.first_mut(), queued.first_mut()) {
        *h = Some(entry);
        *q = true;
        work.push_back(0usize);
    }
    let mut budget = insns.len().saturating_mul(VISITS_PER_INSN).saturating_add(64);
    let mut succ = Vec::with_capacity(2);
    while let Some(b) = work.pop_front() {
        if let Some(q) = queued.get_mut(b) {
            *q = false;
        }
        let Some(Some(head)) = flow.heads.get(b) else { continue };
        let range = flow.block_range(b, insns.len());
        let Some(last) = range.end.checked_sub(1).filter(|&l| l >= range.start) else {
            continue;
        };
        let steps = range.len();
        if budget < steps {
            flow.budget_exhausted = true;
            return flow;
        }
        budget -= steps;
        let mut out = head.clone();
        for i in range {
            if let Some(ins) = insns.get(i) {
                step(ctx, &mut out, ins, &mut info);
            }
        }
        successors(insns, last, &mut succ);
        for &s in &succ {
            // The morestack path jumps back to the entry with the arguments
            // reloaded: the entry state stays what the ABI says.
            if s == 0 {
                continue;
            }
            let Some(sb) = flow.block_of(s) else { continue };
            let Some(slot) = flow.heads.get_mut(sb) else { continue };
            let changed = match slot {
                None => {
                    *slot = Some(out.clone());
                    true
                }
                Some(old) => {
                    let merged = old.meet(&out);
                    let changed = merged != *old;
                    *old = merged;
                    changed
                }
            };
            if changed {
                if let Some(q) = queued.get_mut(sb) {
                    if !*q {
                        *q = true;
                        work.push_back(sb);
                    }
                }
            }
        }
    }
    flow
}
