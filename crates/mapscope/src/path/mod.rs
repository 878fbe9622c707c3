//! The addressing path of one key (`mapscope path`): the hash recomputed as
//! the target's runtime computes it (its own AES keys or fallback keys, the
//! map's own seed), then every read a lookup makes — header fields, bucket or
//! directory, table, the probed groups, the matching tag byte, the key slot,
//! the elem slot, and the hops behind the value — each with its address, its
//! offset in its structure and the bytes found there.
//!
//! A path is `verified` only when the hash computed here leads to the very
//! slot that holds the key: the stored tophash / control byte equals the
//! computed one and the key compares equal where the hash says it lives. When
//! the hash cannot be computed (NaN keys, arm64 AES, missing keys) or leads
//! nowhere, the key is still located by scanning the map, and the report says
//! so. [`PathMap::verify_all`] checks every entry's placement the same way.
//!
//! Every loop is bounded: probe sequences by the group count, bucket chains
//! by the walker's bound and a visited set, scans by the entry walk.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

mod classic;
mod hops;
pub mod key;
mod overlay;
pub mod params;
pub mod render;
mod resolver;
mod swiss;
mod verify;

use std::sync::Arc;

pub use key::{parse_key, KeySpec, ParsedKey};
pub use overlay::{Overlay, OVERLAY_BASE};
pub use params::{find_globals, globals_from_code, read_target_hash, HashGlobals, ParamsSource, TargetHash};
pub use resolver::MemResolver;
pub use verify::{Misplacement, VerifyReport};

use crate::binary::{BinaryError, GoBinary, GoType};
use crate::hash::{HashError, HashOutcome, HasherKind, KeyHasher, KeyType};
use crate::layout::RuntimeLayout;
use crate::maps::resolve::NamedMap;
use crate::maps::{MapError, MapHandle, Place};
use crate::memory::{Memory, MemoryError};
use crate::values::{FuncSymbol, ValueDecoder};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    #[error("key {key:?} does not fit the key type {key_type}: {why}")]
    BadKey { key: String, key_type: String, why: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0} is a nil map: it has no buckets or groups")]
    NilMap(String),
    #[error("reading {what} at {addr:#x}: {source}")]
    Memory {
        what: &'static str,
        addr: u64,
        #[source]
        source: MemoryError,
    },
    #[error(transparent)]
    Hash(#[from] HashError),
    #[error(transparent)]
    Map(#[from] MapError),
    #[error(transparent)]
    Binary(#[from] BinaryError),
}

/// Bytes of one read kept in a [`Step`]; the read itself may be longer.
pub const STEP_BYTES: usize = 64;
/// A cache line on amd64 and arm64.
pub const CACHE_LINE: u64 = 64;

/// One read of the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1, 2, 3…: the order of the reads.
    pub level: u32,
    /// The structure read (`runtime.hmap`, `bucket`, `group`, `key`, …).
    pub structure: String,
    pub what: String,
    pub address: u64,
    /// The read's offset inside `structure`.
    pub offset: u64,
    /// Bytes read (the first [`STEP_BYTES`] are kept in `read`).
    pub size: u64,
    pub read: Vec<u8>,
    /// Part of the runtime's lookup (false for the hops behind the value).
    pub lookup: bool,
    /// The read is one scalar (a field, a pointer): shown as a number, not
    /// as bytes in memory order.
    pub number: bool,
    pub note: Option<String>,
}

impl KeyPath {
    /// Why the key was not found, in one sentence.
    pub fn absence(&self) -> String {
        if self.nan_key {
            return format!(
                "{} can never be found in {}: the runtime hashes a NaN key with a fresh random number and NaN != NaN, so no lookup finds one, even where the map holds NaN keys",
                self.key_go, self.map
            );
        }
        let how = match (self.absent_by_hash, self.scanned) {
            (true, _) => format!(
                "the runtime's lookup ends after {} {} without it",
                self.probed,
                if self.probed == 1 {
                    "bucket or group"
                } else {
                    "buckets or groups"
                }
            ),
            (false, Some(n)) => format!("none of its {n} entries holds it"),
            (false, None) => "not found".to_string(),
        };
        format!("{} is not in {} ({how})", self.key_go, self.map)
    }
}

impl Step {
    /// What was read: a scalar field or pointer as the little-endian number
    /// it holds, anything else (tag bytes, keys, strings) as its bytes in
    /// memory order.
    pub fn read_hex(&self) -> String {
        if self.number && self.read.len() <= 8 {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..self.read.len()) {
                dst.copy_from_slice(&self.read);
            }
            format!("{:#x}", u64::from_le_bytes(w))
        } else {
            let mut s = String::from("0x");
            for b in &self.read {
                s.push_str(&format!("{b:02x}"));
            }
            if (self.read.len() as u64) < self.size {
                s.push('…');
            }
            s
        }
    }
}

