//! The official AWS SigV4 test suite (cases copied into `tests/data/aws-signing-test-suite/`):
//! our canonical request, string to sign and `Authorization` must match byte for byte, our
//! verifier must accept the suite's signed and presigned requests, and our presigner must
//! reproduce the suite's query signatures.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use stratus_sigv4::{
    Credentials, DEFAULT_MAX_SKEW, Request, canonical_uri, extract, presign, sha256_hex,
    sign_with_details, verify,
};

/// A request parsed from a suite `.txt` file.
struct WireRequest {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl WireRequest {
    fn header_refs(&self) -> Vec<(&str, &str)> {
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }
}

/// Parses the suite's HTTP/1.1 request format. The request target may contain a raw space
/// (`get-space-unnormalized`), and header lines starting with whitespace continue the previous
/// value (obs-fold, `get-header-value-multiline`).
fn parse_request(text: &str) -> WireRequest {
    let (head, body) = text.split_once("\n\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let (method, rest) = request_line.split_once(' ').expect("method");
    let (target, _version) = rest.rsplit_once(' ').expect("HTTP version");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in lines {
        if line.starts_with([' ', '\t']) {
            let last = headers.last_mut().expect("continuation follows a header");
            last.1.push(' ');
            last.1.push_str(line);
        } else {
            let (name, value) = line.split_once(':').expect("header colon");
            headers.push((name.to_owned(), value.to_owned()));
        }
    }
    WireRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn suite_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/aws-signing-test-suite")
}

fn read(case: &Path, file: &str) -> String {
    fs::read_to_string(case.join(file)).unwrap_or_else(|e| panic!("{}/{file}: {e}", case.display()))
}

struct Context {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    omit_session_token: bool,
    region: String,
    service: String,
    sign_body: bool,
    expires: u64,
    time: Timestamp,
}

fn context(case: &Path) -> Context {
    let json: serde_json::Value =
        serde_json::from_str(&read(case, "context.json")).expect("context.json");
    let s = |v: &serde_json::Value| v.as_str().expect("string").to_owned();
    Context {
        access_key_id: s(&json["credentials"]["access_key_id"]),
        secret_access_key: s(&json["credentials"]["secret_access_key"]),
        token: json["credentials"]["token"].as_str().map(str::to_owned),
        omit_session_token: json["omit_session_token"].as_bool().unwrap_or(false),
        region: s(&json["region"]),
        service: s(&json["service"]),
        sign_body: json["sign_body"].as_bool().expect("sign_body"),
        expires: json["expiration_in_seconds"]
            .as_u64()
            .expect("expiration_in_seconds"),
        time: s(&json["timestamp"]).parse().expect("timestamp"),
    }
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(suite_dir())
        .expect("suite dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 30,
        "expected the copied suite, found {} cases",
        cases.len()
    );
    cases
}

fn authorization_of(signed: &WireRequest) -> &str {
    signed
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.as_str())
        .expect("signed request has Authorization")
}

#[test]
fn header_signing_matches_the_suite() {
    let mut checked = 0;
    for case in cases() {
        if !case.join("context.json").exists() {
            continue;
        }
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let ctx = context(&case);
        let mut wire = parse_request(&read(&case, "request.txt"));
        // What the SDK adds before signing: the session token and, with sign_body, the
        // x-amz-content-sha256 header.
        if let (Some(token), false) = (&ctx.token, ctx.omit_session_token) {
            wire.headers
                .push(("X-Amz-Security-Token".into(), token.clone()));
        }
        if ctx.sign_body {
            wire.headers
                .push(("x-amz-content-sha256".into(), sha256_hex(&wire.body)));
        }
        let headers = wire.header_refs();
        let req = Request {
            method: &wire.method,
            path: &wire.path,
            query: &wire.query,
            headers: &headers,
            body: &wire.body,
        };
        let creds = Credentials {
            access_key_id: &ctx.access_key_id,
            secret_access_key: &ctx.secret_access_key,
        };
        let details = sign_with_details(&req, &creds, &ctx.region, &ctx.service, ctx.time);
        assert_eq!(
            details.canonical_request,
            read(&case, "header-canonical-request.txt"),
            "{name}: canonical request"
        );
        assert_eq!(
            details.string_to_sign,
            read(&case, "header-string-to-sign.txt"),
            "{name}: string to sign"
        );
        let expected = parse_request(&read(&case, "header-signed-request.txt"));
        let authz = details
            .headers
            .iter()
            .find(|(n, _)| n == "authorization")
            .expect("authorization");
        assert_eq!(
            authz.1,
            authorization_of(&expected),
            "{name}: Authorization"
        );
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} cases checked");
}

#[test]
fn verifier_accepts_the_suites_signed_requests() {
    for case in cases() {
        if !case.join("context.json").exists() {
            continue;
        }
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let ctx = context(&case);
        let signed = parse_request(&read(&case, "header-signed-request.txt"));
        let headers = signed.header_refs();
        let req = Request {
            method: &signed.method,
            path: &signed.path,
            query: &signed.query,
            headers: &headers,
            body: &signed.body,
        };
        let auth = extract(&req).expect("parses").expect("has auth");
        verify(
            &req,
            &auth,
            &ctx.secret_access_key,
            ctx.time,
            DEFAULT_MAX_SKEW,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            verify(&req, &auth, "not-the-secret", ctx.time, DEFAULT_MAX_SKEW).is_err(),
            "{name}: wrong secret accepted"
        );
    }
}

#[test]
fn presigned_requests_verify_and_presign_reproduces_them() {
    let mut checked = 0;
    for case in cases() {
        if !case.join("query-signed-request.txt").exists() {
            continue;
        }
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let ctx = context(&case);
        // In this case the SDK appends the session token after signing: no server accepts it.
        let token_appended_unsigned = ctx.token.is_some() && ctx.omit_session_token;

        let signed = parse_request(&read(&case, "query-signed-request.txt"));
        let headers = signed.header_refs();
        let req = Request {
            method: &signed.method,
            path: &signed.path,
            query: &signed.query,
            headers: &headers,
            body: &signed.body,
        };
        let auth = extract(&req).expect("parses").expect("presigned");
        let result = verify(
            &req,
            &auth,
            &ctx.secret_access_key,
            ctx.time,
            DEFAULT_MAX_SKEW,
        );
        assert_eq!(
            result.is_ok(),
            !token_appended_unsigned,
            "{name}: {result:?}"
        );
        if token_appended_unsigned {
            continue;
        }
        // Past X-Amz-Expires the same request is refused.
        let late = ctx
            .time
            .checked_add(Duration::from_secs(ctx.expires + 1))
            .expect("in range");
        assert!(
            verify(&req, &auth, &ctx.secret_access_key, late, DEFAULT_MAX_SKEW).is_err(),
            "{name}"
        );

        // Presign the unsigned request ourselves: the signature must be the suite's.
        let wire = parse_request(&read(&case, "request.txt"));
        let mut query = wire.query.clone();
        if let Some(token) = &ctx.token {
            let encoded: String = token
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            query = if query.is_empty() {
                format!("X-Amz-Security-Token={encoded}")
            } else {
                format!("{query}&X-Amz-Security-Token={encoded}")
            };
        }
        let headers = wire.header_refs();
        let unsigned = Request {
            method: &wire.method,
            path: &wire.path,
            query: &query,
            headers: &headers,
            body: &wire.body,
        };
        let creds = Credentials {
            access_key_id: &ctx.access_key_id,
            secret_access_key: &ctx.secret_access_key,
        };
        let ours = presign(
            &unsigned,
            &creds,
            &ctx.region,
            &ctx.service,
            ctx.time,
            Duration::from_secs(ctx.expires),
        );
        let signature = ours
            .rsplit_once("X-Amz-Signature=")
            .expect("signature appended")
            .1;
        assert_eq!(
            signature,
            read(&case, "query-signature.txt").trim(),
            "{name}: presigned signature"
        );
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} presigned cases checked");
}

#[test]
fn double_encoded_paths_match_the_suite() {
    for name in ["double-encode-path", "double-url-encode"] {
        let case = suite_dir().join(name);
        let wire = parse_request(&read(&case, "request.txt"));
        let canonical = read(&case, "header-canonical-request.txt");
        let expected_uri = canonical.lines().nth(1).expect("URI line");
        assert_eq!(canonical_uri(&wire.path), expected_uri, "{name}");
    }
}
