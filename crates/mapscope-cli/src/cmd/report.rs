//! `mapscope report EXE CORE|--pid P [-o FILE] [--top N] [MAP...]`: the
//! census and the maps (those named, else the largest by bytes) as one
//! offline HTML page.

use std::io::Write;
use std::path::Path;

use anyhow::{anyhow, Context};
use clap::Args;
use mapscope::maps::resolve::NamedMap;
use serde_json::{json, Value as Json};

use crate::report;
use crate::{Common, Target};

#[derive(Args)]
pub struct ReportArgs {
    #[command(flatten)]
    target: Target,
    /// [CORE] [MAP...]: the core (omit with --pid), then maps to draw
    /// (`main.Handlers`, `0xADDR:map[K]V`, an owner or `0xADDR` from the census).
    #[arg(value_name = "CORE|MAP")]
    args: Vec<String>,
    /// Also draw the N largest maps of the census by bytes (0: only those named).
    #[arg(long, default_value_t = 10)]
    top: usize,
    #[command(flatten)]
    common: Common,
}

/// The page's file when `-o` does not name one.
const DEFAULT_OUTPUT: &str = "mapscope-report.html";

pub fn run(a: &ReportArgs, output: Option<&Path>) -> anyhow::Result<()> {
    let output = output.unwrap_or(Path::new(DEFAULT_OUTPUT));
    let (core, wanted): (Option<&Path>, &[String]) = match (a.target.pid, a.args.split_first()) {
        (Some(_), _) => (None, &a.args),
        (None, Some((core, rest))) => (Some(Path::new(core.as_str())), rest),
        (None, None) => return Err(anyhow!("a core file or --pid is needed")),
    };
    let opened = super::target::open(&a.target, core, &a.common)?;
    let bin = &opened.bin;
    // Kept as it is and streamed into the page: as a JSON tree, the census
    // of a program with 50k maps took 470 MB, and its text 300 MB more.
    let census = mapscope::census::run(bin, opened.mem.clone(), &opened.threads, None).map(|mut c| {
        c.maps.sort_by(|x, y| y.bytes.cmp(&x.bytes).then(x.owner.cmp(&y.owner)));
        c
    });
    let census_maps: &[mapscope::census::CensusMap] = census.as_ref().map_or(&[], |c| c.maps.as_slice());

    // The maps to draw: those named, then the largest typed ones.
    let mut chosen: Vec<(NamedMap, Option<usize>)> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    for w in wanted {
        let named = super::target::resolve_map(&opened, w)?;
        if named.header == 0 {
            errors.push(format!("{w} is a nil map: nothing to draw"));
            continue;
        }
        let idx = census_maps.iter().position(|m| m.address == named.header);
        chosen.push((named, idx));
    }
    for (i, m) in census_maps.iter().enumerate() {
        if chosen.len() >= wanted.len() + a.top {
            break;
        }
        if chosen.iter().any(|(n, _)| n.header == m.address) {
            continue;
        }
        let Some(t) = &m.type_name else { continue };
        match bin.runtime_type_by_name(t) {
            Ok(Some(map_type)) => chosen.push((
                NamedMap {
                    name: if m.owner.is_empty() {
                        format!("{:#x}", m.address)
                    } else {
                        m.owner.clone()
                    },
                    map_type,
                    variable: None,
                    header: m.address,
                },
                Some(i),
            )),
            Ok(None) => errors.push(format!("{t}: no runtime descriptor, {:#x} not drawn", m.address)),
            Err(e) => errors.push(format!("{t}: {e}")),
        }
    }

    let mut types: Vec<mapscope::binary::GoType> = Vec::new();
    for (n, _) in &chosen {
        if !types.iter().any(|t| t.name == n.map_type.name) {
            types.push(n.map_type.clone());
        }
    }
    let (layouts, layout_errors) = report::layouts(bin, &types.iter().collect::<Vec<_>>());
    errors.extend(layout_errors);

    let mut maps = Vec::new();
    for (id, (named, idx)) in chosen.into_iter().enumerate() {
        let what = format!("{} at {:#x}", named.name, named.header);
        match report::map_report(bin, opened.mem.clone(), named, id, idx) {
            Ok(m) => maps.push(m),
            Err(e) => errors.push(format!("{what}: {e:#}")),
        }
    }
    drop(opened.pause);
    // Census rows link to the map views: [row index, view id] pairs.
    let views: Vec<Json> = maps
        .iter()
        .filter(|m| m.meta["census"].is_u64())
        .map(|m| json!([m.meta["census"], m.meta["id"]]))
        .collect();
    let source = match (core, a.target.pid) {
        (Some(c), _) => c.display().to_string(),
        (None, Some(p)) => format!("pid {p}"),
        _ => String::new(),
    };
    let exe = a.target.exe.display().to_string();
    let meta = json!({
        "tool": format!("mapscope {}", env!("CARGO_PKG_VERSION")),
        "exe": exe,
        "source": source,
        "go_version": bin.go_version().map(|v| v.raw.clone()),
        "variant": bin.map_variant().variant.map(|v| v.as_str()),
        "views": views,
        "layouts": serde_json::to_value(&layouts)?,
        "errors": errors,
    });
    let Json::Object(meta) = meta else {
        return Err(anyhow!("the page's metadata is not an object"));
    };
    let file = std::fs::File::create(output).with_context(|| output.display().to_string())?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let title = format!("mapscope report — {exe} {source}");
    match &census {
        Ok(c) => report::write_html(&mut out, &title, meta, c, maps)?,
        Err(e) => report::write_html(&mut out, &title, meta, &json!({"error": e.to_string()}), maps)?,
    }
    out.flush().with_context(|| output.display().to_string())?;
    eprintln!("wrote {}", output.display());
    Ok(())
}
