//! Request authentication (SigV4) and authorization (key policies).
//!
//! The signature is checked over the body bytes exactly as received — before
//! any gzip inflation — because that is what the client signed.

use crate::keys::{ActiveKey, KeyStore};
use std::sync::Arc;
use std::time::Duration;
use stratus_model::{ApiError, ErrorCode};
use stratus_sigv4 as sigv4;

/// AWS accepts requests whose date is within 15 minutes of the server clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// Headers that choose what a request does or how its body is read: a
/// signature that leaves one of them out could be replayed with it changed
/// (another operation, another decoding), so when present they must be
/// among `SignedHeaders`. Every real client (botocore, the AWS SDKs, the
/// Go agent, ours) signs all of them.
const MUST_BE_SIGNED: [&str; 3] = ["x-amz-target", "content-type", "content-encoding"];
/// Stratus's own headers (`x-stratus-batch-id`, ...) must be signed too.
const STRATUS_HEADER_PREFIX: &str = "x-stratus-";

/// Who made a request and in which region/service scope.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: Arc<ActiveKey>,
    pub region: String,
    pub scope_service: String,
}

/// The credential scope claimed by a request, parsed before verification so
/// errors can be answered in the right service's envelope.
pub fn claimed_scope(req: &sigv4::Request<'_>) -> Option<sigv4::Authorization> {
    sigv4::extract(req).ok().flatten()
}

pub fn authenticate(
    keys: &KeyStore,
    req: &sigv4::Request<'_>,
    now: jiff::Timestamp,
) -> Result<Caller, ApiError> {
    let auth = match sigv4::extract(req) {
        Ok(Some(a)) => a,
        Ok(None) => {
            return Err(ApiError::new(
                ErrorCode::MissingAuthenticationToken,
                "Request is missing Authentication Token",
            ));
        }
        Err(e) => return Err(ApiError::new(ErrorCode::IncompleteSignature, e.to_string())),
    };
    // Stratus issues no temporary credentials (there is no STS), so a session
    // token can never be valid: refuse it as AWS refuses an unknown one
    // rather than ignore it.
    let token_header = req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-amz-security-token"));
    let token_query = req
        .query
        .split('&')
        .any(|p| p.starts_with("X-Amz-Security-Token="));
    let Some(key) = keys
        .lookup(&auth.access_key_id)
        .filter(|_| !token_header && !token_query)
    else {
        return Err(ApiError::new(
            ErrorCode::InvalidClientTokenId,
            "The security token included in the request is invalid.",
        ));
    };
    sigv4::verify(req, &auth, &key.secret, now, MAX_CLOCK_SKEW).map_err(|e| {
        let code = match e.aws_code() {
            "IncompleteSignature" => ErrorCode::IncompleteSignature,
            "RequestExpired" => ErrorCode::RequestExpired,
            _ => ErrorCode::SignatureDoesNotMatch,
        };
        ApiError::new(code, e.to_string())
    })?;
    check_signed_headers(req, &auth)?;
    Ok(Caller {
        key,
        region: auth.region,
        scope_service: auth.service,
    })
}

/// Refuses a request carrying a [`MUST_BE_SIGNED`] or `x-stratus-*` header
/// its signature does not cover, in AWS's wording for an unsigned `Host`.
fn check_signed_headers(
    req: &sigv4::Request<'_>,
    auth: &sigv4::Authorization,
) -> Result<(), ApiError> {
    let must_sign = |name: &str| {
        MUST_BE_SIGNED.iter().any(|m| name.eq_ignore_ascii_case(m))
            || name
                .get(..STRATUS_HEADER_PREFIX.len())
                .is_some_and(|p| p.eq_ignore_ascii_case(STRATUS_HEADER_PREFIX))
    };
    let unsigned = req.headers.iter().map(|(n, _)| *n).find(|name| {
        must_sign(name)
            && !auth
                .signed_headers
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name))
    });
    match unsigned {
        Some(name) => Err(ApiError::new(
            ErrorCode::SignatureDoesNotMatch,
            format!(
                "'{}' must be a 'SignedHeader' in the AWS Authorization.",
                name.to_ascii_lowercase()
            ),
        )),
        None => Ok(()),
    }
}

/// Checks the caller's policy for `action` (e.g. `cloudwatch:PutMetricData`)
/// on `resource`, answering AWS's AccessDenied wording when refused.
pub fn authorize(caller: &Caller, action: &str, resource: &str) -> Result<(), ApiError> {
    if caller.key.policy.allows(action, resource) {
        return Ok(());
    }
    Err(ApiError::new(
        ErrorCode::AccessDenied,
        format!(
            "User: arn:aws:iam::{}:user/{} is not authorized to perform: {} on resource: {} because no identity-based policy allows the {} action",
            crate::ACCOUNT_ID,
            caller.key.name,
            action,
            resource,
            action
        ),
    ))
}
