//! Bad input never panics: non-ELF, non-Go ELF, truncated and corrupted Go
//! binaries all give `Ok` or a typed `Err`.

use mapscope::binary::{BinaryError, GoBinary};

fn fixture_bytes() -> Option<Vec<u8>> {
    let fx = mapscope_fixtures::get("go1.24").or_else(|_| {
        mapscope_fixtures::all().and_then(|a| {
            a.into_iter()
                .next()
                .ok_or(mapscope_fixtures::FixtureError::NoSuchVariant("any".into()))
        })
    });
    match fx.and_then(|f| f.binary_path()) {
        Ok(p) => std::fs::read(p).ok(),
        Err(e) => {
            eprintln!("skipping: fixture corpus unavailable: {e}");
            None
        }
    }
}

/// Everything a caller might do right after opening.
fn exercise(bytes: Vec<u8>) {
    let Ok(bin) = GoBinary::parse(bytes) else {
        return;
    };
    let info = bin.info();
    let _ = bin.func_by_name("main.main");
    if let Ok(f) = bin.function(0) {
        let _ = bin.line_for_pc(f.entry);
    }
    for t in bin.map_types().unwrap_or_default().iter().take(20) {
        if let Some(k) = t.map_key() {
            let _ = bin.type_by_id(k.id);
        }
    }
    let _ = bin.type_by_name("runtime.hmap");
    let _ = bin.global("main.Counts");
    let _ = info;
}

#[test]
fn non_elf_and_non_go() {
    assert!(matches!(
        GoBinary::parse(b"hello world, not an ELF".to_vec()),
        Err(BinaryError::NotElf(_))
    ));
    assert!(matches!(GoBinary::parse(Vec::new()), Err(BinaryError::NotElf(_))));
    for p in ["/bin/ls", "/bin/sh", "/usr/bin/env"] {
        if let Ok(b) = std::fs::read(p) {
            match GoBinary::parse(b) {
                Err(BinaryError::NotGo(msg)) => assert!(msg.contains("pclntab"), "{p}: {msg}"),
                other => panic!("{p}: expected NotGo, got {other:?}"),
            }
        }
    }
}

#[test]
fn bad_pclntab_magic_is_named() {
    let Some(mut b) = fixture_bytes() else { return };
    let bin = GoBinary::parse(b.clone()).expect("fixture opens");
    let s = bin
        .sections()
        .iter()
        .find(|s| s.name == ".gopclntab")
        .expect("section")
        .clone();
    let off = s.file_range.expect("in file").start as usize;
    b.splice(off..off + 4, [0x78, 0x56, 0x34, 0x12]);
    let bin = GoBinary::parse(b).expect("build info still identifies it as Go");
    let err = bin.pclntab().expect_err("magic is gone");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{:#x}", s.addr)) && msg.contains("0x12345678") && msg.contains("0xfffffff1"),
        "{msg}"
    );
    // Still usable for what does not need the pclntab.
    assert!(bin.build_info().is_ok());
    assert_eq!(bin.function_count(), 0);
}

#[test]
fn truncated_everywhere() {
    let Some(b) = fixture_bytes() else { return };
    let n = b.len();
    let mut cuts: Vec<usize> = (0..64).map(|i| i * 64).collect();
    cuts.extend((1..100).map(|i| n / 100 * i));
    for cut in cuts {
        exercise(b.get(..cut).unwrap_or(&b).to_vec());
    }
}

#[test]
fn corrupted_everywhere() {
    let Some(b) = fixture_bytes() else { return };
    let bin = GoBinary::parse(b.clone()).expect("fixture opens");
    // Hit the metadata hardest: headers, pclntab, type descriptors, buildinfo.
    let mut targets: Vec<usize> = (0..256).step_by(3).collect();
    for s in bin.sections() {
        if let Some(r) = &s.file_range {
            let (start, len) = (r.start as usize, (r.end - r.start) as usize);
            for i in 0..12 {
                targets.push(start + len / 12 * i);
                targets.push(start + i * 8);
            }
        }
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for (k, &t) in targets.iter().enumerate() {
        let mut c = b.clone();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        for j in 0..8 {
            if let Some(x) = c.get_mut(t + j) {
                *x = if k % 2 == 0 { !*x } else { (seed >> (j * 8)) as u8 };
            }
        }
        exercise(c);
    }
}
