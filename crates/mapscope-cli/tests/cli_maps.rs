//! `mapscope maps` (the census) from the command line, against what the
//! fixture programs said about their own maps: the JSON contract, the
//! waste ranking, the pprof profile (read by an independent decoder and, where
//! a Go toolchain is at hand, by `go tool pprof`), and owner expressions
//! accepted as MAP by `show`.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

fn mapscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap()
}

fn json(args: &[&str]) -> Value {
    let out = mapscope(args);
    assert!(
        out.status.success(),
        "mapscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const VARIANTS: [&str; 4] = ["go1.22", "go1.26", "go1.27-split", "go1.27-stripped"];

#[test]
fn census_json_holds_every_program_map_with_its_owner() {
    for variant in VARIANTS {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let truth = fx.truth().unwrap();
        let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
        let doc = json(&["maps", "--json", exe.to_str().unwrap(), core.to_str().unwrap()]);
        assert_eq!(doc["go_version"].as_str(), Some(truth.go_version.as_str()));
        assert_eq!(doc["variant"].as_str(), Some(truth.variant.as_str()));
        for k in ["maps", "entries", "bytes", "live_bytes", "waste_bytes", "heap_bytes"] {
            assert!(doc["totals"][k].is_u64(), "{variant}: totals.{k}");
        }
        let maps = doc["maps"].as_array().unwrap();
        let stripped = variant.contains("stripped");
        for m in truth.maps.iter().filter(|m| m.address != "0x0") {
            let row = maps
                .iter()
                .find(|r| r["address"] == m.address.as_str())
                .unwrap_or_else(|| panic!("{variant}: {} ({}) not in the census", m.name, m.address));
            assert_eq!(row["len"].as_u64(), Some(m.len as u64), "{variant} {}", m.name);
            assert_eq!(row["variant"].as_str(), Some(truth.variant.as_str()));
            if let Some(t) = row["type"].as_str() {
                assert_eq!(t, m.type_name, "{variant} {}", m.name);
            } else {
                assert!(stripped, "{variant} {}: untyped", m.name);
            }
            for k in ["bytes", "live_bytes", "waste_bytes", "tombstones"] {
                assert!(row[k].is_u64(), "{variant} {}: {k}", m.name);
            }
            assert!(row["bytes"].as_u64() >= row["breakdown"]["header"].as_u64());
            assert!(row["owner_path"].as_array().is_some_and(|p| !p.is_empty()));
            if !m.owner.is_empty() && !stripped {
                assert_eq!(row["owner"].as_str(), Some(m.owner.as_str()), "{variant} {}", m.name);
                assert_eq!(row["root"].as_str(), Some(m.root.as_str()), "{variant} {}", m.name);
            }
        }
    }
}

#[test]
fn the_drained_map_ranks_first_by_waste() {
    for variant in VARIANTS {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let truth = fx.truth().unwrap();
        let Some(drained) = truth.maps.iter().find(|m| m.name == "main.Drained") else {
            continue;
        };
        let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
        let doc = json(&[
            "maps",
            "--json",
            "--sort",
            "waste",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
        ]);
        let first = &doc["maps"][0];
        assert_eq!(first["address"].as_str(), Some(drained.address.as_str()), "{variant}");
        assert_eq!(
            first["len"].as_u64(),
            Some(0),
            "{variant}: the drained map holds nothing"
        );
        // The text view ranks it first too, bounded by --top with a "more" line.
        let out = mapscope(&[
            "maps",
            "--sort",
            "waste",
            "--top",
            "3",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
        ]);
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        if !stripped_variant(variant) {
            assert!(lines[2].ends_with("main.Drained"), "{variant}: {}", lines[2]);
        }
        assert!(lines
            .iter()
            .any(|l| l.starts_with("… ") && l.ends_with("more maps (--top N for more, --top 0 for all)")));
    }
}

fn stripped_variant(v: &str) -> bool {
    v.contains("stripped")
}

#[test]
fn pprof_profile_has_the_owner_paths() {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let truth = fx.truth().unwrap();
        let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
        let file = tmp.join(format!("cli_maps-{variant}-{}.pb.gz", std::process::id()));
        let out = mapscope(&[
            "maps",
            "--pprof",
            file.to_str().unwrap(),
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let p = mapscope_fixtures::pprof::decode_file(&file);
        let names: Vec<&str> = p.sample_types.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(names, ["maps", "bytes", "live_bytes", "waste_bytes"]);
        // Every program map: a sample whose stack, root first, spells its
        // owner, with its type as the leaf.
        for m in truth.maps.iter().filter(|m| m.address != "0x0") {
            if m.owner.is_empty() {
                continue;
            }
            let owner = &m.owner;
            let hit = p.samples.iter().any(|(stack, values)| {
                let (leaf, path) = stack.split_first().unwrap();
                let spelled: String = path.iter().rev().map(String::as_str).collect();
                leaf == &m.type_name && values[0] == 1 && (spelled == owner.replace(" → ", "") || m.root == "stack")
            });
            assert!(hit, "{variant}: no sample for {} ({owner})", m.name);
        }
        if let Some(go) = mapscope_fixtures::pprof::find_go() {
            let traces = mapscope_fixtures::pprof::pprof(&go, tmp, &["-traces", file.to_str().unwrap()]);
            assert!(
                traces.contains("main.Drained"),
                "{variant}: go tool pprof -traces lacks main.Drained"
            );
            let top = mapscope_fixtures::pprof::pprof(
                &go,
                tmp,
                &["-top", "-sample_index=waste_bytes", file.to_str().unwrap()],
            );
            // The most wasteful map's type leads the waste profile.
            let drained = truth.maps.iter().find(|m| m.name == "main.Drained").unwrap();
            let first = top
                .lines()
                .find(|l| l.trim_start().chars().next().is_some_and(|c| c.is_ascii_digit()));
            assert!(
                first.is_some_and(|l| l.ends_with(drained.type_name.as_str())),
                "{variant}: {top}"
            );
        } else {
            eprintln!("no Go toolchain: go tool pprof not run");
        }
    }
}

#[test]
fn show_accepts_an_owner_expression() {
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let truth = fx.truth().unwrap();
        let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
        let m = truth.map("(*main.heapHolder).Inner").unwrap();
        let owner = m.owner.clone();
        for name in [owner.as_str(), m.address.as_str()] {
            let doc = json(&["show", "--json", exe.to_str().unwrap(), core.to_str().unwrap(), name]);
            assert_eq!(doc["address"].as_str(), Some(m.address.as_str()), "{variant} {name}");
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
            assert_eq!(got, want, "{variant} {name}");
        }
        let out = mapscope(&[
            "show",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
            "main.heapHolder.Innr",
        ]);
        assert_eq!(out.status.code(), Some(1), "an unknown owner is 'not found'");
    }
}
