//! Real maps in real cores with patched memory: walking, decoding typed
//! values and looking keys up must end, within bounds, never panic.
#![no_main]

use std::sync::OnceLock;

use mapscope::fuzzing::ValuesBase;

#[path = "../bases.rs"]
mod bases;

fn bases() -> &'static [ValuesBase] {
    static BASES: OnceLock<Vec<ValuesBase>> = OnceLock::new();
    BASES.get_or_init(|| bases::values_bases().expect("fixture cores"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let bases = bases();
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    mapscope::fuzzing::values_decode(&bases[usize::from(which) % bases.len()], rest);
});
