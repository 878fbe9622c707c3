//! The DOT and Mermaid pictures (`path --format dot|mermaid`, `show --format
//! dot`, `path --all --format dot`) against what the fixture programs said:
//! every slot the picture colours full is one of the program's entries, the
//! keys drawn are the program's keys, and Graphviz itself accepts the DOT —
//! also for keys holding NUL bytes, quotes and newlines. Graphviz checks skip
//! when `dot` is absent unless MAPSCOPE_REQUIRE_GRAPHVIZ=1 (CI).

use std::io::Write;
use std::process::{Command, Stdio};

fn mapscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = mapscope(args);
    assert!(
        out.status.success(),
        "mapscope {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Graphviz's verdict on `src`, or None when it is not installed.
fn graphviz_accepts(src: &str) -> Option<Result<(), String>> {
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) => {
            assert!(
                std::env::var("MAPSCOPE_REQUIRE_GRAPHVIZ").as_deref() != Ok("1"),
                "MAPSCOPE_REQUIRE_GRAPHVIZ=1 but graphviz's dot is not installed"
            );
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(src.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    // Graphviz warns on stderr for bad labels even when it exits 0.
    Some(
        if out.status.success() && !err.contains("Error") && !err.contains("Warning") {
            Ok(())
        } else {
            Err(err)
        },
    )
}

fn assert_valid_dot(what: &str, src: &str) {
    assert!(
        src.starts_with("digraph ") && src.trim_end().ends_with('}'),
        "{what}: {src}"
    );
    if let Some(Err(e)) = graphviz_accepts(src) {
        panic!("{what}: graphviz rejects the DOT: {e}\n{src}");
    }
}

fn html_escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[test]
fn show_dot_draws_every_entry_of_small_maps() {
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let truth = fx.truth().unwrap();
        let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
        let (exe, core) = (exe.to_str().unwrap(), core.to_str().unwrap());
        for name in ["main.Handlers", "main.Strings", "main.Ints", "main.MidGrowth"] {
            let m = truth.maps.iter().find(|m| m.name == name).unwrap();
            let dot = ok(&["show", "--format", "dot", exe, core, name]);
            assert_valid_dot(&format!("{variant} show {name}"), &dot);
            if dot.contains("more buckets/groups not drawn") {
                continue;
            }
            // Full slots are the light blue cells.
            let full = dot.matches("bgcolor=\"#90cdf4\"").count();
            assert_eq!(full, m.len, "{variant} {name}: full slots drawn vs the program's len");
            for (k, _) in &m.entries {
                if k.len() < 60 && k.chars().all(|c| !c.is_control() && c != '\u{fffd}') {
                    assert!(dot.contains(&html_escaped(k)), "{variant} {name}: key {k:?} not drawn");
                }
            }
        }
    }
}

#[test]
fn path_pictures_are_records_with_pointer_edges() {
    for variant in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let (exe, core) = (fx.binary_path().unwrap(), fx.core_path().unwrap());
        let (exe, core) = (exe.to_str().unwrap(), core.to_str().unwrap());
        // A key with a quote and a newline, and one with a NUL byte, given as hex.
        for key in [&b"quote\"and\nnewline"[..], &b"\xff\xfe\x00binary"[..]] {
            let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
            let dot = ok(&["path", "--format", "dot", "--key-hex", &hex, exe, core, "main.Strings"]);
            assert_valid_dot(&format!("{variant} path {hex}"), &dot);
            assert!(dot.contains("verified</td><td align=\"left\">true"), "{variant}: {dot}");
            // The header is one node whose field is the edge's tail.
            assert!(dot.contains(":e -> n"), "{variant}: no field-to-structure edge: {dot}");
            assert!(!dot.contains('\0'), "{variant}: raw NUL in the DOT");
            let mm = ok(&[
                "path",
                "--format",
                "mermaid",
                "--key-hex",
                &hex,
                exe,
                core,
                "main.Strings",
            ]);
            assert!(mm.starts_with("flowchart TD\n") && mm.contains("-->"), "{mm}");
            assert!(!mm.contains('\0') && mm.contains("verified: true"), "{mm}");
        }
        let all = mapscope(&["path", "--all", "--format", "dot", exe, core, "main.Deleted"]);
        assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
        let all = String::from_utf8(all.stdout).unwrap();
        assert_valid_dot(&format!("{variant} path --all"), &all);
        // 2000 entries: more containers than a picture draws, and it says so.
        assert!(all.contains("more buckets/groups not drawn"), "{all}");
    }
}
