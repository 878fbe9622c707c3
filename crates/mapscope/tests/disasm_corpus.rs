//! `disasm` over every fixture variant: call sites in `main.*` carry the
//! right map types, and the runtime's string-key lookup has its header
//! fields annotated from the binary's own layout.

use std::collections::{BTreeMap, BTreeSet};

use mapscope::binary::{GoBinary, MapVariant};
use mapscope::disasm::{self, Annotator};

fn open(fx: &mapscope_fixtures::Fixture) -> GoBinary {
    let path = fx.binary_path().unwrap_or_else(|e| panic!("{}: {e}", fx.name()));
    GoBinary::open(&path).unwrap_or_else(|e| panic!("{}: {e}", fx.name()))
}

/// Every non-empty map the fixture builds is filled by `m[k] = v` or a
/// composite literal in fixtures/go (maps.go, main.go's stackKeeper); both
/// compile to `mapassign*` calls in `main.*` with the type in RAX (big
/// literals become an init loop over arrays, still calling mapassign).
/// Empty and nil maps get no assign, so they are left out.
fn assigned_types(truth: &mapscope_fixtures::Truth) -> BTreeSet<String> {
    truth
        .maps
        .iter()
        .filter(|m| m.len > 0)
        .map(|m| m.type_name.clone())
        .collect()
}

#[test]
fn call_sites_name_every_filled_map_type() {
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = open(&fx);
        let truth = fx.truth().unwrap();
        let sites = disasm::call_sites(&bin).unwrap();
        let main: Vec<_> = sites.iter().filter(|c| c.function.starts_with("main.")).collect();
        let assigned: BTreeSet<String> = main
            .iter()
            .filter(|c| c.op == disasm::MapOp::Assign)
            .filter_map(|c| c.map_type.clone())
            .collect();
        let missing: Vec<_> = assigned_types(&truth)
            .into_iter()
            .filter(|t| !assigned.contains(t))
            .collect();
        assert!(missing.is_empty(), "{}: no assign call site for {missing:?}", fx.name());
        // Every call that passes a type (all but makemap_small/mapinitnoop
        // and the iterator's next) must have had it resolved.
        let untyped: Vec<_> = main
            .iter()
            .filter(|c| {
                c.map_type.is_none()
                    && ![
                        "makemap_small",
                        "mapinitnoop",
                        "mapiternext",
                        "mapIterNext",
                        "(*Iter).Next",
                    ]
                    .iter()
                    .any(|s| c.callee.ends_with(s))
            })
            .map(|c| format!("{} {:#x} {}", c.function, c.address, c.callee))
            .collect();
        assert!(untyped.is_empty(), "{}: untyped call sites {untyped:?}", fx.name());
        // The fixture's `delete(Deleted, i)` and `delete(Drained, i)`.
        assert!(
            main.iter()
                .any(|c| c.op == disasm::MapOp::Delete && c.map_type.as_deref() == Some("map[int]string")),
            "{}: no delete from map[int]string",
            fx.name()
        );
        let handlers = main
            .iter()
            .find(|c| c.function == "main.fill" && c.map_type.as_deref() == Some("map[string]func(int) int"));
        assert!(handlers.is_some(), "{}: main.fill assigning into Handlers", fx.name());
        eprintln!(
            "{}: {} call sites ({} in main.*, {} assigns, {} typed), {} map types assigned",
            fx.name(),
            sites.len(),
            main.len(),
            main.iter().filter(|c| c.op == disasm::MapOp::Assign).count(),
            main.iter().filter(|c| c.map_type.is_some()).count(),
            assigned.len()
        );
    }
}

/// Fields the string-key lookup path must touch, per map runtime.
fn expected_fields(v: MapVariant) -> &'static [&'static str] {
    match v {
        MapVariant::Classic => &["hmap.buckets", "hmap.B", "hmap.hash0"],
        MapVariant::Swiss | MapVariant::SwissSplit => &["maps.Map.dirPtr", "maps.Map.dirLen", "maps.Map.seed"],
    }
}

