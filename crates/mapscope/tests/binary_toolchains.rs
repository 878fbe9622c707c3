//! `GoBinary` over the Go toolchains' own executables (large, real-world Go
//! binaries), checked against what the toolchain itself reports:
//! `go version -m` for build info and `go tool nm` for function addresses.
//! Skips (with a message) when no toolchain is installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mapscope::binary::{GoBinary, MapVariant};

/// (go command, GOROOT) of every toolchain found where fixtures/toolchains.sh puts them.
fn toolchains() -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    let cache = std::env::var_os("MAPSCOPE_GO_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/mapscope/go")));
    let mut gos: Vec<PathBuf> = vec![PathBuf::from("/usr/lib/go-1.19/bin/go")];
    if let Some(Ok(rd)) = cache.map(std::fs::read_dir) {
        let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path().join("bin/go")).collect();
        v.sort();
        gos.extend(v);
    }
    for go in gos.into_iter().filter(|g| g.exists()) {
        let Ok(o) = Command::new(&go)
            .args(["env", "GOROOT"])
            .env("GOTOOLCHAIN", "local")
            .output()
        else {
            continue;
        };
        let root = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        if root.join("bin/go").exists() {
            out.push((go, root));
        }
    }
    if out.is_empty() {
        // .ci/run installs the toolchains and sets this: there the test must run.
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
            "MAPSCOPE_REQUIRE_GO is set but no Go toolchain was found (fixtures/toolchains.sh)"
        );
        eprintln!("skipping: no Go toolchain installed (run fixtures/toolchains.sh)");
    }
    out
}

fn go_cmd(go: &Path, args: &[&str]) -> String {
    let o = Command::new(go)
        .args(args)
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("run go");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn executables(root: &Path) -> Vec<PathBuf> {
    let tool = root.join("pkg/tool/linux_amd64");
    [root.join("bin/go"), tool.join("compile"), tool.join("link")]
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

#[test]
fn toolchain_executables_match_go_version_m() {
    for (go, root) in toolchains() {
        for exe in executables(&root) {
            let ctx = exe.display().to_string();
            let bin = GoBinary::open(&exe).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let bi = bin.build_info().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let m = go_cmd(&go, &["version", "-m", &ctx]);
            let mut lines = m.lines();
            let first = lines.next().unwrap_or_default();
            // "<path>: go1.22.10"
            assert_eq!(first.rsplit(": ").next(), Some(bi.go_version.as_str()), "{ctx}");
            let mut settings = Vec::new();
            for l in lines {
                let f: Vec<&str> = l.trim_start().split('\t').collect();
                match f.first().copied() {
                    Some("path") => {
                        assert_eq!(bi.path.as_deref(), f.get(1).copied(), "{ctx}: path")
                    }
                    Some("mod") => assert_eq!(
                        bi.main.as_ref().map(|m| m.path.as_str()),
                        f.get(1).copied(),
                        "{ctx}: mod"
                    ),
                    Some("build") => settings.push(f.get(1).copied().unwrap_or_default().to_string()),
                    _ => {}
                }
            }
            let ours: Vec<String> = bi
                .settings
                .iter()
                .map(|(k, v)| {
                    if v.contains([' ', '"']) {
                        format!("{k}={v:?}")
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect();
            assert_eq!(ours, settings, "{ctx}: build settings");
        }
    }
}

#[test]
fn toolchain_executables_plausible_counts_and_nm_addresses() {
    for (go, root) in toolchains() {
        for exe in executables(&root) {
            let ctx = exe.display().to_string();
            let t = Instant::now();
            let bin = GoBinary::open(&exe).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            let info = bin.info();
            let elapsed = t.elapsed();
            eprintln!(
                "{ctx}: open+info {elapsed:?}, {} funcs, {} types, {} map types",
                info.functions,
                info.types,
                info.map_types.len()
            );
            assert!(info.functions > 2000, "{ctx}: {} functions", info.functions);
            assert!(info.types > 300, "{ctx}: {} types", info.types);
            assert!(
                info.map_types
                    .iter()
                    .any(|t| t == "map[string]bool" || t == "map[string]int"),
                "{ctx}"
            );
            let v = bin.go_version().expect("version");
            let det = bin.map_variant();
            assert!(det.consistent(), "{ctx}: {det:?}");
            assert_eq!(
                det.variant == Some(MapVariant::Classic),
                !v.at_least(24),
                "{ctx}: {det:?}"
            );
            bin.moduledata().unwrap_or_else(|e| panic!("{ctx}: {e}"));
            for t in bin.map_types().expect("map types") {
                assert!(t.map_descriptor().is_some(), "{ctx}: {}", t.name);
            }
            // Every function symbol `go tool nm` lists (a sample) is where pclntab says.
            let nm = go_cmd(&go, &["tool", "nm", &ctx]);
            let mut checked = 0;
            for l in nm.lines().filter(|l| l.contains(" T ")).step_by(97) {
                let mut f = l.split_whitespace();
                let (Some(addr), Some(_), Some(name)) = (f.next(), f.next(), f.next()) else {
                    continue;
                };
                let addr = u64::from_str_radix(addr, 16).expect("nm address");
                let Some(func) = bin.func_for_pc(addr) else {
                    continue;
                };
                if func.name != name {
                    continue; // assembly aliases and linker-made symbols without pclntab entries
                }
                assert_eq!(func.entry, addr, "{ctx}: {name}");
                // Names can repeat (ABI0/ABIInternal wrappers): any one of them will do.
                assert_eq!(
                    bin.func_by_name(name).map(|f| f.name),
                    Some(name.to_string()),
                    "{ctx}: {name}"
                );
                checked += 1;
            }
            // Distribution builds (Debian's) are stripped: nm has nothing to compare.
            if nm.lines().any(|l| l.contains(" T ")) {
                assert!(checked > 20, "{ctx}: only {checked} nm symbols matched");
            }
        }
    }
}
