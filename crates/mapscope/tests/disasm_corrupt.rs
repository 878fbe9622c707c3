//! Bad input: machine code that does not decode is marked, never a panic.

use mapscope::binary::GoBinary;
use mapscope::disasm::{self, Annotator};

/// File offset of `len` bytes at `vaddr`, through the reader itself.
fn file_range(bin: &GoBinary, vaddr: u64, len: u64) -> std::ops::Range<usize> {
    let s = bin.read_at(vaddr, len).unwrap();
    let start = s.as_ptr() as usize - bin.file_bytes().as_ptr() as usize;
    start..start + s.len()
}

fn corrupted(name: &str, fill: impl Fn(&mut [u8])) -> (GoBinary, GoBinary) {
    let fx = mapscope_fixtures::get(name).unwrap();
    let bytes = std::fs::read(fx.binary_path().unwrap()).unwrap();
    let good = GoBinary::parse(bytes.clone()).unwrap();
    let mut bad = bytes;
    for f in ["runtime.mapaccess1_faststr", "runtime.mapassign_faststr", "main.fill"] {
        if let Some(f) = good.func_by_name(f) {
            let r = file_range(&good, f.entry, f.end - f.entry);
            // Leave the prologue so the function still starts as code.
            if let Some(b) = bad.get_mut(r.start + 16..r.end) {
                fill(b);
            }
        }
    }
    let bad = GoBinary::parse(bad).unwrap();
    (good, bad)
}

#[test]
fn invalid_opcodes_are_marked() {
    // 0x06 (push es) does not exist in 64-bit mode.
    for name in ["go1.22", "go1.27"] {
        let (_, bad) = corrupted(name, |b| b.fill(0x06));
        let f = bad.func_by_name("runtime.mapaccess1_faststr").unwrap();
        let af = disasm::annotate_function(&bad, &f).unwrap();
        assert!(af.invalid_instructions > 0, "{name}");
        assert!(af.instructions.iter().any(|i| i.invalid && i.text == "(bad)"));
        // Call sites still work around the garbage (main.fill lost its calls).
        let sites = disasm::call_sites(&bad).unwrap();
        assert!(sites.iter().all(|c| c.function != "main.fill"), "{name}");
    }
}

/// arm64: an all-ones word is unallocated; it is marked with its raw word.
#[test]
fn invalid_arm64_words_are_marked() {
    let (_, bad) = corrupted("arm64-go1.26", |b| b.fill(0xff));
    let f = bad.func_by_name("runtime.mapaccess1_faststr").unwrap();
    let af = disasm::annotate_function(&bad, &f).unwrap();
    assert!(af.invalid_instructions > 0);
    assert!(af
        .instructions
        .iter()
        .any(|i| i.invalid && i.text.starts_with(".word 0x")));
    let sites = disasm::call_sites(&bad).unwrap();
    assert!(sites.iter().all(|c| c.function != "main.fill"));
}

#[test]
fn random_bytes_never_panic() {
    for (seed, name) in [
        (1u64, "go1.22"),
        (7, "go1.27"),
        (99, "go1.24-noswiss"),
        (3, "arm64-go1.22"),
        (5, "arm64-go1.27"),
    ] {
        let (_, bad) = corrupted(name, |b| {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            for v in b.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *v = x as u8;
            }
        });
        let a = Annotator::new(&bad).unwrap();
        for f in disasm::runtime_map_functions(&bad) {
            let _ = a.annotate(&f).unwrap();
        }
        let main = bad.func_by_name("main.fill").unwrap();
        let af = a.annotate(&main).unwrap();
        assert_eq!(af.entry, main.entry);
        let _ = disasm::call_sites(&bad).unwrap();
    }
}

#[test]
fn functions_past_the_file_are_errors_not_panics() {
    let fx = mapscope_fixtures::get("go1.22").unwrap();
    let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
    let mut f = bin.func_by_name("main.fill").unwrap();
    f.end = u64::MAX;
    assert!(disasm::annotate_function(&bin, &f).is_err());
    f.entry = u64::MAX - 4;
    assert!(disasm::annotate_function(&bin, &f).is_err());
}
