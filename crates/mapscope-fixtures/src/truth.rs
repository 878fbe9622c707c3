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
    /// Maps the program built, dropped and saw collected before it wrote its
    /// truth: negative truth for a census (their types belong to no live map).
    #[serde(default)]
    pub collected: Vec<CollectedTruth>,
    /// Only in the census-scale case (`fixtures/census-scale.sh`).
    #[serde(default)]
    pub scale: Option<ScaleTruth>,
    /// Every map of the census-scale case, with its owner.
    #[serde(default)]
    pub scale_maps: Vec<OwnerTruth>,
}

/// A map that existed and was garbage collected before the dump.
#[derive(Debug, Clone, Deserialize)]
pub struct CollectedTruth {
    #[serde(rename = "type")]
    pub type_name: String,
    pub len: usize,
    /// Its former header address.
    pub address: String,
}

/// What the census-scale case built (`MAPFIX_CENSUS_SCALE=N`).
#[derive(Debug, Clone, Deserialize)]
pub struct ScaleTruth {
    pub factor: u64,
    /// The small maps, all listed in `scale_maps`.
    pub maps: usize,
    /// Other heap objects (structs and their payloads) and their payload bytes.
    pub objects: u64,
    pub bytes: u64,
    /// `runtime.MemStats` after building.
    pub heap_alloc: u64,
    pub heap_objects: u64,
    /// Goroutines holding some of the maps in their frames.
    pub goroutines: usize,
}

/// The light truth of a census-scale map: where it is and who owns it.
#[derive(Debug, Clone, Deserialize)]
pub struct OwnerTruth {
    #[serde(rename = "type")]
    pub type_name: String,
    pub len: usize,
    pub address: String,
    pub root: String,
    pub owner: String,
    #[serde(default)]
    pub root_address: Option<String>,
    #[serde(default)]
    pub goid: Option<u64>,
    #[serde(default)]
    pub root_function: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StructTruth {
    pub size: u64,
    pub fields: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MapTruth {
    /// `main.Handlers`, `(*main.heapHolder).Inner`, `stack:main.stackKeeper.m`,
    /// `main.Pools[3]`; only a `global` reach names a variable to look up.
    pub name: String,
    /// `global` (the map is a global variable), `heap` or `stack`.
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
    /// Where the shortest chain of references to the map starts: `global`,
    /// `stack` or `other` (empty in truth written before the census).
    #[serde(default)]
    pub root: String,
    /// That chain as a Go expression (grammar in `fixtures/go/census.go`):
    /// `main.Handlers`, `main.Registry["eu"].items`,
    /// `main.Hook.(closure main.buildCensus.func1)+0x8`,
    /// `goroutine 6 main.localKeeper: lm`.
    #[serde(default)]
    pub owner: String,
    /// For `root == "global"`: the address of the global variable the chain
    /// starts at (stripped binaries name globals `global 0xADDR`).
    #[serde(default)]
    pub root_address: Option<String>,
    /// For `root == "stack"`: the goroutine and the function whose frame
    /// holds the root.
    #[serde(default)]
    pub goid: Option<u64>,
    #[serde(default)]
    pub root_function: Option<String>,
    /// The header itself is in that frame (a map that does not escape).
    #[serde(default)]
    pub header_on_stack: bool,
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

    /// The root global's address, for `root == "global"`.
    pub fn root_address_u64(&self) -> Option<u64> {
        hex_u64(self.root_address.as_deref()?)
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
