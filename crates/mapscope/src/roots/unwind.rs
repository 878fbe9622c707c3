//! Unwinding one goroutine's stack the way `runtime.(*unwinder)` does for the
//! GC (`traceback.go` `resolveInternal`/`next`), and each frame's live pointer
//! words the way `scanframeworker` finds them (`stkframe.go` `getStackMap`).
//!
//! Geometry (go-heap.md §6.2): amd64 `fp = sp + spdelta + 8`, return PC at
//! `fp-8`, `varp = fp-8` (then -8 for the saved BP), `argp = fp`; arm64
//! `fp = sp + spdelta`, return PC saved at `*(sp)` (or the LR register in the
//! innermost frame before it is saved), `varp = fp` (-8), `argp = fp + 8`.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use super::layout::{status, GLayout};
use super::{Frame, Goroutine, RootsError, StackObject, G_ROOTS_FRAME};
use crate::binary::{
    Arch, FuncInfo, GoBinary, ARGS_SIZE_UNKNOWN, FUNCDATA_ARGS_POINTER_MAPS, FUNCDATA_LOCALS_POINTER_MAPS,
    FUNCDATA_STACK_OBJECTS, FUNC_FLAG_SPWRITE, FUNC_FLAG_TOP_FRAME, PCDATA_STACK_MAP_INDEX,
};
use crate::memory::{Memory, MemoryExt, ThreadStatus};

/// Frames per goroutine; a real stack of 1 GB with minimal frames would be deeper,
/// but no real program gets near this and garbage stacks must end.
const MAX_FRAMES: usize = 10_000;
/// Bits in one stack map bitmap (1 << 20 words = 8 MB of frame).
const MAX_MAP_BITS: i32 = 1 << 20;
/// Stack object records per function.
const MAX_STACK_OBJECTS: u64 = 1 << 16;
/// Defer records per goroutine.
const MAX_DEFERS: usize = 100_000;
/// Stacks up to this size are read in one piece; larger ones word by word.
const MAX_STACK_READ: u64 = 64 << 20;
/// Bytes of a `g` read at once (covers every field in the layout table).
const G_READ: usize = 176;

/// A function as the unwinder needs it, cached by PC.
struct Func {
    name: String,
    info: FuncInfo,
    kind: FuncKind,
}

/// Functions the unwinder treats specially, matched by name because `abi.FuncID`
/// numbering changes between releases.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FuncKind {
    Normal,
    /// `runtime.asyncPreempt`, `runtime.debugCallV2`: their frame holds the
    /// interrupted registers; both it and its caller are scanned conservatively.
    Injected,
    /// `runtime.sigpanic`: injected by a signal; the caller's continuation PC
    /// becomes its deferreturn (or the frame is dead).
    SigPanic,
}

/// Live pointer words of a frame relative to its varp/argp, decoded once per (pc, continpc).
#[derive(Default)]
struct Liveness {
    /// Byte offsets from varp (negative) of live local pointer words.
    locals: Vec<i64>,
    /// Byte offsets from argp of live argument pointer words.
    args: Vec<u64>,
    /// (offset, from_argp, size, pointer byte offsets)
    objects: Vec<(i64, bool, u64, Vec<u32>)>,
    /// Problems decoding the maps; reported per frame.
    problems: Vec<String>,
}

pub(super) struct Walker<'a> {
    bin: &'a GoBinary,
    mem: &'a dyn Memory,
    l: &'a GLayout,
    minor: u32,
    arm64: bool,
    funcs: HashMap<u64, Option<Rc<Func>>>,
    live: HashMap<(u64, u64, bool), Rc<Liveness>>,
    rodata: u64,
}

/// Words of one stack, read once.
struct Stack<'a> {
    mem: &'a dyn Memory,
    base: u64,
    bytes: Vec<u8>,
}

impl Stack<'_> {
    fn word(&self, addr: u64) -> Option<u64> {
        let off = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        match self.bytes.get(off..off.checked_add(8)?) {
            Some(b) => Some(u64::from_le_bytes(b.try_into().ok()?)),
            None => self.mem.read_u64(addr).ok(),
        }
    }
}

/// Where unwinding starts.
struct Start {
    pc: u64,
    sp: u64,
    lr: u64,
    /// Started from `syscallsp`/`syscallpc`: SPWRITE of the innermost frame is ignored.
    syscall: bool,
    /// Started from a thread's registers: the innermost frame is not at a safe point.
    from_registers: bool,
}

