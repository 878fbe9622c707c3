//! The order fmt prints map entries in (`internal/fmtsort`): keys compared
//! by kind — numbers numerically (NaN first, -0 == 0), strings bytewise,
//! false before true, pointers and channels by address (nil first),
//! structs and arrays element by element, interfaces nil first, then by the
//! dynamic type's descriptor address (reflect compares the `*rtype`
//! pointers), then by value. The sort is stable, as Go's.
//!
//! Go returns -1 for keys of different types, which is not an order; here
//! such pairs are ordered by kind instead so that the comparison is a total
//! preorder (Rust's sort may panic on anything less). With decoded values
//! from one map that case only arises for corrupt or elided values.

use std::cmp::Ordering;

use super::value::{Value, ValueKind};

/// Sorts map entries into fmt's printing order.
pub(crate) fn sort_entries(entries: &mut [(Value, Value)]) {
    entries.sort_by(|a, b| compare(&a.0, &b.0));
}

/// `cmp.Compare` on floats: NaN is less than everything but another NaN.
fn float_cmp(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

fn rank(v: &Value) -> u8 {
    match &v.kind {
        ValueKind::Bool(_) => 0,
        ValueKind::Int(_) => 1,
        ValueKind::Uint(_) => 2,
        ValueKind::Float32(_) => 3,
        ValueKind::Float64(_) => 4,
        ValueKind::Complex64(..) => 5,
        ValueKind::Complex128(..) => 6,
        ValueKind::String { .. } => 7,
        ValueKind::Array { .. } => 8,
        ValueKind::Slice { .. } => 9,
        ValueKind::Struct { .. } => 10,
        ValueKind::Pointer { .. } => 11,
        ValueKind::UnsafePointer(_) => 12,
        ValueKind::Chan(_) => 13,
        ValueKind::Func(_) => 14,
        ValueKind::Map { .. } => 15,
        ValueKind::Interface(_) => 16,
        ValueKind::Elided(_) => 17,
        ValueKind::Unreadable(_) => 18,
    }
}

fn seq_cmp(a: &[Value], b: &[Value]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let c = compare(x, y);
        if c != Ordering::Equal {
            return c;
        }
    }
    a.len().cmp(&b.len())
}

/// fmtsort's `compare`, made total.
pub(crate) fn compare(a: &Value, b: &Value) -> Ordering {
    use ValueKind as K;
    match (&a.kind, &b.kind) {
        (K::Bool(x), K::Bool(y)) => x.cmp(y),
        (K::Int(x), K::Int(y)) => x.cmp(y),
        (K::Uint(x), K::Uint(y)) => x.cmp(y),
        (K::Float32(x), K::Float32(y)) => float_cmp(f64::from(*x), f64::from(*y)),
        (K::Float64(x), K::Float64(y)) => float_cmp(*x, *y),
        (K::Complex64(ar, ai), K::Complex64(br, bi)) => {
            float_cmp(f64::from(*ar), f64::from(*br)).then_with(|| float_cmp(f64::from(*ai), f64::from(*bi)))
        }
        (K::Complex128(ar, ai), K::Complex128(br, bi)) => float_cmp(*ar, *br).then_with(|| float_cmp(*ai, *bi)),
        (K::String { bytes: x, .. }, K::String { bytes: y, .. }) => x.cmp(y),
        (K::Pointer { ptr: x, .. }, K::Pointer { ptr: y, .. }) => x.cmp(y),
        (K::UnsafePointer(x), K::UnsafePointer(y)) | (K::Chan(x), K::Chan(y)) => x.cmp(y),
        (K::Struct { fields: x }, K::Struct { fields: y }) => {
            for (f, g) in x.iter().zip(y) {
                let c = compare(&f.value, &g.value);
                if c != Ordering::Equal {
                    return c;
                }
            }
            x.len().cmp(&y.len())
        }
        (K::Array { elems: x, .. }, K::Array { elems: y, .. }) => seq_cmp(x, y),
        (K::Interface(x), K::Interface(y)) => match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.type_addr.cmp(&y.type_addr).then_with(|| compare(&x.value, &y.value)),
        },
        _ => rank(a).cmp(&rank(b)),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::values::value::{Dynamic, FieldValue};

    fn v(kind: ValueKind) -> Value {
        Value { addr: 0, kind }
    }

    fn keys(mut ks: Vec<Value>) -> Vec<String> {
        let mut e: Vec<(Value, Value)> = ks.drain(..).map(|k| (k, v(ValueKind::Bool(true)))).collect();
        sort_entries(&mut e);
        e.iter().map(|(k, _)| k.go_string()).collect()
    }

    #[test]
    fn numbers_numerically_nan_first() {
        let f = |x: f64| v(ValueKind::Float64(x));
        assert_eq!(
            keys(vec![f(2.0), f(f64::NAN), f(-1.0), f(f64::NEG_INFINITY), f(10.0)]),
            ["NaN", "-Inf", "-1", "2", "10"]
        );
        let i = |x: i64| v(ValueKind::Int(x));
        assert_eq!(keys(vec![i(10), i(2), i(-3)]), ["-3", "2", "10"]);
    }

    #[test]
    fn strings_bytewise_bools_false_first() {
        let s = |x: &str| {
            v(ValueKind::String {
                bytes: x.as_bytes().to_vec(),
                len: x.len() as u64,
            })
        };
        assert_eq!(keys(vec![s("b"), s("B"), s(""), s("ab")]), ["", "B", "ab", "b"]);
        assert_eq!(
            keys(vec![v(ValueKind::Bool(true)), v(ValueKind::Bool(false))]),
            ["false", "true"]
        );
    }

    #[test]
    fn structs_field_by_field_interfaces_nil_then_type_then_value() {
        let st = |a: i64, b: i64| {
            v(ValueKind::Struct {
                fields: vec![
                    FieldValue {
                        name: Arc::from("A"),
                        value: v(ValueKind::Int(a)),
                    },
                    FieldValue {
                        name: Arc::from("B"),
                        value: v(ValueKind::Int(b)),
                    },
                ],
            })
        };
        assert_eq!(keys(vec![st(2, 1), st(1, 5), st(1, 2)]), ["{1 2}", "{1 5}", "{2 1}"]);
        let iface = |t: u64, x: i64| {
            v(ValueKind::Interface(Some(Box::new(Dynamic {
                type_addr: t,
                type_name: Arc::from("t"),
                value: v(ValueKind::Int(x)),
            }))))
        };
        assert_eq!(
            keys(vec![
                iface(0x200, 1),
                iface(0x100, 9),
                v(ValueKind::Interface(None)),
                iface(0x100, 3)
            ]),
            ["<nil>", "3", "9", "1"]
        );
    }
}
