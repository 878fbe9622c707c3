//! `mapscope maps EXE CORE|--pid P`: the census of every live map (heap,
//! stacks and globals), ranked; `--globals` keeps the quick listing of the
//! DWARF global map variables.

use std::io::Write;

use mapscope::maps::resolve::{global_map_type, resolve};
use mapscope::maps::snapshot::snapshot;
use mapscope::maps::MapHandle;
use serde::Serialize;

use crate::output::{self, NotFound};
use crate::{Common, Target};

#[derive(Serialize)]
struct MapRow {
    name: String,
    #[serde(rename = "type")]
    type_name: String,
    variable: Option<String>,
    address: String,
    variant: &'static str,
    len: Option<u64>,
    bytes: Option<u64>,
    load_factor: Option<f64>,
    /// Why the map could not be walked (its figures are then partial or absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// How to order the census.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum SortKey {
    Bytes,
    Waste,
    Len,
    Owner,
}

pub struct CensusArgs<'a> {
    pub globals: bool,
    pub sort: SortKey,
    pub top: usize,
    pub pprof: Option<&'a std::path::Path>,
}

pub fn run(
    target: &Target,
    core: Option<&std::path::Path>,
    args: &CensusArgs<'_>,
    common: &Common,
) -> anyhow::Result<()> {
    let opened = super::target::open(target, core, common)?;
    if !args.globals {
        return census(&opened, core, args, common);
    }
    let bin = &opened.bin;
    let variant = bin.map_variant().variant.map_or("unknown", |v| v.as_str());
    let globals = bin
        .globals()
        .map_err(|e| NotFound(format!("no global variables to list: {e}")))?;
    let mut rows = Vec::new();
    for g in globals {
        let Ok(Some(_)) = global_map_type(bin, &g.name) else {
            continue;
        };
        let row = match resolve(bin, &*opened.mem, &g.name) {
            Ok(m) => {
                let mut row = MapRow {
                    name: m.name.clone(),
                    type_name: m.map_type.name.clone(),
                    variable: m.variable.map(|a| format!("{a:#x}")),
                    address: format!("{:#x}", m.header),
                    variant,
                    len: Some(0),
                    bytes: Some(0),
                    load_factor: None,
                    error: None,
                };
                if m.header != 0 {
                    let volatile = opened.live.is_some() && opened.pause.is_none();
                    let open = || MapHandle::for_type(opened.mem.clone(), bin, m.header, &m.map_type);
                    match snapshot(open, volatile, 3) {
                        Ok(snap) => {
                            let count_error = snap.count_error();
                            row.len = Some(snap.map.header_len());
                            row.bytes = Some(snap.stats.bytes.total);
                            row.load_factor = Some(snap.stats.load_factor);
                            row.error = snap
                                .torn
                                .map(|t| t.to_string())
                                .or(snap.walk_error.map(|e| e.to_string()))
                                .or(count_error);
                        }
                        Err(e) => {
                            row.len = None;
                            row.bytes = None;
                            row.error = Some(e.to_string());
                        }
                    }
                }
                row
            }
            Err(e) => MapRow {
                name: g.name.clone(),
                type_name: String::new(),
                variable: Some(format!("{:#x}", g.addr)),
                address: String::new(),
                variant,
                len: None,
                bytes: None,
                load_factor: None,
                error: Some(e.to_string()),
            },
        };
        rows.push(row);
    }
    drop(opened.pause);
    if rows.is_empty() {
        return Err(NotFound(
            "no global maps found (a stripped binary has no DWARF globals; name a map as 0xADDR:map[K]V)".into(),
        )
        .into());
    }
    // A map whose header or walk is wrong makes the listing partial (exit 3).
    let bad = rows.iter().filter(|r| r.error.is_some()).count();
    if common.json {
        output::json(&serde_json::json!({ "variant": variant, "maps": rows }))?;
        return output::partial(bad);
    }
    let mut out = output::stdout();
    writeln!(
        out,
        "{:<34} {:<40} {:>16} {:>9} {:>12} {:>6}",
        "map", "type", "header", "len", "bytes", "load"
    )?;
    for r in &rows {
        let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
        writeln!(
            out,
            "{:<34} {:<40} {:>16} {:>9} {:>12} {:>6}{}",
            r.name,
            r.type_name,
            r.address,
            opt(r.len),
            opt(r.bytes),
            r.load_factor.map_or("-".to_string(), |l| format!("{l:.2}")),
            r.error.as_ref().map_or(String::new(), |e| format!("  error: {e}"))
        )?;
    }
    writeln!(out, "{} maps ({variant})", rows.len())?;
    out.flush()?;
    output::partial(bad)
}

