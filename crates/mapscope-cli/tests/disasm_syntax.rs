//! `mapscope disasm --syntax go` against the Go toolchain's own formatter:
//! `go tool objdump` on the same corpus binary, instruction by instruction.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn mapscope(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    let fx = mapscope_fixtures::get(name).unwrap();
    fx.binary_path().unwrap().display().to_string()
}

/// The newest Go toolchain where fixtures/toolchains.sh puts them.
fn go() -> Option<PathBuf> {
    let cache = std::env::var_os("MAPSCOPE_GO_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/mapscope/go")));
    let mut v: Vec<PathBuf> = cache
        .and_then(|c| std::fs::read_dir(c).ok())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/go"))
        .filter(|g| g.exists())
        .collect();
    v.sort_by_key(|p| {
        let ver = p.parent()?.parent()?.file_name()?.to_str()?.to_owned();
        Some(
            ver.split('.')
                .map(|n| n.parse::<u32>().unwrap_or(0))
                .collect::<Vec<_>>(),
        )
    });
    let found = v.pop();
    if found.is_none() {
        // .ci/run installs the toolchains and sets this: there the test must run.
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
            "MAPSCOPE_REQUIRE_GO is set but no Go toolchain was found (fixtures/toolchains.sh)"
        );
        eprintln!("skipping: no Go toolchain installed (run fixtures/toolchains.sh)");
    }
    found
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// address → instruction text, as `go tool objdump -s '^F$'` prints it.
fn objdump(go: &Path, exe: &str, func: &str) -> Vec<(u64, String)> {
    let mut re = String::from("^");
    for c in func.chars() {
        if "().*+?[]{}|\\^$".contains(c) {
            re.push('\\');
        }
        re.push(c);
    }
    re.push('$');
    let o = Command::new(go)
        .args(["tool", "objdump", "-s", &re, exe])
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // "  file.go:12\t0x4bf4a0\t\t4c8da424a8f8ffff\t\tLEAQ 0xfffff8a8(SP), R12\t"
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("TEXT "))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').filter(|f| !f.is_empty()).collect();
            let addr = u64::from_str_radix(f.get(1)?.strip_prefix("0x")?, 16).ok()?;
            Some((addr, squash(f.get(3)?)))
        })
        .collect()
}

fn ours(exe: &str, func: &str) -> HashMap<u64, String> {
    let out = mapscope(&["disasm", exe, "--func", func, "--syntax", "go", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = doc["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == func)
        .unwrap_or_else(|| panic!("{func} not in the output"));
    f["instructions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let a = i["address"].as_str().unwrap();
            (
                u64::from_str_radix(&a[2..], 16).unwrap(),
                squash(i["text"].as_str().unwrap()),
            )
        })
        .collect()
}

/// The known differences, each for a reason outside the formatting rules.
fn excepted(theirs: &str, mine: &str) -> bool {
    // ELF names assembly functions with their ABI (`.abi0`); mapscope
    // names functions from pclntab, which does not.
    if theirs.replace(".abi0(SB)", "(SB)") == mine {
        return true;
    }
    // objdump sorts symbols sharing an address unstably and may land on a
    // zero-sized section marker there (runtime.bss, runtime.noptrbss),
    // leaving `0x…(IP)` unresolved; mapscope names the sized symbol, which
    // then starts at that address (no +offset).
    if let Some(p) = theirs.find("(IP)") {
        let start = theirs[..p].rfind(' ').map_or(0, |s| s + 1);
        let (head, tail) = (&theirs[..start], &theirs[p + 4..]);
        if let Some(name) = mine.strip_prefix(head).and_then(|m| m.strip_suffix(tail)) {
            return name.ends_with("(SB)") && !name.contains('+') && !name.contains("(IP)");
        }
    }
    false
}

#[test]
fn go_syntax_matches_go_tool_objdump() {
    let Some(go) = go() else { return };
    let cases: &[(&str, &[&str])] = &[
        (
            "go1.22",
            &[
                "main.fill",
                "main.buildCensus",
                "main.localKeeper",
                "runtime.mapaccess1_faststr",
                "runtime.mapassign_faststr",
            ],
        ),
        (
            "go1.26",
            &[
                "main.fill",
                "runtime.mapaccess1_faststr",
                "runtime.mapassign_faststr",
                "internal/runtime/maps.(*Map).getWithKeySmall",
            ],
        ),
    ];
    for (fx, funcs) in cases {
        let exe = fixture(fx);
        for func in *funcs {
            let theirs = objdump(&go, &exe, func);
            assert!(
                theirs.len() > 50,
                "{fx} {func}: objdump printed {} instructions",
                theirs.len()
            );
            let mine = ours(&exe, func);
            let mut exceptions = 0;
            for (addr, t) in &theirs {
                let m = mine
                    .get(addr)
                    .unwrap_or_else(|| panic!("{fx} {func}: no instruction at {addr:#x} ({t})"));
                if m != t {
                    assert!(
                        excepted(t, m),
                        "{fx} {func} at {addr:#x}: objdump {t:?}, mapscope {m:?}"
                    );
                    exceptions += 1;
                }
            }
            // Exceptions stay exceptions: a handful per function at most.
            assert!(exceptions <= 5, "{fx} {func}: {exceptions} excepted differences");
        }
    }
}

#[test]
fn go_syntax_on_arm64_is_a_clear_error() {
    let out = mapscope(&["disasm", &fixture("arm64-go1.22"), "--syntax", "go", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--syntax go") && err.contains("arm64"), "{err}");
}

#[test]
fn intel_stays_the_default() {
    let exe = fixture("go1.22");
    let a = mapscope(&["disasm", &exe, "--func", "main.fill", "--json"]);
    let b = mapscope(&["disasm", &exe, "--func", "main.fill", "--syntax", "intel", "--json"]);
    assert!(a.status.success() && a.stdout == b.stdout);
    let doc: serde_json::Value = serde_json::from_slice(&a.stdout).unwrap();
    let first = doc["functions"][0]["instructions"][0]["text"].as_str().unwrap();
    // Intel names the 64-bit registers in full; Go syntax never does.
    assert!(first.contains("rsp") || first.contains("r12"), "{first}");
}
