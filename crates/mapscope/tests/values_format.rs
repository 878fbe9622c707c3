//! Float and complex rendering against text Go's own fmt printed: the
//! fixture program's truth (maps.go: Float32s, Float64s, FloatVals,
//! Complex64s, Complex128) and a go1.26.6 `fmt.Sprint` run over further edge
//! cases, each given here by its exact bit pattern.

use mapscope::values::{Value, ValueKind};

fn render(kind: ValueKind) -> String {
    Value { addr: 0, kind }.go_string()
}

fn f64s(bits: u64) -> String {
    render(ValueKind::Float64(f64::from_bits(bits)))
}

fn f32s(bits: u32) -> String {
    render(ValueKind::Float32(f32::from_bits(bits)))
}

#[test]
fn float64_as_the_fixture_programs_printed() {
    let cases: &[(f64, &str)] = &[
        (-0.0, "-0"),
        (0.0, "0"),
        (0.1, "0.1"),
        (1e21, "1e+21"),
        (1e20, "1e+20"),
        (1e-7, "1e-07"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (123456789.125, "1.23456789125e+08"),
        (5e-324, "5e-324"),
        (f64::MAX, "1.7976931348623157e+308"),
        (1.0 / 3.0, "0.3333333333333333"),
        (100.0, "100"),
    ];
    for &(v, want) in cases {
        assert_eq!(render(ValueKind::Float64(v)), want, "{v:e}");
    }
}

#[test]
fn float32_as_the_fixture_programs_printed() {
    let cases: &[(f32, &str)] = &[
        (0.0, "0"),
        (1.5, "1.5"),
        (-2.25, "-2.25"),
        (f32::INFINITY, "+Inf"),
        (f32::NEG_INFINITY, "-Inf"),
        (f32::NAN, "NaN"),
        (1e-7, "1e-07"),
        (f32::MAX, "3.4028235e+38"),
        (f32::from_bits(1), "1e-45"),
        (16777216.0, "1.6777216e+07"),
    ];
    for &(v, want) in cases {
        assert_eq!(render(ValueKind::Float32(v)), want, "{v:e}");
    }
}

#[test]
fn complex_as_the_fixture_programs_printed() {
    assert_eq!(render(ValueKind::Complex64(1.0, -2.0)), "(1-2i)");
    assert_eq!(render(ValueKind::Complex64(0.0, 0.0)), "(0+0i)");
    assert_eq!(render(ValueKind::Complex64(f32::INFINITY, 3.0)), "(+Inf+3i)");
    assert_eq!(render(ValueKind::Complex128(1.0, -2.0)), "(1-2i)");
    assert_eq!(render(ValueKind::Complex128(0.5, 1e21)), "(0.5+1e+21i)");
    assert_eq!(render(ValueKind::Complex128(f64::NAN, 1.0)), "(NaN+1i)");
}

#[test]
fn float64_edge_cases_printed_by_go_1_26() {
    let cases: &[(u64, &str)] = &[
        (0x412e848000000000, "1e+06"),
        (0x40fe240000000000, "123456"),
        (0x412e847fcccccccd, "999999.9"),
        (0x3f1a36e2eb1c432d, "0.0001"),
        (0x3ee4f8b588e368f1, "1e-05"),
        (0x81a56e1fc2f8f359, "-1e-300"),
        (0x3e5ad7f29abcaf48, "2.5e-08"),
        (0x54b249ad2594c37d, "1e+100"),
        (0x3fd3333333333333, "0.3"),
        (0x1, "5e-324"),
        (0xc05edd2f1a9fbe77, "-123.456"),
        (0x444b1ae4d6e2ef50, "1e+21"),
        (0x437b69b4ba630f35, "1.2345678901234568e+17"),
    ];
    for &(bits, want) in cases {
        assert_eq!(f64s(bits), want, "{bits:#x}");
    }
}

#[test]
fn float32_edge_cases_printed_by_go_1_26() {
    let cases: &[(u32, &str)] = &[
        (0x3dcccccd, "0.1"),
        (0x3727c5ac, "1e-05"),
        (0x4b3c614e, "1.2345678e+07"),
        (0x7f7fffff, "3.4028235e+38"),
        (0x3e99999a, "0.3"),
        (0x4996b438, "1.234567e+06"),
        (0x47f12000, "123456"),
        (0xb900f990, "-0.000123"),
    ];
    for &(bits, want) in cases {
        assert_eq!(f32s(bits), want, "{bits:#x}");
    }
}

#[test]
fn complex_edge_cases_printed_by_go_1_26() {
    let c128 = |r: u64, i: u64| render(ValueKind::Complex128(f64::from_bits(r), f64::from_bits(i)));
    let c64 = |r: u32, i: u32| render(ValueKind::Complex64(f32::from_bits(r), f32::from_bits(i)));
    assert_eq!(c128(0x3ff0000000000000, 0x7ff8000000000001), "(1+NaNi)");
    assert_eq!(c128(0x3ff0000000000000, 0xfff0000000000000), "(1-Infi)");
    assert_eq!(c128(0x8000000000000000, 0), "(-0+0i)");
    assert_eq!(c128(0xbe7ad7f29abcaf48, 0x412e848000000000), "(-1e-07+1e+06i)");
    assert_eq!(c64(0x3dcccccd, 0xbe4ccccd), "(0.1-0.2i)");
    assert_eq!(c64(0x7f800000, 0x7fc00000), "(+Inf+NaNi)");
}

#[test]
fn json_form_keeps_non_utf8_bytes() {
    let v = Value {
        addr: 0x10,
        kind: ValueKind::String {
            bytes: b"\xff\xfe\x00binary".to_vec(),
            len: 9,
        },
    };
    let j = v.to_json();
    assert_eq!(j.go_hex.as_deref(), Some("fffe0062696e617279"));
    assert_eq!(j.address, "0x10");
    assert_eq!(j.go, "\u{fffd}\u{fffd}\u{0}binary");
    let ok = Value {
        addr: 0,
        kind: ValueKind::String {
            bytes: b"h\xc3\xa9".to_vec(),
            len: 3,
        },
    };
    assert_eq!(ok.to_json().go_hex, None);
}
