//! Stopping a live process for a consistent snapshot, and always resuming it.
//!
//! A [`PauseGuard`] holds every thread of the process with ptrace
//! (`PTRACE_SEIZE` + `PTRACE_INTERRUPT`, then `PTRACE_DETACH` when dropped).
//! ptrace is chosen over SIGSTOP because the kernel detaches a tracer's
//! tracees when the tracer dies, however it dies: even a SIGKILLed mapscope
//! leaves its target running. Seizing neither sends a signal nor shows in the
//! target's own signal handling; the threads stop in the kernel's `t` state.
//!
//! When ptrace is refused (EPERM: Yama's `ptrace_scope`, another tracer such
//! as a debugger, a seccomp policy) the guard falls back to SIGSTOP and
//! SIGCONT, and [`PauseGuard::method`] says so and why. Paths that skip
//! destructors (Ctrl-C, `process::exit`, `panic = "abort"`) are covered for
//! SIGSTOP by a registry of the pids we stopped: [`resume_all_paused`] uses
//! only atomics and `kill`, so the CLI may call it from a raw signal handler.
//! Processes held by ptrace need no such help: they resume when this process
//! ends.
//!
//! ptrace requests are answered only for the thread that attached, so a guard
//! is not `Send`: it is dropped by the thread that paused.

use std::io;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use super::error::MemoryError;

/// How long [`LiveProcess::pause`](super::LiveProcess::pause) waits for every thread to stop.
pub const DEFAULT_PAUSE_TIMEOUT: Duration = Duration::from_secs(2);

const SLOTS: usize = 64;
/// Pids this process stopped with SIGSTOP and has not resumed; 0 marks a free slot.
static PAUSED: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
/// Pids this process holds with ptrace (the kernel releases them when it ends).
static TRACED: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
/// Threads inspected when checking that a process has stopped, and held at most.
const MAX_THREADS: usize = 1 << 16;
/// How long a guard that cannot seize every thread waits for the ones it did
/// seize to stop, so that it can detach them (a thread is detached only when stopped).
const DETACH_GRACE: Duration = Duration::from_millis(200);

/// Resumes every process a guard stopped with SIGSTOP and has not resumed
/// yet. Returns how many were resumed. Async-signal-safe (atomics and `kill`
/// only). Processes held with ptrace are not in this list: the kernel
/// resumes them when this process ends, and a guard's drop does before.
pub fn resume_all_paused() -> usize {
    let mut n = 0;
    for slot in &PAUSED {
        let pid = slot.swap(0, Ordering::SeqCst);
        if pid > 0 {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGCONT) };
            n += 1;
        }
    }
    n
}

/// Signals whose default action ends the process and that a handler can
/// catch: each resumes every paused process first. (SIGKILL cannot be
/// caught; SIGPIPE is ignored by Rust programs; SIGSEGV/SIGBUS/SIGILL/SIGFPE
/// come back at once after a handler returns, so they re-raise too.)
const FATAL_SIGNALS: [libc::c_int; 16] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGILL,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGTERM,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
];

extern "C" fn resume_and_reraise(sig: libc::c_int) {
    resume_all_paused();
    // SAFETY: signal, raise are async-signal-safe; restoring the default
    // action and raising again ends the process as the signal would have
    // (and its end detaches every ptrace tracee).
    unsafe {
        libc::signal(sig, libc::SIG_DFL);
        libc::raise(sig);
    }
}

/// Installs handlers so that every catchable signal that would end this
/// process resumes the processes it paused first, then ends it as the
/// signal would (the exit status still says which signal). For programs
/// (the CLI) that pause processes; a library never installs it on its own.
pub fn resume_paused_on_fatal_signals() {
    for sig in FATAL_SIGNALS {
        // SAFETY: the handler only uses atomics, kill, signal and raise.
        unsafe {
            let mut act: libc::sigaction = std::mem::zeroed();
            act.sa_sigaction = resume_and_reraise as extern "C" fn(libc::c_int) as usize;
            act.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut act.sa_mask);
            libc::sigaction(sig, &act, std::ptr::null_mut());
        }
    }
}

