//! LiveProcess: reading a running process, pausing it and always resuming it.
//! Every child is killed by a guard, whatever the test's outcome.

mod memory_support;

use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use mapscope::memory::{
    paused_pids, resume_all_paused, LiveProcess, Memory, MemoryError, MemoryExt, PauseGuard, PauseMethod,
    DEFAULT_PAUSE_TIMEOUT,
};
use memory_support::*;

/// The pause registry is global to the test process; tests that pause run one at a time.
static PAUSE_LOCK: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    PAUSE_LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn spawn_sleep() -> ChildGuard {
    let child = Command::new("sleep")
        .arg("1000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn sleep");
    let g = ChildGuard(child);
    // Wait until sleep is asleep: exec and the dynamic loader are done, so the
    // regions no longer change under the test.
    let pid = g.pid();
    assert!(wait_for(5, || {
        std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| p.to_string_lossy().contains("sleep"))
            .unwrap_or(false)
            && proc_state(pid) == Some('S')
            && std::fs::read_to_string(format!("/proc/{pid}/wchan"))
                .map(|w| w.contains("sleep") || w == "0")
                .unwrap_or(true)
    }));
    std::thread::sleep(std::time::Duration::from_millis(20));
    g
}

fn running(pid: i32) -> bool {
    matches!(proc_state(pid), Some('S') | Some('R') | Some('D'))
}

#[test]
fn reads_match_proc_mem() {
    let child = spawn_sleep();
    let p = LiveProcess::attach(child.pid()).unwrap();
    assert!(p.exe_path().unwrap().to_string_lossy().contains("sleep"));
    let regions = p.regions();
    assert!(!regions.is_empty());
    let mem = std::fs::File::open(format!("/proc/{}/mem", child.pid())).unwrap();
    let mut checked = 0;
    for r in regions.iter().filter(|r| r.perms.read && r.len() >= 64).take(8) {
        let mut want = [0u8; 64];
        if mem.read_at(&mut want, r.start).is_err() {
            continue; // [vvar] and friends
        }
        let got = p.read_vec(r.start, 64).unwrap();
        assert_eq!(got, want, "region {:#x}", r.start);
        // The last bytes of a region, a read that ends exactly at its end.
        let got = p.read_vec(r.end - 16, 16).unwrap();
        let mut want = [0u8; 16];
        mem.read_at(&mut want, r.end - 16).unwrap();
        assert_eq!(got, want);
        assert!(p.is_mapped(r.start, r.len()));
        assert_eq!(p.region_at(r.start + 1).unwrap().start, r.start);
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} regions compared");
    // An ELF executable starts with the ELF magic.
    let exe_region = regions.iter().find(|r| r.path().is_some()).unwrap();
    assert_eq!(&p.read_vec(exe_region.start, 4).unwrap(), b"\x7fELF");
}

#[test]
fn failed_reads_say_where() {
    let child = spawn_sleep();
    let p = LiveProcess::attach(child.pid()).unwrap();
    match p.read_u64(0) {
        Err(MemoryError::Live {
            pid, addr: 0, at: 0, ..
        }) => assert_eq!(pid, child.pid()),
        other => panic!("{other:?}"),
    }
    assert!(!p.is_mapped(0, 8));
    // A read that starts in a region and runs past its end fails at the end.
    let regions = p.regions();
    let r = regions
        .iter()
        .find(|r| r.perms.read && !regions.iter().any(|o| o.start == r.end))
        .unwrap();
    match p.read_vec(r.end - 8, 16) {
        Err(MemoryError::Live { at, .. }) => assert_eq!(at, r.end),
        other => panic!("{other:?}"),
    }
    let mut b = [0u8; 4];
    assert!(matches!(
        p.read(u64::MAX - 1, &mut b),
        Err(MemoryError::AddressOverflow { .. })
    ));
}

#[test]
fn attach_to_nothing_fails() {
    assert!(matches!(LiveProcess::attach(0), Err(MemoryError::NoSuchProcess { .. })));
    assert!(matches!(
        LiveProcess::attach(-1),
        Err(MemoryError::NoSuchProcess { .. })
    ));
    assert!(matches!(
        LiveProcess::attach(i32::MAX),
        Err(MemoryError::NoSuchProcess { .. })
    ));
}

