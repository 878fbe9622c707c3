//! The per-version table of runtime map structures against what each fixture
//! program's compiler computed for its mirror of them (checked, in the
//! program, against `len` of every map).

use mapscope::layout::RuntimeLayout;

fn minor(go_version: &str) -> u32 {
    go_version
        .strip_prefix("go1.")
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("unparsable Go version {go_version}"))
}

#[test]
fn runtime_tables_equal_the_programs_own_offsets() {
    for fx in mapscope_fixtures::all().unwrap() {
        let truth = fx.truth().unwrap();
        let layout = RuntimeLayout::for_build(minor(&truth.go_version), truth.variant != "classic");
        let mut checked = 0;
        for (name, want) in &truth.structs {
            // Map type descriptors are the binary reader's business.
            let Some(spec) = layout.get(name) else {
                assert!(
                    name.contains("abi.") || name.contains("maptype"),
                    "{}: no table for {name}",
                    fx.name()
                );
                continue;
            };
            assert_eq!(spec.size, want.size, "{} {name}: size", fx.name());
            let got: std::collections::BTreeMap<String, u64> =
                spec.fields.iter().map(|f| (f.name.to_string(), f.offset)).collect();
            assert_eq!(&got, &want.fields, "{} {name}: field offsets", fx.name());
            checked += 1;
        }
        assert!(checked >= 1, "{}: nothing compared", fx.name());
    }
}
