//! mapscope: the physical memory of Go maps, read from a Go program's own bytes.
//!
//! The library never prints, never exits and never panics on input: every read
//! is bounds-checked and every traversal bounded. Each module owns a typed error;
//! [`Error`] gathers them for callers that do not care which layer failed.

// Input reaches every module: nothing in the library may unwrap, index or
// panic on it (tests may).
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)
)]

pub mod binary;
pub mod census;
pub mod diff;
pub mod disasm;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod hash;
pub mod heap;
pub mod layout;
pub mod maps;
pub mod memory;
pub mod path;
pub mod profile;
pub mod roots;
pub mod values;

pub use error::{Error, Result};
