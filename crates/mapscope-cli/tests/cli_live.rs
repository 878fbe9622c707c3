//! Live processes: a committed fixture binary is started, read while it
//! runs (with and without --pause) and compared with the truth it printed.
//! The child is always killed, and a paused child is always running again.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the fixture when the test ends, however it ends.
struct Running {
    child: Child,
    dir: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start(variant: &str) -> (Running, mapscope_fixtures::Truth, PathBuf) {
    let exe = mapscope_fixtures::get(variant).unwrap().binary_path().unwrap();
    // Tests run in parallel: each start gets its own directory.
    static STARTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("mapscope-live-{variant}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let truth_path = dir.join("truth.json");
    let child = Command::new(&exe)
        .arg(&truth_path)
        .env("MAPFIX_TIMEOUT", "120")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let running = Running { child, dir };
    let deadline = Instant::now() + Duration::from_secs(60);
    while !truth_path.exists() {
        assert!(Instant::now() < deadline, "{variant}: the fixture wrote no truth");
        std::thread::sleep(Duration::from_millis(20));
    }
    let truth: mapscope_fixtures::Truth = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    (running, truth, exe)
}

fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit(')').next().and_then(|r| r.trim().chars().next()).unwrap()
}

/// Any thread of the process stopped (`T`: SIGSTOP, `t`: held by ptrace).
fn held(pid: u32) -> bool {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten().any(|t| {
                std::fs::read_to_string(t.path().join("stat"))
                    .ok()
                    .and_then(|s| s.rsplit(')').next().and_then(|r| r.trim().chars().next()))
                    .is_some_and(|c| c == 'T' || c == 't')
            })
        })
        .unwrap_or(false)
}

/// Every thread of the process held by ptrace, and by whom.
fn all_traced_by(pid: u32, tracer: u32) -> bool {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    dir.flatten().all(|t| {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        let status = std::fs::read_to_string(t.path().join("status")).unwrap_or_default();
        stat.rsplit(')').next().and_then(|r| r.trim().chars().next()) == Some('t')
            && status.lines().any(|l| l == format!("TracerPid:\t{tracer}"))
    })
}

fn mapscope_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mapscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn maps_of_a_running_process_match_its_truth() {
    for variant in ["go1.22", "go1.26"] {
        let (running, truth, exe) = start(variant);
        let pid = running.child.id();
        for pause in [false, true] {
            let pid_s = pid.to_string();
            // The census: every map the program registered, by its header
            // address, with its len, type and owner.
            let mut args = vec!["maps", "--json", exe.to_str().unwrap(), "--pid", &pid_s];
            if pause {
                args.push("--pause");
            }
            let got = mapscope_json(&args);
            let maps = got["maps"].as_array().unwrap();
            let mut compared = 0;
            // Stack maps can move with their goroutine's stack: heap and global ones only.
            for m in truth.maps.iter().filter(|m| m.address != "0x0" && m.root == "global") {
                let row = maps
                    .iter()
                    .find(|r| r["address"] == m.address.as_str())
                    .unwrap_or_else(|| panic!("{variant}: {} at {} missing from the census", m.name, m.address));
                assert_eq!(row["len"].as_u64(), Some(m.len as u64), "{variant} {}", m.name);
                assert_eq!(row["type"].as_str(), Some(m.type_name.as_str()), "{variant} {}", m.name);
                assert_eq!(row["owner"].as_str(), Some(m.owner.as_str()), "{variant} {}", m.name);
                compared += 1;
            }
            assert!(compared > 40, "{variant}: only {compared} maps compared");
            // --globals: the quick DWARF listing, by variable name.
            let mut args = vec!["maps", "--globals", "--json", exe.to_str().unwrap(), "--pid", &pid_s];
            if pause {
                args.push("--pause");
            }
            let got = mapscope_json(&args);
            let maps = got["maps"].as_array().unwrap();
            for m in truth.maps.iter().filter(|m| m.reach == "global") {
                let row = maps
                    .iter()
                    .find(|r| r["name"] == m.name.as_str())
                    .unwrap_or_else(|| panic!("{variant}: {} missing", m.name));
                assert_eq!(
                    row["address"].as_str(),
                    Some(m.address.as_str()),
                    "{variant} {}",
                    m.name
                );
                assert_eq!(row["len"].as_u64(), Some(m.len as u64), "{variant} {}", m.name);
            }
            // Paused or not, the process is running (sleeping) afterwards.
            let s = state(pid);
            assert!(
                s == 'S' || s == 'R',
                "{variant}: process left in state {s} (pause={pause})"
            );
        }
    }
}

