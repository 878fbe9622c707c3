//! Pictures of a path: a Mermaid flowchart and a Graphviz digraph, one node
//! per read (structure, what, address+offset, the bytes read), in the order
//! the lookup makes them, with the hash as the first node.

use std::fmt::Write;

use super::{KeyPath, Placement, Step};

fn hash_label(p: &KeyPath) -> String {
    let mut s = format!("key {}", p.key_go);
    match p.hash.value {
        Some(h) => {
            let _ = write!(s, "\nhash {h:#x} (seed {:#x})", p.hash.seed);
        }
        None => {
            let _ = write!(s, "\nno hash (seed {:#x})", p.hash.seed);
        }
    }
    match &p.hash.placement {
        Placement::Classic { bucket, tophash, .. } => {
            let _ = write!(s, "\nbucket {bucket}, tophash {tophash:#04x}");
        }
        Placement::Swiss {
            h1,
            h2,
            directory_index,
            ..
        } => {
            let _ = write!(s, "\nh1 {h1:#x}, h2 {h2:#04x}, directory {directory_index}");
        }
        Placement::Unknown => {}
    }
    s
}

fn step_label(s: &Step) -> String {
    let mut l = format!(
        "{}. {}\n{}\n{:#x} (+{})\nread {}",
        s.level,
        s.structure,
        s.what,
        s.address,
        s.offset,
        s.read_hex()
    );
    if let Some(n) = &s.note {
        let _ = write!(l, "\n{n}");
    }
    l
}

/// Mermaid keeps labels in double quotes; quotes become `#quot;`, and
/// newlines `<br/>`.
fn mermaid_text(s: &str) -> String {
    s.replace('"', "#quot;").replace('\n', "<br/>")
}

pub fn mermaid(p: &KeyPath) -> String {
    let mut out = String::from("flowchart TD\n");
    let _ = writeln!(out, "  h[\"{}\"]", mermaid_text(&hash_label(p)));
    let mut prev = "h".to_string();
    for s in &p.steps {
        let id = format!("s{}", s.level);
        let _ = writeln!(out, "  {id}[\"{}\"]", mermaid_text(&step_label(s)));
        let edge = if s.lookup { "-->" } else { "-.->" };
        let _ = writeln!(out, "  {prev} {edge} {id}");
        prev = id;
    }
    let _ = writeln!(
        out,
        "  v{{\"verified: {}\"}}\n  {prev} --> v",
        if p.verified { "true" } else { "false" }
    );
    out
}

fn dot_text(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\l")
}

pub fn dot(p: &KeyPath) -> String {
    let mut out = String::from("digraph path {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n");
    let _ = writeln!(out, "  h [label=\"{}\\l\", style=bold];", dot_text(&hash_label(p)));
    let mut prev = "h".to_string();
    for s in &p.steps {
        let id = format!("s{}", s.level);
        let style = if s.lookup { "" } else { ", style=dashed" };
        let _ = writeln!(out, "  {id} [label=\"{}\\l\"{style}];", dot_text(&step_label(s)));
        let _ = writeln!(out, "  {prev} -> {id};");
        prev = id;
    }
    let _ = writeln!(
        out,
        "  v [label=\"verified: {}\", shape=diamond];\n  {prev} -> v;\n}}",
        if p.verified { "true" } else { "false" }
    );
    out
}
