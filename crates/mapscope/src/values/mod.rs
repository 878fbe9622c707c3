//! Go values in target memory, decoded by type into a [`Value`] tree and
//! rendered exactly as `fmt.Sprint` prints them.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use mapscope::{binary::GoBinary, memory::CoreFile, maps::MapHandle, values::ValueDecoder};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let bin = GoBinary::open("prog")?;
//! let mem: Arc<dyn mapscope::memory::Memory> = Arc::new(CoreFile::open_with_executable("core", "prog")?);
//! let ty = bin.type_by_name("map[string]int")?.ok_or("no such type")?;
//! let dec = ValueDecoder::new(&bin, mem.clone());
//! let plans = dec.entry_plans(&ty)?;
//! let map = MapHandle::for_type(mem, &bin, 0xc000076000, &ty)?;
//! for e in map.entries() {
//!     let (k, v) = dec.decode_entry(&plans, &e?);
//!     println!("{}: {}", k.go_string(), v.go_string());
//! }
//! # Ok(()) }
//! ```
//!
//! A type is turned once into a [`Plan`] (kind, size, offsets, element
//! plans resolved lazily and cached by type id), so decoding many values of
//! one type costs only the reads. Every traversal is bounded by [`Limits`];
//! a part that cannot be read becomes a [`ValueKind::Unreadable`] node and
//! the rest of the value is still decoded. Nothing here panics on any input.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod decode;
mod error;
mod float;
mod fmtsort;
mod funcs;
mod iface;
mod json;
mod nested_map;
mod plan;
mod render;
mod value;

pub use decode::{EntryPlans, ValueDecoder};

/// `strconv.Quote` of `bytes`, as `%q` writes a string.
pub fn quote(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    render::write_quoted(&mut out, bytes);
    // Quoting escapes every byte that is not valid UTF-8.
    String::from_utf8_lossy(&out).into_owned()
}
pub use error::ValueError;
pub use json::{FuncJson, MapRefJson, ValueJson};
pub use plan::Plan;
pub use value::{Captured, Dynamic, Elision, FieldValue, FuncSymbol, FuncValue, Value, ValueKind};

/// Bounds on one decode. The defaults decode every fixture value in full;
/// anything cut short renders with `…` and reports `is_complete() == false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Nesting of arrays, structs, slices, maps and interfaces.
    pub max_depth: u32,
    /// Bytes kept of one string.
    pub max_string_bytes: u64,
    /// Elements kept of one array or slice, entries of one nested map.
    pub max_elems: u64,
    /// Nodes one decode call may produce in all (bounds time and memory
    /// even for a value that shares or repeats large parts).
    pub max_nodes: u64,
    /// Raw words read after a heap closure's code pointer.
    pub closure_words: u32,
    /// String bytes one decode call may keep in all (at least one string's
    /// `max_string_bytes`): without it a corrupt slice of 100,000 strings of
    /// 1 MiB each is a legal decode of 100 GB (found by `values_decode`).
    pub max_total_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_string_bytes: 1 << 20,
            max_elems: 100_000,
            max_nodes: 2_000_000,
            closure_words: 4,
            max_total_bytes: 64 << 20,
        }
    }
}

impl Value {
    /// `fmt.Sprint` of the value, as bytes (Go strings are any bytes).
    pub fn go_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        render::write_value(&mut out, self);
        out
    }

    /// Appends the rendering to `out` (reuse one buffer for many values).
    pub fn write_go(&self, out: &mut Vec<u8>) {
        render::write_value(out, self);
    }

    /// The rendering for a terminal: as `write_go`, but strings as `%q`
    /// writes them, so a hostile string cannot drive the terminal.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        render::write_value_as(out, self, render::Strings::Quoted);
    }

    /// The rendering as text, invalid UTF-8 replaced by U+FFFD.
    pub fn go_string(&self) -> String {
        String::from_utf8_lossy(&self.go_bytes()).into_owned()
    }

    /// `write_text` as a `String`: what a terminal or a diagram may show.
    pub fn text_string(&self) -> String {
        let mut out = Vec::new();
        self.write_text(&mut out);
        // Quoting escapes every invalid byte, so this is never lossy.
        String::from_utf8_lossy(&out).into_owned()
    }
}
