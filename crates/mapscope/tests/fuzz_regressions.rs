//! Every input the fuzzers ever kept (`fuzz/regressions/<target>/`), replayed
//! through the same harness bodies, plus seeds cut from real fixtures: none
//! may panic or hang.

use std::path::Path;

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
        + replay("maps_walk", mapscope::fuzzing::maps_walk);
    eprintln!("replayed {n} kept inputs");
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
