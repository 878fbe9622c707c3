//! `mapscope layout EXE [TYPE...] [--compare OTHER]`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mapscope::binary::GoBinary;
use mapscope::layout::types::{map_container, runtime_structs};
use mapscope::layout::{RuntimeLayout, StructLayout};
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
}

#[derive(Serialize)]
struct LayoutJson {
    go_version: Option<String>,
    variant: Option<&'static str>,
    types: Vec<TypeLayout>,
    /// Map types whose bucket/group could not be read, and why.
    errors: Vec<String>,
}

fn collect(bin: &GoBinary) -> anyhow::Result<LayoutJson> {
    let table =
        RuntimeLayout::for_binary(bin).context("cannot tell the Go version or map variant (try --go-version)")?;
    let mut types: Vec<TypeLayout> = runtime_structs(bin, &table)
        .into_iter()
        .map(|layout| TypeLayout { layout, map: None })
        .collect();
    let mut errors = Vec::new();
    for m in bin.map_types().context("enumerating map types")? {
        match map_container(bin, &m) {
            Ok(Some(layout)) => types.push(TypeLayout {
                layout,
                map: Some(m.name.clone()),
            }),
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

fn select(all: LayoutJson, wanted: &[String]) -> anyhow::Result<LayoutJson> {
    if wanted.is_empty() {
        return Ok(all);
    }
    let matches = |t: &TypeLayout| wanted.iter().any(|w| *w == t.layout.name || Some(w) == t.map.as_ref());
    let types: Vec<TypeLayout> = all.types.into_iter().filter(matches).collect();
    if types.is_empty() {
        return Err(NotFound(format!("no runtime structure or map type named {}", wanted.join(", "))).into());
    }
    Ok(LayoutJson { types, ..all })
}

pub fn run(exe: &Path, wanted: &[String], compare: Option<&Path>, common: &Common) -> anyhow::Result<()> {
    let bin = super::open_binary(exe, common)?;
    let this = select(collect(&bin)?, wanted)?;
    if let Some(other) = compare {
        let other_bin = super::open_binary(other, common)?;
        let that = select(collect(&other_bin)?, wanted)?;
        return print_compare(exe, &this, other, &that, common.json);
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
    for t in &this.types {
        writeln!(out)?;
        print_struct(&mut out, t)?;
    }
    for e in &this.errors {
        writeln!(out, "\nnot laid out: {e}")?;
    }
    out.flush()?;
    Ok(())
}

fn print_struct(out: &mut impl Write, t: &TypeLayout) -> std::io::Result<()> {
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
        let this_line = f.offset / mapscope::layout::CACHE_LINE;
        if this_line != line {
            writeln!(
                out,
                "  ---- cache line {this_line} (offset {}) ----",
                this_line * mapscope::layout::CACHE_LINE
            )?;
        }
        line = this_line;
        let split = if l.cache_lines.iter().any(|c| c.split.contains(&f.name)) {
            "  [crosses a cache line]"
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
    writeln!(
        out,
        "  padding {} of {} bytes; {} cache line(s)",
        l.padding(),
        l.size,
        l.cache_lines.len()
    )
}

#[derive(Serialize)]
struct Difference {
    name: String,
    what: String,
}

fn differences(a: &LayoutJson, b: &LayoutJson) -> Vec<Difference> {
    let key = |t: &TypeLayout| t.map.clone().unwrap_or_else(|| t.layout.name.clone());
    let left: BTreeMap<String, &StructLayout> = a.types.iter().map(|t| (key(t), &t.layout)).collect();
    let right: BTreeMap<String, &StructLayout> = b.types.iter().map(|t| (key(t), &t.layout)).collect();
    let mut out = Vec::new();
    let mut push = |name: &str, what: String| {
        out.push(Difference {
            name: name.to_string(),
            what,
        })
    };
    for (name, l) in &left {
        let Some(r) = right.get(name) else {
            push(name, "only in the first binary".into());
            continue;
        };
        if l.name != r.name {
            push(name, format!("named {} → {}", l.name, r.name));
        }
        if l.size != r.size {
            push(name, format!("size {} → {}", l.size, r.size));
        }
        for f in &l.fields {
            match r.field(&f.name) {
                None => push(name, format!("field {} (offset {}) removed", f.name, f.offset)),
                Some(g) if (g.offset, g.size) != (f.offset, f.size) => push(
                    name,
                    format!(
                        "field {}: offset {} size {} → offset {} size {}",
                        f.name, f.offset, f.size, g.offset, g.size
                    ),
                ),
                Some(_) => {}
            }
        }
        for g in &r.fields {
            if l.field(&g.name).is_none() {
                push(
                    name,
                    format!("field {} added at offset {} ({} bytes)", g.name, g.offset, g.size),
                );
            }
        }
    }
    for name in right.keys().filter(|n| !left.contains_key(*n)) {
        push(name, "only in the second binary".into());
    }
    out
}

fn print_compare(a_path: &Path, a: &LayoutJson, b_path: &Path, b: &LayoutJson, json: bool) -> anyhow::Result<()> {
    let diffs = differences(a, b);
    if json {
        #[derive(Serialize)]
        struct CompareJson<'a> {
            first: String,
            second: String,
            first_go_version: &'a Option<String>,
            second_go_version: &'a Option<String>,
            differences: &'a [Difference],
        }
        return output::json(&CompareJson {
            first: a_path.display().to_string(),
            second: b_path.display().to_string(),
            first_go_version: &a.go_version,
            second_go_version: &b.go_version,
            differences: &diffs,
        });
    }
    let mut out = output::stdout();
    let v = |l: &LayoutJson| {
        format!(
            "{} {}",
            l.go_version.as_deref().unwrap_or("?"),
            l.variant.unwrap_or("?")
        )
    };
    writeln!(out, "{} ({}) → {} ({})", a_path.display(), v(a), b_path.display(), v(b))?;
    if diffs.is_empty() {
        writeln!(out, "no layout differences")?;
    }
    for d in &diffs {
        writeln!(out, "  {}: {}", d.name, d.what)?;
    }
    out.flush()?;
    Ok(())
}
