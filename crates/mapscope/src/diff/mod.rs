//! Two snapshots of maps compared: the census map by map ([`census`]), one
//! map's entries by key content ([`entries`], [`key`]) and, within one
//! process, its structure ([`physical`]). `mapscope diff` and `watch` are
//! built on these.

pub mod census;
pub mod entries;
pub mod key;
pub mod physical;

pub use census::{diff_census, CensusDiff, MapDiff, Status};
pub use entries::{decoded, diff_entries, ChangedEntry, Decoded, EntryDiff, EntryIndex, EntryText, MovedEntry};
pub use physical::{directory_slots, physical_events, Event, TableSlots};
