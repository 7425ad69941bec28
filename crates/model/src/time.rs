//! The wire timestamp type shared by every operation's input and output.
//!
//! Decoding contract with `proto`: a timestamp arrives either as a number of
//! epoch seconds (JSON numbers, CBOR tag 1 — delivered to serde as f64/i64/u64)
//! or as a string (query protocol: ISO 8601, or epoch seconds as text).
//! Encoding contract: `Timestamp` serializes as a newtype struct named
//! [`TIMESTAMP_TOKEN`] wrapping epoch milliseconds (i64); `proto`'s serializer
//! recognises the name and writes each protocol's timestamp form.

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Newtype-struct name that marks a timestamp for the wire serializers.
pub const TIMESTAMP_TOKEN: &str = "$stratus::Timestamp";

/// Milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_millis(ms: i64) -> Self {
        Timestamp(ms)
    }
    pub fn millis(self) -> i64 {
        self.0
    }
    pub fn seconds_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }
    pub fn now() -> Self {
        Timestamp(jiff::Timestamp::now().as_millisecond())
    }
    /// ISO 8601 with milliseconds, `2026-11-25T15:28:45.489Z`.
    pub fn to_iso8601(self) -> String {
        match jiff::Timestamp::from_millisecond(self.0) {
            Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
            Err(_) => "1970-01-01T00:00:00.000Z".to_string(),
        }
    }
    /// Parses ISO 8601 (with or without offset; no offset means UTC) or epoch seconds.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(secs) = s.parse::<f64>() {
            return Self::from_seconds_f64(secs);
        }
        if let Ok(t) = s.parse::<jiff::Timestamp>() {
            return Some(Timestamp(t.as_millisecond()));
        }
        // No offset: treat as UTC civil time.
        if let Ok(dt) = s.parse::<jiff::civil::DateTime>() {
            return jiff::tz::TimeZone::UTC
                .to_timestamp(dt)
                .ok()
                .map(|t| Timestamp(t.as_millisecond()));
        }
        if let Ok(d) = s.parse::<jiff::civil::Date>() {
            return jiff::tz::TimeZone::UTC
                .to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
                .map(|t| Timestamp(t.as_millisecond()));
        }
        None
    }
    pub fn from_seconds_f64(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs.abs() > 1.0e13 {
            return None;
        }
        Some(Timestamp((secs * 1000.0).round() as i64))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso8601())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(TIMESTAMP_TOKEN, &self.0)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a timestamp (ISO 8601 or epoch seconds)")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
                Timestamp::from_seconds_f64(v).ok_or_else(|| E::custom("timestamp out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
                self.visit_f64(v as f64)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse(v).ok_or_else(|| E::custom(format!("invalid timestamp '{v}'")))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_forms() {
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:01Z"),
            Some(Timestamp(1000))
        );
        assert_eq!(
            Timestamp::parse("1970-01-01T00:00:01.5"),
            Some(Timestamp(1500))
        );
        assert_eq!(Timestamp::parse("2.25"), Some(Timestamp(2250)));
        assert_eq!(
            Timestamp::parse("1970-01-01T01:00:00+01:00"),
            Some(Timestamp(0))
        );
        assert_eq!(Timestamp::parse("nope"), None);
        assert_eq!(Timestamp(1500).to_iso8601(), "1970-01-01T00:00:01.500Z");
    }
}
