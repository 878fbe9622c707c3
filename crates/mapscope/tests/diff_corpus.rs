//! `diff` against the snapshot pairs of `fixtures/difffix`: a gcore before
//! and a kernel core after the program changed its maps. The entry diff must
//! equal the program's own account of its maps (ranged before and after),
//! the physical events must match the header fields it read through its
//! mirrors, and the census diff must find each changed map.

use std::collections::BTreeSet;
use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::census::Census;
use mapscope::diff::{decoded, diff_census, diff_entries, physical_events, EntryIndex, Event, Status};
use mapscope::maps::resolve::{resolve, NamedMap};
use mapscope::maps::{MapHandle, MapStats};
use mapscope::memory::{CoreFile, Memory};
use mapscope::values::ValueDecoder;
use mapscope_fixtures::diffpair::{pairs, DiffPair, MapChangeTruth, MapStateTruth};
use serde_json::Value;

struct Snap {
    bin: GoBinary,
    mem: Arc<dyn Memory>,
    threads: Vec<mapscope::memory::ThreadStatus>,
}

fn open(pair: &DiffPair, after: bool) -> Snap {
    let exe = pair.binary_path().unwrap();
    let core = if after {
        pair.after_core().unwrap()
    } else {
        pair.before_core().unwrap()
    };
    let bin = GoBinary::open(&exe).unwrap();
    let core = CoreFile::open_with_executable(&core, &exe).unwrap();
    let threads = core.notes().threads.clone();
    Snap {
        bin,
        mem: Arc::new(core),
        threads,
    }
}

fn hex(s: &str) -> u64 {
    u64::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

/// By the global's name where DWARF has it, else by the address and type the
/// program printed; either way the header must be where the program says.
fn named(pair: &DiffPair, s: &Snap, m: &MapStateTruth) -> NamedMap {
    let expr = if pair.entry.stripped {
        format!("{}:{}", m.address, m.type_name)
    } else {
        m.name.clone()
    };
    let n = resolve(&s.bin, &*s.mem, &expr).unwrap_or_else(|e| panic!("{}: {expr}: {e}", pair.name()));
    assert_eq!(n.header, hex(&m.address), "{}: {expr}", pair.name());
    n
}

fn open_map(s: &Snap, n: &NamedMap) -> (MapHandle, MapStats) {
    let m = MapHandle::for_type(s.mem.clone(), &s.bin, n.header, &n.map_type).unwrap();
    let (stats, err) = m.stats();
    assert!(err.is_none(), "{err:?}");
    (m, stats)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Header fields against the program's own mirror.
fn check_header(pair: &DiffPair, name: &str, m: &MapHandle, stats: &MapStats, t: &MapStateTruth) {
    let p = &t.physical;
    let ctx = format!("{} {name}", pair.name());
    match m {
        MapHandle::Classic(c) => {
            let h = &c.header;
            assert_eq!(u64::from(h.b), u(&p["B"]), "{ctx}: B");
            assert_eq!(h.growing(), p["growing"].as_bool().unwrap(), "{ctx}: growing");
            assert_eq!(
                h.oldbuckets,
                hex(p["oldbuckets"].as_str().unwrap()),
                "{ctx}: oldbuckets"
            );
            assert_eq!(h.nevacuate, u(&p["nevacuate"]), "{ctx}: nevacuate");
            assert_eq!(u64::from(h.noverflow), u(&p["noverflow"]), "{ctx}: noverflow");
            assert_eq!(u64::from(h.hash0), hex(p["seed"].as_str().unwrap()), "{ctx}: hash0");
        }
        MapHandle::Swiss(s) => {
            let h = &s.header;
            assert_eq!(h.dir_len, u(&p["dirLen"]), "{ctx}: dirLen");
            assert_eq!(u64::from(h.global_depth), u(&p["globalDepth"]), "{ctx}: globalDepth");
            assert_eq!(h.seed, hex(p["seed"].as_str().unwrap()), "{ctx}: seed");
            assert_eq!(stats.tombstones, u(&p["tombstones"]), "{ctx}: tombstones");
            let want: Vec<(u64, u64, u64, u64, u64)> = p["tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    (
                        hex(t["address"].as_str().unwrap()),
                        u(&t["capacity"]),
                        u(&t["growthLeft"]),
                        u(&t["localDepth"]),
                        u(&t["index"]),
                    )
                })
                .collect();
            let got: Vec<(u64, u64, u64, u64, u64)> = s
                .tables
                .iter()
                .map(|t| {
                    (
                        t.addr,
                        u64::from(t.capacity),
                        u64::from(t.growth_left),
                        u64::from(t.local_depth),
                        t.index as u64,
                    )
                })
                .collect();
            assert_eq!(got, want, "{ctx}: tables");
        }
    }
}