/// Where the hash says the key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placement {
    /// No hash: nothing computed.
    Unknown,
    Classic {
        b: u8,
        /// `hash & (2^B - 1)`.
        bucket: u64,
        /// While growing: the old bucket, and whether the lookup went there
        /// (it is not yet evacuated).
        old_bucket: Option<u64>,
        used_old: bool,
        tophash: u8,
    },
    Swiss {
        h1: u64,
        h2: u8,
        small: bool,
        /// `hash >> globalShift` (0 for a one-slot directory or a small map).
        directory_index: u64,
        /// The table's address.
        table: Option<u64>,
        /// `h1 & lengthMask`.
        probe_start: Option<u64>,
    },
}

/// The hash as the runtime computes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashReport {
    pub seed: u64,
    pub value: Option<u64>,
    /// Why there is no value (NaN key, unsupported target, …).
    pub unavailable: Option<String>,
    /// `aes` or `fallback`.
    pub algorithm: Option<&'static str>,
    /// The runtime function the map's `Hasher` is.
    pub hasher: Option<String>,
    pub source: Option<ParamsSource>,
    pub placement: Placement,
}

/// The slot holding the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    pub place: Place,
    pub container: u64,
    pub slot: u8,
    /// The stored tophash or control byte.
    pub tag: u8,
    pub key_slot: u64,
    pub key: u64,
    pub elem_slot: u64,
    pub elem: u64,
    /// Reached by following the hash (false: found by scanning).
    pub by_hash: bool,
    /// Swiss: the directory slots of the table holding it.
    pub dir_range: Option<(u64, u64)>,
}

/// The whole answer for one key.
#[derive(Debug, Clone)]
pub struct KeyPath {
    pub map: String,
    pub type_name: String,
    pub variant: &'static str,
    pub header: u64,
    /// `fmt.Sprint` of the key (the stored one when found).
    pub key_go: String,
    /// The key for a terminal: strings quoted as `%q` writes them.
    pub key_text: String,
    pub value_go: Option<String>,
    pub value_text: Option<String>,
    pub func: Option<FuncSymbol>,
    pub hash: HashReport,
    pub found: Option<Found>,
    pub verified: bool,
    /// What was compared to decide `verified`.
    pub checks: Vec<String>,
    pub notes: Vec<String>,
    pub steps: Vec<Step>,
    /// Buckets (with overflow) or groups the lookup visited.
    pub probed: u64,
    /// Entries compared when the key had to be found by scanning.
    pub scanned: Option<u64>,
    /// The key is absent, proved by the runtime's own lookup (see
    /// [`PathMap::trace`]) rather than by a scan.
    pub absent_by_hash: bool,
    /// The key holds a NaN: no lookup can ever find it.
    pub nan_key: bool,
    /// 64-byte lines the lookup touched, in order of first touch.
    pub cache_lines: Vec<u64>,
}

/// Collects the reads of one path.
pub(crate) struct Recorder<'m> {
    mem: &'m dyn Memory,
    pub steps: Vec<Step>,
    /// Set after the key is found: later reads are hops, not the lookup.
    pub hops: bool,
}

impl<'m> Recorder<'m> {
    fn new(mem: &'m dyn Memory) -> Self {
        Recorder {
            mem,
            steps: Vec::new(),
            hops: false,
        }
    }

    /// Reads `len` bytes at `base + offset` and records it.
    pub fn read(
        &mut self,
        structure: &str,
        what: impl Into<String>,
        base: u64,
        offset: u64,
        len: u64,
    ) -> Result<Vec<u8>, PathError> {
        let addr = base.wrapping_add(offset);
        let bytes = crate::memory::MemoryExt::read_vec(self.mem, addr, len).map_err(|source| PathError::Memory {
            what: "a step of the path",
            addr,
            source,
        })?;
        self.push(structure, what, addr, offset, len, &bytes);
        Ok(bytes)
    }

