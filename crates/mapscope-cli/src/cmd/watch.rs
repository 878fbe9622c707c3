//! `mapscope watch EXE --pid P MAP`: consecutive consistent snapshots of a
//! live map, one line per event. Each snapshot is either read while the
//! process runs and retried when torn, or (`--pause`) read while it is
//! stopped; the process is resumed after each snapshot, on Ctrl-C and on
//! any error. The target is only ever read.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use mapscope::diff::{decoded, diff_entries, physical_events, EntryDiff, EntryIndex, Event};
use mapscope::memory::PauseGuard;
use mapscope::values::ValueDecoder;
use serde_json::json;

use super::diff::{counts_line, read_side, Side};
use crate::output;
use crate::{Common, Target};

#[derive(clap::Args)]
pub struct WatchArgs {
    /// The Go executable (`-`: /proc/PID/exe).
    exe: PathBuf,
    /// The live process.
    #[arg(long)]
    pid: u32,
    /// A global (`main.cache`), an owner expression, or 0xADDR[:TYPE].
    map: String,
    /// Time between snapshots (`500ms`, `2s`, `1m`; a bare number is seconds).
    #[arg(long, default_value = "500ms", value_parser = parse_interval)]
    interval: Duration,
    /// Stop after this many comparisons (default: until interrupted).
    #[arg(long)]
    count: Option<usize>,
    /// Stop the process while each snapshot is read; it is always resumed.
    #[arg(long)]
    pause: bool,
    /// Entries listed per line in JSON (all are counted).
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    common: Common,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| s.split_at(i));
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 500ms or 2s"))?;
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" => v,
        "m" => v * 60.0,
        _ => return Err(format!("{s:?}: the unit must be ms, s or m")),
    };
    if !(0.001..=86_400.0).contains(&secs) {
        return Err(format!("{s:?}: between 1ms and a day"));
    }
    Ok(Duration::from_secs_f64(secs))
}

pub fn run(a: &WatchArgs) -> anyhow::Result<()> {
    let target = Target {
        exe: a.exe.clone(),
        pid: Some(a.pid),
        pause: false,
        force: false,
    };
    let opened = super::target::open(&target, None, &a.common)?;
    let pid = opened.pid.ok_or_else(|| anyhow!("no process id"))?;
    let named = {
        let _guard = pause(a.pause, pid)?;
        super::target::resolve_map(&opened, &a.map)?
    };
    let decoder = ValueDecoder::new(&opened.bin, opened.mem.clone());
    let plans = decoder
        .entry_plans(&named.map_type)
        .with_context(|| named.map_type.name.clone())?;
    let start = Instant::now();
    let mut out = output::stdout();

    let first: Side<EntryIndex> = {
        let guard = pause(a.pause, pid)?;
        let threads = guard.as_ref().map(PauseGuard::thread_registers);
        read_side(&opened, &named, threads.as_deref(), |m| {
            let ix = m.map_or_else(EntryIndex::default, |m| {
                EntryIndex::build_sized(decoded(m, &decoder, &plans), m.header_len() as usize)
            });
            let n = ix.len() as u64;
            (ix, n)
        })?
    };
    if a.common.json {
        let doc = json!({
            "tick": 0, "seconds": 0.0, "name": named.name, "type": named.map_type.name,
            "address": format!("{:#x}", named.header), "len": first.out.len(),
            "header": first.map.as_ref().map(super::show::header_json), "errors": first.errors,
        });
        serde_json::to_writer(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "watching {} {} at {:#x} in process {pid}: len {}",
            named.name,
            named.map_type.name,
            named.header,
            first.out.len()
        )?;
        for e in &first.errors {
            writeln!(out, "error: {e}")?;
        }
    }
    out.flush()?;
    let (mut index, mut prev_map, mut prev_stats) = (first.out, first.map, first.stats);
    let mut tick = 0usize;
    while a.count != Some(tick) {
        std::thread::sleep(a.interval);
        tick += 1;
        let side: Side<(EntryDiff, Option<EntryIndex>)> = {
            let guard = pause(a.pause, pid)?;
            let threads = guard.as_ref().map(PauseGuard::thread_registers);
            read_side(&opened, &named, threads.as_deref(), |m| {
                let (d, next) = match m {
                    Some(m) => diff_entries(&mut index, decoded(m, &decoder, &plans), 0, true),
                    None => diff_entries(&mut index, std::iter::empty(), 0, true),
                };
                let n = d.len_after;
                ((d, next), n)
            })
            .with_context(|| format!("reading process {pid}"))?
        };
        let (d, next) = side.out;
        let events: Vec<Event> = match (&prev_map, &side.map) {
            (Some(pm), Some(m)) => physical_events((pm, &prev_stats), (m, &side.stats), Some(d.moved)),
            _ => Vec::new(),
        };
        let seconds = start.elapsed().as_secs_f64();
        if a.common.json {
            let n = a.limit.unwrap_or(usize::MAX);
            let entry = |e: &mapscope::diff::EntryText| json!({"key": {"go": e.key}, "value": {"go": e.value}});
            let doc = json!({
                "tick": tick, "seconds": seconds, "len_before": d.len_before, "len_after": d.len_after,
                "counts": {"added": d.added.len(), "removed": d.removed.len(), "changed": d.changed.len(), "moved": d.moved},
                "added": d.added.iter().take(n).map(entry).collect::<Vec<_>>(),
                "removed": d.removed.iter().take(n).map(entry).collect::<Vec<_>>(),
                "changed": d.changed.iter().take(n).map(|c| json!({"key": {"go": c.key}, "before": {"go": c.before}, "after": {"go": c.after}})).collect::<Vec<_>>(),
                "events": events, "errors": side.errors,
            });
            serde_json::to_writer(&mut out, &doc)?;
            writeln!(out)?;
        } else {
            let stamp = format!("[{tick} {seconds:.1}s]");
            if !d.added.is_empty() || !d.removed.is_empty() || !d.changed.is_empty() {
                writeln!(out, "{stamp} {} (len {})", counts_line(&d), d.len_after)?;
            }
            // growthLeft moves with every insert and entries move with
            // every grow: in text, the structural events only.
            for e in events
                .iter()
                .filter(|e| !matches!(e, Event::GrowthLeft { .. } | Event::EntriesMoved { .. }))
            {
                writeln!(out, "{stamp} {e}")?;
            }
            for e in &side.errors {
                writeln!(out, "{stamp} error: {e}")?;
            }
        }
        out.flush()?;
        index = next.unwrap_or_default();
        prev_map = side.map;
        prev_stats = side.stats;
    }
    Ok(())
}

/// Stops the process for one snapshot when asked; the guard resumes it.
fn pause(enabled: bool, pid: i32) -> anyhow::Result<Option<PauseGuard>> {
    if !enabled {
        return Ok(None);
    }
    super::target::pause(pid, "pausing").map(Some)
}
