//! `mapscope maps EXE CORE|--pid P`: every global map, what it holds and
//! what it costs.

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

pub fn run(target: &Target, core: Option<&std::path::Path>, common: &Common) -> anyhow::Result<()> {
    let opened = super::target::open(target, core, common)?;
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
                            row.len = Some(snap.map.header_len());
                            row.bytes = Some(snap.stats.bytes.total);
                            row.load_factor = Some(snap.stats.load_factor);
                            row.error = snap
                                .torn
                                .map(|t| t.to_string())
                                .or(snap.walk_error.map(|e| e.to_string()));
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
    if common.json {
        return output::json(&serde_json::json!({ "variant": variant, "maps": rows }));
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
    Ok(())
}
