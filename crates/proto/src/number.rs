//! Text forms of numbers for the text protocols (query form values, XML).

/// Shortest text that parses back to the same `f64`: `51.5` stays `51.5`,
/// `1.0` stays `1.0`, `1e300` stays `1e300` (not 301 digits). Rust's `Debug`
/// form is exactly that (shortest round-trip digits, exponent only for very
/// large/small magnitudes) and every AWS SDK parses it.
pub(crate) fn format_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        format!("{v:?}")
    }
}

/// `f32` → `f64` through the shortest decimal text, so `0.1f32` becomes
/// `0.1` rather than `0.10000000149011612`.
pub(crate) fn widen_f32(v: f32) -> f64 {
    if !v.is_finite() {
        return f64::from(v);
    }
    format!("{v:?}").parse().unwrap_or(f64::from(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_keep_their_short_form_and_round_trip() {
        for (v, text) in [
            (51.5, "51.5"),
            (1.0, "1.0"),
            (1e300, "1e300"),
            (-0.25, "-0.25"),
        ] {
            assert_eq!(format_float(v), text);
            assert_eq!(format_float(v).parse::<f64>().ok(), Some(v));
        }
        assert_eq!(
            format_float(f64::MIN_POSITIVE).parse::<f64>().ok(),
            Some(f64::MIN_POSITIVE)
        );
        assert_eq!(widen_f32(0.1), 0.1);
    }
}
