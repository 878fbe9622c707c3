//! `GoBinary` against the fixture corpus: every fact checked here was printed
//! by the fixture program about itself (reflect/unsafe) or recorded from the
//! toolchain that built it (`fixtures/generate.sh`).

use std::collections::HashMap;

use mapscope::binary::{GoBinary, MapDescFamily, MapDescriptor, TypeDetail};

fn fixtures() -> Vec<mapscope_fixtures::Fixture> {
    match mapscope_fixtures::all() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("skipping: fixture corpus unavailable: {e}");
            Vec::new()
        }
    }
}

fn hex(s: &str) -> u64 {
    mapscope_fixtures::hex_u64(s).unwrap_or_else(|| panic!("bad hex {s:?} in truth"))
}

/// The truth's descriptor fields, as this family names them, against ours.
fn check_descriptor(fx: &str, ty: &str, d: &MapDescriptor, m: &mapscope_fixtures::MapTruth) {
    let want = |k: &str| {
        m.descriptor_u64(k)
            .unwrap_or_else(|| panic!("{fx} {ty}: truth lacks {k}"))
    };
    assert_eq!(u64::from(d.flags.raw), want("flags"), "{fx} {ty} flags");
    let group = d.bucket_or_group.as_ref().map(|g| match g.id {
        mapscope::binary::TypeId::Runtime(a) => a,
        other => panic!("{fx} {ty}: group from {other:?}"),
    });
    match d.family {
        MapDescFamily::Classic => {
            assert_eq!(d.key_size, Some(want("keysize")), "{fx} {ty} keysize");
            assert_eq!(d.value_size, Some(want("valuesize")), "{fx} {ty} valuesize");
            assert_eq!(d.bucket_size, Some(want("bucketsize")), "{fx} {ty} bucketsize");
            assert_eq!(group, Some(want("bucket")), "{fx} {ty} bucket");
        }
        MapDescFamily::Swiss => {
            assert_eq!(d.group_size, Some(want("GroupSize")), "{fx} {ty} GroupSize");
            assert_eq!(d.slot_size, Some(want("SlotSize")), "{fx} {ty} SlotSize");
            assert_eq!(d.elem_off, Some(want("ElemOff")), "{fx} {ty} ElemOff");
            assert_eq!(group, Some(want("group")), "{fx} {ty} group");
        }
        MapDescFamily::Swiss127 => {
            for (k, v) in [
                ("GroupSize", d.group_size),
                ("KeysOff", d.keys_off),
                ("KeyStride", d.key_stride),
                ("ElemsOff", d.elems_off),
                ("ElemStride", d.elem_stride),
                ("ElemOff", d.elem_off),
            ] {
                assert_eq!(v, Some(want(k)), "{fx} {ty} {k}");
            }
            assert_eq!(group, Some(want("group")), "{fx} {ty} group");
        }
    }
    // The group mirror the program built with unsafe.Sizeof has the size the descriptor states.
    if let Some(mg) = &m.mirror_group {
        let size = d.group_size.or(d.bucket_size);
        assert_eq!(
            size,
            Some(mg.size),
            "{fx} {ty} group/bucket size vs the program's mirror struct"
        );
    }
}

