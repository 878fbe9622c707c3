//! What a map costs: memory allocated for it versus memory holding live
//! entries, load, chains and tombstones — computed from one walk of its
//! containers.

use serde::Serialize;

use super::classic::{self, ClassicMap};
use super::swiss::{self, SwissMap};
use super::{Container, MapError, MapHandle, Place};

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MapStats {
    /// Live entries found by the walk.
    pub entries: u64,
    /// Slots in the current bucket array or in all groups (a classic map's
    /// overflow buckets are counted apart).
    pub slots: u64,
    pub load_factor: f64,
    /// Classic: buckets in the array, old buckets, overflow buckets and the
    /// longest chain. Swiss: groups and tables.
    pub buckets: u64,
    pub old_buckets: u64,
    pub overflow_buckets: u64,
    pub longest_chain: u32,
    pub groups: u64,
    pub tables: u64,
    /// Classic `emptyOne` marks / Swiss deleted control bytes.
    pub tombstones: u64,
    /// Classic evacuation marks (2–4) in the old array.
    pub evacuated: u64,
    pub bytes: Bytes,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Bytes {
    pub header: u64,
    /// Bucket arrays (including a classic array's preallocated spare
    /// overflow buckets) or groups.
    pub buckets_or_groups: u64,
    pub overflow: u64,
    pub old_buckets: u64,
    /// Swiss directory and table structs.
    pub directory: u64,
    pub tables: u64,
    /// Pointees of indirect keys and elems.
    pub indirect: u64,
    pub total: u64,
    /// Key, elem and tag bytes of live entries (what the entries need).
    pub live: u64,
    /// Share of `total` not holding live entries, in percent.
    pub overhead_percent: f64,
}

impl MapHandle {
    /// Walks every container once. A structural error ends the walk; the
    /// figures gathered so far come back with it.
    pub fn stats(&self) -> (MapStats, Option<MapError>) {
        let mut s = MapStats::default();
        let mut error = None;
        // Overflow buckets taken from the array's preallocated spares cost
        // nothing beyond the array; only those allocated apart are counted.
        let array = match self {
            MapHandle::Classic(m) => {
                let n = m.header.bucket_count().saturating_add(spare_buckets(m.header.b));
                (
                    m.header.buckets,
                    m.header
                        .buckets
                        .saturating_add(n.saturating_mul(m.shape.container_size())),
                )
            }
            MapHandle::Swiss(_) => (0, 0),
        };
        let mut separate_overflow = 0u64;
        for c in self.containers() {
            match c {
                Ok(c) => {
                    if matches!(c.place, Place::Bucket { depth: 1.., .. }) && !(array.0..array.1).contains(&c.addr) {
                        separate_overflow += 1;
                    }
                    self.count(&c, &mut s)
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        self.finish(&mut s, separate_overflow);
        (s, error)
    }

    fn count(&self, c: &Container, s: &mut MapStats) {
        let (full, tomb): (fn(u8) -> bool, u8) = match self {
            MapHandle::Classic(_) => (classic::is_full, classic::EMPTY_ONE),
            MapHandle::Swiss(_) => (swiss::is_full, swiss::CTRL_DELETED),
        };
        s.entries += c.tags.iter().filter(|&&t| full(t)).count() as u64;
        s.tombstones += c.tags.iter().filter(|&&t| t == tomb).count() as u64;
        match c.place {
            Place::Bucket { old, depth, .. } => {
                if depth > 0 {
                    s.overflow_buckets += 1;
                    s.longest_chain = s.longest_chain.max(depth);
                } else if old {
                    s.old_buckets += 1;
                } else {
                    s.buckets += 1;
                }
                if old {
                    s.evacuated += c
                        .tags
                        .iter()
                        .filter(|&&t| (classic::EVACUATED_X..=classic::EVACUATED_EMPTY).contains(&t))
                        .count() as u64;
                }
            }
            Place::Group { .. } => s.groups += 1,
        }
    }

    fn finish(&self, s: &mut MapStats, separate_overflow: u64) {
        let shape = self.shape();
        let key_w = if shape.indirect_key { 8 } else { shape.key_size };
        let elem_w = if shape.indirect_elem { 8 } else { shape.elem_size };
        let b = &mut s.bytes;
        match self {
            MapHandle::Classic(m) => classic_bytes(m, separate_overflow, b),
            MapHandle::Swiss(m) => swiss_bytes(m, s.groups, b),
        }
        s.slots = match self {
            MapHandle::Classic(m) => m.header.bucket_count().saturating_mul(8),
            MapHandle::Swiss(_) => s.groups.saturating_mul(8),
        };
        s.tables = match self {
            MapHandle::Classic(_) => 0,
            MapHandle::Swiss(m) => m.tables.len() as u64,
        };
        s.load_factor = if s.slots == 0 {
            0.0
        } else {
            s.entries as f64 / s.slots as f64
        };
        let indirect =
            u64::from(shape.indirect_key) * shape.key_size + u64::from(shape.indirect_elem) * shape.elem_size;
        b.indirect = s.entries.saturating_mul(indirect);
        b.live = s
            .entries
            .saturating_mul(key_w.saturating_add(elem_w).saturating_add(1))
            .saturating_add(b.indirect);
        b.total = [
            b.header,
            b.buckets_or_groups,
            b.overflow,
            b.old_buckets,
            b.directory,
            b.tables,
            b.indirect,
        ]
        .iter()
        .fold(0u64, |a, &x| a.saturating_add(x));
        b.overhead_percent = if b.total == 0 {
            0.0
        } else {
            100.0 * (b.total - b.live.min(b.total)) as f64 / b.total as f64
        };
    }
}

/// makeBucketArray preallocates 2^(B-4) spare overflow buckets for B ≥ 4,
/// in the same allocation as the array.
fn spare_buckets(b: u8) -> u64 {
    if b >= 4 {
        1u64 << (b - 4).min(60)
    } else {
        0
    }
}

fn classic_bytes(m: &ClassicMap, separate_overflow: u64, b: &mut Bytes) {
    let size = m.shape.container_size();
    let h = &m.header;
    b.header = m.header_size;
    if h.buckets != 0 {
        b.buckets_or_groups = h.bucket_count().saturating_add(spare_buckets(h.b)).saturating_mul(size);
    }
    b.overflow = separate_overflow.saturating_mul(size);
    b.old_buckets = h.old_bucket_count().saturating_mul(size);
}

fn swiss_bytes(m: &SwissMap, groups: u64, b: &mut Bytes) {
    b.header = m.header_size;
    b.buckets_or_groups = groups.saturating_mul(m.shape.container_size());
    b.directory = m.header.dir_len.saturating_mul(8);
    b.tables = (m.tables.len() as u64).saturating_mul(m.table_size);
}
