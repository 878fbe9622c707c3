//! Pictures of a path as memory diagrams: each structure the lookup reads
//! (the header, the directory, a table, a bucket or group, a key, a string's
//! bytes) is one node listing the fields read in it with their offsets and
//! the values found; an edge goes from the field that was followed to the
//! structure it leads to, numbered in the order of the lookup. Graphviz gets
//! HTML-like record labels with ports; Mermaid gets one box per structure.

use std::fmt::Write;

use super::{KeyPath, Placement, Step};

/// Longest text kept in a node's cell: keys and strings can be megabytes.
const MAX_CELL: usize = 80;

/// Text for a Graphviz HTML-like label: markup characters as entities, and
/// control bytes (NUL included, which Graphviz rejects) as `\xNN`.
pub fn dot_html(s: &str) -> String {
    escaped(s, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        _ => None,
    })
}

/// Text inside a Mermaid `"…"` label: quotes and angle brackets as Mermaid
/// entities, control bytes as `\xNN`.
pub fn mermaid_text(s: &str) -> String {
    escaped(s, |c| match c {
        '"' => Some("#quot;"),
        '<' => Some("#lt;"),
        '>' => Some("#gt;"),
        '#' => Some("#35;"),
        _ => None,
    })
}

/// `s` cut at [`MAX_CELL`] characters, each character replaced by its
/// `entity` when it has one, control bytes as `\xNN`.
fn escaped(s: &str, entity: impl Fn(char) -> Option<&'static str>) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        if i >= MAX_CELL {
            out.push('…');
            break;
        }
        match entity(c) {
            Some(e) => out.push_str(e),
            None if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            None => out.push(c),
        }
    }
    out
}

/// One structure instance of the path and the reads made in it.
struct Node<'a> {
    structure: &'a str,
    base: u64,
    reads: Vec<&'a Step>,
    lookup: bool,
}

/// A pointer followed: from field `field` of node `from` to node `to`;
/// `lookup` is false for the hops behind the value.
struct Edge {
    from: usize,
    field: usize,
    to: usize,
    lookup: bool,
}

/// Groups the steps by the structure instance they read (`address -
/// offset`), in order of first read; the edges follow the reads: from the
/// last field read in one structure to the next structure read.
fn nodes(p: &KeyPath) -> (Vec<Node<'_>>, Vec<Edge>) {
    let mut nodes: Vec<Node<'_>> = Vec::new();
    let mut edges = Vec::new();
    let mut prev: Option<(usize, usize)> = None;
    for s in &p.steps {
        let base = s.address.wrapping_sub(s.offset);
        let i = match nodes.iter().position(|n| n.structure == s.structure && n.base == base) {
            Some(i) => i,
            None => {
                nodes.push(Node {
                    structure: &s.structure,
                    base,
                    reads: Vec::new(),
                    lookup: s.lookup,
                });
                nodes.len() - 1
            }
        };
        let field = nodes.get(i).map_or(0, |n| n.reads.len());
        if let Some(n) = nodes.get_mut(i) {
            n.reads.push(s);
        }
        if let Some((pn, pf)) = prev {
            if pn != i {
                edges.push(Edge {
                    from: pn,
                    field: pf,
                    to: i,
                    lookup: s.lookup,
                });
            }
        }
        prev = Some((i, field));
    }
    (nodes, edges)
}

fn hash_lines(p: &KeyPath) -> Vec<(String, String)> {
    let mut l = vec![("key".to_string(), p.key_text.clone())];
    match p.hash.value {
        Some(h) => l.push((
            "hash".into(),
            format!(
                "{h:#018x} = {}(key, seed {:#x})",
                p.hash.hasher.as_deref().unwrap_or("?"),
                p.hash.seed
            ),
        )),
        None => l.push((
            "hash".into(),
            format!("none: {}", p.hash.unavailable.as_deref().unwrap_or("?")),
        )),
    }
    match &p.hash.placement {
        Placement::Classic { b, bucket, tophash, .. } => {
            l.push(("bucket".into(), format!("hash & (2^{b}-1) = {bucket}")));
            l.push(("tophash".into(), format!("hash >> 56 = {tophash:#04x}")));
        }
        Placement::Swiss {
            h1,
            h2,
            directory_index,
            probe_start,
            small,
            ..
        } => {
            l.push(("h1, h2".into(), format!("{h1:#x}, {h2:#04x}")));
            if !small {
                l.push(("directory".into(), format!("hash >> globalShift = {directory_index}")));
                if let Some(s) = probe_start {
                    l.push(("probe".into(), format!("from group h1 & lengthMask = {s}")));
                }
            }
        }
        Placement::Unknown => {}
    }
    l.push(("verified".into(), p.verified.to_string()));
    l
}

