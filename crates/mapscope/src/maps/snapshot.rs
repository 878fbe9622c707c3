//! A consistent view of a map that may be changing under the reader (a live
//! process read without pausing it): walk, then re-read the header; if it
//! changed, or the walk found a different number of entries than the header
//! counts, the read was torn — try again, a bounded number of times, and
//! report when it never settles.

use super::{MapError, MapHandle, MapStats};

/// How a walk that never settled looked on its last attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornRead {
    pub attempts: usize,
    pub found: u64,
    pub header_len: u64,
}

impl std::fmt::Display for TornRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the map changed while it was read ({} entries found, header says {}) in each of {} attempts; \
             pause the process for a consistent snapshot",
            self.found, self.header_len, self.attempts
        )
    }
}

pub struct Snapshot {
    pub map: MapHandle,
    pub stats: MapStats,
    /// The structural error that ended the walk, if any.
    pub walk_error: Option<MapError>,
    /// Set when `volatile` and no attempt was consistent.
    pub torn: Option<TornRead>,
}

impl Snapshot {
    /// The header's count held against what the walk found: a header that
    /// claims more or fewer entries than its buckets/groups hold (a corrupt
    /// count, a redirected bucket pointer) is an error, not a result.
    pub fn count_error(&self) -> Option<String> {
        let (found, header) = (self.stats.entries, self.map.header_len());
        if self.torn.is_some() || found == header {
            return None;
        }
        let what = crate::path::container_name(&self.map);
        Some(format!(
            "the header counts {header} entries but its {what}s hold {found}{}",
            if self.walk_error.is_some() {
                " before the walk stopped"
            } else {
                ""
            }
        ))
    }
}

impl MapHandle {
    /// True when both handles read the same header (and, for Swiss maps, the
    /// same tables).
    pub fn same_header(&self, other: &MapHandle) -> bool {
        match (self, other) {
            (MapHandle::Classic(a), MapHandle::Classic(b)) => a.header == b.header,
            (MapHandle::Swiss(a), MapHandle::Swiss(b)) => a.header == b.header && a.tables == b.tables,
            _ => false,
        }
    }
}

/// Opens and walks the map with `open`. A `volatile` source (a live process
/// not paused) is checked for torn reads and retried up to `retries` times.
pub fn snapshot(
    open: impl Fn() -> Result<MapHandle, MapError>,
    volatile: bool,
    retries: usize,
) -> Result<Snapshot, MapError> {
    let mut attempt = 0usize;
    loop {
        attempt += 1;
        let map = open()?;
        let (stats, walk_error) = map.stats();
        let settled =
            !volatile || (walk_error.is_none() && stats.entries == map.header_len() && open()?.same_header(&map));
        if settled || attempt > retries {
            let torn = (!settled).then(|| TornRead {
                attempts: attempt,
                found: stats.entries,
                header_len: map.header_len(),
            });
            return Ok(Snapshot {
                map,
                stats,
                walk_error,
                torn,
            });
        }
    }
}
