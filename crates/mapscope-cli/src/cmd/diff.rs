//! `mapscope diff EXE A B [MAP...]`: what changed between two snapshots
//! (two cores, or a core and `--pid P`). Without MAP the census of both,
//! matched map by map; with MAP each map's entries added, removed and
//! changed (matched by key content) and, within one process, its physical
//! changes.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use mapscope::diff::{
    decoded, diff_census, diff_entries, physical_events, CensusDiff, EntryDiff, EntryIndex, Event, Status,
};
use mapscope::maps::resolve::NamedMap;
use mapscope::maps::snapshot::snapshot;
use mapscope::maps::{MapError, MapHandle, MapStats};
use mapscope::memory::ThreadStatus;
use mapscope::values::ValueDecoder;
use serde_json::{json, Value as Json};

use super::target::Opened;
use crate::output::{self, terminal_safe as safe};
use crate::{Common, Target};

pub struct DiffArgs<'a> {
    pub exe: &'a Path,
    pub pid: Option<u32>,
    pub pause: bool,
    /// A, then B unless --pid, then the maps.
    pub args: &'a [String],
    pub limit: Option<usize>,
    pub pprof: &'a [PathBuf],
}

/// Entries or census rows the text prints unless `--limit` says (JSON has all).
const TEXT_ROWS: usize = 100;
/// Moved entries listed in JSON (all are counted).
const MOVED_EXAMPLES: usize = 20;

pub fn run(a: &DiffArgs<'_>, common: &Common) -> anyhow::Result<()> {
    let (core_a, rest) = a
        .args
        .split_first()
        .ok_or_else(|| anyhow!("the first snapshot (a core file) is needed"))?;
    let (core_b, maps) = match a.pid {
        Some(_) => (None, rest),
        None => {
            let (b, maps) = rest
                .split_first()
                .ok_or_else(|| anyhow!("the second snapshot is needed: a core file or --pid P"))?;
            (Some(Path::new(b.as_str())), maps)
        }
    };
    if !a.pprof.is_empty() && (a.pprof.len() != 2 || !maps.is_empty()) {
        return Err(anyhow!(
            "--pprof takes two files, BEFORE,AFTER, and only without MAP (the census diff)"
        ));
    }
    let target_a = Target {
        exe: a.exe.to_path_buf(),
        pid: None,
        pause: false,
        force: false,
    };
    let before = super::target::open(&target_a, Some(Path::new(core_a.as_str())), common)?;
    let target_b = Target {
        exe: a.exe.to_path_buf(),
        pid: a.pid,
        pause: a.pause,
        force: false,
    };
    let after = super::target::open(&target_b, core_b, common)?;
    // One EXE serves both, so one pid means one process.
    let same_process = before.pid.is_some() && before.pid == after.pid;
    let result = if maps.is_empty() {
        census(
            &before,
            &after,
            same_process,
            Path::new(core_a.as_str()),
            core_b,
            a,
            common,
        )
    } else {
        entries(&before, &after, same_process, maps, a.limit, common)
    };
    drop(after.pause);
    result
}

fn run_census(o: &Opened) -> anyhow::Result<mapscope::census::Census> {
    Ok(mapscope::census::run(&o.bin, o.mem.clone(), &o.threads, None)?)
}

fn census(
    before: &Opened,
    after: &Opened,
    same_process: bool,
    core_a: &Path,
    core_b: Option<&Path>,
    a: &DiffArgs<'_>,
    common: &Common,
) -> anyhow::Result<()> {
    let ca = run_census(before).context("census of the first snapshot")?;
    let cb = run_census(after).context("census of the second snapshot")?;
    if let [pa, pb] = a.pprof {
        super::profile::write(pa, &ca, Some(core_a))?;
        super::profile::write(pb, &cb, core_b)?;
    }
    let d = diff_census(&ca, &cb, same_process);
    if common.json {
        return output::json(&json!({
            "same_process": d.same_process, "maps": d.maps,
            "totals_before": d.totals_before, "totals_after": d.totals_after,
            "errors": ca.errors.iter().map(|e| format!("before: {e}"))
                .chain(cb.errors.iter().map(|e| format!("after: {e}"))).collect::<Vec<_>>(),
        }));
    }
    print_census(&d, a.limit)
}

fn signed(v: i128) -> String {
    let h = super::maps::human(u64::try_from(v.unsigned_abs()).unwrap_or(u64::MAX));
    format!("{}{h}", if v < 0 { "−" } else { "+" })
}

