//! `mapscope::values` against what the fixture programs printed about their
//! own maps: for every variant (stripped ones included: types come from the
//! runtime descriptors the program named), every run and every core, every
//! map's entries decode and render to exactly the program's own
//! `fmt.Sprint(key)`, `fmt.Sprint(value)` pairs, and func values resolve to
//! the names `runtime.FuncForPC` gave.

use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::maps::MapHandle;
use mapscope::memory::{CoreFile, Memory};
use mapscope::values::{Captured, ValueDecoder, ValueKind};
use mapscope_fixtures::hex_u64;

/// Maps whose entries cannot be matched, with the reason. None so far.
const EXCEPTIONS: &[(&str, &str)] = &[];

/// The truth was written by Go's encoding/json, which replaces every byte
/// that does not start a valid UTF-8 sequence with one U+FFFD (DecodeRune
/// consumes one byte on error). Rust's `from_utf8_lossy` can merge bytes of
/// a truncated sequence into one U+FFFD, so it is not used here.
fn go_json_lossy(mut b: &[u8]) -> String {
    let mut out = String::new();
    loop {
        match std::str::from_utf8(b) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (ok, rest) = b.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(ok).unwrap());
                out.push('\u{FFFD}');
                b = &rest[1..];
            }
        }
    }
}

#[derive(Default)]
struct Tally {
    variants: usize,
    cores: usize,
    maps: usize,
    entries: usize,
    funcs: usize,
    dwarf_maps: usize,
}

#[test]
fn every_entry_of_every_map_renders_as_the_program_printed_it() {
    let mut t = Tally::default();
    let mut failures = Vec::new();
    for fx in mapscope_fixtures::all().unwrap() {
        t.variants += 1;
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        for run in fx.runs() {
            let truth = run.truth().unwrap();
            for kind in run.core_kinds().collect::<Vec<_>>() {
                t.cores += 1;
                let core = run.core_path(kind).unwrap().unwrap();
                let mem: Arc<dyn Memory> =
                    Arc::new(CoreFile::open_with_executable(&core, fx.binary_path().unwrap()).unwrap());
                let dec = ValueDecoder::new(&bin, mem.clone());
                for m in &truth.maps {
                    let ctx = format!("{} {} {kind} {}", fx.name(), run.entry.name, m.name);
                    if EXCEPTIONS.iter().any(|(n, _)| *n == m.name) {
                        continue;
                    }
                    let ty = bin
                        .runtime_type(hex_u64(&m.type_address).unwrap())
                        .unwrap_or_else(|e| panic!("{ctx}: map type: {e}"));
                    assert_eq!(ty.name, m.type_name, "{ctx}: map type");
                    let addr = m.address_u64().unwrap();
                    if addr == 0 {
                        assert_eq!(dec.decode_map_header(0, &ty).go_string(), "map[]", "{ctx}");
                        t.maps += 1;
                        continue;
                    }
                    let plans = dec.entry_plans(&ty).unwrap();
                    let map = MapHandle::for_type(mem.clone(), &bin, addr, &ty).unwrap();
                    let mut got = Vec::new();
                    let mut funcs = Vec::new();
                    for e in map.entries() {
                        let e = e.unwrap_or_else(|e| panic!("{ctx}: {e}"));
                        let (k, v) = dec.decode_entry(&plans, &e);
                        assert!(k.is_complete() && v.is_complete(), "{ctx}: {k:?} {v:?}");
                        let ks = go_json_lossy(&k.go_bytes());
                        if let ValueKind::Func(f) = &v.kind {
                            let name = f.as_ref().and_then(|f| f.symbol.as_ref()).map(|s| s.name.clone());
                            let pc = f.as_ref().map_or(0, |f| f.pc);
                            let fv = f.as_ref().map_or(0, |f| f.funcval);
                            let line = f.as_ref().and_then(|f| f.symbol.as_ref()?.line);
                            let file = f.as_ref().and_then(|f| f.symbol.as_ref()?.file.clone());
                            if let Some(f) = f {
                                // A funcval in the executable is static: nothing captured.
                                assert_eq!(
                                    matches!(f.captured, Captured::Static),
                                    bin.read_at(f.funcval, 8).is_ok(),
                                    "{ctx}"
                                );
                            }
                            funcs.push((
                                ks.clone(),
                                name.unwrap_or_default(),
                                format!("{pc:#x}"),
                                format!("{fv:#x}"),
                                file.unwrap_or_default(),
                                line.unwrap_or(0),
                            ));
                        }
                        got.push((ks, go_json_lossy(&v.go_bytes())));
                    }
                    let mut want = m.entries.clone();
                    got.sort();
                    want.sort();
                    if got != want {
                        let missing: Vec<_> = want.iter().filter(|w| !got.contains(w)).take(5).collect();
                        let extra: Vec<_> = got.iter().filter(|g| !want.contains(g)).take(5).collect();
                        failures.push(format!("{ctx}: missing {missing:?}, unexpected {extra:?}"));
                        continue;
                    }
                    if let Some(tf) = &m.funcs {
                        let mut want: Vec<_> = tf
                            .iter()
                            .map(|f| {
                                (
                                    f.key.clone(),
                                    f.name.clone(),
                                    f.pc.clone(),
                                    f.funcval.clone(),
                                    f.file.clone(),
                                    f.line,
                                )
                            })
                            .collect();
                        want.sort();
                        funcs.sort();
                        assert_eq!(funcs, want, "{ctx}: funcs");
                        t.funcs += funcs.len();
                    }
                    // The same map typed from DWARF, where the binary has it.
                    if let Ok(Some(dty)) = bin.dwarf_type_by_name(&m.type_name) {
                        let dplans = dec.entry_plans(&dty).unwrap();
                        let mut dgot: Vec<_> = map
                            .entries()
                            .map(|e| {
                                let (k, v) = dec.decode_entry(&dplans, &e.unwrap());
                                (go_json_lossy(&k.go_bytes()), go_json_lossy(&v.go_bytes()))
                            })
                            .collect();
                        dgot.sort();
                        assert_eq!(dgot, want, "{ctx}: typed from DWARF");
                        t.dwarf_maps += 1;
                    }
                    t.maps += 1;
                    t.entries += got.len();
                }
            }
        }
    }
    assert!(
        t.dwarf_maps > 100,
        "only {} maps checked through DWARF types",
        t.dwarf_maps
    );
    eprintln!(
        "values: {} variants, {} cores, {} maps, {} entries, {} funcs matched the programs' own fmt output ({} maps also typed from DWARF)",
        t.variants, t.cores, t.maps, t.entries, t.funcs, t.dwarf_maps
    );
    assert!(
        failures.is_empty(),
        "{} maps differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        t.variants,
        mapscope_fixtures::all().unwrap().len(),
        "every variant compared"
    );
    assert!(t.maps > 500 && t.entries > 1_000_000, "too little compared");
}

