//! Do a map's stored keys hash to the tags stored beside them? The one test
//! of a key type and of the hash parameters against the map's own memory,
//! for the census's typing, a type a user names, and `path`'s proof of absence.

use super::placement::{classic_tophash, swiss_h2};
use super::{HashOutcome, KeyHasher, KeyResolver};
use crate::maps::Entry;
use crate::memory::{Memory, MemoryExt};

/// What hashing a sample of stored keys with the map's seed says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashVerdict {
    /// Every hashable key (this many, > 0) hashed to its stored tophash/h2.
    Agree(u32),
    /// A key hashed to another tag than the one stored beside it (or could
    /// not be read or hashed as this key type).
    Disagree,
    /// Nothing to judge by: no key hashable (only NaNs, no keys).
    Silent,
}

impl HashVerdict {
    pub fn agreed(self) -> Option<u32> {
        match self {
            HashVerdict::Agree(n) => Some(n),
            _ => None,
        }
    }
}

/// Hashes each sampled entry's key (`key_size` bytes at `Entry::key`) with
/// `seed` and compares the hash's tophash (`classic`) or h2 with the stored tag.
pub fn check_stored_tags(
    hasher: &KeyHasher,
    mem: &dyn Memory,
    key_size: u64,
    sample: &[Entry],
    seed: u64,
    classic: bool,
    resolver: &dyn KeyResolver,
) -> HashVerdict {
    let mut checked = 0u32;
    for e in sample {
        let Ok(key) = mem.read_vec(e.key, key_size) else {
            return HashVerdict::Disagree;
        };
        match hasher.hash(&key, seed, resolver) {
            Ok(HashOutcome::Hash(h)) => {
                checked += 1;
                // A classic entry of an old bucket mid-growth keeps its tophash too.
                let want = if classic { classic_tophash(h) } else { swiss_h2(h) };
                if want != e.tag {
                    return HashVerdict::Disagree;
                }
            }
            Ok(HashOutcome::NanRandom) => {}
            Err(_) => return HashVerdict::Disagree,
        }
    }
    if checked > 0 {
        HashVerdict::Agree(checked)
    } else {
        HashVerdict::Silent
    }
}
