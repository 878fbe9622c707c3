//! Stopping a live process for a consistent snapshot, and always resuming it.
//!
//! A [`PauseGuard`] sends SIGSTOP and resumes with SIGCONT when dropped, on every
//! path (errors, panics that unwind). Paths that skip destructors (Ctrl-C,
//! `process::exit`, `panic = "abort"`) are covered by a registry of the pids we
//! stopped: [`resume_all_paused`] uses only atomics and `kill`, so the CLI may
//! call it from a Ctrl-C callback or even from a raw signal handler.

use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use super::error::MemoryError;

/// How long [`LiveProcess::pause`](super::LiveProcess::pause) waits for every thread to stop.
pub const DEFAULT_PAUSE_TIMEOUT: Duration = Duration::from_secs(2);

const SLOTS: usize = 64;
/// Pids this process stopped and has not resumed; 0 marks a free slot.
static PAUSED: [AtomicI32; SLOTS] = [const { AtomicI32::new(0) }; SLOTS];
/// Threads inspected when checking that a process has stopped.
const MAX_THREADS: usize = 1 << 16;

/// Resumes every process a guard stopped and has not resumed yet. Returns how
/// many were resumed. Async-signal-safe (atomics and `kill` only).
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
    // action and raising again ends the process as the signal would have.
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

/// The pids currently stopped by a guard of this process.
pub fn paused_pids() -> Vec<i32> {
    PAUSED
        .iter()
        .map(|s| s.load(Ordering::SeqCst))
        .filter(|&p| p > 0)
        .collect()
}

/// Keeps a process stopped while alive. If the process was already stopped by
/// someone else (a debugger, job control), the guard neither stops nor resumes it.
#[derive(Debug)]
pub struct PauseGuard {
    pid: i32,
    /// Our registry slot; `None` when we did not stop the process.
    slot: Option<usize>,
    /// The process's start time, so a recycled pid is never resumed by mistake.
    starttime: Option<u64>,
}

impl PauseGuard {
    /// Stops `pid` and waits (at most `timeout`) until all its threads are stopped.
    // `slot` comes from claim_slot, an index of PAUSED.
    #[allow(clippy::indexing_slicing)]
    pub fn pause(pid: i32, timeout: Duration) -> Result<Self, MemoryError> {
        if pid <= 0 {
            // kill(0 or negative) would signal whole process groups.
            return Err(MemoryError::NoSuchProcess { pid });
        }
        if u32::try_from(pid).ok() == Some(std::process::id()) {
            // Nobody would be left to send SIGCONT.
            return Err(MemoryError::Unsupported {
                what: "pause",
                reason: "a process cannot pause itself".into(),
            });
        }
        let stat = read_stat(pid).ok_or(MemoryError::NoSuchProcess { pid })?;
        match stat.state {
            b'T' | b't' => {
                return Ok(PauseGuard {
                    pid,
                    slot: None,
                    starttime: stat.starttime,
                })
            }
            b'Z' | b'X' | b'x' => return Err(MemoryError::NoSuchProcess { pid }),
            _ => {}
        }
        let slot = claim_slot(pid).ok_or(MemoryError::TooManyPaused { max: SLOTS })?;
        // SAFETY: kill has no memory-safety preconditions; pid > 0.
        if unsafe { libc::kill(pid, libc::SIGSTOP) } != 0 {
            let source = std::io::Error::last_os_error();
            let _ = PAUSED[slot].compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
            return Err(MemoryError::Signal {
                pid,
                signal: "SIGSTOP",
                source,
            });
        }
        let guard = PauseGuard {
            pid,
            slot: Some(slot),
            starttime: stat.starttime,
        };
        if PAUSED[slot].load(Ordering::SeqCst) != pid {
            // resume_all_paused ran between registering and stopping; honour it.
            // SAFETY: as above.
            unsafe { libc::kill(pid, libc::SIGCONT) };
            return Err(MemoryError::Signal {
                pid,
                signal: "SIGSTOP",
                source: std::io::Error::from(std::io::ErrorKind::Interrupted),
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

    /// False when the process was already stopped by someone else and this guard
    /// will leave it as it found it.
    pub fn stopped_by_us(&self) -> bool {
        self.slot.is_some()
    }

    /// Resumes now (dropping the guard does the same).
    pub fn resume(mut self) {
        self.release();
    }

    // `slot` comes from claim_slot, an index of PAUSED.
    #[allow(clippy::indexing_slicing)]
    fn release(&mut self) {
        let Some(slot) = self.slot.take() else { return };
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
}

impl Drop for PauseGuard {
    fn drop(&mut self) {
        self.release();
    }
}

fn claim_slot(pid: i32) -> Option<usize> {
    PAUSED
        .iter()
        .position(|s| s.compare_exchange(0, pid, Ordering::SeqCst, Ordering::SeqCst).is_ok())
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
