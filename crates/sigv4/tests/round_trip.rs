//! sign → verify round trips, and every way a request can fail verification.

use std::time::Duration;

use jiff::Timestamp;
use stratus_sigv4::{
    AuthLocation, Authorization, Credentials, DEFAULT_MAX_SKEW, PlusInQuery, Request,
    UNSIGNED_PAYLOAD, VerifyError, canonical_request, credential_scope, extract, presign,
    sha256_hex, sign, signature, signing_key, string_to_sign, verify,
};

const CREDS: Credentials<'static> = Credentials {
    access_key_id: "AKIDTEST",
    secret_access_key: "s3cr3t/KEY+x",
};
const BODY: &[u8] = br#"{"Namespace":"App","MetricData":[{"MetricName":"m","Value":1}]}"#;

fn t(s: &str) -> Timestamp {
    s.parse().expect("timestamp literal")
}

/// A signed request: owned headers (request headers + the two added by `sign`).
struct Signed {
    headers: Vec<(String, String)>,
}

impl Signed {
    fn new(base: &[(&str, &str)], query: &str, body: &[u8], time: Timestamp) -> Signed {
        let req = Request {
            method: "POST",
            path: "/",
            query,
            headers: base,
            body,
        };
        let mut headers: Vec<(String, String)> = base
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        headers.extend(sign(&req, &CREDS, "us-east-1", "monitoring", time));
        Signed { headers }
    }

    fn refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }
}

const BASE: &[(&str, &str)] = &[
    ("Host", "localhost:4566"),
    ("Content-Type", "application/x-amz-json-1.0"),
    (
        "X-Amz-Target",
        "GraniteServiceVersion20100801.PutMetricData",
    ),
];

fn check(
    headers: &[(&str, &str)],
    query: &str,
    body: &[u8],
    now: Timestamp,
) -> Result<(), VerifyError> {
    let req = Request {
        method: "POST",
        path: "/",
        query,
        headers,
        body,
    };
    let auth = extract(&req).expect("parses").expect("signed");
    verify(&req, &auth, CREDS.secret_access_key, now, DEFAULT_MAX_SKEW)
}

#[test]
fn round_trip() {
    let now = t("2026-11-25T12:00:00Z");
    let signed = Signed::new(BASE, "", BODY, now);
    assert_eq!(check(&signed.refs(), "", BODY, now), Ok(()));
    let with_query = Signed::new(BASE, "b=2&a=x%20y&a=%2B&c&%E2%9C%93=%7E", BODY, now);
    assert_eq!(
        check(
            &with_query.refs(),
            "b=2&a=x%20y&a=%2B&c&%E2%9C%93=%7E",
            BODY,
            now
        ),
        Ok(())
    );
}

