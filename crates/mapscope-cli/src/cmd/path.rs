//! `mapscope path EXE CORE|--pid P MAP KEY`: the addressing path of one key
//! (every read of the lookup with its address, offset and bytes, the hash
//! recomputed as the target's runtime computes it, and whether it leads to
//! the key), or with `--all` the placement check of every entry.

use std::io::Write;

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use mapscope::path::{render, KeyPath, KeySpec, PathError, PathMap, Placement, VerifyReport};
use serde_json::{json, Value as Json};

use crate::output::{self, NotFound};
use crate::{Common, Target};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Mermaid,
    Dot,
}

#[derive(Args)]
pub struct PathArgs {
    #[command(flatten)]
    target: Target,
    /// [CORE] MAP [KEY]: the core (omit with --pid), the map (`main.Handlers`
    /// or `0xADDR:map[K]V`), and the key as a Go literal (`"triple"`, `42`,
    /// `-7`, `1.5`, `true`, `'x'`; bare text for string keys). Keys that
    /// look like options (`-0x80`, `-Inf`) go after `--`.
    #[arg(value_name = "CORE|MAP|KEY", num_args = 1..=3, required = true, allow_negative_numbers = true)]
    args: Vec<String>,
    /// The key's raw bytes in hex instead of KEY (a string key's bytes, any
    /// other key's memory image).
    #[arg(long, value_name = "HEX", conflicts_with = "all")]
    key_hex: Option<String>,
    /// Check the placement of every entry instead of one key's path.
    #[arg(long)]
    all: bool,
    /// How to print the path.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// With --all: list at most this many misplaced entries (20 unless given; 0: all).
    #[arg(long)]
    limit: Option<usize>,
    #[command(flatten)]
    common: Common,
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

pub fn run(a: &PathArgs) -> anyhow::Result<()> {
    let want = if a.all || a.key_hex.is_some() { 1 } else { 2 };
    let (core, rest) = super::target::split(&a.target, &a.args, want)?;
    let map = rest.first().map(String::as_str).unwrap_or_default();
    let format = match (a.format, a.common.json) {
        (Some(f), _) => f,
        (None, true) => Format::Json,
        (None, false) => Format::Text,
    };
    if a.all && format == Format::Mermaid {
        return Err(anyhow!("--all draws only --format dot (or text, --json)"));
    }
    let opened = super::target::open(&a.target, core, &a.common)?;
    let named = super::target::resolve_map(&opened, map)?;
    super::target::prove_named(&opened, &a.target, map, &named)?;
    let pm = PathMap::open(&opened.bin, opened.mem.clone(), named).map_err(|e| match e {
        PathError::NilMap(_) => anyhow::Error::new(NotFound(e.to_string())),
        e => anyhow::Error::new(e),
    })?;
    if a.all {
        let r = pm.verify_all(crate::output::limit(a.limit, 20));
        drop(opened.pause);
        if format == Format::Dot {
            return crate::picture::print_all(&opened.bin, opened.mem.clone(), &pm, &r);
        }
        return print_all(&pm, &r, format);
    }
    let spec = match &a.key_hex {
        Some(h) => KeySpec::Hex(h.clone()),
        None => KeySpec::Literal(rest.get(1).cloned().unwrap_or_default()),
    };
    let key = pm.parse_key(&spec)?;
    let p = pm.trace(&key)?;
    drop(opened.pause);
    let mut out = output::stdout();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &path_json(&p))?;
            writeln!(out)?;
        }
        Format::Mermaid => write!(out, "{}", render::mermaid(&p))?,
        Format::Dot => write!(out, "{}", render::dot(&p))?,
        Format::Text => print_text(&mut out, &p)?,
    }
    out.flush()?;
    if p.found.is_none() {
        return Err(NotFound(p.absence()).into());
    }
    Ok(())
}

