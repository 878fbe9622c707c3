//! Deciding `verified` for one key, and checking every entry of a map
//! (`path --all`): each stored key is hashed with the map's seed, and its
//! slot must be where a lookup of that hash goes — the right bucket (old or
//! new, given the evacuation state) with the right tophash, or the right
//! table, a group the probe sequence reaches before any group with an empty
//! slot, and the right control byte. A misplaced entry is one a lookup would
//! not find: corruption, or a torn read of a live map.

use std::collections::{BTreeMap, HashMap};

use super::{Found, HashReport, MemResolver, PathMap, Placement};
use crate::hash::placement::{
    classic_bucket, classic_old_bucket, classic_tophash, swiss_directory_index, swiss_h2, ProbeSeq,
};
use crate::hash::HashOutcome;
use crate::maps::swiss::{SwissMap, CTRL_EMPTY};
use crate::maps::{Entry, MapHandle, Place};
use crate::memory::MemoryExt;
use crate::values::ValueDecoder;

/// Whether the computed hash leads exactly to the slot holding the key, and
/// the comparisons that say so.
pub(crate) fn judge(report: &HashReport, found: Option<&Found>) -> (bool, Vec<String>) {
    let mut checks = Vec::new();
    let Some(hash) = report.value else {
        checks.push(format!(
            "no hash: {}",
            report.unavailable.as_deref().unwrap_or("not computed")
        ));
        return (false, checks);
    };
    let Some(f) = found else {
        checks.push("the key is not in the map: nothing to compare".into());
        return (false, checks);
    };
    let mut ok = f.by_hash;
    if !f.by_hash {
        checks.push(format!(
            "the hash {hash:#x} does not lead to the key, which is in {} slot {}",
            f.place, f.slot
        ));
    }
    match (&report.placement, f.place) {
        (
            Placement::Classic {
                bucket,
                old_bucket,
                tophash,
                ..
            },
            Place::Bucket { old, index, depth },
        ) => {
            let tag_ok = f.tag == *tophash;
            checks.push(format!(
                "tophash: computed {tophash:#04x}, stored {:#04x} — {}",
                f.tag,
                if tag_ok { "equal" } else { "DIFFERENT" }
            ));
            let want = if old { *old_bucket } else { Some(*bucket) };
            let bucket_ok = want == Some(index);
            checks.push(format!(
                "bucket: computed {}{}, key found in {}bucket {index}{} — {}",
                if old { "old bucket " } else { "bucket " },
                want.map_or_else(|| "?".into(), |w| w.to_string()),
                if old { "old " } else { "" },
                if depth > 0 {
                    format!(" (overflow {depth})")
                } else {
                    String::new()
                },
                if bucket_ok { "equal" } else { "DIFFERENT" }
            ));
            ok &= tag_ok && bucket_ok;
        }
        (
            Placement::Swiss {
                h2,
                small,
                directory_index,
                probe_start,
                ..
            },
            Place::Group { table, index },
        ) => {
            let tag_ok = f.tag == *h2;
            checks.push(format!(
                "h2: computed {h2:#04x}, control byte {:#04x} — {}",
                f.tag,
                if tag_ok { "equal" } else { "DIFFERENT" }
            ));
            ok &= tag_ok;
            if *small {
                ok &= table.is_none();
                checks.push("small map: the one group holds the key".into());
            } else {
                let dir_ok = f.dir_range.is_some_and(|(a, b)| (a..=b).contains(directory_index));
                checks.push(format!(
                    "directory: computed slot {directory_index}, the key's table fills {} — {}",
                    f.dir_range
                        .map_or_else(|| "unknown directory slots".into(), crate::diff::directory_slots),
                    if dir_ok { "inside" } else { "OUTSIDE" }
                ));
                checks.push(format!(
                    "group: probe starts at h1 & lengthMask = {}, key found in group {index}",
                    probe_start.map_or_else(|| "?".into(), |s| s.to_string())
                ));
                ok &= dir_ok;
            }
        }
        _ => {
            checks.push("the map's variant and the computed placement disagree".into());
            ok = false;
        }
    }
    checks.push(format!(
        "key compared by content in the slot the hash leads to: {}",
        if f.by_hash { "equal" } else { "not there" }
    ));
    (ok, checks)
}

