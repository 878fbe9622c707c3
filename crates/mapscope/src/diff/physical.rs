//! What changed in a map's structure between two snapshots of one process:
//! classic growth and evacuation, Swiss directory doubling, table splits and
//! grows, capacity, tombstones, and a seed reset by `clear`. Read from two
//! [`MapHandle`]s and their [`MapStats`]: the layouts stay in `maps/`.

use serde::Serialize;

use crate::maps::classic::ClassicHeader;
use crate::maps::swiss::{SwissHeader, TableInfo};
use crate::maps::{MapHandle, MapStats};

/// A table and the directory slots it fills (first, last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableSlots {
    #[serde(serialize_with = "hex")]
    pub table: u64,
    pub directory: (u64, u64),
    pub capacity: u16,
    pub local_depth: u8,
}

fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

/// One structural change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Classic: `hashGrow` ran (B grew, or a same-size grow started).
    GrowStarted { b_before: u8, b_after: u8, same_size: bool },
    /// Classic: the old array was released.
    GrowFinished { b: u8 },
    /// Classic: B differs and no growth is in progress in either snapshot
    /// (a whole grow happened in between).
    BucketsResized { b_before: u8, b_after: u8 },
    /// Classic: `nevacuate` of `old_buckets` evacuated in the after snapshot.
    Evacuated {
        before: Option<u64>,
        after: u64,
        old_buckets: u64,
    },
    /// Classic: `noverflow`.
    Overflow { before: u16, after: u16 },
    /// The hash seed differs: the map was cleared (or emptied by deletes).
    SeedChanged { before: String, after: String },
    /// Swiss: the directory grew (`dirLen`, `globalDepth`).
    Directory {
        before: u64,
        after: u64,
        global_depth_before: u8,
        global_depth_after: u8,
    },
    /// Swiss: a small map (one group) became a table.
    SmallToTable,
    /// Swiss: a table at its largest capacity was split into tables that
    /// fill its directory range.
    TableSplit { table: TableSlots, into: Vec<TableSlots> },
    /// Swiss: a table was rehashed into a new one of another capacity.
    TableGrown { table: TableSlots, into: TableSlots },
    /// Swiss: total capacity over all tables (slots).
    Capacity { before: u64, after: u64 },
    /// Swiss: total growthLeft over all tables.
    GrowthLeft { before: u64, after: u64 },
    /// Swiss deleted control bytes; classic emptyOne marks.
    Tombstones { before: u64, after: u64 },
    /// Entries found in both snapshots whose bucket/group or slot differs.
    EntriesMoved { count: u64 },
}

fn slots(t: &TableInfo) -> TableSlots {
    TableSlots {
        table: t.addr,
        directory: (t.dir_first, t.dir_first + t.dir_slots.saturating_sub(1)),
        capacity: t.capacity,
        local_depth: t.local_depth,
    }
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::GrowStarted {
                b_before,
                b_after,
                same_size,
            } => {
                if *same_size {
                    write!(f, "same-size grow started: B {b_after}")
                } else {
                    write!(f, "grow started: B {b_before}→{b_after}")
                }
            }
            Event::GrowFinished { b } => write!(f, "grow finished: B {b}"),
            Event::BucketsResized { b_before, b_after } => write!(f, "buckets resized: B {b_before}→{b_after}"),
            Event::Evacuated { after, old_buckets, .. } => write!(f, "evacuated {after}/{old_buckets} buckets"),
            Event::Overflow { before, after } => write!(f, "overflow buckets {before}→{after}"),
            Event::SeedChanged { before, after } => write!(f, "seed changed (clear): {before}→{after}"),
            Event::Directory { before, after, .. } => write!(f, "directory {before}→{after} slots"),
            Event::SmallToTable => write!(f, "small map became a table"),
            Event::TableSplit { table, into } => {
                write!(
                    f,
                    "table {:#x} ({}) split into ",
                    table.table,
                    directory_slots(table.directory)
                )?;
                for (i, t) in into.iter().enumerate() {
                    if i > 0 {
                        write!(f, "{}", if i + 1 == into.len() { " and " } else { ", " })?;
                    }
                    write!(f, "{:#x} ({})", t.table, directory_slots(t.directory))?;
                }
                Ok(())
            }
            Event::TableGrown { table, into } => write!(
                f,
                "table {:#x} grew into {:#x}: capacity {}→{}",
                table.table, into.table, table.capacity, into.capacity
            ),
            Event::Capacity { before, after } => write!(f, "capacity {before}→{after}"),
            Event::GrowthLeft { before, after } => write!(f, "growthLeft {before}→{after}"),
            Event::Tombstones { before, after } => {
                if after >= before {
                    write!(f, "tombstones +{} ({before}→{after})", after - before)
                } else {
                    write!(f, "tombstones cleared −{} ({before}→{after})", before - after)
                }
            }
            Event::EntriesMoved { count } => write!(
                f,
                "{count} {} now in another bucket, group or slot",
                if *count == 1 { "entry" } else { "entries" }
            ),
        }
    }
}

