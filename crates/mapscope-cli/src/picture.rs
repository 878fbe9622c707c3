//! A map as a Graphviz memory diagram at bucket/group granularity (`show
//! --format dot`, `path --all --format dot`): the header as a record of its
//! fields, then the classic bucket array with overflow chains and the old
//! array, or the Swiss directory, its tables and their groups. Each bucket
//! or group is one node with its 8 tag bytes (coloured by state) and, for
//! full slots, the key; pointers are edges from the field to the target.
//! Big maps are drawn up to [`MAX_CONTAINERS`] containers and say how many
//! were left out.

use std::collections::HashMap;
use std::fmt::Write;

use mapscope::maps::{Container, MapHandle, Place};
use mapscope::path::render::dot_html;

/// Buckets or groups drawn at most: past this Graphviz output stops being a
/// picture anyone reads (the HTML report draws every slot).
pub const MAX_CONTAINERS: usize = 128;

fn state_color(state: &str) -> &'static str {
    match state {
        "full" => "#90cdf4",
        "deleted" | "emptyOne" => "#feb2b2",
        "evacuatedX" | "evacuatedY" | "evacuatedEmpty" => "#fbd38d",
        "empty" | "emptyRest" => "#edf2f7",
        _ => "#1a202c",
    }
}

fn record(title: &str, rows: &[(&str, String)], port_of: &[&str]) -> String {
    let mut t = format!(
        "<table border=\"0\" cellborder=\"1\" cellspacing=\"0\"><tr><td colspan=\"2\" bgcolor=\"#e2e8f0\"><b>{}</b></td></tr>",
        dot_html(title)
    );
    for (name, value) in rows {
        let port = if port_of.contains(name) {
            format!(" port=\"{name}\"")
        } else {
            String::new()
        };
        let _ = write!(
            t,
            "<tr><td align=\"left\">{}</td><td align=\"left\"{port}>{}</td></tr>",
            dot_html(name),
            dot_html(value)
        );
    }
    t.push_str("</table>");
    t
}

/// What the picture marks: keys by (container, slot) and slots to flag red
/// (misplaced entries).
#[derive(Default)]
pub struct Marks {
    pub keys: HashMap<(u64, u8), String>,
    pub flagged: HashMap<(u64, u8), String>,
}

fn container_node(map: &MapHandle, c: &Container, marks: &Marks) -> String {
    let mut t = format!(
        "<table border=\"0\" cellborder=\"1\" cellspacing=\"0\"><tr><td colspan=\"8\" align=\"left\"><b>{}</b> @ {:#x}</td></tr><tr>",
        dot_html(&c.place.to_string()),
        c.addr
    );
    for (i, &tag) in c.tags.iter().enumerate() {
        let state = map.tag_state(tag);
        let flagged = marks.flagged.contains_key(&(c.addr, i as u8));
        let _ = write!(
            t,
            "<td bgcolor=\"{}\"{}>{tag:02x}</td>",
            if flagged { "#fc8181" } else { state_color(state) },
            if flagged { " border=\"3\"" } else { "" }
        );
    }
    t.push_str("</tr>");
    let keys: Vec<String> = (0..8u8)
        .map(|i| marks.keys.get(&(c.addr, i)).map_or(String::new(), |k| dot_html(k)))
        .collect();
    if keys.iter().any(|k| !k.is_empty()) {
        t.push_str("<tr>");
        for k in keys {
            // Graphviz rejects an empty <font> element.
            if k.is_empty() {
                t.push_str("<td> </td>");
            } else {
                let _ = write!(t, "<td><font point-size=\"8\">{k}</font></td>");
            }
        }
        t.push_str("</tr>");
    }
    if matches!(map, MapHandle::Classic(_)) {
        let _ = write!(
            t,
            "<tr><td colspan=\"8\" align=\"left\" port=\"ovf\">overflow {:#x}</td></tr>",
            c.overflow
        );
    }
    t.push_str("</table>");
    t
}

fn cid(c: &Container) -> String {
    format!("c{:x}", c.addr)
}