fn print_census(d: &CensusDiff, limit: Option<usize>) -> anyhow::Result<()> {
    let mut out = output::stdout();
    let (tb, ta) = (&d.totals_before, &d.totals_after);
    writeln!(
        out,
        "census diff ({}): {} → {} maps, {} → {} entries, {} → {} in maps ({})",
        if d.same_process { "one process" } else { "two processes" },
        tb.maps,
        ta.maps,
        tb.entries,
        ta.entries,
        super::maps::human(tb.bytes),
        super::maps::human(ta.bytes),
        signed(i128::from(ta.bytes) - i128::from(tb.bytes)),
    )?;
    let count = |s: Status| d.maps.iter().filter(|m| m.status == s).count();
    writeln!(
        out,
        "{} added, {} removed, {} changed, {} same",
        count(Status::Added),
        count(Status::Removed),
        count(Status::Changed),
        count(Status::Same)
    )?;
    writeln!(
        out,
        "{:<8} {:>11} {:>21} {:>15}  {:<32} owner",
        "status", "Δbytes", "bytes", "len", "type"
    )?;
    let rows: Vec<_> = d.maps.iter().filter(|m| m.status != Status::Same).collect();
    let shown = output::limit(limit, TEXT_ROWS).min(rows.len());
    for m in rows.iter().take(shown) {
        let status = match m.status {
            Status::Added => "added",
            Status::Removed => "removed",
            Status::Changed => "changed",
            Status::Same => "same",
        };
        writeln!(
            out,
            "{status:<8} {:>11} {:>21} {:>15}  {:<32} {}",
            signed(m.delta_bytes()),
            format!(
                "{}→{}",
                super::maps::human(m.bytes_before),
                super::maps::human(m.bytes_after)
            ),
            format!("{}→{}", m.len_before, m.len_after),
            m.type_name.as_deref().unwrap_or("map (type unknown)"),
            m.owner
        )?;
    }
    output::more(&mut out, "", (rows.len() - shown) as u64, "map", "maps")?;
    out.flush()?;
    Ok(())
}

/// The map `expr` names in the second snapshot: the same expression within
/// one process; across processes a global by name, anything else by the
/// owner path and type the census gives it in the first snapshot.
fn resolve_after(
    before: &Opened,
    after: &Opened,
    named: &NamedMap,
    expr: &str,
    same_process: bool,
) -> anyhow::Result<NamedMap> {
    if same_process {
        return super::target::resolve_map(after, expr);
    }
    if !expr.starts_with("0x") {
        if let Ok(n) = mapscope::maps::resolve::resolve(&after.bin, &*after.mem, expr) {
            return Ok(n);
        }
    }
    let ca = run_census(before).context("census of the first snapshot")?;
    let m = ca.maps.iter().find(|m| m.address == named.header).ok_or_else(|| {
        anyhow!(
            "{expr}: the census of the first snapshot does not reach the map at {:#x}, so it has no owner to find again",
            named.header
        )
    })?;
    let key = mapscope::diff::census::portable_key(m);
    let cb = run_census(after).context("census of the second snapshot")?;
    let found = cb
        .maps
        .iter()
        .find(|n| mapscope::diff::census::portable_key(n) == key)
        .ok_or_else(|| output::NotFound(format!("{expr}: no map owned by {key} in the second snapshot")))?;
    Ok(NamedMap {
        name: found.owner.clone(),
        map_type: named.map_type.clone(),
        variable: None,
        header: found.address,
    })
}

/// One side of a map diff: its consistent header and what the walk gave.
pub struct Side<T> {
    pub map: Option<MapHandle>,
    pub stats: MapStats,
    pub out: T,
    pub errors: Vec<String>,
}

/// Opens the map and walks it with `walk` (which returns what it built and
/// the entries it saw). A live map read without pausing is retried when its
/// header changed or the entries seen differ from its count (a torn read).
/// `still`: the threads' registers when the process stood still (a core, a
/// paused process), to say when it was caught in the middle of a write.
pub fn read_side<T>(
    opened: &Opened,
    named: &NamedMap,
    still: Option<&[ThreadStatus]>,
    mut walk: impl FnMut(Option<&MapHandle>) -> (T, u64),
) -> anyhow::Result<Side<T>> {
    let volatile = still.is_none();
    if named.header == 0 {
        let (out, _) = walk(None);
        return Ok(Side {
            map: None,
            stats: MapStats::default(),
            out,
            errors: Vec::new(),
        });
    }
    let open = || MapHandle::for_type(opened.mem.clone(), &opened.bin, named.header, &named.map_type);
    let mut attempt = 0usize;
    loop {
        attempt += 1;
        let snap = snapshot(open, volatile, super::show::TORN_RETRIES)?;
        let (out, seen) = walk(Some(&snap.map));
        let settled = !volatile
            || (snap.torn.is_none()
                && seen == snap.map.header_len()
                && open().map_err(|e: MapError| anyhow!(e))?.same_header(&snap.map));
        if settled || attempt > super::show::TORN_RETRIES {
            let mut errors: Vec<String> = snap.walk_error.iter().map(|e| e.to_string()).collect();
            if let Some(t) = &snap.torn {
                errors.push(t.to_string());
            } else if !settled {
                errors.push(format!(
                    "the map changed while its entries were read, in each of {attempt} attempts; use --pause"
                ));
            }
            if let Some(threads) = still {
                let w = mapscope::maps::snapshot::mid_write(&opened.bin, opened.mem.as_ref(), threads, &snap.map);
                errors.extend(w.map(|w| w.to_string()));
            }
            return Ok(Side {
                map: Some(snap.map),
                stats: snap.stats,
                out,
                errors,
            });
        }
    }
}

