//! Snapshot pairs of `fixtures/difffix` (the `diff` section of the
//! manifest): a gcore taken before the program changed its maps and a kernel
//! core after, with the program's own truth of both moments and of the
//! changes (entries added, removed and changed, as `fmt.Sprint` text, and
//! header fields read through mirrors of the runtime's structures).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use crate::{cache, corpus_dir, manifest, FileEntry, FixtureError, Result};

#[derive(Debug, Deserialize)]
pub struct DiffEntry {
    /// `diff-go1.22`, `diff-go1.26`, `diff-go1.27-split-stripped`.
    pub name: String,
    pub go: String,
    pub goexperiment: String,
    pub ldflags: String,
    pub stripped: bool,
    pub go_version: String,
    pub map_variant: String,
    pub toolchain: String,
    pub binary: FileEntry,
    pub before: DiffSnapshot,
    pub after: DiffSnapshot,
}

#[derive(Debug, Deserialize)]
pub struct DiffSnapshot {
    pub truth: String,
    pub core: FileEntry,
}

/// What `difffix` wrote: per map, both moments and the changes.
#[derive(Debug, Clone, Deserialize)]
pub struct DiffTruth {
    pub go_version: String,
    pub variant: String,
    pub pid: u32,
    pub maps: Vec<MapChangeTruth>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MapChangeTruth {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// The header in the after snapshot.
    pub address: String,
    pub before: MapStateTruth,
    pub after: MapStateTruth,
    /// `[key, value]` as fmt.Sprint prints them.
    pub added: Vec<[String; 2]>,
    pub removed: Vec<[String; 2]>,
    /// `[key, before, after]`.
    pub changed: Vec<[String; 3]>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MapStateTruth {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub address: String,
    pub len: usize,
    /// Classic: B, flags, noverflow, seed, buckets, oldbuckets, growing,
    /// nevacuate. Swiss: used, seed, dirLen, globalDepth, tombstones, tables
    /// (address, used, capacity, growthLeft, localDepth, index, tombstones).
    pub physical: BTreeMap<String, Value>,
    pub entries: Vec<[String; 2]>,
}

/// Every snapshot pair of the corpus.
pub fn pairs() -> Result<Vec<DiffPair>> {
    Ok(manifest()?.diff.iter().map(|entry| DiffPair { entry }).collect())
}

#[derive(Debug, Clone, Copy)]
pub struct DiffPair {
    pub entry: &'static DiffEntry,
}

fn read_truth(rel: &str) -> Result<DiffTruth> {
    let path = corpus_dir().join(rel);
    let file = std::fs::File::open(&path).map_err(|source| FixtureError::Io {
        path: path.clone(),
        source,
    })?;
    let reader = zstd::stream::read::Decoder::new(file).map_err(|source| FixtureError::Io {
        path: path.clone(),
        source,
    })?;
    serde_json::from_reader(std::io::BufReader::new(reader)).map_err(|source| FixtureError::Truth { path, source })
}

impl DiffPair {
    pub fn name(&self) -> &'static str {
        &self.entry.name
    }

    /// The `difffix` executable (also the `-watch` program of the live test).
    pub fn binary_path(&self) -> Result<PathBuf> {
        cache::materialise(&self.entry.binary, true)
    }

    /// The gcore taken before the changes.
    pub fn before_core(&self) -> Result<PathBuf> {
        cache::materialise(&self.entry.before.core, false)
    }

    /// The kernel core taken after the changes.
    pub fn after_core(&self) -> Result<PathBuf> {
        cache::materialise(&self.entry.after.core, false)
    }

    /// The maps as they were at the first snapshot (no changes listed).
    pub fn before_truth(&self) -> Result<DiffTruth> {
        read_truth(&self.entry.before.truth)
    }

    /// The changes, with both moments of each map.
    pub fn truth(&self) -> Result<DiffTruth> {
        read_truth(&self.entry.after.truth)
    }
}