#[test]
fn tampering_is_detected() {
    let now = t("2026-11-25T12:00:00Z");
    let signed = Signed::new(BASE, "x=1", BODY, now);
    let mismatch =
        |r: Result<(), VerifyError>| matches!(r, Err(VerifyError::SignatureMismatch { .. }));

    let mut body = BODY.to_vec();
    body[5] ^= 0x20;
    assert!(mismatch(check(&signed.refs(), "x=1", &body, now)), "body");
    assert!(mismatch(check(&signed.refs(), "x=2", BODY, now)), "query");
    assert!(
        mismatch(check(&signed.refs(), "x=1&y=", BODY, now)),
        "added query parameter"
    );

    let mut headers = signed.refs();
    headers[2].1 = "GraniteServiceVersion20100801.DeleteAlarms";
    assert!(
        mismatch(check(&headers, "x=1", BODY, now)),
        "signed header value"
    );

    let mut headers = signed.refs();
    headers.push(("x-amz-target", "again"));
    assert!(
        mismatch(check(&headers, "x=1", BODY, now)),
        "duplicated signed header"
    );

    let mut headers = signed.refs();
    headers.push(("User-Agent", "not signed, may change"));
    assert_eq!(check(&headers, "x=1", BODY, now), Ok(()), "unsigned header");

    let headers = signed.refs();
    let req = Request {
        method: "PUT",
        path: "/",
        query: "x=1",
        headers: &headers,
        body: BODY,
    };
    let auth = extract(&req).expect("parses").expect("signed");
    assert!(
        mismatch(verify(
            &req,
            &auth,
            CREDS.secret_access_key,
            now,
            DEFAULT_MAX_SKEW
        )),
        "method"
    );
    let req = Request {
        method: "POST",
        path: "/other",
        ..req
    };
    assert!(
        mismatch(verify(
            &req,
            &auth,
            CREDS.secret_access_key,
            now,
            DEFAULT_MAX_SKEW
        )),
        "path"
    );
    let req = Request { path: "/", ..req };
    assert_eq!(
        verify(&req, &auth, CREDS.secret_access_key, now, DEFAULT_MAX_SKEW),
        Ok(())
    );
    assert!(
        mismatch(verify(&req, &auth, "s3cr3t/KEY+y", now, DEFAULT_MAX_SKEW)),
        "wrong secret"
    );

    let other_region = Authorization {
        region: "eu-west-1".into(),
        ..auth.clone()
    };
    assert!(
        mismatch(verify(
            &req,
            &other_region,
            CREDS.secret_access_key,
            now,
            DEFAULT_MAX_SKEW
        )),
        "region"
    );
    let other_key = Authorization {
        access_key_id: "AKIDOTHER".into(),
        ..auth.clone()
    };
    // The key id is not part of the signature: the caller looks up the secret by it.
    assert_eq!(
        verify(
            &req,
            &other_key,
            CREDS.secret_access_key,
            now,
            DEFAULT_MAX_SKEW
        ),
        Ok(())
    );
}

#[test]
fn signature_mismatch_message_and_code() {
    let now = t("2026-11-25T12:00:00Z");
    let signed = Signed::new(BASE, "", BODY, now);
    let err = check(&signed.refs(), "", b"{}", now).expect_err("body changed");
    assert_eq!(
        err.to_string(),
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
         Access Key and signing method. Consult the service documentation for details."
    );
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
    let VerifyError::SignatureMismatch {
        canonical_request,
        string_to_sign,
    } = err
    else {
        panic!("expected SignatureMismatch");
    };
    assert!(canonical_request.ends_with(&sha256_hex(b"{}")));
    assert!(
        string_to_sign
            .starts_with("AWS4-HMAC-SHA256\n20261125T120000Z\n20261125/us-east-1/monitoring/")
    );
}

#[test]
fn wrong_scope_date() {
    let now = t("2026-11-25T12:00:00Z");
    let signed = Signed::new(BASE, "", BODY, now);
    let headers = signed.refs();
    let req = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: BODY,
    };
    let auth = extract(&req).expect("parses").expect("signed");
    let yesterday = Authorization {
        date: "20261124".into(),
        ..auth
    };
    let err = verify(
        &req,
        &yesterday,
        CREDS.secret_access_key,
        now,
        DEFAULT_MAX_SKEW,
    )
    .expect_err("scope date");
    assert_eq!(
        err.to_string(),
        "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261124' != \
         '20261125', from '20261125T120000Z'."
    );
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
}

#[test]
fn clock_skew_both_directions() {
    let signed_time = t("2026-11-25T12:00:00Z");
    let signed = Signed::new(BASE, "", BODY, signed_time);
    let headers = signed.refs();
    assert_eq!(
        check(&headers, "", BODY, t("2026-11-25T12:15:00Z")),
        Ok(()),
        "exactly 15 min late"
    );
    assert_eq!(
        check(&headers, "", BODY, t("2026-11-25T11:45:00Z")),
        Ok(()),
        "exactly 15 min early"
    );

    let err = check(&headers, "", BODY, t("2026-11-25T12:30:00Z")).expect_err("30 min late");
    assert_eq!(
        err.to_string(),
        "Signature expired: 20261125T120000Z is now earlier than 20261125T121500Z (20261125T123000Z - 15 min.)"
    );
    assert_eq!(err.aws_code(), "SignatureDoesNotMatch");
    assert!(matches!(
        check(&headers, "", BODY, t("2026-11-25T12:15:01Z")),
        Err(VerifyError::Expired { .. })
    ));

    let future = Signed::new(BASE, "", BODY, t("2026-11-25T12:46:00Z"));
    let err = check(&future.refs(), "", BODY, t("2026-11-25T12:30:00Z")).expect_err("16 min early");
    assert_eq!(
        err.to_string(),
        "Signature not yet current: 20261125T124600Z is still later than 20261125T124500Z (20261125T123000Z + 15 min.)"
    );

    // A custom window is reported in seconds when it is not whole minutes.
    let req = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: BODY,
    };
    let auth = extract(&req).expect("parses").expect("signed");
    let err = verify(
        &req,
        &auth,
        CREDS.secret_access_key,
        t("2026-11-25T12:01:31Z"),
        Duration::from_secs(90),
    )
    .expect_err("91 s late");
    assert!(
        err.to_string().ends_with("(20261125T120131Z - 90 sec.)"),
        "{err}"
    );
}

