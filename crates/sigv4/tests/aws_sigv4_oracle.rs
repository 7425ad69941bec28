//! Oracle: the AWS Rust SDK's own signer (`aws-sigv4`) signs random requests, and our verifier
//! must accept every one of them (and reject them under a wrong secret). Headers signed by
//! aws-sigv4 and by us must also agree exactly.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials as SdkCredentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sdk_sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use jiff::Timestamp;
use proptest::prelude::*;
use stratus_sigv4::{Credentials, DEFAULT_MAX_SKEW, Request, extract, sign, verify};

const AKID: &str = "AKIDORACLE";
const SECRET: &str = "oracle/secret+KEY==";

/// Signs with aws-sigv4 and returns the headers it adds.
fn sdk_signed_headers(
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    region: &str,
    service: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let identity: Identity = SdkCredentials::new(AKID, SECRET, None, None, "oracle").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("signing params")
        .into();
    let signable = SignableRequest::new(
        method,
        uri,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("signable request");
    let (instructions, _signature) = sdk_sign(signable, &params)
        .expect("aws-sigv4 signs")
        .into_parts();
    instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn segment() -> impl Strategy<Value = String> {
    // Path segments as an SDK would send them: unreserved characters, sub-delims allowed in a
    // path, and percent-encoded bytes (which our canonicalization must encode a second time).
    proptest::collection::vec(
        prop_oneof![
            "[A-Za-z0-9._~-]{1,6}",
            "[!$&'()*+,;=:@]",
            any::<u8>().prop_map(|b| format!("%{b:02X}")),
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

fn query_component() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            "[A-Za-z0-9._~-]{1,6}",
            // A bare '+' is read as a space by aws-sigv4; our verifier must accept that reading.
            Just("+".to_owned()),
            // Percent-encoded UTF-8. (Escapes that decode to invalid UTF-8 are where the
            // implementations part: aws-sigv4 substitutes U+FFFD, botocore and we keep the bytes.
            // No SDK produces them.)
            any::<char>().prop_map(|c| {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect::<String>()
            }),
        ],
        0..4,
    )
    .prop_map(|parts| parts.concat())
}

prop_compose! {
    fn request_parts()(
        method in "(GET|POST|PUT|DELETE|HEAD)",
        segments in proptest::collection::vec(segment(), 0..4),
        trailing_slash in any::<bool>(),
        query in proptest::collection::vec((query_component(), proptest::option::of(query_component())), 0..5),
        headers in proptest::collection::vec(("x-[a-z0-9-]{1,10}", "[ -~]{0,24}"), 0..5),
        body in proptest::collection::vec(any::<u8>(), 0..200),
        region in "(us-east-1|eu-west-3|ap-southeast-2|local)",
        service in "(monitoring|sns)",
        unix in 1_000_000_000i64..4_000_000_000i64,
    ) -> (String, String, String, Vec<(String, String)>, Vec<u8>, String, String, i64) {
        let mut path = format!("/{}", segments.join("/"));
        if trailing_slash && !path.ends_with('/') {
            path.push('/');
        }
        let query = query
            .iter()
            .filter(|(k, v)| !k.is_empty() || v.is_some())
            .map(|(k, v)| match v { Some(v) => format!("{k}={v}"), None => k.clone() })
            .collect::<Vec<_>>()
            .join("&");
        (method, path, query, headers, body, region, service, unix)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn requests_signed_by_aws_sigv4_verify(
        (method, path, query, extra, body, region, service, unix) in request_parts()
    ) {
        let host = "monitoring.local:4566";
        let mut headers: Vec<(&str, &str)> = vec![("host", host)];
        headers.extend(extra.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let uri = if query.is_empty() {
            format!("http://{host}{path}")
        } else {
            format!("http://{host}{path}?{query}")
        };
        let time = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).expect("positive"));
        let added = sdk_signed_headers(&method, &uri, &headers, &body, &region, &service, time);

        let mut all = headers.clone();
        all.extend(added.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        let req = Request { method: &method, path: &path, query: &query, headers: &all, body: &body };
        let auth = extract(&req).expect("aws-sigv4 Authorization parses").expect("signed");
        prop_assert_eq!(&auth.service, &service);
        let now = Timestamp::from_second(unix).expect("in range");
        let verdict = verify(&req, &auth, SECRET, now, DEFAULT_MAX_SKEW);
        prop_assert!(verdict.is_ok(), "{:?}\nuri {}", verdict, uri);
        prop_assert!(verify(&req, &auth, "oracle/secret+KEY=!", now, DEFAULT_MAX_SKEW).is_err());

        // Without a bare '+' (where the two readings differ) our signer produces the very same
        // Authorization header as aws-sigv4.
        if !query.contains('+') {
            let creds = Credentials { access_key_id: AKID, secret_access_key: SECRET };
            let unsigned = Request { headers: &headers, ..req };
            let ours = sign(&unsigned, &creds, &region, &service, now);
            let theirs = added.iter().find(|(n, _)| n == "authorization").map(|(_, v)| v.as_str());
            prop_assert_eq!(Some(ours[1].1.as_str()), theirs);
        }
    }
}
