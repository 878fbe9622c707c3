//! End-to-end timings of the `mapscope` commands the performance goals name,
//! run as a user runs them: wall time (best and median of several runs) and
//! the child's peak RSS. `cargo bench -p mapscope-cli --bench commands`.
//!
//! - `info` on the largest Go executable at hand (a toolchain's `compile` when
//!   installed, else a fixture binary) — target < 100 ms.
//! - `show --json > /dev/null` on the 1M-entry `map[uint64]uint32` of the
//!   corpus's bench runs, classic (go1.22) and Swiss (go1.26) — target
//!   ≤ 0.5 s and ≤ 300 MB peak RSS.
//! - `path` of one key of that map (key 500000·1000003, found by hashing,
//!   not by scanning), and of an absent key (proved absent by the lookup) —
//!   target ≤ 20 ms.
//! - `disasm --json` of the largest executable and of `$MAPSCOPE_REALWORLD`'s,
//!   and of the generated huge function (`fixtures/bigfunc`: 273k
//!   instructions, 5,720 map calls in one `main.init`), whole and `--func`
//!   — target ≤ 2 s whole binary, under 100 MB for one function.
//! - `maps --json` (the census) of every fixture core — target ≤ 200 ms; of
//!   the large generated case when `fixtures/census-scale.sh` has made it
//!   (`target/census-scale/*/core`) — target ≤ 5 s and peak RSS ≤ 25 % of its
//!   heap — with how many of its maps were found with their owner; and of
//!   real programs' cores listed in `$MAPSCOPE_REALWORLD` (a directory of
//!   `NAME/NAME` executables with `NAME/core.kernel` or `NAME/core.gcore`, as
//!   `fixtures/realworld-cores.sh` makes them).
//! - `diff` of the 1M-entry map with itself (the bench core as both
//!   snapshots: every entry is looked up and matched) — target ≤ 2 s and at
//!   most twice the memory of the decoded key set, measured as the peak RSS
//!   above `show --json` of the same map; and the census `diff` of each
//!   `fixtures/difffix` snapshot pair — target ≤ 0.5 s.
//! - `--pause` of a live Go program (the corpus's difffix in `-watch` mode):
//!   how long holding every thread takes and how long releasing them, with
//!   ptrace (the default) and with the SIGSTOP fallback.
//! - `report` of the fixture cores (census and the 10 largest maps) — target
//!   ≤ 1 s; of the 1M-entry bench map — target ≤ 30 MB of HTML (its
//!   load-to-interactive time in Chromium is measured by
//!   `tests/report_browser.rs`, target ≤ 3 s).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 5;

struct Sample {
    wall: Duration,
    max_rss_kib: i64,
}

/// Runs the command with stdout to /dev/null; wait4 gives its own rusage.
/// `code`: the exit status expected (1 for an absent key).
fn run_once_exiting(args: &[&str], code: i32) -> Sample {
    let start = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mapscope");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain syscall on our own child; rusage is a valid out-pointer.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    assert_eq!(r, pid, "wait4");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == code,
        "mapscope {args:?} failed"
    );
    std::mem::forget(child);
    Sample {
        wall,
        max_rss_kib: usage.ru_maxrss,
    }
}

fn bench(label: &str, args: &[&str], items: Option<u64>) {
    bench_exiting(label, args, items, 0)
}

fn bench_exiting(label: &str, args: &[&str], items: Option<u64>, code: i32) {
    let _ = run_once_exiting(args, code); // warm the page cache
    let mut samples: Vec<Sample> = (0..RUNS).map(|_| run_once_exiting(args, code)).collect();
    samples.sort_by_key(|s| s.wall);
    let best = &samples[0];
    let median = &samples[RUNS / 2];
    let rss = samples.iter().map(|s| s.max_rss_kib).max().unwrap_or(0);
    let rate = items.map_or(String::new(), |n| {
        format!(", {:.2} M entries/s", n as f64 / median.wall.as_secs_f64() / 1e6)
    });
    println!(
        "{label:<44} best {:>8.1} ms  median {:>8.1} ms  peak RSS {:>6.1} MB{rate}",
        best.wall.as_secs_f64() * 1e3,
        median.wall.as_secs_f64() * 1e3,
        rss as f64 / 1024.0
    );
}

