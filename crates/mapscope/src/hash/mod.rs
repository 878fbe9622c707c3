//! Recomputing a Go map's hashes exactly as the target's runtime did, to
//! prove where a key lives.
//!
//! Pure computation: callers pass in what the target holds (its hash keys,
//! the map seed, the key's bytes, and through [`KeyResolver`] the memory a
//! key points to). Covered: amd64 and arm64 with AES (each its own
//! algorithm: `aes.rs`, `aes_arm64.rs`) and the portable fallback they share,
//! Go 1.19–1.27.
//!
//! - [`HashParams`]: the target's algorithm and version; the runtime
//!   primitives (`memhash`, `memhash32`, `memhash64`, `strhash`, `f32hash`,
//!   `f64hash`, `c64hash`, `c128hash`, `typehash`, interface hashes).
//! - [`KeyType`] + [`KeyHasher`]: the map's own `Hasher` for any key type.
//! - [`placement`]: bucket, tophash, h1/h2, directory index, probe sequence.

mod aes;
mod aes_arm64;
mod from_type;
mod generated;
mod hasher;
mod keytype;
mod params;
pub mod placement;
mod plan;
mod signature;
pub mod stored;
mod wyhash;

pub use hasher::{DynamicValue, HasherKind, KeyHasher, KeyResolver, NoIndirection};
pub use keytype::{KeyField, KeyType};
pub use params::{Arch, HashAlgorithm, HashOutcome, HashParams, HashVersion, C0, C1};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    #[error("hashing is not supported here: {0}")]
    Unsupported(&'static str),
    #[error("Go {major}.{minor} is outside the hashed versions (1.19 to 1.27)")]
    UnsupportedVersion { major: u32, minor: u32 },
    #[error("{what} must be {expected} long, got {got}")]
    BadKeyMaterial {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("invalid key type: {0}")]
    BadKeyType(&'static str),
    #[error("key needs {need} bytes, got {got}")]
    KeyTooShort { need: u64, got: u64 },
    #[error("cannot resolve {what} at {addr:#x} ({len} bytes)")]
    Unresolved { what: &'static str, addr: u64, len: u64 },
    #[error("dynamic type at {type_word:#x} is not hashable")]
    Unhashable { type_word: u64 },
    #[error("resolving key memory")]
    Resolve(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("key too complex to hash: {0}")]
    TooComplex(&'static str),
    #[error("invalid map geometry: {0}")]
    BadPlacement(&'static str),
    #[error("internal hashing error: {0}")]
    Internal(&'static str),
}
