//! `mapscope layout EXE [TYPE...] [--compare OTHER]`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mapscope::binary::{GoBinary, GoType, Kind, TypeDetail};
use mapscope::layout::types::{map_container, reorder_hint, runtime_structs, struct_layout, Reorder};
use mapscope::layout::{RuntimeLayout, StructLayout, CACHE_LINE};
use mapscope::maps::shape::{CLASSIC_MAX_LOAD, SLOTS, SWISS_MAX_GROUP_LOAD};
use serde::Serialize;

use crate::output::{self, NotFound};
use crate::Common;

#[derive(Serialize)]
struct TypeLayout {
    #[serde(flatten)]
    layout: StructLayout,
    /// For a bucket or group: the map type it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    map: Option<String>,
    /// For a struct named on the command line: a smaller field order.
    #[serde(skip_serializing_if = "Option::is_none")]
    reorder: Option<Reorder>,
    /// For a struct named on the command line: what it costs in the maps
    /// that hold it as key or elem.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    in_maps: Vec<EntryCost>,
}

/// A struct's cost inside one map type, at the load where that map grows.
#[derive(Serialize)]
struct EntryCost {
    map: String,
    /// 1 when the struct is the key or the elem, 2 when it is both.
    uses_per_slot: u64,
    container_size: u64,
    entries_at_full_load: f64,
    bytes_per_entry: f64,
    /// The struct's padding per entry: in the slot the entry occupies and
    /// in its share of the slots that must stay empty.
    padding_per_entry: f64,
    /// Bytes per entry the reordered struct would save.
    #[serde(skip_serializing_if = "Option::is_none")]
    reorder_saves_per_entry: Option<f64>,
}

#[derive(Serialize)]
struct LayoutJson {
    go_version: Option<String>,
    variant: Option<&'static str>,
    types: Vec<TypeLayout>,
    /// Map types whose bucket/group could not be read, and why.
    errors: Vec<String>,
}

fn plain(layout: StructLayout, map: Option<String>) -> TypeLayout {
    TypeLayout {
        layout,
        map,
        reorder: None,
        in_maps: Vec::new(),
    }
}

fn collect(bin: &GoBinary) -> anyhow::Result<LayoutJson> {
    let table = RuntimeLayout::for_binary(bin).context(
        "cannot tell the Go version, so not which map runtime the binary has (give it with --go-version go1.N)",
    )?;
    let mut types: Vec<TypeLayout> = runtime_structs(bin, &table)
        .into_iter()
        .map(|l| plain(l, None))
        .collect();
    let mut errors = Vec::new();
    for m in bin.map_types().context("enumerating map types")? {
        match map_container(bin, &m) {
            Ok(Some(layout)) => types.push(plain(layout, Some(m.name.clone()))),
            Ok(None) => errors.push(format!("{}: its descriptor names no bucket/group type", m.name)),
            Err(e) => errors.push(format!("{}: {e}", m.name)),
        }
    }
    Ok(LayoutJson {
        go_version: bin.go_version().map(|v| v.raw.clone()),
        variant: bin.map_variant().variant.map(|v| v.as_str()),
        types,
        errors,
    })
}

/// Entries a bucket or group holds on average when its map grows.
fn full_load(classic: bool) -> f64 {
    if classic {
        CLASSIC_MAX_LOAD
    } else {
        SWISS_MAX_GROUP_LOAD as f64
    }
}