#[test]
fn show_of_a_running_process_matches_its_truth() {
    for variant in ["go1.22", "go1.27-split"] {
        let (running, truth, exe) = start(variant);
        let pid = running.child.id().to_string();
        for pause in [false, true] {
            for name in [
                "main.Handlers",
                "main.Strings",
                "main.AnyVals",
                "main.Huge",
                "main.MidGrowth",
            ] {
                let m = truth.map(name).unwrap();
                let mut args = vec!["show", "--json", exe.to_str().unwrap(), "--pid", &pid, name];
                if pause {
                    args.push("--pause");
                }
                let doc = mapscope_json(&args);
                let mut got: Vec<(String, String)> = doc["entries"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|e| {
                        (
                            e["key"]["go"].as_str().unwrap().into(),
                            e["value"]["go"].as_str().unwrap().into(),
                        )
                    })
                    .collect();
                let mut want = m.entries.clone();
                got.sort();
                want.sort();
                assert_eq!(got, want, "{variant} {name} pause={pause}");
            }
            let s = state(running.child.id());
            assert!(s == 'S' || s == 'R', "{variant}: process left in state {s}");
        }
    }
}

/// `timeout` sends SIGTERM: a mapscope killed while it holds the target
/// paused must resume it first (every catchable fatal signal does).
#[test]
fn a_paused_target_is_resumed_when_mapscope_is_killed() {
    let (running, truth, exe) = start("go1.22");
    let pid = running.child.id();
    let pid_s = pid.to_string();
    let huge = truth.map("main.Huge").unwrap();
    let mut caught = 0;
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGQUIT]
        .into_iter()
        .cycle()
        .take(24)
    {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args(["show", "--pause", exe.to_str().unwrap(), "--pid", &pid_s, &huge.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until mapscope has the target stopped, then signal it.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut paused = false;
        while Instant::now() < deadline {
            if held(pid) {
                paused = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if paused {
            // SAFETY: signalling our own child.
            unsafe { libc::kill(child.id() as i32, sig) };
        }
        let _ = child.wait();
        if paused {
            caught += 1;
            let deadline = Instant::now() + Duration::from_secs(2);
            while held(pid) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            assert!(!held(pid), "signal {sig}: the target was left stopped");
        }
    }
    assert!(caught > 0, "mapscope was never caught while the target was paused");
}

/// Another build's executable is refused before the target is paused.
#[test]
fn a_mismatched_executable_is_refused_before_pausing() {
    let (running, truth, _) = start("go1.22");
    let pid = running.child.id();
    let other = mapscope_fixtures::get("go1.26").unwrap().binary_path().unwrap();
    let m = truth.map("main.Strings").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args([
            "show",
            "--pause",
            other.to_str().unwrap(),
            "--pid",
            &pid.to_string(),
            &m.name,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not the executable process"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!held(pid));
}

/// SIGKILL cannot be caught, so no handler of mapscope's can resume its
/// target: `--pause` holds the target with ptrace, and the kernel detaches
/// a dead tracer's tracees. The program (difffix -watch: one line every
/// 200 ms) falls silent while held and prints again once mapscope is killed.
#[test]
fn a_paused_target_runs_on_when_mapscope_is_sigkilled() {
    use std::io::BufRead;
    let pair = mapscope_fixtures::diffpair::pairs()
        .unwrap()
        .into_iter()
        .find(|p| p.name() == "diff-go1.26")
        .unwrap();
    let exe = pair.binary_path().unwrap();
    // ETXTBSY: a parallel test's fork may briefly hold a write descriptor
    // inherited from a file being written; exec succeeds once it is gone.
    let mut spawned = Command::new(&exe)
        .arg("-watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn();
    for _ in 0..20 {
        match &spawned {
            Err(e) if e.raw_os_error() == Some(26) => {
                std::thread::sleep(std::time::Duration::from_millis(50));
                spawned = Command::new(&exe)
                    .arg("-watch")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn();
            }
            _ => break,
        }
    }
    let mut child = spawned.unwrap_or_else(|e| panic!("{}: {e}", exe.display()));
    let stdout = child.stdout.take().unwrap();
    let running = Running {
        child,
        dir: std::env::temp_dir().join("mapscope-live-sigkill-unused"),
    };
    let pid = running.child.id();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
    assert!(first.starts_with("ready len "), "{first}");
    let mut ms = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args([
            "show",
            "--pause",
            exe.to_str().unwrap(),
            "--pid",
            &pid.to_string(),
            "main.watched",
        ])
        .env("MAPSCOPE_TEST_HOLD_PAUSE_MS", "30000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_traced_by(pid, ms.id()) {
        if let Some(status) = ms.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut ms.stderr.take().unwrap(), &mut err).unwrap();
            panic!("mapscope ended ({status}) before holding the target: {err}");
        }
        assert!(
            Instant::now() < deadline,
            "mapscope never held every thread of the target"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Held: no step for three step intervals.
    while rx.try_recv().is_ok() {}
    std::thread::sleep(Duration::from_millis(600));
    assert!(rx.try_recv().is_err(), "the target printed while held");
    assert!(all_traced_by(pid, ms.id()));
    ms.kill().unwrap(); // SIGKILL
    ms.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while held(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!held(pid), "the target was left stopped (state {})", state(pid));
    let next = rx
        .recv_timeout(Duration::from_secs(2))
        .expect("the target prints again");
    assert!(next.starts_with("step "), "{next}");
}

/// The Go toolchains of the fixture generator (`fixtures/toolchains.sh`)
/// that build fixtures/difffix: a classic-map release and the newest Swiss one.
fn difffix_toolchains() -> Vec<(String, PathBuf)> {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/root".into());
    let root = home.join(".cache/mapscope/go");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.to_string();
            let go = e.path().join("bin/go");
            go.exists().then_some((v, go))
        })
        .collect();
    found.sort_by_key(|(v, _)| v.split('.').map(|p| p.parse::<u64>().unwrap_or(0)).collect::<Vec<_>>());
    let classic = found.iter().find(|(v, _)| v.starts_with("1.22.")).cloned();
    let newest = found
        .last()
        .filter(|(v, _)| !v.starts_with("1.24.") && !v.starts_with("1.25."))
        .cloned();
    classic.into_iter().chain(newest).collect()
}

/// The toolchains to build difffix -churn with (and gdb, when `gdb`), or
/// `None` to skip; .ci/run installs them all and sets MAPSCOPE_REQUIRE_GO,
/// and there the test must run.
fn churn_toolchains(gdb: bool) -> Option<Vec<(String, PathBuf)>> {
    let toolchains = difffix_toolchains();
    let has_gdb = !gdb
        || Command::new("gdb")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !toolchains.is_empty() && has_gdb {
        return Some(toolchains);
    }
    assert!(
        std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
        "MAPSCOPE_REQUIRE_GO is set but Go (fixtures/toolchains.sh) or gdb is missing"
    );
    eprintln!("skipping: needs a Go toolchain (fixtures/toolchains.sh) and gdb to build and stop difffix -churn");
    None
}

/// difffix (fixtures/difffix) built with `go`, in `dir`.
fn build_difffix(dir: &std::path::Path, version: &str, go: &std::path::Path) -> PathBuf {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/difffix");
    let exe = dir.join(format!("difffix-{version}"));
    let built = Command::new(go)
        .args(["build", "-trimpath", "-o"])
        .arg(&exe)
        .arg(".")
        .current_dir(&src)
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "go {version}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    exe
}

/// `exe -churn`, once its goroutines run.
fn start_churn(exe: &std::path::Path, dir: PathBuf) -> Running {
    use std::io::BufRead;
    let mut child = Command::new(exe)
        .arg("-churn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("ready len "), "{line}");
    Running { child, dir }
}

/// The address of the instruction after difffix's one `churned[k] = …` call
/// into mapassign, and of that call, as `go tool objdump` prints them.
fn assign_call(go: &std::path::Path, exe: &std::path::Path) -> (u64, u64) {
    let out = Command::new(go)
        .args(["tool", "objdump", "-s", "^main.churn.func1$"])
        .arg(exe)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("CALL runtime.mapassign"))
        .unwrap_or_else(|| panic!("no mapassign call in main.churn.func1:\n{text}"));
    // "  main.go:325\t0x4b7150\te80ba9f5ff\tCALL runtime.mapassign_fast64(SB)"
    let fields: Vec<&str> = line.split('\t').map(str::trim).filter(|f| !f.is_empty()).collect();
    let call = u64::from_str_radix(fields[1].trim_start_matches("0x"), 16).unwrap();
    (call, call + fields[2].len() as u64 / 2)
}

/// The addresses of the `RET`s of the runtime's `mapassign_fast64` (the
/// entry point difffix's loop calls), as `go tool objdump` prints them: a
/// thread there has cleared the writing flag and not yet returned.
fn assign_returns(go: &std::path::Path, exe: &std::path::Path) -> Vec<u64> {
    let out = Command::new(go)
        .args(["tool", "objdump", "-s", "mapassign_fast64$"])
        .arg(exe)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let rets: Vec<u64> = text
        .lines()
        .filter(|l| l.split('\t').any(|f| f.trim() == "RET"))
        .filter_map(|l| {
            let addr = l.split('\t').map(str::trim).find(|f| f.starts_with("0x"))?;
            u64::from_str_radix(addr.trim_start_matches("0x"), 16).ok()
        })
        .collect();
    assert!(!rets.is_empty(), "no RET in mapassign_fast64:\n{text}");
    rets
}

/// A core gdb dumps of `pid` when one of its threads reaches one of `pcs`.
fn core_at(pid: u32, pcs: &[u64], core: &std::path::Path) {
    let breaks: Vec<String> = pcs.iter().map(|pc| format!("break *{pc:#x}")).collect();
    let out = Command::new("gdb")
        .args(["-nx", "-batch", "-p", &pid.to_string()])
        .args(["-ex", "handle all nostop noprint pass"])
        .args(breaks.iter().flat_map(|b| ["-ex", b.as_str()]))
        .args(["-ex", "continue"])
        .args(["-ex", &format!("gcore {}", core.display())])
        .args(["-ex", "kill"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        core.exists(),
        "gdb wrote no core: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The window no header field marks: `churned[k] = v` calls mapassign,
/// which inserts and counts the key, clears the writing flag and returns
/// the elem's slot; only then does main.churn.func1 store v. A core dumped
/// with a thread stopped in that window — at mapassign's RET, or right
/// after the call (gdb's breakpoints at the addresses go tool objdump
/// shows) — holds the key with a value the program never stored (every
/// value it stores is 7k+3), and mapscope must say so from the thread's
/// registers; a core dumped with the thread at the call itself, before
/// mapassign ran, is whole and must carry no error.
/// `diff` of such a core with itself says the same.
/// Needs Go and gdb (both installed by .ci/run).
#[test]
fn a_core_caught_between_mapassign_and_its_store_says_so() {
    let Some(toolchains) = churn_toolchains(true) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mapscope-window-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (version, go) in toolchains {
        let exe = build_difffix(&dir, &version, &go);
        let (call, ret) = assign_call(&go, &exe);
        let rets = assign_returns(&go, &exe);
        for (pcs, in_window) in [(vec![ret], true), (rets, true), (vec![call], false)] {
            let ctx = format!("go {version}, thread at {pcs:#x?}");
            let tag = format!("{:x}", pcs[0]);
            let running = start_churn(&exe, dir.join(format!("run-{version}-{tag}")));
            let core = dir.join(format!("{version}-{tag}.core"));
            core_at(running.child.id(), &pcs, &core);
            drop(running);
            let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
                .args(["show", "--json"])
                .arg(&exe)
                .arg(&core)
                .arg("main.churned")
                .output()
                .unwrap();
            // diff reads each side the same way: the core against itself.
            let diffed = Command::new(env!("CARGO_BIN_EXE_mapscope"))
                .args(["diff", "--json"])
                .arg(&exe)
                .arg(&core)
                .arg(&core)
                .arg("main.churned")
                .output()
                .unwrap();
            let _ = std::fs::remove_file(&core);
            let diff_doc = String::from_utf8_lossy(&diffed.stdout);
            assert_eq!(
                diff_doc.contains("being stored"),
                in_window,
                "{ctx}: diff's errors: {diff_doc:.2000}"
            );
            let doc: Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{ctx}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
            let half_made: Vec<i64> = doc["entries"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| {
                    let k: i64 = e["key"]["go"].as_str()?.parse().ok()?;
                    let v: i64 = e["value"]["go"].as_str()?.parse().ok()?;
                    (v != 7 * k + 3).then_some(k)
                })
                .collect();
            let errors: Vec<&str> = doc["errors"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            if in_window {
                assert_eq!(half_made.len(), 1, "{ctx}: the core holds one key without its value");
                assert!(
                    errors.iter().any(|e| e.contains("being stored")
                        && (e.contains("main.churn.func1") || e.contains("mapassign_fast64"))),
                    "{ctx}: no error names the store in flight: {errors:?}"
                );
                assert_eq!(out.status.code(), Some(3), "{ctx}");
            } else {
                assert!(half_made.is_empty(), "{ctx}: half-made keys {half_made:?}");
                assert!(errors.is_empty(), "{ctx}: {errors:?}");
                assert!(out.status.success(), "{ctx}");
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A paused snapshot never silently holds a half-made write. difffix
/// -churn writes main.churned from four goroutines without pause; every
/// entry it ever stores is k -> 7k+3 (a fact of the program), so a paused
/// `show` must either return exactly that (as many distinct keys as the
/// header counts, each with its value) or carry an error. With the retry
/// switched off, some pauses land mid-write (the header's writing flag, or
/// a thread between mapassign's return and its caller's store) — proof
/// that the case arises — and each of those says so; with the retry
/// (resume briefly, pause again), most snapshots come out whole.
/// Needs Go to build difffix with its churn mode; skipped without.
#[test]
fn paused_reads_of_a_churning_map_are_whole_or_say_why() {
    let Some(toolchains) = churn_toolchains(false) else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("mapscope-churn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut mid_write = 0;
    for (version, go) in toolchains {
        let exe = build_difffix(&dir, &version, &go);
        let running = start_churn(&exe, dir.join(format!("run-{version}")));
        let pid = running.child.id().to_string();
        for retries in ["0", "5"] {
            let (mut whole, mut runs) = (0, 0);
            while runs < 12 || (retries == "0" && mid_write == 0 && runs < 60) {
                runs += 1;
                let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
                    .args([
                        "show",
                        "--json",
                        "--pause",
                        exe.to_str().unwrap(),
                        "--pid",
                        &pid,
                        "main.churned",
                    ])
                    .env("MAPSCOPE_TEST_WRITING_RETRIES", retries)
                    .output()
                    .unwrap();
                let ctx = format!("go {version}, retries {retries}, run {runs}");
                let doc: Value = serde_json::from_slice(&out.stdout)
                    .unwrap_or_else(|e| panic!("{ctx}: {e}: {}", String::from_utf8_lossy(&out.stderr)));
                let errors = doc["errors"].as_array().unwrap();
                assert!(!held(running.child.id()), "{ctx}: the target was left stopped");
                if !errors.is_empty() {
                    assert_eq!(out.status.code(), Some(3), "{ctx}: errors but exit {:?}", out.status);
                    mid_write += errors
                        .iter()
                        .filter(|e| {
                            e.as_str()
                                .is_some_and(|e| e.contains("being written") || e.contains("being stored"))
                        })
                        .count();
                    continue;
                }
                assert!(out.status.success(), "{ctx}: {}", String::from_utf8_lossy(&out.stderr));
                let entries = doc["entries"].as_array().unwrap();
                let mut keys = std::collections::HashSet::new();
                for e in entries {
                    let k: i64 = e["key"]["go"].as_str().unwrap().parse().unwrap();
                    let v: i64 = e["value"]["go"].as_str().unwrap().parse().unwrap();
                    assert!((0..1 << 14).contains(&k), "{ctx}: key {k} was never stored");
                    // Also the window after mapassign returns and before the
                    // caller stores the value (the slot then holds 0): a
                    // thread's registers show it, and mapscope must say so.
                    assert_eq!(v, 7 * k + 3, "{ctx}: key {k}, a half-made entry without an error");
                    assert!(keys.insert(k), "{ctx}: key {k} twice, without an error");
                }
                assert_eq!(
                    keys.len() as u64,
                    doc["len"].as_u64().unwrap(),
                    "{ctx}: count, without an error"
                );
                whole += 1;
            }
            if retries == "5" {
                assert!(
                    whole * 2 > runs,
                    "go {version}: only {whole} of {runs} paused reads were whole"
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(mid_write > 0, "no pause ever landed in the middle of a write");
}
