//! The entry diff of one map between two snapshots: entries matched by key
//! content ([`super::key`]), as a multiset (keys that are not equal to
//! themselves, like NaN, may repeat).
//!
//! One side is streamed into an [`EntryIndex`] (every entry's key identity
//! and value text in one byte arena, records in one vector, a hash table of
//! chain heads), then the other side is streamed against it, so a 1M-entry
//! map is never held as decoded values. Pairing follows Go's own view of the
//! map: entries with equal key and value pair first, then what is left of a
//! key pairs in value order as changed values; the rest was added or removed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use serde::Serialize;

use super::key::push_identity;
use crate::maps::{Entry, MapError, MapHandle};
use crate::values::{EntryPlans, Value, ValueDecoder};

/// One entry, decoded, with its slot.
pub struct Decoded {
    pub key: Value,
    pub value: Value,
    pub container: u64,
    pub slot: u8,
}

/// Every entry of `map`, decoded with `plans`.
pub fn decoded<'a>(
    map: &'a MapHandle,
    decoder: &'a ValueDecoder<'_>,
    plans: &'a EntryPlans,
) -> impl Iterator<Item = Result<Decoded, MapError>> + 'a {
    map.entries().map(move |e| {
        e.map(|e: Entry| {
            let (key, value) = decoder.decode_entry(plans, &e);
            Decoded {
                key,
                value,
                container: e.container,
                slot: e.slot,
            }
        })
    })
}

/// The hash table's keys are already hashes.
#[derive(Default)]
struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u32(&mut self, v: u32) {
        // hashbrown takes its tags from the top bits: spread the 32 bits.
        self.0 = u64::from(v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

const NONE: u32 = u32::MAX;

/// Bytes in chunks of 1 MiB that never move: a growing single vector would
/// double (and copy) its way to up to twice what it holds. An offset is the
/// chunk's number in the high 32 bits and the position in it below.
#[derive(Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
}

const CHUNK: usize = 1 << 20;

impl Arena {
    fn push(&mut self, b: &[u8]) -> usize {
        let fits = self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= b.len());
        if !fits {
            self.chunks.push(Vec::with_capacity(CHUNK.max(b.len())));
        }
        let n = self.chunks.len() - 1;
        let Some(c) = self.chunks.last_mut() else { return 0 };
        let pos = c.len();
        c.extend_from_slice(b);
        (n << 32) | pos
    }

    fn get(&self, off: usize, len: usize) -> &[u8] {
        let pos = off & 0xffff_ffff;
        self.chunks
            .get(off >> 32)
            .and_then(|c| c.get(pos..pos.saturating_add(len)))
            .unwrap_or_default()
    }

    fn capacity(&self) -> usize {
        self.chunks.iter().map(Vec::capacity).sum()
    }
}

struct Rec {
    /// Key identity, then value text, in the arena at `off` (see `Arena`).
    off: usize,
    id_len: u32,
    text_len: u32,
    val_len: u32,
    /// The next record whose identity has the same hash.
    next: u32,
    container: u64,
    slot: u8,
    matched: bool,
}

/// One snapshot's entries, indexed by key identity.
#[derive(Default)]
pub struct EntryIndex {
    arena: Arena,
    recs: Vec<Rec>,
    /// Chain heads by the identity's hash, cut to 32 bits: 8 bytes a slot;
    /// a collision only lengthens a chain (identities are compared).
    heads: HashMap<u32, u32, BuildHasherDefault<IdentityHasher>>,
    /// Why the walk stopped early, if it did.
    pub errors: Vec<String>,
}

/// A fast word-at-a-time hash of an identity (FxHash's step, then a final
/// mix so hashbrown's top bits are spread). Collisions cost a byte compare,
/// never a wrong match; the target cannot choose our keys' hash collisions
/// any more than it can choose its own keys.
fn hash_of(id: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h = id.len() as u64;
    let mut words = id.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    }
    let mut b = [0u8; 8];
    let rest = words.remainder();
    if let Some(dst) = b.get_mut(..rest.len()) {
        dst.copy_from_slice(rest);
    }
    h = (h.rotate_left(5) ^ u64::from_le_bytes(b)).wrapping_mul(K);
    h ^ (h >> 29)
}

