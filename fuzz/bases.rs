//! The real executables and cores the structure-aware targets patch, taken
//! from the fixture corpus. Shared (by `#[path]`) between the fuzz targets
//! and the test that replays `fuzz/regressions/`, so that a kept input means
//! the same thing to both.

// Each fuzz target uses one of the two bases.
#![allow(dead_code)]

use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::fuzzing::{SectionsBase, ValuesBase};
use mapscope::memory::{CoreFile, Memory};

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Classic, Swiss and split-group Swiss; DWARF (go1.22) and stripped.
const BINARIES: &[&str] = &["go1.22", "go1.26-stripped", "go1.27-split"];
const CORES: &[&str] = &["go1.22", "go1.26", "go1.27-split"];

/// Maps up to this many entries (all but the growth, tombstone and huge
/// ones, which the corpus tests walk): larger ones only make executions
/// slower.
const MAX_LEN: usize = 100;

pub fn sections_bases() -> Result<Vec<SectionsBase>, Error> {
    BINARIES
        .iter()
        .map(|name| {
            let path = mapscope_fixtures::get(name)?.binary_path()?;
            SectionsBase::new(std::fs::read(&path)?).ok_or_else(|| format!("{}: no sections", path.display()).into())
        })
        .collect()
}

pub fn values_bases() -> Result<Vec<ValuesBase>, Error> {
    CORES
        .iter()
        .map(|name| {
            let fx = mapscope_fixtures::get(name)?;
            let exe = fx.binary_path()?;
            let bin = GoBinary::open(&exe)?;
            let core: Arc<dyn Memory> = Arc::new(CoreFile::open_with_executable(fx.core_path()?, &exe)?);
            let maps: Vec<(String, u64, u64)> = fx
                .truth()?
                .maps
                .iter()
                .filter(|m| m.len <= MAX_LEN)
                .filter_map(|m| {
                    let header = m.address_u64().filter(|&a| a != 0)?;
                    Some((m.name.clone(), header, mapscope_fixtures::hex_u64(&m.type_address)?))
                })
                .collect();
            Ok(ValuesBase::new(bin, core, &maps))
        })
        .collect()
}
