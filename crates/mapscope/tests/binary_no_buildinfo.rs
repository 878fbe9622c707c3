//! A Go binary without build info (as esbuild ships): the version comes from
//! the `runtime.buildVersion` string the linker wrote. Each fixture binary is
//! copied with its `.go.buildinfo` magic destroyed; the version read must be
//! the one the program reported from `runtime.Version()`.

use mapscope::binary::GoBinary;

/// The magic that starts `.go.buildinfo` (`debug/buildinfo`).
const MAGIC: &[u8] = b"\xff Go buildinf:";

#[test]
fn version_from_runtime_build_version() {
    let mut checked = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let mut bytes = std::fs::read(fx.binary_path().unwrap()).unwrap();
        let at = bytes
            .windows(MAGIC.len())
            .position(|w| w == MAGIC)
            .unwrap_or_else(|| panic!("{}: no build info to remove", fx.name()));
        bytes[at..at + MAGIC.len()].fill(0);
        let bin = GoBinary::parse(bytes).unwrap();
        assert!(bin.build_info().is_err(), "{}: build info still read", fx.name());
        let truth = fx.truth().unwrap();
        let v = bin.go_version().unwrap_or_else(|| panic!("{}: no version", fx.name()));
        // runtime.Version() is runtime.buildVersion.
        assert_eq!(v.raw, truth.go_version, "{}", fx.name());
        assert_eq!(bin.version_source(), Some("runtime.buildVersion"));
        assert_eq!(
            bin.map_variant().variant.map(|v| v.as_str()),
            Some(truth.variant.as_str()),
            "{}: variant",
            fx.name()
        );
        checked += 1;
    }
    assert!(checked >= 14);
}
