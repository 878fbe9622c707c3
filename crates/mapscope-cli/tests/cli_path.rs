//! `mapscope path` as a user runs it, against the fixtures' truth: the JSON
//! contract's fields (hash value and seed as the runtime computed them,
//! variant-specific placement, verified, steps), the text, Mermaid and DOT
//! outputs, `--all`, and bad keys (exit 2, one line) and absent keys (exit 1).

use std::path::PathBuf;
use std::process::{Command, Output};

use mapscope_fixtures::{hex_u64, Fixture, MapTruth, Truth};
use serde_json::Value;

fn mapscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap()
}

fn ok_json(args: &[&str]) -> Value {
    let out = mapscope(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: bad JSON: {e}"))
}

fn files(fx: &Fixture) -> (PathBuf, PathBuf, Truth) {
    (fx.binary_path().unwrap(), fx.core_path().unwrap(), fx.truth().unwrap())
}

fn name_of(fx: &Fixture, m: &MapTruth) -> String {
    if fx.entry.stripped || m.reach != "global" {
        format!("{}:{}", m.address, m.type_name)
    } else {
        m.name.clone()
    }
}

/// The JSON contract on sample keys of a string-keyed, an int-keyed and a
/// func-valued map of every variant, given as their bytes (`--key-hex`).
#[test]
fn json_contract_on_every_variant() {
    let mut checked = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let (exe, core, truth) = files(&fx);
        let classic = truth.variant == "classic";
        for map in ["main.Strings", "main.Huge", "main.Handlers", "main.Ifaces"] {
            let m = truth.map(map).unwrap();
            let name = name_of(&fx, m);
            for h in m.hashes.iter().flatten().take(2) {
                let hexkey = if m.key_type == "string" {
                    h.string_hex.clone().unwrap_or_default()
                } else {
                    h.key_hex.clone()
                };
                let args = [
                    "path",
                    "--json",
                    exe.to_str().unwrap(),
                    core.to_str().unwrap(),
                    &name,
                    "--key-hex",
                    &hexkey,
                ];
                let j = ok_json(&args);
                let ctx = format!("{} {map} {:?}", fx.name(), h.key);
                assert_eq!(j["map"], name.as_str(), "{ctx}");
                if h.key.is_ascii() {
                    assert_eq!(j["key"]["go"], h.key.as_str(), "{ctx}");
                }
                assert_eq!(hex_u64(j["hash"]["value"].as_str().unwrap()), hex_u64(&h.hash), "{ctx}");
                assert_eq!(
                    hex_u64(j["hash"]["seed"].as_str().unwrap()),
                    m.seed.as_deref().and_then(hex_u64),
                    "{ctx}"
                );
                assert_eq!(j["verified"], true, "{ctx}: {}", j["checks"]);
                let fields: &[&str] = if classic {
                    &["bucket", "tophash"]
                } else {
                    &["h1", "h2", "table", "group", "slot"]
                };
                for f in fields {
                    assert!(!j["hash"][f].is_null(), "{ctx}: hash.{f} missing: {}", j["hash"]);
                }
                let steps = j["steps"].as_array().unwrap();
                assert!(steps.len() >= 4, "{ctx}");
                for (i, s) in steps.iter().enumerate() {
                    assert_eq!(s["level"], i as u64 + 1, "{ctx}");
                    assert!(s["what"].as_str().is_some_and(|w| !w.is_empty()), "{ctx}");
                    assert!(s["address"].as_str().unwrap().starts_with("0x"), "{ctx}");
                    assert!(s["offset"].is_u64(), "{ctx}");
                    assert!(s["read"].as_str().unwrap().starts_with("0x"), "{ctx}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 13 * 8, "{checked}");
}

fn variant_files(name: &str) -> (String, String, Truth) {
    let fx = mapscope_fixtures::get(name).unwrap();
    let (exe, core, truth) = files(&fx);
    (
        exe.to_str().unwrap().to_string(),
        core.to_str().unwrap().to_string(),
        truth,
    )
}

/// A key typed as a Go literal, the func value behind it followed to its
/// symbol (as the program's FuncForPC named it), in each output format.
#[test]
fn literal_keys_and_every_format() {
    for variant in ["go1.22", "go1.26", "go1.27-split"] {
        let (exe, core, truth) = variant_files(variant);
        let want = truth
            .map("main.Handlers")
            .unwrap()
            .funcs
            .iter()
            .flatten()
            .find(|f| f.key == "double")
            .unwrap()
            .clone();
        for key in ["double", "\"double\"", "`double`", "\"\\x64ouble\""] {
            let j = ok_json(&["path", "--json", &exe, &core, "main.Handlers", key]);
            assert_eq!(j["verified"], true, "{variant} {key}");
            assert_eq!(j["value"]["func"]["name"], want.name.as_str(), "{variant}");
            assert_eq!(j["value"]["func"]["line"], want.line, "{variant}");
            let steps = j["steps"].as_array().unwrap();
            let code = steps.iter().find(|s| s["structure"] == "code").unwrap();
            assert_eq!(
                hex_u64(code["address"].as_str().unwrap()),
                hex_u64(&want.pc),
                "{variant}"
            );
        }
        for (map, key) in [
            ("main.Int8s", "-1"),
            ("main.Runes", "'世'"),
            ("main.Uint64s", "18446744073709551615"),
            ("main.Float64s", "0"),
            ("main.Float64s", "1e21"),
            ("main.Float32s", "+Inf"),
            ("main.Bools", "true"),
            ("main.Ifaces", "2.5"),
            ("main.Ifaces", "1"),
            ("main.Ifaces", "nil"),
            ("main.PtrKeys", "nil"),
            ("main.Complex64s", "(1-2i)"),
            ("main.Strings", r#""quote\"and\nnewline""#),
        ] {
            let j = ok_json(&["path", "--json", &exe, &core, map, key]);
            assert_eq!(j["verified"], true, "{variant} {map} {key}: {}", j["checks"]);
        }
        // Keys that clap would take for flags follow `--`.
        let j = ok_json(&["path", "--json", &exe, &core, "--", "main.Int8s", "-0x80"]);
        assert_eq!(j["verified"], true, "{variant} -0x80");
        assert_eq!(j["key"]["go"], "-128");
        let text = mapscope(&["path", &exe, &core, "main.Huge", "77777"]);
        assert!(text.status.success());
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(text.contains("verified: true"), "{text}");
        assert!(
            text.contains(if truth.variant == "classic" { "tophash" } else { "h2" }),
            "{text}"
        );
        assert!(text.contains("cache lines touched"), "{text}");
        let mm = mapscope(&["path", "--format", "mermaid", &exe, &core, "main.Handlers", "square"]);
        assert!(mm.status.success());
        let mm = String::from_utf8(mm.stdout).unwrap();
        assert!(
            mm.starts_with("flowchart TD\n") && mm.contains("-->") && mm.contains("verified: true"),
            "{mm}"
        );
        let dot = mapscope(&["path", "--format", "dot", &exe, &core, "main.Handlers", "square"]);
        assert!(dot.status.success());
        let dot = String::from_utf8(dot.stdout).unwrap();
        assert!(
            dot.starts_with("digraph path {") && dot.trim_end().ends_with('}') && dot.contains("->"),
            "{dot}"
        );
    }
}

/// Bad keys are one-line errors with exit code 2; a key that fits but is
/// absent exits 1 (after printing where it would be).
#[test]
fn bad_and_absent_keys() {
    let (exe, core, _) = variant_files("go1.26");
    for (map, key) in [
        ("main.Int8s", "300"),
        ("main.Ints", "abc"),
        ("main.Uint8s", "-1"),
        ("main.Bools", "yes"),
        ("main.Structs", "{1 2 3}"),
        ("main.Strings", "\"unterminated"),
        ("main.Runes", "'ab'"),
        ("main.Float32s", "1e39"),
    ] {
        let out = mapscope(&["path", &exe, &core, map, key]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{map} {key}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{map} {key}: {err}");
        assert!(err.contains("does not fit"), "{map} {key}: {err}");
    }
    for hex in ["abc", "zz", "0102"] {
        let out = mapscope(&["path", &exe, &core, "main.Ints", "--key-hex", hex]);
        assert_eq!(out.status.code(), Some(2), "{hex}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end().lines().count(), 1);
    }
    let out = mapscope(&["path", &exe, &core, "main.Huge", "100003"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not in the map"));
    let out = mapscope(&["path", &exe, &core, "main.NoSuchMap", "1"]);
    assert_eq!(out.status.code(), Some(1));
    // A NaN key: hashed randomly by the runtime, so never found by lookup.
    let out = mapscope(&["path", "--json", &exe, &core, "main.Float64s", "NaN"]);
    assert_eq!(out.status.code(), Some(1));
    let j: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(j["hash"]["value"].is_null());
    assert!(j["hash"]["unavailable"].as_str().unwrap().contains("NaN"));
    assert_eq!(j["verified"], false);
}

/// `--all` finds every entry in place; NaN keys are counted unverifiable.
#[test]
fn all_entries_in_place() {
    for variant in ["go1.22", "go1.26", "go1.27-stripped"] {
        let fx = mapscope_fixtures::get(variant).unwrap();
        let (exe, core, truth) = files(&fx);
        for (map, nan) in [
            ("main.Float64s", 2),
            ("main.MidGrowth", 0),
            ("main.Deleted", 0),
            ("main.Ifaces", 0),
        ] {
            let m = truth.map(map).unwrap();
            let name = name_of(&fx, m);
            let j = ok_json(&[
                "path",
                "--json",
                "--all",
                exe.to_str().unwrap(),
                core.to_str().unwrap(),
                &name,
            ]);
            assert_eq!(j["misplaced"], 0, "{variant} {map}");
            assert_eq!(j["unverifiable"], nan, "{variant} {map}");
            assert_eq!(j["entries"], m.len as u64, "{variant} {map}");
            assert_eq!(j["verified_count"], m.len as u64 - nan, "{variant} {map}");
            assert_eq!(j["verified"], true, "{variant} {map}");
        }
    }
}
