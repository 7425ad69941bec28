//! The server side: checking a claimed [`Authorization`] against the request and a secret.

use std::time::Duration;

use jiff::Timestamp;
use subtle::ConstantTimeEq;

use crate::amz_date::{format_amz_date, parse_amz_date, parse_http_date};
use crate::authorization::{authorization_header, is_presigned};
use crate::canonical::{AuthLocation, PlusInQuery, canonical_request, query_param};
use crate::signer::{credential_scope, sha256_hex, signature, signing_key, string_to_sign};
use crate::{Authorization, CONTENT_SHA256_HEADER, DATE_HEADER, Request, UNSIGNED_PAYLOAD};

/// Longest validity of a presigned request AWS allows (7 days).
pub const MAX_PRESIGNED_EXPIRES: Duration = Duration::from_secs(7 * 24 * 3600);

/// Why a request's signature is not accepted. Messages follow AWS's wording because the server
/// shows them to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Neither `X-Amz-Date` nor `Date` (nor presigned `X-Amz-Date`) is present.
    #[error("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")]
    MissingDate,
    /// The request date is not `yyyymmddTHHMMSSZ` (or, for `Date`, not an HTTP date).
    #[error(
        "Date must be in ISO-8601 'basic format'. Got '{value}'. See http://en.wikipedia.org/wiki/ISO_8601"
    )]
    InvalidDate {
        /// The value as received.
        value: String,
    },
    /// The credential scope date is not the request date's day.
    #[error("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope_date}' != '{}', from '{request_time}'.", request_time.get(..8).unwrap_or(request_time))]
    ScopeDateMismatch {
        /// `yyyymmdd` from the credential.
        scope_date: String,
        /// `yyyymmddTHHMMSSZ` of the request.
        request_time: String,
    },
    /// The request is older than the allowed window (or than its `X-Amz-Expires`).
    #[error("Signature expired: {request_time} is now earlier than {earliest} ({now} - {window})")]
    Expired {
        /// `yyyymmddTHHMMSSZ` of the request.
        request_time: String,
        /// `yyyymmddTHHMMSSZ` of the server clock.
        now: String,
        /// `now - window`.
        earliest: String,
        /// The window, e.g. `15 min.`.
        window: String,
    },
    /// The request is dated further in the future than the allowed skew.
    #[error(
        "Signature not yet current: {request_time} is still later than {latest} ({now} + {window})"
    )]
    NotYetCurrent {
        /// `yyyymmddTHHMMSSZ` of the request.
        request_time: String,
        /// `yyyymmddTHHMMSSZ` of the server clock.
        now: String,
        /// `now + window`.
        latest: String,
        /// The window, e.g. `15 min.`.
        window: String,
    },
    /// A presigned request's `X-Amz-Expires` is not a number of seconds in 1..=604800.
    #[error("X-Amz-Expires must be a number of seconds between 1 and 604800, got '{value}'.")]
    InvalidExpires {
        /// The value as received.
        value: String,
    },
    /// `host` is not among the signed headers.
    #[error("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    /// The date header used for the signature is not among the signed headers.
    #[error("'{header}' must be a 'SignedHeader' in the AWS Authorization.")]
    DateNotSigned {
        /// `X-Amz-Date` or `Date`.
        header: &'static str,
    },
    /// A header listed in `SignedHeaders` is not in the request.
    #[error(
        "The request signature we calculated does not match the signature you provided. Header '{name}' is listed in SignedHeaders but is absent from the request."
    )]
    MissingSignedHeader {
        /// The lower-case header name.
        name: String,
    },
    /// The credential is scoped to another service.
    #[error("Credential should be scoped to correct service: '{expected}'. ")]
    WrongService {
        /// The service this endpoint serves.
        expected: String,
    },
    /// `x-amz-content-sha256` is not the SHA-256 of the body received: the signature would
    /// cover a body other than the one sent.
    #[error(
        "The provided 'x-amz-content-sha256' header does not match what was computed. Claimed: '{claimed}', computed: '{computed}'."
    )]
    PayloadHashMismatch {
        /// The header's value (cut to 64 characters).
        claimed: String,
        /// The hex SHA-256 of the body received.
        computed: String,
    },
    /// `x-amz-content-sha256` says the body is not covered by the signature
    /// (`UNSIGNED-PAYLOAD`, `STREAMING-*` chunk signing), which these services do not accept.
    #[error(
        "x-amz-content-sha256 '{value}' is not accepted: the request body must be signed (send its hex SHA-256, or omit the header)."
    )]
    UnsignedPayload {
        /// The header's value (cut to 64 characters).
        value: String,
    },
    /// The recomputed signature differs. The canonical request and string to sign we computed
    /// are kept for logs (AWS shows them to query-protocol clients); they are not in the message.
    #[error(
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
    )]
    SignatureMismatch {
        /// Our canonical request.
        canonical_request: String,
        /// Our string to sign.
        string_to_sign: String,
    },
}