fn hash_json(p: &KeyPath) -> Json {
    let h = &p.hash;
    let mut j = json!({
        "value": h.value.map(hex),
        "seed": hex(h.seed),
        "algorithm": h.algorithm,
        "hasher": h.hasher,
        "keys_from": h.source.map(|s| s.as_str()),
    });
    if let Some(why) = &h.unavailable {
        j["unavailable"] = json!(why);
    }
    let slot = p.found.as_ref().map(|f| f.slot);
    match &h.placement {
        Placement::Classic {
            b,
            bucket,
            old_bucket,
            used_old,
            tophash,
        } => {
            j["B"] = json!(b);
            j["bucket"] = json!(bucket);
            j["tophash"] = json!(tophash);
            j["old_bucket"] = json!(old_bucket);
            j["searched_old_bucket"] = json!(used_old);
            j["slot"] = json!(slot);
        }
        Placement::Swiss {
            h1,
            h2,
            small,
            directory_index,
            table,
            probe_start,
        } => {
            j["h1"] = json!(hex(*h1));
            j["h2"] = json!(h2);
            j["small"] = json!(small);
            j["table"] = json!(directory_index);
            j["table_address"] = json!(table.map(hex));
            j["probe_start"] = json!(probe_start);
            j["group"] = match p.found.as_ref().map(|f| f.place) {
                Some(mapscope::maps::Place::Group { index, .. }) => json!(index),
                _ => json!(probe_start),
            };
            j["slot"] = json!(slot);
        }
        Placement::Unknown => {}
    }
    j
}

fn path_json(p: &KeyPath) -> Json {
    json!({
        "map": p.map,
        "type": p.type_name,
        "address": hex(p.header),
        "variant": p.variant,
        "key": {"go": p.key_go, "address": p.found.as_ref().map(|f| hex(f.key))},
        "value": p.value_go.as_ref().map(|v| json!({
            "go": v,
            "address": p.found.as_ref().map(|f| hex(f.elem)),
            "func": p.func.as_ref().map(|s| json!({"name": s.name, "file": s.file, "line": s.line})),
        })),
        "hash": hash_json(p),
        "verified": p.verified,
        "found": p.found.as_ref().map(|f| json!({
            "place": f.place.to_string(), "container": hex(f.container), "slot": f.slot, "tag": f.tag,
            "key_slot": hex(f.key_slot), "elem_slot": hex(f.elem_slot), "by_hash": f.by_hash,
        })),
        "probed": p.probed,
        "scanned": p.scanned,
        "cache_lines": p.cache_lines.iter().map(|&l| hex(l)).collect::<Vec<_>>(),
        "checks": p.checks,
        "notes": p.notes,
        "steps": p.steps.iter().map(|s| json!({
            "level": s.level, "structure": s.structure, "what": s.what, "address": hex(s.address),
            "offset": s.offset, "size": s.size, "read": s.read_hex(), "lookup": s.lookup, "note": s.note,
        })).collect::<Vec<_>>(),
    })
}

