//! Any bytes as an ELF core: opening and reading must return, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapscope::fuzzing::core_parse(data));