/// The structural events between `before` and `after` (one process), and
/// `moved` entries counted by the entry diff.
pub fn physical_events(
    before: (&MapHandle, &MapStats),
    after: (&MapHandle, &MapStats),
    moved: Option<u64>,
) -> Vec<Event> {
    let mut ev = match (before.0, after.0) {
        (MapHandle::Classic(a), MapHandle::Classic(b)) => classic(&a.header, &b.header),
        (MapHandle::Swiss(a), MapHandle::Swiss(b)) => swiss(&a.header, &a.tables, &b.header, &b.tables),
        _ => Vec::new(),
    };
    let (ta, tb) = (before.1.tombstones, after.1.tombstones);
    if ta != tb {
        ev.push(Event::Tombstones { before: ta, after: tb });
    }
    if let Some(count) = moved.filter(|&m| m > 0) {
        ev.push(Event::EntriesMoved { count });
    }
    ev
}

fn classic(a: &ClassicHeader, b: &ClassicHeader) -> Vec<Event> {
    let mut ev = Vec::new();
    // A new grow: growing now, and not before or over another old array.
    if b.growing() && (!a.growing() || a.oldbuckets != b.oldbuckets) {
        ev.push(Event::GrowStarted {
            b_before: if a.growing() { b.b.saturating_sub(1) } else { a.b },
            b_after: b.b,
            same_size: b.same_size_grow(),
        });
    } else if a.growing() && !b.growing() {
        ev.push(Event::GrowFinished { b: b.b });
    } else if a.b != b.b {
        ev.push(Event::BucketsResized {
            b_before: a.b,
            b_after: b.b,
        });
    }
    if b.growing() && (!a.growing() || a.oldbuckets != b.oldbuckets || a.nevacuate != b.nevacuate) {
        ev.push(Event::Evacuated {
            before: (a.growing() && a.oldbuckets == b.oldbuckets).then_some(a.nevacuate),
            after: b.nevacuate,
            old_buckets: b.old_bucket_count(),
        });
    }
    if a.noverflow != b.noverflow {
        ev.push(Event::Overflow {
            before: a.noverflow,
            after: b.noverflow,
        });
    }
    if a.hash0 != b.hash0 {
        ev.push(Event::SeedChanged {
            before: format!("{:#010x}", a.hash0),
            after: format!("{:#010x}", b.hash0),
        });
    }
    ev
}

fn swiss(a: &SwissHeader, at: &[TableInfo], b: &SwissHeader, bt: &[TableInfo]) -> Vec<Event> {
    let mut ev = Vec::new();
    if a.is_small() && !b.is_small() {
        ev.push(Event::SmallToTable);
    }
    if a.dir_len != b.dir_len || a.global_depth != b.global_depth {
        ev.push(Event::Directory {
            before: a.dir_len,
            after: b.dir_len,
            global_depth_before: a.global_depth,
            global_depth_after: b.global_depth,
        });
    }
    // Each old table's directory range, scaled to the new directory, is
    // filled by the tables it became (the directory only grows).
    if !a.is_small() && !b.is_small() && b.dir_len >= a.dir_len && a.dir_len > 0 {
        let scale = b.dir_len / a.dir_len;
        for t in at {
            let lo = t.dir_first.saturating_mul(scale);
            let hi = t.dir_first.saturating_add(t.dir_slots).saturating_mul(scale);
            let now: Vec<&TableInfo> = bt
                .iter()
                .filter(|n| n.dir_first < hi && n.dir_first.saturating_add(n.dir_slots) > lo)
                .collect();
            match now.as_slice() {
                [one] if one.addr == t.addr => {}
                [one] => ev.push(Event::TableGrown {
                    table: slots(t),
                    into: slots(one),
                }),
                [] => {}
                many => ev.push(Event::TableSplit {
                    table: slots(t),
                    into: many.iter().map(|n| slots(n)).collect(),
                }),
            }
        }
    }
    let cap = |ts: &[TableInfo]| ts.iter().map(|t| u64::from(t.capacity)).sum::<u64>();
    let left = |ts: &[TableInfo]| ts.iter().map(|t| u64::from(t.growth_left)).sum::<u64>();
    let (ca, cb) = (cap(at), cap(bt));
    if ca != cb {
        ev.push(Event::Capacity { before: ca, after: cb });
    }
    let (la, lb) = (left(at), left(bt));
    if la != lb {
        ev.push(Event::GrowthLeft { before: la, after: lb });
    }
    if a.seed != b.seed {
        ev.push(Event::SeedChanged {
            before: format!("{:#x}", a.seed),
            after: format!("{:#x}", b.seed),
        });
    }
    ev
}

/// "directory slot 3" or "directory slots 0–3", as a person writes a range.
pub fn directory_slots((first, last): (u64, u64)) -> String {
    if first == last {
        format!("directory slot {first}")
    } else {
        format!("directory slots {first}–{last}")
    }
}
