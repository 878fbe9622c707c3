//! The census of two snapshots matched map by map.
//!
//! Within one process a map keeps its header address, so maps match by
//! address and owner (then by address and type: an owner path may change
//! when what holds the map does). Across processes addresses mean nothing:
//! maps match by their owner path, normalised as the pprof frames are (a
//! goroutine's local by function and name, not goroutine id) with any heap
//! address masked, and type.
//! Several maps with one key (a slice of maps) pair in order of size.

use std::collections::HashMap;

use serde::Serialize;

use crate::census::{Census, CensusMap, Totals};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Added,
    Removed,
    Changed,
    Same,
}

#[derive(Debug, Clone, Serialize)]
pub struct MapDiff {
    /// The after snapshot's header address, or the before one's for a removed map.
    #[serde(serialize_with = "hex")]
    pub address: u64,
    #[serde(serialize_with = "hex_opt", skip_serializing_if = "Option::is_none")]
    pub address_before: Option<u64>,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub owner: String,
    pub status: Status,
    pub len_before: u64,
    pub len_after: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

impl MapDiff {
    pub fn delta_bytes(&self) -> i128 {
        i128::from(self.bytes_after) - i128::from(self.bytes_before)
    }
}

fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

fn hex_opt<S: serde::Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("{v:#x}")),
        None => s.serialize_none(),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CensusDiff {
    pub same_process: bool,
    /// Sorted by the change in bytes, largest first.
    pub maps: Vec<MapDiff>,
    pub totals_before: Totals,
    pub totals_after: Totals,
}

/// `0x` followed by hex digits becomes `0x…`.
fn mask_addresses(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("0x") {
        let (head, tail) = rest.split_at(i);
        out.push_str(head);
        let digits = tail
            .get(2..)
            .map_or(0, |t| t.bytes().take_while(u8::is_ascii_hexdigit).count());
        if digits == 0 {
            out.push_str("0x");
        } else {
            out.push_str("0x…");
        }
        rest = tail.get(2 + digits..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

/// The key a map keeps across processes. A global keeps its name, or its
/// address when stripped (a Go executable is not position-independent by
/// default, so its globals sit at the same addresses in every process).
pub fn portable_key(m: &CensusMap) -> String {
    let mut frames: Vec<String> = m.profile_frames().iter().map(|f| mask_addresses(f)).collect();
    if let (Some(step), Some(first)) = (m.owner_path.first(), frames.first_mut()) {
        if step.kind == "global" {
            first.clone_from(&step.name);
        }
    }
    format!("{} | {}", frames.join(" > "), m.type_name.as_deref().unwrap_or("?"))
}

fn row(before: Option<&CensusMap>, after: Option<&CensusMap>) -> Option<MapDiff> {
    let m = after.or(before)?;
    let len = |m: Option<&CensusMap>| m.map_or(0, |m| m.len);
    let bytes = |m: Option<&CensusMap>| m.map_or(0, |m| m.bytes);
    let status = match (before, after) {
        (None, _) => Status::Added,
        (_, None) => Status::Removed,
        (Some(a), Some(b)) if a.len == b.len && a.bytes == b.bytes && a.tombstones == b.tombstones => Status::Same,
        _ => Status::Changed,
    };
    Some(MapDiff {
        address: m.address,
        address_before: before
            .filter(|b| after.is_some_and(|a| a.address != b.address))
            .map(|b| b.address),
        type_name: m.type_name.clone(),
        owner: m.owner.clone(),
        status,
        len_before: len(before),
        len_after: len(after),
        bytes_before: bytes(before),
        bytes_after: bytes(after),
    })
}

/// Pairs maps with equal `key`, in order of bytes within each key.
fn pair_by<K: std::hash::Hash + Eq>(
    before: &[&CensusMap],
    after: &[&CensusMap],
    key: impl Fn(&CensusMap) -> K,
) -> (Vec<(usize, usize)>, Vec<usize>, Vec<usize>) {
    let mut groups: HashMap<K, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, m) in before.iter().enumerate() {
        groups.entry(key(m)).or_default().0.push(i);
    }
    for (i, m) in after.iter().enumerate() {
        groups.entry(key(m)).or_default().1.push(i);
    }
    let (mut pairs, mut only_b, mut only_a) = (Vec::new(), Vec::new(), Vec::new());
    for (_, (mut bs, mut as_)) in groups {
        let size = |v: &[&CensusMap], i: &usize| v.get(*i).map_or(0, |m| m.bytes);
        bs.sort_by_key(|i| std::cmp::Reverse(size(before, i)));
        as_.sort_by_key(|i| std::cmp::Reverse(size(after, i)));
        let n = bs.len().min(as_.len());
        pairs.extend(bs.iter().copied().zip(as_.iter().copied()));
        only_b.extend(bs.into_iter().skip(n));
        only_a.extend(as_.into_iter().skip(n));
    }
    (pairs, only_b, only_a)
}

/// Matches the maps of `before` and `after`; `same_process` when both
/// snapshots are of one process (same pid, same executable).
pub fn diff_census(before: &Census, after: &Census, same_process: bool) -> CensusDiff {
    let b: Vec<&CensusMap> = before.maps.iter().collect();
    let a: Vec<&CensusMap> = after.maps.iter().collect();
    let mut rows = Vec::new();
    let (left_b, left_a): (Vec<&CensusMap>, Vec<&CensusMap>) = if same_process {
        let (pairs, ob, oa) = pair_by(&b, &a, |m| (m.address, m.owner.clone()));
        rows.extend(
            pairs
                .iter()
                .filter_map(|&(i, j)| row(b.get(i).copied(), a.get(j).copied())),
        );
        let (rb, ra): (Vec<&CensusMap>, Vec<&CensusMap>) = (
            ob.iter().filter_map(|&i| b.get(i).copied()).collect(),
            oa.iter().filter_map(|&i| a.get(i).copied()).collect(),
        );
        let (pairs, ob, oa) = pair_by(&rb, &ra, |m| (m.address, m.type_name.clone()));
        rows.extend(
            pairs
                .iter()
                .filter_map(|&(i, j)| row(rb.get(i).copied(), ra.get(j).copied())),
        );
        (
            ob.iter().filter_map(|&i| rb.get(i).copied()).collect(),
            oa.iter().filter_map(|&i| ra.get(i).copied()).collect(),
        )
    } else {
        let (pairs, ob, oa) = pair_by(&b, &a, portable_key);
        rows.extend(
            pairs
                .iter()
                .filter_map(|&(i, j)| row(b.get(i).copied(), a.get(j).copied())),
        );
        (
            ob.iter().filter_map(|&i| b.get(i).copied()).collect(),
            oa.iter().filter_map(|&i| a.get(i).copied()).collect(),
        )
    };
    rows.extend(left_b.into_iter().filter_map(|m| row(Some(m), None)));
    rows.extend(left_a.into_iter().filter_map(|m| row(None, Some(m))));
    rows.sort_by(|x, y| {
        y.delta_bytes()
            .abs()
            .cmp(&x.delta_bytes().abs())
            .then_with(|| x.owner.cmp(&y.owner))
            .then_with(|| x.address.cmp(&y.address))
    });
    CensusDiff {
        same_process,
        maps: rows,
        totals_before: before.totals.clone(),
        totals_after: after.totals.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::mask_addresses;

    #[test]
    fn masks_hex_addresses_only() {
        assert_eq!(mask_addresses("main.f: m (0xc000123) 0x"), "main.f: m (0x…) 0x");
        assert_eq!(mask_addresses("no address"), "no address");
    }
}