    pub fn read_u64(
        &mut self,
        structure: &str,
        what: impl Into<String>,
        base: u64,
        offset: u64,
    ) -> Result<u64, PathError> {
        self.read_num(structure, what, base, offset, 8)
    }

    /// Reads a scalar field of `len` (≤ 8) bytes, recorded as a number.
    pub fn read_num(
        &mut self,
        structure: &str,
        what: impl Into<String>,
        base: u64,
        offset: u64,
        len: u64,
    ) -> Result<u64, PathError> {
        let b = self.read(structure, what, base, offset, len.min(8))?;
        if let Some(s) = self.steps.last_mut() {
            s.number = true;
        }
        Ok(le_u64(&b))
    }

    /// Reads field `name` of the runtime structure `spec` at `base`, labelled
    /// `{short}.{name}: {what}`, with the offset and width of this build.
    pub fn read_field(
        &mut self,
        spec: &'static crate::layout::StructSpec,
        short: &str,
        base: u64,
        name: &'static str,
        what: &str,
    ) -> Result<u64, PathError> {
        let f = spec.field(name).ok_or(crate::maps::MapError::Layout {
            structure: spec.name,
            field: name,
        })?;
        self.read_num(spec.name, format!("{short}.{name}: {what}"), base, f.offset, f.size)
    }

    pub fn note_at(&mut self, index: usize, note: impl Into<String>) {
        if let Some(s) = self.steps.get_mut(index) {
            s.note = Some(note.into());
        }
    }

    /// Records a read made elsewhere (already in hand).
    pub fn push(&mut self, structure: &str, what: impl Into<String>, addr: u64, offset: u64, len: u64, bytes: &[u8]) {
        let level = u32::try_from(self.steps.len()).unwrap_or(u32::MAX).saturating_add(1);
        self.steps.push(Step {
            level,
            structure: structure.to_string(),
            what: what.into(),
            address: addr,
            offset,
            size: len,
            read: bytes.get(..STEP_BYTES).unwrap_or(bytes).to_vec(),
            lookup: !self.hops,
            number: false,
            note: None,
        });
    }

    pub fn note_last(&mut self, note: impl Into<String>) {
        if let Some(s) = self.steps.last_mut() {
            s.note = Some(note.into());
        }
    }
}

pub(crate) fn le_u64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    let n = b.len().min(8);
    if let (Some(dst), Some(src)) = (w.get_mut(..n), b.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

/// A map opened for path queries: its structure, key type and the target's
/// hash, prepared once for any number of keys.
pub struct PathMap<'b> {
    pub(crate) bin: &'b GoBinary,
    pub(crate) mem: Arc<dyn Memory>,
    pub named: NamedMap,
    pub map: MapHandle,
    pub key_type: GoType,
    pub elem_type: Option<GoType>,
    /// The hashing view of the key type.
    pub key_kt: Result<KeyType, String>,
    /// The target's hash and the map's hasher, or why they are unavailable.
    pub hasher: Result<(KeyHasher, TargetHash), String>,
    pub(crate) layout: RuntimeLayout,
    /// Scan every entry for a key the runtime's lookup does not find (a
    /// misplaced entry of a damaged map), instead of answering "absent" as
    /// the runtime would. Off by default: a scan of a 1M-entry map costs
    /// 7× the lookup.
    scan_absent: bool,
}

