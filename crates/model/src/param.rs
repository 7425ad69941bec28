//! Parameter paths for error messages, and the checks shared by every operation.
//!
//! A [`Param`] is a small `Copy` value (no allocation) that is threaded through
//! validation and only rendered into a `String` when an error is actually
//! reported, so validating 1000 valid datums formats nothing.
//!
//! Two renderings exist because AWS uses two: service-level messages name the
//! query-protocol path (`MetricData.member.1.Value`), while model-constraint
//! errors (`ValidationError`) use the Coral path (`metricData.1.member.value`).

use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::limits::MAX_ECHOED_VALUE_CHARS;
use std::fmt::{self, Write};

const MAX_SEGMENTS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seg {
    Field(&'static str),
    /// Zero-based list index; rendered 1-based as AWS does.
    Member(usize),
}

/// Where a value sits in the request, e.g. `MetricData.member.3.Dimensions.member.1.Name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    segs: [Seg; MAX_SEGMENTS],
    len: u8,
}

impl Param {
    /// The request itself (renders as the empty string).
    pub const ROOT: Param = Param {
        segs: [Seg::Field(""); MAX_SEGMENTS],
        len: 0,
    };

    /// A top-level parameter.
    pub const fn root(name: &'static str) -> Param {
        Param::ROOT.push(Seg::Field(name))
    }

    /// A member of a structure.
    pub const fn field(self, name: &'static str) -> Param {
        self.push(Seg::Field(name))
    }

    /// The `index`-th (zero-based) element of a list.
    pub const fn member(self, index: usize) -> Param {
        self.push(Seg::Member(index))
    }

    const fn push(mut self, seg: Seg) -> Param {
        // Paths deeper than MAX_SEGMENTS do not exist in the API; if one ever
        // did, the message would lose its tail rather than panic.
        if (self.len as usize) < MAX_SEGMENTS {
            self.segs[self.len as usize] = seg;
            self.len += 1;
        }
        self
    }

    fn segs(&self) -> &[Seg] {
        &self.segs[..self.len as usize]
    }

    /// Query-protocol rendering: `MetricData.member.1.Unit`.
    pub fn query(&self) -> String {
        self.to_string()
    }

    /// Coral (model validation) rendering: `metricData.1.member.unit`.
    pub fn coral(&self) -> String {
        let mut out = String::new();
        for seg in self.segs() {
            if !out.is_empty() {
                out.push('.');
            }
            match *seg {
                Seg::Field(name) => {
                    let mut chars = name.chars();
                    if let Some(first) = chars.next() {
                        out.extend(first.to_lowercase());
                        out.push_str(chars.as_str());
                    }
                }
                Seg::Member(i) => {
                    let _ = write!(out, "{}.member", i + 1);
                }
            }
        }
        out
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.segs().iter().enumerate() {
            if n > 0 {
                f.write_str(".")?;
            }
            match *seg {
                Seg::Field(name) => f.write_str(name)?,
                Seg::Member(i) => write!(f, "member.{}", i + 1)?,
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- error builders

/// `MissingParameter`: "The parameter X is required."
pub fn missing(p: Param) -> ApiError {
    ApiError::missing(&p.query())
}

/// `InvalidParameterValue` with a message.
pub fn invalid(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidParameterValue, message)
}

/// `InvalidParameterCombination`: "The parameters A and B are mutually exclusive and you have specified both."
pub fn mutually_exclusive(a: Param, b: Param) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidParameterCombination,
        format!("The parameters {a} and {b} are mutually exclusive and you have specified both."),
    )
}

/// Cuts a user value for echoing in an error message.
pub fn echo(value: &str) -> String {
    match value.char_indices().nth(MAX_ECHOED_VALUE_CHARS) {
        Some((cut, _)) => format!("{}...", &value[..cut]),
        None => value.to_string(),
    }
}

/// `ValidationError` in the Coral wording AWS uses for model constraints:
/// "1 validation error detected: Value 'X' at 'path' failed to satisfy constraint: <constraint>".
pub fn constraint(value: &str, p: Param, constraint: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ValidationError,
        format!(
            "1 validation error detected: Value '{}' at '{}' failed to satisfy constraint: {constraint}",
            echo(value),
            p.coral()
        ),
    )
}

/// Same as [`constraint`] for a list value, rendered `[a, b]` like AWS does.
pub fn list_constraint<S: AsRef<str>>(values: &[S], p: Param, constraint_text: &str) -> ApiError {
    let mut shown = String::from("[");
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            shown.push_str(", ");
        }
        shown.push_str(v.as_ref());
        if shown.len() > MAX_ECHOED_VALUE_CHARS {
            break;
        }
    }
    shown.push(']');
    constraint(&shown, p, constraint_text)
}

/// `ValidationError` for a value outside an enum.
pub fn not_in_enum(value: &str, p: Param, allowed: &[&str]) -> ApiError {
    constraint(
        value,
        p,
        &format!(
            "Member must satisfy enum value set: [{}]",
            allowed.join(", ")
        ),
    )
}

// ---------------------------------------------------------------- checks

/// Takes a required value or reports it missing. Empty strings count as missing:
/// decoders hand us `""` for `Name=` in query forms and for absent struct members
/// that default.
pub fn required_str(value: Option<String>, p: Param) -> ApiResult<String> {
    match value {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(missing(p)),
    }
}