fn go(s: &str) -> Json {
    json!({ "go": s })
}

fn entries(
    before: &Opened,
    after: &Opened,
    same_process: bool,
    exprs: &[String],
    limit: Option<usize>,
    common: &Common,
) -> anyhow::Result<()> {
    let mut docs = Vec::new();
    let mut out = output::stdout();
    for expr in exprs {
        let na = super::target::resolve_map(before, expr)?;
        let nb = resolve_after(before, after, &na, expr, same_process)?;
        if na.map_type.name != nb.map_type.name {
            return Err(anyhow!(
                "{expr} is a {} in the first snapshot and a {} in the second",
                na.map_type.name,
                nb.map_type.name
            ));
        }
        let dec_a = ValueDecoder::new(&before.bin, before.mem.clone());
        let plans_a = dec_a
            .entry_plans(&na.map_type)
            .with_context(|| na.map_type.name.clone())?;
        let side_a = read_side(before, &na, Some(&before.threads), |m| {
            let ix = m.map_or_else(EntryIndex::default, |m| {
                EntryIndex::build_sized(decoded(m, &dec_a, &plans_a), m.header_len() as usize)
            });
            let n = ix.len() as u64;
            (ix, n)
        })?;
        let mut index = side_a.out;
        if std::env::var_os("MAPSCOPE_TIMING").is_some_and(|v| v == "1") {
            eprintln!(
                "{expr}: index of the first snapshot: {} entries in {} bytes",
                index.len(),
                index.heap_bytes()
            );
        }
        let dec_b = ValueDecoder::new(&after.bin, after.mem.clone());
        let plans_b = dec_b
            .entry_plans(&nb.map_type)
            .with_context(|| nb.map_type.name.clone())?;
        let volatile = after.live.is_some() && after.pause.is_none();
        let side_b = read_side(after, &nb, (!volatile).then_some(after.threads.as_slice()), |m| {
            let (d, _) = match m {
                Some(m) => diff_entries(&mut index, decoded(m, &dec_b, &plans_b), MOVED_EXAMPLES, false),
                None => diff_entries(&mut index, std::iter::empty(), MOVED_EXAMPLES, false),
            };
            let n = d.len_after;
            (d, n)
        })?;
        let d = side_b.out;
        let events = match (same_process, &side_a.map, &side_b.map) {
            (true, Some(ma), Some(mb)) => {
                Some(physical_events((ma, &side_a.stats), (mb, &side_b.stats), Some(d.moved)))
            }
            _ => None,
        };
        let mut errors: Vec<String> = side_a.errors.iter().map(|e| format!("before: {e}")).collect();
        errors.extend(side_b.errors.iter().map(|e| format!("after: {e}")));
        errors.extend(d.errors.iter().cloned());
        let ctx = MapReport {
            name: &nb.name,
            type_name: &nb.map_type.name,
            address_before: na.header,
            address_after: nb.header,
            bytes: (side_a.stats.bytes.total, side_b.stats.bytes.total),
            diff: &d,
            events: events.as_deref(),
            headers: (side_a.map.as_ref(), side_b.map.as_ref()),
            same_process,
            errors: &errors,
            strings: (plans_b.key.is_string(), plans_b.elem.is_string()),
        };
        if common.json {
            docs.push(map_json(&ctx, limit));
        } else {
            print_map(&mut out, &ctx, limit)?;
        }
    }
    if common.json {
        serde_json::to_writer_pretty(&mut out, &json!({ "maps": docs }))?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(())
}

pub struct MapReport<'a> {
    pub name: &'a str,
    pub type_name: &'a str,
    pub address_before: u64,
    pub address_after: u64,
    pub bytes: (u64, u64),
    pub diff: &'a EntryDiff,
    pub events: Option<&'a [Event]>,
    pub headers: (Option<&'a MapHandle>, Option<&'a MapHandle>),
    pub same_process: bool,
    pub errors: &'a [String],
    /// Whether the key and the elem are of a string kind (quoted in text).
    pub strings: (bool, bool),
}

