//! Proving a map type a user names (`0xADDR:TYPE`) against the map's own
//! memory before anything is decoded with it: the header's buckets/groups
//! walked with that type's slot layout must hold exactly the header's count,
//! and a sample of stored keys hashed as that key type with the map's seed
//! must give the tophash/h2 stored beside them — the census's own test
//! ([`Candidate::hashes_match`]). When the type fails, the binary's map types
//! that pass are named instead.

use std::sync::Arc;

use super::candidates::{Candidate, Candidates, HashVerdict};
use crate::binary::{GoBinary, GoType};
use crate::maps::{Entry, MapHandle, MapShape};
use crate::memory::Memory;
use crate::path::params::TargetHash;
use crate::path::MemResolver;

/// Stored keys hashed per type (8 matching h2 values leave a 2^-56 chance).
const KEYS_TO_PROVE: usize = 8;
/// Maps up to this many entries are walked in full to hold the walk against
/// the header's count; larger ones are checked on the sample alone (a full
/// walk per candidate shape would cost more than the command).
const FULL_WALK_MAX: u64 = 1 << 16;
/// Candidates named in an error.
pub const MAX_NAMED: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The walk fits and this many sampled keys hash to their stored tags.
    Proved { keys_hashed: u32 },
    /// Nothing contradicts the type, but nothing proves it either.
    Unproven { why: String },
    /// The map's memory contradicts the type.
    Wrong { why: String },
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TypeProof {
    pub type_name: String,
    #[serde(flatten)]
    pub verdict: Verdict,
    /// When the type is wrong: the binary's map types that fit the map's
    /// memory and whose hashes agree (at most [`MAX_NAMED`]), and how many
    /// there were.
    pub candidates: Vec<String>,
    pub candidates_total: usize,
}

impl TypeProof {
    pub fn is_wrong(&self) -> bool {
        matches!(self.verdict, Verdict::Wrong { .. })
    }
}

/// Walks the map at `header` with `shape`: `Err(why)` when the walk breaks or
/// finds another count than the header's; else a sample of entries.
fn fit(
    mem: &Arc<dyn Memory>,
    bin: &GoBinary,
    header: u64,
    shape: MapShape,
    full: bool,
) -> Result<(MapHandle, Vec<Entry>), String> {
    let layout = crate::layout::RuntimeLayout::for_binary(bin).ok_or("the map runtime is unknown")?;
    let variant = bin.map_variant().variant.ok_or("the map variant is unknown")?;
    let handle = MapHandle::open(mem.clone(), &layout, variant, header, shape).map_err(|e| e.to_string())?;
    let count = handle.header_len();
    let what = crate::path::container_name(&handle);
    if full || count <= FULL_WALK_MAX {
        let (stats, err) = handle.stats();
        if let Some(e) = err {
            return Err(format!(
                "walking its {what}s of {} bytes fails: {e}",
                shape.container_size()
            ));
        }
        if stats.entries != count {
            return Err(format!(
                "its {what}s of {} bytes hold {} entries, the header says {count}",
                shape.container_size(),
                stats.entries
            ));
        }
    }
    let mut sample = Vec::new();
    for e in handle.entries().take(KEYS_TO_PROVE) {
        match e {
            Ok(e) => sample.push(e),
            Err(e) => {
                return Err(format!(
                    "walking its {what}s of {} bytes fails: {e}",
                    shape.container_size()
                ))
            }
        }
    }
    if sample.is_empty() && count > 0 {
        return Err(format!(
            "its {what}s of {} bytes hold no entry, the header says {count}",
            shape.container_size()
        ));
    }
    Ok((handle, sample))
}

fn seed_of(map: &MapHandle) -> (u64, bool) {
    match map {
        MapHandle::Classic(m) => (crate::hash::placement::classic_seed(m.header.hash0), true),
        MapHandle::Swiss(m) => (m.header.seed, false),
    }
}

