//! Decoding one function and running the register tracking over its control
//! flow: a forward data-flow pass (join = keep what all predecessors agree
//! on) with a work budget, so a malformed function cannot loop us. The pass
//! is one for both instruction sets ([`Machine`]: amd64 here, arm64 in
//! `arm64_flow`), so both keep state per join block, not per instruction.

use std::collections::VecDeque;

use iced_x86::{Code, Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory};

use super::regs::{step, Ctx, State};

/// What the data flow needs of an instruction set: its control flow, its
/// transfer function, the join of two states and what a stored state keeps.
pub trait Machine {
    type Insn;
    type State: Clone + PartialEq;
    /// Successors of instruction `i` (indices into `insns`), into `out` (cleared first).
    fn successors(insns: &[Self::Insn], i: usize, out: &mut Vec<usize>);
    fn step(&mut self, st: &mut Self::State, insn: &Self::Insn);
    fn meet(a: &Self::State, b: &Self::State) -> Self::State;
    /// Trims a state before it is stored at a join block's head.
    fn prune(st: &mut Self::State);
}

/// amd64: iced-x86 instructions and `regs`' transfer rules.
pub struct Amd64<'c> {
    pub ctx: &'c Ctx<'c>,
    info: InstructionInfoFactory,
}

impl<'c> Amd64<'c> {
    pub fn new(ctx: &'c Ctx<'c>) -> Self {
        Amd64 {
            ctx,
            info: InstructionInfoFactory::new(),
        }
    }
}

impl Machine for Amd64<'_> {
    type Insn = Instruction;
    type State = State;
    fn successors(insns: &[Instruction], i: usize, out: &mut Vec<usize>) {
        successors(insns, i, out);
    }
    fn step(&mut self, st: &mut State, insn: &Instruction) {
        step(self.ctx, st, insn, &mut self.info);
    }
    fn meet(a: &State, b: &State) -> State {
        a.meet(b)
    }
    fn prune(st: &mut State) {
        super::regs::prune_slots(&mut st.slots);
    }
}

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
    insns.shrink_to_fit();
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

/// What the tracking knew at the head of each join block (the entry and
/// every block with more than one predecessor; `None`: not reached from the
/// entry along edges we follow), and whether the budget ran out. A block
/// with one predecessor gets its state from it, so the blocks hanging from
/// a join block form a tree that is walked from the join block's state and
/// never stored ([`Flow::visit`]). Keeping a state per instruction cost 7 GB
/// on aws-sdk-go's `endpoints.init` (150k instructions, a large frame);
/// keeping one per block still 700 MB.
pub struct Flow<S> {
    /// Index of each block's first instruction, ascending (block 0 starts at 0).
    starts: Vec<usize>,
    /// Successor blocks of each block.
    succs: Vec<Vec<usize>>,
    /// Blocks whose head state is stored: the entry and the joins.
    root: Vec<bool>,
    /// Boxed: most blocks are not roots and hold nothing.
    heads: Vec<Option<Box<S>>>,
    pub budget_exhausted: bool,
}

/// Block heads: the entry, every branch target, and every instruction after
/// one that does not simply fall through to the next.
fn block_starts<M: Machine>(insns: &[M::Insn]) -> Vec<usize> {
    let mut lead = vec![false; insns.len()];
    if let Some(l) = lead.first_mut() {
        *l = true;
    }
    let mut succ = Vec::with_capacity(2);
    for i in 0..insns.len() {
        M::successors(insns, i, &mut succ);
        if succ.as_slice() != [i + 1] {
            if let Some(l) = lead.get_mut(i + 1) {
                *l = true;
            }
        }
        for &t in succ.iter().filter(|&&t| t != i + 1) {
            if let Some(l) = lead.get_mut(t) {
                *l = true;
            }
        }
    }
    lead.iter().enumerate().filter(|(_, &l)| l).map(|(i, _)| i).collect()
}

impl<S: Clone + PartialEq> Flow<S> {
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

    /// Walks the tree of single-predecessor blocks hanging from root block
    /// `r` with the root's head state: `f(i, state before i)` for each
    /// instruction, `join(block, state at its head)` for each edge into a
    /// root. Returns the instructions stepped (bounded by `budget`).
    fn walk_tree<M: Machine<State = S>>(
        &self,
        r: usize,
        insns: &[M::Insn],
        m: &mut M,
        budget: usize,
        f: &mut dyn FnMut(usize, &S),
        join: &mut dyn FnMut(usize, &S),
    ) -> Option<usize> {
        let head = self.heads.get(r)?.as_ref()?;
        let mut stack = vec![(r, S::clone(head))];
        let mut used = 0usize;
        while let Some((b, mut st)) = stack.pop() {
            let range = self.block_range(b, insns.len());
            used = used.saturating_add(range.len());
            if used > budget {
                return None;
            }
            for i in range {
                f(i, &st);
                if let Some(ins) = insns.get(i) {
                    m.step(&mut st, ins);
                }
            }
            let succs = self.succs.get(b).map_or(&[][..], Vec::as_slice);
            // Tree children go on the stack, the last one without a copy;
            // a side exit (usually a short panic path) is walked first so
            // the stack stays shallow along the fall-through chain.
            let mut tree: Vec<usize> = Vec::new();
            for &s in succs {
                if self.root.get(s).copied().unwrap_or(true) {
                    join(s, &st);
                } else {
                    tree.push(s);
                }
            }
            if let Some((&last, rest)) = tree.split_first() {
                for &s in rest.iter().rev() {
                    stack.push((s, st.clone()));
                }
                // The first successor is the fall-through: pushed first,
                // popped last.
                stack.insert(stack.len() - rest.len(), (last, st));
            }
        }
        Some(used)
    }

