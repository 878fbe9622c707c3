//! Any bytes as a Go executable: every lookup must return, never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mapscope::fuzzing::binary_parse(data));