/// Pause and resume latency on a live Go program, by method.
fn pause_benches() {
    use mapscope::memory::PauseGuard;
    let Some(pair) = mapscope_fixtures::diffpair::pairs()
        .ok()
        .and_then(|p| p.into_iter().find(|p| p.name() == "diff-go1.26"))
    else {
        println!("pause: no diff-go1.26 fixture");
        return;
    };
    let exe = pair.binary_path().expect("difffix");
    let mut child = Command::new(&exe)
        .arg("-watch")
        .stdout(Stdio::null())
        .spawn()
        .expect("difffix -watch");
    std::thread::sleep(Duration::from_millis(300));
    let pid = child.id() as i32;
    let threads = std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count());
    type Pause = fn(i32, Duration) -> Result<PauseGuard, mapscope::memory::MemoryError>;
    let methods: [(&str, Pause); 2] = [("ptrace", PauseGuard::pause), ("SIGSTOP", PauseGuard::pause_by_signal)];
    for (name, pause) in methods {
        let (mut stop, mut resume) = (Vec::new(), Vec::new());
        for _ in 0..50 {
            let t = Instant::now();
            let g = pause(pid, Duration::from_secs(2)).expect("pause");
            stop.push(t.elapsed());
            let t = Instant::now();
            drop(g);
            resume.push(t.elapsed());
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.sort();
        resume.sort();
        println!(
            "{:<44} pause best {:>6.3} ms  median {:>6.3} ms; resume best {:>6.3} ms  median {:>6.3} ms",
            format!("--pause by {name} ({threads} threads)"),
            stop[0].as_secs_f64() * 1e3,
            stop[25].as_secs_f64() * 1e3,
            resume[0].as_secs_f64() * 1e3,
            resume[25].as_secs_f64() * 1e3,
        );
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn largest_go_executable() -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let cache = Path::new(&home).join(".cache/mapscope/go");
    std::fs::read_dir(cache)
        .ok()?
        .flatten()
        .filter_map(|d| {
            let p = d
                .path()
                .join("lib/python3.11/site-packages/go/pkg/tool/linux_amd64/compile");
            let len = std::fs::metadata(&p).ok()?.len();
            Some((len, p))
        })
        .max()
        .map(|(_, p)| p)
}

/// `diff` of the 1M-entry map with itself, and its memory above `show
/// --json` of the same map (which opens the executable and the core, and
/// walks and decodes every entry, touching the same pages of the core).
fn big_diff_bench(variant: &str, exe: &str, core: &str, n: u64) {
    let base = run_once_exiting(&["show", "--json", exe, core, "main.Bench"], 0).max_rss_kib;
    let args = ["diff", "--json", exe, core, core, "main.Bench"];
    let diff = run_once_exiting(&args, 0).max_rss_kib;
    bench(&format!("diff main.Bench ({variant}, {n} vs itself)"), &args, Some(n));
    // A decoded key is one mapscope::values::Value (64 bytes) per entry.
    let keys = n as f64 * 64.0;
    let above = (diff - base) as f64 * 1024.0;
    println!(
        "  diff above show --json: {:.1} MB; the decoded key set: {:.1} MB ({:.2}×)",
        above / 1e6,
        keys / 1e6,
        above / keys
    );
}

fn big_diff_benches() {
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let Ok(run) = fx.run("bench") else { continue };
        let exe = fx.binary_path().unwrap();
        let core = run.core_path("kernel").unwrap().unwrap();
        let head = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args([
                "show",
                "--json",
                "--limit",
                "0",
                exe.to_str().unwrap(),
                core.to_str().unwrap(),
                "main.Bench",
            ])
            .output()
            .expect("mapscope show --limit 0");
        let head: serde_json::Value = serde_json::from_slice(&head.stdout).expect("show JSON");
        let n = head["len"].as_u64().unwrap_or(0);
        big_diff_bench(variant, exe.to_str().unwrap(), core.to_str().unwrap(), n);
    }
}

fn census_diff_benches() {
    for pair in mapscope_fixtures::diffpair::pairs().unwrap() {
        let exe = pair.binary_path().unwrap();
        let (a, b) = (pair.before_core().unwrap(), pair.after_core().unwrap());
        bench(
            &format!("diff --json, census ({})", pair.name()),
            &[
                "diff",
                "--json",
                exe.to_str().unwrap(),
                a.to_str().unwrap(),
                b.to_str().unwrap(),
            ],
            None,
        );
    }
}