/// Decode+render throughput on the 100k-entry `main.Huge` (map[int]int)
/// and, in the corpus's "bench" runs, the 1M-entry `main.Bench`
/// (map[uint64]uint32).
/// `cargo test --release -p mapscope --test values_corpus -- --ignored --nocapture`
#[test]
#[ignore = "a measurement; run in release"]
fn decode_and_render_rate() {
    for name in ["go1.22", "go1.26"] {
        let fx = mapscope_fixtures::get(name).unwrap();
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        for run in fx.runs() {
            let truth = run.truth().unwrap();
            let mem: Arc<dyn Memory> = Arc::new(
                CoreFile::open_with_executable(run.core_path("kernel").unwrap().unwrap(), fx.binary_path().unwrap())
                    .unwrap(),
            );
            let dec = ValueDecoder::new(&bin, mem.clone());
            for m in truth.maps.iter().filter(|m| {
                (m.name == "main.Huge" && run.entry.name == "main") || (m.name == "main.Bench" && m.len > 0)
            }) {
                let ty = bin.runtime_type(hex_u64(&m.type_address).unwrap()).unwrap();
                let plans = dec.entry_plans(&ty).unwrap();
                let map = MapHandle::for_type(mem.clone(), &bin, m.address_u64().unwrap(), &ty).unwrap();
                let walk_only = (0..3)
                    .map(|_| {
                        let start = std::time::Instant::now();
                        assert_eq!(map.entries().filter(Result::is_ok).count(), m.len);
                        start.elapsed().as_secs_f64()
                    })
                    .fold(f64::MAX, f64::min);
                let mut best = f64::MAX;
                for _ in 0..3 {
                    let start = std::time::Instant::now();
                    let (mut n, mut buf) = (0usize, Vec::with_capacity(64));
                    for e in map.entries() {
                        let (k, v) = dec.decode_entry(&plans, &e.unwrap());
                        buf.clear();
                        k.write_go(&mut buf);
                        v.write_go(&mut buf);
                        n += 1;
                    }
                    assert_eq!(n, m.len);
                    best = best.min(start.elapsed().as_secs_f64());
                }
                eprintln!(
                    "{name} {} {} ({}): walk+decode+render {} entries in {:.1} ms ({:.1} ms of it the walk): {:.2} M entries/s",
                    run.entry.name,
                    m.name,
                    m.type_name,
                    m.len,
                    best * 1e3,
                    walk_only * 1e3,
                    m.len as f64 / best / 1e6
                );
            }
        }
    }
}