impl<'b> PathMap<'b> {
    pub fn open(bin: &'b GoBinary, mem: Arc<dyn Memory>, named: NamedMap) -> Result<PathMap<'b>, PathError> {
        if named.header == 0 {
            return Err(PathError::NilMap(named.name));
        }
        let layout = RuntimeLayout::for_binary(bin).ok_or(MapError::UnknownRuntime)?;
        let map = MapHandle::for_type(mem.clone(), bin, named.header, &named.map_type)?;
        // The runtime descriptor's own key and elem types: present in
        // stripped binaries too, and with the method lists interfaces need.
        let runtime_map = named
            .map_type
            .map_descriptor()
            .and_then(|d| bin.runtime_type(d.addr).ok());
        let source = runtime_map.as_ref().unwrap_or(&named.map_type);
        let type_of = |r: Option<&crate::binary::TypeRef>| r.and_then(|r| bin.type_by_id(r.id).ok());
        let key_type = type_of(source.map_key())
            .or_else(|| type_of(named.map_type.map_key()))
            .ok_or_else(|| PathError::Unsupported(format!("{}: its key type cannot be read", named.map_type.name)))?;
        let elem_type = type_of(source.elem()).or_else(|| type_of(named.map_type.elem()));
        let key_kt = KeyType::from_go_type(bin, &key_type).map_err(|e| e.to_string());
        let hasher = match (&key_kt, read_target_hash(bin, &*mem)) {
            (Ok(kt), Ok(th)) => KeyHasher::new(&th.params, kt)
                .map(|h| (h, th))
                .map_err(|e| e.to_string()),
            (Err(e), _) => Err(format!("key type {}: {e}", key_type.name)),
            (_, Err(e)) => Err(e.to_string()),
        };
        Ok(PathMap {
            bin,
            mem,
            named,
            map,
            key_type,
            elem_type,
            key_kt,
            hasher,
            layout,
            scan_absent: false,
        })
    }

    /// See [`PathMap`]'s `scan_absent`: with `true`, a key the lookup does
    /// not find is looked for in every entry.
    pub fn scan_absent(mut self, yes: bool) -> Self {
        self.scan_absent = yes;
        self
    }

    /// The seed the map hashes with (classic `hash0` widened, Swiss `seed`).
    pub fn seed(&self) -> u64 {
        match &self.map {
            MapHandle::Classic(m) => crate::hash::placement::classic_seed(m.header.hash0),
            MapHandle::Swiss(m) => m.header.seed,
        }
    }

    pub fn variant(&self) -> &'static str {
        self.bin.map_variant().variant.map_or("unknown", |v| v.as_str())
    }

    /// Whether the hash computed here reproduces the stored tag
    /// (tophash/h2) of a sample of stored keys: then the lookup that hash
    /// leads to is the runtime's, and where it ends the key is absent.
    fn hash_holds_on_sample(&self) -> bool {
        const SAMPLE: usize = 8;
        let Ok((hasher, _)) = &self.hasher else { return false };
        let mut sample = Vec::with_capacity(SAMPLE);
        for e in self.map.entries().take(SAMPLE) {
            let Ok(e) = e else { return false };
            sample.push(e);
        }
        let classic = matches!(self.map, MapHandle::Classic(_));
        let resolver = MemResolver::new(self.bin, &*self.mem);
        let verdict = crate::hash::stored::check_stored_tags(
            hasher,
            &*self.mem,
            self.map.shape().key_size,
            &sample,
            self.seed(),
            classic,
            &resolver,
        );
        // An empty map has nothing to disagree with: every lookup in it ends
        // at once.
        matches!(verdict, crate::hash::stored::HashVerdict::Agree(_)) || self.map.header_len() == 0
    }

    /// `Hasher(key, seed)` of a key given by its slot bytes (the pointee for
    /// indirect keys), with `mem` serving what the key points to.
    pub fn hash_key(&self, key: &[u8], mem: &dyn Memory) -> Result<HashOutcome, String> {
        let (h, _) = self.hasher.as_ref().map_err(Clone::clone)?;
        h.hash(key, self.seed(), &MemResolver::new(self.bin, mem))
            .map_err(|e| e.to_string())
    }

    fn hash_report(&self, outcome: &Result<HashOutcome, String>) -> HashReport {
        let (algorithm, hasher, source) = match &self.hasher {
            Ok((h, th)) => (
                Some(if th.params.uses_aes() { "aes" } else { "fallback" }),
                Some(match h.kind() {
                    HasherKind::Runtime(n) => (*n).to_string(),
                    HasherKind::MemhashVarlen(n) => format!("memhash_varlen({n})"),
                    HasherKind::Generated { signature: Some(s) } => format!("type:.hash.{s}"),
                    HasherKind::Generated { signature: None } => format!("type:.hash.{}", self.key_type.name),
                }),
                Some(th.globals.source),
            ),
            Err(_) => (None, None, None),
        };
        let (value, unavailable) = match outcome {
            Ok(HashOutcome::Hash(h)) => (Some(*h), None),
            Ok(HashOutcome::NanRandom) => (
                None,
                Some("the key holds a NaN: the runtime hashes NaN with a fresh random number, so no lookup can find it (NaN != NaN)".to_string()),
            ),
            Err(e) => (None, Some(format!("hashing is not supported here: {e}"))),
        };
        HashReport {
            seed: self.seed(),
            value,
            unavailable,
            algorithm,
            hasher,
            source,
            placement: Placement::Unknown,
        }
    }

