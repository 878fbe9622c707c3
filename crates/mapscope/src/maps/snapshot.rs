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

/// Why a snapshot of a process that stood still (a core, a paused process)
/// may hold a half-made entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MidWrite {
    /// The header's writing flag: the runtime is inside an assign or delete.
    #[error("the map was being written: this snapshot may hold a half-made entry")]
    Flag,
    /// A thread or preempted goroutine past the point where an assign into
    /// this map counted the key and cleared the flag, and before its
    /// caller's store: the elem reads as its zero value (or what a deleted
    /// entry left there), with nothing in the map's memory to say so.
    #[error("a value was being stored into {} ({store}): the new entry reads as its zero value", slot_text(*.slot, .what))]
    Store {
        store: crate::disasm::StoreInFlight,
        /// The bucket or group, and the slot, whose elem it is, where the
        /// thread's registers say (not while the entry point returns).
        slot: Option<(u64, u8)>,
        /// `bucket` or `group`.
        what: &'static str,
    },
}

fn slot_text(slot: Option<(u64, u8)>, what: &str) -> String {
    match slot {
        Some((container, i)) => format!("slot {i} of the {what} at {container:#x}"),
        None => "this map".into(),
    }
}

/// [`MidWrite`] for `map`, from its header and from where the threads
/// (`threads`: a core's notes, a paused process's registers) and the
/// goroutines preempted off them stopped.
pub fn mid_write(
    bin: &crate::binary::GoBinary,
    mem: &dyn crate::memory::Memory,
    threads: &[crate::memory::ThreadStatus],
    map: &MapHandle,
) -> Option<MidWrite> {
    if map.writing() {
        return Some(MidWrite::Flag);
    }
    let goroutines = crate::roots::find_roots(bin, mem, threads)
        .map(|r| r.goroutines)
        .unwrap_or_default();
    let stores = crate::disasm::stores_in_flight(bin, mem, threads, &goroutines);
    if stores.is_empty() {
        return None;
    }
    let header = match map {
        MapHandle::Classic(m) => m.header.addr,
        MapHandle::Swiss(m) => m.header.addr,
    };
    let header_len = usize::try_from(map.header_len()).unwrap_or(usize::MAX);
    let entries = || map.entries().take(header_len).filter_map(Result::ok);
    stores.into_iter().find_map(|store| {
        if !store.is_into(header, entries().map(|e| (e.elem_slot, e.elem))) {
            return None;
        }
        let slot = match store.stage {
            crate::disasm::Stage::Returned { elem } => entries()
                .find(|e| e.elem_slot == elem || e.elem == elem)
                .map(|e| (e.container, e.slot)),
            crate::disasm::Stage::Returning { .. } => None,
        };
        Some(MidWrite::Store {
            store,
            slot,
            what: crate::path::container_name(map),
        })
    })
}
