//! `mapscope show EXE CORE|--pid P MAP`: the header, every entry typed and
//! rendered as fmt.Sprint renders it, statistics, and with `--physical`
//! every bucket or group. JSON is streamed entry by entry: a 1M-entry map is
//! never held as a JSON tree.

use std::io::Write;

use anyhow::Context;
use mapscope::maps::classic::ClassicHeader;
use mapscope::maps::resolve::NamedMap;
use mapscope::maps::snapshot::snapshot;
use mapscope::maps::swiss::{SwissHeader, TableInfo};
use mapscope::maps::{Container, Entry, MapHandle, MapStats, Place};
use mapscope::values::{Value, ValueDecoder};
use serde_json::{json, Value as Json};

use crate::output::{self, count};
use crate::{Common, Target};

pub struct ShowArgs<'a> {
    pub map: &'a str,
    pub physical: bool,
    pub limit: Option<usize>,
    /// A Graphviz memory diagram instead of text (`--format dot`).
    pub dot: bool,
    /// Bytes kept of one string.
    pub max_string: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Dot,
}

/// `--max-string`'s default: enough for any key a person reads, and a
/// corrupt length of 2^40 still prints a line, not gigabytes.
pub const DEFAULT_MAX_STRING: u64 = 4096;

/// How often a live map read without --pause is retried when its header
/// changed under the walk.
pub const TORN_RETRIES: usize = 3;
/// Buckets or groups the text of `--physical` prints unless `--limit` says.
const DEFAULT_PHYSICAL_CONTAINERS: usize = 64;
/// Tables the text's header lists (a directory may have 2^26 slots).
const TEXT_TABLES: usize = 16;
/// Entries the text prints unless `--limit` says (JSON has all).
const DEFAULT_TEXT_ENTRIES: usize = 100;
/// How often a paused read that caught the map mid-write resumes the
/// process briefly and pauses it again.
const WRITING_RETRIES: usize = 5;

/// [`WRITING_RETRIES`], or (tests only, hidden on purpose) the
/// `MAPSCOPE_TEST_WRITING_RETRIES` environment variable: with 0, a test sees
/// how often a pause lands in the middle of a write.
fn writing_retries() -> usize {
    std::env::var("MAPSCOPE_TEST_WRITING_RETRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(WRITING_RETRIES)
        .min(100)
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn classic_header_json(h: &ClassicHeader) -> Json {
    json!({
        "count": h.count, "flags": h.flags, "B": h.b, "noverflow": h.noverflow,
        "hash0": format!("{:#010x}", h.hash0), "buckets": hex(h.buckets), "oldbuckets": hex(h.oldbuckets),
        "nevacuate": h.nevacuate, "clearSeq": h.clear_seq, "extra": hex(h.extra),
        "growing": h.growing(), "same_size_grow": h.same_size_grow(),
        "bucket_count": h.bucket_count(), "old_bucket_count": h.old_bucket_count(),
    })
}

fn table_json(t: &TableInfo) -> Json {
    json!({
        "address": hex(t.addr), "used": t.used, "capacity": t.capacity, "growthLeft": t.growth_left,
        "localDepth": t.local_depth, "index": t.index, "groups": hex(t.groups), "lengthMask": t.length_mask,
        "directory_slots": [t.dir_first, t.dir_first + t.dir_slots - 1],
    })
}

fn swiss_header_json(h: &SwissHeader, tables: &[TableInfo]) -> Json {
    json!({
        "used": h.used, "seed": hex(h.seed), "dirPtr": hex(h.dir_ptr), "dirLen": h.dir_len,
        "globalDepth": h.global_depth, "globalShift": h.global_shift, "writing": h.writing,
        "tombstonePossible": h.tombstone_possible, "clearSeq": h.clear_seq,
        "small": h.is_small(), "tables": tables.iter().map(table_json).collect::<Vec<_>>(),
    })
}

pub fn header_json(map: &MapHandle) -> Json {
    match map {
        MapHandle::Classic(m) => classic_header_json(&m.header),
        MapHandle::Swiss(m) => swiss_header_json(&m.header, &m.tables),
    }
}

fn place_json(p: &Place) -> Json {
    match *p {
        Place::Bucket { old, index, depth } => {
            json!({"array": if old { "old" } else { "current" }, "bucket": index, "overflow_depth": depth})
        }
        Place::Group { table, index } => json!({"table": table, "group": index}),
    }
}

/// Appends `0x…` lowercase hex, as fmt and the JSON contract print addresses.
fn push_hex(out: &mut Vec<u8>, v: u64) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(b"0x");
    let n = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for i in (0..n).rev() {
        out.push(DIGITS[((v >> (i * 4)) & 0xf) as usize]);
    }
}

/// `s` is valid UTF-8 (checked by the caller).
fn push_json_str(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return Ok(());
    }
    serde_json::to_writer(&mut *out, s)
}