    /// The path of `key`. `Ok` whether or not the key is in the map: see
    /// [`KeyPath::found`].
    pub fn trace(&self, key: &ParsedKey) -> Result<KeyPath, PathError> {
        let kt = self
            .key_kt
            .as_ref()
            .map_err(|e| PathError::Unsupported(format!("key type {}: {e}", self.key_type.name)))?;
        if (key.slot.len() as u64) < kt.size()? {
            return Err(PathError::BadKey {
                key: String::new(),
                key_type: self.key_type.name.clone(),
                why: format!("{} bytes given, the key is {} bytes", key.slot.len(), kt.size()?),
            });
        }
        // The key's own bytes go into the overlay too, so the value decoder
        // can render the key as given when it is not in the map.
        let key_at = OVERLAY_BASE + 0x20_0000;
        let mut regions = key.regions.clone();
        regions.push((key_at, key.slot.clone()));
        let overlay = Overlay::new(self.mem.clone(), regions);
        let resolver = MemResolver::new(self.bin, &overlay);
        let outcome = self.hash_key(&key.slot, &overlay);
        let mut report = self.hash_report(&outcome);
        let mut rec = Recorder::new(&overlay);
        let mut notes = Vec::new();
        let look = Lookup {
            pm: self,
            kt,
            key: &key.slot,
            resolver: &resolver,
        };
        let hash = report.value;
        let mut result = match &self.map {
            MapHandle::Classic(m) => classic::trace(&look, m, hash, &mut rec)?,
            MapHandle::Swiss(m) => swiss::trace(&look, m, hash, &mut rec)?,
        };
        report.placement = result.placement.clone();
        notes.append(&mut result.notes);
        let mut scanned = None;
        let absent_by_hash =
            !self.scan_absent && result.found.is_none() && result.absent && self.hash_holds_on_sample();
        if absent_by_hash {
            notes.push(format!(
                "absent: the runtime's lookup ends after {} {}{} without the key, and the hash computed here gives the stored tags of the map's first keys",
                result.probed,
                container_name(&self.map),
                if result.probed == 1 { "" } else { "s" }
            ));
        } else if result.found.is_none() && !matches!(outcome, Ok(HashOutcome::NanRandom)) {
            // (A NaN key equals nothing, a stored NaN included: no scan finds it.)
            // Not where the hash leads (or no hash): find it by content.
            let (found, n) = look.scan(&mut rec)?;
            scanned = Some(n);
            if let Some(f) = &found {
                notes.push(format!(
                    "found by scanning {n} entries: {} slot {} at {:#x}",
                    f.place, f.slot, f.container
                ));
            }
            result.found = found;
        }
        let (verified, checks) = verify::judge(&report, result.found.as_ref());
        let cache_lines = cache_lines(&rec.steps);
        rec.hops = true;
        let decoder = ValueDecoder::new(self.bin, Arc::new(Overlay::new(self.mem.clone(), Vec::new())));
        let key_value = match &result.found {
            Some(f) => decoder.decode(f.key, &self.key_type),
            None => {
                let given = ValueDecoder::new(self.bin, Arc::new(overlay_for(&self.mem, key, key_at)));
                given.decode(key_at, &self.key_type)
            }
        };
        let (key_go, key_text) = (key_value.go_string(), key_value.text_string());
        let (value_go, value_text, func) = match (&result.found, &self.elem_type) {
            (Some(f), Some(et)) => {
                let v = decoder.decode(f.elem, et);
                let func = v.func().and_then(|fv| fv.symbol.clone());
                hops::follow(self, &mut rec, f.elem, et, &mut notes);
                (Some(v.go_string()), Some(v.text_string()), func)
            }
            _ => (None, None, None),
        };
        Ok(KeyPath {
            map: self.named.name.clone(),
            type_name: self.named.map_type.name.clone(),
            variant: self.variant(),
            header: self.named.header,
            key_go,
            key_text,
            value_go,
            value_text,
            func,
            hash: report,
            found: result.found,
            verified,
            checks,
            notes,
            steps: rec.steps,
            probed: result.probed,
            scanned,
            absent_by_hash,
            nan_key: matches!(outcome, Ok(HashOutcome::NanRandom)),
            cache_lines,
        })
    }