/// Proves `ty` for the map whose header is at `header`. `full_walk`: hold
/// the whole walk against the header's count whatever the map's size (a
/// command that walks it anyway pays nothing more).
pub fn prove_type(bin: &GoBinary, mem: Arc<dyn Memory>, header: u64, ty: &GoType, full_walk: bool) -> TypeProof {
    let target = crate::path::params::read_target_hash(bin, &*mem).ok();
    let resolver = MemResolver::new(bin, &*mem);
    let own = Candidate::for_type(bin, &*mem, ty.clone(), 0);
    let verdict = match &own {
        None => Verdict::Unproven {
            why: format!("the slot layout of {} cannot be read", ty.name),
        },
        Some(c) => match fit(&mem, bin, header, c.shape, full_walk) {
            Err(why) => Verdict::Wrong { why },
            Ok((map, sample)) => {
                let (seed, classic) = seed_of(&map);
                match c.hashes_match(bin, &*mem, target.as_ref(), &sample, seed, classic, &resolver) {
                    HashVerdict::Agree(n) => Verdict::Proved { keys_hashed: n },
                    HashVerdict::Disagree => Verdict::Wrong {
                        why: format!(
                            "its stored keys, hashed as {} with the map's seed, do not give the {} stored beside them",
                            key_name(c),
                            if classic { "tophash" } else { "control byte (h2)" }
                        ),
                    },
                    HashVerdict::Silent => Verdict::Unproven {
                        why: if sample.is_empty() {
                            "the map is empty: no stored key to hash".to_string()
                        } else if target.is_none() {
                            "the target's hash parameters cannot be read".to_string()
                        } else {
                            format!("mapscope cannot hash {} keys here", key_name(c))
                        },
                    },
                }
            }
        },
    };
    let mut proof = TypeProof {
        type_name: ty.name.clone(),
        verdict,
        candidates: Vec::new(),
        candidates_total: 0,
    };
    if proof.is_wrong() {
        let found = matching_types(bin, &mem, header, target.as_ref(), &resolver);
        proof.candidates_total = found.len();
        proof.candidates = found.into_iter().take(MAX_NAMED).collect();
    }
    proof
}

fn key_name(c: &Candidate) -> String {
    c.ty.map_key()
        .map_or_else(|| "its key type".to_string(), |k| k.name.clone())
}

/// The binary's map types whose shape fits the map's memory and whose
/// hashes agree with its stored tags (types that cannot be hashed are
/// named when their shape fits and nothing else is proved).
fn matching_types(
    bin: &GoBinary,
    mem: &Arc<dyn Memory>,
    header: u64,
    target: Option<&TargetHash>,
    resolver: &MemResolver<'_>,
) -> Vec<String> {
    let cands = Candidates::load(bin, &**mem);
    let mut shapes: Vec<(MapShape, Vec<usize>)> = Vec::new();
    for (i, c) in cands.all.iter().enumerate() {
        match shapes.iter_mut().find(|(s, _)| *s == c.shape) {
            Some((_, v)) => v.push(i),
            None => shapes.push((c.shape, vec![i])),
        }
    }
    let (mut agree, mut silent) = (Vec::new(), Vec::new());
    for (shape, idx) in shapes {
        let Ok((map, sample)) = fit(mem, bin, header, shape, false) else {
            continue;
        };
        let (seed, classic) = seed_of(&map);
        let mut by_key: std::collections::HashMap<usize, HashVerdict> = std::collections::HashMap::new();
        for i in idx {
            let Some(c) = cands.get(i) else { continue };
            let v = *by_key
                .entry(c.key_group)
                .or_insert_with(|| c.hashes_match(bin, &**mem, target, &sample, seed, classic, resolver));
            match v {
                HashVerdict::Agree(_) => agree.push(c.ty.name.clone()),
                HashVerdict::Silent => silent.push(c.ty.name.clone()),
                HashVerdict::Disagree => {}
            }
        }
    }
    let mut out = if agree.is_empty() { silent } else { agree };
    out.sort();
    out.dedup();
    out
}