fn census_benches() {
    for fx in mapscope_fixtures::all().unwrap() {
        let exe = fx.binary_path().unwrap();
        let core = fx.core_path().unwrap();
        bench(
            &format!("maps --json ({})", fx.name()),
            &["maps", "--json", exe.to_str().unwrap(), core.to_str().unwrap()],
            None,
        );
    }
    let scale_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/census-scale");
    for d in std::fs::read_dir(&scale_dir).into_iter().flatten().flatten() {
        let (exe, core, truth) = (
            d.path().join("mapfix"),
            d.path().join("core"),
            d.path().join("truth.json"),
        );
        if !core.exists() {
            continue;
        }
        let truth: mapscope_fixtures::Truth =
            serde_json::from_slice(&std::fs::read(&truth).unwrap()).expect("census-scale truth");
        let heap = truth.scale.as_ref().map_or(0, |s| s.heap_alloc);
        bench(
            &format!(
                "maps --json (census-scale {}, {:.2} GB heap, {} maps)",
                d.file_name().to_string_lossy(),
                heap as f64 / 1e9,
                truth.scale_maps.len()
            ),
            &["maps", "--json", exe.to_str().unwrap(), core.to_str().unwrap()],
            None,
        );
        let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args(["maps", "--json", exe.to_str().unwrap(), core.to_str().unwrap()])
            .output()
            .expect("mapscope maps");
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("census JSON");
        let by_addr: std::collections::HashMap<&str, &serde_json::Value> = doc["maps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["address"].as_str().unwrap_or(""), m))
            .collect();
        let found = truth
            .scale_maps
            .iter()
            .filter(|m| {
                by_addr
                    .get(m.address.as_str())
                    .is_some_and(|c| c["len"].as_u64() == Some(m.len as u64))
            })
            .count();
        let owned = truth
            .scale_maps
            .iter()
            .filter(|m| {
                by_addr
                    .get(m.address.as_str())
                    .is_some_and(|c| c["owner"].as_str() == Some(m.owner.as_str()))
            })
            .count();
        println!(
            "  census-scale: {found} of {} maps found with their len, {owned} with their owner",
            truth.scale_maps.len()
        );
    }
    let Some(real) = std::env::var_os("MAPSCOPE_REALWORLD") else {
        println!("(set MAPSCOPE_REALWORLD to time the census of real programs' cores)");
        return;
    };
    for d in std::fs::read_dir(real).into_iter().flatten().flatten() {
        let name = d.file_name().to_string_lossy().into_owned();
        let exe = d.path().join(&name);
        for kind in ["core.kernel", "core.gcore"] {
            let core = d.path().join(kind);
            if exe.exists() && core.exists() {
                let probe = Command::new(env!("CARGO_BIN_EXE_mapscope"))
                    .args(["maps", "--top", "1", exe.to_str().unwrap(), core.to_str().unwrap()])
                    .output()
                    .expect("mapscope maps");
                if !probe.status.success() {
                    println!(
                        "maps ({name} {kind}): {}",
                        String::from_utf8_lossy(&probe.stderr).trim()
                    );
                    continue;
                }
                bench(
                    &format!("maps --json ({name} {kind})"),
                    &["maps", "--json", exe.to_str().unwrap(), core.to_str().unwrap()],
                    None,
                );
            }
        }
    }
}

fn report_benches() {
    let out_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-report");
    std::fs::create_dir_all(&out_dir).unwrap();
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let exe = fx.binary_path().unwrap();
        let core = fx.core_path().unwrap();
        let html = out_dir.join(format!("{variant}.html"));
        let args = [
            "report",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
        ];
        bench(&format!("report ({variant} main, top 10)"), &args, None);
        println!(
            "  {:.1} MB of HTML",
            std::fs::metadata(&html).map_or(0, |m| m.len()) as f64 / 1e6
        );
        let Ok(run) = fx.run("bench") else { continue };
        let core = run.core_path("kernel").unwrap().unwrap();
        let html = out_dir.join(format!("{variant}-bench.html"));
        let args = [
            "report",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
            "--top",
            "0",
            "main.Bench",
            "-o",
            html.to_str().unwrap(),
        ];
        bench(&format!("report main.Bench ({variant}, 1M entries)"), &args, None);
        println!(
            "  {:.1} MB of HTML",
            std::fs::metadata(&html).map_or(0, |m| m.len()) as f64 / 1e6
        );
    }
}