fn push_dec(out: &mut Vec<u8>, v: u8) {
    if v >= 100 {
        out.push(b'0' + v / 100);
    }
    if v >= 10 {
        out.push(b'0' + (v / 10) % 10);
    }
    out.push(b'0' + v % 10);
}

/// One value's JSON. Plain values (most of a big map) are written directly:
/// formatting through serde and `format!` was most of `show --json`'s time.
/// Values with side data (funcs, interfaces, non-UTF-8, incomplete) take
/// the full `ValueJson` form.
fn push_value(out: &mut Vec<u8>, v: &Value, scratch: &mut Vec<u8>) -> serde_json::Result<()> {
    scratch.clear();
    v.write_go(scratch);
    let text = match std::str::from_utf8(scratch) {
        Ok(t) if v.func().is_none() && v.dynamic_type().is_none() && v.map_header().is_none() && v.is_complete() => t,
        _ => return serde_json::to_writer(&mut *out, &v.to_json()),
    };
    out.extend_from_slice(b"{\"go\":");
    push_json_str(out, text)?;
    out.extend_from_slice(b",\"address\":\"");
    push_hex(out, v.addr);
    out.extend_from_slice(b"\"}");
    Ok(())
}

/// `{"key":…,"value":…,"slot":{…}}`; the slot's key/elem addresses are
/// given only when they differ from the key's and value's (indirect slots).
fn push_entry(out: &mut Vec<u8>, k: &Value, v: &Value, e: &Entry, scratch: &mut Vec<u8>) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"key\":");
    push_value(out, k, scratch)?;
    out.extend_from_slice(b",\"value\":");
    push_value(out, v, scratch)?;
    out.extend_from_slice(b",\"slot\":{\"container\":\"");
    push_hex(out, e.container);
    out.extend_from_slice(b"\",\"index\":");
    push_dec(out, e.slot);
    out.extend_from_slice(b",\"tag\":");
    push_dec(out, e.tag);
    if e.key_slot != e.key {
        out.extend_from_slice(b",\"key_slot\":\"");
        push_hex(out, e.key_slot);
        out.push(b'"');
    }
    if e.elem_slot != e.elem {
        out.extend_from_slice(b",\"elem_slot\":\"");
        push_hex(out, e.elem_slot);
        out.push(b'"');
    }
    out.extend_from_slice(b"}}");
    Ok(())
}

fn container_json(map: &MapHandle, c: &Container) -> Json {
    let shape = map.shape();
    json!({
        "place": place_json(&c.place),
        "address": hex(c.addr),
        "tags": c.tags,
        "states": c.tags.iter().map(|&t| map.tag_state(t)).collect::<Vec<_>>(),
        "slots": (0..8u8).map(|i| json!({
            "key": hex(c.addr.wrapping_add(shape.key_offset(i))),
            "elem": hex(c.addr.wrapping_add(shape.elem_offset(i))),
        })).collect::<Vec<_>>(),
        "overflow": hex(c.overflow),
    })
}

/// [`mapscope::maps::snapshot::mid_write`] for the opened target, as a message.
fn mid_write(opened: &super::target::Opened, map: &MapHandle) -> Option<String> {
    mapscope::maps::snapshot::mid_write(&opened.bin, opened.mem.as_ref(), &opened.threads, map).map(|w| w.to_string())
}

