//! The Go fixture corpus (`fixtures/corpus`): compressed fixture binaries and
//! core dumps, and the ground truth each program wrote about its own maps.
//!
//! Everything is decompressed once into `target/fixture-cache` (sparse, so a
//! 1.2 GB gcore costs only what it holds) and reused by later tests; several
//! test processes may race to do it, so files appear by atomic rename.
//!
//! ```no_run
//! for fx in mapscope_fixtures::all().unwrap() {
//!     let truth = fx.truth().unwrap();
//!     let core = fx.core_path().unwrap();
//!     println!("{} {} {} maps, core {}", fx.name(), truth.go_version, truth.maps.len(), core.display());
//! }
//! ```

mod cache;
pub mod diffpair;
mod manifest;
pub mod pprof;
mod truth;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use manifest::{BigFuncEntry, FileEntry, Manifest, RunEntry, StaticEntry, VariantEntry};
pub use truth::{hex_u64, CollectedTruth, FuncTruth, HashTruth, MapTruth, OwnerTruth, ScaleTruth, StructTruth, Truth};

#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("fixture corpus manifest {path}: {source}")]
    Manifest {
        path: PathBuf,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("fixture file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("fixture file {path} decompressed to {got} bytes, manifest says {want}")]
    Size { path: PathBuf, got: u64, want: u64 },
    #[error("truth {path}: {source}")]
    Truth { path: PathBuf, source: serde_json::Error },
    #[error("no fixture variant named {0:?}")]
    NoSuchVariant(String),
    #[error("fixture {variant} has no run {run:?}")]
    NoSuchRun { variant: String, run: String },
}

pub type Result<T, E = FixtureError> = std::result::Result<T, E>;

/// The repository's `fixtures/corpus`, or `$MAPSCOPE_CORPUS`.
pub fn corpus_dir() -> PathBuf {
    std::env::var_os("MAPSCOPE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("fixtures").join("corpus"))
}

fn repo_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    // crates/mapscope-fixtures → the workspace root.
    crate_dir.ancestors().nth(2).unwrap_or(crate_dir).to_path_buf()
}

/// Where decompressed fixtures live: `$CARGO_TARGET_DIR` or the workspace's
/// `target/`, then `fixture-cache/`.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("fixture-cache")
}

/// The parsed manifest, read once per process.
pub fn manifest() -> Result<&'static Manifest> {
    static MANIFEST: OnceLock<std::result::Result<Manifest, String>> = OnceLock::new();
    let path = corpus_dir().join("manifest.json");
    MANIFEST
        .get_or_init(|| Manifest::load(&path).map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| FixtureError::Manifest {
            path,
            source: e.clone().into(),
        })
}

/// Every fixture variant, in Go version order.
pub fn all() -> Result<Vec<Fixture>> {
    Ok(manifest()?.variants.iter().map(|v| Fixture { entry: v }).collect())
}

/// Binaries for other architectures, read statically (`info`, `layout`).
pub fn static_binaries() -> Result<Vec<StaticBinary>> {
    Ok(manifest()?
        .r#static
        .iter()
        .map(|entry| StaticBinary { entry })
        .collect())
}

#[derive(Debug, Clone, Copy)]
pub struct StaticBinary {
    pub entry: &'static StaticEntry,
}

impl StaticBinary {
    pub fn binary_path(&self) -> Result<PathBuf> {
        cache::materialise(&self.entry.binary, false)
    }

    /// The amd64 build of the same program, whose truth describes the types.
    pub fn twin(&self) -> Result<Fixture> {
        get(&self.entry.twin)
    }
}

/// Generated huge functions (`fixtures/bigfunc`), for `disasm`.
pub fn big_functions() -> Result<Vec<BigFunc>> {
    Ok(manifest()?.bigfunc.iter().map(|entry| BigFunc { entry }).collect())
}

#[derive(Debug, Clone, Copy)]
pub struct BigFunc {
    pub entry: &'static BigFuncEntry,
}

impl BigFunc {
    pub fn binary_path(&self) -> Result<PathBuf> {
        cache::materialise(&self.entry.binary, false)
    }
}

/// One variant by name (`go1.22`, `go1.27-split`, …).
pub fn get(name: &str) -> Result<Fixture> {
    all()?
        .into_iter()
        .find(|f| f.entry.name == name)
        .ok_or_else(|| FixtureError::NoSuchVariant(name.to_string()))
}

/// A fixture variant: one build of `fixtures/go` and its runs.
#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    pub entry: &'static VariantEntry,
}

impl Fixture {
    pub fn name(&self) -> &'static str {
        &self.entry.name
    }

    /// `amd64` or `arm64`.
    pub fn goarch(&self) -> &'static str {
        &self.entry.goarch
    }

    /// Whether this machine can run the binary itself (its GOARCH is the
    /// host's); arm64 variants are only read from their cores elsewhere.
    pub fn runs_natively(&self) -> bool {
        let host = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        self.entry.goarch == host
    }

    /// The fixture executable, decompressed and executable.
    pub fn binary_path(&self) -> Result<PathBuf> {
        cache::materialise(&self.entry.binary, true)
    }

    pub fn run(&self, name: &str) -> Result<Run> {
        self.entry
            .runs
            .iter()
            .find(|r| r.name == name)
            .map(|entry| Run { entry })
            .ok_or_else(|| FixtureError::NoSuchRun {
                variant: self.entry.name.clone(),
                run: name.to_string(),
            })
    }

    pub fn runs(&self) -> impl Iterator<Item = Run> {
        self.entry.runs.iter().map(|entry| Run { entry })
    }

    /// The main run's kernel core.
    pub fn core_path(&self) -> Result<PathBuf> {
        self.run("main")?.core_path("kernel").and_then(|p| {
            p.ok_or_else(|| FixtureError::NoSuchRun {
                variant: self.entry.name.clone(),
                run: "main (kernel core)".into(),
            })
        })
    }

    /// The main run's gcore core, where the variant has one.
    pub fn gcore_path(&self) -> Result<Option<PathBuf>> {
        self.run("main")?.core_path("gcore")
    }

    /// What the main run's program wrote about itself.
    pub fn truth(&self) -> Result<Truth> {
        self.run("main")?.truth()
    }
}

/// One run of a fixture binary: its truth and the cores taken of it.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub entry: &'static RunEntry,
}

impl Run {
    /// `kind` is `kernel` or `gcore`; `None` when this run has no such core.
    pub fn core_path(&self, kind: &str) -> Result<Option<PathBuf>> {
        match self.entry.cores.get(kind) {
            Some(c) => cache::materialise(c, false).map(Some),
            None => Ok(None),
        }
    }

    pub fn core_kinds(&self) -> impl Iterator<Item = &'static str> {
        self.entry.cores.keys().map(String::as_str)
    }

    pub fn truth(&self) -> Result<Truth> {
        let path = corpus_dir().join(&self.entry.truth);
        let file = std::fs::File::open(&path).map_err(|source| FixtureError::Io {
            path: path.clone(),
            source,
        })?;
        let mut reader = zstd::stream::read::Decoder::new(file).map_err(|source| FixtureError::Io {
            path: path.clone(),
            source,
        })?;
        reader.window_log_max(31).map_err(|source| FixtureError::Io {
            path: path.clone(),
            source,
        })?;
        serde_json::from_reader(std::io::BufReader::new(reader)).map_err(|source| FixtureError::Truth { path, source })
    }
}