/// `disasm` of a whole executable: the largest at hand, and the real
/// programs of `$MAPSCOPE_REALWORLD` (`NAME/NAME`; Prometheus's
/// `endpoints.init` of aws-sdk-go is 150k instructions in one function).
fn disasm_benches(largest: &Path) {
    let mut exes = vec![largest.to_path_buf()];
    if let Some(real) = std::env::var_os("MAPSCOPE_REALWORLD") {
        if let Ok(rd) = std::fs::read_dir(real) {
            let mut v: Vec<PathBuf> = rd
                .flatten()
                .map(|d| d.path().join(d.file_name()))
                .filter(|p| p.is_file())
                .collect();
            v.sort();
            exes.extend(v);
        }
    }
    for exe in exes {
        let name = exe
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        bench(
            &format!("disasm --json ({name})"),
            &["disasm", "--json", exe.to_str().unwrap()],
            None,
        );
    }
    // The generated huge functions (fixtures/bigfunc): the whole binary,
    // and the function itself listed instruction by instruction — target
    // under 100 MB peak RSS.
    for big in mapscope_fixtures::big_functions().unwrap_or_default() {
        let Ok(exe) = big.binary_path() else { continue };
        let (e, exe) = (big.entry, exe.to_str().unwrap().to_string());
        println!(
            "{}: {} of {} instructions, {} map calls",
            e.name, e.function, e.objdump_instructions, e.map_calls
        );
        bench(
            &format!("disasm --json ({})", e.name),
            &["disasm", "--json", &exe],
            None,
        );
        bench(
            &format!("disasm --json --func {} ({})", e.function, e.name),
            &["disasm", "--json", "--func", &e.function, &exe],
            None,
        );
    }
}

/// The executable and kernel core of the 1M-entry bench run of each
/// variant that has one (go1.22 classic, go1.26 Swiss).
fn bench_runs() -> Vec<(&'static str, String, String)> {
    let mut out = Vec::new();
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let Ok(run) = fx.run("bench") else {
            println!("{variant}: no bench run in the corpus");
            continue;
        };
        let exe = fx.binary_path().unwrap();
        let core = run.core_path("kernel").unwrap().unwrap();
        out.push((variant, exe.display().to_string(), core.display().to_string()));
    }
    out
}

/// `path` of the 1M-entry bench map only: one present key, one absent.
fn path_benches() {
    for (variant, exe, core) in bench_runs() {
        path_bench(variant, &exe, &core);
    }
}

fn path_bench(variant: &str, exe: &str, core: &str) {
    bench(
        &format!("path main.Bench 500001500000 ({variant})"),
        &["path", exe, core, "main.Bench", "500001500000"],
        None,
    );
    // Absent (the program stored keys from 500001000000 up): proved by
    // the lookup's end, not by scanning 1M entries. Exit status 1.
    bench_exiting(
        &format!("path main.Bench 4242, absent ({variant})"),
        &["path", exe, core, "main.Bench", "4242"],
        None,
        1,
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing to filter here.
    if std::env::args().any(|a| a == "census") {
        census_benches();
        return;
    }
    if std::env::args().any(|a| a == "diff") {
        big_diff_benches();
        census_diff_benches();
        return;
    }
    if std::env::args().any(|a| a == "report") {
        report_benches();
        return;
    }
    if std::env::args().any(|a| a == "pause") {
        pause_benches();
        return;
    }
    if std::env::args().any(|a| a == "path") {
        path_benches();
        return;
    }
    let info_target =
        largest_go_executable().unwrap_or_else(|| mapscope_fixtures::get("go1.27").unwrap().binary_path().unwrap());
    if std::env::args().any(|a| a == "disasm") {
        disasm_benches(&info_target);
        return;
    }
    let size = std::fs::metadata(&info_target).map(|m| m.len()).unwrap_or(0);
    bench(
        &format!(
            "info ({:.0} MB {})",
            size as f64 / 1e6,
            info_target.file_name().unwrap().to_string_lossy()
        ),
        &["info", info_target.to_str().unwrap()],
        None,
    );
    bench(
        "info --json (same)",
        &["info", "--json", info_target.to_str().unwrap()],
        None,
    );

    for (variant, exe, core) in bench_runs() {
        let (exe, core) = (exe.as_str(), core.as_str());
        // The entry count from mapscope itself (--limit 0), not from the
        // truth: a parent holding the 1M-entry truth would inflate the peak
        // RSS that wait4 reports for its forked children.
        let head = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args(["show", "--json", "--limit", "0", exe, core, "main.Bench"])
            .output()
            .expect("mapscope show --limit 0");
        let head: serde_json::Value = serde_json::from_slice(&head.stdout).expect("show JSON");
        let n = head["len"].as_u64().unwrap_or(0);
        let label = format!(
            "show --json main.Bench ({variant} {}, {n})",
            head["variant"].as_str().unwrap_or("?")
        );
        bench(&label, &["show", "--json", exe, core, "main.Bench"], Some(n));
        big_diff_bench(variant, exe, core, n);
        bench(
            &format!("maps --globals ({variant})"),
            &["maps", "--globals", exe, core],
            None,
        );
        path_bench(variant, exe, core);
    }
    pause_benches();
    census_diff_benches();
    disasm_benches(&info_target);
    census_benches();
    report_benches();
}
