//! `mapscope info EXE`.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::{output, Common};

#[derive(Serialize)]
struct InfoJson {
    #[serde(flatten)]
    info: mapscope::binary::Info,
    path: Option<String>,
    main_module: Option<mapscope::binary::Module>,
    modules: Vec<mapscope::binary::Module>,
    settings: Vec<(String, String)>,
}

pub fn run(exe: &Path, common: &Common) -> anyhow::Result<()> {
    let bin = super::open_binary(exe, common)?;
    let info = bin.info();
    let bi = bin.build_info().ok();
    if common.json {
        return output::json(&InfoJson {
            info,
            path: bi.and_then(|b| b.path.clone()),
            main_module: bi.and_then(|b| b.main.clone()),
            modules: bi.map(|b| b.deps.clone()).unwrap_or_default(),
            settings: bi.map(|b| b.settings.clone()).unwrap_or_default(),
        });
    }
    let mut out = output::stdout();
    let or_unknown = |s: Option<&str>| s.unwrap_or("unknown").to_string();
    let yes = |b: bool| if b { "yes" } else { "no (stripped)" };
    writeln!(out, "{}", exe.display())?;
    writeln!(
        out,
        "  Go version     {}{}",
        or_unknown(info.go_version.as_deref()),
        info.version_source.map_or(String::new(), |s| format!(" (from {s})"))
    )?;
    writeln!(
        out,
        "  platform       {}/{}",
        or_unknown(info.goos.as_deref()),
        info.goarch
    )?;
    let exps = if info.experiments.is_empty() {
        "(none)".to_string()
    } else {
        info.experiments.join(",")
    };
    writeln!(out, "  experiments    {exps}")?;
    writeln!(out, "  map variant    {}", or_unknown(info.variant.map(|v| v.as_str())))?;
    writeln!(out, "  DWARF          {}", yes(info.dwarf))?;
    writeln!(out, "  symbols        {}", yes(info.symbols))?;
    writeln!(out, "  functions      {}", info.functions)?;
    writeln!(out, "  types          {}", info.types)?;
    writeln!(out, "  map types      {}", info.map_types.len())?;
    if let Some(b) = bi {
        if let Some(p) = &b.path {
            writeln!(out, "  path           {p}")?;
        }
        if let Some(m) = &b.main {
            writeln!(out, "  main module    {} {}", m.path, m.version)?;
        }
        for d in &b.deps {
            writeln!(out, "  dep            {} {}", d.path, d.version)?;
        }
        for (k, v) in &b.settings {
            writeln!(out, "  build          {k}={v}")?;
        }
    }
    for t in &info.map_types {
        writeln!(out, "  map            {t}")?;
    }
    out.flush()?;
    Ok(())
}
