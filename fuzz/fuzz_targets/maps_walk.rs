//! Any bytes as a process image holding a map: walking it must end, within
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapscope::fuzzing::maps_walk(data));