    /// Parses a key for this map. An `interface{}` key typed as a literal
    /// needs its dynamic type's descriptor: by name, else the type word of
    /// a stored key whose dynamic type has that name.
    pub fn parse_key(&self, spec: &KeySpec) -> Result<ParsedKey, PathError> {
        let from_keys = |name: &str| -> Option<u64> {
            self.map.entries().map_while(Result::ok).find_map(|e| {
                let w = crate::memory::MemoryExt::read_u64(&*self.mem, e.key).ok()?;
                (w != 0 && self.bin.runtime_type_name(w).ok()? == name).then_some(w)
            })
        };
        key::parse_key_with(&self.key_type, spec, &|name| {
            key::type_by_name(self.bin, name).or_else(|| from_keys(name))
        })
    }

    /// Checks the placement of every entry: see [`VerifyReport`].
    pub fn verify_all(&self, max_listed: usize) -> VerifyReport {
        verify::verify_all(self, max_listed)
    }
}

fn overlay_for(mem: &Arc<dyn Memory>, key: &ParsedKey, key_at: u64) -> Overlay {
    let mut regions = key.regions.clone();
    regions.push((key_at, key.slot.clone()));
    Overlay::new(mem.clone(), regions)
}

/// Opens `named` and traces one key given as the user typed it.
pub fn trace_key(bin: &GoBinary, mem: Arc<dyn Memory>, named: NamedMap, spec: &KeySpec) -> Result<KeyPath, PathError> {
    let pm = PathMap::open(bin, mem, named)?;
    let key = pm.parse_key(spec)?;
    pm.trace(&key)
}

/// The lines the lookup's reads touched, in order of first touch; synthetic
/// (overlay) reads are not the target's memory and are left out.
fn cache_lines(steps: &[Step]) -> Vec<u64> {
    let mut lines: Vec<u64> = Vec::new();
    for s in steps.iter().filter(|s| s.lookup && s.address < OVERLAY_BASE) {
        let first = s.address / CACHE_LINE;
        let last = s.address.saturating_add(s.size.max(1) - 1) / CACHE_LINE;
        // A single read spans few lines; cap it anyway.
        for l in first..=last.min(first.saturating_add(1024)) {
            let a = l * CACHE_LINE;
            if !lines.contains(&a) {
                lines.push(a);
            }
        }
    }
    lines
}

/// What one lookup needs: the map, the key as a slot holds it, and the
/// resolver that reads both the key's and the target's memory.
pub(crate) struct Lookup<'a, 'b> {
    pub pm: &'a PathMap<'b>,
    pub kt: &'a KeyType,
    pub key: &'a [u8],
    pub resolver: &'a MemResolver<'a>,
}

/// What a variant's lookup found.
pub(crate) struct Traced {
    pub placement: Placement,
    pub found: Option<Found>,
    /// The lookup ended where the runtime's ends with "absent" (an empty
    /// slot in the probed group, the end of the bucket chain), with every
    /// matching tag's key compared.
    pub absent: bool,
    pub probed: u64,
    pub notes: Vec<String>,
}