/// Every thread of a process stopped by ptrace is in the kernel's `t` state.
fn traced_stop(pid: i32) -> bool {
    proc_state(pid) == Some('t')
        && std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map(|s| {
                s.lines()
                    .any(|l| l.starts_with("TracerPid:") && l.trim_end() != "TracerPid:\t0")
            })
            .unwrap_or(false)
}

#[test]
fn pause_stops_and_drop_resumes() {
    let _s = serial();
    let child = spawn_sleep();
    let pid = child.pid();
    let p = LiveProcess::attach(pid).unwrap();
    {
        let g = p.pause().unwrap();
        assert!(g.stopped_by_us());
        assert_eq!(g.method(), &PauseMethod::Ptrace);
        assert_eq!(g.threads(), 1);
        assert!(traced_stop(pid), "state {:?}", proc_state(pid));
        assert!(paused_pids().contains(&pid));
        // Reads work while stopped.
        let r = p.regions().into_iter().find(|r| r.perms.read).unwrap();
        p.read_vec(r.start, 8).unwrap();
    }
    assert!(wait_for(2, || running(pid)), "resumed after drop");
    assert!(!paused_pids().contains(&pid));

    // A panic while paused still resumes.
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _g = p.pause().unwrap();
        panic!("decoder bug");
    }));
    assert!(r.is_err());
    assert!(wait_for(2, || running(pid)), "resumed after a panic");
}

/// A signal sent to the target while it is held is delivered once it is
/// released, not lost and not early: SIGTERM ends `sleep` only after the drop.
#[test]
fn a_signal_sent_while_paused_arrives_after_resume() {
    let _s = serial();
    let mut child = spawn_sleep();
    let pid = child.pid();
    let p = LiveProcess::attach(pid).unwrap();
    let g = p.pause().unwrap();
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(child.0.try_wait().unwrap().is_none(), "the held process ran its signal");
    assert_eq!(proc_state(pid), Some('t'));
    drop(g);
    let status = child.0.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM));
}

/// The SIGSTOP method (what ptrace's refusal falls back to), and the Ctrl-C
/// path for it: resume_all_paused, after which the guard does nothing.
#[test]
fn pause_by_signal_stops_and_resume_all_resumes() {
    let _s = serial();
    let child = spawn_sleep();
    let pid = child.pid();
    let g = PauseGuard::pause_by_signal(pid, DEFAULT_PAUSE_TIMEOUT).unwrap();
    assert!(matches!(g.method(), PauseMethod::Signal { .. }));
    assert_eq!(proc_state(pid), Some('T'));
    assert!(paused_pids().contains(&pid));
    drop(g);
    assert!(wait_for(2, || running(pid)), "resumed after drop");

    let g = PauseGuard::pause_by_signal(pid, DEFAULT_PAUSE_TIMEOUT).unwrap();
    assert_eq!(proc_state(pid), Some('T'));
    assert!(resume_all_paused() >= 1);
    assert!(wait_for(2, || running(pid)), "resumed by resume_all_paused");
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    assert!(wait_for(2, || proc_state(pid) == Some('T')));
    drop(g); // must not resume: the stop is no longer ours
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(proc_state(pid), Some('T'));
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(wait_for(2, || running(pid)));
}