#[test]
fn required_headers() {
    let now = t("2026-11-25T12:00:00Z");
    let signed = Signed::new(BASE, "", BODY, now);

    // A signed header removed from the request.
    let headers: Vec<(&str, &str)> = signed
        .refs()
        .into_iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("content-type"))
        .collect();
    assert_eq!(
        check(&headers, "", BODY, now),
        Err(VerifyError::MissingSignedHeader {
            name: "content-type".into()
        })
    );

    // No date at all.
    let headers: Vec<(&str, &str)> = signed
        .refs()
        .into_iter()
        .filter(|(n, _)| *n != "x-amz-date")
        .collect();
    let err = check(&headers, "", BODY, now).expect_err("no date");
    assert_eq!(err, VerifyError::MissingDate);
    assert_eq!(err.aws_code(), "IncompleteSignature");

    // A malformed date.
    let mut headers = signed.refs();
    for h in &mut headers {
        if h.0 == "x-amz-date" {
            h.1 = "2026-11-25T12:00:00Z";
        }
    }
    assert_eq!(
        check(&headers, "", BODY, now),
        Err(VerifyError::InvalidDate {
            value: "2026-11-25T12:00:00Z".into()
        })
    );

    // Signed without host.
    let no_host = Signed::new(&BASE[1..], "", BODY, now);
    let mut headers = no_host.refs();
    headers.push(("host", "localhost:4566"));
    assert_eq!(
        check(&headers, "", BODY, now),
        Err(VerifyError::HostNotSigned)
    );

    // x-amz-date present as a header but not signed.
    let headers = signed.refs();
    let req = Request {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: BODY,
    };
    let mut auth = extract(&req).expect("parses").expect("signed");
    auth.signed_headers.retain(|h| h != "x-amz-date");
    let err = verify(&req, &auth, CREDS.secret_access_key, now, DEFAULT_MAX_SKEW)
        .expect_err("date unsigned");
    assert_eq!(
        err,
        VerifyError::DateNotSigned {
            header: "X-Amz-Date"
        }
    );
    assert_eq!(
        err.to_string(),
        "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
    );
}

/// Signs by hand, like a client using the `Date` header instead of `X-Amz-Date` (botocore does
/// this when the request already has `Date`).
fn sign_with_http_date(headers: &[(&str, &str)], signed: &[&str]) -> String {
    let req = Request {
        method: "GET",
        path: "/",
        query: "Action=ListTopics",
        headers,
        body: b"",
    };
    let canonical = canonical_request(
        &req,
        signed,
        &sha256_hex(b""),
        AuthLocation::Header,
        PlusInQuery::Literal,
    );
    let scope = credential_scope("20261125", "us-east-1", "sns");
    let sts = string_to_sign("20261125T120000Z", &scope, &canonical);
    let sig = signature(
        &signing_key(CREDS.secret_access_key, "20261125", "us-east-1", "sns"),
        &sts,
    );
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/{scope}, SignedHeaders={}, Signature={sig}",
        signed.join(";")
    )
}