/// Length in characters within `min..=max` (ValidationError otherwise).
pub fn check_len(value: &str, min: usize, max: usize, p: Param) -> ApiResult<()> {
    // Fast path: byte length bounds char count from above.
    let chars = if value.len() <= max {
        None
    } else {
        Some(value.chars().count())
    };
    if let Some(n) = chars
        && n > max
    {
        return Err(constraint(
            value,
            p,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    if value.chars().take(min).count() < min {
        return Err(constraint(
            value,
            p,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    Ok(())
}

/// Characters XML 1.0 cannot carry at all (not even escaped). Names containing
/// them could be stored but never listed back over the query protocol, so they
/// are refused on the way in.
fn is_xml_forbidden(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Refuses characters that cannot be answered in XML (see [`is_xml_forbidden`]).
pub fn check_xml_chars(value: &str, p: Param) -> ApiResult<()> {
    // ASCII fast path: forbidden characters are all < 0x20 or U+FFFE/U+FFFF.
    let suspicious = value.bytes().any(|b| b < 0x20 || b == 0xEF);
    if suspicious && value.chars().any(is_xml_forbidden) {
        return Err(invalid(format!(
            "The parameter {p} contains a control character, which is not supported."
        )));
    }
    Ok(())
}

/// Refuses ASCII control characters (U+0000–U+001F, U+007F), which AWS
/// documents alarm names must not contain — CR/LF among them, which XML can
/// carry but which break every line-based consumer (email subjects, logs).
/// The echoed value spells them as escapes so the message stays printable.
pub fn check_no_control_chars(value: &str, p: Param) -> ApiResult<()> {
    if !value.chars().any(|c| c.is_ascii_control()) {
        return Ok(());
    }
    let shown: String = value
        .chars()
        .map(|c| {
            if c.is_ascii_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect();
    Err(constraint(
        &shown,
        p,
        "Member must not contain ASCII control characters",
    ))
}

/// Pattern `[^:].*`, which AWS models for namespaces and dimension names.
pub fn check_no_leading_colon(value: &str, p: Param) -> ApiResult<()> {
    if value.starts_with(':') {
        return Err(constraint(
            value,
            p,
            "Member must satisfy regular expression pattern: [^:].*",
        ));
    }
    Ok(())
}

/// A metric value: finite, |v| ≤ 2^360, and either 0 or |v| ≥ 2^-360.
pub fn check_value(v: f64, p: Param) -> ApiResult<()> {
    use crate::limits::{MAX_VALUE_MAGNITUDE, MIN_NONZERO_MAGNITUDE};
    if !v.is_finite() {
        return Err(invalid(format!(
            "The value {v} for parameter {p} is invalid."
        )));
    }
    let m = v.abs();
    if m > MAX_VALUE_MAGNITUDE || (m != 0.0 && m < MIN_NONZERO_MAGNITUDE) {
        return Err(invalid(format!(
            "The value {v:e} for parameter {p} is out of range: values must be 0 or have a magnitude between 2^-360 and 2^360."
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_both_styles() {
        let p = Param::root("MetricData")
            .member(0)
            .field("Dimensions")
            .member(2)
            .field("Name");
        assert_eq!(p.query(), "MetricData.member.1.Dimensions.member.3.Name");
        assert_eq!(p.coral(), "metricData.1.member.dimensions.3.member.name");
        assert_eq!(Param::root("Namespace").coral(), "namespace");
        assert_eq!(Param::ROOT.query(), "");
    }

    #[test]
    fn deep_paths_do_not_panic() {
        let mut p = Param::root("A");
        for i in 0..20 {
            p = p.member(i);
        }
        assert!(p.query().starts_with("A.member.1"));
    }

    #[test]
    fn lengths_count_characters() {
        let p = Param::root("X");
        assert!(check_len("ééé", 1, 3, p).is_ok()); // 6 bytes, 3 chars
        let e = check_len("éééé", 1, 3, p).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.contains("at 'x'"), "{}", e.message);
        assert!(e.message.contains("less than or equal to 3"));
        let e = check_len("", 1, 3, p).unwrap_err();
        assert!(e.message.contains("greater than or equal to 1"));
    }

    #[test]
    fn xml_chars() {
        let p = Param::root("X");
        assert!(check_xml_chars("tab\tnewline\n ok é \u{FFFD}", p).is_ok());
        assert!(check_xml_chars("nul\u{0}", p).is_err());
        assert!(check_xml_chars("bad\u{FFFF}", p).is_err());
    }

    #[test]
    fn values() {
        let p = Param::root("V");
        for ok in [0.0, -0.0, 1.0, -1e100, 2f64.powi(360), 2f64.powi(-360)] {
            assert!(check_value(ok, p).is_ok(), "{ok}");
        }
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            2f64.powi(361),
            1e-200,
            -1e-300,
            5e-324,
        ] {
            let e = check_value(bad, p).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameterValue, "{bad}");
            assert!(e.message.contains("parameter V "), "{}", e.message);
        }
    }

    #[test]
    fn echo_is_bounded() {
        let long = "x".repeat(10_000);
        assert!(echo(&long).len() < 300);
        assert_eq!(echo("short"), "short");
    }
}
