//! Every input the fuzzers ever kept (`fuzz/regressions/<target>/`), replayed
//! through the same harness bodies, plus seeds cut from real fixtures: none
//! may panic or hang.

use std::path::Path;
use std::sync::OnceLock;

use mapscope::fuzzing::{SectionsBase, ValuesBase};

#[path = "../../../fuzz/bases.rs"]
mod bases;

fn replay(target: &str, run: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let data = std::fs::read(entry.path()).unwrap();
        run(&data);
        n += 1;
    }
    n
}

#[test]
fn kept_fuzz_inputs_do_not_panic() {
    let n = replay("binary_parse", mapscope::fuzzing::binary_parse)
        + replay("core_parse", mapscope::fuzzing::core_parse)
        + replay("maps_walk", mapscope::fuzzing::maps_walk)
        + replay("binary_sections", binary_sections)
        + replay("values_decode", values_decode);
    eprintln!("replayed {n} kept inputs");
    // Some kept inputs are OOMs (a corrupt slice of strings decoded to
    // gigabytes): the whole process, every test in it, stays well under 1 GiB.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kb) = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    {
        assert!(kb < 1 << 20, "peak RSS {kb} kB replaying kept inputs");
    }
}

// As the structure-aware targets run them: the first byte picks the base.

fn binary_sections(data: &[u8]) {
    static BASES: OnceLock<Vec<SectionsBase>> = OnceLock::new();
    let bases = BASES.get_or_init(|| bases::sections_bases().unwrap());
    if let Some((&which, rest)) = data.split_first() {
        mapscope::fuzzing::binary_sections(&bases[usize::from(which) % bases.len()], rest);
    }
}

fn values_decode(data: &[u8]) {
    static BASES: OnceLock<Vec<ValuesBase>> = OnceLock::new();
    let bases = BASES.get_or_init(|| bases::values_bases().unwrap());
    if let Some((&which, rest)) = data.split_first() {
        mapscope::fuzzing::values_decode(&bases[usize::from(which) % bases.len()], rest);
    }
}

#[test]
fn maps_walk_survives_images_cut_from_real_cores() {
    // Memory around real map headers, with the walker's shape bytes varied:
    // real structure, wrong assumptions.
    let fx = mapscope_fixtures::get("go1.22").unwrap();
    let core = std::fs::read(fx.core_path().unwrap()).unwrap();
    for (i, chunk) in core
        .chunks(4096)
        .filter(|c| c.iter().any(|&b| b != 0))
        .take(200)
        .enumerate()
    {
        let mut data = vec![
            i as u8,
            (i * 7) as u8,
            (i * 13) as u8,
            i as u8 >> 2,
            i as u8,
            (i * 3) as u8,
            0,
            0,
        ];
        data.extend_from_slice(chunk);
        mapscope::fuzzing::maps_walk(&data);
    }
}

/// The structure-aware targets patch real fixtures: their bases must hold
/// the sections and maps the patches aim at, or the fuzzers fuzz nothing.
/// A few hundred pseudo-random patch programs also run through each.
#[test]
fn structure_aware_bases_hold_what_the_targets_patch() {
    let sections = bases::sections_bases().unwrap();
    let values = bases::values_bases().unwrap();
    assert_eq!(sections.len(), 3);
    assert_eq!(values.len(), 3);
    for s in &sections {
        assert!(s.len() >= 10, "{} sections", s.len());
    }
    for v in &values {
        // mapfix has some 60 maps; those up to 500 entries are kept.
        assert!(v.maps() >= 40, "{} maps", v.maps());
    }
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..300u64 {
        let input: Vec<u8> = (0..(8 + next() % 120)).map(|_| next() as u8).collect();
        let mut with_base = vec![i as u8];
        with_base.extend_from_slice(&input);
        binary_sections(&with_base);
        values_decode(&with_base);
    }
}