/// The events the program's own header readings imply must be there.
fn check_events(pair: &DiffPair, t: &MapChangeTruth, ev: &[Event]) {
    let (b, a) = (&t.before.physical, &t.after.physical);
    let ctx = format!("{} {}: {ev:?}", pair.name(), t.name);
    let seed_changed = b["seed"] != a["seed"];
    assert_eq!(
        ev.iter().any(|e| matches!(e, Event::SeedChanged { .. })),
        seed_changed,
        "{ctx}: seed changed"
    );
    if a.contains_key("B") {
        let grow_started = !b["growing"].as_bool().unwrap() && a["growing"].as_bool().unwrap();
        assert_eq!(
            ev.iter()
                .any(|e| matches!(e, Event::GrowStarted { b_before, b_after, .. }
                if u64::from(*b_before) == u(&b["B"]) && u64::from(*b_after) == u(&a["B"]))),
            grow_started,
            "{ctx}: grow started"
        );
        let progressed = !b["growing"].as_bool().unwrap() || b["nevacuate"] != a["nevacuate"];
        if a["growing"].as_bool().unwrap() && progressed {
            let old = 1u64 << (u(&a["B"]) - 1);
            assert!(
                ev.iter()
                    .any(|e| matches!(e, Event::Evacuated { after, old_buckets, .. }
                    if *after == u(&a["nevacuate"]) && *old_buckets == old)),
                "{ctx}: evacuated {}/{old}",
                a["nevacuate"]
            );
        }
        if b["noverflow"] != a["noverflow"] {
            assert!(ev.iter().any(|e| matches!(e, Event::Overflow { before, after }
                if u64::from(*before) == u(&b["noverflow"]) && u64::from(*after) == u(&a["noverflow"]))));
        }
    } else {
        if b["dirLen"] != a["dirLen"] {
            assert!(
                ev.iter().any(
                    |e| matches!(e, Event::Directory { before, after, global_depth_before, global_depth_after }
                    if *before == u(&b["dirLen"]) && *after == u(&a["dirLen"])
                    && u64::from(*global_depth_before) == u(&b["globalDepth"])
                    && u64::from(*global_depth_after) == u(&a["globalDepth"]))
                ),
                "{ctx}: directory"
            );
        }
        let addrs = |p: &std::collections::BTreeMap<String, Value>| -> BTreeSet<u64> {
            p["tables"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| hex(t["address"].as_str().unwrap()))
                .collect()
        };
        let (ta, tb) = (addrs(b), addrs(a));
        // A table gone and two or more new ones where the directory doubled:
        // a split, from the old table into exactly the new ones.
        let gone: BTreeSet<u64> = ta.difference(&tb).copied().collect();
        let new: BTreeSet<u64> = tb.difference(&ta).copied().collect();
        if gone.len() == 1 && new.len() >= 2 {
            assert!(
                ev.iter().any(|e| matches!(e, Event::TableSplit { table, into }
                    if gone.contains(&table.table)
                    && into.iter().map(|t| t.table).collect::<BTreeSet<_>>() == new)),
                "{ctx}: split {gone:x?} into {new:x?}"
            );
        } else if gone.len() == 1 && new.len() == 1 {
            assert!(
                ev.iter().any(|e| matches!(e, Event::TableGrown { table, into }
                    if gone.contains(&table.table) && new.contains(&into.table))),
                "{ctx}: table grown"
            );
        }
        let tomb = (u(&b["tombstones"]), u(&a["tombstones"]));
        if tomb.0 != tomb.1 {
            assert!(
                ev.iter()
                    .any(|e| matches!(e, Event::Tombstones { before, after } if (*before, *after) == tomb)),
                "{ctx}: tombstones {tomb:?}"
            );
        }
        let cap = |p: &std::collections::BTreeMap<String, Value>| -> u64 {
            p["tables"].as_array().unwrap().iter().map(|t| u(&t["capacity"])).sum()
        };
        if cap(b) != cap(a) {
            assert!(
                ev.iter()
                    .any(|e| matches!(e, Event::Capacity { before, after } if (*before, *after) == (cap(b), cap(a)))),
                "{ctx}: capacity"
            );
        }
    }
}