/// A struct type named on the command line, with its reorder hint and its
/// cost in every map type that stores it inline.
fn struct_type(bin: &GoBinary, all: &LayoutJson, ty: &GoType, name: &str) -> anyhow::Result<TypeLayout> {
    let layout = struct_layout(bin, ty, name)?;
    let reorder = reorder_hint(bin, ty)?;
    let classic = all.variant == Some("classic");
    let mut in_maps = Vec::new();
    for m in bin.map_types().unwrap_or_default() {
        let TypeDetail::Map { key, elem, .. } = &m.detail else {
            continue;
        };
        let same = |r: &mapscope::binary::TypeRef| {
            bin.type_by_id(r.id)
                .is_ok_and(|t| t.name == ty.name && t.size == ty.size)
        };
        // Keys and elems over 128 bytes sit behind a pointer: the padding is
        // then in a separate allocation, not in the slot.
        let inline = ty.size <= 128;
        let uses = u64::from(same(key) && inline) + u64::from(same(elem) && inline);
        if uses == 0 {
            continue;
        }
        let Some(container) = all.types.iter().find(|t| t.map.as_deref() == Some(m.name.as_str())) else {
            continue;
        };
        let per_container = full_load(classic);
        let slots_per_entry = SLOTS as f64 / per_container;
        in_maps.push(EntryCost {
            map: m.name.clone(),
            uses_per_slot: uses,
            container_size: container.layout.size,
            entries_at_full_load: per_container,
            bytes_per_entry: container.layout.size as f64 / per_container,
            padding_per_entry: (layout.padding() * uses) as f64 * slots_per_entry,
            reorder_saves_per_entry: reorder
                .as_ref()
                .map(|r| (ty.size - r.size) as f64 * uses as f64 * slots_per_entry),
        });
    }
    Ok(TypeLayout {
        layout,
        map: None,
        reorder,
        in_maps,
    })
}

fn select(bin: &GoBinary, mut all: LayoutJson, wanted: &[String]) -> anyhow::Result<LayoutJson> {
    if wanted.is_empty() {
        return Ok(all);
    }
    let mut picked = Vec::new();
    let mut missing = Vec::new();
    for w in wanted {
        let canon = mapscope::binary::canonical_type_name(w);
        let hit = |t: &TypeLayout| {
            [w, &canon]
                .iter()
                .any(|n| **n == t.layout.name || Some(*n) == t.map.as_ref())
        };
        if let Some(i) = all.types.iter().position(hit) {
            picked.push(all.types.swap_remove(i));
            continue;
        }
        match bin.type_by_name(w) {
            Ok(Some(ty)) if ty.kind == Kind::Struct => picked.push(struct_type(bin, &all, &ty, &ty.name.clone())?),
            Ok(Some(ty)) => anyhow::bail!("{w} is a {:?} type of {} bytes, not a struct", ty.kind, ty.size),
            _ => missing.push(w.clone()),
        }
    }
    if !missing.is_empty() {
        let dwarf_names = bin.dwarf_type_names().unwrap_or_default();
        let names: Vec<&str> = all
            .types
            .iter()
            .map(|t| t.map.as_deref().unwrap_or(&t.layout.name))
            .chain(picked.iter().map(|t| t.map.as_deref().unwrap_or(&t.layout.name)))
            .chain(dwarf_names.iter().map(String::as_str))
            .collect();
        let hints: Vec<String> = missing
            .iter()
            .filter_map(|m| did_you_mean(m, &names).map(|s| format!("{m}: did you mean {s}?")))
            .collect();
        let mut msg = format!(
            "no runtime structure, map type or struct type named {} in the binary",
            missing.join(", ")
        );
        if !hints.is_empty() {
            msg = format!("{msg} ({})", hints.join("; "));
        }
        return Err(NotFound(msg).into());
    }
    all.types = picked;
    Ok(all)
}

/// The closest known name by edit distance, when it is close enough to be
/// a typo rather than another name.
fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    let limit = (name.chars().count() / 3).max(2);
    known
        .iter()
        .map(|k| (strsim::levenshtein(name, k), *k))
        .filter(|(d, _)| *d <= limit)
        .min()
        .map(|(_, k)| k)
}