#[test]
fn date_header_fallback() {
    let base = [
        ("Host", "sns.local"),
        ("Date", "Wed, 25 Nov 2026 12:00:00 GMT"),
    ];
    let now = t("2026-11-25T12:05:00Z");
    let authz = sign_with_http_date(&base, &["date", "host"]);
    let headers = [base[0], base[1], ("Authorization", authz.as_str())];
    let req = Request {
        method: "GET",
        path: "/",
        query: "Action=ListTopics",
        headers: &headers,
        body: b"",
    };
    let auth = extract(&req).expect("parses").expect("signed");
    assert_eq!(
        verify(&req, &auth, CREDS.secret_access_key, now, DEFAULT_MAX_SKEW),
        Ok(())
    );

    let authz = sign_with_http_date(&base, &["host"]);
    let headers = [base[0], base[1], ("Authorization", authz.as_str())];
    let req = Request {
        headers: &headers,
        ..req
    };
    let auth = extract(&req).expect("parses").expect("signed");
    assert_eq!(
        verify(&req, &auth, CREDS.secret_access_key, now, DEFAULT_MAX_SKEW),
        Err(VerifyError::DateNotSigned { header: "Date" })
    );
}

#[test]
fn content_sha256_header_must_be_the_body_hash() {
    let now = t("2026-11-25T12:00:00Z");
    // A declared hash that is the body's: accepted, signed or not.
    let hash = sha256_hex(BODY);
    let mut base = BASE.to_vec();
    base.push(("x-amz-content-sha256", hash.as_str()));
    let signed = Signed::new(&base, "", BODY, now);
    assert_eq!(check(&signed.refs(), "", BODY, now), Ok(()));
    let plain = Signed::new(BASE, "", BODY, now);
    let mut headers = plain.refs();
    headers.push(("x-amz-content-sha256", hash.as_str()));
    assert_eq!(
        check(&headers, "", BODY, now),
        Ok(()),
        "unsigned, right hash"
    );

    // The same signed request carrying another body: the body is hashed, not trusted.
    let forged = br#"{"Namespace":"App","MetricData":[{"MetricName":"m","Value":9}]}"#;
    assert_eq!(forged.len(), BODY.len());
    match check(&signed.refs(), "", forged, now) {
        Err(e @ VerifyError::PayloadHashMismatch { .. }) => {
            assert_eq!(e.aws_code(), "SignatureDoesNotMatch");
            assert!(e.to_string().contains("x-amz-content-sha256"), "{e}");
        }
        other => panic!("forged body: {other:?}"),
    }

    // Header and body both swapped: the header's signed value no longer matches.
    let mut headers = signed.refs();
    let other = sha256_hex(b"other");
    headers[3].1 = &other;
    assert!(matches!(
        check(&headers, "", b"other", now),
        Err(VerifyError::SignatureMismatch { .. })
    ));

    // An unsigned header that lies about the body is refused too.
    let mut headers = plain.refs();
    headers.push(("x-amz-content-sha256", other.as_str()));
    assert!(matches!(
        check(&headers, "", BODY, now),
        Err(VerifyError::PayloadHashMismatch { .. })
    ));
}

#[test]
fn unsigned_and_streaming_payloads_are_refused() {
    let now = t("2026-11-25T12:00:00Z");
    for value in [
        UNSIGNED_PAYLOAD,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    ] {
        let mut base = BASE.to_vec();
        base.push(("X-Amz-Content-Sha256", value));
        let signed = Signed::new(&base, "", BODY, now);
        // Refused with the body it was made for and with any other: the signature covers
        // neither.
        for body in [BODY, b"anything else".as_slice()] {
            match check(&signed.refs(), "", body, now) {
                Err(e @ VerifyError::UnsignedPayload { .. }) => {
                    assert_eq!(e.aws_code(), "IncompleteSignature");
                    assert!(e.to_string().contains(value), "{e}");
                }
                other => panic!("{value}: {other:?}"),
            }
        }
        // Present but unsigned: refused as well.
        let plain = Signed::new(BASE, "", BODY, now);
        let mut headers = plain.refs();
        headers.push(("x-amz-content-sha256", value));
        assert!(
            matches!(
                check(&headers, "", BODY, now),
                Err(VerifyError::UnsignedPayload { .. })
            ),
            "{value} unsigned"
        );
    }
}

