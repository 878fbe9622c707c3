//! Snapshots of the text a person reads, over the fixture corpus, so that a
//! wrong label, a lost bound or raw target bytes cannot come back silently.
//!
//! The snapshots were read line by line against the programs' truth when
//! they were taken (`cargo insta review` shows a change as a diff); the
//! facts themselves are asserted against the programs elsewhere
//! (`cli_text`, `cli_show`, `cli_path`, the corpus tests). Each snapshot is
//! one variant of each map runtime, plus a stripped build.

use std::process::Command;

/// A classic, a Swiss, a split-group, a stripped and an arm64 build.
const VARIANTS: &[&str] = &["go1.22", "go1.26", "go1.27-split", "go1.26-stripped", "arm64-go1.26"];

fn mapscope(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let mut text = String::from_utf8(out.stdout).expect("text output is UTF-8");
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        text.push_str(&format!("[exit {:?}] {err}", out.status.code()));
    }
    // Whatever the target holds, a terminal never gets raw control bytes.
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "control characters in {args:?}:\n{text}"
    );
    text
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    // Where the corpus was unpacked differs from machine to machine.
    s.add_filter(r"/\S*/fixture-cache/", "[CACHE]/");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn text_output_snapshots() {
    let _guard = settings().bind_to_scope();
    for name in VARIANTS {
        let fx = mapscope_fixtures::get(name).unwrap();
        let truth = fx.truth().unwrap();
        let exe = fx.binary_path().unwrap();
        let core = fx.core_path().unwrap();
        let (exe, core) = (exe.to_str().unwrap(), core.to_str().unwrap());
        // Maps by address and type, so that stripped builds read the same.
        let spec = |m: &str| {
            let m = truth.map(m).unwrap();
            format!("{}:{}", m.address, m.type_name)
        };
        let (handlers, deleted, any) = (spec("main.Handlers"), spec("main.Deleted"), spec("main.AnyVals"));
        let runs: Vec<(&str, Vec<&str>)> = vec![
            ("info", vec!["info", exe]),
            ("layout", vec!["layout", exe, "map[string]int"]),
            ("show-handlers", vec!["show", exe, core, &handlers]),
            ("show-anyvals", vec!["show", exe, core, &any, "--limit", "8"]),
            (
                "show-deleted-physical",
                vec!["show", exe, core, &deleted, "--physical", "--limit", "4"],
            ),
            ("path-handlers", vec!["path", exe, core, &handlers, "addx"]),
            ("path-deleted-all", vec!["path", exe, core, &deleted, "--all"]),
            ("maps-top", vec!["maps", exe, core, "--top", "12"]),
        ];
        for (what, args) in runs {
            insta::assert_snapshot!(format!("{name}-{what}"), mapscope(&args));
        }
    }
}

/// `diff` of each snapshot pair: the census, and the entries and physical
/// events of the maps the program changed.
#[test]
fn diff_text_snapshots() {
    let _guard = settings().bind_to_scope();
    for pair in mapscope_fixtures::diffpair::pairs().unwrap() {
        let exe = pair.binary_path().unwrap();
        let (a, b) = (pair.before_core().unwrap(), pair.after_core().unwrap());
        let (exe, a, b) = (exe.to_str().unwrap(), a.to_str().unwrap(), b.to_str().unwrap());
        let census = mapscope(&["diff", exe, a, b, "--limit", "12"]);
        insta::assert_snapshot!(format!("{}-census", pair.name()), census);
        let maps = mapscope(&[
            "diff",
            exe,
            a,
            b,
            "main.mixed",
            "main.grown",
            "main.dels",
            "--limit",
            "10",
        ]);
        insta::assert_snapshot!(format!("{}-maps", pair.name()), maps);
    }
}