impl VerifyError {
    /// The AWS error code to answer with (query protocol spelling; JSON services report
    /// `SignatureDoesNotMatch` as `InvalidSignatureException`).
    pub fn aws_code(&self) -> &'static str {
        match self {
            VerifyError::MissingDate
            | VerifyError::InvalidDate { .. }
            | VerifyError::InvalidExpires { .. }
            | VerifyError::UnsignedPayload { .. } => "IncompleteSignature",
            VerifyError::ScopeDateMismatch { .. }
            | VerifyError::Expired { .. }
            | VerifyError::NotYetCurrent { .. }
            | VerifyError::HostNotSigned
            | VerifyError::DateNotSigned { .. }
            | VerifyError::MissingSignedHeader { .. }
            | VerifyError::WrongService { .. }
            | VerifyError::PayloadHashMismatch { .. }
            | VerifyError::SignatureMismatch { .. } => "SignatureDoesNotMatch",
        }
    }
}

impl Authorization {
    /// Checks that the credential is scoped to `expected` (e.g. `monitoring`).
    pub fn check_service(&self, expected: &str) -> Result<(), VerifyError> {
        if self.service == expected {
            Ok(())
        } else {
            Err(VerifyError::WrongService {
                expected: expected.to_owned(),
            })
        }
    }
}

/// The request date the signature covers, and where it came from.
struct RequestTime {
    /// `yyyymmddTHHMMSSZ`, as used in the string to sign.
    amz_date: String,
    time: Timestamp,
    /// The header that carried it (must be signed), `None` for presigned requests.
    header: Option<(&'static str, &'static str)>,
}

fn request_time(req: &Request<'_>, location: AuthLocation) -> Result<RequestTime, VerifyError> {
    if location == AuthLocation::Query {
        let value = query_param(req.query, "X-Amz-Date").ok_or(VerifyError::MissingDate)?;
        let time = parse_amz_date(&value).ok_or_else(|| VerifyError::InvalidDate {
            value: value.clone(),
        })?;
        return Ok(RequestTime {
            amz_date: value,
            time,
            header: None,
        });
    }
    let header = |name: &str| {
        req.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    if let Some(value) = header(DATE_HEADER) {
        let time = parse_amz_date(value).ok_or_else(|| VerifyError::InvalidDate {
            value: value.to_owned(),
        })?;
        return Ok(RequestTime {
            amz_date: value.to_owned(),
            time,
            header: Some((DATE_HEADER, "X-Amz-Date")),
        });
    }
    if let Some(value) = header("date") {
        let time = parse_http_date(value).ok_or_else(|| VerifyError::InvalidDate {
            value: value.to_owned(),
        })?;
        return Ok(RequestTime {
            amz_date: format_amz_date(time),
            time,
            header: Some(("date", "Date")),
        });
    }
    Err(VerifyError::MissingDate)
}

/// Formats a window like AWS: whole minutes as `15 min.`, anything else as seconds.
fn window_text(window: Duration) -> String {
    let secs = window.as_secs();
    if secs > 0 && secs.is_multiple_of(60) {
        format!("{} min.", secs / 60)
    } else {
        format!("{secs} sec.")
    }
}

fn format_second(second: i64) -> String {
    Timestamp::from_second(second).map_or_else(|_| second.to_string(), format_amz_date)
}

/// Checks the request time against the server clock: within `max_skew` either way, or for a
/// presigned request with `X-Amz-Expires`, not past `date + expires` and not in the future
/// beyond `max_skew`.
fn check_freshness(
    req: &Request<'_>,
    location: AuthLocation,
    request: &RequestTime,
    now: Timestamp,
    max_skew: Duration,
) -> Result<(), VerifyError> {
    let skew = i64::try_from(max_skew.as_secs()).unwrap_or(i64::MAX);
    let mut past_window = (skew, max_skew);
    if location == AuthLocation::Query
        && let Some(value) = query_param(req.query, "X-Amz-Expires")
    {
        let expires = value
            .parse::<u64>()
            .ok()
            .filter(|secs| (1..=MAX_PRESIGNED_EXPIRES.as_secs()).contains(secs))
            .ok_or_else(|| VerifyError::InvalidExpires {
                value: value.clone(),
            })?;
        // Bounded by MAX_PRESIGNED_EXPIRES above, so the cast cannot truncate.
        past_window = (expires as i64, Duration::from_secs(expires));
    }
    let (t, now_s) = (request.time.as_second(), now.as_second());
    let earliest = now_s.saturating_sub(past_window.0);
    if t < earliest {
        return Err(VerifyError::Expired {
            request_time: request.amz_date.clone(),
            now: format_amz_date(now),
            earliest: format_second(earliest),
            window: window_text(past_window.1),
        });
    }
    let latest = now_s.saturating_add(skew);
    if t > latest {
        return Err(VerifyError::NotYetCurrent {
            request_time: request.amz_date.clone(),
            now: format_amz_date(now),
            latest: format_second(latest),
            window: window_text(max_skew),
        });
    }
    Ok(())
}

/// The SHA-256 of the body, after checking every `x-amz-content-sha256` the request carries
/// against it. A client signs the header's value as the payload hash, so a value other than
/// the body's hash would let a signature made for one body be sent with another.
fn checked_payload_hash(req: &Request<'_>) -> Result<String, VerifyError> {
    let computed = sha256_hex(req.body);
    let shown = |v: &str| v.chars().take(64).collect::<String>();
    for (_, value) in req
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(CONTENT_SHA256_HEADER))
    {
        let value = value.trim();
        if value == UNSIGNED_PAYLOAD || value.starts_with("STREAMING-") {
            return Err(VerifyError::UnsignedPayload {
                value: shown(value),
            });
        }
        if value != computed {
            return Err(VerifyError::PayloadHashMismatch {
                claimed: shown(value),
                computed,
            });
        }
    }
    Ok(computed)
}

