//! Every example in the README runs, in order, as a newcomer runs it after
//! the quick start, and exits 0 with output a terminal can take.
//!
//! The blocks are taken from README.md itself, so an example that stops
//! working, or a new one that never worked, fails here. `mapscope` is this
//! build's binary (a shell function, which comes before the README's PATH),
//! and `cargo run … -- demo` is `mapscope demo`.

use std::path::Path;
use std::process::Command;

/// The README's ```sh blocks that run mapscope (the quick start's
/// `cargo test` and the fixture generator, which needs Go, are not run).
fn example_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```sh") => current = Some(String::new()),
            (Some(b), l) if l.starts_with("```") => {
                if b.contains("mapscope ") {
                    blocks.push(std::mem::take(b));
                }
                current = None;
            }
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn readme_examples_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = example_blocks(&readme);
    assert!(blocks.len() >= 2, "README example blocks not found");
    let bin = env!("CARGO_BIN_EXE_mapscope");
    for (i, block) in blocks.iter().enumerate() {
        if block.contains("cargo test") || block.contains("generate.sh") {
            continue;
        }
        // The README's `target/fixture-cache` is where `demo` unpacks when
        // no CARGO_TARGET_DIR moves the target directory elsewhere.
        let cache = mapscope_fixtures::cache_dir();
        let script = format!(
            "set -euo pipefail\nmapscope() {{ '{bin}' \"$@\"; }}\nmapscope demo >/dev/null\n{}",
            block
                .replace("cargo run --release -- ", "mapscope ")
                .replace("cargo run -- ", "mapscope ")
                .replace("target/fixture-cache", &cache.display().to_string())
        );
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .current_dir(&root)
            .env_remove("NO_COLOR")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "README block {i} failed ({:?}):\n{block}\nstderr:\n{stderr}\nstdout (end):\n{}",
            out.status,
            stdout
                .chars()
                .rev()
                .take(3000)
                .collect::<String>()
                .chars()
                .rev()
                .collect::<String>()
        );
        assert!(!stderr.contains("error"), "README block {i} said an error:\n{stderr}");
        // Raw target bytes never reach the terminal: only the colour the
        // README asks for (`--color always`) may put an escape there.
        let stray = stdout
            .replace("\x1b[32m", "")
            .replace("\x1b[33m", "")
            .replace("\x1b[2m", "")
            .replace("\x1b[36m", "")
            .replace("\x1b[31m", "")
            .replace("\x1b[0m", "");
        assert!(
            !stray.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
            "README block {i}: control characters in the output"
        );
    }
}