#[test]
fn string_lookup_has_header_fields_annotated() {
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = open(&fx);
        let variant = bin.map_variant().variant.unwrap();
        let a = Annotator::new(&bin).unwrap();
        // mapaccess1_faststr, or where the linker dropped it (1.19 fixture)
        // its twin mapaccess2_faststr; 1.27's mapaccess1_faststr is a call
        // to mapaccess2_faststr, and Swiss small maps are handled in
        // (*Map).getWithoutKeySmallFastStr: follow calls into map code one
        // level deep and take the union.
        let mut queue: Vec<_> = [
            "runtime.mapaccess1_faststr",
            "runtime.mapaccess2_faststr",
            disasm::STRING_LOOKUP_SWISS,
        ]
        .iter()
        .filter_map(|n| bin.func_by_name(n))
        .collect();
        assert!(!queue.is_empty(), "{}: no string lookup", fx.name());
        let mut by_func: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        let mut depth = 0;
        while !queue.is_empty() && depth < 3 {
            let mut next = Vec::new();
            for f in queue.drain(..) {
                if !seen.insert(f.entry) {
                    continue;
                }
                let af = a.annotate(&f).unwrap();
                assert!(
                    af.unknown_offsets.is_empty(),
                    "{}: {} {:?}",
                    fx.name(),
                    af.name,
                    af.unknown_offsets
                );
                for i in &af.instructions {
                    // amd64 `call`, arm64 `bl`.
                    if i.text.starts_with("call") || i.text.starts_with("bl ") {
                        if let Some(g) = i.target.as_deref().and_then(|t| bin.func_by_name(t)) {
                            if disasm::map_function(&g.name).is_some() || g.name.starts_with("internal/runtime/maps.") {
                                next.push(g);
                            }
                        }
                    }
                }
                by_func.insert(af.name.clone(), af.fields.clone());
            }
            queue = next;
            depth += 1;
        }
        let all: BTreeSet<&String> = by_func.values().flatten().collect();
        for want in expected_fields(variant) {
            assert!(
                all.iter().any(|f| f.as_str() == *want),
                "{}: {want} not annotated; got {by_func:#?}",
                fx.name()
            );
        }
        let header: Vec<&String> = all
            .iter()
            .copied()
            .filter(|f| f.starts_with("hmap.") || f.starts_with("maps."))
            .collect();
        eprintln!(
            "{} ({}): {} functions, fields {header:?}",
            fx.name(),
            variant.as_str(),
            by_func.len()
        );
    }
}

#[test]
fn stripped_twins_give_the_same_call_sites() {
    type Key = (String, String, &'static str, Option<String>);
    let sites = |name: &str| -> BTreeMap<Key, usize> {
        let fx = mapscope_fixtures::get(name).unwrap();
        let bin = open(&fx);
        let mut m = BTreeMap::new();
        for c in disasm::call_sites(&bin).unwrap() {
            *m.entry((c.function, c.callee, c.op.as_str(), c.map_type)).or_insert(0) += 1;
        }
        m
    };
    for (full, stripped) in [
        ("go1.22", "go1.22-stripped"),
        ("go1.27", "go1.27-stripped"),
        ("arm64-go1.27", "arm64-go1.27-stripped"),
    ] {
        let (a, b) = (sites(full), sites(stripped));
        assert!(!a.is_empty());
        assert_eq!(a, b, "{full} vs {stripped}");
    }
}

#[test]
fn every_runtime_map_function_annotates_without_unknown_offsets() {
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = open(&fx);
        let a = Annotator::new(&bin).unwrap();
        let funcs = disasm::runtime_map_functions(&bin);
        assert!(funcs.len() > 10, "{}: {} map functions", fx.name(), funcs.len());
        let names: std::collections::HashSet<String> = bin
            .runtime_types()
            .unwrap()
            .iter()
            .filter_map(|&a| bin.runtime_type(a).ok().map(|t| t.name))
            .collect();
        let mut labelled = 0;
        for f in &funcs {
            let af = a.annotate(f).unwrap();
            assert_eq!(af.invalid_instructions, 0, "{}: {}", fx.name(), f.name);
            assert!(
                af.unknown_offsets.is_empty(),
                "{}: {} {:?}",
                fx.name(),
                f.name,
                af.unknown_offsets
            );
            labelled += af.instructions.iter().filter(|i| i.field.is_some()).count();
            // A target names a function or a type the binary declares,
            // never bytes of the types section read as a name.
            for i in &af.instructions {
                let Some(t) = &i.target else { continue };
                let function = t.split('+').next().and_then(|n| bin.func_by_name(n)).is_some();
                assert!(
                    function || names.contains(t),
                    "{}: {} {:#x}: target {t:?}",
                    fx.name(),
                    f.name,
                    i.address
                );
            }
        }
        eprintln!(
            "{}: {} runtime map functions, {labelled} labelled operands",
            fx.name(),
            funcs.len()
        );
    }
}