#[test]
fn corpus_versions_variants_and_map_descriptors() {
    for fx in fixtures() {
        let name = fx.name();
        let bin = GoBinary::open(fx.binary_path().expect("materialise fixture")).expect("open fixture");
        let truth = fx.truth().expect("fixture truth");
        let v = bin.go_version().expect("version");
        assert_eq!(v.raw, fx.entry.go_version, "{name}: version string from the toolchain");
        assert_eq!(v.raw, truth.go_version, "{name}: runtime.Version()");
        let det = bin.map_variant();
        assert_eq!(
            det.variant.map(|v| v.as_str()),
            Some(fx.entry.map_variant.as_str()),
            "{name}: variant"
        );
        assert!(det.consistent(), "{name}: version and structure disagree: {det:?}");
        assert_eq!(det.from_structure, det.variant, "{name}: structural detection");
        assert_eq!(bin.goarch(), truth.goarch, "{name}: GOARCH");
        assert_eq!(bin.goos(), Some(truth.goos.as_str()), "{name}: GOOS");
        assert_eq!(
            bin.has_dwarf(),
            !fx.entry.stripped,
            "{name}: DWARF present iff not stripped"
        );

        let map_types: Vec<String> = bin
            .map_types()
            .expect("map types")
            .into_iter()
            .map(|t| t.name)
            .collect();
        for m in &truth.maps {
            let ty = &m.type_name;
            assert!(
                map_types.contains(ty),
                "{name}: map type {ty} not found among {} map types",
                map_types.len()
            );
            let t = bin
                .runtime_type(hex(&m.type_address))
                .expect("runtime type at the program's type word");
            assert_eq!(&t.name, ty, "{name}: name of descriptor {}", m.type_address);
            let TypeDetail::Map { key, elem, descriptor } = &t.detail else {
                panic!("{name}: {ty} is not a map: {:?}", t.kind)
            };
            assert_eq!(key.name, m.key_type, "{name} {ty} key");
            assert_eq!(elem.name, m.elem_type, "{name} {ty} elem");
            assert_eq!(Some(hex_key(key)), m.descriptor_u64("key"), "{name} {ty} key addr");
            let kt = bin.type_by_id(key.id).expect("key type");
            let et = bin.type_by_id(elem.id).expect("elem type");
            assert_eq!(
                (kt.size, et.size),
                (m.key_size, m.elem_size),
                "{name} {ty} key/elem sizes"
            );
            check_descriptor(name, ty, descriptor.as_ref().expect("descriptor"), m);
        }
    }
}

fn hex_key(r: &mapscope::binary::TypeRef) -> u64 {
    match r.id {
        mapscope::binary::TypeId::Runtime(a) => a,
        mapscope::binary::TypeId::Dwarf(_) => 0,
    }
}

#[test]
fn corpus_funcvals_resolve_to_the_programs_func_for_pc() {
    for fx in fixtures() {
        let bin = GoBinary::open(fx.binary_path().expect("fixture")).expect("open");
        let truth = fx.truth().expect("truth");
        let mut checked = 0;
        for f in truth.maps.iter().filter_map(|m| m.funcs.as_ref()).flatten() {
            let pc = hex(&f.pc);
            if pc == 0 {
                continue;
            }
            let line = bin
                .line_for_pc(pc)
                .unwrap_or_else(|| panic!("{}: no function at {pc:#x}", fx.name()));
            assert_eq!(line.function, f.name, "{}: runtime.FuncForPC({pc:#x})", fx.name());
            assert_eq!(line.entry, pc, "{}: {} entry", fx.name(), f.name);
            assert_eq!(line.line, Some(f.line), "{}: {} line", fx.name(), f.name);
            let file = line.file.unwrap_or_default();
            assert!(file.ends_with(&f.file), "{}: {file} vs {}", fx.name(), f.file);
            let func = bin.func_by_name(&f.name).expect("function by name");
            assert_eq!(func.entry, pc);
            // The whole-function table gives the same position.
            let lines = bin.func_lines(&func);
            let (lfile, lline) = lines.at(pc).expect("func_lines at the entry");
            assert_eq!(lline, f.line, "{}: {} func_lines line", fx.name(), f.name);
            assert!(lfile.ends_with(&f.file), "{}: {lfile} vs {}", fx.name(), f.file);
            checked += 1;
        }
        assert!(checked > 0, "{}: no func values in truth", fx.name());
    }
}