    /// Calls `f(i, state before instruction i)` for every instruction
    /// reached from the entry (in no particular order).
    pub fn visit<M: Machine<State = S>>(&self, insns: &[M::Insn], m: &mut M, mut f: impl FnMut(usize, &S)) {
        for r in 0..self.starts.len() {
            if self.root.get(r).copied().unwrap_or(false) {
                let _ = self.walk_tree(r, insns, m, usize::MAX, &mut f, &mut |_, _| {});
            }
        }
    }

    /// The states before the instructions `wanted` (`None`: not reached).
    pub fn states_at<M: Machine<State = S>>(&self, insns: &[M::Insn], m: &mut M, wanted: &[usize]) -> Vec<Option<S>> {
        let mut out: Vec<Option<S>> = vec![None; wanted.len()];
        let mut sorted: Vec<(usize, usize)> = wanted.iter().enumerate().map(|(k, &i)| (i, k)).collect();
        sorted.sort_unstable();
        self.visit(insns, m, |i, st| {
            let from = sorted.partition_point(|&(w, _)| w < i);
            for &(w, k) in sorted.get(from..).unwrap_or(&[]) {
                if w != i {
                    break;
                }
                if let Some(o) = out.get_mut(k) {
                    *o = Some(st.clone());
                }
            }
        });
        out
    }
}

/// The forward pass from `entry` at instruction 0, joining paths with
/// [`Machine::meet`], within a work budget per instruction.
pub fn analyse<M: Machine>(insns: &[M::Insn], entry: M::State, m: &mut M) -> Flow<M::State> {
    let starts = block_starts::<M>(insns);
    let n = starts.len();
    let mut flow = Flow {
        heads: vec![None; n],
        succs: vec![Vec::new(); n],
        root: vec![false; n],
        starts,
        budget_exhausted: false,
    };
    let mut preds = vec![0u32; n];
    let mut succ = Vec::with_capacity(2);
    for b in 0..n {
        let range = flow.block_range(b, insns.len());
        let Some(last) = range.end.checked_sub(1).filter(|&l| l >= range.start) else {
            continue;
        };
        M::successors(insns, last, &mut succ);
        let mut sb: Vec<usize> = Vec::with_capacity(succ.len());
        for &s in &succ {
            // The morestack path jumps back to the entry with the arguments
            // reloaded: the entry state stays what the ABI says.
            if s == 0 {
                continue;
            }
            if let Some(t) = flow.block_of(s) {
                if !sb.contains(&t) {
                    sb.push(t);
                    if let Some(p) = preds.get_mut(t) {
                        *p += 1;
                    }
                }
            }
        }
        if let Some(slot) = flow.succs.get_mut(b) {
            *slot = sb;
        }
    }
    for (b, r) in flow.root.iter_mut().enumerate() {
        *r = b == 0 || preds.get(b).copied().unwrap_or(0) != 1;
    }
    let mut work = VecDeque::new();
    let mut queued = vec![false; n];
    if let (Some(h), Some(q)) = (flow.heads.first_mut(), queued.first_mut()) {
        *h = Some(Box::new(entry));
        *q = true;
        work.push_back(0usize);
    }
    let mut budget = insns.len().saturating_mul(VISITS_PER_INSN).saturating_add(64);
    while let Some(r) = work.pop_front() {
        if let Some(q) = queued.get_mut(r) {
            *q = false;
        }
        let mut updates: Vec<(usize, M::State)> = Vec::new();
        let used = flow.walk_tree(r, insns, m, budget, &mut |_, _| {}, &mut |s, st| match updates
            .iter_mut()
            .find(|(b, _)| *b == s)
        {
            Some((_, old)) => *old = M::meet(old, st),
            None => updates.push((s, st.clone())),
        });
        let Some(used) = used else {
            flow.budget_exhausted = true;
            return flow;
        };
        budget = budget.saturating_sub(used);
        for (s, mut st) in updates {
            M::prune(&mut st);
            let Some(slot) = flow.heads.get_mut(s) else { continue };
            let changed = match slot {
                None => {
                    *slot = Some(Box::new(st));
                    true
                }
                Some(old) => {
                    let merged = M::meet(old, &st);
                    let changed = merged != **old;
                    **old = merged;
                    changed
                }
            };
            if changed {
                if let Some(q) = queued.get_mut(s) {
                    if !*q {
                        *q = true;
                        work.push_back(s);
                    }
                }
            }
        }
    }
    flow
}
