//! CloudWatch Logs' engine: the log store (write-ahead log fsync'd before an
//! append is acknowledged, sealed zstd segments per log group and time window,
//! retention that drops whole files), CloudWatch filter patterns and the
//! metric values they extract (`pattern`), Embedded Metric Format (`emf`),
//! and Logs Insights queries (`insights`).
//!
//! It owns log groups, streams, events and their metadata on disk. It must not
//! know HTTP, AWS wire formats or the metrics engine: the server turns API
//! calls into calls here and the metric emissions returned here into
//! datapoints.

pub mod contributor;
pub mod emf;
pub mod insights;
pub mod pattern;
pub mod store;

/// One stored log event as the query layers see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventRef<'a> {
    pub group: &'a str,
    pub stream: &'a str,
    /// The event's own time (epoch ms), as the client gave it.
    pub timestamp_ms: i64,
    /// When the server accepted it (epoch ms).
    pub ingestion_ms: i64,
    pub message: &'a str,
    /// The store's id for the event (`store::EventId.0`): with the group and
    /// timestamp it finds the event again (see [`record_pointer`]).
    pub id: u64,
}

/// The first byte of a record pointer's payload. A later layout takes a new
/// version so pointers handed out before stay readable or fail cleanly.
const POINTER_VERSION: u8 = 1;
/// Version, timestamp (8 bytes, big-endian) and event id (8 bytes): the
/// group name's bytes follow.
const POINTER_HEADER: usize = 17;

/// Logs Insights' `@ptr`: an opaque token `GetLogRecord` turns back into the
/// event. It is URL-safe base64 without padding (it travels in JSON and may be
/// pasted into URLs) of `[version=1][timestamp i64 BE][id u64 BE][group UTF-8]`.
/// The group goes last and unprefixed: it is the only variable-length part.
pub fn record_pointer(group: &str, timestamp_ms: i64, id: u64) -> String {
    let mut payload = Vec::with_capacity(POINTER_HEADER + group.len());
    payload.push(POINTER_VERSION);
    payload.extend_from_slice(&timestamp_ms.to_be_bytes());
    payload.extend_from_slice(&id.to_be_bytes());
    payload.extend_from_slice(group.as_bytes());
    base64url::encode(&payload)
}

/// Reads a [`record_pointer`] back as (group, timestamp ms, event id). Total:
/// anything that is not a pointer this build writes (bad base64, another
/// version, too short, an empty or non-UTF-8 group) is `None`.
pub fn parse_record_pointer(p: &str) -> Option<(String, i64, u64)> {
    let payload = base64url::decode(p)?;
    let (header, group) = payload.split_at_checked(POINTER_HEADER)?;
    let (&version, rest) = header.split_first()?;
    if version != POINTER_VERSION || group.is_empty() {
        return None;
    }
    let (ts, id) = rest.split_at_checked(8)?;
    let timestamp_ms = i64::from_be_bytes(ts.try_into().ok()?);
    let id = u64::from_be_bytes(id.try_into().ok()?);
    let group = String::from_utf8(group.to_vec()).ok()?;
    Some((group, timestamp_ms, id))
}

/// RFC 4648 §5 base64 (`-` and `_`), without padding. Hand-rolled: a few
/// lines here beat a dependency for one token format.
mod base64url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub(crate) fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let b = [
                chunk.first().copied().unwrap_or(0),
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            // A chunk of k bytes fills k + 1 characters.
            for i in 0..=chunk.len() {
                let sextet = (n >> (18 - 6 * i)) & 63;
                out.push(char::from(ALPHABET[sextet as usize]));
            }
        }
        out
    }

    fn sextet(c: u8) -> Option<u32> {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        Some(u32::from(v))
    }

    /// `None` for any character outside the alphabet (padding included), a
    /// length no encoding has (4k + 1), or nonzero unused low bits in the
    /// last character: each byte string then has exactly one spelling.
    pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
        let text = text.as_bytes();
        if text.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
        for chunk in text.chunks(4) {
            let mut n = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                n |= sextet(c)? << (18 - 6 * i);
            }
            let bytes = n.to_be_bytes();
            // k characters carry k - 1 whole bytes; the rest must be zero.
            let whole = chunk.len() - 1;
            if n & (0xFF_FFFF >> (8 * whole)) != 0 {
                return None;
            }
            out.extend_from_slice(bytes.get(1..=whole)?);
        }
        Some(out)
    }
}

/// CloudWatch's standard units (MetricDatum `Unit`): what a metric filter's
/// `unit` and an EMF metric's `Unit` may name.
pub const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_rfc4648_vectors() {
        // RFC 4648 §10 test vectors, without padding.
        let vectors = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(base64url::encode(plain.as_bytes()), encoded);
            assert_eq!(
                base64url::decode(encoded).as_deref(),
                Some(plain.as_bytes())
            );
        }
        // The URL-safe alphabet: 0xFB 0xFF is "+/8" in standard base64.
        assert_eq!(base64url::encode(&[0xFB, 0xFF]), "-_8");
        assert_eq!(base64url::decode("-_8"), Some(vec![0xFB, 0xFF]));
    }

    #[test]
    fn base64url_refuses_what_no_encoder_writes() {
        for bad in [
            "Zg==", "Z", "Zm9vY", "Zm9v+", "Zm9v/", "Zh", "Zm9", "a b", "é",
        ] {
            assert_eq!(base64url::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn pointer_round_trips() {
        let cases = [
            ("my-app", 1_796_625_600_000, 42),
            ("/aws/lambda/fn_1.v#2", -1, 0),
            ("g", i64::MIN, u64::MAX),
            ("g", i64::MAX, 1),
        ];
        for (group, ts, id) in cases {
            let p = record_pointer(group, ts, id);
            assert!(
                p.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
                "{p}"
            );
            assert_eq!(parse_record_pointer(&p), Some((group.to_string(), ts, id)));
        }
    }

    #[test]
    fn pointer_layout_is_the_documented_one() {
        // [1][ts = 1 as i64 BE][id = 2 as u64 BE]["g"], written out by hand.
        let mut payload = vec![1u8];
        payload.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        payload.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 2]);
        payload.push(b'g');
        assert_eq!(record_pointer("g", 1, 2), base64url::encode(&payload));
    }

    #[test]
    fn garbage_is_not_a_pointer() {
        let good = record_pointer("grp", 5, 6);
        let mut other_version = base64url::decode(&good).unwrap_or_default();
        other_version[0] = 2;
        let no_group = base64url::encode(&[1u8; POINTER_HEADER]);
        let mut bad_utf8 = vec![1u8; POINTER_HEADER];
        bad_utf8.extend_from_slice(&[0xFF, 0xFE]);
        let inputs = [
            String::new(),
            "not a pointer".into(),
            "%%%".into(),
            format!("{good}="),
            good[..20].to_string(),
            good[1..].to_string(),
            base64url::encode(&other_version),
            no_group,
            base64url::encode(&bad_utf8),
            base64url::encode(&[1, 2, 3]),
        ];
        for p in &inputs {
            assert_eq!(parse_record_pointer(p), None, "{p:?}");
        }
    }
}