/// One entry a lookup would not find where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplacement {
    pub key_go: String,
    /// The key for a terminal (`%q` strings).
    pub key_text: String,
    pub place: Place,
    pub container: u64,
    pub slot: u8,
    pub tag: u8,
    pub hash: u64,
    pub why: String,
}

/// What `--all` found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// The header's count.
    pub header_count: u64,
    /// Entries walked.
    pub entries: u64,
    /// Entries whose placement matches their hash.
    pub verified: u64,
    pub misplaced: u64,
    /// Keys holding NaN: hashed randomly, so their place proves nothing.
    pub unverifiable: u64,
    /// Keys that could not be hashed (unreadable strings, unhashable
    /// dynamic types), with the first reason.
    pub unhashable: u64,
    pub unhashable_reason: Option<String>,
    /// Why nothing could be hashed (unsupported target), if so.
    pub hash_unavailable: Option<String>,
    /// The walk stopped early.
    pub walk_error: Option<String>,
    /// Classic: entries by overflow depth (0 = the bucket itself); Swiss:
    /// entries by groups probed to reach them (1 = the first group).
    pub probe_lengths: BTreeMap<u64, u64>,
    /// Classic: entries still in the old array.
    pub in_old_array: u64,
    /// The first misplacements (up to the caller's limit).
    pub misplacements: Vec<Misplacement>,
}

impl VerifyReport {
    /// The longest probe or chain, and the mean.
    pub fn probe_summary(&self) -> (u64, f64) {
        let max = self.probe_lengths.keys().next_back().copied().unwrap_or(0);
        let (n, sum) = self.probe_lengths.iter().fold((0u64, 0u64), |(n, s), (&k, &c)| {
            (n + c, s.saturating_add(k.saturating_mul(c)))
        });
        (max, if n == 0 { 0.0 } else { sum as f64 / n as f64 })
    }
}

/// Which groups of each table have an empty slot (where probes stop).
fn empty_groups(m: &SwissMap) -> HashMap<usize, Vec<bool>> {
    let mut out: HashMap<usize, Vec<bool>> = HashMap::new();
    for c in m.groups().flatten() {
        if let Place::Group { table: Some(t), index } = c.place {
            let v = out.entry(t).or_default();
            let i = usize::try_from(index).unwrap_or(usize::MAX);
            if v.len() <= i && i < (1 << 24) {
                v.resize(i + 1, false);
            }
            if let Some(slot) = v.get_mut(i) {
                *slot = c.tags.contains(&CTRL_EMPTY);
            }
        }
    }
    out
}

pub(crate) fn verify_all(pm: &PathMap<'_>, max_listed: usize) -> VerifyReport {
    let mut r = VerifyReport {
        header_count: pm.map.header_len(),
        ..VerifyReport::default()
    };
    let (hasher, _) = match &pm.hasher {
        Ok(h) => h,
        Err(e) => {
            r.hash_unavailable = Some(e.clone());
            return r;
        }
    };
    let seed = pm.seed();
    let resolver = MemResolver::new(pm.bin, &*pm.mem);
    let ks = pm.map.shape().key_size;
    let empties = match &pm.map {
        MapHandle::Swiss(m) if !m.header.is_small() => empty_groups(m),
        _ => HashMap::new(),
    };
    // Classic, while growing: whether each old bucket is evacuated, read once.
    let mut old_evacuated: HashMap<u64, bool> = HashMap::new();
    let decoder = ValueDecoder::new(pm.bin, pm.mem.clone());
    let mut buf = Vec::new();
    for e in pm.map.entries() {
        let e = match e {
            Ok(e) => e,
            Err(err) => {
                r.walk_error = Some(err.to_string());
                break;
            }
        };
        r.entries += 1;
        buf.resize(usize::try_from(ks).unwrap_or(0), 0);
        if let Err(err) = pm.mem.read(e.key, &mut buf) {
            r.unhashable += 1;
            r.unhashable_reason
                .get_or_insert_with(|| format!("key at {:#x}: {err}", e.key));
            continue;
        }
        let hash = match hasher.hash(&buf, seed, &resolver) {
            Ok(HashOutcome::Hash(h)) => h,
            Ok(HashOutcome::NanRandom) => {
                r.unverifiable += 1;
                continue;
            }
            Err(err) => {
                r.unhashable += 1;
                r.unhashable_reason
                    .get_or_insert_with(|| format!("key at {:#x}: {err}", e.key));
                continue;
            }
        };
        let why = match &pm.map {
            MapHandle::Classic(m) => check_classic(pm, m, &e, hash, &mut r, &mut old_evacuated),
            MapHandle::Swiss(m) => check_swiss(m, &e, hash, &mut r, &empties),
        };
        match why {
            None => r.verified += 1,
            Some(why) => {
                r.misplaced += 1;
                if r.misplacements.len() < max_listed {
                    let key = decoder.decode(e.key, &pm.key_type);
                    r.misplacements.push(Misplacement {
                        key_go: key.go_string(),
                        key_text: key.text_string(),
                        place: e.place,
                        container: e.container,
                        slot: e.slot,
                        tag: e.tag,
                        hash,
                        why,
                    });
                }
            }
        }
    }
    r
}

