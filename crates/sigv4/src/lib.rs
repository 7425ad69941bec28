//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`): signing requests (agent, CLI, tests) and
//! verifying them (server), over one shared canonicalization so both sides always agree.
//!
//! This crate owns the SigV4 wire rules: canonical request, string to sign, key derivation,
//! `Authorization` header and presigned-query parsing, clock-skew and signature checks, and the
//! AWS-worded errors for each failure. It must not know HTTP frameworks (no `http`/`axum` types:
//! callers pass raw method, path, query, headers and body bytes), credentials storage (the caller
//! looks up the secret for [`Authorization::access_key_id`]), or any AWS service protocol.
//! Canonicalization follows the non-S3 services (CloudWatch `monitoring`, `sns`): the path is
//! normalized and URI-encoded twice, and the payload is always hashed.

mod amz_date;
mod authorization;
mod canonical;
mod signer;
mod verify;

pub use amz_date::{format_amz_date, parse_amz_date, parse_http_date};
pub use authorization::{Authorization, ParseError, extract, parse_authorization, parse_presigned};
pub use canonical::{
    AuthLocation, PlusInQuery, canonical_headers, canonical_query, canonical_request, canonical_uri,
};
pub use signer::{
    SignatureDetails, credential_scope, presign, sha256_hex, sign, sign_with_details, signature,
    signing_key, string_to_sign,
};
pub use verify::{MAX_PRESIGNED_EXPIRES, VerifyError, verify};

/// The only algorithm supported.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// Last element of every credential scope.
pub const TERMINATOR: &str = "aws4_request";
/// Header carrying the request time.
pub const DATE_HEADER: &str = "x-amz-date";
/// Header a client may use to state the payload hash (or `UNSIGNED-PAYLOAD`).
pub const CONTENT_SHA256_HEADER: &str = "x-amz-content-sha256";
/// `x-amz-content-sha256` value of a client that did not hash its body.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// The clock skew AWS tolerates, and the server uses.
pub const DEFAULT_MAX_SKEW: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// A request as seen on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// HTTP method, upper-case (`GET`, `POST`).
    pub method: &'a str,
    /// Raw path as sent (already percent-encoded once), without the query.
    pub path: &'a str,
    /// Raw query string without `?` (empty if none).
    pub query: &'a str,
    /// Header names in any case; duplicates allowed, order kept. Must include `host` (servers:
    /// for HTTP/2 put the `:authority` here as `host`).
    pub headers: &'a [(&'a str, &'a str)],
    /// The body bytes exactly as sent (before any `Content-Encoding` is undone).
    pub body: &'a [u8],
}

/// Long-term credentials used to sign. (Session tokens: add an `x-amz-security-token` header to
/// the request; it is then signed like any other header.) `Debug` redacts the secret.
#[derive(Clone, Copy)]
pub struct Credentials<'a> {
    /// Access key id, e.g. `AKIDEXAMPLE`.
    pub access_key_id: &'a str,
    /// Secret access key.
    pub secret_access_key: &'a str,
}

impl std::fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_secret() {
        let creds = Credentials {
            access_key_id: "AKID",
            secret_access_key: "very-secret",
        };
        let shown = format!("{creds:?}");
        assert!(
            shown.contains("AKID") && !shown.contains("very-secret"),
            "{shown}"
        );
    }
}