/// Another tracer (a debugger) makes the kernel refuse our seize with EPERM:
/// the guard falls back to SIGSTOP, says why, and still resumes.
#[test]
fn a_traced_process_is_paused_by_signal() {
    let _s = serial();
    let child = spawn_sleep();
    let pid = child.pid();
    let (seized_tx, seized_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    // The other tracer: a thread of this test (ptrace is per thread).
    let other = std::thread::spawn(move || {
        let null = std::ptr::null_mut::<libc::c_void>();
        // SAFETY: PTRACE_SEIZE of our own child; no memory is passed.
        let r = unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, null, null) };
        seized_tx.send(r).unwrap();
        go_rx.recv().unwrap();
        if r != 0 {
            return;
        }
        // Our SIGSTOP stopped it in a signal-delivery-stop that this tracer
        // must answer; detach and drop the SIGSTOP.
        let mut status = 0;
        // SAFETY: waiting for our tracee; status is a valid out-pointer.
        unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
        unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, null, null) };
    });
    if seized_rx.recv().unwrap() != 0 {
        // This environment forbids ptrace altogether: nothing to fall back from.
        go_tx.send(()).unwrap();
        let _ = other.join();
        eprintln!("skipping: ptrace is not permitted here");
        return;
    }
    let p = LiveProcess::attach(pid).unwrap();
    let g = p.pause().unwrap();
    match g.method() {
        PauseMethod::Signal { ptrace_refused } => {
            assert!(ptrace_refused.contains("not permitted"), "{ptrace_refused}")
        }
        m => panic!("{m:?}"),
    }
    assert!(matches!(proc_state(pid), Some('t') | Some('T')));
    drop(g);
    go_tx.send(()).unwrap();
    other.join().unwrap();
    assert!(wait_for(2, || running(pid)), "resumed after the fallback");
}

#[test]
fn already_stopped_process_is_left_alone() {
    let _s = serial();
    let child = spawn_sleep();
    let pid = child.pid();
    // SAFETY: kill(2) of our own child.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    assert!(wait_for(2, || proc_state(pid) == Some('T')));
    let p = LiveProcess::attach(pid).unwrap();
    let g = p.pause().unwrap();
    assert!(!g.stopped_by_us());
    assert!(!paused_pids().contains(&pid));
    drop(g);
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(proc_state(pid), Some('T'), "someone else's stop is kept");
    unsafe { libc::kill(pid, libc::SIGCONT) };
    assert!(wait_for(2, || running(pid)));
}

#[test]
fn pausing_a_dead_process_fails_cleanly() {
    let _s = serial();
    let mut child = spawn_sleep();
    let pid = child.pid();
    let p = LiveProcess::attach(pid).unwrap();
    child.0.kill().unwrap();
    // Not reaped yet: a zombie.
    assert!(wait_for(2, || proc_state(pid) == Some('Z')));
    assert!(matches!(p.pause(), Err(MemoryError::NoSuchProcess { .. })));
    assert!(p.read_u8(0x1000).is_err());
    let _ = child.0.wait();
    assert!(matches!(p.pause(), Err(MemoryError::NoSuchProcess { .. })));
    assert!(!paused_pids().contains(&pid));
}

#[test]
fn go_program_reads_live() {
    let Some((version, go)) = go_toolchains().into_iter().next() else {
        // .ci/run installs the toolchains and sets this: there the test must run.
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
            "MAPSCOPE_REQUIRE_GO is set but no Go toolchain was found (fixtures/toolchains.sh)"
        );
        eprintln!("skipping: no Go toolchain installed");
        return;
    };
    let _s = serial();
    let dir = TempDir::new("live");
    let exe = match go_build(&go, dir.path(), GO_PROG, "prog", &[]) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("skipping: go {version} build failed: {e}");
            return;
        }
    };
    let (child, facts) = start_go_prog(&exe, dir.path(), false);
    let p = LiveProcess::attach(child.pid()).unwrap();
    let g = p.pause().unwrap();
    assert_eq!(g.method(), &PauseMethod::Ptrace);
    // Go programs are multi-threaded: every thread must be stopped.
    for t in std::fs::read_dir(format!("/proc/{}/task", child.pid())).unwrap() {
        let tid: i32 = t.unwrap().file_name().to_string_lossy().parse().unwrap();
        let s = std::fs::read_to_string(format!("/proc/{}/task/{tid}/stat", child.pid())).unwrap();
        let state = s[s.rfind(')').unwrap() + 2..].chars().next().unwrap();
        assert_eq!(state, 't', "thread {tid} (held by ptrace)");
    }
    for (name, addr, want) in &facts.items {
        let got = p.read_vec(*addr, want.len() as u64).unwrap();
        assert_eq!(&got, want, "{name} at {addr:#x}");
        assert!(p.is_mapped(*addr, want.len() as u64), "{name}");
    }
    assert_eq!(p.read_u64(facts.map_addr).unwrap(), facts.map_len);
    // Go's reserved arenas are PROT_NONE: not readable, even through /proc/PID/mem.
    let r = p
        .regions()
        .into_iter()
        .find(|r| !r.perms.read)
        .expect("a PROT_NONE arena");
    assert!(matches!(p.read_u8(r.start), Err(MemoryError::NoAccess { .. })), "{r:?}");
    assert!(!p.is_mapped(r.start, 1));
    drop(g);
    assert!(wait_for(2, || running(child.pid())));
}