pub fn dot(p: &KeyPath) -> String {
    let (nodes, edges) = nodes(p);
    let mut out = String::from(
        "digraph path {\n  rankdir=LR;\n  node [shape=plaintext, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n",
    );
    let mut hash = String::from(
        "<table border=\"0\" cellborder=\"1\" cellspacing=\"0\" bgcolor=\"#fff5f7\"><tr><td colspan=\"2\"><b>lookup</b></td></tr>",
    );
    for (k, v) in hash_lines(p) {
        let _ = write!(
            hash,
            "<tr><td align=\"left\">{}</td><td align=\"left\">{}</td></tr>",
            dot_html(&k),
            dot_html(&v)
        );
    }
    hash.push_str("</table>");
    let _ = writeln!(out, "  h [label=<{hash}>];");
    for (i, n) in nodes.iter().enumerate() {
        let mut t = format!(
            "<table border=\"0\" cellborder=\"1\" cellspacing=\"0\"{}><tr><td colspan=\"3\"><b>{}</b> @ {:#x}</td></tr>",
            if n.lookup { "" } else { " bgcolor=\"#f7fafc\"" },
            dot_html(n.structure),
            n.base
        );
        for (f, s) in n.reads.iter().enumerate() {
            let _ = write!(
                t,
                "<tr><td align=\"right\">+{}</td><td align=\"left\">{}. {}</td><td align=\"left\" port=\"f{f}\">{}</td></tr>",
                s.offset,
                s.level,
                dot_html(&s.what),
                dot_html(&s.read_hex())
            );
        }
        t.push_str("</table>");
        let _ = writeln!(out, "  n{i} [label=<{t}>];");
    }
    if !nodes.is_empty() {
        let _ = writeln!(out, "  h -> n0 [style=bold];");
    }
    for (k, e) in edges.iter().enumerate() {
        let _ = writeln!(
            out,
            "  n{}:f{}:e -> n{} [label=\"{}\"{}];",
            e.from,
            e.field,
            e.to,
            k + 1,
            if e.lookup { "" } else { ", style=dashed" }
        );
    }
    out.push_str("}\n");
    out
}

pub fn mermaid(p: &KeyPath) -> String {
    let (nodes, edges) = nodes(p);
    let mut out = String::from("flowchart TD\n");
    let hash: Vec<String> = hash_lines(p)
        .iter()
        .map(|(k, v)| format!("{}: {}", mermaid_text(k), mermaid_text(v)))
        .collect();
    let _ = writeln!(out, "  h[\"<b>lookup</b><br/>{}\"]", hash.join("<br/>"));
    for (i, n) in nodes.iter().enumerate() {
        let fields: Vec<String> = n
            .reads
            .iter()
            .map(|s| {
                format!(
                    "+{} {}. {} = {}",
                    s.offset,
                    s.level,
                    mermaid_text(&s.what),
                    mermaid_text(&s.read_hex())
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  n{i}[\"<b>{}</b> @ {:#x}<br/>{}\"]",
            mermaid_text(n.structure),
            n.base,
            fields.join("<br/>")
        );
    }
    if !nodes.is_empty() {
        let _ = writeln!(out, "  h ==> n0");
    }
    for (k, e) in edges.iter().enumerate() {
        let what = nodes
            .get(e.from)
            .and_then(|n| n.reads.get(e.field))
            .map_or(String::new(), |s| mermaid_text(&s.what));
        let arrow = if e.lookup { "-->" } else { "-.->" };
        let _ = writeln!(out, "  n{} {arrow}|\"{}. {what}\"| n{}", e.from, k + 1, e.to);
    }
    out
}
