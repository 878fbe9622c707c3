//! `mapscope::path` against what the fixture programs computed about their
//! own maps: for every variant (stripped ones included, maps named by
//! address and type), every run (`noaes` exercises the fallback hash), the
//! seed read from the header equals the program's, the hash of every sample
//! key equals the one the map type's own `Hasher` returned, the path of that
//! key is `verified`, and checking every entry of every map finds no
//! misplacement.

use std::sync::Arc;

use mapscope::binary::{GoBinary, Kind};
use mapscope::hash::HashOutcome;
use mapscope::maps::resolve::resolve;
use mapscope::memory::{CoreFile, Memory};
use mapscope::path::{find_globals, globals_from_code, KeySpec, ParamsSource, PathMap};
use mapscope_fixtures::{hex_u64, MapTruth};

/// Maps whose entries include keys that hash randomly: their count of
/// "unverifiable" entries (NaN keys) is expected, never "misplaced".
const NAN_KEYS: &[(&str, u64)] = &[("main.Float32s", 2), ("main.Float64s", 2), ("main.Complex128", 1)];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// How a user names the map: its global name when the binary has DWARF,
/// else `0xADDR:map[K]V`.
fn expr(stripped: bool, m: &MapTruth) -> String {
    if !stripped && m.reach == "global" {
        m.name.clone()
    } else {
        format!("{}:{}", m.address, m.type_name)
    }
}

#[derive(Default, Debug)]
struct Tally {
    runs: usize,
    maps: usize,
    keys: usize,
    entries_checked: u64,
    unverifiable: u64,
}

fn check_run(
    fx: &mapscope_fixtures::Fixture,
    bin: &GoBinary,
    run: &mapscope_fixtures::Run,
    t: &mut Tally,
    failures: &mut Vec<String>,
) {
    let truth = run.truth().unwrap();
    let core = run.core_path("kernel").unwrap().unwrap();
    let mem: Arc<dyn Memory> = Arc::new(CoreFile::open_with_executable(&core, fx.binary_path().unwrap()).unwrap());
    t.runs += 1;
    let tag = format!("{} {}", fx.name(), run.entry.name);
    for m in &truth.maps {
        if m.address_u64() == Some(0) {
            continue;
        }
        let e = expr(fx.entry.stripped, m);
        let named = match resolve(bin, &*mem, &e) {
            Ok(n) => n,
            Err(err) => {
                failures.push(format!("{tag} {e}: resolve: {err}"));
                continue;
            }
        };
        let pm = match PathMap::open(bin, mem.clone(), named) {
            Ok(p) => p,
            Err(err) => {
                failures.push(format!("{tag} {e}: open: {err}"));
                continue;
            }
        };
        t.maps += 1;
        if let Err(err) = &pm.hasher {
            failures.push(format!("{tag} {e}: no hasher: {err}"));
            continue;
        }
        if Some(pm.seed()) != m.seed.as_deref().and_then(hex_u64) {
            failures.push(format!("{tag} {e}: seed {:#x}, truth {:?}", pm.seed(), m.seed));
        }
        for h in m.hashes.iter().flatten() {
            t.keys += 1;
            let key = unhex(&h.key_hex);
            let want = hex_u64(&h.hash).unwrap();
            match pm.hash_key(&key, &*mem) {
                Ok(HashOutcome::Hash(got)) if got == want => {}
                got => failures.push(format!("{tag} {e} key {:?}: hash {got:?}, runtime {want:#x}", h.key)),
            }
            // A string key is given by its bytes (Go omits an empty
            // string_hex); any other by its memory image.
            let spec = if pm.key_type.kind == Kind::String {
                KeySpec::Hex(h.string_hex.clone().unwrap_or_default())
            } else {
                KeySpec::Hex(h.key_hex.clone())
            };
            let key = mapscope::path::parse_key(bin, &pm.key_type, &spec).unwrap();
            match pm.trace(&key) {
                Ok(p) if p.verified && p.found.is_some_and(|f| f.by_hash) => {}
                Ok(p) => failures.push(format!(
                    "{tag} {e} key {:?}: not verified: {:?} {:?}",
                    h.key, p.checks, p.notes
                )),
                Err(err) => failures.push(format!("{tag} {e} key {:?}: {err}", h.key)),
            }
        }
        let r = pm.verify_all(5);
        t.entries_checked += r.entries;
        t.unverifiable += r.unverifiable;
        let nan = NAN_KEYS.iter().find(|(n, _)| *n == m.name).map_or(0, |(_, c)| *c);
        if r.misplaced != 0
            || r.unhashable != 0
            || r.walk_error.is_some()
            || r.entries != r.header_count
            || r.unverifiable != nan
            || r.verified + r.unverifiable != r.entries
        {
            failures.push(format!(
                "{tag} {e}: --all: {} entries (header {}), {} verified, {} misplaced {:?}, {} unverifiable (want {nan}), {} unhashable {:?}, walk {:?}",
                r.entries, r.header_count, r.verified, r.misplaced, r.misplacements, r.unverifiable, r.unhashable,
                r.unhashable_reason, r.walk_error
            ));
        }
    }
}

