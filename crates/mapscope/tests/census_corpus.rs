//! The census against every fixture core: every map the program registered
//! is found at the header address it reported, with its `len`, its type
//! (from reflect) and its owner expression (written by the program), on
//! DWARF and stripped builds, kernel and gcore cores; maps the program
//! dropped and collected before the dump are not reported; the drained map
//! ranks first by waste.

use std::collections::HashSet;
use std::sync::Arc;

use mapscope::binary::GoBinary;
use mapscope::census::{self, Census, RootKind};
use mapscope::memory::{CoreFile, ImageMemory};
use mapscope_fixtures::{hex_u64, MapTruth, Truth};

fn census_of(exe: &std::path::Path, core: &std::path::Path) -> Census {
    let bin = GoBinary::open(exe).unwrap();
    let mut cf = CoreFile::open(core).unwrap();
    cf.attach_executable(ImageMemory::open(exe).unwrap()).unwrap();
    let threads = cf.notes().threads.clone();
    census::run(&bin, Arc::new(cf), &threads, None).unwrap_or_else(|e| panic!("{}: {e}", core.display()))
}

/// What the owner of a stripped build's map must look like: the root named
/// by address or goroutine, the rest as in the DWARF build where it can be told.
fn stripped_owner_ok(m: &MapTruth, got: &str) -> bool {
    match m.root.as_str() {
        "global" => {
            let Some(addr) = m.root_address.as_deref().and_then(hex_u64) else {
                return false;
            };
            got.starts_with(&format!("global {addr:#x}"))
        }
        "stack" => got.starts_with(&format!(
            "goroutine {} {}:",
            m.goid.unwrap_or(0),
            m.root_function.as_deref().unwrap_or("?")
        )),
        _ => true,
    }
}

/// Every way the census disagrees with the program, as lines.
fn check(variant: &str, stripped: bool, truth: &Truth, c: &Census) -> (usize, usize, Vec<String>) {
    let mut bad = Vec::new();
    let ctx = |m: &MapTruth| format!("{variant}: {} at {}", m.name, m.address);
    let mut addrs = HashSet::new();
    for m in &c.maps {
        if !addrs.insert(m.address) {
            bad.push(format!("{variant}: map {:#x} reported twice", m.address));
        }
    }
    let (mut typed, mut untyped) = (0, 0);
    for m in &truth.maps {
        let addr = m.address_u64().unwrap();
        if addr == 0 {
            continue;
        }
        let Some(found) = c.maps.iter().find(|x| x.address == addr) else {
            bad.push(format!("{} not found by the census", ctx(m)));
            continue;
        };
        if found.len as usize != m.len {
            bad.push(format!("{}: len {} (program: {})", ctx(m), found.len, m.len));
        }
        match &found.type_name {
            Some(t) => {
                typed += 1;
                if t != &m.type_name {
                    bad.push(format!(
                        "{}: type {t} ({:?}), program: {}",
                        ctx(m),
                        found.type_source,
                        m.type_name
                    ));
                }
            }
            None => {
                untyped += 1;
                // DWARF types no closure's captured words: a map held only by a
                // closure is typed by its contents alone, which may not decide.
                if !stripped && !m.owner.contains(".(closure ") {
                    bad.push(format!("{}: untyped in a DWARF build", ctx(m)));
                }
                if !(found.type_candidates.is_empty() || found.type_candidates.contains(&m.type_name)) {
                    bad.push(format!(
                        "{}: {} not among the candidates {:?}",
                        ctx(m),
                        m.type_name,
                        found.type_candidates
                    ));
                }
            }
        }
        if m.owner.is_empty() {
            continue;
        }
        let want_root = match m.root.as_str() {
            "global" => RootKind::Global,
            "stack" => RootKind::Stack,
            _ => RootKind::Other,
        };
        if found.root != want_root {
            bad.push(format!(
                "{}: root {:?} (owner {}), program: {}",
                ctx(m),
                found.root,
                found.owner,
                m.root
            ));
        }
        let owner_ok = if stripped {
            stripped_owner_ok(m, &found.owner)
        } else {
            found.owner == m.owner
        };
        if !owner_ok {
            bad.push(format!("{}: owner {:?}, program: {:?}", ctx(m), found.owner, m.owner));
        }
        if found.header_on_stack != m.header_on_stack {
            bad.push(format!("{}: header on stack {}", ctx(m), found.header_on_stack));
        }
    }
    for gone in &truth.collected {
        if c.maps
            .iter()
            .any(|x| x.type_name.as_deref() == Some(gone.type_name.as_str()))
        {
            bad.push(format!("{variant}: the collected {} is reported", gone.type_name));
        }
    }
    if let Some(drained) = truth.maps.iter().find(|m| m.name == "main.Drained") {
        let top = c.maps.iter().max_by_key(|m| m.waste_bytes).unwrap();
        if Some(top.address) != drained.address_u64() {
            bad.push(format!(
                "{variant}: first by waste is {} ({} bytes), not main.Drained",
                top.owner, top.waste_bytes
            ));
        }
    }
    (typed, untyped, bad)
}

#[test]
fn census_finds_every_fixture_map() {
    let mut checked = 0;
    let mut failures: Vec<String> = Vec::new();
    for fx in mapscope_fixtures::all().unwrap() {
        let exe = fx.binary_path().unwrap();
        let stripped = fx.name().contains("stripped");
        for run in fx.runs().filter(|r| r.entry.name == "main") {
            let truth = run.truth().unwrap();
            for kind in run.core_kinds() {
                let core = run.core_path(kind).unwrap().unwrap();
                let t0 = std::time::Instant::now();
                let c = census_of(&exe, &core);
                let (typed, untyped, bad) = check(&format!("{} {kind}", fx.name()), stripped, &truth, &c);
                failures.extend(bad);
                eprintln!(
                    "{} {kind}: {} maps in the census ({} of the program's typed, {} not), {:?}",
                    fx.name(),
                    c.maps.len(),
                    typed,
                    untyped,
                    t0.elapsed()
                );
                checked += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} disagreements:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 13, "only {checked} cores checked");
}
