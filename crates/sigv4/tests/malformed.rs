//! Garbage in: parsing and verifying must return errors, never panic (the parser is also
//! fuzzed elsewhere; these are the fixed and property-based checks).

use std::time::Duration;

use jiff::Timestamp;
use proptest::prelude::*;
use stratus_sigv4::{
    Authorization, Credentials, DEFAULT_MAX_SKEW, ParseError, Request, extract,
    parse_authorization, parse_presigned, sign, verify,
};

const GARBAGE_AUTHORIZATION: &[&str] = &[
    "",
    " ",
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 ",
    "AWS4-HMAC-SHA256 ,,,",
    "AWS4-HMAC-SHA256 =",
    "AWS4-HMAC-SHA256 Credential",
    "AWS4-HMAC-SHA256 Credential=",
    "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
    "AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=////, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=//////////, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request/, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=;;;, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/2026112/r/s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/202611250/r/s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/２０２６１１２５/r/s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/20261125//s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/AWS4_REQUEST, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request SignedHeaders=host Signature",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=host",
    "AWS4-HMAC-SHA256 Signature=00",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=host, Signature=",
    "aws4-hmac-sha256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA256Credential=A/20261125/r/s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-HMAC-SHA1 Credential=A/20261125/r/s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS4-ECDSA-P256-SHA256 Credential=A/20261125/s/aws4_request, SignedHeaders=host, Signature=00",
    "AWS AKIDEXAMPLE:qaNdqGsI6bq4Hi+9Gzovwyjbh0E=",
    "Basic dXNlcjpwYXNz",
    "Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo",
    "\u{0}\u{0}\u{0}",
    "AWS4-HMAC-SHA256 \u{0}=\u{0}",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request,\tSignedHeaders=host,\nSignature",
    "AWS4-HMAC-SHA256 Credential=é/20261125/ü/ß/aws4_request, SignedHeaders=ሴ, Signature",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, SignedHeaders=host, Signature=00, Extra",
    "AWS4-HMAC-SHA256 ==, ==, ==",
    "AWS4-HMAC-SHA256 Credential==/=/=/=/=, SignedHeaders==, Signature==",
    "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, Credential=B/x, SignedHeaders=host, Signature=00",
    "🙂",
    "AWS4-HMAC-SHA256 🙂=🙂",
];

#[test]
fn garbage_authorization_values_are_errors() {
    for value in GARBAGE_AUTHORIZATION {
        let result = parse_authorization(value);
        assert!(result.is_err(), "{value:?} parsed as {result:?}");
        let err = result.expect_err("checked above");
        assert_eq!(err.aws_code(), "IncompleteSignature");
        assert!(!err.to_string().is_empty());
    }
}

#[test]
fn garbage_presigned_queries_are_errors() {
    for query in [
        "X-Amz-Signature",
        "X-Amz-Signature=",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Algorithm=HMAC&X-Amz-Credential=a&X-Amz-Date=b&X-Amz-SignedHeaders=c&X-Amz-Signature=d",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a&X-Amz-Date=b&X-Amz-SignedHeaders=c&X-Amz-Signature=d",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=A%2F20261125%2Fr%2Fs%2Faws4_request&X-Amz-Date=b&X-Amz-SignedHeaders=host",
        "X-Amz-Credential=%FF%FE&X-Amz-Algorithm=AWS4-HMAC-SHA256",
        "X-Amz-Credential=%",
    ] {
        assert!(parse_presigned(query).is_err(), "{query:?}");
    }
    assert!(matches!(
        parse_presigned("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a"),
        Err(ParseError::MissingQueryParameter {
            parameter: "X-Amz-Date"
        })
    ));
}

fn now() -> Timestamp {
    "2026-11-25T12:00:00Z".parse().expect("timestamp literal")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn parse_authorization_never_panics(value in ".*") {
        let _ = parse_authorization(&value);
    }

    #[test]
    fn parse_authorization_never_panics_on_near_misses(
        credential in "[A-Za-z0-9/_]{0,40}",
        headers in "[a-z;-]{0,30}",
        signature in "[0-9a-f]{0,64}",
        separator in "[, \t]{0,3}",
    ) {
        let value = format!("AWS4-HMAC-SHA256 Credential={credential}{separator}SignedHeaders={headers}{separator}Signature={signature}");
        if let Ok(auth) = parse_authorization(&value) {
            prop_assert_eq!(auth.signature, signature);
        }
    }

    #[test]
    fn parse_presigned_never_panics(query in ".*") {
        let _ = parse_presigned(&query);
    }

    #[test]
    fn verify_never_panics_on_arbitrary_requests(
        method in ".{0,8}",
        path in ".{0,40}",
        query in "([A-Za-z%+=&.~-]|X-Amz-[A-Za-z]+=){0,20}",
        date in ".{0,20}",
        names in proptest::collection::vec("[A-Za-z-]{0,12}", 0..6),
        body in proptest::collection::vec(any::<u8>(), 0..64),
        skew_secs in any::<u64>(),
        now_secs in -10_000_000_000i64..10_000_000_000i64,
    ) {
        let headers: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), date.as_str())).chain([("x-amz-date", date.as_str())]).collect();
        let req = Request { method: &method, path: &path, query: &query, headers: &headers, body: &body };
        let auth = Authorization {
            access_key_id: "A".into(),
            date: date.chars().take(8).collect(),
            region: "r".into(),
            service: "s".into(),
            signed_headers: names.clone(),
            signature: "00".into(),
        };
        let now = Timestamp::from_second(now_secs).unwrap_or_else(|_| now());
        let _ = extract(&req);
        let _ = verify(&req, &auth, "secret", now, Duration::from_secs(skew_secs));
    }

    #[test]
    fn sign_then_verify_round_trips(
        method in "(GET|POST|PUT|DELETE)",
        segments in proptest::collection::vec("[A-Za-z0-9._~%@:!$'()*+,;= -]{0,12}", 0..4),
        query in proptest::collection::vec(("[A-Za-z0-9._~%+ -]{0,8}", proptest::option::of("[A-Za-z0-9._~%+/ -]{0,8}")), 0..5),
        extra in proptest::collection::vec(("x-[a-z]{1,8}", "[ -~]{0,20}"), 0..4),
        body in proptest::collection::vec(any::<u8>(), 0..256),
        offset in -900i64..=900,
    ) {
        let path = format!("/{}", segments.join("/"));
        let query = query
            .iter()
            .map(|(k, v)| match v { Some(v) => format!("{k}={v}"), None => k.clone() })
            .collect::<Vec<_>>()
            .join("&");
        let mut base: Vec<(&str, &str)> = vec![("Host", "localhost:4566")];
        base.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let req = Request { method: &method, path: &path, query: &query, headers: &base, body: &body };
        let creds = Credentials { access_key_id: "AKID", secret_access_key: "secret" };
        let added = sign(&req, &creds, "us-east-1", "monitoring", now());
        let mut headers = base.clone();
        headers.extend(added.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let signed = Request { headers: &headers, ..req };
        let auth = extract(&signed).expect("our own header parses").expect("signed");
        let at = now().checked_add(jiff::SignedDuration::from_secs(offset)).expect("in range");
        prop_assert_eq!(verify(&signed, &auth, "secret", at, DEFAULT_MAX_SKEW), Ok(()));
        prop_assert!(verify(&signed, &auth, "secreT", at, DEFAULT_MAX_SKEW).is_err());
    }
}
