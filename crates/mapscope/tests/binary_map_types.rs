//! `GoBinary::map_types` lists every map type the binary has, named ones
//! included, on every version: checked against the compiler's DWARF (each
//! DWARF map type names its runtime descriptor) on the corpus builds, and
//! against what a Go program with named map types prints about its own types
//! (`%T`) when a toolchain is installed. Go 1.27 keeps named types outside
//! the typelinks part of the type region, where they once went missing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use mapscope::binary::{GoBinary, Kind};

/// Runtime descriptor addresses of every map type DWARF describes.
fn dwarf_map_types(bin: &GoBinary) -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for name in bin.dwarf_type_names().expect("DWARF type names") {
        let Ok(Some(t)) = bin.dwarf_type_by_name(&name) else {
            continue;
        };
        if t.kind != Kind::Map {
            continue;
        }
        if let Some(a) = t.runtime_addr {
            out.push((name, a));
        }
    }
    out
}

fn listed(bin: &GoBinary) -> HashSet<u64> {
    bin.map_types()
        .expect("map types")
        .iter()
        .filter_map(|t| t.runtime_addr)
        .collect()
}

fn assert_all_listed(ctx: &str, bin: &GoBinary) -> usize {
    let want = dwarf_map_types(bin);
    assert!(!want.is_empty(), "{ctx}: DWARF lists no map type");
    let have = listed(bin);
    let missing: Vec<&(String, u64)> = want.iter().filter(|(_, a)| !have.contains(a)).collect();
    assert!(
        missing.is_empty(),
        "{ctx}: {} of {} DWARF map types not listed: {missing:?}",
        missing.len(),
        want.len()
    );
    want.len()
}

#[test]
fn corpus_builds_list_every_dwarf_map_type() {
    let fixtures = match mapscope_fixtures::all() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("skipping: fixture corpus unavailable: {e}");
            return;
        }
    };
    let mut checked = 0;
    for fx in fixtures.iter().filter(|f| !f.entry.stripped) {
        let bin = GoBinary::open(fx.binary_path().expect("binary")).expect("open");
        let n = assert_all_listed(fx.name(), &bin);
        eprintln!("{}: {n} DWARF map types listed", fx.name());
        checked += 1;
    }
    assert!(checked > 0 || fixtures.is_empty());
}

const NAMED_PROGRAM: &str = r#"package main

import (
	"fmt"
	"net/textproto"
	"net/url"
	"os"
)

type Registry map[string]func() int

type byID map[int64]*Registry

type holder struct {
	r  Registry
	ids byID
}

var sink []any

func main() {
	r := Registry{"one": func() int { return 1 }}
	h := holder{r: r, ids: byID{1: &r}}
	v := url.Values{"q": {"x"}}
	m := textproto.MIMEHeader{"A": {"b"}}
	sink = append(sink, h, v, m)
	for _, x := range []any{h.r, h.ids, v, m} {
		fmt.Fprintf(os.Stdout, "%T\n", x)
	}
}
"#;

/// Toolchains 1.24 and later where fixtures/toolchains.sh puts them.
fn toolchains() -> Vec<PathBuf> {
    let cache = std::env::var_os("MAPSCOPE_GO_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/mapscope/go")));
    let Some(Ok(rd)) = cache.map(std::fs::read_dir) else {
        return Vec::new();
    };
    let mut v: Vec<(u32, PathBuf)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let minor: u32 = name.strip_prefix("1.")?.split('.').next()?.parse().ok()?;
            let go = e.path().join("bin/go");
            (minor >= 24 && go.exists()).then_some((minor, go))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, g)| g).collect()
}

fn build(go: &Path, dir: &Path, out: &Path, ldflags: &str) {
    let o = Command::new(go)
        .args(["build", "-trimpath", "-ldflags", ldflags, "-o"])
        .arg(out)
        .arg(".")
        .current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .env("CGO_ENABLED", "0")
        .output()
        .expect("run go build");
    assert!(
        o.status.success(),
        "{}: {}",
        go.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn named_map_types_are_listed_with_and_without_dwarf() {
    let gos = toolchains();
    if gos.is_empty() {
        // .ci/run installs the toolchains and sets this: there the test must run.
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
            "MAPSCOPE_REQUIRE_GO is set but no Go toolchain was found (fixtures/toolchains.sh)"
        );
        eprintln!("skipping: no Go ≥1.24 toolchain installed (run fixtures/toolchains.sh)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("mapscope-named-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    std::fs::write(tmp.join("main.go"), NAMED_PROGRAM).expect("write program");
    std::fs::write(tmp.join("go.mod"), "module namedmaps\n\ngo 1.24\n").expect("write go.mod");
    for go in gos {
        let ctx = go.display().to_string();
        let (full, stripped) = (tmp.join("full"), tmp.join("stripped"));
        build(&go, &tmp, &full, "");
        build(&go, &tmp, &stripped, "-s -w");
        let o = Command::new(&full).output().expect("run program");
        let names: Vec<String> = String::from_utf8_lossy(&o.stdout).lines().map(str::to_string).collect();
        assert_eq!(names.len(), 4, "{ctx}: the program printed {names:?}");

        let bin = GoBinary::open(&full).expect("open");
        assert_all_listed(&ctx, &bin);
        let sbin = GoBinary::open(&stripped).expect("open stripped");
        assert!(!sbin.has_dwarf(), "{ctx}: -s -w left DWARF");
        for b in [&bin, &sbin] {
            let types: Vec<String> = b.map_types().expect("map types").into_iter().map(|t| t.name).collect();
            for n in &names {
                assert!(types.contains(n), "{ctx}: {n} not among {} map types", types.len());
                let t = b.runtime_type_by_name(n).expect("by name").expect("named type found");
                assert_eq!(t.kind, Kind::Map, "{ctx}: {n}");
            }
        }
        // The stripped build has the same map types, by name, as DWARF lists.
        let full_names: HashSet<String> = bin
            .map_types()
            .expect("map types")
            .into_iter()
            .map(|t| t.name)
            .collect();
        let stripped_names: HashSet<String> = sbin
            .map_types()
            .expect("map types")
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(full_names, stripped_names, "{ctx}: stripped and full builds differ");
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