#[test]
fn every_sample_key_hashes_as_the_runtime_did_and_every_entry_is_in_place() {
    let mut t = Tally::default();
    let mut failures = Vec::new();
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        for run in fx.runs() {
            // The bench run's 1M-entry map is checked by its own test.
            if run.entry.name == "bench" {
                continue;
            }
            check_run(&fx, &bin, &run, &mut t, &mut failures);
        }
    }
    eprintln!("{t:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(t.runs >= 15 && t.maps > 500 && t.keys > 1500, "{t:?}");
}

#[test]
fn the_million_entry_bench_map_verifies() {
    let mut t = Tally::default();
    let mut failures = Vec::new();
    for fx in mapscope_fixtures::all().unwrap() {
        let Ok(run) = fx.run("bench") else { continue };
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        check_run(&fx, &bin, &run, &mut t, &mut failures);
    }
    eprintln!("{t:?}");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(t.runs >= 2 && t.entries_checked >= 2_000_000, "{t:?}");
}

/// On binaries with DWARF, the globals found from the runtime's code are
/// the ones DWARF names: the stripped-binary path is checked against DWARF.
#[test]
fn hash_globals_from_code_match_dwarf() {
    let mut checked = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        let found = find_globals(&bin).unwrap();
        let code = globals_from_code(&bin).unwrap();
        if fx.entry.stripped {
            assert_eq!(found.source, ParamsSource::Code, "{}", fx.name());
            continue;
        }
        assert_eq!(found.source, ParamsSource::Symbols, "{}", fx.name());
        // The symbol table's addresses are the ones DWARF names.
        let dwarf = |name: &str| bin.global(name).unwrap().map(|g| g.addr);
        let (flag, sched, key) = if bin.go_version().is_some_and(|v| v.minor >= 27) {
            (
                "internal/runtime/maps.UseAeshash",
                "internal/runtime/maps.aeskeysched",
                "internal/runtime/maps.hashkey",
            )
        } else {
            ("runtime.useAeshash", "runtime.aeskeysched", "runtime.hashkey")
        };
        assert_eq!(dwarf(flag), Some(found.use_aeshash), "{} DWARF {flag}", fx.name());
        assert_eq!(dwarf(sched), Some(found.aeskeysched), "{} DWARF {sched}", fx.name());
        assert_eq!(dwarf(key), found.hashkey, "{} DWARF {key}", fx.name());
        assert_eq!(code.use_aeshash, found.use_aeshash, "{} useAeshash", fx.name());
        assert_eq!(code.aeskeysched, found.aeskeysched, "{} aeskeysched", fx.name());
        assert_eq!(code.hashkey, found.hashkey, "{} hashkey", fx.name());
        checked += 1;
    }
    assert!(checked >= 10);
}