pub fn run(
    exe: &Path,
    wanted: &[String],
    compare: Option<&Path>,
    limit: Option<usize>,
    common: &Common,
) -> anyhow::Result<()> {
    let bin = super::open_binary(exe, common)?;
    let this = select(&bin, collect(&bin)?, wanted)?;
    if let Some(other) = compare {
        let other_bin = super::open_binary(other, common)?;
        let that = select(&other_bin, collect(&other_bin)?, wanted)?;
        return print_compare(exe, &this, other, &that, limit, common.json);
    }
    if common.json {
        return output::json(&this);
    }
    let mut out = output::stdout();
    writeln!(
        out,
        "{}: {} ({})",
        exe.display(),
        this.go_version.as_deref().unwrap_or("unknown Go version"),
        this.variant.unwrap_or("unknown map variant")
    )?;
    let classic = this.variant == Some("classic");
    for t in &this.types {
        writeln!(out)?;
        print_struct(&mut out, t, classic)?;
    }
    for e in &this.errors {
        writeln!(out, "\nnot laid out: {e}")?;
    }
    out.flush()?;
    Ok(())
}

/// One in how many instances of a `size`-byte array element starts on a
/// cache line, when the array itself does.
fn aligned_one_in(size: u64) -> u64 {
    let g = gcd(size.max(1), CACHE_LINE);
    CACHE_LINE / g
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn print_struct(out: &mut impl Write, t: &TypeLayout, classic: bool) -> std::io::Result<()> {
    let l = &t.layout;
    match &t.map {
        Some(m) => writeln!(
            out,
            "{m}: {}  size {}  align {}  ({})",
            l.name, l.size, l.align, l.source
        )?,
        None => writeln!(out, "{}  size {}  align {}  ({})", l.name, l.size, l.align, l.source)?,
    }
    writeln!(
        out,
        "  {:>6} {:>6} {:>5}  {:<24} type",
        "offset", "size", "align", "field"
    )?;
    let mut holes = l.holes.iter().peekable();
    let mut line = u64::MAX;
    for f in &l.fields {
        while let Some(h) = holes.next_if(|h| h.offset < f.offset) {
            writeln!(out, "  {:>6} {:>6} {:>5}  {:<24}", h.offset, h.size, "", "(padding)")?;
        }
        let this_line = f.offset / CACHE_LINE;
        if this_line != line && l.size > CACHE_LINE {
            let lo = this_line * CACHE_LINE;
            writeln!(out, "  ---- bytes {lo}–{} ----", (lo + CACHE_LINE).min(l.size) - 1)?;
        }
        line = this_line;
        let split = if l.size > CACHE_LINE && l.cache_lines.iter().any(|c| c.split.contains(&f.name)) {
            "  [crosses a 64-byte boundary]"
        } else {
            ""
        };
        writeln!(
            out,
            "  {:>6} {:>6} {:>5}  {:<24} {}{split}",
            f.offset, f.size, f.align, f.name, f.type_name
        )?;
    }
    for h in holes {
        writeln!(out, "  {:>6} {:>6} {:>5}  {:<24}", h.offset, h.size, "", "(padding)")?;
    }
    writeln!(out, "  padding {} of {} bytes", l.padding(), l.size)?;
    if l.size > CACHE_LINE {
        // The boundaries above are counted from the struct's start; where the
        // CPU's lines fall depends on where the allocator put it.
        let what = if t.map.is_some() {
            if classic {
                "bucket"
            } else {
                "group"
            }
        } else {
            "element"
        };
        let n = aligned_one_in(l.size);
        let where_ = if n == 1 {
            format!("every {what} of an array that starts on a cache line")
        } else {
            format!("1 {what} in {n} of an array that starts on a cache line")
        };
        writeln!(
            out,
            "  64-byte boundaries counted from the struct's start: they are cache lines for {where_}"
        )?;
    }
    if let Some(r) = &t.reorder {
        writeln!(
            out,
            "  reordered as {{{}}} it would take {} bytes instead of {}",
            r.order.join(", "),
            r.size,
            l.size
        )?;
    }
    for c in &t.in_maps {
        let role = if c.uses_per_slot == 2 {
            "key and elem"
        } else {
            "key or elem"
        };
        write!(
            out,
            "  in {} ({role}; {} bytes per {}, {} entries at full load): {:.1} bytes per entry, {:.1} of them this struct's padding",
            c.map,
            c.container_size,
            if classic { "bucket" } else { "group" },
            c.entries_at_full_load,
            c.bytes_per_entry,
            c.padding_per_entry
        )?;
        match c.reorder_saves_per_entry {
            Some(s) => writeln!(out, "; reordering saves {s:.1}")?,
            None => writeln!(out)?,
        }
    }
    Ok(())
}

/// One layout difference, with the values on both sides for scripts and a
/// sentence for people.
#[derive(Serialize)]
struct Difference {
    name: String,
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    before: Option<Side>,
    #[serde(skip_serializing_if = "Option::is_none")]
    after: Option<Side>,
    what: String,
}

#[derive(Serialize, Clone)]
struct Side {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    offset: Option<u64>,
    size: u64,
}

fn side(name: Option<&str>, offset: Option<u64>, size: u64) -> Option<Side> {
    Some(Side {
        name: name.map(str::to_string),
        offset,
        size,
    })
}

/// The runtime's container kind, so a bucket compared with a group is one
/// line ("replaced") rather than a field-by-field list.
fn container_kind(name: &str) -> &str {
    name.split('[').next().unwrap_or(name)
}

fn differences(a: &LayoutJson, b: &LayoutJson) -> Vec<Difference> {
    let key = |t: &TypeLayout| t.map.clone().unwrap_or_else(|| t.layout.name.clone());
    let left: BTreeMap<String, &StructLayout> = a.types.iter().map(|t| (key(t), &t.layout)).collect();
    let right: BTreeMap<String, &StructLayout> = b.types.iter().map(|t| (key(t), &t.layout)).collect();
    let mut out = Vec::new();
    for (name, l) in &left {
        let d = |kind, field: Option<&str>, before, after, what: String| Difference {
            name: name.clone(),
            kind,
            field: field.map(str::to_string),
            before,
            after,
            what,
        };
        let Some(r) = right.get(name) else {
            out.push(d(
                "only_first",
                None,
                side(Some(&l.name), None, l.size),
                None,
                "only in the first binary".into(),
            ));
            continue;
        };
        if container_kind(&l.name) != container_kind(&r.name) {
            out.push(d(
                "replaced",
                None,
                side(Some(&l.name), None, l.size),
                side(Some(&r.name), None, r.size),
                format!("{} ({} bytes) → {} ({} bytes)", l.name, l.size, r.name, r.size),
            ));
            continue;
        }
        if l.size != r.size {
            out.push(d(
                "resized",
                None,
                side(None, None, l.size),
                side(None, None, r.size),
                format!("size {} → {}", l.size, r.size),
            ));
        }
        for f in &l.fields {
            match r.field(&f.name) {
                None => out.push(d(
                    "field_removed",
                    Some(&f.name),
                    side(None, Some(f.offset), f.size),
                    None,
                    format!("field {} (offset {}) removed", f.name, f.offset),
                )),
                Some(g) if (g.offset, g.size) != (f.offset, f.size) => out.push(d(
                    "field_moved",
                    Some(&f.name),
                    side(None, Some(f.offset), f.size),
                    side(None, Some(g.offset), g.size),
                    format!(
                        "field {}: offset {} size {} → offset {} size {}",
                        f.name, f.offset, f.size, g.offset, g.size
                    ),
                )),
                Some(_) => {}
            }
        }
        for g in &r.fields {
            if l.field(&g.name).is_none() {
                out.push(d(
                    "field_added",
                    Some(&g.name),
                    None,
                    side(None, Some(g.offset), g.size),
                    format!("field {} added at offset {} ({} bytes)", g.name, g.offset, g.size),
                ));
            }
        }
    }
    for (name, r) in right.iter().filter(|(n, _)| !left.contains_key(*n)) {
        out.push(Difference {
            name: name.clone(),
            kind: "only_second",
            field: None,
            before: None,
            after: side(Some(&r.name), None, r.size),
            what: "only in the second binary".into(),
        });
    }
    out
}

/// Counts per kind of difference, by type (a type with three moved fields
/// counts once under "changed").
#[derive(Serialize, Default)]
struct Summary {
    types_first: usize,
    types_second: usize,
    same: usize,
    changed: usize,
    replaced: usize,
    only_first: usize,
    only_second: usize,
}

fn summarize(a: &LayoutJson, b: &LayoutJson, diffs: &[Difference]) -> Summary {
    let mut per_type: BTreeMap<&str, &str> = BTreeMap::new();
    for d in diffs {
        let k = match d.kind {
            "only_first" | "only_second" | "replaced" => d.kind,
            _ => "changed",
        };
        per_type.insert(&d.name, k);
    }
    let mut s = Summary {
        types_first: a.types.len(),
        types_second: b.types.len(),
        ..Summary::default()
    };
    for k in per_type.values() {
        match *k {
            "only_first" => s.only_first += 1,
            "only_second" => s.only_second += 1,
            "replaced" => s.replaced += 1,
            _ => s.changed += 1,
        }
    }
    s.same = s.types_first.saturating_sub(s.only_first + s.replaced + s.changed);
    s
}

/// Difference lines printed by default; `--limit 0` prints all.
const DEFAULT_COMPARE_LINES: usize = 40;

fn print_compare(
    a_path: &Path,
    a: &LayoutJson,
    b_path: &Path,
    b: &LayoutJson,
    limit: Option<usize>,
    json: bool,
) -> anyhow::Result<()> {
    let diffs = differences(a, b);
    let summary = summarize(a, b, &diffs);
    if json {
        #[derive(Serialize)]
        struct CompareJson<'a> {
            first: String,
            second: String,
            first_go_version: &'a Option<String>,
            second_go_version: &'a Option<String>,
            first_variant: Option<&'static str>,
            second_variant: Option<&'static str>,
            summary: &'a Summary,
            differences: &'a [Difference],
        }
        return output::json(&CompareJson {
            first: a_path.display().to_string(),
            second: b_path.display().to_string(),
            first_go_version: &a.go_version,
            second_go_version: &b.go_version,
            first_variant: a.variant,
            second_variant: b.variant,
            summary: &summary,
            differences: &diffs,
        });
    }
    let mut out = output::stdout();
    let v = |l: &LayoutJson| {
        format!(
            "{}, {} maps",
            l.go_version.as_deref().unwrap_or("unknown Go version"),
            l.variant.unwrap_or("unknown")
        )
    };
    writeln!(out, "first   {} ({})", a_path.display(), v(a))?;
    writeln!(out, "second  {} ({})", b_path.display(), v(b))?;
    writeln!(out)?;
    writeln!(
        out,
        "  {:<34} {:>6} {:>6}",
        "structures and map types", "first", "second"
    )?;
    writeln!(
        out,
        "  {:<34} {:>6} {:>6}",
        "laid out", summary.types_first, summary.types_second
    )?;
    writeln!(out, "  {:<34} {:>6}", "same layout", summary.same)?;
    writeln!(out, "  {:<34} {:>6}", "fields moved, resized, added", summary.changed)?;
    writeln!(out, "  {:<34} {:>6}", "bucket ↔ group (map runtime)", summary.replaced)?;
    writeln!(
        out,
        "  {:<34} {:>6} {:>6}",
        "only in one binary", summary.only_first, summary.only_second
    )?;
    if diffs.is_empty() {
        writeln!(out, "\nno layout differences")?;
        out.flush()?;
        return Ok(());
    }
    writeln!(out)?;
    let shown = crate::output::limit(limit, DEFAULT_COMPARE_LINES).min(diffs.len());
    // Runtime structures first: they explain most of the rest.
    let mut order: Vec<&Difference> = diffs.iter().collect();
    order.sort_by_key(|d| !d.name.starts_with("runtime.") && !d.name.starts_with("internal/"));
    for d in order.iter().take(shown) {
        writeln!(out, "  {}: {}", d.name, d.what)?;
    }
    crate::output::more(
        &mut out,
        "  ",
        (diffs.len() - shown) as u64,
        "difference",
        "differences",
    )?;
    out.flush()?;
    Ok(())
}