/// Verifies that `auth` is a valid signature of `req` under `secret_access_key`:
///
/// * the request date (`x-amz-date` header, else `date` header, or presigned `X-Amz-Date`) is
///   present and well formed, its day equals the credential scope date, and it is within
///   `max_skew` of `now` (presigned: not past `X-Amz-Expires`);
/// * `host`, and the date header when the date came from a header, are signed, and every
///   signed header is present;
/// * an `x-amz-content-sha256` header, signed or not, is the SHA-256 of `req.body` (the body is
///   hashed, never taken on trust); `UNSIGNED-PAYLOAD` and `STREAMING-*` are refused, since a
///   body they describe is not covered by the signature;
/// * the signature recomputed over the canonical request equals the claimed one (constant-time
///   compare), with the SHA-256 of `req.body` as the payload hash.
///
/// The request is treated as presigned when it has no `Authorization` header and its query
/// carries presigning parameters, as [`crate::extract`] decides.
pub fn verify(
    req: &Request<'_>,
    auth: &Authorization,
    secret_access_key: &str,
    now: Timestamp,
    max_skew: Duration,
) -> Result<(), VerifyError> {
    let location = if authorization_header(req).is_none() && is_presigned(req.query) {
        AuthLocation::Query
    } else {
        AuthLocation::Header
    };
    let request = request_time(req, location)?;
    if request.amz_date.get(..8) != Some(auth.date.as_str()) {
        return Err(VerifyError::ScopeDateMismatch {
            scope_date: auth.date.clone(),
            request_time: request.amz_date,
        });
    }
    check_freshness(req, location, &request, now, max_skew)?;

    let is_signed = |name: &str| {
        auth.signed_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name))
    };
    if !is_signed("host") {
        return Err(VerifyError::HostNotSigned);
    }
    if let Some((name, display)) = request.header
        && !is_signed(name)
    {
        return Err(VerifyError::DateNotSigned { header: display });
    }
    if let Some(missing) = auth
        .signed_headers
        .iter()
        .find(|h| !req.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(h)))
    {
        return Err(VerifyError::MissingSignedHeader {
            name: missing.clone(),
        });
    }

    let payload_hash = checked_payload_hash(req)?;
    let scope = credential_scope(&auth.date, &auth.region, &auth.service);
    let key = signing_key(secret_access_key, &auth.date, &auth.region, &auth.service);
    let compute = |plus: PlusInQuery| {
        let canonical = canonical_request(req, &auth.signed_headers, &payload_hash, location, plus);
        let sts = string_to_sign(&request.amz_date, &scope, &canonical);
        let matches = bool::from(
            signature(&key, &sts)
                .as_bytes()
                .ct_eq(auth.signature.as_bytes()),
        );
        (matches, canonical, sts)
    };
    let (matches, canonical, sts) = compute(PlusInQuery::Literal);
    if matches {
        return Ok(());
    }
    // Clients disagree on a bare '+' in the query (see `PlusInQuery`); accept either reading.
    if req.query.contains('+') && compute(PlusInQuery::Space).0 {
        return Ok(());
    }
    Err(VerifyError::SignatureMismatch {
        canonical_request: canonical,
        string_to_sign: sts,
    })
}