fn check_classic(
    pm: &PathMap<'_>,
    m: &crate::maps::classic::ClassicMap,
    e: &Entry,
    hash: u64,
    r: &mut VerifyReport,
    old_evacuated: &mut HashMap<u64, bool>,
) -> Option<String> {
    let Place::Bucket { old, index, depth } = e.place else {
        return Some("not in a bucket".into());
    };
    let h = &m.header;
    *r.probe_lengths.entry(u64::from(depth)).or_default() += 1;
    let top = classic_tophash(hash);
    if e.tag != top {
        return Some(format!("tophash {:#04x} stored, {top:#04x} computed", e.tag));
    }
    if old {
        r.in_old_array += 1;
        let want = classic_old_bucket(hash, h.b, h.same_size_grow()).ok()?;
        if want != index {
            return Some(format!("in old bucket {index}, its hash gives old bucket {want}"));
        }
        if index < h.nevacuate {
            return Some(format!(
                "live in old bucket {index}, below nevacuate {}: it should have been evacuated",
                h.nevacuate
            ));
        }
        return None;
    }
    let want = classic_bucket(hash, h.b).ok()?;
    if want != index {
        return Some(format!("in bucket {index}, its hash gives bucket {want}"));
    }
    if h.growing() {
        // A lookup searches the old bucket while it is not evacuated; an
        // entry in the new array would then be unreachable.
        let ob = classic_old_bucket(hash, h.b, h.same_size_grow()).ok()?;
        let size = m.shape.container_size();
        let evac = *old_evacuated.entry(ob).or_insert_with(|| {
            pm.mem
                .read_u8(h.oldbuckets.wrapping_add(ob.wrapping_mul(size)))
                .map(super::classic::evacuated)
                .unwrap_or(true)
        });
        if !evac {
            return Some(format!(
                "in bucket {index}, but its old bucket {ob} is not evacuated: a lookup searches there"
            ));
        }
    }
    None
}

fn check_swiss(
    m: &SwissMap,
    e: &Entry,
    hash: u64,
    r: &mut VerifyReport,
    empties: &HashMap<usize, Vec<bool>>,
) -> Option<String> {
    let Place::Group { table, index } = e.place else {
        return Some("not in a group".into());
    };
    let h2 = swiss_h2(hash);
    if e.tag != h2 {
        return Some(format!("control byte {:#04x} stored, h2 {h2:#04x} computed", e.tag));
    }
    let Some(t) = table else {
        // Small map: one group, h2 compared in every slot.
        *r.probe_lengths.entry(1).or_default() += 1;
        return None;
    };
    let info = m.tables.get(t)?;
    let idx = swiss_directory_index(hash, m.header.global_shift, m.header.dir_len);
    if idx < info.dir_first || idx >= info.dir_first.saturating_add(info.dir_slots) {
        return Some(format!(
            "in the table of directory slots {}..{}, its hash gives slot {idx}",
            info.dir_first,
            info.dir_first.saturating_add(info.dir_slots)
        ));
    }
    let empty = empties.get(&t);
    for (k, g) in ProbeSeq::new(hash, info.length_mask).enumerate() {
        if g == index {
            *r.probe_lengths.entry(k as u64 + 1).or_default() += 1;
            return None;
        }
        let usize_g = usize::try_from(g).unwrap_or(usize::MAX);
        if empty.and_then(|v| v.get(usize_g)).copied().unwrap_or(false) {
            return Some(format!(
                "in group {index}, but the probe from group {} stops at group {g} (it has an empty slot) after {} groups",
                ProbeSeq::new(hash, info.length_mask).next().unwrap_or(0),
                k + 1
            ));
        }
    }
    Some(format!("group {index} is not on the key's probe sequence"))
}
