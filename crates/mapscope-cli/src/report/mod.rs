//! `mapscope report`: one self-contained HTML file — the census, every shown
//! map's header, atlas (each slot a cell), statistics and per-entry
//! addressing paths, and the layouts of the structures involved. `model`
//! gathers the facts; this module packs them into the page; the script and
//! style are the asset files next to it, included at build time so the page
//! needs no network.

pub mod model;

use std::io::Write;

use base64::Engine;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde_json::Value as Json;

pub use model::{layouts, map_report, MapReport};

const SCRIPT: &str = include_str!("assets/report.js");
const STYLE: &str = include_str!("assets/report.css");

/// Writes JSON so that it can sit inside a `<script>` element: `<` only
/// occurs inside JSON strings, where `\u003c` means the same. A writer, so
/// that a census of 50k maps goes to the file without a copy in memory.
struct ScriptSafe<W>(W);

impl<W: Write> Write for ScriptSafe<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        for (i, part) in buf.split(|&b| b == b'<').enumerate() {
            if i > 0 {
                self.0.write_all(b"\\u003c")?;
            }
            self.0.write_all(part)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes the page: `meta` is the document's JSON (layouts, errors, …) and
/// `census` its `census` member, streamed; each map's blob goes
/// gzip-compressed and base64-encoded into its own inert script element,
/// which the browser inflates with its built-in `DecompressionStream` when
/// the map is opened.
pub fn write_html(
    out: &mut impl Write,
    title: &str,
    mut meta: serde_json::Map<String, Json>,
    census: &impl serde::Serialize,
    maps: Vec<MapReport>,
) -> anyhow::Result<()> {
    let mut blobs = Vec::with_capacity(maps.len());
    let mut metas = Vec::with_capacity(maps.len());
    for (i, m) in maps.into_iter().enumerate() {
        // Level 5: zlib-rs at level 1 gives up a third of the ratio on this data
        // (text and addresses), which is what keeps a 1M-entry report under 30 MB.
        let mut gz = GzEncoder::new(Vec::new(), Compression::new(5));
        gz.write_all(&m.blob.bytes)?;
        let packed = gz.finish()?;
        let mut mm = m.meta;
        mm["blob"] = serde_json::json!({"element": format!("ms-blob-{i}"), "size": m.blob.bytes.len(),
                                         "sections": m.blob.sections});
        metas.push(mm);
        blobs.push(base64::engine::general_purpose::STANDARD.encode(packed));
    }
    meta.insert("maps".into(), Json::Array(metas));
    write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title>\n<style>\n{STYLE}</style></head>\n<body>\n\
         <noscript>This report draws with JavaScript; enable it to see the maps.</noscript>\n\
         <script type=\"application/json\" id=\"ms-meta\">{{\"census\":",
        escape_html(title),
    )?;
    let mut safe = ScriptSafe(&mut *out);
    serde_json::to_writer(&mut safe, census)?;
    for (k, v) in &meta {
        safe.write_all(b",")?;
        serde_json::to_writer(&mut safe, k)?;
        safe.write_all(b":")?;
        serde_json::to_writer(&mut safe, v)?;
    }
    writeln!(out, "}}</script>")?;
    for (i, b) in blobs.iter().enumerate() {
        writeln!(
            out,
            "<script type=\"application/octet-stream\" id=\"ms-blob-{i}\">{b}</script>"
        )?;
    }
    write!(out, "<script>\n{SCRIPT}</script>\n</body></html>\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::ScriptSafe;
    use std::io::Write;

    #[test]
    fn script_safe_json_has_no_angle_bracket() {
        let mut buf = Vec::new();
        let v = serde_json::json!({"owner": "</script><b>", "n": 1});
        serde_json::to_writer(ScriptSafe(&mut buf), &v).unwrap();
        ScriptSafe(&mut buf).flush().unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(!text.contains('<'), "{text}");
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
