//! The hostile-core inputs of issue 14's robustness campaign, kept as
//! regressions: a corrupt string length, a redirected table pointer and
//! terminal escape sequences in a string must give bounded, escaped output;
//! a Swiss directory of 2^26 slots is judged by memory, not refused by a
//! byte cap; a table whose lengthMask disagrees with its capacity says
//! lengthMask. Addresses come from the fixture program's truth.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::maps::MapHandle;
use mapscope::memory::{CoreFile, Memory, MemoryExt};
use mapscope_fixtures::{hex_u64, Truth};

fn mapscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mapscope"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

struct Case {
    exe: String,
    core: String,
    truth: Truth,
    mem: Arc<dyn Memory>,
    bin: GoBinary,
}

fn case(name: &str) -> Case {
    let fx = mapscope_fixtures::get(name).unwrap();
    let exe = fx.binary_path().unwrap();
    let core = fx.core_path().unwrap();
    Case {
        mem: Arc::new(CoreFile::open_with_executable(&core, &exe).unwrap()),
        bin: GoBinary::open(&exe).unwrap(),
        exe: exe.display().to_string(),
        core: core.display().to_string(),
        truth: fx.truth().unwrap(),
    }
}

/// A copy of `core` with `patches` (address, bytes) written where the core
/// file holds those addresses.
fn patched_core(core: &str, patches: &[(u64, Vec<u8>)], tag: &str) -> PathBuf {
    let cf = CoreFile::open(core).unwrap();
    let mut bytes = std::fs::read(core).unwrap();
    for (addr, value) in patches {
        let len = value.len() as u64;
        let seg = cf
            .segments()
            .iter()
            .find(|s| *addr >= s.vaddr && addr + len <= s.vaddr + s.available)
            .unwrap_or_else(|| panic!("{addr:#x} is not held by the core"));
        let off = (seg.file_offset + (addr - seg.vaddr)) as usize;
        bytes[off..off + value.len()].copy_from_slice(value);
    }
    let out = std::env::temp_dir().join(format!("mapscope-{}-{tag}.core", std::process::id()));
    std::fs::write(&out, bytes).unwrap();
    out
}

/// The (key address, elem address) of every entry of a global map.
fn slots(c: &Case, map: &str) -> Vec<(u64, u64)> {
    let m = c.truth.map(map).unwrap();
    let ty = c.bin.runtime_type(hex_u64(&m.type_address).unwrap()).unwrap();
    let h = MapHandle::for_type(c.mem.clone(), &c.bin, m.address_u64().unwrap(), &ty).unwrap();
    h.entries()
        .map(|e| {
            let e = e.unwrap();
            (e.key, e.elem)
        })
        .collect()
}

/// The elem of `main.Strings` with the longest string: (elem address,
/// data pointer, length).
fn long_elem(c: &Case) -> (u64, u64, u64) {
    slots(c, "main.Strings")
        .into_iter()
        .map(|(_, elem)| (elem, c.mem.read_u64(elem).unwrap(), c.mem.read_u64(elem + 8).unwrap()))
        .max_by_key(|e| e.2)
        .unwrap()
}

/// Output a hostile core can drive stays small, whatever the format.
const BOUND: usize = 1 << 20;

#[test]
fn a_corrupt_string_length_prints_a_capped_string() {
    for name in ["go1.22", "go1.26"] {
        let c = case(name);
        let (elem, _, _) = long_elem(&c);
        // A string header is (data, len): the elem's len becomes 2^40.
        let bad = patched_core(
            &c.core,
            &[(elem + 8, (1u64 << 40).to_le_bytes().to_vec())],
            &format!("{name}-strlen"),
        );
        let bad = bad.display().to_string();
        for json in [true, false] {
            let mut args = vec!["show"];
            if json {
                args.push("--json");
            }
            args.extend([c.exe.as_str(), bad.as_str(), "main.Strings"]);
            let out = mapscope(&args);
            assert!(out.status.code().is_some(), "{name}: killed");
            assert!(
                out.stdout.len() < BOUND,
                "{name} json={json}: {} bytes",
                out.stdout.len()
            );
            assert!(
                String::from_utf8_lossy(&out.stdout).contains('…'),
                "{name} json={json}: the long string is not marked as cut: {}",
                stderr(&out)
            );
        }
        let _ = std::fs::remove_file(&bad);
    }
}