/// The pids currently held by a guard of this process (ptrace or SIGSTOP).
pub fn paused_pids() -> Vec<i32> {
    PAUSED
        .iter()
        .chain(TRACED.iter())
        .map(|s| s.load(Ordering::SeqCst))
        .filter(|&p| p > 0)
        .collect()
}

/// How a guard holds its process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseMethod {
    /// Every thread seized and interrupted with ptrace: if this process dies,
    /// even by SIGKILL, the kernel detaches and the target runs on.
    Ptrace,
    /// SIGSTOP, because ptrace was refused (the kernel's reason): a SIGKILL
    /// of this process would leave the target stopped.
    Signal { ptrace_refused: String },
    /// The process was already stopped by someone else (a debugger, job
    /// control); the guard neither stopped it nor will resume it.
    AlreadyStopped,
}

/// One seized thread.
#[derive(Debug)]
struct Tracee {
    tid: i32,
    stopped: bool,
    /// Exited while seized: nothing to detach.
    gone: bool,
    /// A signal the thread was about to receive when it stopped
    /// (signal-delivery-stop); handed back on detach so it is not lost.
    signal: i32,
}

/// Keeps a process stopped while alive. If the process was already stopped by
/// someone else (a debugger, job control), the guard neither stops nor resumes it.
#[derive(Debug)]
pub struct PauseGuard {
    pid: i32,
    /// Our registry slot (in `PAUSED` or `TRACED` by method); `None` when we
    /// did not stop the process or have resumed it.
    slot: Option<usize>,
    /// The process's start time, so a recycled pid is never resumed by mistake.
    starttime: Option<u64>,
    method: PauseMethod,
    tracees: Vec<Tracee>,
    /// ptrace answers only the thread that attached.
    _tracer_thread: PhantomData<*const ()>,
}

enum Seize {
    /// ptrace itself was refused: the SIGSTOP fallback applies.
    Refused(io::Error),
    Failed(MemoryError),
}

impl PauseGuard {
    /// Stops every thread of `pid` and waits (at most `timeout`) until all are
    /// stopped: with ptrace, else (when refused) with SIGSTOP.
    pub fn pause(pid: i32, timeout: Duration) -> Result<Self, MemoryError> {
        let starttime = match Self::precheck(pid)? {
            Ok(t) => t,
            Err(already) => return Ok(already),
        };
        let slot = claim_slot(&TRACED, pid).ok_or(MemoryError::TooManyPaused { max: SLOTS })?;
        match seize_all(pid, timeout) {
            Ok(tracees) => Ok(PauseGuard {
                pid,
                slot: Some(slot),
                starttime,
                method: PauseMethod::Ptrace,
                tracees,
                _tracer_thread: PhantomData,
            }),
            Err(e) => {
                free_slot(&TRACED, slot, pid);
                match e {
                    Seize::Failed(e) => Err(e),
                    Seize::Refused(why) => Self::pause_by_signal_since(pid, timeout, starttime, why.to_string()),
                }
            }
        }
    }

    /// Stops `pid` with SIGSTOP (resumed with SIGCONT), without trying ptrace.
    pub fn pause_by_signal(pid: i32, timeout: Duration) -> Result<Self, MemoryError> {
        match Self::precheck(pid)? {
            Ok(t) => Self::pause_by_signal_since(pid, timeout, t, "not tried".into()),
            Err(already) => Ok(already),
        }
    }

    /// The process's start time when it may be paused; a guard that does
    /// nothing when it is stopped already.
    fn precheck(pid: i32) -> Result<Result<Option<u64>, PauseGuard>, MemoryError> {
        if pid <= 0 {
            // kill(0 or negative) would signal whole process groups.
            return Err(MemoryError::NoSuchProcess { pid });
        }
        if u32::try_from(pid).ok() == Some(std::process::id()) {
            // Nobody would be left to resume it.
            return Err(MemoryError::Unsupported {
                what: "pause",
                reason: "a process cannot pause itself".into(),
            });
        }
        let stat = read_stat(pid).ok_or(MemoryError::NoSuchProcess { pid })?;
        match stat.state {
            b'T' | b't' => Ok(Err(PauseGuard {
                pid,
                slot: None,
                starttime: stat.starttime,
                method: PauseMethod::AlreadyStopped,
                tracees: Vec::new(),
                _tracer_thread: PhantomData,
            })),
            b'Z' | b'X' | b'x' => Err(MemoryError::NoSuchProcess { pid }),
            _ => Ok(Ok(stat.starttime)),
        }
    }