fn print_text(out: &mut impl Write, p: &KeyPath) -> std::io::Result<()> {
    writeln!(
        out,
        "{}  ({})",
        mapscope::maps::resolve::title(&p.map, &p.type_name, p.header),
        p.variant
    )?;
    writeln!(out, "key {}", p.key_text)?;
    let h = &p.hash;
    match h.value {
        Some(v) => writeln!(
            out,
            "hash {v:#018x} = {}(key, seed {:#x})  [{} hash, keys from {}]",
            h.hasher.as_deref().unwrap_or("?"),
            h.seed,
            h.algorithm.unwrap_or("?"),
            h.source.map_or("?", |s| s.as_str())
        )?,
        None => writeln!(out, "hash: none — {}", h.unavailable.as_deref().unwrap_or("?"))?,
    }
    match &h.placement {
        Placement::Classic {
            b,
            bucket,
            old_bucket,
            used_old,
            tophash,
        } => {
            write!(out, "  bucket = hash & (2^{b}-1) = {bucket}, tophash = {tophash:#04x}")?;
            if let Some(ob) = old_bucket {
                write!(
                    out,
                    "; growing: old bucket {ob} {}",
                    if *used_old {
                        "not evacuated, searched"
                    } else {
                        "evacuated"
                    }
                )?;
            }
            writeln!(out)?;
        }
        Placement::Swiss {
            h1,
            h2,
            small,
            directory_index,
            probe_start,
            ..
        } => {
            write!(out, "  h1 = hash >> 7 = {h1:#x}, h2 = hash & 0x7f = {h2:#04x}")?;
            if *small {
                writeln!(out, "; small map: one group")?;
            } else {
                writeln!(
                    out,
                    "; directory[{directory_index}], probe from group {}",
                    probe_start.map_or_else(|| "?".into(), |s| s.to_string())
                )?;
            }
        }
        Placement::Unknown => {}
    }
    writeln!(out)?;
    // The column fits the longest description, so addresses line up.
    let what_w = p.steps.iter().map(|s| s.what.chars().count()).max().unwrap_or(0).max(4);
    let struct_w = p
        .steps
        .iter()
        .map(|s| s.structure.chars().count())
        .max()
        .unwrap_or(0)
        .max(9);
    writeln!(
        out,
        "{:>3}  {:<struct_w$} {:<what_w$} {:>18} {:>6}  read (a number, or bytes in memory order)",
        "lvl", "structure", "what", "address", "offset"
    )?;
    for s in &p.steps {
        writeln!(
            out,
            "{:>3}{} {:<struct_w$} {:<what_w$} {:>18} {:>6}  {}",
            s.level,
            if s.lookup { ' ' } else { '*' },
            s.structure,
            s.what,
            format!("{:#x}", s.address),
            s.offset,
            read_text(s)
        )?;
        if let Some(n) = &s.note {
            writeln!(out, "{:>w$}  ↳ {n}", "", w = 3 + 1 + struct_w + 1 + what_w)?;
        }
    }
    if p.steps.iter().any(|s| !s.lookup) {
        writeln!(out, "  (* = hop behind the value, not part of the lookup)")?;
    }
    writeln!(out)?;
    match &p.found {
        Some(f) => writeln!(
            out,
            "found in {} slot {} at {:#x} (tag {:#04x}){}",
            f.place,
            f.slot,
            f.container,
            f.tag,
            if f.by_hash { "" } else { ", by scanning" }
        )?,
        None => writeln!(out, "not in the map")?,
    }
    if let Some(v) = &p.value_text {
        write!(out, "value {v}")?;
        if let Some(s) = &p.func {
            write!(
                out,
                "  ({} {}:{})",
                s.name,
                s.file.as_deref().unwrap_or("?"),
                s.line.unwrap_or(0)
            )?;
        }
        writeln!(out)?;
    }
    let lines: Vec<String> = p.cache_lines.iter().map(|&l| format!("{l:#x}")).collect();
    writeln!(
        out,
        "probed {}; {} touched: {}",
        if matches!(h.placement, Placement::Classic { .. }) {
            crate::output::count(p.probed, "bucket", "buckets")
        } else {
            crate::output::count(p.probed, "group", "groups")
        },
        crate::output::count(lines.len() as u64, "cache line", "cache lines"),
        lines.join(" ")
    )?;
    if let Some(n) = p.scanned {
        writeln!(out, "scanned {n} entries")?;
    }
    for c in &p.checks {
        writeln!(out, "  check: {c}")?;
    }
    for n in &p.notes {
        writeln!(out, "  note: {n}")?;
    }
    writeln!(out, "verified: {}", p.verified)
}

