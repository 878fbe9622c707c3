//! Floats and complex numbers exactly as `fmt`'s `%v` prints them.
//!
//! `%v` is `%g` with the shortest precision (`fmt/print.go` fmtFloat →
//! `strconv.AppendFloat(v, 'g', -1, size)`): the shortest digits that round
//! trip at the value's own size (32 or 64 bits), in `%e` form when the decimal
//! exponent is < -4 or >= 6 (strconv uses precision 6 for that decision
//! when the precision is "shortest") and `%f` form otherwise. fmt then keeps
//! the sign of infinities (`+Inf`), drops it from NaN unless `+` is asked for,
//! and prints `-0` for negative zero.
//!
//! The shortest digits come from Rust's `{:e}`, which, like Go's Ryū-based
//! `ryuFtoaShortest`, yields the shortest digit string that reads back to
//! the same value, choosing the closest one.

use std::io::Write as _;

/// Appends `v` as `fmt.Sprint(v)` prints a float of `bits` (32 or 64) bits.
/// `plus` forces a sign (fmt's `+` flag, set for a complex's imaginary part).
pub(crate) fn write_float(out: &mut Vec<u8>, v: f64, bits32: bool, plus: bool) {
    if v.is_nan() {
        out.extend_from_slice(if plus { b"+NaN" } else { b"NaN" });
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    } else if plus {
        out.push(b'+');
    }
    let mut sci: [u8; 40] = [0; 40];
    let n = {
        let mut w = &mut sci[..];
        let a = v.abs();
        // 40 bytes hold any shortest form ("d." + 17 digits + "e-324").
        let _ = if bits32 {
            write!(w, "{:e}", a as f32)
        } else {
            write!(w, "{a:e}")
        };
        40 - w.len()
    };
    let s = sci.get(..n).unwrap_or(&[]);
    let (mant, exp) = match s.iter().position(|&c| c == b'e') {
        Some(i) => (s.get(..i).unwrap_or(&[]), s.get(i + 1..).unwrap_or(&[])),
        None => (s, &b"0"[..]),
    };
    let exp: i32 = std::str::from_utf8(exp).ok().and_then(|e| e.parse().ok()).unwrap_or(0);
    let mut digits = [0u8; 24];
    let mut nd = 0usize;
    for &c in mant.iter().filter(|c| c.is_ascii_digit()) {
        if let Some(d) = digits.get_mut(nd) {
            *d = c;
            nd += 1;
        }
    }
    let digits = digits.get(..nd).unwrap_or(&[]);
    if digits.iter().all(|&d| d == b'0') {
        out.push(b'0');
        return;
    }
    if !(-4..6).contains(&exp) {
        write_e(out, digits, exp);
    } else {
        write_f(out, digits, exp);
    }
}

/// `%e` with all the shortest digits: `d.ddde±XX`, at least two exponent digits.
fn write_e(out: &mut Vec<u8>, digits: &[u8], exp: i32) {
    let (first, rest) = digits.split_first().unwrap_or((&b'0', &[]));
    out.push(*first);
    if !rest.is_empty() {
        out.push(b'.');
        out.extend_from_slice(rest);
    }
    out.push(b'e');
    out.push(if exp < 0 { b'-' } else { b'+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        out.push(b'0');
    }
    let _ = write!(out, "{e}");
}

/// `%f` with just enough decimals for the shortest digits; `exp` is the
/// decimal exponent of the first digit (in -4..6 here).
fn write_f(out: &mut Vec<u8>, digits: &[u8], exp: i32) {
    let dp = exp + 1; // digits before the decimal point
    if dp <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat(b'0').take(dp.unsigned_abs() as usize));
        out.extend_from_slice(digits);
        return;
    }
    let dp = dp as usize;
    for i in 0..dp {
        out.push(digits.get(i).copied().unwrap_or(b'0'));
    }
    if let Some(frac) = digits.get(dp..) {
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    }
}

/// `(re±imi)` as fmt prints complex numbers.
pub(crate) fn write_complex(out: &mut Vec<u8>, re: f64, im: f64, bits32: bool) {
    out.push(b'(');
    write_float(out, re, bits32, false);
    write_float(out, im, bits32, true);
    out.extend_from_slice(b"i)");
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn f64s(v: f64) -> String {
        let mut o = Vec::new();
        write_float(&mut o, v, false, false);
        String::from_utf8(o).unwrap()
    }

    fn f32s(v: f32) -> String {
        let mut o = Vec::new();
        write_float(&mut o, f64::from(v), true, false);
        String::from_utf8(o).unwrap()
    }

    #[test]
    fn shortest_g_forms() {
        assert_eq!(f64s(100.0), "100");
        assert_eq!(f64s(123456.0), "123456");
        assert_eq!(f64s(1234567.0), "1.234567e+06");
        assert_eq!(f64s(0.0001), "0.0001");
        assert_eq!(f64s(0.00001), "1e-05");
        assert_eq!(f64s(-0.0), "-0");
        assert_eq!(f32s(16777216.0), "1.6777216e+07");
        assert_eq!(f32s(0.1), "0.1");
    }
}