    // `slot` comes from claim_slot, an index of PAUSED.
    #[allow(clippy::indexing_slicing)]
    fn pause_by_signal_since(
        pid: i32,
        timeout: Duration,
        starttime: Option<u64>,
        ptrace_refused: String,
    ) -> Result<Self, MemoryError> {
        let slot = claim_slot(&PAUSED, pid).ok_or(MemoryError::TooManyPaused { max: SLOTS })?;
        // SAFETY: kill has no memory-safety preconditions; pid > 0.
        if unsafe { libc::kill(pid, libc::SIGSTOP) } != 0 {
            let source = io::Error::last_os_error();
            free_slot(&PAUSED, slot, pid);
            return Err(MemoryError::Signal {
                pid,
                signal: "SIGSTOP",
                source,
            });
        }
        let guard = PauseGuard {
            pid,
            slot: Some(slot),
            starttime,
            method: PauseMethod::Signal { ptrace_refused },
            tracees: Vec::new(),
            _tracer_thread: PhantomData,
        };
        if PAUSED[slot].load(Ordering::SeqCst) != pid {
            // resume_all_paused ran between registering and stopping; honour it.
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
            return Err(MemoryError::Signal {
                pid,
                signal: "SIGSTOP",
                source: io::Error::from(io::ErrorKind::Interrupted),
            });
        }
        let started = Instant::now();
        let mut delay = Duration::from_micros(200);
        loop {
            match all_threads_stopped(pid) {
                Some(true) => return Ok(guard),
                Some(false) => {}
                None => return Err(MemoryError::NoSuchProcess { pid }),
            }
            if started.elapsed() >= timeout {
                let waited_ms = started.elapsed().as_millis() as u64;
                drop(guard);
                return Err(MemoryError::PauseTimeout { pid, waited_ms });
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// How the process is held (and, for SIGSTOP, why ptrace was not used).
    pub fn method(&self) -> &PauseMethod {
        &self.method
    }

    /// The threads held with ptrace (empty for the other methods).
    pub fn threads(&self) -> usize {
        self.tracees.iter().filter(|t| !t.gone).count()
    }

    /// The registers of every held thread (`PTRACE_GETREGSET`, `NT_PRSTATUS`:
    /// the same `user_regs_struct` words a core's notes carry), so a live
    /// snapshot knows where each thread stopped, as a core does. Empty for
    /// the SIGSTOP fallback and an already-stopped process, which are not
    /// ours to ask; a thread whose registers cannot be read is left out.
    pub fn thread_registers(&self) -> Vec<super::ThreadStatus> {
        let Some(arch) = host_arch() else { return Vec::new() };
        self.tracees
            .iter()
            .filter(|t| t.stopped && !t.gone)
            .filter_map(|t| {
                let words = get_regs(t.tid)?;
                Some(super::ThreadStatus {
                    tid: t.tid,
                    ppid: 0,
                    pgrp: 0,
                    sid: 0,
                    signal: u16::try_from(t.signal).unwrap_or(0),
                    registers: super::Registers { arch, words },
                })
            })
            .collect()
    }

    /// False when the process was already stopped by someone else and this guard
    /// will leave it as it found it.
    pub fn stopped_by_us(&self) -> bool {
        self.method != PauseMethod::AlreadyStopped
    }

    /// Resumes now (dropping the guard does the same).
    pub fn resume(mut self) {
        self.release();
    }

    // `slot` comes from claim_slot, an index of PAUSED or TRACED.
    #[allow(clippy::indexing_slicing)]
    fn release(&mut self) {
        let Some(slot) = self.slot.take() else { return };
        match self.method {
            PauseMethod::Ptrace => {
                free_slot(&TRACED, slot, self.pid);
                detach_all(&mut self.tracees);
            }
            PauseMethod::Signal { .. } => {
                // If the registry no longer holds our pid, resume_all_paused already resumed it.
                if PAUSED[slot]
                    .compare_exchange(self.pid, 0, Ordering::SeqCst, Ordering::SeqCst)
                    .is_err()
                {
                    return;
                }
                let same = match (self.starttime, read_stat(self.pid)) {
                    (Some(t), Some(s)) => s.starttime == Some(t),
                    (None, Some(_)) => true,
                    (_, None) => false,
                };
                if same {
                    // SAFETY: kill has no memory-safety preconditions; pid > 0.
                    unsafe { libc::kill(self.pid, libc::SIGCONT) };
                }
            }
            PauseMethod::AlreadyStopped => {}
        }
    }
}

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.release();
    }
}

fn claim_slot(registry: &[AtomicI32; SLOTS], pid: i32) -> Option<usize> {
    registry
        .iter()
        .position(|s| s.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst).is_ok())
}

