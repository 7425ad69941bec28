//! Reads one node asks of another that keeps the partition: a range query
//! over one series, or the series of some partitions
//! ([`tsdb::wire::ReadRequest`], answered with aggregates or series keys in
//! `tsdb::wire`'s encodings). Carried over HTTP (`POST` [`PATH`] on the API
//! port), authenticated by an HMAC under a secret every node derives from
//! the shared `master.key`, so only cluster nodes can read through it.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
#[cfg(doc)]
use stratus_tsdb as tsdb;

/// The endpoint's path (outside the AWS APIs' paths).
pub const PATH: &str = "/_stratus/cluster/read";
/// The header carrying `<unix seconds>.<hex HMAC-SHA256(secret, seconds "\n" body)>`.
pub const AUTH_HEADER: &str = "x-stratus-cluster-auth";
/// How far a request's time may be from the server's (clock skew, queueing).
const MAX_SKEW_SECS: i64 = 300;
/// The secret peers sign their reads with, derived from the master key every
/// node holds (never the master key itself: a leak of one does not give the other).
pub fn derive_secret(master_key: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(master_key)
        .expect("HMAC takes keys of any length");
    mac.update(b"stratus cluster peer reads v1");
    mac.finalize().into_bytes().into()
}

fn mac_of(secret: &[u8; 32], secs: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(secs.to_string().as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac
}

/// The auth header's value for `body` at `now_secs`.
pub fn sign(secret: &[u8; 32], now_secs: i64, body: &[u8]) -> String {
    let tag = mac_of(secret, now_secs, body).finalize().into_bytes();
    format!("{now_secs}.{}", hex::encode(tag))
}

/// Checks an auth header (constant-time comparison of the tag).
pub fn verify(secret: &[u8; 32], now_secs: i64, header: &str, body: &[u8]) -> bool {
    let Some((secs, tag)) = header.split_once('.') else {
        return false;
    };
    let (Ok(secs), Ok(tag)) = (secs.parse::<i64>(), hex::decode(tag)) else {
        return false;
    };
    if (now_secs - secs).abs() > MAX_SKEW_SECS {
        return false;
    }
    mac_of(secret, secs, body).verify_slice(&tag).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_signature_by_the_shared_secret_within_the_skew_passes() {
        let secret = derive_secret(&[7u8; 32]);
        let other = derive_secret(&[8u8; 32]);
        let body = b"request";
        let h = sign(&secret, 1_000_000, body);
        assert!(verify(&secret, 1_000_000, &h, body));
        assert!(verify(&secret, 1_000_000 + MAX_SKEW_SECS, &h, body));
        assert!(
            !verify(&secret, 1_000_000 + MAX_SKEW_SECS + 1, &h, body),
            "too old"
        );
        assert!(
            !verify(&other, 1_000_000, &h, body),
            "another cluster's secret"
        );
        assert!(!verify(&secret, 1_000_000, &h, b"requesT"), "another body");
        assert!(!verify(&secret, 1_000_000, "1000000.zz", body));
        assert!(!verify(&secret, 1_000_000, "", body));
        let forged = h.replacen("1000000", "1000001", 1);
        assert!(
            !verify(&secret, 1_000_000, &forged, body),
            "the time is signed"
        );
    }
}