/// The committed fixture binaries, run live (no Go needed): what each program
/// recorded about its maps must read back from the paused process.
#[test]
fn fixture_binaries_read_live() {
    use std::io::BufRead;
    let fixtures = match mapscope_fixtures::all() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("skipping: no fixture corpus: {e}");
            return;
        }
    };
    let _s = serial();
    let dir = TempDir::new("live-fixtures");
    for fx in fixtures {
        if !fx.runs_natively() {
            // arm64 builds: their cores are read by the corpus tests; live
            // reading of an emulated process is out of scope.
            continue;
        }
        let bin = fx.binary_path().unwrap();
        let truth_path = dir.path().join(format!("{}.json", fx.name()));
        let child = Command::new(&bin)
            .arg(&truth_path)
            .env("MAPFIX_TIMEOUT", "60")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut child = ChildGuard(child);
        let mut line = String::new();
        std::io::BufReader::new(child.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "{}", fx.name());
        let truth: mapscope_fixtures::Truth =
            serde_json::from_str(&std::fs::read_to_string(&truth_path).unwrap()).unwrap();
        let p = LiveProcess::attach(child.pid()).unwrap();
        let _g = p.pause().unwrap();
        let mut n = 0;
        for m in &truth.maps {
            // A map on a goroutine stack moves when the runtime copies the stack
            // (a GC may shrink it after the truth was written), so only heap and
            // global headers stay where the truth says.
            let fixed = m.reach != "stack";
            if let Some(addr) = m.address_u64().filter(|&a| a != 0 && fixed) {
                assert_eq!(p.read_u64(addr).unwrap(), m.len as u64, "{} {}", fx.name(), m.name);
                n += 1;
            }
            if let Some(t) = mapscope_fixtures::hex_u64(&m.type_address).filter(|&a| a != 0) {
                assert_eq!(p.read_u64(t).unwrap(), 8, "{} type of {}", fx.name(), m.name);
            }
            for f in m.funcs.iter().flatten() {
                if let (Some(fv), Some(pc)) = (
                    mapscope_fixtures::hex_u64(&f.funcval),
                    mapscope_fixtures::hex_u64(&f.pc),
                ) {
                    if fv != 0 {
                        assert_eq!(p.read_ptr(fv).unwrap(), pc, "{} {}", fx.name(), f.name);
                    }
                }
            }
        }
        assert!(n > 0, "{}", fx.name());
    }
}

/// A held thread's registers are the kernel's: its stack and instruction
/// pointers equal the last two fields of /proc/PID/task/TID/syscall, which
/// the kernel fills from the same saved user registers.
#[test]
fn held_threads_registers_are_the_kernels() {
    let _s = serial();
    let child = spawn_sleep();
    let pid = child.pid();
    let p = LiveProcess::attach(pid).unwrap();
    let g = p.pause().unwrap();
    let threads = g.thread_registers();
    assert_eq!(threads.len(), g.threads());
    for t in &threads {
        let text = std::fs::read_to_string(format!("/proc/{pid}/task/{}/syscall", t.tid)).unwrap();
        let fields: Vec<u64> = text
            .split_whitespace()
            .rev()
            .take(2)
            .map(|f| u64::from_str_radix(f.trim_start_matches("0x"), 16).unwrap())
            .collect();
        assert_eq!(
            (t.registers.pc(), t.registers.sp()),
            (Some(fields[0]), Some(fields[1])),
            "thread {}: {text}",
            t.tid
        );
    }
    drop(g);
    // Not ours to ask: the SIGSTOP fallback has no registers.
    let g = PauseGuard::pause_by_signal(pid, DEFAULT_PAUSE_TIMEOUT).unwrap();
    assert!(g.thread_registers().is_empty());
}