fn free_slot(registry: &[AtomicI32; SLOTS], slot: usize, pid: i32) {
    if let Some(s) = registry.get(slot) {
        let _ = s.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }
}

fn ptrace(request: libc::c_uint, tid: i32, data: usize) -> io::Result<()> {
    // SAFETY: SEIZE, INTERRUPT and DETACH take no addr and read no memory of
    // ours; data is an integer (options or a signal number).
    let r = unsafe {
        libc::ptrace(
            request,
            tid,
            std::ptr::null_mut::<libc::c_void>(),
            data as *mut libc::c_void,
        )
    };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The machine this process runs on: ptrace reads only native threads.
fn host_arch() -> Option<super::Arch> {
    if cfg!(target_arch = "x86_64") {
        Some(super::Arch::X86_64)
    } else if cfg!(target_arch = "aarch64") {
        Some(super::Arch::Aarch64)
    } else {
        None
    }
}

/// A stopped tracee's general registers, in `user_regs_struct` order (27
/// words on x86-64, 34 on arm64; the kernel says how many it filled).
fn get_regs(tid: i32) -> Option<Vec<u64>> {
    const NT_PRSTATUS: usize = 1;
    let mut words = [0u64; 34];
    let mut iov = libc::iovec {
        iov_base: words.as_mut_ptr().cast(),
        iov_len: std::mem::size_of_val(&words),
    };
    // SAFETY: GETREGSET writes at most iov_len bytes into `words` (which
    // outlives the call) and updates iov_len; it reads nothing else of ours.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETREGSET,
            tid,
            NT_PRSTATUS as *mut libc::c_void,
            (&mut iov as *mut libc::iovec).cast::<libc::c_void>(),
        )
    };
    if r == -1 {
        return None;
    }
    let n = (iov.iov_len / 8).min(words.len());
    words.get(..n).map(<[u64]>::to_vec)
}

/// Seizes and interrupts every thread of `pid`, re-reading `/proc/PID/task`
/// until a scan finds no thread that is not held (a Go program starts
/// threads at any time; once every known thread is stopped none can start).
fn seize_all(pid: i32, timeout: Duration) -> Result<Vec<Tracee>, Seize> {
    let deadline = Instant::now() + timeout;
    let mut tracees: Vec<Tracee> = Vec::new();
    loop {
        let Some(tids) = task_ids(pid) else {
            release_seized(&mut tracees);
            return Err(Seize::Failed(MemoryError::NoSuchProcess { pid }));
        };
        let mut new = 0;
        for tid in tids {
            if tracees.iter().any(|t| t.tid == tid) || tracees.len() >= MAX_THREADS {
                continue;
            }
            match ptrace(libc::PTRACE_SEIZE, tid, 0) {
                Ok(()) => {}
                // The thread exited between the scan and the seize.
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => continue,
                Err(e) => {
                    release_seized(&mut tracees);
                    return Err(Seize::Refused(e));
                }
            }
            // A failure means the thread is exiting; its wait status says so.
            let _ = ptrace(libc::PTRACE_INTERRUPT, tid, 0);
            tracees.push(Tracee {
                tid,
                stopped: false,
                gone: false,
                signal: 0,
            });
            new += 1;
        }
        if !wait_stopped(&mut tracees, deadline) {
            let waited_ms = timeout.as_millis() as u64;
            release_seized(&mut tracees);
            return Err(Seize::Failed(MemoryError::PauseTimeout { pid, waited_ms }));
        }
        if new == 0 {
            break;
        }
    }
    if tracees.iter().all(|t| t.gone) {
        return Err(Seize::Failed(MemoryError::NoSuchProcess { pid }));
    }
    Ok(tracees)
}