fn print_all(pm: &PathMap<'_>, r: &VerifyReport, format: Format) -> anyhow::Result<()> {
    let (max, mean) = r.probe_summary();
    let classic = matches!(pm.map, mapscope::maps::MapHandle::Classic(_));
    let mut out = output::stdout();
    if format == Format::Json {
        // `verified` is a boolean, as for one key: every entry that can be
        // looked up sits where its hash leads (NaN keys never can be).
        let all_placed = r.misplaced == 0
            && r.walk_error.is_none()
            && r.hash_unavailable.is_none()
            && r.verified + r.unverifiable + r.unhashable == r.entries;
        let j = json!({
            "map": pm.named.name, "type": pm.named.map_type.name, "address": hex(pm.named.header),
            "variant": pm.variant(), "seed": hex(pm.seed()),
            "header_count": r.header_count, "entries": r.entries, "verified": all_placed,
            "verified_count": r.verified,
            "misplaced": r.misplaced, "unverifiable": r.unverifiable, "unhashable": r.unhashable,
            "unhashable_reason": r.unhashable_reason, "hash_unavailable": r.hash_unavailable,
            "walk_error": r.walk_error, "in_old_array": r.in_old_array,
            "probe_kind": if classic { "overflow depth" } else { "groups probed" },
            "probe_lengths": r.probe_lengths.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "longest_probe": max, "mean_probe": mean,
            "misplacements": r.misplacements.iter().map(|m| json!({
                "key": m.key_go, "place": m.place.to_string(), "container": hex(m.container), "slot": m.slot,
                "tag": m.tag, "hash": hex(m.hash), "why": m.why,
            })).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &j)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{}  ({}), seed {:#x}", pm.named.title(), pm.variant(), pm.seed())?;
        if let Some(e) = &r.hash_unavailable {
            writeln!(out, "cannot check placements: {e}")?;
        }
        writeln!(
            out,
            "{} entries (header says {}): {} in place, {} misplaced, {} unverifiable (NaN keys hash randomly), {} unhashable",
            r.entries, r.header_count, r.verified, r.misplaced, r.unverifiable, r.unhashable
        )?;
        if let Some(e) = &r.unhashable_reason {
            writeln!(out, "  first unhashable: {e}")?;
        }
        if classic {
            writeln!(out, "  {} entries still in the old array", r.in_old_array)?;
        }
        // In words: `1 group: 1899 entries, 2 groups: 70`, not `1:1899 2:70`.
        let hist: Vec<String> = r
            .probe_lengths
            .iter()
            .map(|(&k, &v)| match (classic, k) {
                (true, 0) => format!("in the bucket itself {v}"),
                (true, k) => format!("{k} overflow deep {v}"),
                (false, k) => format!("{} {v}", crate::output::count(k, "group", "groups")),
            })
            .collect();
        writeln!(
            out,
            "  {}: {}  (longest {max}, mean {mean:.3})",
            if classic {
                "entries by overflow depth"
            } else {
                "entries by groups probed to reach them"
            },
            hist.join(", ")
        )?;
        if let Some(e) = &r.walk_error {
            writeln!(out, "  walk stopped: {e}")?;
        }
        for m in &r.misplacements {
            writeln!(
                out,
                "  misplaced: {} in {} slot {} at {:#x} (tag {:#04x}, hash {:#x}): {}",
                m.key_text, m.place, m.slot, m.container, m.tag, m.hash, m.why
            )?;
        }
        let listed = r.misplacements.len() as u64;
        crate::output::more(
            &mut out,
            "  ",
            r.misplaced.saturating_sub(listed),
            "misplaced entry",
            "misplaced entries",
        )?;
    }
    out.flush()?;
    if r.misplaced > 0 {
        return Err(anyhow!("{} misplaced entries", r.misplaced));
    }
    if let Some(e) = &r.hash_unavailable {
        return Err(anyhow!("cannot check placements: {e}"));
    }
    Ok(())
}

/// A step's read for a person: a field as the number it holds, anything else
/// (tag bytes, a key, an elem) as bytes in memory order, so an int key 4242
/// reads `92 10 00 00 00 00 00 00`, not as a byte-swapped number.
fn read_text(s: &mapscope::path::Step) -> String {
    if s.number {
        return s.read_hex();
    }
    let mut out: Vec<String> = s.read.iter().map(|b| format!("{b:02x}")).collect();
    if (s.read.len() as u64) < s.size {
        out.push("…".into());
    }
    out.join(" ")
}