#[test]
fn plus_in_query_is_accepted_under_either_reading() {
    let now = t("2026-11-25T12:00:00Z");
    let query = "q=a+b";
    let signed = Signed::new(BASE, query, BODY, now);
    assert_eq!(check(&signed.refs(), query, BODY, now), Ok(()));

    // A client that reads '+' as a space (aws-sigv4, form decoding) signs "q=a%20b".
    let req = Request {
        method: "POST",
        path: "/",
        query,
        headers: BASE,
        body: BODY,
    };
    let mut headers = BASE.to_vec();
    headers.push(("x-amz-date", "20261125T120000Z"));
    let signed_names = ["content-type", "host", "x-amz-date", "x-amz-target"];
    let canonical = canonical_request(
        &Request {
            headers: &headers,
            ..req
        },
        &signed_names,
        &sha256_hex(BODY),
        AuthLocation::Header,
        PlusInQuery::Space,
    );
    assert!(canonical.contains("\nq=a%20b\n"));
    let scope = credential_scope("20261125", "us-east-1", "monitoring");
    let sts = string_to_sign("20261125T120000Z", &scope, &canonical);
    let sig = signature(
        &signing_key(
            CREDS.secret_access_key,
            "20261125",
            "us-east-1",
            "monitoring",
        ),
        &sts,
    );
    let authz = format!(
        "AWS4-HMAC-SHA256 Credential=AKIDTEST/{scope}, SignedHeaders={}, Signature={sig}",
        signed_names.join(";")
    );
    headers.push(("authorization", &authz));
    assert_eq!(check(&headers, query, BODY, now), Ok(()));
}

#[test]
fn presigned_round_trip() {
    let time = t("2026-11-25T12:00:00Z");
    let headers = [("host", "localhost:4566")];
    let req = Request {
        method: "GET",
        path: "/",
        query: "Action=ListMetrics&Version=2010-08-01",
        headers: &headers,
        body: b"",
    };
    let query = presign(
        &req,
        &CREDS,
        "us-east-1",
        "monitoring",
        time,
        Duration::from_secs(300),
    );
    assert!(
        query
            .starts_with("Action=ListMetrics&Version=2010-08-01&X-Amz-Algorithm=AWS4-HMAC-SHA256&")
    );
    assert!(
        query.contains(
            "X-Amz-Credential=AKIDTEST%2F20261125%2Fus-east-1%2Fmonitoring%2Faws4_request"
        )
    );
    let signed = Request {
        query: &query,
        ..req
    };
    let auth = extract(&signed).expect("parses").expect("presigned");
    let at = |s: &str| {
        verify(
            &signed,
            &auth,
            CREDS.secret_access_key,
            t(s),
            DEFAULT_MAX_SKEW,
        )
    };
    assert_eq!(at("2026-11-25T12:05:00Z"), Ok(()), "within X-Amz-Expires");
    assert!(
        matches!(at("2026-11-25T12:05:01Z"), Err(VerifyError::Expired { .. })),
        "past X-Amz-Expires"
    );
    assert!(
        matches!(
            at("2026-11-25T11:44:59Z"),
            Err(VerifyError::NotYetCurrent { .. })
        ),
        "from the future"
    );

    let tampered = query.replace("ListMetrics", "DeleteAlarms");
    let tampered_req = Request {
        query: &tampered,
        ..req
    };
    assert!(matches!(
        verify(
            &tampered_req,
            &auth,
            CREDS.secret_access_key,
            time,
            DEFAULT_MAX_SKEW
        ),
        Err(VerifyError::SignatureMismatch { .. })
    ));
    let bad_expires = query.replace("X-Amz-Expires=300", "X-Amz-Expires=604801");
    let bad_req = Request {
        query: &bad_expires,
        ..req
    };
    assert!(matches!(
        verify(
            &bad_req,
            &auth,
            CREDS.secret_access_key,
            time,
            DEFAULT_MAX_SKEW
        ),
        Err(VerifyError::InvalidExpires { .. })
    ));
}

#[test]
fn service_scope() {
    let auth = stratus_sigv4::parse_authorization(
        "AWS4-HMAC-SHA256 Credential=A/20261125/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00",
    )
    .expect("parses");
    assert_eq!(auth.check_service("sns"), Ok(()));
    let err = auth.check_service("monitoring").expect_err("wrong service");
    assert_eq!(
        err.to_string(),
        "Credential should be scoped to correct service: 'monitoring'. "
    );
}