/// Phases on stderr: overwritten in place on a terminal; one line each,
/// with the time since the start, under `MAPSCOPE_TIMING=1` (for benchmarks).
struct TerminalProgress {
    start: std::time::Instant,
    lines: bool,
}

impl mapscope::census::Progress for TerminalProgress {
    fn phase(&self, what: &str) {
        if self.lines {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            let mem: Vec<&str> = status
                .lines()
                .filter(|l| l.starts_with("VmHWM") || l.starts_with("RssAnon") || l.starts_with("RssFile"))
                .map(|l| l.split_whitespace().collect::<Vec<_>>().get(1).copied().unwrap_or("?"))
                .collect();
            eprintln!(
                "mapscope: {:>8.3} s  {what}  (peak/anon/file KiB {})",
                self.start.elapsed().as_secs_f64(),
                mem.join("/")
            );
        } else {
            eprint!("\r\x1b[2Kmapscope: {what}…");
        }
    }
}

fn census(
    opened: &super::target::Opened,
    core: Option<&std::path::Path>,
    args: &CensusArgs<'_>,
    common: &Common,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let timing = std::env::var_os("MAPSCOPE_TIMING").is_some_and(|v| v == "1");
    let tty = std::io::stderr().is_terminal() && !timing;
    let progress = TerminalProgress {
        start: std::time::Instant::now(),
        lines: timing,
    };
    let result = mapscope::census::run(
        &opened.bin,
        opened.mem.clone(),
        &opened.threads,
        (tty || timing).then_some(&progress as &dyn mapscope::census::Progress),
    );
    if timing {
        mapscope::census::Progress::phase(&progress, "done");
    }
    if tty {
        eprint!("\r\x1b[2K");
    }
    let mut c = result?;
    match args.sort {
        SortKey::Bytes => c.maps.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.owner.cmp(&b.owner))),
        SortKey::Waste => c
            .maps
            .sort_by(|a, b| b.waste_bytes.cmp(&a.waste_bytes).then(b.bytes.cmp(&a.bytes))),
        SortKey::Len => c.maps.sort_by(|a, b| b.len.cmp(&a.len).then(b.bytes.cmp(&a.bytes))),
        SortKey::Owner => c.maps.sort_by(|a, b| a.owner.cmp(&b.owner)),
    }
    if let Some(path) = args.pprof {
        super::profile::write(path, &c, core)?;
    }
    // Maps whose walk failed make the census partial (exit 3); the census's
    // own notes (what could not be proved or scanned) do not.
    let bad = c.maps.iter().filter(|m| m.error.is_some()).count();
    if common.json {
        output::json(&c)?;
        return output::partial(bad);
    }
    let mut out = output::stdout();
    let t = &c.totals;
    let share = if t.heap_bytes == 0 {
        String::new()
    } else {
        format!(
            " ({:.1}% of {} heap in use)",
            100.0 * t.bytes as f64 / t.heap_bytes as f64,
            human(t.heap_bytes)
        )
    };
    writeln!(
        out,
        "{} {} — {} maps, {} entries; {} in maps{share}, {} live, {} waste",
        c.go_version.as_deref().unwrap_or("Go ?"),
        c.variant,
        t.maps,
        t.entries,
        human(t.bytes),
        human(t.live_bytes),
        human(t.waste_bytes),
    )?;
    writeln!(
        out,
        "{:>10} {:>10} {:>10} {:>9} {:>5}  {:<40} owner",
        "bytes", "live", "waste", "len", "load", "type"
    )?;
    let shown = if args.top == 0 {
        c.maps.len()
    } else {
        args.top.min(c.maps.len())
    };
    for m in c.maps.iter().take(shown) {
        let ty = match (&m.type_name, m.type_candidates.len()) {
            (Some(t), _) => t.clone(),
            (None, 0) => "map (type unknown)".to_string(),
            (None, n) => format!("one of {n} map types"),
        };
        writeln!(
            out,
            "{:>10} {:>10} {:>10} {:>9} {:>5.2}  {:<40} {}{}{}",
            human(m.bytes),
            human(m.live_bytes),
            human(m.waste_bytes),
            m.len,
            m.load_factor,
            ty,
            m.owner,
            if m.other_references > 0 {
                format!("  (+{} more references)", m.other_references)
            } else {
                String::new()
            },
            m.error.as_ref().map_or(String::new(), |e| format!("  error: {e}")),
        )?;
    }
    output::more_by(&mut out, "", (c.maps.len() - shown) as u64, ("map", "maps"), "--top")?;
    for e in &c.errors {
        writeln!(out, "note: {e}")?;
    }
    out.flush()?;
    output::partial(bad)
}

/// Bytes in binary units, as Go's own tools print them.
pub fn human(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(u).copied().unwrap_or("B"))
    }
}