/// The chain-head key of a hash.
fn head_key(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

impl EntryIndex {
    pub fn len(&self) -> usize {
        self.recs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.recs.is_empty()
    }

    /// Bytes held: the arena, the records and the hash table.
    pub fn heap_bytes(&self) -> usize {
        self.arena.capacity()
            + self.recs.capacity() * std::mem::size_of::<Rec>()
            + self.heads.capacity() * (std::mem::size_of::<(u32, u32)>() + 1)
    }

    /// Room for `n` entries (a header's count), so the index grows once.
    pub fn with_capacity(n: usize) -> EntryIndex {
        let n = n.min(1 << 26);
        EntryIndex {
            arena: Arena::default(),
            recs: Vec::with_capacity(n),
            heads: HashMap::with_capacity_and_hasher(n, BuildHasherDefault::default()),
            errors: Vec::new(),
        }
    }

    pub fn build(entries: impl Iterator<Item = Result<Decoded, MapError>>) -> EntryIndex {
        Self::build_sized(entries, 0)
    }

    /// As `build`, with room for `n` entries first.
    pub fn build_sized(entries: impl Iterator<Item = Result<Decoded, MapError>>, n: usize) -> EntryIndex {
        let mut ix = EntryIndex::with_capacity(n);
        let mut scratch = Vec::new();
        for e in entries {
            match e {
                Ok(d) => {
                    ix.push(&d, &mut scratch);
                }
                Err(e) => ix.errors.push(e.to_string()),
            }
        }
        ix
    }

    /// Adds one entry; returns its record number.
    fn push(&mut self, d: &Decoded, scratch: &mut Vec<u8>) -> u32 {
        scratch.clear();
        let text_len = push_identity(scratch, &d.key);
        let id_len = scratch.len();
        let h = hash_of(scratch.get(..id_len).unwrap_or_default());
        d.value.write_go(scratch);
        let val_len = scratch.len() - id_len;
        let off = self.arena.push(scratch);
        let n = u32::try_from(self.recs.len()).unwrap_or(NONE);
        let head = self.heads.entry(head_key(h)).or_insert(NONE);
        let next = *head;
        *head = n;
        self.recs.push(Rec {
            off,
            id_len: u32::try_from(id_len).unwrap_or(u32::MAX),
            text_len: u32::try_from(text_len).unwrap_or(u32::MAX),
            val_len: u32::try_from(val_len).unwrap_or(u32::MAX),
            next,
            container: d.container,
            slot: d.slot,
            matched: false,
        });
        n
    }

    fn bytes(&self, off: usize, len: u32) -> &[u8] {
        self.arena.get(off, len as usize)
    }

    fn id(&self, r: &Rec) -> &[u8] {
        self.bytes(r.off, r.id_len)
    }

    fn key_text(&self, r: &Rec) -> String {
        String::from_utf8_lossy(self.bytes(r.off, r.text_len)).into_owned()
    }

    fn value_text(&self, r: &Rec) -> &[u8] {
        self.bytes(r.off.saturating_add(r.id_len as usize), r.val_len)
    }

    /// The first record with identity `id` (hash `h`) that `want` accepts,
    /// newest first.
    fn find(&self, h: u64, id: &[u8], mut want: impl FnMut(&Rec) -> bool) -> Option<u32> {
        let mut i = self.heads.get(&head_key(h)).copied().unwrap_or(NONE);
        // Bounded by the record count: chains only point backwards.
        while let Some(r) = self.recs.get(i as usize) {
            if self.id(r) == id && want(r) {
                return Some(i);
            }
            if r.next >= i {
                break;
            }
            i = r.next;
        }
        None
    }

    /// Every record with identity `id` (hash `h`), newest first.
    fn chain(&self, h: u64, id: &[u8]) -> Vec<u32> {
        let mut out = Vec::new();
        let mut i = self.heads.get(&head_key(h)).copied().unwrap_or(NONE);
        while let Some(r) = self.recs.get(i as usize) {
            if self.id(r) == id {
                out.push(i);
            }
            if r.next >= i {
                break;
            }
            i = r.next;
        }
        out
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryText {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedEntry {
    pub key: String,
    pub before: String,
    pub after: String,
}

/// Where an entry was (container address, slot) and where it is now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovedEntry {
    pub key: String,
    pub from: (u64, u8),
    pub to: (u64, u8),
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct EntryDiff {
    pub len_before: u64,
    pub len_after: u64,
    pub added: Vec<EntryText>,
    pub removed: Vec<EntryText>,
    pub changed: Vec<ChangedEntry>,
    /// Entries found in both with the same value.
    pub same: u64,
    /// Entries in both whose slot (container or index) differs.
    pub moved: u64,
    /// The first moved entries, at most the limit given.
    pub moved_examples: Vec<MovedEntry>,
    pub errors: Vec<String>,
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Streams `after` against the index of `before`. With `keep`, the after
/// side is indexed too and returned (for the next round of `watch`).
pub fn diff_entries(
    before: &mut EntryIndex,
    after: impl Iterator<Item = Result<Decoded, MapError>>,
    moved_examples: usize,
    keep: bool,
) -> (EntryDiff, Option<EntryIndex>) {
    let mut out = EntryDiff {
        len_before: before.len() as u64,
        errors: before.errors.iter().map(|e| format!("before: {e}")).collect(),
        ..EntryDiff::default()
    };
    for r in &mut before.recs {
        r.matched = false;
    }
    let mut next = if keep {
        EntryIndex::with_capacity(before.len())
    } else {
        EntryIndex::default()
    };
    // After entries whose key had no equal value before: (identity hash,
    // record in `pending`).
    let mut pending = EntryIndex::default();
    let mut waiting: Vec<(u64, u32)> = Vec::new();
    let mut scratch = Vec::new();
    let mut id = Vec::new();
    let mut val = Vec::new();
    for e in after {
        let d = match e {
            Ok(d) => d,
            Err(e) => {
                out.errors.push(format!("after: {e}"));
                continue;
            }
        };
        out.len_after += 1;
        if keep {
            next.push(&d, &mut scratch);
        }
        id.clear();
        push_identity(&mut id, &d.key);
        let h = hash_of(&id);
        val.clear();
        d.value.write_go(&mut val);
        let hit = before.find(h, &id, |r| !r.matched && before.value_text(r) == val.as_slice());
        match hit.and_then(|i| before.recs.get_mut(i as usize)) {
            Some(r) => {
                r.matched = true;
                out.same += 1;
                if (r.container, r.slot) != (d.container, d.slot) {
                    out.moved += 1;
                    if out.moved_examples.len() < moved_examples {
                        let (from, r_off, r_len) = ((r.container, r.slot), r.off, r.text_len);
                        out.moved_examples.push(MovedEntry {
                            key: lossy(before.bytes(r_off, r_len)),
                            from,
                            to: (d.container, d.slot),
                        });
                    }
                }
            }
            None => {
                let n = pending.push(&d, &mut scratch);
                waiting.push((h, n));
            }
        }
    }
    // Keys with after entries left: pair with what is left of them before.
    let mut done_keys: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
    for &(h, n) in &waiting {
        let Some(r) = pending.recs.get(n as usize) else {
            continue;
        };
        let pid = pending.id(r).to_vec();
        let seen = done_keys.entry(h).or_default();
        if seen.contains(&pid) {
            continue;
        }
        let mut afters: Vec<(Vec<u8>, u32)> = pending
            .chain(h, &pid)
            .into_iter()
            .filter_map(|i| {
                pending
                    .recs
                    .get(i as usize)
                    .map(|r| (pending.value_text(r).to_vec(), i))
            })
            .collect();
        let mut befores: Vec<(Vec<u8>, u32)> = before
            .chain(h, &pid)
            .into_iter()
            .filter_map(|i| {
                before
                    .recs
                    .get(i as usize)
                    .filter(|r| !r.matched)
                    .map(|r| (before.value_text(r).to_vec(), i))
            })
            .collect();
        seen.push(pid);
        afters.sort();
        befores.sort();
        let key = pending.key_text(r);
        let mut b_iter = befores.into_iter();
        for (a_val, a_i) in afters {
            match b_iter.next() {
                Some((b_val, b_i)) => {
                    if let Some(br) = before.recs.get_mut(b_i as usize) {
                        br.matched = true;
                    }
                    if let (Some(br), Some(ar)) = (before.recs.get(b_i as usize), pending.recs.get(a_i as usize)) {
                        if (br.container, br.slot) != (ar.container, ar.slot) {
                            out.moved += 1;
                        }
                    }
                    out.changed.push(ChangedEntry {
                        key: key.clone(),
                        before: lossy(&b_val),
                        after: lossy(&a_val),
                    });
                }
                None => out.added.push(EntryText {
                    key: key.clone(),
                    value: lossy(&a_val),
                }),
            }
        }
    }
    for r in before.recs.iter().filter(|r| !r.matched) {
        out.removed.push(EntryText {
            key: before.key_text(r),
            value: lossy(before.value_text(r)),
        });
    }
    let by_key = |a: &EntryText, b: &EntryText| (&a.key, &a.value).cmp(&(&b.key, &b.value));
    out.added.sort_by(by_key);
    out.removed.sort_by(by_key);
    out.changed
        .sort_by(|a, b| (&a.key, &a.before).cmp(&(&b.key, &b.before)));
    (out, keep.then_some(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::ValueKind;

    fn entry(key: ValueKind, value: i64, container: u64) -> Result<Decoded, MapError> {
        Ok(Decoded {
            key: Value::new(0x1000, key),
            value: Value::new(0x2000, ValueKind::Int(value)),
            container,
            slot: 0,
        })
    }

    /// NaN keys are never equal to themselves: they pair as a multiset, equal
    /// values first, the rest in value order. +0 and -0 are one key to Go's
    /// `==` but a map keeps one of them, stored with its own bytes: a key
    /// overwritten with the other zero is removed and added here.
    #[test]
    fn nan_keys_pair_as_a_multiset() {
        let nan = || ValueKind::Float64(f64::NAN);
        let mut before = EntryIndex::build(
            [
                entry(nan(), 1, 1),
                entry(nan(), 2, 1),
                entry(ValueKind::Float64(0.0), 5, 1),
            ]
            .into_iter(),
        );
        let after = [
            entry(nan(), 2, 2),
            entry(nan(), 3, 1),
            entry(nan(), 3, 1),
            entry(ValueKind::Float64(-0.0), 5, 1),
        ];
        let (d, next) = diff_entries(&mut before, after.into_iter(), 10, true);
        assert_eq!(d.same, 1);
        assert_eq!(d.moved, 1, "NaN→2 moved from container 1 to 2");
        let t = |k: &str, v: &str| EntryText {
            key: k.into(),
            value: v.into(),
        };
        assert_eq!(
            d.changed,
            vec![ChangedEntry {
                key: "NaN".into(),
                before: "1".into(),
                after: "3".into()
            }]
        );
        assert_eq!(d.added, vec![t("-0", "5"), t("NaN", "3")]);
        assert_eq!(d.removed, vec![t("0", "5")]);
        assert_eq!(next.map(|n| n.len()), Some(4));
    }

    /// Interface keys of two types that print alike are two keys.
    #[test]
    fn text_alone_does_not_make_a_key() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        super::push_identity(&mut a, &Value::new(0, ValueKind::Int(1)));
        super::push_identity(&mut b, &Value::new(0, ValueKind::Uint(1)));
        assert_ne!(a, b);
        assert_eq!(hash_of(&a), hash_of(&a.clone()));
    }
}
