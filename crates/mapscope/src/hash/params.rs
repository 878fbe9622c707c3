//! What the target process hashed with: its architecture, its Go version
//! family and its per-process keys; and the runtime's hash primitives
//! computed from them.

use super::aes::AesKeys;
use super::aes_arm64::{Arm64AesKeys, Quirks};
use super::wyhash::Wyhash;
use super::HashError;

/// `c0` and `c1` of `runtime/alg.go` (64-bit): the float-zero, NaN and
/// interface hashes multiply by `c1` after mixing in `c0`.
pub const C0: u64 = 33_054_211_828_000_289;
pub const C1: u64 = 23_344_194_077_549_503;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    Amd64,
    Arm64,
}

/// The Go releases that hash alike. The fallback hash changed in 1.23 and
/// the compiler's struct and array hashers changed in 1.27; nothing else in
/// map hashing changed between 1.19 and 1.27.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashVersion {
    /// Fallback mixes the constants m1–m4 with `hashkey[0]`; structs hash
    /// runs of plain memory with `memhash(p, h, len)`.
    Go119To122,
    /// Fallback uses all four `hashkey` words; struct hashers as before.
    Go123To126,
    /// Struct and array hashers are built from the type's flattened
    /// signature, and 4- and 8-byte runs use `memhash32`/`memhash64`.
    Go127,
}

impl HashVersion {
    /// The family of Go `1.minor`. Only 1.19–1.27 are accepted: earlier and
    /// later releases have not been checked against the runtime.
    pub fn for_go(major: u32, minor: u32) -> Result<Self, HashError> {
        match (major, minor) {
            (1, 19..=22) => Ok(HashVersion::Go119To122),
            (1, 23..=26) => Ok(HashVersion::Go123To126),
            (1, 27) => Ok(HashVersion::Go127),
            _ => Err(HashError::UnsupportedVersion { major, minor }),
        }
    }
}

/// The hash the target's runtime selected at start-up, with the key
/// material read from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    /// `useAeshash` was true: the 128-byte `aeskeysched`.
    Aes { key_schedule: [u8; 128] },
    /// `useAeshash` was false: `hashkey [4]uintptr`.
    Fallback { hashkey: [u64; 4] },
}

impl HashAlgorithm {
    /// From the three runtime globals (`runtime.useAeshash`,
    /// `runtime.aeskeysched`, `runtime.hashkey`; in 1.27 the same names in
    /// `internal/runtime/maps`, the flag spelt `UseAeshash`).
    pub fn from_runtime(use_aeshash: bool, aeskeysched: &[u8], hashkey: &[u64]) -> Result<Self, HashError> {
        if use_aeshash {
            let key_schedule: [u8; 128] = aeskeysched.try_into().map_err(|_| HashError::BadKeyMaterial {
                what: "aeskeysched",
                expected: 128,
                got: aeskeysched.len(),
            })?;
            Ok(HashAlgorithm::Aes { key_schedule })
        } else {
            let hashkey: [u64; 4] = hashkey.try_into().map_err(|_| HashError::BadKeyMaterial {
                what: "hashkey",
                expected: 4,
                got: hashkey.len(),
            })?;
            Ok(HashAlgorithm::Fallback { hashkey })
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Engine {
    Aes(Box<AesKeys>),
    AesArm64(Box<Arm64AesKeys>),
    Fallback(Wyhash),
}

/// The result of hashing one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashOutcome {
    Hash(u64),
    /// The value holds a NaN: the runtime mixed in a fresh random number, so
    /// the hash (and the entry's place) cannot be recomputed.
    NanRandom,
}

impl HashOutcome {
    pub fn value(self) -> Option<u64> {
        match self {
            HashOutcome::Hash(h) => Some(h),
            HashOutcome::NanRandom => None,
        }
    }
}

/// Everything needed to recompute a target's hashes. Cheap to clone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashParams {
    arch: Arch,
    version: HashVersion,
    engine: Engine,
}

impl HashParams {
    /// For a release family. On arm64 the AES hash is taken as in 1.20–1.26;
    /// [`HashParams::for_go`] knows the releases whose arm64 code differs.
    pub fn new(arch: Arch, version: HashVersion, algorithm: HashAlgorithm) -> Result<Self, HashError> {
        let quirks = Quirks {
            short_last_without_mc: false,
            memhash32_full_seed: version == HashVersion::Go127,
        };
        Self::build(arch, version, quirks, algorithm)
    }

