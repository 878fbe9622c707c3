//! The serde form of a value for `show --json`: `go` is the fmt text, with
//! `go_hex` holding the exact bytes when they are not UTF-8 (`go` is then
//! the lossy text), so nothing is lost on the way to JSON.

use serde::Serialize;

use super::value::{Captured, Value};

/// `{ "go": ..., "go_hex"?: ..., "address": "0x...", "func"?: {...}, "dynamic_type"?: ... }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ValueJson {
    pub go: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub go_hex: Option<String>,
    pub address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub func: Option<FuncJson>,
    /// For an interface value: its dynamic type's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_type: Option<String>,
    /// For a map value: the inner map's header (`0x0` for a nil map) and len;
    /// `address` is where the map pointer is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub map: Option<MapRefJson>,
    /// Present (true) when part of the value was truncated, elided or unreadable.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MapRefJson {
    pub header: String,
    pub len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FuncJson {
    pub name: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub pc: String,
    pub funcval: String,
    /// Words after `fn` in a heap funcval; how many are captures is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_words_after_fn: Option<Vec<String>>,
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

impl Value {
    /// The JSON form of this value.
    pub fn to_json(&self) -> ValueJson {
        let bytes = self.go_bytes();
        let (go, go_hex) = match String::from_utf8(bytes) {
            Ok(s) => (s, None),
            Err(e) => {
                let b = e.into_bytes();
                let h = b.iter().map(|x| format!("{x:02x}")).collect();
                (String::from_utf8_lossy(&b).into_owned(), Some(h))
            }
        };
        ValueJson {
            go,
            go_hex,
            address: hex(self.addr),
            func: self.func().map(|f| FuncJson {
                name: f.symbol.as_ref().map(|s| s.name.clone()),
                file: f.symbol.as_ref().and_then(|s| s.file.clone()),
                line: f.symbol.as_ref().and_then(|s| s.line),
                pc: hex(f.pc),
                funcval: hex(f.funcval),
                raw_words_after_fn: match &f.captured {
                    Captured::Static => None,
                    Captured::RawWords(w) => Some(w.iter().map(|&x| hex(x)).collect()),
                },
            }),
            dynamic_type: self.dynamic_type().map(str::to_string),
            map: self.map_header().map(|(header, len)| MapRefJson {
                header: hex(header),
                len,
            }),
            incomplete: !self.is_complete(),
        }
    }
}
