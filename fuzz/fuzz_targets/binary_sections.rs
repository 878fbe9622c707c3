//! A real Go executable with patched sections and section header fields:
//! every parser the patches reach must return, never panic.
#![no_main]

use std::sync::OnceLock;

use mapscope::fuzzing::SectionsBase;

#[path = "../bases.rs"]
mod bases;

fn bases() -> &'static [SectionsBase] {
    static BASES: OnceLock<Vec<SectionsBase>> = OnceLock::new();
    BASES.get_or_init(|| bases::sections_bases().expect("fixture binaries"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let bases = bases();
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    mapscope::fuzzing::binary_sections(&bases[usize::from(which) % bases.len()], rest);
});