impl Lookup<'_, '_> {
    /// The key stored in slot `slot` at `container + key_off` (following an
    /// indirect key): its address, whether it equals the looked-up key, and
    /// the index of the step that read the slot. Records the reads.
    pub fn compare_at(
        &self,
        rec: &mut Recorder<'_>,
        structure: &str,
        container: u64,
        key_off: u64,
        slot: u8,
    ) -> Result<(u64, bool, usize), PathError> {
        let shape = self.pm.map.shape();
        let ks = shape.key_size;
        let step = rec.steps.len();
        let key = if shape.indirect_key {
            let p = rec.read_u64(
                structure,
                format!("key slot {slot} (pointer to the key)"),
                container,
                key_off,
            )?;
            rec.read("key", format!("key {slot} (indirect)"), p, 0, ks.min(STEP_BYTES as u64))?;
            p
        } else {
            rec.read(structure, format!("key slot {slot}"), container, key_off, ks)?;
            container.wrapping_add(key_off)
        };
        let stored =
            crate::memory::MemoryExt::read_vec(self.resolver_mem(), key, ks).map_err(|source| PathError::Memory {
                what: "a stored key",
                addr: key,
                source,
            })?;
        if matches!(self.kt, KeyType::String) {
            let (p, n) = (le_u64(&stored), le_u64(stored.get(8..).unwrap_or(&[])));
            if n > 0 {
                let shown = n.min(STEP_BYTES as u64);
                rec.read("string data", format!("key {slot}'s bytes ({n})"), p, 0, shown)?;
            }
        }
        let eq = self.resolver.keys_equal(self.kt, self.key, &stored)?;
        Ok((key, eq, step))
    }

    fn resolver_mem(&self) -> &dyn Memory {
        &*self.pm.mem
    }

    /// Finds the key by walking every entry; records the slot's reads when
    /// found. Returns the entries compared.
    fn scan(&self, rec: &mut Recorder<'_>) -> Result<(Option<Found>, u64), PathError> {
        let ks = self.pm.map.shape().key_size;
        let mut n = 0u64;
        for e in self.pm.map.entries() {
            let e = e?;
            n += 1;
            let stored = crate::memory::MemoryExt::read_vec(self.resolver_mem(), e.key, ks).map_err(|source| {
                PathError::Memory {
                    what: "a stored key",
                    addr: e.key,
                    source,
                }
            })?;
            // A key that cannot be compared (an unreadable string) is not
            // this one; the scan goes on.
            if self.resolver.keys_equal(self.kt, self.key, &stored).unwrap_or(false) {
                let what = container_name(&self.pm.map);
                rec.read(what, format!("{} tags (found by scanning)", e.place), e.container, 0, 8)?;
                self.compare_at(rec, what, e.container, e.key_slot.wrapping_sub(e.container), e.slot)?;
                let dir_range = match (&self.pm.map, e.place) {
                    (MapHandle::Swiss(m), Place::Group { table: Some(t), .. }) => m
                        .tables
                        .get(t)
                        .map(|t| (t.dir_first, t.dir_first + t.dir_slots.saturating_sub(1))),
                    _ => None,
                };
                let found = Found {
                    place: e.place,
                    container: e.container,
                    slot: e.slot,
                    tag: e.tag,
                    key_slot: e.key_slot,
                    key: e.key,
                    elem_slot: e.elem_slot,
                    elem: e.elem,
                    by_hash: false,
                    dir_range,
                };
                self.read_elem(rec, &found)?;
                return Ok((Some(found), n));
            }
        }
        Ok((None, n))
    }

    /// Records the elem slot's read (and the indirect hop).
    pub fn read_elem(&self, rec: &mut Recorder<'_>, f: &Found) -> Result<(), PathError> {
        let shape = self.pm.map.shape();
        let off = f.elem_slot.wrapping_sub(f.container);
        let what = match f.place {
            crate::maps::Place::Bucket { old: true, .. } => "old bucket",
            _ => container_name(&self.pm.map),
        };
        if shape.indirect_elem {
            rec.read(
                what,
                format!("elem slot {} (pointer to the elem)", f.slot),
                f.container,
                off,
                8,
            )?;
            rec.read(
                "elem",
                format!("elem {} (indirect)", f.slot),
                f.elem,
                0,
                shape.elem_size.min(STEP_BYTES as u64),
            )?;
        } else {
            rec.read(
                what,
                format!("elem slot {}", f.slot),
                f.container,
                off,
                shape.elem_size.min(STEP_BYTES as u64),
            )?;
        }
        Ok(())
    }
}

/// What a bucket or group is called in the steps.
pub(crate) fn container_name(map: &MapHandle) -> &'static str {
    match map {
        MapHandle::Classic(_) => "bucket",
        MapHandle::Swiss(_) => "group",
    }
}