#[test]
fn entry_and_physical_diff_equal_the_programs_truth() {
    let pairs = pairs().unwrap();
    assert!(pairs.len() >= 3, "the corpus has the diff pairs");
    let mut variants = BTreeSet::new();
    for pair in &pairs {
        let truth = pair.truth().unwrap();
        variants.insert(truth.variant.clone());
        let (sa, sb) = (open(pair, false), open(pair, true));
        for t in &truth.maps {
            let (na, nb) = (named(pair, &sa, &t.before), named(pair, &sb, &t.after));
            let (ma, sta) = open_map(&sa, &na);
            let (mb, stb) = open_map(&sb, &nb);
            check_header(pair, &t.name, &ma, &sta, &t.before);
            check_header(pair, &t.name, &mb, &stb, &t.after);

            let da = ValueDecoder::new(&sa.bin, sa.mem.clone());
            let pa = da.entry_plans(&na.map_type).unwrap();
            let mut index = EntryIndex::build(decoded(&ma, &da, &pa));
            assert!(index.errors.is_empty(), "{:?}", index.errors);
            let db = ValueDecoder::new(&sb.bin, sb.mem.clone());
            let pb = db.entry_plans(&nb.map_type).unwrap();
            let (d, _) = diff_entries(&mut index, decoded(&mb, &db, &pb), 0, false);
            let ctx = format!("{} {}", pair.name(), t.name);
            assert!(d.errors.is_empty(), "{ctx}: {:?}", d.errors);
            assert_eq!(d.len_before as usize, t.before.len, "{ctx}: len before");
            assert_eq!(d.len_after as usize, t.after.len, "{ctx}: len after");
            let added: Vec<[String; 2]> = d.added.iter().map(|e| [e.key.clone(), e.value.clone()]).collect();
            let removed: Vec<[String; 2]> = d.removed.iter().map(|e| [e.key.clone(), e.value.clone()]).collect();
            let changed: Vec<[String; 3]> = d
                .changed
                .iter()
                .map(|c| [c.key.clone(), c.before.clone(), c.after.clone()])
                .collect();
            assert_eq!(added, t.added, "{ctx}: added");
            assert_eq!(removed, t.removed, "{ctx}: removed");
            assert_eq!(changed, t.changed, "{ctx}: changed");
            assert_eq!(
                d.same as usize,
                t.before.len - t.removed.len() - t.changed.len(),
                "{ctx}: same"
            );

            let ev = physical_events((&ma, &sta), (&mb, &stb), Some(d.moved));
            check_events(pair, t, &ev);
        }
    }
    for v in ["classic", "swiss", "swiss-split"] {
        assert!(variants.contains(v), "no {v} pair in the corpus");
    }
    assert!(pairs.iter().any(|p| p.entry.stripped), "no stripped pair");
}

fn census(s: &Snap) -> Census {
    mapscope::census::run(&s.bin, s.mem.clone(), &s.threads, None).unwrap()
}

#[test]
fn census_diff_finds_each_changed_map() {
    for pair in pairs().unwrap() {
        let truth = pair.truth().unwrap();
        let (sa, sb) = (open(&pair, false), open(&pair, true));
        let (ca, cb) = (census(&sa), census(&sb));
        // Both snapshots are one process: matched by address and owner; and
        // as if they were two: matched by owner path and type.
        for same_process in [true, false] {
            let d = diff_census(&ca, &cb, same_process);
            for t in &truth.maps {
                let ctx = format!("{} {} (same process {same_process})", pair.name(), t.name);
                let row = d
                    .maps
                    .iter()
                    .find(|r| r.address == hex(&t.address))
                    .unwrap_or_else(|| panic!("{ctx}: not in the census diff"));
                assert_eq!(row.type_name.as_deref(), Some(t.type_name.as_str()), "{ctx}");
                assert_eq!(row.len_before as usize, t.before.len, "{ctx}: len before");
                assert_eq!(row.len_after as usize, t.after.len, "{ctx}: len after");
                // The census sees len, bytes and tombstones: a map whose
                // len is unchanged may still count as the same.
                if t.before.len != t.after.len {
                    assert_eq!(row.status, Status::Changed, "{ctx}: status");
                } else {
                    assert!(matches!(row.status, Status::Changed | Status::Same), "{ctx}: status");
                }
            }
            // Sorted by the change in bytes.
            let deltas: Vec<i128> = d.maps.iter().map(|r| r.delta_bytes().abs()).collect();
            assert!(deltas.windows(2).all(|w| w[0] >= w[1]));
        }
    }
}
