//! Text output in Go's own terms (show's summary and physical view, the
//! `path` table), against what the programs said about their own maps.

use std::process::Command;

fn show(fx: &mapscope_fixtures::Fixture, map: &str) -> String {
    let exe = fx.binary_path().unwrap();
    let core = fx.core_path().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args([
            "show",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
            map,
            "--limit",
            "1",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn classic_load_is_entries_per_bucket_and_small_swiss_maps_say_so() {
    for fx in mapscope_fixtures::all().unwrap() {
        let truth = fx.truth().unwrap();
        for m in &truth.maps {
            if !matches!(m.name.as_str(), "main.MidGrowth" | "main.Deleted" | "main.Handlers") {
                continue;
            }
            let Some(h) = &m.header else { continue };
            // By address and type, so stripped builds are covered too.
            let text = show(&fx, &format!("{}:{}", m.address, m.type_name));
            if truth.variant == "classic" {
                let b = h["B"].as_u64().unwrap();
                let want = format!("{:.2} per bucket", m.len as f64 / (1u64 << b) as f64);
                assert!(text.contains(&want), "{} {}: want {want} in\n{text}", fx.name(), m.name);
            } else if h["dirLen"].as_u64() == Some(0) {
                assert!(
                    text.contains("a small map: one group, no table"),
                    "{} {}:\n{text}",
                    fx.name(),
                    m.name
                );
            } else {
                let tables = truth_tables(m);
                let want = format!(" in {tables} table");
                assert!(text.contains(&want), "{} {}: want {want} in\n{text}", fx.name(), m.name);
            }
        }
    }
}

fn truth_tables(m: &mapscope_fixtures::MapTruth) -> usize {
    m.tables.as_ref().map_or(0, Vec::len)
}

/// `--physical` text is bounded by `--limit` and says how much it left out.
#[test]
fn physical_text_is_bounded() {
    for name in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(name).unwrap();
        let truth = fx.truth().unwrap();
        let m = truth.map("main.Huge").unwrap();
        let exe = fx.binary_path().unwrap();
        let core = fx.core_path().unwrap();
        let spec = format!("{}:{}", m.address, m.type_name);
        let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args([
                "show",
                "--physical",
                exe.to_str().unwrap(),
                core.to_str().unwrap(),
                &spec,
                "--limit",
                "3",
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let physical = text.split("\nphysical:\n").nth(1).unwrap();
        let containers = physical.lines().filter(|l| l.contains("0x") && l.contains('[')).count();
        assert_eq!(containers, 3, "{name}:\n{physical}");
        // 100 003 entries need far more than 3 buckets or groups.
        assert!(m.len > 1000 && physical.contains(" more "), "{name}:\n{physical}");
    }
}

/// Text `show` is bounded by default and says how much it left out; JSON
/// and `--limit 0` have every entry the program put in the map.
#[test]
fn show_text_entries_are_bounded() {
    let fx = mapscope_fixtures::get("go1.26").unwrap();
    let truth = fx.truth().unwrap();
    let m = truth.map("main.Huge").unwrap();
    let exe = fx.binary_path().unwrap();
    let core = fx.core_path().unwrap();
    let spec = format!("{}:{}", m.address, m.type_name);
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args(["show", exe.to_str().unwrap(), core.to_str().unwrap(), &spec])
            .args(extra)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    let entry_lines = |t: &str| t.lines().filter(|l| l.starts_with("  [0x")).count();
    let text = run(&[]);
    assert_eq!(entry_lines(&text), 100, "{text}");
    let more = format!(
        "  … {} more entries (--limit N for more, --limit 0 for all)",
        m.len - 100
    );
    assert!(text.lines().any(|l| l == more), "{more:?} missing:\n{text}");
    let all = run(&["--limit", "0"]);
    assert_eq!(entry_lines(&all), m.len);
    assert!(!all.contains(" more entries"));
}

/// `path` prints a key's slot as its bytes in memory order, and the legend
/// for hops only when there are hops.
#[test]
fn path_text_reads_keys_as_bytes() {
    for name in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(name).unwrap();
        let truth = fx.truth().unwrap();
        let m = truth.map("main.MidGrowth").unwrap();
        let (key, _) = &m.entries[0];
        let k: i64 = key.parse().unwrap();
        let bytes: Vec<String> = k.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
        let exe = fx.binary_path().unwrap();
        let core = fx.core_path().unwrap();
        let spec = format!("{}:{}", m.address, m.type_name);
        let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args(["path", exe.to_str().unwrap(), core.to_str().unwrap(), &spec, key])
            .output()
            .unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("key slot"))
            .unwrap_or_else(|| panic!("{name}:\n{text}"));
        assert!(line.ends_with(&bytes.join(" ")), "{name}: {line}");
        assert!(!text.contains("(* = hop"), "{name}:\n{text}");
    }
}

/// The physical view is coloured only when asked for or on a terminal:
/// output into a pipe or a file (`-o`) carries no escape sequences, and
/// `-o FILE` holds exactly what stdout would have.
#[test]
fn colour_and_output_file() {
    let fx = mapscope_fixtures::get("go1.26").unwrap();
    let truth = fx.truth().unwrap();
    let m = truth.map("main.Deleted").unwrap();
    let exe = fx.binary_path().unwrap();
    let core = fx.core_path().unwrap();
    let spec = format!("{}:{}", m.address, m.type_name);
    let run = |extra: &[&str], no_color: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mapscope"));
        cmd.args([
            "show",
            "--physical",
            exe.to_str().unwrap(),
            core.to_str().unwrap(),
            &spec,
        ])
        .args(extra);
        if no_color {
            cmd.env("NO_COLOR", "1");
        } else {
            cmd.env_remove("NO_COLOR");
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = run(&[], false);
    assert!(!plain.contains('\x1b'), "colour into a pipe:\n{plain}");
    let coloured = run(&["--color", "always"], true);
    assert!(
        coloured.contains("\x1b[32m"),
        "no colour with --color always:\n{coloured}"
    );
    // Without the escapes it is the same text.
    let mut stripped = coloured.clone();
    for sgr in ["\x1b[32m", "\x1b[33m", "\x1b[2m", "\x1b[36m", "\x1b[31m", "\x1b[0m"] {
        stripped = stripped.replace(sgr, "");
    }
    assert_eq!(stripped, plain);
    let dir = std::env::temp_dir().join(format!("mapscope-o-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("show.txt");
    let to_file = run(&["-o", file.to_str().unwrap(), "--color", "auto"], false);
    assert!(to_file.is_empty(), "-o still wrote to stdout: {to_file}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), plain);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A map value's JSON names the inner map's header, and that header, shown
/// on its own, holds what the program printed for the value.
#[test]
fn nested_map_values_lead_to_their_header() {
    for name in ["go1.22", "go1.26", "go1.27-split"] {
        let fx = mapscope_fixtures::get(name).unwrap();
        let truth = fx.truth().unwrap();
        let m = truth.map("main.Nested").unwrap();
        let exe = fx.binary_path().unwrap();
        let core = fx.core_path().unwrap();
        let (exe, core) = (exe.to_str().unwrap(), core.to_str().unwrap());
        let spec = format!("{}:{}", m.address, m.type_name);
        let run = |args: &[&str]| {
            let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
                .args(args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        };
        let doc = run(&["show", "--json", exe, core, &spec]);
        let inner_type = m.type_name.strip_prefix("map[string]").unwrap();
        let mut checked = 0;
        for (key, value) in &m.entries {
            let e = doc["entries"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["key"]["go"] == key.as_str())
                .unwrap_or_else(|| panic!("{name}: key {key} missing"));
            let header = e["value"]["map"]["header"].as_str().unwrap();
            if header == "0x0" {
                assert_eq!(value, "map[]", "{name}: a nil map prints as map[]");
                continue;
            }
            let inner = run(&["show", "--json", exe, core, &format!("{header}:{inner_type}")]);
            assert_eq!(
                inner["entries"].as_array().unwrap().len() as u64,
                e["value"]["map"]["len"].as_u64().unwrap()
            );
            // fmt prints a map's entries sorted by key, as the truth holds them.
            let mut pairs: Vec<(String, String)> = inner["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["key"]["go"].as_str().unwrap().to_string(),
                        x["value"]["go"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            pairs.sort();
            let text = format!(
                "map[{}]",
                pairs
                    .iter()
                    .map(|(k, v)| format!("{k}:{v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            );
            assert_eq!(&text, value, "{name}: {key}");
            checked += 1;
        }
        assert!(checked > 0, "{name}: no non-nil inner map");
    }
}
