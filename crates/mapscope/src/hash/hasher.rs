//! The map-level entry point: a key type's `Hasher`, prepared once and run
//! per key, and the interface the caller implements to supply the memory a
//! key points to.

use std::borrow::Cow;

use super::generated;
use super::keytype::KeyType;
use super::params::{HashOutcome, HashParams, HashVersion};
use super::plan::{Op, Run, Step};
use super::signature;
use super::HashError;

/// Everything the hashers cannot see in the key's own bytes: the contents
/// of strings and the dynamic values of interfaces. The decoder implements
/// it over the target's memory and type descriptors.
pub trait KeyResolver {
    /// The `len` bytes at `ptr` (a string's data). Never called for empty
    /// strings.
    fn string_data(&self, ptr: u64, len: u64) -> Result<Cow<'_, [u8]>, HashError>;

    /// The value inside a non-nil interface: `type_word` is word 0 (the
    /// `*_type` when `empty`, else the `*itab`), `data_word` word 1. Return
    /// the dynamic type and its bytes: `data_word` itself (8 bytes, little
    /// endian) for direct-interface types (pointer-shaped), otherwise the
    /// type's size in bytes read at `data_word`. A type without an equality
    /// function is unhashable; report that as an error.
    fn interface_value(&self, type_word: u64, data_word: u64, empty: bool) -> Result<DynamicValue<'_>, HashError>;
}

/// The dynamic type and value of an interface.
#[derive(Clone, Debug)]
pub struct DynamicValue<'a> {
    pub key_type: Cow<'a, KeyType>,
    pub bytes: Cow<'a, [u8]>,
}

/// A resolver for keys that hold no strings or interfaces.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoIndirection;

impl KeyResolver for NoIndirection {
    fn string_data(&self, ptr: u64, len: u64) -> Result<Cow<'_, [u8]>, HashError> {
        Err(HashError::Unresolved {
            what: "string data",
            addr: ptr,
            len,
        })
    }

    fn interface_value(&self, type_word: u64, _data_word: u64, _empty: bool) -> Result<DynamicValue<'_>, HashError> {
        Err(HashError::Unresolved {
            what: "interface value",
            addr: type_word,
            len: 16,
        })
    }
}

/// The runtime function the map's `Hasher` is, as `FuncForPC` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HasherKind {
    /// A runtime function such as `memhash64`, `strhash`, `nilinterhash`.
    Runtime(&'static str),
    /// `memhash_varlen` closed over this size.
    MemhashVarlen(u64),
    /// A compiler-generated `type:.hash.*` function. From 1.27 it is named
    /// after the signature given here (`type:.hash.SM8`); before, after
    /// the key type.
    Generated { signature: Option<String> },
}

/// The map-level hasher for one key type, prepared once and reused.
#[derive(Clone, Debug)]
pub struct KeyHasher {
    params: HashParams,
    ops: Vec<Op>,
    key_size: u64,
    kind: HasherKind,
}

impl KeyHasher {
    pub fn new(params: &HashParams, key_type: &KeyType) -> Result<Self, HashError> {
        key_type.validate()?;
        let key_size = key_type.size()?;
        let (ops, kind) = match params.version() {
            HashVersion::Go127 => {
                let sig = signature::signature(key_type)?;
                let kind = match signature::primitive_for(&sig) {
                    Some(name) => HasherKind::Runtime(name),
                    None if is_memory_sig(&sig) => HasherKind::MemhashVarlen(key_size),
                    None => HasherKind::Generated {
                        signature: Some(sig.clone()),
                    },
                };
                (signature::ops(&sig)?, kind)
            }
            HashVersion::Go119To122 | HashVersion::Go123To126 => {
                let mut ops = Vec::new();
                let kind = generated::classic_top(key_type, &mut ops)?;
                (ops, kind)
            }
        };
        Ok(KeyHasher {
            params: params.clone(),
            ops,
            key_size,
            kind,
        })
    }

    /// The key slot size this hasher reads.
    pub fn key_size(&self) -> u64 {
        self.key_size
    }

    pub fn kind(&self) -> &HasherKind {
        &self.kind
    }

    /// `Hasher(key, seed)`. `key` is the key as stored in the map slot (for
    /// an indirect key, the pointed-to bytes), at least `key_size` long.
    pub fn hash(&self, key: &[u8], seed: u64, resolver: &dyn KeyResolver) -> Result<HashOutcome, HashError> {
        if (key.len() as u64) < self.key_size {
            return Err(HashError::KeyTooShort {
                need: self.key_size,
                got: key.len() as u64,
            });
        }
        let mut run = Run::new(&self.params, resolver);
        Ok(match run.ops(&self.ops, key, 0, seed, 0)? {
            Step::Hash(h) => HashOutcome::Hash(h),
            Step::Nan => HashOutcome::NanRandom,
        })
    }
}

impl HashParams {
    /// `runtime.nilinterhash` / `interhash` on an interface's two words.
    pub fn interface_hash(
        &self,
        type_word: u64,
        data_word: u64,
        empty: bool,
        seed: u64,
        resolver: &dyn KeyResolver,
    ) -> Result<HashOutcome, HashError> {
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&type_word.to_le_bytes());
        key[8..].copy_from_slice(&data_word.to_le_bytes());
        let mut run = Run::new(self, resolver);
        Ok(match run.interface(&key, 0, empty, seed, 0)? {
            Step::Hash(h) => HashOutcome::Hash(h),
            Step::Nan => HashOutcome::NanRandom,
        })
    }

    /// `runtime.typehash`: how the runtime hashes a value of a type it only
    /// knows at run time (an interface's dynamic value).
    pub fn typehash(
        &self,
        key_type: &KeyType,
        value: &[u8],
        seed: u64,
        resolver: &dyn KeyResolver,
    ) -> Result<HashOutcome, HashError> {
        let mut run = Run::new(self, resolver);
        Ok(match run.typehash(key_type, value, seed, 0)? {
            Step::Hash(h) => HashOutcome::Hash(h),
            Step::Nan => HashOutcome::NanRandom,
        })
    }
}

fn is_memory_sig(sig: &str) -> bool {
    sig.strip_prefix('M')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
}
