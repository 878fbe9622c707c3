//! `mapscope diff` and `watch` end to end: the snapshot pairs of
//! `fixtures/difffix` compared with the program's own account of its
//! changes, and `watch` against the same program running in `-watch` mode.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mapscope_fixtures::diffpair::pairs;
use serde_json::Value;

fn mapscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap()
}

fn mapscope_json(args: &[&str]) -> Value {
    let out = mapscope(args);
    assert!(
        out.status.success(),
        "mapscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn texts(v: &Value, fields: &[&str]) -> Vec<Vec<String>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            fields
                .iter()
                .map(|f| e[*f]["go"].as_str().unwrap().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn diff_of_named_maps_equals_the_programs_truth() {
    for pair in pairs().unwrap() {
        let truth = pair.truth().unwrap();
        let exe = pair.binary_path().unwrap();
        let (a, b) = (pair.before_core().unwrap(), pair.after_core().unwrap());
        let exprs: Vec<String> = truth
            .maps
            .iter()
            .map(|m| {
                if pair.entry.stripped {
                    format!("{}:{}", m.address, m.type_name)
                } else {
                    m.name.clone()
                }
            })
            .collect();
        let mut args = vec![
            "diff",
            "--json",
            exe.to_str().unwrap(),
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ];
        args.extend(exprs.iter().map(String::as_str));
        let got = mapscope_json(&args);
        let maps = got["maps"].as_array().unwrap();
        assert_eq!(maps.len(), truth.maps.len());
        for (m, t) in maps.iter().zip(&truth.maps) {
            let ctx = format!("{} {}", pair.name(), t.name);
            assert_eq!(m["address"].as_str(), Some(t.address.as_str()), "{ctx}");
            assert_eq!(m["type"].as_str(), Some(t.type_name.as_str()), "{ctx}");
            assert_eq!(m["len_before"].as_u64(), Some(t.before.len as u64), "{ctx}");
            assert_eq!(m["len_after"].as_u64(), Some(t.after.len as u64), "{ctx}");
            let want = |v: &[[String; 2]]| v.iter().map(|e| e.to_vec()).collect::<Vec<_>>();
            assert_eq!(texts(&m["added"], &["key", "value"]), want(&t.added), "{ctx}: added");
            assert_eq!(
                texts(&m["removed"], &["key", "value"]),
                want(&t.removed),
                "{ctx}: removed"
            );
            assert_eq!(
                texts(&m["changed"], &["key", "before", "after"]),
                t.changed.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
                "{ctx}: changed"
            );
            // One process: the physical side is there, and agrees with the
            // seed the program read.
            let phys = &m["physical"];
            assert_eq!(phys["same_process"], true, "{ctx}");
            let seed_event = phys["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["event"] == "seed_changed");
            assert_eq!(
                seed_event,
                t.before.physical["seed"] != t.after.physical["seed"],
                "{ctx}"
            );
        }

        // Text: the summary first, bounded entries.
        let mut args = vec!["diff", exe.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap()];
        args.push(&exprs[4]); // main.cleared: 50 removed
        args.extend(["--limit", "5"]);
        let out = mapscope(&args);
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let cleared = &truth.maps[4];
        assert!(
            lines[1].contains(&format!("len {} → {}", cleared.before.len, cleared.after.len)),
            "{text}"
        );
        let listed = lines
            .iter()
            .filter(|l| l.starts_with("  + ") || l.starts_with("  − "))
            .count();
        assert_eq!(listed, 5, "{text}");
        let total = cleared.added.len() + cleared.removed.len() + cleared.changed.len();
        assert!(
            text.contains(&format!("… {} more entries (--limit N", total - 5)),
            "{text}"
        );
    }
}

#[test]
fn census_diff_and_pprof_pair() {
    let pair = pairs()
        .unwrap()
        .into_iter()
        .find(|p| p.name() == "diff-go1.26")
        .unwrap();
    let truth = pair.truth().unwrap();
    let exe = pair.binary_path().unwrap();
    let (a, b) = (pair.before_core().unwrap(), pair.after_core().unwrap());
    let dir = std::env::temp_dir().join(format!("mapscope-diff-pprof-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (pa, pb) = (dir.join("before.pb.gz"), dir.join("after.pb.gz"));
    let pprof = format!("{},{}", pa.display(), pb.display());
    let got = mapscope_json(&[
        "diff",
        "--json",
        exe.to_str().unwrap(),
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--pprof",
        &pprof,
    ]);
    assert_eq!(got["same_process"], true);
    let rows = got["maps"].as_array().unwrap();
    for t in &truth.maps {
        let row = rows
            .iter()
            .find(|r| r["address"] == t.address.as_str())
            .unwrap_or_else(|| panic!("{} missing", t.name));
        assert_eq!(row["owner"].as_str(), Some(t.name.as_str()));
        assert_eq!(row["len_before"].as_u64(), Some(t.before.len as u64), "{}", t.name);
        assert_eq!(row["len_after"].as_u64(), Some(t.after.len as u64), "{}", t.name);
        if t.before.len != t.after.len {
            assert_eq!(row["status"], "changed", "{}", t.name);
        }
    }
    // Both profiles hold every map of the program as a sample whose stack
    // is its owner, with the map type as the leaf.
    for (path, side) in [(&pa, "before"), (&pb, "after")] {
        let p = mapscope_fixtures::pprof::decode_file(path);
        for t in &truth.maps {
            assert!(
                p.samples
                    .iter()
                    .any(|(stack, _)| stack.first() == Some(&t.type_name) && stack.contains(&t.name)),
                "{side}: {} not in the profile",
                t.name
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Kills the watched program when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn state(pid: u32) -> char {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    stat.rsplit(')').next().and_then(|r| r.trim().chars().next()).unwrap()
}

/// Reading another process needs ptrace permission over it (our own child).
fn can_read(pid: u32) -> bool {
    std::fs::File::open(format!("/proc/{pid}/mem")).is_ok()
}

#[test]
fn watch_follows_a_running_program() {
    let pair = pairs()
        .unwrap()
        .into_iter()
        .find(|p| p.name() == "diff-go1.26")
        .unwrap();
    let exe = pair.binary_path().unwrap();
    for pause in [false, true] {
        let mut child = Command::new(&exe)
            .arg("-watch")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let running = Running(child);
        let pid = running.0.id();
        if !can_read(pid) {
            eprintln!("skipped: this environment does not let us read process {pid}");
            return;
        }
        // The program's own account: its len after every step.
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(first.starts_with("ready len "), "{first}");
        let pid_s = pid.to_string();
        let mut args = vec![
            "watch",
            "--json",
            exe.to_str().unwrap(),
            "--pid",
            &pid_s,
            "main.watched",
            "--interval",
            "450ms",
            "--count",
            "4",
        ];
        if pause {
            args.push("--pause");
        }
        let started = Instant::now();
        let out = mapscope(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(started.elapsed() >= Duration::from_millis(4 * 450));
        let mut lens: Vec<u64> = vec![first.trim_start_matches("ready len ").parse().unwrap()];
        while let Ok(line) = rx.try_recv() {
            lens.push(line.rsplit(' ').next().unwrap().parse().unwrap());
        }
        let docs: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(docs.len(), 5, "one line per snapshot comparison, and the first");
        assert!(lens.contains(&docs[0]["len"].as_u64().unwrap()), "{lens:?} {}", docs[0]);
        let mut moved = false;
        for d in &docs[1..] {
            assert!(d["errors"].as_array().unwrap().is_empty(), "{d}");
            let (before, after) = (d["len_before"].as_u64().unwrap(), d["len_after"].as_u64().unwrap());
            // Every snapshot is one the program went through.
            assert!(lens.contains(&after), "len {after} is none of the program's {lens:?}");
            let (added, removed) = (
                d["counts"]["added"].as_u64().unwrap(),
                d["counts"]["removed"].as_u64().unwrap(),
            );
            assert_eq!(before + added - removed, after, "{d}");
            // Per step the program adds 3 keys and removes 1: k → k, so the
            // steps between two snapshots explain the counts.
            let steps = added / 3;
            assert_eq!(added, 3 * steps, "{d}");
            assert_eq!(removed, steps, "{d}");
            moved |= steps > 0;
            for e in d["added"].as_array().unwrap() {
                assert_eq!(e["key"]["go"], e["value"]["go"], "{d}");
            }
        }
        assert!(moved, "the map never changed between snapshots");
        let s = state(pid);
        assert!(s == 'S' || s == 'R', "process left in state {s} (pause={pause})");
    }
}

/// The corpus's first snapshot against a new process of the same program,
/// read live: two processes, so maps are found again by name, and the
/// entries match by content. At "ready" the new process holds what the
/// corpus snapshot held (the program builds the same entries every run), so
/// nothing differs; after its changes, the diff is what the new process
/// itself wrote about them.
#[test]
fn diff_of_a_core_and_a_running_process() {
    for name in ["diff-go1.22", "diff-go1.26"] {
        let pair = pairs().unwrap().into_iter().find(|p| p.name() == name).unwrap();
        let exe = pair.binary_path().unwrap();
        let a = pair.before_core().unwrap();
        let before = pair.before_truth().unwrap();
        let dir = std::env::temp_dir().join(format!("mapscope-diff-live-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (bj, aj) = (dir.join("before.json"), dir.join("after.json"));
        let mut child = Command::new(&exe)
            .args([&bj, &aj])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let running = Running(child);
        let pid = running.0.id();
        if !can_read(pid) {
            eprintln!("skipped: this environment does not let us read process {pid}");
            return;
        }
        let mut lines = BufReader::new(stdout).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "ready");
        let pid_s = pid.to_string();
        let names: Vec<&str> = before.maps.iter().map(|m| m.name.as_str()).collect();
        let diff = |pause: bool| {
            let mut args = vec![
                "diff",
                "--json",
                exe.to_str().unwrap(),
                a.to_str().unwrap(),
                "--pid",
                &pid_s,
            ];
            if pause {
                args.push("--pause");
            }
            args.extend(&names);
            mapscope_json(&args)
        };
        for pause in [false, true] {
            let got = diff(pause);
            for (m, t) in got["maps"].as_array().unwrap().iter().zip(&before.maps) {
                let ctx = format!("{name} {} at ready (pause {pause})", t.name);
                assert_eq!(m["len_before"].as_u64(), Some(t.before.len as u64), "{ctx}");
                assert_eq!(m["len_after"].as_u64(), Some(t.before.len as u64), "{ctx}");
                assert_eq!(m["counts"]["same"].as_u64(), Some(t.before.len as u64), "{ctx}: {m}");
                // (A reused pid would make them look like one process.)
                if pid != before.pid {
                    assert!(m["physical"].is_null(), "{ctx}: two processes have no physical diff");
                }
            }
            let s = state(pid);
            assert!(s == 'S' || s == 'R', "process left in state {s}");
        }
        // SIGUSR1: the program makes its changes and writes them.
        // SAFETY: a plain kill(2) of our own child.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGUSR1) }, 0);
        assert_eq!(lines.next().unwrap().unwrap(), "changed");
        let truth: mapscope_fixtures::diffpair::DiffTruth =
            serde_json::from_slice(&std::fs::read(&aj).unwrap()).unwrap();
        let got = diff(true);
        for (m, t) in got["maps"].as_array().unwrap().iter().zip(&truth.maps) {
            let ctx = format!("{name} {} after the changes", t.name);
            assert_eq!(m["len_after"].as_u64(), Some(t.after.len as u64), "{ctx}");
            let want = |v: &[[String; 2]]| v.iter().map(|e| e.to_vec()).collect::<Vec<_>>();
            assert_eq!(texts(&m["added"], &["key", "value"]), want(&t.added), "{ctx}: added");
            assert_eq!(
                texts(&m["removed"], &["key", "value"]),
                want(&t.removed),
                "{ctx}: removed"
            );
            assert_eq!(
                texts(&m["changed"], &["key", "before", "after"]),
                t.changed.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
                "{ctx}: changed"
            );
        }
        drop(running);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
