//! `mapscope info` and `mapscope layout` as a user runs them, against what
//! each fixture program said about itself.

use std::collections::BTreeMap;
use std::process::{Command, Output};

use serde_json::Value;

fn mapscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .expect("run mapscope")
}

fn json(args: &[&str]) -> Value {
    let out = mapscope(args);
    assert!(
        out.status.success(),
        "mapscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("mapscope {args:?}: bad JSON: {e}"))
}

#[test]
fn info_reports_each_fixtures_version_variant_and_map_types() {
    for fx in mapscope_fixtures::all().unwrap() {
        let truth = fx.truth().unwrap();
        let exe = fx.binary_path().unwrap();
        let info = json(&["info", "--json", exe.to_str().unwrap()]);
        assert_eq!(
            info["go_version"].as_str(),
            Some(fx.entry.go_version.as_str()),
            "{}",
            fx.name()
        );
        assert_eq!(info["variant"].as_str(), Some(truth.variant.as_str()), "{}", fx.name());
        // What the program said it ran on (arm64 variants ran under qemu-user).
        assert_eq!(info["goarch"], truth.goarch.as_str(), "{}", fx.name());
        assert_eq!(info["goarch"], fx.goarch(), "{}", fx.name());
        assert_eq!(info["dwarf"].as_bool(), Some(!fx.entry.stripped), "{}", fx.name());
        let types: Vec<&str> = info["map_types"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for m in &truth.maps {
            assert!(
                types.contains(&m.type_name.as_str()),
                "{}: info lacks {}",
                fx.name(),
                m.type_name
            );
        }
        assert!(info["functions"].as_u64().unwrap() > 1000);
        if fx.entry.goexperiment.is_empty() {
            assert_eq!(info["experiments"].as_array().map(Vec::len), Some(0), "{}", fx.name());
        } else {
            assert!(info["experiments"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == fx.entry.goexperiment.as_str()));
        }
    }
}

fn field_offsets(t: &Value) -> BTreeMap<String, u64> {
    t["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["name"].as_str().unwrap().to_string(), f["offset"].as_u64().unwrap()))
        .collect()
}

#[test]
fn layout_matches_the_programs_own_offsets_and_descriptors() {
    for fx in mapscope_fixtures::all().unwrap() {
        let truth = fx.truth().unwrap();
        let exe = fx.binary_path().unwrap();
        let layout = json(&["layout", "--json", exe.to_str().unwrap()]);
        let types = layout["types"].as_array().unwrap();
        let by_name = |n: &str| types.iter().find(|t| t["name"] == n && t.get("map").is_none());
        let mut structs = 0;
        for (name, want) in &truth.structs {
            let Some(t) = by_name(name) else { continue };
            assert_eq!(t["size"].as_u64(), Some(want.size), "{} {name}", fx.name());
            let got = field_offsets(t);
            for (field, off) in &want.fields {
                assert_eq!(got.get(field), Some(off), "{} {name}.{field}", fx.name());
            }
            structs += 1;
        }
        assert!(structs >= 1, "{}: no runtime structure laid out", fx.name());
        let mut mirrored = 0;
        for m in &truth.maps {
            let t = types
                .iter()
                .find(|t| t["map"] == m.type_name.as_str())
                .unwrap_or_else(|| panic!("{}: no bucket/group for {}", fx.name(), m.type_name));
            let size = m
                .descriptor_u64("bucketsize")
                .or_else(|| m.descriptor_u64("GroupSize"))
                .unwrap();
            assert_eq!(t["size"].as_u64(), Some(size), "{} {}", fx.name(), m.type_name);
            // The compiler's own layout of a mirror bucket/group (direct slots only).
            if let Some(mirror) = &m.mirror_group {
                let got = field_offsets(t);
                let first = |prefix: &str| got.iter().filter(|(n, _)| n.starts_with(prefix)).map(|(_, &o)| o).min();
                for (field, want) in &mirror.fields {
                    let name = match field.as_str() {
                        "keys" => "keys[0]",
                        "elems" => "elems[0]",
                        "slots" => "slots[0]",
                        "tophash" => "topbits",
                        "ctrl" => "ctrl",
                        "overflow" => "overflow",
                        _ => continue, // slot.size, slot.elem: covered by slots[0].* offsets
                    };
                    let off = first(name).unwrap_or_else(|| panic!("{} {}: no {name}", fx.name(), m.type_name));
                    assert_eq!(off, *want, "{} {}: {field}", fx.name(), m.type_name);
                    mirrored += 1;
                }
            }
        }
        assert!(mirrored > 60, "{}: only {mirrored} mirror offsets compared", fx.name());
    }
}

#[test]
fn stripped_builds_lay_out_map_types_like_their_twins() {
    for (full, stripped) in [("go1.22", "go1.22-stripped"), ("go1.27", "go1.27-stripped")] {
        let get = |n: &str| {
            let exe = mapscope_fixtures::get(n).unwrap().binary_path().unwrap();
            let l = json(&["layout", "--json", exe.to_str().unwrap()]);
            l["types"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|t| Some((t["map"].as_str()?.to_string(), (t["size"].clone(), field_offsets(t)))))
                .collect::<BTreeMap<_, _>>()
        };
        let (a, b) = (get(full), get(stripped));
        assert!(!a.is_empty());
        assert_eq!(a, b, "{full} vs {stripped}");
    }
}

#[test]
fn layout_compare_names_what_changed_between_releases() {
    let exe = |n: &str| mapscope_fixtures::get(n).unwrap().binary_path().unwrap();
    let (a, b) = (exe("go1.22"), exe("go1.24-noswiss"));
    let cmp = json(&[
        "layout",
        "--json",
        a.to_str().unwrap(),
        "--compare",
        b.to_str().unwrap(),
    ]);
    let diffs: Vec<String> = cmp["differences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("{}: {}", d["name"].as_str().unwrap(), d["what"].as_str().unwrap()))
        .collect();
    // Both programs' own truth: hmap grew from 48 to 56 bytes with clearSeq.
    let t22 = mapscope_fixtures::get("go1.22").unwrap().truth().unwrap();
    let t24 = mapscope_fixtures::get("go1.24-noswiss").unwrap().truth().unwrap();
    let (s22, s24) = (t22.structs["runtime.hmap"].size, t24.structs["runtime.hmap"].size);
    assert!(
        diffs.iter().any(|d| d == &format!("runtime.hmap: size {s22} → {s24}")),
        "{diffs:?}"
    );
    assert!(
        diffs
            .iter()
            .any(|d| d.starts_with("runtime.hmap: field clearSeq added")),
        "{diffs:?}"
    );
}

#[test]
fn bad_input_is_a_one_line_error_with_exit_code_2() {
    let dir = std::env::temp_dir().join(format!("mapscope-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = dir.join("not-elf");
    std::fs::write(&text, b"hello, not an executable\n").unwrap();
    let exe = mapscope_fixtures::get("go1.22").unwrap().binary_path().unwrap();
    let data = std::fs::read(&exe).unwrap();
    let truncated = dir.join("truncated");
    std::fs::write(&truncated, &data[..data.len() / 3]).unwrap();
    let mut cases = vec![text, truncated, "/bin/sh".into(), dir.join("does-not-exist")];
    // A Go binary whose pclntab magic is destroyed.
    let magic = [0xf1u8, 0xff, 0xff, 0xff];
    if let Some(at) = data.windows(4).position(|w| w == magic) {
        let mut bad = data.clone();
        bad[at] = 0x12;
        let p = dir.join("bad-pclntab");
        std::fs::write(&p, bad).unwrap();
        cases.push(p);
    }
    for path in &cases {
        for cmd in ["info", "layout"] {
            let out = mapscope(&[cmd, path.to_str().unwrap()]);
            let code = out.status.code();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_ne!(code, Some(101), "{cmd} {}: panicked: {stderr}", path.display());
            if code != Some(0) {
                assert_eq!(code, Some(2), "{cmd} {}: {stderr}", path.display());
                assert_eq!(
                    stderr.trim_end().lines().count(),
                    1,
                    "{cmd} {}: {stderr}",
                    path.display()
                );
                assert!(stderr.starts_with("mapscope: "), "{stderr}");
            }
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Executables nobody here wrote: the Go toolchains' own `go`, `compile` and
/// `link`, where installed (fixtures/toolchains.sh). Skipped on machines
/// without them (CI).
#[test]
fn info_and_layout_on_the_go_toolchains_own_executables() {
    let Some(home) = std::env::var_os("HOME") else { return };
    let cache = std::path::Path::new(&home).join(".cache/mapscope/go");
    let mut seen = 0;
    for dir in std::fs::read_dir(&cache).into_iter().flatten().flatten() {
        let root = dir.path().join("lib/python3.11/site-packages/go");
        let version = dir.file_name().to_string_lossy().into_owned();
        for tool in ["bin/go", "pkg/tool/linux_amd64/compile", "pkg/tool/linux_amd64/link"] {
            let exe = root.join(tool);
            if !exe.exists() {
                continue;
            }
            let exe = exe.to_str().unwrap();
            let info = json(&["info", "--json", exe]);
            assert_eq!(
                info["go_version"].as_str(),
                Some(format!("go{version}").as_str()),
                "{exe}"
            );
            let layout = json(&["layout", "--json", exe]);
            assert_eq!(
                layout["errors"].as_array().map(Vec::len),
                Some(0),
                "{exe}: {}",
                layout["errors"]
            );
            let maps = layout["types"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t.get("map").is_some())
                .count();
            assert_eq!(maps, info["map_types"].as_array().unwrap().len(), "{exe}");
            eprintln!(
                "{exe}: {} functions, {} types, {maps} map types laid out",
                info["functions"], info["types"]
            );
            seen += 1;
        }
    }
    if seen == 0 {
        eprintln!("no Go toolchains under {}: skipped", cache.display());
    }
}

/// arm64 builds of the program lay out the runtime's structs and each map
/// type as the arm64 program itself reported them (its own truth, written
/// under qemu-user), and so does any static-only build for another
/// architecture, against its amd64 twin's truth.
#[test]
fn arm64_layouts_match_their_own_truth() {
    let arm64: Vec<_> = mapscope_fixtures::all()
        .unwrap()
        .into_iter()
        .filter(|f| f.goarch() == "arm64")
        .collect();
    assert!(
        arm64.iter().any(|f| f.entry.map_variant == "classic") && arm64.iter().any(|f| f.entry.map_variant == "swiss"),
        "the corpus needs classic and Swiss arm64 variants"
    );
    let mut cases: Vec<(String, std::path::PathBuf, mapscope_fixtures::Truth, bool)> = arm64
        .iter()
        .map(|f| {
            (
                f.name().to_string(),
                f.binary_path().unwrap(),
                f.truth().unwrap(),
                f.entry.stripped,
            )
        })
        .collect();
    for s in mapscope_fixtures::static_binaries().unwrap() {
        cases.push((
            s.entry.name.clone(),
            s.binary_path().unwrap(),
            s.twin().unwrap().truth().unwrap(),
            false,
        ));
    }
    for (name, exe, truth, stripped) in cases {
        let layout = json(&["layout", "--json", exe.to_str().unwrap()]);
        let types = layout["types"].as_array().unwrap();
        let mut structs = 0;
        for (sname, want) in &truth.structs {
            if let Some(t) = types
                .iter()
                .find(|t| t["name"] == sname.as_str() && t.get("map").is_none())
            {
                let got = field_offsets(t);
                for (field, off) in &want.fields {
                    assert_eq!(got.get(field), Some(off), "{name} {sname}.{field}");
                }
                structs += 1;
            }
        }
        // Without DWARF only the map types themselves are laid out.
        assert!(structs > 0 || stripped, "{name}: no runtime struct compared");
        for m in &truth.maps {
            let t = types
                .iter()
                .find(|t| t["map"] == m.type_name.as_str())
                .unwrap_or_else(|| panic!("{name}: {}", m.type_name));
            let size = m
                .descriptor_u64("bucketsize")
                .or_else(|| m.descriptor_u64("GroupSize"))
                .unwrap();
            assert_eq!(t["size"].as_u64(), Some(size), "{name} {}", m.type_name);
        }
    }
}

/// `layout --compare` across map runtimes: one line per map type, with the
/// sizes each program's own descriptor gave its bucket and group.
#[test]
fn layout_compare_across_runtimes_gives_the_descriptors_sizes_and_stays_short() {
    let fx = |n: &str| mapscope_fixtures::get(n).unwrap();
    let (a, b) = (fx("go1.22"), fx("go1.26"));
    let (ea, eb) = (a.binary_path().unwrap(), b.binary_path().unwrap());
    let args = ["layout", ea.to_str().unwrap(), "--compare", eb.to_str().unwrap()];
    let cmp = json(&[&args[..], &["--json"]].concat());
    let replaced: BTreeMap<String, (u64, u64)> = cmp["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["kind"] == "replaced")
        .map(|d| {
            let size = |s: &str| d[s]["size"].as_u64().unwrap();
            (d["name"].as_str().unwrap().to_string(), (size("before"), size("after")))
        })
        .collect();
    let (ta, tb) = (a.truth().unwrap(), b.truth().unwrap());
    let mut checked = 0;
    for m in &ta.maps {
        let Some(n) = tb.maps.iter().find(|n| n.type_name == m.type_name) else {
            continue;
        };
        let desc = |t: &mapscope_fixtures::MapTruth, f: &str| t.descriptor[f].as_u64().unwrap();
        let want = (desc(m, "bucketsize"), desc(n, "GroupSize"));
        assert_eq!(replaced.get(&m.type_name), Some(&want), "{}", m.type_name);
        checked += 1;
    }
    assert!(checked > 20, "only {checked} map types in both programs");
    assert_eq!(cmp["summary"]["replaced"].as_u64(), Some(replaced.len() as u64));

    let text = mapscope(&args);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(text.lines().count() <= 60, "{text}");
    assert!(
        text.contains("more differences (--limit N for more, --limit 0 for all)"),
        "{text}"
    );
}

/// Any struct type can be laid out; its size is what the program's own
/// `unsafe.Sizeof` gave as the key size, and `any` is accepted for
/// `interface {}`.
#[test]
fn layout_of_a_struct_type_and_of_map_types_spelled_with_any() {
    for name in ["go1.22", "go1.26", "go1.27-split"] {
        let fx = mapscope_fixtures::get(name).unwrap();
        let truth = fx.truth().unwrap();
        let exe = fx.binary_path().unwrap();
        let m = truth.maps.iter().find(|m| m.key_type == "main.Padded").unwrap();
        let out = json(&["layout", "--json", exe.to_str().unwrap(), "main.Padded"]);
        let t = &out["types"][0];
        assert_eq!(t["size"].as_u64(), Some(m.key_size), "{name}");
        let field_bytes: u64 = t["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["size"].as_u64().unwrap())
            .sum();
        let padding: u64 = t["holes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["size"].as_u64().unwrap())
            .sum();
        assert_eq!(field_bytes + padding, m.key_size, "{name}");
        let reorder = t["reorder"]["size"].as_u64().unwrap();
        assert!(reorder >= field_bytes && reorder < m.key_size, "{name}: {reorder}");
        assert!(
            t["in_maps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["map"] == m.type_name.as_str()),
            "{name}: {t}"
        );

        let with_any = json(&["layout", "--json", exe.to_str().unwrap(), "map[string]any"]);
        assert_eq!(with_any["types"][0]["map"], "map[string]interface {}", "{name}");

        let typo = mapscope(&["layout", exe.to_str().unwrap(), "main.Paded"]);
        assert_eq!(typo.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&typo.stderr);
        assert!(err.contains("did you mean main.Padded?"), "{name}: {err}");
    }
}

/// A core given where the executable belongs is named as a core, once.
#[test]
fn a_core_in_place_of_the_executable_is_called_a_core() {
    let fx = mapscope_fixtures::get("go1.26").unwrap();
    let core = fx.core_path().unwrap();
    let out = mapscope(&["info", core.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is a core dump, not an executable"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let missing = mapscope(&["info", "/nonexistent/mapfix"]);
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.matches("No such file").count(), 1, "{err}");
}

#[test]
fn completions_man_page_and_version() {
    for shell in ["bash", "zsh", "fish"] {
        let out = mapscope(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        for sub in ["info", "layout", "maps", "show", "path", "disasm"] {
            assert!(text.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let man = mapscope(&["man"]);
    assert!(man.status.success());
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH mapscope 1"));
    let v = String::from_utf8(mapscope(&["--version"]).stdout).unwrap();
    assert!(
        v.starts_with(&format!("mapscope {} (commit ", env!("CARGO_PKG_VERSION"))),
        "{v}"
    );
    assert!(v.contains("go1.27"), "{v}");
}
