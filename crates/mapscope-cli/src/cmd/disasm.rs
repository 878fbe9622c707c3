//! `mapscope disasm EXE [--func F]`: map call sites and the runtime's map
//! functions, annotated with the fields their memory operands touch.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use mapscope::binary::Func;
use mapscope::disasm::{self, AnnotatedFunction, Annotator, CallSite};
use serde::Serialize;

use crate::output::{self, NotFound};
use crate::Common;

#[derive(Serialize)]
struct DisasmJson {
    go_version: Option<String>,
    variant: Option<&'static str>,
    /// Where the runtime structure layouts came from (`dwarf`, `mapscope table`).
    layout_source: Option<String>,
    call_sites: Vec<CallSite>,
    functions: Vec<AnnotatedFunction>,
    /// Every (structure, offset) the code touches that no known field covers.
    unknown_offsets: Vec<disasm::OffsetUse>,
}

/// `--syntax`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SyntaxArg {
    Intel,
    Go,
}

pub fn run(exe: &Path, func: Option<&str>, syntax: SyntaxArg, common: &Common) -> anyhow::Result<()> {
    let bin = super::open_binary(exe, common)?;
    let syntax = match syntax {
        SyntaxArg::Intel => disasm::Syntax::Intel,
        SyntaxArg::Go => disasm::Syntax::Go,
    };
    let annotator = Annotator::new(&bin)?.with_syntax(syntax)?;
    let (targets, calls): (Vec<Func>, Vec<CallSite>) = match func {
        Some(pat) => {
            let fs = disasm::find_functions(&bin, pat);
            if fs.is_empty() {
                return Err(NotFound(format!("no function matches {pat:?}")).into());
            }
            let entries: std::collections::HashSet<u64> = fs.iter().map(|f| f.entry).collect();
            let calls = disasm::call_sites_where(&bin, |f| entries.contains(&f.entry))?;
            (fs, calls)
        }
        None => (disasm::runtime_map_functions(&bin), disasm::call_sites(&bin)?),
    };
    let mut functions = Vec::with_capacity(targets.len());
    for f in &targets {
        functions.push(
            annotator
                .annotate(f)
                .with_context(|| format!("{} at {:#x}", f.name, f.entry))?,
        );
    }
    let mut unknown: Vec<disasm::OffsetUse> = Vec::new();
    for u in functions.iter().flat_map(|f| f.unknown_offsets.iter()) {
        match unknown
            .iter_mut()
            .find(|k| k.structure == u.structure && k.offset == u.offset)
        {
            Some(k) => k.uses += u.uses,
            None => unknown.push(u.clone()),
        }
    }
    let doc = DisasmJson {
        go_version: bin.go_version().map(|v| v.raw.clone()),
        variant: bin.map_variant().variant.map(|v| v.as_str()),
        layout_source: annotator.field_table().map(|t| t.source.clone()),
        call_sites: calls,
        functions,
        unknown_offsets: unknown,
    };
    if common.json {
        return output::json(&doc);
    }
    print_text(&doc)
}

fn base(file: &str) -> &str {
    file.rsplit('/').next().unwrap_or(file)
}

fn print_text(doc: &DisasmJson) -> anyhow::Result<()> {
    let mut out = output::stdout();
    writeln!(
        out,
        "Go {}  map variant {}  layouts from {}",
        doc.go_version.as_deref().unwrap_or("unknown"),
        doc.variant.unwrap_or("unknown"),
        doc.layout_source.as_deref().unwrap_or("nowhere")
    )?;
    writeln!(out, "\nmap call sites: {}", doc.call_sites.len())?;
    for c in &doc.call_sites {
        let at = match (&c.file, c.line) {
            (Some(f), Some(l)) => format!("{}:{l}", base(f)),
            _ => "?".into(),
        };
        writeln!(
            out,
            "  {:#x}  {:<24} {:<7} {:<32} {}  ({})",
            c.address,
            at,
            c.op.as_str(),
            c.callee,
            match (&c.map_type, &c.map_type_reason) {
                (Some(t), _) => t.as_str(),
                // makemap_small and friends: no type to show.
                (None, Some(r)) if r.ends_with("takes no map type") => "-",
                _ => "?",
            },
            c.function
        )?;
    }
    for f in &doc.functions {
        let file = f.instructions.iter().find_map(|i| i.file.as_deref()).unwrap_or("?");
        writeln!(out, "\nTEXT {}(SB) {file}", f.name)?;
        for i in &f.instructions {
            let at = match (&i.file, i.line) {
                (Some(f), Some(l)) => format!("{}:{l}", base(f)),
                _ => "?".into(),
            };
            let mut text = i.text.clone();
            if let Some(t) = &i.target {
                text.push_str(&format!(" <{t}>"));
            }
            match &i.field {
                Some(field) => writeln!(out, "  {at}\t{:#x}\t{:<20}\t{text:<48}; {field}", i.address, i.bytes)?,
                None => writeln!(out, "  {at}\t{:#x}\t{:<20}\t{text}", i.address, i.bytes)?,
            }
        }
        let touched: Vec<String> = f
            .offsets
            .iter()
            .map(|o| {
                format!(
                    "{}+{:#x} {} ×{}",
                    o.structure,
                    o.offset,
                    o.field.as_deref().unwrap_or("UNKNOWN"),
                    o.uses
                )
            })
            .collect();
        if !touched.is_empty() {
            writeln!(out, "  offsets touched: {}", touched.join(", "))?;
        }
        if !f.unknown_offsets.is_empty() {
            writeln!(
                out,
                "  WARNING: {} offset(s) match no known field",
                f.unknown_offsets.len()
            )?;
        }
        for n in &f.notes {
            writeln!(out, "  note: {n}")?;
        }
    }
    if !doc.unknown_offsets.is_empty() {
        writeln!(out, "\nunknown offsets (layout knowledge may be out of date):")?;
        for u in &doc.unknown_offsets {
            writeln!(out, "  {}+{:#x} ×{}", u.structure, u.offset, u.uses)?;
        }
    }
    out.flush()?;
    Ok(())
}