#[test]
fn corpus_dwarf_agrees_with_runtime_descriptors_and_the_program() {
    for fx in fixtures().into_iter().filter(|f| !f.entry.stripped) {
        let name = fx.name();
        let bin = GoBinary::open(fx.binary_path().expect("fixture")).expect("open");
        let truth = fx.truth().expect("truth");
        // Structs the program measured with unsafe.Sizeof/Offsetof.
        for (sname, st) in &truth.structs {
            let t = bin
                .dwarf_type_by_name(sname)
                .expect("dwarf")
                .unwrap_or_else(|| panic!("{name}: DWARF lacks {sname}"));
            assert_eq!(t.size, st.size, "{name}: size of {sname}");
            // 1.19's runtime.maptype has lowercase names (and elemsize for
            // ValueSize); the program names fields as internal/abi does.
            let got: HashMap<String, u64> = t.fields().iter().map(|f| (f.name.to_lowercase(), f.offset)).collect();
            for (f, off) in &st.fields {
                match got.get(&f.to_lowercase()) {
                    Some(o) => assert_eq!(o, off, "{name}: {sname}.{f}"),
                    None => assert!(got.values().any(|o| o == off), "{name}: {sname}.{f}: no field at {off}"),
                }
            }
        }
        for m in &truth.maps {
            let ty = &m.type_name;
            let dt = bin
                .dwarf_type_by_name(ty)
                .expect("dwarf")
                .unwrap_or_else(|| panic!("{name}: DWARF lacks {ty}"));
            let rt = bin.runtime_type(hex(&m.type_address)).expect("runtime type");
            assert_eq!(
                dt.runtime_addr,
                Some(hex(&m.type_address)),
                "{name} {ty}: DW_AT_go_runtime_type"
            );
            assert_eq!((dt.size, dt.align), (rt.size, rt.align), "{name} {ty}: size/align");
            assert_eq!(dt.map_descriptor(), rt.map_descriptor(), "{name} {ty}: descriptor");
            let (dk, rk) = (dt.map_key().expect("dwarf key"), rt.map_key().expect("rt key"));
            assert_eq!(dk.name, rk.name, "{name} {ty}: key name");
            let (dk, rk) = (bin.type_by_id(dk.id).expect("dk"), bin.type_by_id(rk.id).expect("rk"));
            assert_eq!(
                (dk.size, dk.align),
                (rk.size, rk.align),
                "{name} {ty}: key size/align DWARF vs runtime"
            );
            if m.reach == "global" {
                let g = bin
                    .global(&m.name)
                    .expect("dwarf")
                    .unwrap_or_else(|| panic!("{name}: no global {}", m.name));
                assert_eq!(
                    g.ty.as_ref().map(|t| t.name.as_str()),
                    Some(ty.as_str()),
                    "{name}: type of {}",
                    m.name
                );
            }
        }
    }
}

#[test]
fn corpus_stripped_twins_give_the_same_map_layouts() {
    let all = fixtures();
    for s in all.iter().filter(|f| f.entry.stripped) {
        let Some(twin) = all
            .iter()
            .find(|f| !f.entry.stripped && f.entry.go == s.entry.go && f.entry.goexperiment == s.entry.goexperiment)
        else {
            continue;
        };
        let layouts = |f: &mapscope_fixtures::Fixture| -> Vec<(String, serde_json::Value)> {
            let bin = GoBinary::open(f.binary_path().expect("fixture")).expect("open");
            bin.map_types()
                .expect("map types")
                .into_iter()
                .map(|t| {
                    let d = t.map_descriptor().expect("descriptor");
                    // Addresses move when symbols are dropped; sizes and offsets must not.
                    let v = serde_json::json!([
                        t.size,
                        t.align,
                        d.family,
                        d.flags,
                        d.key_size,
                        d.value_size,
                        d.bucket_size,
                        d.group_size,
                        d.slot_size,
                        d.elem_off,
                        d.keys_off,
                        d.key_stride,
                        d.elems_off,
                        d.elem_stride,
                        d.bucket_or_group.as_ref().map(|g| g.name.clone())
                    ]);
                    (t.name, v)
                })
                .collect()
        };
        let (a, b) = (layouts(s), layouts(twin));
        assert!(!a.is_empty());
        assert_eq!(a, b, "{} vs {}", s.name(), twin.name());
    }
}

/// A global looked up by name before anything needed the whole DWARF index
/// (the lookup then reads only its package's units) is the one the whole
/// index holds: each map global the program named, and runtime globals.
#[test]
fn a_global_found_in_its_package_units_is_the_indexed_one() {
    let mut checked = 0;
    for fx in fixtures().into_iter().filter(|f| !f.entry.stripped) {
        let path = fx.binary_path().unwrap();
        let truth = fx.truth().unwrap();
        let mut names: Vec<String> = truth
            .maps
            .iter()
            .filter(|m| m.reach == "global")
            .map(|m| m.name.clone())
            .collect();
        names.extend(["runtime.mheap_", "runtime.allgs", "main.NoSuchGlobal"].map(String::from));
        let fresh = GoBinary::open(&path).unwrap();
        let quick: Vec<_> = names.iter().map(|n| fresh.global(n).unwrap()).collect();
        let indexed = GoBinary::open(&path).unwrap();
        let all = indexed.globals().unwrap();
        for (name, q) in names.iter().zip(&quick) {
            let want = all.iter().find(|g| &g.name == name);
            assert_eq!(q.as_ref(), want, "{} {name}", fx.name());
            checked += usize::from(want.is_some());
        }
    }
    assert!(checked > 100, "{checked}");
}