#[test]
fn terminal_escapes_in_strings_are_escaped_in_text() {
    for name in ["go1.22", "go1.26"] {
        let c = case(name);
        let (elem, _, _) = long_elem(&c);
        // ESC [ 2 J (clear screen), an OSC title and a C1 CSI: what a hostile
        // core would plant. The bytes go over main.Huge's header (heap the
        // core holds); the elem's string header is aimed at them.
        let evil = b"\x1b[2J\x1b]0;x\x07\xc2\x9b1m";
        let at = c.truth.map("main.Huge").unwrap().address_u64().unwrap();
        let mut header = at.to_le_bytes().to_vec();
        header.extend_from_slice(&(evil.len() as u64).to_le_bytes());
        let bad = patched_core(&c.core, &[(at, evil.to_vec()), (elem, header)], &format!("{name}-esc"));
        let bad = bad.display().to_string();
        let out = mapscope(&["show", &c.exe, &bad, "main.Strings"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(
            !out.stdout.iter().any(|&b| b == 0x1b || b == 0x07),
            "{name}: raw control bytes in text output"
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("[2J"), "{name}: the planted string is not shown: {text}");
        let _ = std::fs::remove_file(&bad);
    }
}

#[test]
fn a_redirected_table_pointer_gives_bounded_output() {
    // main.Strings' groups (Swiss, dirLen 0) or buckets (classic) pointer
    // aimed at main.Huge's: a different slot layout read as strings.
    for name in ["go1.22", "go1.26"] {
        let c = case(name);
        let classic = c.truth.variant == "classic";
        let (s, field) = if classic {
            ("runtime.hmap", "buckets")
        } else {
            ("internal/runtime/maps.Map", "dirPtr")
        };
        let off = c.truth.structs[s].fields[field];
        let strings = c.truth.map("main.Strings").unwrap().address_u64().unwrap();
        let huge = c.truth.map("main.Huge").unwrap().address_u64().unwrap();
        let mut target = c.mem.read_u64(huge + off).unwrap();
        if !classic {
            // Huge's directory holds table pointers; its first table's groups.
            let table = c.mem.read_u64(target).unwrap();
            target = c
                .mem
                .read_u64(table + c.truth.structs["internal/runtime/maps.table"].fields["groups"])
                .unwrap();
        }
        let bad = patched_core(
            &c.core,
            &[(strings + off, target.to_le_bytes().to_vec())],
            &format!("{name}-redirect"),
        );
        let bad = bad.display().to_string();
        for json in [true, false] {
            let mut args = vec!["show", "--force"];
            if json {
                args.push("--json");
            }
            args.extend([c.exe.as_str(), bad.as_str(), "main.Strings"]);
            let out = mapscope(&args);
            assert!(out.status.code().is_some(), "{name}: killed");
            assert!(
                out.stdout.len() < BOUND,
                "{name} json={json}: {} bytes",
                out.stdout.len()
            );
            if !json {
                assert!(!out.stdout.contains(&0x1b), "{name}: raw ESC in text output");
            } else if !out.stdout.is_empty() {
                serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
            }
        }
        let _ = std::fs::remove_file(&bad);
    }
}

#[test]
fn swiss_directory_and_table_messages_name_the_real_fault() {
    let c = case("go1.26");
    let m = c.truth.map("main.Huge").unwrap();
    let header = m.address_u64().unwrap();
    let map_s = &c.truth.structs["internal/runtime/maps.Map"].fields;
    let dir_len_at = header + map_s["dirLen"];
    let depth_at = header + map_s["globalDepth"];
    // dirLen 2^26 with globalDepth 26 is within the documented bound: what
    // stops it is the directory's memory, not a cap on bytes read.
    let bad = patched_core(
        &c.core,
        &[(dir_len_at, (1u64 << 26).to_le_bytes().to_vec()), (depth_at, vec![26])],
        "dirlen26",
    );
    let bad_s = bad.display().to_string();
    let out = mapscope(&["show", &c.exe, &bad_s, &m.name]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        !err.contains("not a power of two") && !err.contains("larger than"),
        "{err}"
    );
    let _ = std::fs::remove_file(&bad);
    // dirLen 2^27 is one, and too large: the message says so.
    let bad = patched_core(
        &c.core,
        &[(dir_len_at, (1u64 << 27).to_le_bytes().to_vec()), (depth_at, vec![27])],
        "dirlen27",
    );
    let bad_s = bad.display().to_string();
    let out = mapscope(&["show", &c.exe, &bad_s, &m.name]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("dirLen") && !err.contains("not a power of two"), "{err}");
    let _ = std::fs::remove_file(&bad);
    // A lengthMask that disagrees with a sound capacity: named as lengthMask.
    let table = c.mem.read_u64(m.header_u64("dirPtr").unwrap()).unwrap();
    let t = &c.truth.structs["internal/runtime/maps.table"].fields;
    let mask_at = table + t["groups"] + c.truth.structs["internal/runtime/maps.groupsReference"].fields["lengthMask"];
    let bad = patched_core(&c.core, &[(mask_at, 5u64.to_le_bytes().to_vec())], "lengthmask");
    let bad_s = bad.display().to_string();
    let out = mapscope(&["show", &c.exe, &bad_s, &m.name]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("lengthMask"), "{err}");
    let _ = std::fs::remove_file(&bad);
}
