//! Offsets of the runtime structures the root finder reads (`runtime.g`, its
//! `gobuf`, `runtime.m`, `runtime._defer`), per Go version, in one table.
//!
//! Read from `runtime/runtime2.go` of each release and checked against
//! go-heap.md §5.1 (gdb `ptype/o` on DWARF builds). 64-bit targets only; amd64
//! and arm64 share every offset here. 1.20 is inferred from its neighbours
//! (the g prefix did not change between 1.19 and 1.22).

/// Byte offsets of the fields read from `g`, `m` and `_defer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GLayout {
    pub name: &'static str,
    /// Go 1.N minor versions covered, inclusive.
    pub minors: (u32, u32),
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub panic: u64,
    pub defer: u64,
    pub m: u64,
    pub sched_sp: u64,
    pub sched_pc: u64,
    pub sched_ctxt: u64,
    pub sched_lr: u64,
    pub syscallsp: u64,
    pub syscallpc: u64,
    /// `atomicstatus` (uint32; `_Gscan` is OR-ed in while a scan holds the g).
    pub atomicstatus: u64,
    pub goid: u64,
    /// `m.g0`, `m.procid` (the thread id on linux), `m.curg`.
    pub m_g0: u64,
    pub m_procid: u64,
    pub m_curg: u64,
    /// `_defer.heap` (bool), `_defer.fn`, `_defer.link`.
    pub defer_heap: u64,
    pub defer_fn: u64,
    pub defer_link: u64,
}

/// One row per layout; the first row whose range holds the version wins.
pub const G_LAYOUTS: &[GLayout] = &[
    // gobuf{sp, pc, g, ctxt, ret, lr, bp}; _defer{started, heap, openDefer, sp, pc, fn, _panic, link, …}
    GLayout {
        name: "go1.19-1.21",
        minors: (19, 21),
        stack_lo: 0,
        stack_hi: 8,
        panic: 32,
        defer: 40,
        m: 48,
        sched_sp: 56,
        sched_pc: 64,
        sched_ctxt: 80,
        sched_lr: 96,
        syscallsp: 112,
        syscallpc: 120,
        atomicstatus: 144,
        goid: 152,
        m_g0: 0,
        m_procid: 72,
        m_curg: 192,
        defer_heap: 1,
        defer_fn: 24,
        defer_link: 40,
    },
    // 1.22: _defer loses started/openDefer/_panic: {heap, rangefunc, sp, pc, fn, link, head}.
    GLayout {
        name: "go1.22",
        minors: (22, 22),
        stack_lo: 0,
        stack_hi: 8,
        panic: 32,
        defer: 40,
        m: 48,
        sched_sp: 56,
        sched_pc: 64,
        sched_ctxt: 80,
        sched_lr: 96,
        syscallsp: 112,
        syscallpc: 120,
        atomicstatus: 144,
        goid: 152,
        m_g0: 0,
        m_procid: 72,
        m_curg: 192,
        defer_heap: 0,
        defer_fn: 24,
        defer_link: 32,
    },
    // 1.23: g.syscallbp inserted after syscallpc (+8 for everything after it).
    GLayout {
        name: "go1.23-1.24",
        minors: (23, 24),
        stack_lo: 0,
        stack_hi: 8,
        panic: 32,
        defer: 40,
        m: 48,
        sched_sp: 56,
        sched_pc: 64,
        sched_ctxt: 80,
        sched_lr: 96,
        syscallsp: 112,
        syscallpc: 120,
        atomicstatus: 152,
        goid: 160,
        m_g0: 0,
        m_procid: 72,
        m_curg: 192,
        defer_heap: 0,
        defer_fn: 24,
        defer_link: 32,
    },
    // 1.25: gobuf.ret removed (gobuf 48 bytes, -8 after it); m.procid/curg move up 8.
    GLayout {
        name: "go1.25+",
        minors: (25, u32::MAX),
        stack_lo: 0,
        stack_hi: 8,
        panic: 32,
        defer: 40,
        m: 48,
        sched_sp: 56,
        sched_pc: 64,
        sched_ctxt: 80,
        sched_lr: 88,
        syscallsp: 104,
        syscallpc: 112,
        atomicstatus: 144,
        goid: 152,
        m_g0: 0,
        m_procid: 64,
        m_curg: 184,
        defer_heap: 0,
        defer_fn: 24,
        defer_link: 32,
    },
];

/// The layout for Go 1.`minor`, if one covers it.
pub fn g_layout(minor: u32) -> Option<&'static GLayout> {
    G_LAYOUTS.iter().find(|l| minor >= l.minors.0 && minor <= l.minors.1)
}

/// `runtime2.go` status values (stable numbering across 1.19–1.27).
pub mod status {
    pub const IDLE: u32 = 0;
    pub const RUNNABLE: u32 = 1;
    pub const RUNNING: u32 = 2;
    pub const SYSCALL: u32 = 3;
    pub const WAITING: u32 = 4;
    pub const DEAD: u32 = 6;
    pub const COPYSTACK: u32 = 8;
    pub const PREEMPTED: u32 = 9;
    /// 1.26+: a goroutine the leak detector found blocked forever; scanned like waiting.
    pub const LEAKED: u32 = 10;
    /// 1.26+: a dead g reserved for cgo callbacks on extra Ms.
    pub const DEAD_EXTRA: u32 = 11;
    /// OR-ed into the status while the GC scans the stack.
    pub const SCAN: u32 = 0x1000;
}