/// The generated huge functions (`fixtures/bigfunc`, aws-sdk-go-like
/// endpoint tables): every map call the generator wrote is found with its
/// type, and the listing has every instruction `go tool objdump` listed,
/// all tracked within the work budget.
#[test]
fn huge_generated_function_has_every_map_call() {
    let bigs = mapscope_fixtures::big_functions().unwrap();
    assert!(!bigs.is_empty(), "no fixtures/bigfunc entry in the manifest");
    for big in bigs {
        let e = big.entry;
        let bin = GoBinary::open(big.binary_path().unwrap()).unwrap();
        let f = bin
            .func_by_name(&e.function)
            .unwrap_or_else(|| panic!("{}: no {}", e.name, e.function));
        let sites = disasm::call_sites_where(&bin, |g| g.entry == f.entry).unwrap();
        assert_eq!(sites.len(), e.map_calls, "{}: map call sites", e.name);
        let makes = sites.iter().filter(|c| c.op == disasm::MapOp::Make).count();
        let assigns: Vec<_> = sites.iter().filter(|c| c.op == disasm::MapOp::Assign).collect();
        assert_eq!(makes, e.map_literals, "{}: makes", e.name);
        assert_eq!(assigns.len(), e.map_entries, "{}: assigns", e.name);
        // mapassign always takes the map type.
        let untyped: Vec<_> = assigns.iter().filter(|c| c.map_type.is_none()).collect();
        assert!(untyped.is_empty(), "{}: {} untyped assigns", e.name, untyped.len());
        let af = Annotator::new(&bin).unwrap().annotate(&f).unwrap();
        // objdump stops at the symbol's size; pclntab's end includes the
        // int3 padding up to the next function.
        let padding = af.instructions.iter().rev().take_while(|i| i.text == "int3").count();
        assert_eq!(
            af.instructions.len() - padding,
            e.objdump_instructions,
            "{}: instructions",
            e.name
        );
        assert!(
            !af.notes.iter().any(|n| n.contains("budget")),
            "{}: {:?}",
            e.name,
            af.notes
        );
    }
}

/// A thread whose next instruction is the one after a `mapassign*` call
/// (the return address) is between the assign and the caller's store; one
/// still at the call is not. Checked at every assign call site of `main.*`
/// in every variant, amd64 and arm64 (whose direct calls are 5 and 4 bytes).
#[test]
fn every_assign_call_opens_a_store_window() {
    use mapscope::memory::{Arch as RegArch, Registers, ThreadStatus};
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = open(&fx);
        let (arch, words, pc_word, result_word, call_len) = match bin.arch() {
            mapscope::binary::Arch::Arm64 => (RegArch::Aarch64, 34, 32, 0, 4),
            _ => (RegArch::X86_64, 27, 16, 10, 5),
        };
        let thread = |pc: u64| {
            let mut w = vec![0u64; words];
            w[pc_word] = pc;
            w[result_word] = 0xc000_0123_4560;
            ThreadStatus {
                tid: 7,
                ppid: 0,
                pgrp: 0,
                sid: 0,
                signal: 0,
                registers: Registers { arch, words: w },
            }
        };
        let sites = disasm::call_sites(&bin).unwrap();
        let assigns: Vec<_> = sites
            .iter()
            .filter(|c| c.function.starts_with("main.") && c.op == disasm::MapOp::Assign)
            .collect();
        assert!(!assigns.is_empty(), "{}: no assign call sites", fx.name());
        for c in assigns {
            let ctx = format!("{}: {} {:#x} {}", fx.name(), c.function, c.address, c.callee);
            let after = disasm::store_in_flight(&bin, &thread(c.address + call_len));
            let after = after.unwrap_or_else(|| panic!("{ctx}: the return address is not in a store window"));
            assert_eq!(after.callee, c.callee, "{ctx}");
            assert_eq!(after.function, c.function, "{ctx}");
            assert_eq!(after.stage, disasm::Stage::Returned { elem: 0xc000_0123_4560 }, "{ctx}");
            assert_eq!(after.by, disasm::Holder::Thread(7), "{ctx}");
            assert!(
                disasm::store_in_flight(&bin, &thread(c.address)).is_none(),
                "{ctx}: at the call itself, nothing is in flight"
            );
        }
    }
}