/// The diagram; `title` names the map.
pub fn map_dot(title: &str, map: &MapHandle, marks: &Marks) -> String {
    let mut out = String::from(
        "digraph map {\n  rankdir=LR;\n  node [shape=plaintext, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n",
    );
    let mut containers = Vec::new();
    let mut more = 0usize;
    let mut error = None;
    for c in map.containers() {
        match c {
            Ok(c) if containers.len() < MAX_CONTAINERS => containers.push(c),
            Ok(_) => more += 1,
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let by_addr: HashMap<u64, &Container> = containers.iter().map(|c| (c.addr, c)).collect();
    match map {
        MapHandle::Classic(m) => {
            let h = &m.header;
            let rows = [
                ("count", h.count.to_string()),
                ("flags", format!("{:#x}", h.flags)),
                ("B", format!("{} ({} buckets)", h.b, h.bucket_count())),
                ("noverflow", h.noverflow.to_string()),
                ("hash0", format!("{:#010x}", h.hash0)),
                ("buckets", format!("{:#x}", h.buckets)),
                ("oldbuckets", format!("{:#x}", h.oldbuckets)),
                ("nevacuate", h.nevacuate.to_string()),
            ];
            let _ = writeln!(
                out,
                "  hdr [label=<{}>];",
                record(
                    &format!("runtime.hmap {title} @ {:#x}", h.addr),
                    &rows,
                    &["buckets", "oldbuckets"]
                )
            );
            for (old, base, label) in [(false, h.buckets, "buckets"), (true, h.oldbuckets, "oldbuckets")] {
                let arr: Vec<&Container> = containers
                    .iter()
                    .filter(|c| matches!(c.place, Place::Bucket { old: o, .. } if o == old))
                    .collect();
                if arr.is_empty() {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  subgraph cluster_{label} {{\n    label=\"{label} array @ {base:#x}\"; style=dashed;"
                );
                for c in &arr {
                    let _ = writeln!(out, "    {} [label=<{}>];", cid(c), container_node(map, c, marks));
                }
                out.push_str("  }\n");
                if let Some(first) = arr.first() {
                    let _ = writeln!(out, "  hdr:{label}:e -> {};", cid(first));
                }
                for c in &arr {
                    if c.overflow != 0 && by_addr.contains_key(&c.overflow) {
                        let _ = writeln!(out, "  {}:ovf:e -> c{:x} [label=\"overflow\"];", cid(c), c.overflow);
                    }
                }
            }
        }
        MapHandle::Swiss(m) => {
            let h = &m.header;
            let rows = [
                ("used", h.used.to_string()),
                ("seed", format!("{:#x}", h.seed)),
                ("dirPtr", format!("{:#x}", h.dir_ptr)),
                ("dirLen", h.dir_len.to_string()),
                ("globalDepth", h.global_depth.to_string()),
                ("globalShift", h.global_shift.to_string()),
            ];
            let _ = writeln!(
                out,
                "  hdr [label=<{}>];",
                record(&format!("maps.Map {title} @ {:#x}", h.addr), &rows, &["dirPtr"])
            );
            if h.is_small() {
                if let Some(c) = containers.first() {
                    let _ = writeln!(out, "  {} [label=<{}>];", cid(c), container_node(map, c, marks));
                    let _ = writeln!(out, "  hdr:dirPtr:e -> {} [label=\"small map: one group\"];", cid(c));
                }
            } else {
                let mut dir = format!(
                    "<table border=\"0\" cellborder=\"1\" cellspacing=\"0\"><tr><td bgcolor=\"#e2e8f0\"><b>directory @ {:#x}</b></td></tr>",
                    h.dir_ptr
                );
                // One row per table: the slots that point at it.
                for (i, t) in m.tables.iter().enumerate() {
                    let _ = write!(
                        dir,
                        "<tr><td port=\"t{i}\">[{}..{}] → {:#x}</td></tr>",
                        t.dir_first,
                        t.dir_first + t.dir_slots - 1,
                        t.addr
                    );
                }
                dir.push_str("</table>");
                let _ = writeln!(out, "  dir [label=<{dir}>];\n  hdr:dirPtr:e -> dir;");
                for (i, t) in m.tables.iter().enumerate() {
                    let rows = [
                        ("used", t.used.to_string()),
                        ("capacity", t.capacity.to_string()),
                        ("growthLeft", t.growth_left.to_string()),
                        ("localDepth", t.local_depth.to_string()),
                        ("groups", format!("{:#x} (lengthMask {})", t.groups, t.length_mask)),
                    ];
                    let _ = writeln!(
                        out,
                        "  t{i} [label=<{}>];\n  dir:t{i}:e -> t{i};",
                        record(&format!("table {i} @ {:#x}", t.addr), &rows, &["groups"])
                    );
                    let groups: Vec<&Container> = containers
                        .iter()
                        .filter(|c| matches!(c.place, Place::Group { table: Some(x), .. } if x == i))
                        .collect();
                    if groups.is_empty() {
                        continue;
                    }
                    let _ = writeln!(
                        out,
                        "  subgraph cluster_t{i} {{\n    label=\"groups of table {i} @ {:#x}\"; style=dashed;",
                        t.groups
                    );
                    for c in &groups {
                        let _ = writeln!(out, "    {} [label=<{}>];", cid(c), container_node(map, c, marks));
                    }
                    out.push_str("  }\n");
                    if let Some(first) = groups.first() {
                        let _ = writeln!(out, "  t{i}:groups:e -> {};", cid(first));
                    }
                }
            }
        }
    }
    if more > 0 {
        let _ = writeln!(
            out,
            "  more [shape=note, label=\"{more} more buckets/groups not drawn (at most {MAX_CONTAINERS}); mapscope report draws every slot\"];"
        );
    }
    if let Some(e) = error {
        let _ = writeln!(
            out,
            "  err [shape=note, fontcolor=red, label=<{}>];",
            dot_html(&format!("walk stopped: {e}"))
        );
    }
    out.push_str("}\n");
    out
}

/// Keys of the entries in the containers the picture draws.
fn keys_of(
    map: &MapHandle,
    decoder: &mapscope::values::ValueDecoder<'_>,
    plans: &mapscope::values::EntryPlans,
) -> HashMap<(u64, u8), String> {
    let mut keys = HashMap::new();
    for e in map.entries().take(MAX_CONTAINERS * 8).map_while(Result::ok) {
        let (k, _) = decoder.decode_entry(plans, &e);
        keys.insert((e.container, e.slot), k.go_string());
    }
    keys
}

/// `show --format dot`.
pub fn print_show(
    name: &str,
    map: &MapHandle,
    decoder: &mapscope::values::ValueDecoder<'_>,
    plans: &mapscope::values::EntryPlans,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let marks = Marks {
        keys: keys_of(map, decoder, plans),
        flagged: HashMap::new(),
    };
    let mut out = crate::output::stdout();
    out.write_all(map_dot(name, map, &marks).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// `path --all --format dot`: the map with its misplaced entries in red.
pub fn print_all(
    bin: &mapscope::binary::GoBinary,
    mem: std::sync::Arc<dyn mapscope::memory::Memory>,
    pm: &mapscope::path::PathMap<'_>,
    r: &mapscope::path::VerifyReport,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    let decoder = mapscope::values::ValueDecoder::new(bin, mem);
    let keys = decoder
        .entry_plans(&pm.named.map_type)
        .map(|p| keys_of(&pm.map, &decoder, &p))
        .unwrap_or_default();
    let marks = Marks {
        keys,
        flagged: r
            .misplacements
            .iter()
            .map(|m| ((m.container, m.slot), m.why.clone()))
            .collect(),
    };
    let mut out = crate::output::stdout();
    out.write_all(map_dot(&pm.named.name, &pm.map, &marks).as_bytes())?;
    out.flush()?;
    if r.misplaced > 0 {
        return Err(anyhow::anyhow!("{} misplaced entries", r.misplaced));
    }
    Ok(())
}