    /// For Go `major.minor` exactly (the arm64 AES code changed in 1.20 and 1.27).
    pub fn for_go(arch: Arch, major: u32, minor: u32, algorithm: HashAlgorithm) -> Result<Self, HashError> {
        let version = HashVersion::for_go(major, minor)?;
        let quirks = Quirks {
            short_last_without_mc: (major, minor) <= (1, 19),
            memhash32_full_seed: version == HashVersion::Go127,
        };
        Self::build(arch, version, quirks, algorithm)
    }

    fn build(arch: Arch, version: HashVersion, quirks: Quirks, algorithm: HashAlgorithm) -> Result<Self, HashError> {
        let engine = match algorithm {
            HashAlgorithm::Aes { key_schedule } => match arch {
                Arch::Amd64 => Engine::Aes(Box::new(AesKeys::new(&key_schedule))),
                Arch::Arm64 => Engine::AesArm64(Box::new(Arm64AesKeys::new(&key_schedule, quirks))),
            },
            // hash64.go is architecture-neutral Go, identical on arm64.
            HashAlgorithm::Fallback { hashkey } => {
                Engine::Fallback(Wyhash::new(hashkey, version == HashVersion::Go119To122))
            }
        };
        Ok(HashParams { arch, version, engine })
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }

    pub fn version(&self) -> HashVersion {
        self.version
    }

    pub fn uses_aes(&self) -> bool {
        matches!(self.engine, Engine::Aes(_) | Engine::AesArm64(_))
    }

    /// `runtime.memhash(p, seed, len(data))`.
    pub fn memhash(&self, data: &[u8], seed: u64) -> u64 {
        match &self.engine {
            Engine::Aes(k) => k.memhash(data, seed),
            Engine::AesArm64(k) => k.memhash(data, seed),
            Engine::Fallback(w) => w.memhash(data, seed),
        }
    }

    /// `runtime.memhash32`: differs from `memhash` of the same 4 bytes.
    pub fn memhash32(&self, value: u32, seed: u64) -> u64 {
        match &self.engine {
            Engine::Aes(k) => k.memhash_word(u64::from(value), seed),
            Engine::AesArm64(k) => k.memhash32(value, seed),
            Engine::Fallback(w) => w.memhash_word(u64::from(value), 4, seed),
        }
    }

    /// `runtime.memhash64`: differs from `memhash` of the same 8 bytes.
    pub fn memhash64(&self, value: u64, seed: u64) -> u64 {
        match &self.engine {
            Engine::Aes(k) => k.memhash_word(value, seed),
            Engine::AesArm64(k) => k.memhash64(value, seed),
            Engine::Fallback(w) => w.memhash_word(value, 8, seed),
        }
    }

    /// `runtime.strhash`, given the string's bytes.
    pub fn strhash(&self, s: &[u8], seed: u64) -> u64 {
        self.memhash(s, seed)
    }

    /// `runtime.f32hash`: both zeros hash alike, NaNs randomly.
    pub fn f32hash(&self, f: f32, seed: u64) -> HashOutcome {
        if f == 0.0 {
            HashOutcome::Hash(C1.wrapping_mul(C0 ^ seed))
        } else if f.is_nan() {
            HashOutcome::NanRandom
        } else {
            HashOutcome::Hash(self.memhash(&f.to_bits().to_le_bytes(), seed))
        }
    }

    /// `runtime.f64hash`: both zeros hash alike, NaNs randomly.
    pub fn f64hash(&self, f: f64, seed: u64) -> HashOutcome {
        if f == 0.0 {
            HashOutcome::Hash(C1.wrapping_mul(C0 ^ seed))
        } else if f.is_nan() {
            HashOutcome::NanRandom
        } else {
            HashOutcome::Hash(self.memhash(&f.to_bits().to_le_bytes(), seed))
        }
    }

    /// `runtime.c64hash`: the real part, then the imaginary part.
    pub fn c64hash(&self, re: f32, im: f32, seed: u64) -> HashOutcome {
        match self.f32hash(re, seed) {
            HashOutcome::Hash(h) => self.f32hash(im, h),
            HashOutcome::NanRandom => HashOutcome::NanRandom,
        }
    }

    /// `runtime.c128hash`: the real part, then the imaginary part.
    pub fn c128hash(&self, re: f64, im: f64, seed: u64) -> HashOutcome {
        match self.f64hash(re, seed) {
            HashOutcome::Hash(h) => self.f64hash(im, h),
            HashOutcome::NanRandom => HashOutcome::NanRandom,
        }
    }
}
