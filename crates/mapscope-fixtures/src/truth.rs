//! The ground truth a fixture program wrote about itself (`fixtures/go/truth.go`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
pub struct Truth {
    pub go_version: String,
    pub goos: String,
    pub goarch: String,
    /// `classic`, `swiss` or `swiss-split`.
    pub variant: String,
    pub pid: u32,
    /// Layouts of mirrors of the runtime's structures, by the runtime's name
    /// (`runtime.hmap`, `internal/runtime/maps.Map`, `internal/abi.MapType`, …).
    pub structs: BTreeMap<String, StructTruth>,
    pub maps: Vec<MapTruth>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StructTruth {
    pub size: u64,
    pub fields: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MapTruth {
    /// `main.Handlers`, `(*main.heapHolder).Inner`, `stack:main.stackKeeper.m`.
    pub name: String,
    /// `global`, `heap` or `stack`.
    pub reach: String,
    /// reflect's type string, `map[string]func(int) int`.
    #[serde(rename = "type")]
    pub type_name: String,
    pub key_type: String,
    pub elem_type: String,
    pub key_size: u64,
    pub elem_size: u64,
    pub len: usize,
    /// The header address, `0x…`; `0x0` for a nil map.
    pub address: String,
    pub type_address: String,
    #[serde(default)]
    pub seed: Option<String>,
    #[serde(default)]
    pub header: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    pub tables: Option<Vec<BTreeMap<String, Value>>>,
    pub descriptor: BTreeMap<String, Value>,
    #[serde(default)]
    pub mirror_group: Option<StructTruth>,
    /// `fmt.Sprint(key)`, `fmt.Sprint(value)` for every entry.
    pub entries: Vec<(String, String)>,
    #[serde(default)]
    pub funcs: Option<Vec<FuncTruth>>,
    #[serde(default)]
    pub hashes: Option<Vec<HashTruth>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FuncTruth {
    pub key: String,
    pub funcval: String,
    pub pc: String,
    pub name: String,
    pub file: String,
    pub line: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct HashTruth {
    pub key: String,
    pub key_hex: String,
    #[serde(default)]
    pub string_hex: Option<String>,
    pub hash: String,
}

impl MapTruth {
    pub fn address_u64(&self) -> Option<u64> {
        hex_u64(&self.address)
    }

    /// A header field as a number, whether the program wrote it as a number
    /// or as a `0x…` string.
    pub fn header_u64(&self, field: &str) -> Option<u64> {
        value_u64(self.header.as_ref()?.get(field)?)
    }

    pub fn descriptor_u64(&self, field: &str) -> Option<u64> {
        value_u64(self.descriptor.get(field)?)
    }
}

fn value_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => hex_u64(s),
        Value::Bool(b) => Some(u64::from(*b)),
        _ => None,
    }
}

/// Parses `0x…` as the program printed it.
pub fn hex_u64(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

impl Truth {
    pub fn map(&self, name: &str) -> Option<&MapTruth> {
        self.maps.iter().find(|m| m.name == name)
    }
}
