//! GetMetricData `NextToken`: where the next page starts, bound to the request
//! that produced it.
//!
//! A token is `gmd1.<cursor hex>.<request hash hex>`. The cursor counts
//! datapoints over the concatenation of every returned result (request order,
//! each in ScanBy order). The hash covers everything that shapes that sequence
//! (queries, times, ScanBy) but not `MaxDatapoints`, so a client may change the
//! page size between pages. A token from another request, or a mangled one, is
//! `InvalidNextToken`.

use super::{QueryKind, ScanBy, ValidGetMetricData};
use crate::error::{ApiError, ApiResult, ErrorCode};

const PREFIX: &str = "gmd1.";

pub(super) fn encode(cursor: u64, request_hash: u64) -> String {
    format!("{PREFIX}{cursor:x}.{request_hash:016x}")
}

/// The cursor stored in `token`, if it belongs to the request hashed `request_hash`.
pub(super) fn decode(token: &str, request_hash: u64) -> ApiResult<u64> {
    let bad = || {
        ApiError::new(
            ErrorCode::InvalidNextToken,
            "The NextToken is invalid or was issued for a different request.",
        )
    };
    let rest = token.strip_prefix(PREFIX).ok_or_else(bad)?;
    let (cursor, hash) = rest.split_once('.').ok_or_else(bad)?;
    let cursor = u64::from_str_radix(cursor, 16).map_err(|_| bad())?;
    let hash = u64::from_str_radix(hash, 16).map_err(|_| bad())?;
    if hash != request_hash {
        return Err(bad());
    }
    Ok(cursor)
}

/// FNV-1a, 64 bit: stable across builds and Rust versions (unlike
/// `DefaultHasher`), so tokens survive a server restart or upgrade.
struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    /// Length-prefixed so that ("ab","c") and ("a","bc") differ.
    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }
    fn opt(&mut self, s: Option<&str>) {
        match s {
            None => self.bytes(&[0]),
            Some(s) => {
                self.bytes(&[1]);
                self.str(s);
            }
        }
    }
}

pub(super) fn request_hash(v: &ValidGetMetricData) -> u64 {
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    h.i64(v.start.millis());
    h.i64(v.end.millis());
    h.bytes(&[match v.scan_by {
        ScanBy::TimestampDescending => 0,
        ScanBy::TimestampAscending => 1,
    }]);
    h.opt(v.label_timezone.as_deref());
    h.u64(v.queries.len() as u64);
    for q in &v.queries {
        h.str(&q.id);
        h.opt(q.label.as_deref());
        h.bytes(&[u8::from(q.return_data)]);
        match &q.kind {
            QueryKind::Stat(s) => {
                h.bytes(b"S");
                h.str(&s.metric.namespace);
                h.str(&s.metric.metric_name);
                h.u64(s.metric.dimensions.len() as u64);
                for d in &s.metric.dimensions {
                    h.str(&d.name);
                    h.str(&d.value);
                }
                h.i64(s.period_secs);
                h.str(s.stat.as_str());
                h.bytes(&[s.unit.map_or(u8::MAX, |u| u.code())]);
            }
            QueryKind::Insights(q) => {
                h.bytes(b"I");
                h.str(&q.source);
                h.i64(q.period_secs);
            }
            QueryKind::Expression(e) => {
                h.bytes(b"E");
                h.str(e.expr.source());
                h.i64(e.period_secs);
            }
        }
    }
    h.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let t = encode(12345, 0xdead_beef);
        assert_eq!(decode(&t, 0xdead_beef), Ok(12345));
        for bad in [
            "",
            "gmd1.",
            "gmd1.zz.00",
            "gmd1.10",
            "gmd2.10.deadbeef",
            "gmd1.10.deadbeef.1",
            "gmd1.-1.deadbeef",
        ] {
            let e = decode(bad, 0xdead_beef).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidNextToken, "{bad}");
        }
        assert_eq!(
            decode(&t, 0xdead_beee).unwrap_err().code,
            ErrorCode::InvalidNextToken
        );
    }

    #[test]
    fn fnv_is_the_reference_function() {
        // Published FNV-1a 64 test vectors.
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.bytes(b"a");
        assert_eq!(h.0, 0xaf63_dc4c_8601_ec8c);
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.bytes(b"foobar");
        assert_eq!(h.0, 0x8594_4171_f739_67e8);
    }
}
