//! `fixtures/corpus/manifest.json`, written by `fixtures/manifest.py`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub generated: String,
    pub variants: Vec<VariantEntry>,
    /// Builds that are only read statically (other architectures).
    #[serde(default)]
    pub r#static: Vec<StaticEntry>,
    /// Snapshot pairs of `fixtures/difffix` (see [`crate::diffpair`]).
    #[serde(default)]
    pub diff: Vec<crate::diffpair::DiffEntry>,
    /// Generated huge functions (`fixtures/bigfunc`), built only.
    #[serde(default)]
    pub bigfunc: Vec<BigFuncEntry>,
}

/// A program from `fixtures/bigfunc/gen.go`: one huge function of nested
/// map literals. The counts are the generator's (what it wrote), checked
/// at generation against `go tool objdump` of the build.
#[derive(Debug, Deserialize)]
pub struct BigFuncEntry {
    pub name: String,
    pub go: String,
    pub go_version: String,
    pub toolchain: String,
    /// The huge function (`main.init`).
    pub function: String,
    pub map_literals: usize,
    pub map_entries: usize,
    /// Calls to the runtime's map functions in `function`: one make per
    /// literal, one assignment per entry.
    pub map_calls: usize,
    /// Instructions of `function` as `go tool objdump` listed them.
    pub objdump_instructions: usize,
    pub binary: FileEntry,
}

/// A binary built for another architecture from the same program: no run,
/// no core; `twin` names the amd64 variant whose truth describes its types.
#[derive(Debug, Deserialize)]
pub struct StaticEntry {
    pub name: String,
    pub go: String,
    pub goarch: String,
    pub go_version: String,
    pub twin: String,
    pub toolchain: String,
    pub binary: FileEntry,
}

#[derive(Debug, Deserialize)]
pub struct VariantEntry {
    /// `go1.22`, `go1.24-noswiss`, `go1.27-stripped`, …
    pub name: String,
    /// The toolchain's version number, `1.22.10`.
    pub go: String,
    pub goexperiment: String,
    pub ldflags: String,
    pub stripped: bool,
    /// `amd64`, or `arm64` (built with GOARCH=arm64, run and dumped under
    /// qemu-user); manifests from before arm64 variants omit it.
    #[serde(default = "amd64")]
    pub goarch: String,
    /// `runtime.Version()` as the program reported it.
    pub go_version: String,
    /// `classic`, `swiss` or `swiss-split`, as the program's build tags chose.
    pub map_variant: String,
    /// `go version` of the toolchain that built it.
    pub toolchain: String,
    pub binary: FileEntry,
    pub runs: Vec<RunEntry>,
}

/// A compressed file of the corpus and its decompressed size.
#[derive(Debug, Clone, Deserialize)]
pub struct FileEntry {
    pub file: String,
    pub size: u64,
    pub compressed: u64,
    /// Of the compressed file: names the cached copy, so a regenerated
    /// corpus never meets a stale cache.
    #[serde(default)]
    pub sha256: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct RunEntry {
    /// `main`, or `noaes` (run with GODEBUG=cpu.aes=off).
    pub name: String,
    pub env: BTreeMap<String, String>,
    pub truth: String,
    pub go_version: String,
    pub map_variant: String,
    pub maps: usize,
    /// `kernel` and, for some variants, `gcore`.
    pub cores: BTreeMap<String, FileEntry>,
}

fn amd64() -> String {
    "amd64".into()
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, Box<dyn std::error::Error + Send + Sync>> {
        let text = std::fs::read_to_string(path)?;
        Ok(serde_json::from_str(&text)?)
    }
}
