//! `mapscope demo`: the main job on a fixture bundled in the repository. It
//! follows a func-valued map from the global variable to the functions its
//! values run, level by level, with the real addresses of a real core dump:
//! variable → map header → bucket/group → slot → key, and elem → funcval →
//! code address → function, file:line.

use std::io::Write;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use mapscope::maps::resolve::resolve;
use mapscope::maps::MapHandle;
use mapscope::memory::{CoreFile, Memory};
use mapscope::values::ValueDecoder;
use serde::Serialize;

use crate::{output, Common};

/// A Swiss fixture by default: what current Go releases run.
pub const DEFAULT_FIXTURE: &str = "go1.26";
const MAP: &str = "main.Handlers";
const DIFF_FIXTURE: &str = "diff-go1.26";

#[derive(Serialize)]
struct DemoSlot {
    container: String,
    place: String,
    slot: u8,
    tag: u8,
    tag_state: &'static str,
    key_address: String,
    key: String,
    elem_address: String,
    funcval: String,
    code: String,
    function: Option<String>,
    file: Option<String>,
    line: Option<u32>,
}

#[derive(Serialize)]
struct DemoJson {
    fixture: String,
    go_version: Option<String>,
    variant: Option<&'static str>,
    map: &'static str,
    #[serde(rename = "type")]
    map_type: String,
    variable: String,
    /// The map header's address.
    address: String,
    /// The header's fields, as `show --json` gives them.
    header: serde_json::Value,
    len: u64,
    slots: Vec<DemoSlot>,
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

pub fn run(fixture: Option<&str>, common: &Common) -> anyhow::Result<()> {
    let name = fixture.unwrap_or(DEFAULT_FIXTURE);
    let fx = mapscope_fixtures::get(name)?;
    let exe = fx.binary_path()?;
    let core = fx.core_path()?;
    // The README's `diff` and `watch` examples read this snapshot pair.
    if let Some(pair) = mapscope_fixtures::diffpair::pairs()?
        .into_iter()
        .find(|p| p.name() == DIFF_FIXTURE)
    {
        pair.binary_path()?;
        pair.before_core()?;
        pair.after_core()?;
    }
    let bin = super::open_binary(&exe, common)?;
    let mem: Arc<dyn Memory> =
        Arc::new(CoreFile::open_with_executable(&core, &exe).with_context(|| core.display().to_string())?);
    let named = resolve(&bin, &*mem, MAP)?;
    let type_name = named.map_type.name.clone();
    let variant = bin
        .map_variant()
        .variant
        .ok_or_else(|| anyhow!("cannot tell the map variant"))?;
    let var = named.variable.ok_or_else(|| anyhow!("{MAP} is not a global"))?;
    let header = named.header;
    let map = MapHandle::for_type(mem.clone(), &bin, header, &named.map_type)?;
    let decoder = ValueDecoder::new(&bin, mem.clone());
    let plans = decoder.entry_plans(&named.map_type)?;

    let mut slots = Vec::new();
    for e in map.entries() {
        let e = e?;
        let (k, v) = decoder.decode_entry(&plans, &e);
        let key = k.go_string();
        let f = v.func();
        let (funcval, code) = f.map_or((0, 0), |f| (f.funcval, f.pc));
        let src = f.and_then(|f| f.symbol.as_ref());
        let place = e.place.to_string();
        let tag_state = map.tag_state(e.tag);
        slots.push(DemoSlot {
            container: hex(e.container),
            place,
            slot: e.slot,
            tag: e.tag,
            tag_state,
            key_address: hex(e.key),
            key,
            elem_address: hex(e.elem),
            funcval: hex(funcval),
            code: hex(code),
            function: src.map(|s| s.name.clone()),
            file: src.and_then(|s| s.file.clone()),
            line: src.and_then(|s| s.line),
        });
    }
    slots.sort_by(|a, b| a.key.cmp(&b.key));
    let demo = DemoJson {
        fixture: name.to_string(),
        go_version: bin.go_version().map(|v| v.raw.clone()),
        variant: Some(variant.as_str()),
        map: MAP,
        map_type: type_name,
        variable: hex(var),
        address: hex(header),
        header: super::show::header_json(&map),
        len: map.header_len(),
        slots,
    };
    if common.json {
        return output::json(&demo);
    }
    print_text(&demo, &map, &exe, &core)
}

fn print_text(d: &DemoJson, map: &MapHandle, exe: &std::path::Path, core: &std::path::Path) -> anyhow::Result<()> {
    let mut out = output::stdout();
    writeln!(
        out,
        "mapscope demo: fixture {} ({}, {} maps)",
        d.fixture,
        d.go_version.as_deref().unwrap_or("?"),
        d.variant.unwrap_or("?")
    )?;
    writeln!(out, "  executable  {}", exe.display())?;
    writeln!(out, "  core dump   {}", core.display())?;
    writeln!(out)?;
    writeln!(out, "{} {}", d.map, d.map_type)?;
    writeln!(out, "  level 0  variable      {}  holds the map pointer", d.variable)?;
    match map {
        MapHandle::Classic(m) => {
            let h = &m.header;
            writeln!(
                out,
                "  level 1  runtime.hmap  {}  count={} B={} ({} buckets) hash0={:#010x} buckets={:#x} oldbuckets={:#x}",
                d.address,
                h.count,
                h.b,
                h.bucket_count(),
                h.hash0,
                h.buckets,
                h.oldbuckets
            )?;
        }
        MapHandle::Swiss(m) => {
            let h = &m.header;
            let dir = if h.is_small() {
                "small map: dirPtr is its only group".to_string()
            } else {
                format!("{} directory slots, {} tables", h.dir_len, m.tables.len())
            };
            writeln!(
                out,
                "  level 1  maps.Map      {}  used={} seed={:#x} dirPtr={:#x} dirLen={} ({dir})",
                d.address, h.used, h.seed, h.dir_ptr, h.dir_len
            )?;
        }
    }
    let shape = map.shape();
    // Every layout (classic, interleaved, split) places slot i at a fixed stride, so
    // the first two slots give the whole formula.
    let stride = |at: &dyn Fn(u8) -> u64| at(1).saturating_sub(at(0));
    let (what, slot) = match map {
        MapHandle::Classic(_) => ("bucket", "tophash"),
        MapHandle::Swiss(_) => ("group", "ctrl"),
    };
    writeln!(
        out,
        "  {what} size {} bytes; {slot} bytes at +0, key i at +{} + i*{}, elem i at +{} + i*{}",
        shape.container_size(),
        shape.key_offset(0),
        stride(&|i| shape.key_offset(i)),
        shape.elem_offset(0),
        stride(&|i| shape.elem_offset(i)),
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "  {:<10} {:<20} {:<4} {:<13} {:<16} {:<14} {:<14} {:<10} function",
        "key", "bucket/group", "slot", "tag", "key at", "elem at", "funcval", "code"
    )?;
    for s in &d.slots {
        let func = match (&s.function, &s.file, s.line) {
            (Some(f), Some(file), Some(line)) => format!("{f}  {file}:{line}"),
            (Some(f), _, _) => f.clone(),
            _ => "(nil func)".into(),
        };
        writeln!(
            out,
            "  {:<10} {:<20} {:<4} {:<13} {:<16} {:<14} {:<14} {:<10} {func}",
            format!("{:?}", s.key),
            s.container,
            s.slot,
            format!("{:#04x} {}", s.tag, s.tag_state),
            s.key_address,
            s.elem_address,
            s.funcval,
            s.code
        )?;
    }
    writeln!(out, "\n{} entries (the header says {})", d.slots.len(), d.len)?;
    out.flush()?;
    Ok(())
}