/// Collects the stops of seized threads until every one is stopped (or gone);
/// false when `deadline` passed first.
fn wait_stopped(tracees: &mut [Tracee], deadline: Instant) -> bool {
    let mut delay = Duration::from_micros(20);
    loop {
        let mut pending = false;
        for t in tracees.iter_mut().filter(|t| !t.stopped && !t.gone) {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer; WNOHANG never blocks.
            let r = unsafe { libc::waitpid(t.tid, &mut status, libc::WNOHANG | libc::__WALL) };
            if r == 0 {
                pending = true;
            } else if r < 0 {
                // ECHILD: no longer ours to wait for (it exited).
                t.gone = true;
            } else if libc::WIFSTOPPED(status) {
                t.stopped = true;
                // A stop with no ptrace event is a signal-delivery-stop: the
                // signal is handed back on detach. (PTRACE_EVENT_STOP is our
                // interrupt or a group-stop, which detaching restores.)
                if status >> 16 == 0 {
                    t.signal = libc::WSTOPSIG(status);
                }
            } else {
                t.gone = true;
            }
        }
        if !pending {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::sleep(delay.min(deadline - now));
        delay = (delay * 2).min(Duration::from_millis(2));
    }
}

/// Detaches every seized thread after giving the unstopped ones a moment
/// to stop. A thread that never stops cannot be detached; it is released
/// when this process ends.
fn release_seized(tracees: &mut Vec<Tracee>) {
    if tracees.iter().any(|t| !t.stopped && !t.gone) {
        wait_stopped(tracees, Instant::now() + DETACH_GRACE);
    }
    detach_all(tracees);
}

fn detach_all(tracees: &mut Vec<Tracee>) {
    for t in tracees.drain(..).filter(|t| t.stopped && !t.gone) {
        // ESRCH: it died while stopped; nothing left to resume.
        let _ = ptrace(libc::PTRACE_DETACH, t.tid, t.signal as usize);
    }
}

/// The thread ids of `pid` (None when the process is gone).
fn task_ids(pid: i32) -> Option<Vec<i32>> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut tids: Vec<i32> = dir
        .take(MAX_THREADS)
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    tids.sort_unstable();
    // The leader first: a refusal is then seen before any other thread is held.
    if let Some(i) = tids.iter().position(|&t| t == pid) {
        tids.swap(0, i);
    }
    (!tids.is_empty()).then_some(tids)
}

struct Stat {
    state: u8,
    starttime: Option<u64>,
}

fn parse_stat(text: &str) -> Option<Stat> {
    // "pid (comm) S ppid ..." where comm may hold spaces and parentheses:
    // the state follows the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = *fields.next()?.as_bytes().first()?;
    // starttime is field 22 of stat; the state is field 3.
    let starttime = fields.nth(18).and_then(|s| s.parse().ok());
    Some(Stat { state, starttime })
}

fn read_stat_file(path: &Path) -> Option<Stat> {
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

fn read_stat(pid: i32) -> Option<Stat> {
    read_stat_file(Path::new(&format!("/proc/{pid}/stat")))
}

/// Some(true) when every thread is in a stopped state; None when the process is gone.
fn all_threads_stopped(pid: i32) -> Option<bool> {
    let leader = read_stat(pid)?;
    if matches!(leader.state, b'Z' | b'X' | b'x') {
        return None;
    }
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Some(matches!(leader.state, b'T' | b't'));
    };
    for entry in dir.take(MAX_THREADS) {
        let Ok(entry) = entry else { continue };
        // A thread that exits while we look has no stat; it no longer runs either.
        if let Some(s) = read_stat_file(&entry.path().join("stat")) {
            if !matches!(s.state, b'T' | b't' | b'Z' | b'X' | b'x') {
                return Some(false);
            }
        }
    }
    Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let s = parse_stat("42 (a) b (c) T 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 3 0 777 1000 10").unwrap();
        assert_eq!(s.state, b'T');
        assert_eq!(s.starttime, Some(777));
        assert!(parse_stat("garbage").is_none());
    }
}
