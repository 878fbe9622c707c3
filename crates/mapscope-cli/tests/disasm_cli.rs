//! `mapscope disasm --json` against the contract in design/cli.md.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap()
}

fn fixture(name: &str) -> String {
    let fx = mapscope_fixtures::get(name).unwrap();
    fx.binary_path().unwrap().display().to_string()
}

fn hex(v: &serde_json::Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.starts_with("0x") && u64::from_str_radix(&s[2..], 16).is_ok())
}

#[test]
fn json_has_the_contract_fields() {
    for name in ["go1.22", "go1.27-split", "arm64-go1.22", "arm64-go1.26"] {
        let exe = fixture(name);
        let out = run(&["disasm", &exe, "--json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let sites = doc["call_sites"].as_array().unwrap();
        assert!(!sites.is_empty());
        let ops = ["assign", "access", "delete", "iterate", "make", "clear"];
        for c in sites {
            assert!(c["function"].is_string() && c["callee"].is_string());
            assert!(hex(&c["address"]), "{c}");
            assert!(ops.contains(&c["op"].as_str().unwrap()), "{c}");
            assert!(c["map_type"].is_string() || c["map_type"].is_null());
            // A null type always says why; a known one never carries a reason.
            assert_eq!(c["map_type"].is_null(), c["map_type_reason"].is_string(), "{c}");
            if c["callee"].as_str().is_some_and(|s| s.ends_with("makemap_small")) {
                assert!(
                    c["map_type_reason"]
                        .as_str()
                        .is_some_and(|r| r.contains("takes no map type")),
                    "{c}"
                );
            }
        }
        assert!(sites.iter().any(|c| c["function"] == "main.fill"
            && c["op"] == "assign"
            && c["map_type"] == "map[string]func(int) int"));
        let funcs = doc["functions"].as_array().unwrap();
        assert!(funcs.iter().any(|f| f["name"] == "runtime.mapaccess1_faststr"));
        let mut fields = 0;
        for f in funcs {
            assert!(f["name"].is_string());
            for i in f["instructions"].as_array().unwrap() {
                assert!(hex(&i["address"]) && i["text"].is_string());
                if let Some(field) = i.get("field") {
                    assert!(field.is_string());
                    fields += 1;
                }
            }
        }
        assert!(fields > 100, "{name}: {fields} annotated operands");
    }
}

#[test]
fn func_filter_and_text_output() {
    let exe = fixture("go1.22");
    let out = run(&["disasm", &exe, "--func", "runtime.mapaccess1_faststr"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TEXT runtime.mapaccess1_faststr(SB)"));
    assert!(text.contains("; hmap.buckets"));
    assert!(text.contains("; hmap.hash0"));

    let out = run(&["disasm", &exe, "--func", "main.f*l", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc["functions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert!(names.contains(&"main.fill"), "{names:?}");
    assert!(doc["call_sites"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["function"].as_str().unwrap().starts_with("main.f")));

    let out = run(&["disasm", &exe, "--func", "no.such.function"]);
    assert_eq!(out.status.code(), Some(1));
}