pub fn run(target: &Target, core: Option<&std::path::Path>, args: &ShowArgs, common: &Common) -> anyhow::Result<()> {
    let mut opened = super::target::open(target, core, common)?;
    let named = super::target::resolve_map(&opened, args.map)?;
    let proof = super::target::prove_named(&opened, target, args.map, &named)?;
    let variant = opened.bin.map_variant().variant.map_or("unknown", |v| v.as_str());
    let limits = mapscope::values::Limits {
        max_string_bytes: args.max_string,
        ..mapscope::values::Limits::default()
    };
    let decoder = ValueDecoder::new(&opened.bin, opened.mem.clone()).with_limits(limits);
    let plans = decoder
        .entry_plans(&named.map_type)
        .with_context(|| named.map_type.name.clone())?;

    let mut out = output::stdout();
    if named.header == 0 {
        let nil = json!({"name": named.name, "type": named.map_type.name, "address": "0x0", "variant": variant, "len": 0, "entries": [], "errors": []});
        if common.json {
            serde_json::to_writer_pretty(&mut out, &nil)?;
            writeln!(out)?;
        } else {
            writeln!(out, "{} {} is a nil map", named.name, named.map_type.name)?;
        }
        out.flush()?;
        return Ok(());
    }
    let volatile = opened.live.is_some() && opened.pause.is_none();
    let mut snap = snapshot(
        || MapHandle::for_type(opened.mem.clone(), &opened.bin, named.header, &named.map_type),
        volatile,
        TORN_RETRIES,
    )?;
    // A core, or a paused process, may have been caught in the middle of a
    // write: the runtime's (flagged in the header) or the caller's store of
    // the value (seen only in a thread's registers). A paused process is let
    // finish and paused again; a core says so.
    let mut writing_error = None;
    if opened.live.is_none() || opened.pause.is_some() {
        let mut caught = mid_write(&opened, &snap.map);
        let mut tries = 0;
        let retries = if opened.live.is_some() { writing_retries() } else { 0 };
        while let (Some(pid), Some(_), true) = (opened.live, caught.as_ref(), tries < retries) {
            tries += 1;
            if let Some(p) = opened.pause.take() {
                p.resume();
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
            let guard = super::target::pause(pid, "pausing again")?;
            opened.threads = guard.thread_registers();
            opened.pause = Some(guard);
            snap = snapshot(
                || MapHandle::for_type(opened.mem.clone(), &opened.bin, named.header, &named.map_type),
                false,
                TORN_RETRIES,
            )?;
            caught = mid_write(&opened, &snap.map);
        }
        let when = if opened.live.is_some() {
            "when the process was paused"
        } else {
            "when the core was dumped"
        };
        writing_error = caught.map(|what| {
            if tries == 0 {
                format!("{when}, {what}")
            } else {
                format!("in each of {} pauses, {what}", tries + 1)
            }
        });
    }
    let count_error = snap.count_error();
    let (map, stats) = (snap.map, snap.stats);
    let walk_error = snap
        .torn
        .map(|t| t.to_string())
        .or(snap.walk_error.map(|e| e.to_string()));
    if args.dot {
        drop(opened.pause);
        return crate::picture::print_show(&named.name, &map, &decoder, &plans);
    }
    // Never more entries than the header counts: what a wrong or corrupt
    // layout finds beyond that is not the map's.
    let header_len = usize::try_from(map.header_len()).unwrap_or(usize::MAX);
    let default = if common.json { usize::MAX } else { DEFAULT_TEXT_ENTRIES };
    let limit = output::limit(args.limit, default).min(header_len);
    let mut errors: Vec<String> = walk_error.into_iter().chain(count_error).chain(writing_error).collect();
    let type_proof = proof.as_ref().map(serde_json::to_value).transpose()?;

    if common.json {
        let head = json!({
            "name": named.name, "type": named.map_type.name, "address": hex(named.header), "variant": variant,
            "len": map.header_len(), "variable": named.variable.map(hex), "header": header_json(&map), "stats": stats,
        });
        let mut head = head;
        if let (Some(tp), Some(obj)) = (type_proof, head.as_object_mut()) {
            obj.insert("type_proof".into(), tp);
        }
        // Everything but the closing brace, then the streamed arrays.
        let head = serde_json::to_string(&head)?;
        out.write_all(head.get(..head.len().saturating_sub(1)).unwrap_or("{").as_bytes())?;
        write!(out, ",\"entries\":[")?;
        let mut n = 0usize;
        let (mut buf, mut scratch) = (Vec::with_capacity(1 << 16), Vec::new());
        for e in map.entries().take(limit) {
            match e {
                Ok(e) => {
                    let (k, v) = decoder.decode_entry(&plans, &e);
                    if n > 0 {
                        buf.push(b',');
                    }
                    push_entry(&mut buf, &k, &v, &e, &mut scratch)?;
                    if buf.len() >= 1 << 16 {
                        out.write_all(&buf)?;
                        buf.clear();
                    }
                    n += 1;
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        out.write_all(&buf)?;
        out.write_all(b"]")?;
        if args.physical {
            write!(out, ",\"physical\":[")?;
            for (i, c) in map.containers().enumerate() {
                match c {
                    Ok(c) => {
                        if i > 0 {
                            out.write_all(b",")?;
                        }
                        serde_json::to_writer(&mut out, &container_json(&map, &c))?;
                    }
                    Err(e) => {
                        errors.push(e.to_string());
                        break;
                    }
                }
            }
            out.write_all(b"]")?;
        }
        write!(out, ",\"errors\":")?;
        serde_json::to_writer(&mut out, &errors)?;
        writeln!(out, "}}")?;
        out.flush()?;
        drop(opened.pause);
        return output::partial(errors.len());
    }

    print_text(&mut out, &named, variant, &map, &stats)?;
    if let Some(p) = &proof {
        writeln!(out, "  type {}", proof_text(p))?;
    }
    let mut buf = Vec::new();
    let mut n = 0usize;
    for e in map.entries().take(limit) {
        match e {
            Ok(e) => {
                let (k, v) = decoder.decode_entry(&plans, &e);
                buf.clear();
                k.write_text(&mut buf);
                buf.extend_from_slice("  →  ".as_bytes());
                v.write_text(&mut buf);
                // What %v does not print but a reader needs: an interface's
                // dynamic type, and where a map value's own header is.
                match (v.dynamic_type(), v.map_header()) {
                    (t, Some((0, _))) => {
                        let t = t.map(|t| format!("{} ", output::terminal_safe(t))).unwrap_or_default();
                        buf.extend_from_slice(format!("  (nil {t}map)").as_bytes());
                    }
                    (t, Some((h, _))) => {
                        let t = t.map_or("map".into(), output::terminal_safe);
                        buf.extend_from_slice(format!("  ({t} at {h:#x})").as_bytes());
                    }
                    (Some(t), _) if v.func().is_none() => {
                        buf.extend_from_slice(format!("  ({})", output::terminal_safe(t)).as_bytes());
                    }
                    _ => {}
                }
                if let Some(f) = v.func() {
                    if let Some(s) = &f.symbol {
                        buf.extend_from_slice(
                            format!(
                                "  ({} {}:{})",
                                s.name,
                                s.file.as_deref().unwrap_or("?"),
                                s.line.unwrap_or(0)
                            )
                            .as_bytes(),
                        );
                    }
                }
                write!(out, "  [{:#x} slot {}] ", e.container, e.slot)?;
                out.write_all(&buf)?;
                writeln!(out)?;
                n += 1;
            }
            Err(e) => errors.push(e.to_string()),
        }
    }
    let shown_max = (stats.entries as usize).min(header_len);
    output::more(&mut out, "  ", shown_max.saturating_sub(n) as u64, "entry", "entries")?;
    if args.physical {
        writeln!(out, "\nphysical:")?;
        // A terminal gets a bounded view (a 1M-entry map has 150k groups);
        // JSON keeps every container.
        let cap = output::limit(args.limit, DEFAULT_PHYSICAL_CONTAINERS);
        let mut shown = 0usize;
        let mut more = 0u64;
        for c in map.containers() {
            match c {
                Ok(_) if shown >= cap => more += 1,
                Ok(c) => {
                    print_container(&mut out, &map, &c)?;
                    shown += 1;
                }
                Err(e) => {
                    errors.push(e.to_string());
                    break;
                }
            }
        }
        match map {
            MapHandle::Classic(_) => output::more(&mut out, "  ", more, "bucket", "buckets")?,
            _ => output::more(&mut out, "  ", more, "group", "groups")?,
        }
    }
    for e in &errors {
        writeln!(out, "error: {e}")?;
    }
    out.flush()?;
    drop(opened.pause);
    output::partial(errors.len())
}

fn proof_text(p: &mapscope::census::prove::TypeProof) -> String {
    use mapscope::census::prove::Verdict;
    match &p.verdict {
        Verdict::Proved { keys_hashed } => {
            format!("proved: {keys_hashed} stored keys hash to their stored tags with the map's seed")
        }
        Verdict::Unproven { why } => format!("unproven: {why}"),
        Verdict::Wrong { why } => format!("UNPROVEN (--force): {why}"),
    }
}

fn print_text(
    out: &mut impl Write,
    named: &NamedMap,
    variant: &str,
    map: &MapHandle,
    s: &MapStats,
) -> std::io::Result<()> {
    writeln!(out, "{}  ({variant})", named.title())?;
    match map {
        MapHandle::Classic(m) => {
            let h = &m.header;
            writeln!(
                out,
                "  hmap: count={} B={} ({} of {} bytes) flags={:#x} noverflow={} hash0={:#010x} buckets={:#x} oldbuckets={:#x} nevacuate={}",
                h.count, h.b, count(h.bucket_count(), "bucket", "buckets"), m.shape.container_size(), h.flags, h.noverflow, h.hash0, h.buckets, h.oldbuckets, h.nevacuate
            )?;
            if h.growing() {
                writeln!(
                    out,
                    "  growing{}: {} old buckets, {} evacuated so far",
                    if h.same_size_grow() { " (same size)" } else { "" },
                    h.old_bucket_count(),
                    h.nevacuate
                )?;
            }
        }
        MapHandle::Swiss(m) => {
            let h = &m.header;
            writeln!(
                out,
                "  maps.Map: used={} seed={:#x} dirPtr={:#x} dirLen={} globalDepth={} globalShift={}{}",
                h.used,
                h.seed,
                h.dir_ptr,
                h.dir_len,
                h.global_depth,
                h.global_shift,
                if h.is_small() { " (small map: one group)" } else { "" }
            )?;
            for t in m.tables.iter().take(TEXT_TABLES) {
                writeln!(
                    out,
                    "  table {:#x}: capacity={} used={} growthLeft={} localDepth={} groups={:#x} ({})",
                    t.addr,
                    t.capacity,
                    t.used,
                    t.growth_left,
                    t.local_depth,
                    t.groups,
                    mapscope::diff::directory_slots((t.dir_first, t.dir_first + t.dir_slots.saturating_sub(1)))
                )?;
            }
            let more = m.tables.len().saturating_sub(TEXT_TABLES);
            if more > 0 {
                writeln!(
                    out,
                    "  … {} (--json lists every table)",
                    count(more as u64, "more table", "more tables")
                )?;
            }
        }
    }
    let b = &s.bytes;
    match map {
        // Go's own load factor for a classic map is entries per bucket
        // (it grows past 6.5); slot occupancy is the other useful number.
        MapHandle::Classic(m) => writeln!(
            out,
            "  {} in {}: {:.2} per bucket (Go grows above {} once it holds more than 8), {:.0}% of {} slots full; {} old, {} overflow (longest chain {}); {} deleted (emptyOne), {} evacuated marks",
            count(s.entries, "entry", "entries"),
            count(s.buckets, "bucket", "buckets"),
            s.entries as f64 / m.header.bucket_count().max(1) as f64,
            mapscope::maps::shape::CLASSIC_MAX_LOAD,
            s.load_factor * 100.0,
            s.slots,
            s.old_buckets,
            s.overflow_buckets,
            s.longest_chain,
            s.tombstones,
            s.evacuated
        )?,
        MapHandle::Swiss(m) => {
            let tables = if m.header.is_small() {
                "a small map: one group, no table".to_string()
            } else {
                format!("{} in {}", count(s.groups, "group", "groups"), count(s.tables, "table", "tables"))
            };
            writeln!(
                out,
                "  {} in {} slots, {:.0}% full (a table grows past {}/8); {tables}; {} deleted",
                count(s.entries, "entry", "entries"),
                s.slots,
                s.load_factor * 100.0,
                mapscope::maps::shape::SWISS_MAX_GROUP_LOAD,
                s.tombstones
            )?
        }
    }
    writeln!(
        out,
        "  memory: {} bytes allocated, {} hold live entries ({:.1}% overhead)",
        b.total, b.live, b.overhead_percent
    )?;
    Ok(())
}

fn print_container(out: &mut impl Write, map: &MapHandle, c: &Container) -> std::io::Result<()> {
    let place = c.place.to_string();
    let tags: Vec<String> = c
        .tags
        .iter()
        .map(|&t| output::paint(&format!("{t:02x}:{}", map.tag_state(t)), map.tag_state(t)))
        .collect();
    write!(out, "  {place:<24} {:#x}  [{}]", c.addr, tags.join(" "))?;
    if c.overflow != 0 {
        write!(out, "  overflow → {:#x}", c.overflow)?;
    }
    writeln!(out)
}