pub fn map_json(r: &MapReport<'_>, limit: Option<usize>) -> Json {
    let d = r.diff;
    let n = output::limit(limit, usize::MAX);
    let entry = |e: &mapscope::diff::EntryText| json!({ "key": go(&e.key), "value": go(&e.value) });
    json!({
        "address": format!("{:#x}", r.address_after),
        "address_before": format!("{:#x}", r.address_before),
        "type": r.type_name, "owner": r.name,
        "len_before": d.len_before, "len_after": d.len_after,
        "bytes_before": r.bytes.0, "bytes_after": r.bytes.1,
        "counts": { "added": d.added.len(), "removed": d.removed.len(), "changed": d.changed.len(), "same": d.same },
        "added": d.added.iter().take(n).map(entry).collect::<Vec<_>>(),
        "removed": d.removed.iter().take(n).map(entry).collect::<Vec<_>>(),
        "changed": d.changed.iter().take(n).map(|c| json!({
            "key": go(&c.key), "before": go(&c.before), "after": go(&c.after) })).collect::<Vec<_>>(),
        "physical": r.events.map(|ev| json!({
            "same_process": r.same_process,
            "before": r.headers.0.map(super::show::header_json),
            "after": r.headers.1.map(super::show::header_json),
            "events": ev,
            "moved": d.moved,
            "moved_examples": d.moved_examples.iter().map(|m| json!({
                "key": go(&m.key),
                "from": { "container": format!("{:#x}", m.from.0), "slot": m.from.1 },
                "to": { "container": format!("{:#x}", m.to.0), "slot": m.to.1 },
            })).collect::<Vec<_>>(),
        })),
        "errors": r.errors,
    })
}

/// `+3 −1 ~2 entries`.
pub fn counts_line(d: &EntryDiff) -> String {
    let mut s = format!("+{} −{}", d.added.len(), d.removed.len());
    if !d.changed.is_empty() {
        s.push_str(&format!(" ~{}", d.changed.len()));
    }
    s.push_str(" entries");
    s
}

fn print_map(out: &mut impl Write, r: &MapReport<'_>, limit: Option<usize>) -> anyhow::Result<()> {
    // A string key or value is quoted as `%q` writes it, as `show` does;
    // other kinds keep fmt.Sprint's text, made safe for a terminal.
    let (key_string, elem_string) = r.strings;
    let shown = |text: &str, quote: bool| {
        if quote {
            mapscope::values::quote(text.as_bytes())
        } else {
            safe(text).into_owned()
        }
    };
    let (k, v) = (|t: &str| shown(t, key_string), |t: &str| shown(t, elem_string));
    let d = r.diff;
    let moved_at = if r.address_before == r.address_after {
        format!("at {:#x}", r.address_after)
    } else {
        format!("at {:#x} (before {:#x})", r.address_after, r.address_before)
    };
    writeln!(
        out,
        "{}  {}  {moved_at}  ({})",
        r.name,
        r.type_name,
        if r.same_process { "one process" } else { "two processes" }
    )?;
    writeln!(
        out,
        "  len {} → {}, {} → {} bytes; {} ({} same{})",
        d.len_before,
        d.len_after,
        r.bytes.0,
        r.bytes.1,
        counts_line(d),
        d.same,
        if r.same_process {
            format!(", {} moved", d.moved)
        } else {
            String::new()
        }
    )?;
    let mut budget = output::limit(limit, TEXT_ROWS);
    let total = d.added.len() + d.removed.len() + d.changed.len();
    let mut shown = 0usize;
    for e in &d.added {
        if budget == 0 {
            break;
        }
        writeln!(out, "  + {}  →  {}", k(&e.key), v(&e.value))?;
        budget -= 1;
        shown += 1;
    }
    for e in &d.removed {
        if budget == 0 {
            break;
        }
        writeln!(out, "  − {}  →  {}", k(&e.key), v(&e.value))?;
        budget -= 1;
        shown += 1;
    }
    for c in &d.changed {
        if budget == 0 {
            break;
        }
        writeln!(out, "  ~ {}  :  {}  →  {}", k(&c.key), v(&c.before), v(&c.after))?;
        budget -= 1;
        shown += 1;
    }
    output::more(out, "  ", (total - shown) as u64, "entry", "entries")?;
    if let Some(ev) = r.events {
        if !ev.is_empty() {
            writeln!(out, "  physical:")?;
        }
        for e in ev {
            writeln!(out, "    {e}")?;
        }
    }
    for e in r.errors {
        writeln!(out, "  error: {e}")?;
    }
    Ok(())
}
