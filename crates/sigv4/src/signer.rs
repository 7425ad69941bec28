//! Key derivation, string to sign, and the client side: signing a request with headers or
//! presigning it in the query string.

use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use percent_encoding::utf8_percent_encode;
use sha2::{Digest, Sha256};

use crate::amz_date::format_amz_date;
use crate::canonical::{AuthLocation, PlusInQuery, QUERY_ENCODE_SET, canonical_request};
use crate::{ALGORITHM, CONTENT_SHA256_HEADER, Credentials, DATE_HEADER, Request, TERMINATOR};

/// Lower-case hex SHA-256 of `data` (the payload hash of a canonical request).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length (long keys are hashed), so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .expect("HMAC-SHA256 accepts keys of any length");
    mac.update(message);
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// `<yyyymmdd>/<region>/<service>/aws4_request`.
pub fn credential_scope(date: &str, region: &str, service: &str) -> String {
    format!("{date}/{region}/{service}/{TERMINATOR}")
}

/// The signing key: HMAC chain `"AWS4"+secret` → date → region → service → `aws4_request`.
pub fn signing_key(secret_access_key: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(
        format!("AWS4{secret_access_key}").as_bytes(),
        date.as_bytes(),
    );
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, TERMINATOR.as_bytes())
}

/// `AWS4-HMAC-SHA256\n<amz date>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// Hex HMAC-SHA256 of the string to sign under the signing key.
pub fn signature(signing_key: &[u8; 32], string_to_sign: &str) -> String {
    hex::encode(hmac_sha256(signing_key, string_to_sign.as_bytes()))
}

/// Payload hash of a request: the `x-amz-content-sha256` header when the client sent one
/// (it may be `UNSIGNED-PAYLOAD`), else the hex SHA-256 of the body.
pub(crate) fn payload_hash(headers: &[(&str, &str)], body: &[u8]) -> String {
    match headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(CONTENT_SHA256_HEADER))
    {
        Some((_, value)) => value.trim().to_owned(),
        None => sha256_hex(body),
    }
}

/// Every intermediate of a header signature, for debugging and the test suite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureDetails {
    /// Headers to add to the request: `x-amz-date` and `authorization`.
    pub headers: Vec<(String, String)>,
    /// The canonical request that was hashed.
    pub canonical_request: String,
    /// The string that was signed.
    pub string_to_sign: String,
    /// The hex signature.
    pub signature: String,
}

/// Signs `req` and returns the headers to add (`x-amz-date`, `authorization`).
///
/// Every header in `req.headers` is signed (names lower-cased and sorted, duplicates joined);
/// it must include `host`, or no server will accept the signature. An `x-amz-date` or
/// `authorization` header already in `req.headers` is ignored and replaced. The payload hash is
/// the SHA-256 of `req.body` (not sent as a header), unless `req.headers` carries
/// `x-amz-content-sha256`, whose value is then used, as botocore does.
pub fn sign(
    req: &Request<'_>,
    creds: &Credentials<'_>,
    region: &str,
    service: &str,
    time: Timestamp,
) -> Vec<(String, String)> {
    sign_with_details(req, creds, region, service, time).headers
}

/// [`sign`], also returning the canonical request and string to sign.
pub fn sign_with_details(
    req: &Request<'_>,
    creds: &Credentials<'_>,
    region: &str,
    service: &str,
    time: Timestamp,
) -> SignatureDetails {
    let amz_date = format_amz_date(time);
    let date = &amz_date[..8];
    let mut headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .filter(|(name, _)| {
            !name.eq_ignore_ascii_case(DATE_HEADER) && !name.eq_ignore_ascii_case("authorization")
        })
        .copied()
        .collect();
    headers.push((DATE_HEADER, &amz_date));
    let mut signed_headers: Vec<String> = headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed_headers.sort_unstable();
    signed_headers.dedup();

    let to_sign = Request {
        headers: &headers,
        ..*req
    };
    let payload = payload_hash(&headers, req.body);
    let canonical = canonical_request(
        &to_sign,
        &signed_headers,
        &payload,
        AuthLocation::Header,
        PlusInQuery::Literal,
    );
    let scope = credential_scope(date, region, service);
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let sig = signature(
        &signing_key(creds.secret_access_key, date, region, service),
        &sts,
    );
    let authorization = format!(
        "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
        creds.access_key_id,
        signed_headers.join(";"),
    );
    SignatureDetails {
        headers: vec![
            (DATE_HEADER.to_owned(), amz_date.clone()),
            ("authorization".to_owned(), authorization),
        ],
        canonical_request: canonical,
        string_to_sign: sts,
        signature: sig,
    }
}

/// Presigns `req`: returns the complete query string to send instead of `req.query` (the
/// original parameters followed by `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
/// `X-Amz-Expires`, `X-Amz-SignedHeaders` and `X-Amz-Signature`). Every header in
/// `req.headers` is signed, as in [`sign`]; the payload hash is that of `req.body`.
pub fn presign(
    req: &Request<'_>,
    creds: &Credentials<'_>,
    region: &str,
    service: &str,
    time: Timestamp,
    expires: Duration,
) -> String {
    let amz_date = format_amz_date(time);
    let date = &amz_date[..8];
    let scope = credential_scope(date, region, service);
    let mut signed_headers: Vec<String> = req
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed_headers.sort_unstable();
    signed_headers.dedup();
    let encode = |s: &str| utf8_percent_encode(s, QUERY_ENCODE_SET).to_string();

    let mut query = req.query.to_owned();
    for (name, value) in [
        ("X-Amz-Algorithm", ALGORITHM.to_owned()),
        (
            "X-Amz-Credential",
            format!("{}/{scope}", creds.access_key_id),
        ),
        ("X-Amz-Date", amz_date.clone()),
        ("X-Amz-Expires", expires.as_secs().to_string()),
        ("X-Amz-SignedHeaders", signed_headers.join(";")),
    ] {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(name);
        query.push('=');
        query.push_str(&encode(&value));
    }
    let to_sign = Request {
        query: &query,
        ..*req
    };
    let canonical = canonical_request(
        &to_sign,
        &signed_headers,
        &payload_hash(req.headers, req.body),
        AuthLocation::Query,
        PlusInQuery::Literal,
    );
    let sts = string_to_sign(&amz_date, &scope, &canonical);
    let sig = signature(
        &signing_key(creds.secret_access_key, date, region, service),
        &sts,
    );
    query.push_str("&X-Amz-Signature=");
    query.push_str(&sig);
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_key_matches_aws_documentation_example() {
        // From the AWS General Reference "Examples of how to derive a signing key for SigV4".
        let key = signing_key(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "20120215",
            "us-east-1",
            "iam",
        );
        assert_eq!(
            hex::encode(key),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
        );
    }

    #[test]
    fn empty_body_hash() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
