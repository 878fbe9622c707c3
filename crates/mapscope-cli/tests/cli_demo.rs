//! `mapscope demo`, the README's first command, against what the bundled
//! fixture program said about its own `main.Handlers`.

use std::process::Command;

use serde_json::Value;

#[test]
fn demo_follows_every_handler_to_the_function_the_program_named() {
    for name in ["go1.22", "go1.26", "go1.27-split"] {
        let out = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args(["demo", "--json", "--fixture", name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let demo: Value = serde_json::from_slice(&out.stdout).unwrap();
        let truth = mapscope_fixtures::get(name).unwrap().truth().unwrap();
        let m = truth.maps.iter().find(|m| m.name == "main.Handlers").unwrap();
        assert_eq!(demo["type"].as_str(), Some(m.type_name.as_str()), "{name}");
        assert_eq!(demo["address"].as_str(), Some(m.address.as_str()), "{name}");
        let slots = demo["slots"].as_array().unwrap();
        assert_eq!(slots.len(), m.len, "{name}");
        for f in m.funcs.as_ref().unwrap() {
            let s = slots
                .iter()
                .find(|s| s["key"].as_str() == Some(f.key.as_str()))
                .unwrap_or_else(|| panic!("{name}: no slot for {:?}", f.key));
            assert_eq!(s["funcval"].as_str(), Some(f.funcval.as_str()), "{name} {}", f.key);
            assert_eq!(s["code"].as_str(), Some(f.pc.as_str()), "{name} {}", f.key);
            if !f.name.is_empty() {
                assert_eq!(s["function"].as_str(), Some(f.name.as_str()), "{name} {}", f.key);
                assert_eq!(s["line"].as_u64(), Some(f.line as u64), "{name} {}", f.key);
            }
        }
        let text = Command::new(env!("CARGO_BIN_EXE_mapscope"))
            .args(["demo", "--fixture", name])
            .output()
            .unwrap();
        let text = String::from_utf8(text.stdout).unwrap();
        assert!(!text.contains('…'), "{name}: a placeholder in\n{text}");
    }
}