fn le_u64(b: &[u8], off: u64) -> u64 {
    usize::try_from(off)
        .ok()
        .and_then(|o| b.get(o..o.checked_add(8)?))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

impl<'a> Walker<'a> {
    pub(super) fn new(bin: &'a GoBinary, mem: &'a dyn Memory, l: &'a GLayout, minor: u32) -> Self {
        Walker {
            bin,
            mem,
            l,
            minor,
            arm64: bin.arch() == Arch::Arm64,
            funcs: HashMap::new(),
            live: HashMap::new(),
            rodata: bin.moduledata().map_or(0, |m| m.rodata),
        }
    }

    fn func(&mut self, pc: u64) -> Option<Rc<Func>> {
        if let Some(f) = self.funcs.get(&pc) {
            return f.clone();
        }
        let f = self.bin.func_for_pc(pc).and_then(|f| {
            let info = self.bin.func_info(&f)?;
            let kind = match f.name.as_str() {
                "runtime.asyncPreempt" | "runtime.debugCallV2" => FuncKind::Injected,
                "runtime.sigpanic" => FuncKind::SigPanic,
                _ => FuncKind::Normal,
            };
            Some(Rc::new(Func {
                name: f.name,
                info,
                kind,
            }))
        });
        self.funcs.insert(pc, f.clone());
        f
    }

    /// One element of allgs; `None` for dead and idle goroutines (and unreadable ones, with an error).
    pub(super) fn goroutine(
        &mut self,
        g: u64,
        threads: &[ThreadStatus],
        errors: &mut Vec<RootsError>,
    ) -> Option<Goroutine> {
        let mut gb = [0u8; G_READ];
        if let Err(source) = self.mem.read(g, &mut gb) {
            errors.push(RootsError::Memory {
                what: "runtime.g",
                addr: g,
                source,
            });
            return None;
        }
        let l = self.l;
        let w = |off: u64| le_u64(&gb, off);
        let st = (w(l.atomicstatus) as u32) & !status::SCAN;
        if matches!(st, status::IDLE | status::DEAD | status::DEAD_EXTRA) {
            return None;
        }
        let mut gr = Goroutine {
            goid: w(l.goid),
            g_addr: g,
            status: st,
            stack_lo: w(l.stack_lo),
            stack_hi: w(l.stack_hi),
            frames: Vec::new(),
        };
        let gerr = |detail: String| RootsError::Goroutine {
            goid: gr.goid,
            g_addr: g,
            detail,
        };
        let start = match st {
            status::RUNNABLE | status::WAITING | status::PREEMPTED | status::LEAKED | status::SYSCALL => {
                let (ssp, spc) = (w(l.syscallsp), w(l.syscallpc));
                // scanstack: syscallsp wins whenever it is set, whatever the status.
                if ssp != 0 {
                    Some(Start {
                        pc: spc,
                        sp: ssp,
                        lr: 0,
                        syscall: true,
                        from_registers: false,
                    })
                } else {
                    Some(Start {
                        pc: w(l.sched_pc),
                        sp: w(l.sched_sp),
                        lr: if self.arm64 { w(l.sched_lr) } else { 0 },
                        syscall: false,
                        from_registers: false,
                    })
                }
            }
            status::RUNNING => match self.running_start(&gr, w(l.m), w(l.sched_pc), w(l.sched_sp), threads) {
                Ok(s) => Some(s),
                Err(d) => {
                    errors.push(gerr(d));
                    None
                }
            },
            status::COPYSTACK => {
                errors.push(gerr(
                    "status _Gcopystack: the stack is being copied, frames are unreliable".into(),
                ));
                None
            }
            other => {
                errors.push(gerr(format!("unknown status {other}")));
                None
            }
        };
        if let Some(s) = start {
            self.unwind(&mut gr, s, errors);
        }
        let extra = self.g_extra_slots(g, &gb, gr.goid, errors);
        if !extra.is_empty() {
            match gr.frames.first_mut() {
                Some(f) => f.pointer_slots.extend(extra),
                None => gr.frames.push(Frame {
                    function: G_ROOTS_FRAME.to_string(),
                    entry: 0,
                    pc: 0,
                    sp: 0,
                    fp: 0,
                    pointer_slots: extra,
                    conservative: false,
                    stack_objects: Vec::new(),
                }),
            }
        }
        Some(gr)
    }

    /// A running goroutine's registers: the thread whose id is `g.m.procid`, or whose g
    /// register/TLS is this g, with its SP on this goroutine's stack. A thread on its
    /// g0 stack inside `systemstack` left the goroutine's state in `g.sched`.
    fn running_start(
        &mut self,
        gr: &Goroutine,
        m: u64,
        sched_pc: u64,
        sched_sp: u64,
        threads: &[ThreadStatus],
    ) -> Result<Start, String> {
        if threads.is_empty() {
            return Err("running, and no thread registers were given (a live process?)".into());
        }
        let procid = (m != 0)
            .then(|| self.mem.read_u64(m.saturating_add(self.l.m_procid)).ok())
            .flatten();
        let thread = threads.iter().find(|t| {
            procid.is_some_and(|p| p == t.tid as u64)
                || t.registers.go_g() == Some(gr.g_addr)
                || t.registers
                    .tls_base()
                    .filter(|&b| b >= 8)
                    .and_then(|b| self.mem.read_u64(b - 8).ok())
                    == Some(gr.g_addr)
        });
        let Some(t) = thread else {
            return Err(format!(
                "running, and no thread has m.procid {procid:?} or this g in its registers"
            ));
        };
        let (pc, sp) = (t.registers.pc().unwrap_or(0), t.registers.sp().unwrap_or(0));
        if sp >= gr.stack_lo && sp < gr.stack_hi && pc != 0 {
            let lr = if self.arm64 {
                t.registers.words.get(30).copied().unwrap_or(0)
            } else {
                0
            };
            return Ok(Start {
                pc,
                sp,
                lr,
                syscall: false,
                from_registers: true,
            });
        }
        // systemstack saved the goroutine's pc/sp (systemstack_switch) before switching to g0.
        if self
            .func(sched_pc)
            .is_some_and(|f| f.name == "runtime.systemstack_switch")
            && sched_sp >= gr.stack_lo
            && sched_sp < gr.stack_hi
        {
            return Ok(Start {
                pc: sched_pc,
                sp: sched_sp,
                lr: 0,
                syscall: false,
                from_registers: false,
            });
        }
        Err(format!(
            "running on thread {} whose sp {sp:#x} is not on the goroutine's stack (a signal handler or g0?)",
            t.tid
        ))
    }

    fn unwind(&mut self, gr: &mut Goroutine, s: Start, errors: &mut Vec<RootsError>) {
        let (goid, g_addr, lo, hi) = (gr.goid, gr.g_addr, gr.stack_lo, gr.stack_hi);
        let gerr = |detail: String| RootsError::Goroutine { goid, g_addr, detail };
        if s.sp < lo || s.sp >= hi {
            errors.push(gerr(format!(
                "start sp {:#x} is outside the stack [{lo:#x}, {hi:#x})",
                s.sp
            )));
            return;
        }
        let span = hi - s.sp;
        let mut bytes = Vec::new();
        if span <= MAX_STACK_READ {
            bytes = vec![0u8; span as usize];
            if self.mem.read(s.sp, &mut bytes).is_err() {
                bytes.clear();
            }
        }
        let stack = Stack {
            mem: self.mem,
            base: s.sp,
            bytes,
        };
        let ferr = |f: &str, pc: u64, detail: String| RootsError::Frame {
            goid,
            function: f.to_string(),
            pc,
            detail,
        };
        let (mut pc, mut sp, mut lr) = (s.pc, s.sp, s.lr);
        // u.initAt: a g whose pc is 0 has the return PC on top of its stack.
        if pc == 0 {
            let Some(x) = stack.word(sp) else {
                errors.push(gerr(format!("pc 0 and the word at sp {sp:#x} is unreadable")));
                return;
            };
            pc = x;
            lr = 0;
            if !self.arm64 {
                sp += 8;
            }
        }
        let mut innermost = true;
        let mut conservative_next = s.from_registers;
        let mut callee_kind = FuncKind::Normal;
        for _ in 0..MAX_FRAMES {
            let Some(f) = self.func(pc) else {
                errors.push(gerr(format!(
                    "pc {pc:#x} at sp {sp:#x} is in no function of the pclntab"
                )));
                return;
            };
            let info = &f.info;
            if info.pcsp == 0 {
                // No frame information: an external function; the runtime stops here too.
                return;
            }
            let mut flag = info.flag;
            if s.syscall && innermost {
                flag &= !FUNC_FLAG_SPWRITE;
            }
            let Some(delta) = self.bin.pcsp(info, pc).filter(|&d| d >= 0) else {
                errors.push(ferr(&f.name, pc, "no SP delta in pcsp for this pc".into()));
                return;
            };
            let mut fp = sp.saturating_add(delta as u64);
            if !self.arm64 {
                fp = fp.saturating_add(8);
            }
            let mut stop_after = false;
            if flag & FUNC_FLAG_TOP_FRAME != 0 {
                lr = 0;
            } else if flag & FUNC_FLAG_SPWRITE != 0 && !innermost {
                errors.push(ferr(
                    &f.name,
                    pc,
                    "function writes SP (FuncFlagSPWrite) and is not the innermost frame: cannot unwind further".into(),
                ));
                lr = 0;
                stop_after = true;
            } else if self.arm64 {
                if (innermost && sp < fp) || lr == 0 {
                    lr = stack.word(sp).unwrap_or(0);
                }
            } else if lr == 0 {
                lr = stack.word(fp.saturating_sub(8)).unwrap_or(0);
            }
            let mut varp = if self.arm64 { fp } else { fp.saturating_sub(8) };
            if varp > sp {
                varp -= 8;
            }
            let argp = fp + if self.arm64 { 8 } else { 0 };
            let continpc = if callee_kind == FuncKind::SigPanic {
                if info.deferreturn != 0 {
                    info.entry + u64::from(info.deferreturn) + 1
                } else {
                    0
                }
            } else {
                pc
            };

            let mut frame = Frame {
                function: f.name.clone(),
                entry: info.entry,
                pc,
                sp,
                fp,
                pointer_slots: Vec::new(),
                conservative: false,
                stack_objects: Vec::new(),
            };
            let is_injected = f.kind == FuncKind::Injected;
            if conservative_next || is_injected {
                // scanframeworker: every word of [sp, varp) and of the args.
                frame.conservative = true;
                let mut end = varp;
                if self.arm64 && (is_injected || f.kind == FuncKind::SigPanic) {
                    end = end.saturating_add(16);
                }
                frame.pointer_slots.extend((sp..end).step_by(8));
                if info.args > 0 {
                    frame
                        .pointer_slots
                        .extend((argp..argp.saturating_add(info.args as u64)).step_by(8));
                }
                conservative_next = is_injected;
            } else {
                let live = self.liveness(&f, continpc, varp - sp);
                for p in &live.problems {
                    errors.push(ferr(&f.name, pc, p.clone()));
                }
                frame
                    .pointer_slots
                    .extend(live.locals.iter().map(|&o| varp.wrapping_add(o as u64)));
                frame.pointer_slots.extend(live.args.iter().map(|&o| argp + o));
                for (off, from_argp, size, ptrs) in &live.objects {
                    let base = if *from_argp { argp } else { varp };
                    let addr = base.wrapping_add(*off as u64);
                    if addr < sp {
                        // Not yet allocated in the frame.
                        continue;
                    }
                    frame.stack_objects.push(StackObject {
                        addr,
                        size: *size,
                        pointer_offsets: ptrs.clone(),
                    });
                }
            }
            gr.frames.push(frame);
            if lr == 0 || stop_after {
                return;
            }
            if self.func(lr).is_none() {
                errors.push(ferr(
                    &f.name,
                    pc,
                    format!("unexpected return pc {lr:#x} (in no function)"),
                ));
                return;
            }
            if pc == lr && sp == fp {
                errors.push(ferr(&f.name, pc, "traceback stuck: next frame is identical".into()));
                return;
            }
            callee_kind = f.kind;
            pc = lr;
            lr = 0;
            sp = fp;
            innermost = false;
            if self.arm64 && matches!(f.kind, FuncKind::Injected | FuncKind::SigPanic) {
                // sighandler saved LR on the stack before faking the call (unwinder.next).
                let x = stack.word(sp).unwrap_or(0);
                sp += 16;
                match self.func(pc) {
                    None => pc = x,
                    Some(nf) => {
                        if self.bin.pcsp(&nf.info, pc) == Some(0) {
                            lr = x;
                        }
                    }
                }
            }
            if sp < lo || sp >= hi {
                errors.push(gerr(format!(
                    "unwound sp {sp:#x} (caller of {}) left the stack [{lo:#x}, {hi:#x})",
                    f.name
                )));
                return;
            }
        }
        errors.push(gerr(format!(
            "more than {MAX_FRAMES} frames: a cyclic or garbage stack"
        )));
    }

    /// `getStackMap` for `f` at continuation PC `continpc`, locals scanned only when the
    /// frame has more than the minimum frame (`frame_size = varp - sp`).
    fn liveness(&mut self, f: &Func, continpc: u64, frame_size: u64) -> Rc<Liveness> {
        // Locals are considered only when varp - sp exceeds MinFrameSize (amd64: 0) or
        // StackAlign (arm64: 16).
        let has_locals = frame_size > if self.arm64 { 16 } else { 0 };
        let key = (continpc, f.info.entry, has_locals);
        if let Some(l) = self.live.get(&key) {
            return l.clone();
        }
        let l = Rc::new(self.decode_liveness(f, continpc, has_locals));
        self.live.insert(key, l.clone());
        l
    }

    fn decode_liveness(&self, f: &Func, continpc: u64, has_locals: bool) -> Liveness {
        let mut out = Liveness::default();
        if continpc == 0 {
            // Dead frame (panicking through it without defers): nothing live.
            return out;
        }
        let info = &f.info;
        let mut idx: i64 = -1;
        if continpc != info.entry {
            // Back up into the CALL instruction: the map after the call is at pc-1.
            idx = self
                .bin
                .pcdata_value(info, PCDATA_STACK_MAP_INDEX, continpc - 1)
                .unwrap_or(-1);
        }
        if idx == -1 {
            // The prologue: the runtime assumes map 0.
            idx = 0;
        }
        if has_locals {
            match self.bin.funcdata_addr(info, FUNCDATA_LOCALS_POINTER_MAPS) {
                None => out.problems.push("frame has locals but no locals stack map".into()),
                Some(sm) => match self.stackmap(sm, idx) {
                    Ok(Some((nbit, bits))) => {
                        // Bit i: pointer at varp - nbit*8 + 8i.
                        let base = -(i64::from(nbit) * 8);
                        out.locals.extend(bits.into_iter().map(|i| base + i64::from(i) * 8));
                    }
                    Ok(None) => {}
                    Err(e) => out.problems.push(format!("locals stack map at {sm:#x}: {e}")),
                },
            }
        }
        if info.args == ARGS_SIZE_UNKNOWN {
            if matches!(f.name.as_str(), "reflect.makeFuncStub" | "reflect.methodValueCall") {
                out.problems
                    .push("reflect stub: argument map lives in its reflect.methodValue, not decoded".into());
            }
        } else if info.args > 0 {
            match self.bin.funcdata_addr(info, FUNCDATA_ARGS_POINTER_MAPS) {
                None => out
                    .problems
                    .push(format!("{} bytes of args but no args stack map", info.args)),
                Some(sm) => match self.stackmap(sm, idx) {
                    Ok(Some((_, bits))) => out.args.extend(bits.into_iter().map(|i| u64::from(i) * 8)),
                    Ok(None) => {}
                    Err(e) => out.problems.push(format!("args stack map at {sm:#x}: {e}")),
                },
            }
        }
        if let Some(so) = self.bin.funcdata_addr(info, FUNCDATA_STACK_OBJECTS) {
            if let Err(e) = self.stack_objects(so, &mut out) {
                out.problems.push(format!("stack object records at {so:#x}: {e}"));
            }
        }
        out
    }

    /// Bitmap `idx` of the `stackmap{n int32, nbit int32, bytedata}` at `addr`:
    /// `(nbit, indices of set bits)`, `None` when `nbit == 0`.
    fn stackmap(&self, addr: u64, idx: i64) -> Result<Option<(i32, Vec<u32>)>, String> {
        let hdr = self.bin.read_at(addr, 8).map_err(|e| e.to_string())?;
        let n = i32::from_le_bytes(hdr.get(0..4).and_then(|b| b.try_into().ok()).unwrap_or([0; 4]));
        let nbit = i32::from_le_bytes(hdr.get(4..8).and_then(|b| b.try_into().ok()).unwrap_or([0; 4]));
        if n <= 0 || !(0..=MAX_MAP_BITS).contains(&nbit) {
            return Err(format!(
                "n = {n}, nbit = {nbit}: expected n > 0 and 0 <= nbit <= {MAX_MAP_BITS}"
            ));
        }
        if nbit == 0 {
            return Ok(None);
        }
        if idx < 0 || idx >= i64::from(n) {
            return Err(format!("stack map index {idx} outside the {n} bitmaps"));
        }
        let per = (nbit as u64).div_ceil(8);
        let at = addr + 8 + idx as u64 * per;
        let bytes = self.bin.read_at(at, per).map_err(|e| e.to_string())?;
        let bits = (0..nbit as u32)
            .filter(|&i| bytes.get((i / 8) as usize).is_some_and(|b| b & (1 << (i % 8)) != 0))
            .collect();
        Ok(Some((nbit, bits)))
    }

    /// `funcdata[StackObjects]`: a uintptr count, then 16-byte `stackObjectRecord`s
    /// `{off int32, size int32, ptrdata int32, gcdataoff uint32}`; the mask is at
    /// `moduledata.rodata + gcdataoff`.
    fn stack_objects(&self, addr: u64, out: &mut Liveness) -> Result<(), String> {
        let cnt = self.bin.read_at(addr, 8).map_err(|e| e.to_string())?;
        let n = u64::from_le_bytes(cnt.try_into().unwrap_or([0; 8]));
        if n > MAX_STACK_OBJECTS {
            return Err(format!("{n} records, more than {MAX_STACK_OBJECTS}"));
        }
        let recs = self.bin.read_at(addr + 8, n * 16).map_err(|e| e.to_string())?;
        for r in recs.chunks_exact(16) {
            let field = |i: usize| {
                r.get(i * 4..i * 4 + 4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u32::from_le_bytes)
            };
            let (off, size, ptrdata, gcdataoff) = (field(0) as i32, field(1) as i32, field(2) as i32, field(3));
            if size < 0 {
                out.problems
                    .push(format!("stack object at offset {off} has size {size}"));
                continue;
            }
            if ptrdata < 0 {
                // ≤1.23: a negative _ptrdata means the mask is a GC program.
                out.problems.push(format!(
                    "stack object at offset {off} (size {size}) uses a GC program (Go 1.{}): not decoded",
                    self.minor
                ));
                continue;
            }
            let words = (ptrdata.min(size) as u64) / 8;
            let mut ptrs = Vec::new();
            if words > 0 {
                let mask = self
                    .bin
                    .read_at(self.rodata.saturating_add(u64::from(gcdataoff)), words.div_ceil(8))
                    .map_err(|e| format!("GC mask of the object at offset {off}: {e}"))?;
                ptrs.extend(
                    (0..words as u32)
                        .filter(|&i| mask.get((i / 8) as usize).is_some_and(|b| b & (1 << (i % 8)) != 0))
                        .map(|i| i * 8),
                );
            }
            out.objects.push((i64::from(off), off >= 0, size as u64, ptrs));
        }
        Ok(())
    }

    /// `scanstack`'s roots outside the frames: `sched.ctxt`, each `_defer`'s `fn` and
    /// `link` words, the word holding a heap `_defer`, and the `_panic` word.
    fn g_extra_slots(&self, g: u64, gb: &[u8], goid: u64, errors: &mut Vec<RootsError>) -> Vec<u64> {
        let l = self.l;
        let mut out = Vec::new();
        if le_u64(gb, l.sched_ctxt) != 0 {
            out.push(g + l.sched_ctxt);
        }
        let mut holder = g + l.defer;
        let mut d = le_u64(gb, l.defer);
        let mut seen = HashSet::new();
        while d != 0 {
            if !seen.insert(d) || seen.len() > MAX_DEFERS {
                errors.push(RootsError::Goroutine {
                    goid,
                    g_addr: g,
                    detail: format!("_defer chain cycles or exceeds {MAX_DEFERS} records at {d:#x}"),
                });
                break;
            }
            let (Ok(heap), Ok(fnv), Ok(link)) = (
                self.mem.read_u8(d + l.defer_heap),
                self.mem.read_u64(d + l.defer_fn),
                self.mem.read_u64(d + l.defer_link),
            ) else {
                errors.push(RootsError::Goroutine {
                    goid,
                    g_addr: g,
                    detail: format!("_defer record at {d:#x} unreadable"),
                });
                break;
            };
            if heap != 0 {
                out.push(holder);
            }
            if fnv != 0 {
                out.push(d + l.defer_fn);
            }
            if link != 0 {
                out.push(d + l.defer_link);
            }
            holder = d + l.defer_link;
            d = link;
        }
        if le_u64(gb, l.panic) != 0 {
            out.push(g + l.panic);
        }
        out
    }
}
