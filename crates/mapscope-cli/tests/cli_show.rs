//! `mapscope show --json` against every fixture's truth: every map's entries
//! as (fmt.Sprint key, fmt.Sprint value) multisets, `len`, the header address
//! and the func symbols; by global name where DWARF names globals, and by
//! `0xADDR:map[K]V` everywhere (the stripped builds' only way).

use std::process::Command;

use serde_json::Value;

fn show(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .arg("show")
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "show {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("show {args:?}: bad JSON: {e}"))
}

/// Go's encoding/json wrote the truth: invalid UTF-8 became U+FFFD, as the
/// lossy `go` text does.
fn pairs(doc: &Value) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = doc["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["key"]["go"].as_str().unwrap().to_string(),
                e["value"]["go"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn show_json_equals_every_fixtures_truth() {
    let mut maps = 0;
    let mut entries = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let exe = fx.binary_path().unwrap();
        for run in fx.runs().filter(|r| r.entry.name != "bench") {
            let truth = run.truth().unwrap();
            for kind in run.core_kinds().collect::<Vec<_>>() {
                let core = run.core_path(kind).unwrap().unwrap();
                for m in &truth.maps {
                    let by_addr = format!("{}:{}", m.address, m.type_name);
                    let mut names = vec![by_addr.as_str()];
                    if m.reach == "global" && !fx.entry.stripped {
                        names.push(m.name.as_str());
                    }
                    for name in names {
                        let ctx = format!("{} {} {kind} {name}", fx.name(), run.entry.name);
                        let doc = show(&[exe.to_str().unwrap(), core.to_str().unwrap(), name]);
                        assert_eq!(doc["type"].as_str(), Some(m.type_name.as_str()), "{ctx}");
                        assert_eq!(doc["address"].as_str(), Some(m.address.as_str()), "{ctx}");
                        assert_eq!(doc["variant"].as_str(), Some(truth.variant.as_str()), "{ctx}");
                        assert_eq!(doc["len"].as_u64(), Some(m.len as u64), "{ctx}");
                        let mut want = m.entries.clone();
                        want.sort();
                        assert_eq!(pairs(&doc), want, "{ctx}");
                        for f in m.funcs.iter().flatten().filter(|f| !f.name.is_empty()) {
                            let e = doc["entries"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .find(|e| e["key"]["go"] == f.key.as_str())
                                .unwrap();
                            assert_eq!(
                                e["value"]["func"]["name"].as_str(),
                                Some(f.name.as_str()),
                                "{ctx} {}",
                                f.key
                            );
                            assert_eq!(e["value"]["go"].as_str(), Some(f.pc.as_str()), "{ctx} {}", f.key);
                        }
                        assert_eq!(
                            doc["errors"].as_array().map(Vec::len),
                            Some(0),
                            "{ctx}: {}",
                            doc["errors"]
                        );
                        maps += 1;
                        entries += m.len;
                    }
                }
            }
        }
    }
    eprintln!("show --json matched {maps} maps, {entries} entries");
    assert!(maps > 1000);
}

#[test]
fn show_text_and_physical_views_run_on_every_variant() {
    for fx in mapscope_fixtures::all().unwrap() {
        let exe = fx.binary_path().unwrap();
        let core = fx.core_path().unwrap();
        let truth = fx.truth().unwrap();
        let m = truth.map("main.Deleted").unwrap();
        let name = format!("{}:{}", m.address, m.type_name);
        let doc = show(&[
            "--physical",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
            &name,
            "--limit",
            "5",
        ]);
        assert_eq!(doc["entries"].as_array().unwrap().len(), 5);
        let physical = doc["physical"].as_array().unwrap();
        let full: usize = physical
            .iter()
            .map(|c| c["states"].as_array().unwrap().iter().filter(|s| *s == "full").count())
            .sum();
        assert_eq!(full, m.len, "{}: full slots in the physical view", fx.name());
        let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args([
                "show",
                "--physical",
                exe.to_str().unwrap(),
                core.to_str().unwrap(),
                &name,
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
    }
}

#[test]
fn unknown_maps_are_not_found_with_exit_code_1() {
    let fx = mapscope_fixtures::get("go1.22").unwrap();
    let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
    let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(["show", exe.to_str().unwrap(), core.to_str().unwrap(), "main.NoSuchMap"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
}
