//! Reading the claimed signature out of a request: the `Authorization` header or the presigned
//! `X-Amz-*` query parameters. Parsing checks shape only; [`crate::verify`] checks the content.

use crate::canonical::{PRESIGNED_SIGNATURE_PARAM, query_param};
use crate::{ALGORITHM, Request, TERMINATOR};

/// A parsed SigV4 authorization: who claims to have signed, over which scope and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// Access key id from the credential scope.
    pub access_key_id: String,
    /// Scope date, `yyyymmdd`.
    pub date: String,
    /// Scope region (the client's region; any value is accepted).
    pub region: String,
    /// Scope service (`monitoring` for CloudWatch, `sns` for SNS).
    pub service: String,
    /// Signed header names as listed by the client (lower-case, sorted by conforming clients).
    pub signed_headers: Vec<String>,
    /// Hex signature as sent.
    pub signature: String,
}

/// Why an `Authorization` header or presigned query could not be read. Messages follow AWS's
/// `IncompleteSignature` wording because the server shows them to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// One or more of `Credential`, `SignedHeaders`, `Signature` is absent or empty; also the
    /// answer to a header that is not SigV4 at all (`Basic ...`, `Bearer ...`, SigV2).
    #[error("{}Authorization={authorization}", missing_components_message(*.credential, *.signature, *.signed_headers))]
    MissingComponents {
        /// `Credential` is missing.
        credential: bool,
        /// `SignedHeaders` is missing.
        signed_headers: bool,
        /// `Signature` is missing.
        signature: bool,
        /// The header value as received.
        authorization: String,
    },
    /// A comma-separated component has no `=`.
    #[error(
        "'{pair}' not a valid key=value pair (missing equal-sign) in Authorization header: '{authorization}'."
    )]
    MissingEqualSign {
        /// The offending component.
        pair: String,
        /// The header value as received.
        authorization: String,
    },
    /// A SigV4-family algorithm other than `AWS4-HMAC-SHA256` (e.g. SigV4a).
    #[error("Unsupported AWS 'algorithm': '{algorithm}'. Only 'AWS4-HMAC-SHA256' is supported.")]
    UnsupportedAlgorithm {
        /// The algorithm named by the client.
        algorithm: String,
    },
    /// The credential is not `keyid/date/region/service/aws4_request`.
    #[error(
        "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
    )]
    MalformedCredential {
        /// The credential as received.
        credential: String,
    },
    /// The credential's last element is not `aws4_request`.
    #[error(
        "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
    )]
    InvalidTerminator {
        /// The terminator as received.
        terminator: String,
    },
    /// The credential's date is not `yyyymmdd`.
    #[error("Invalid credential date '{date}'. Date is not the required format: yyyyMMdd.")]
    InvalidCredentialDate {
        /// The date as received.
        date: String,
    },
    /// A presigned query lacks one of the required `X-Amz-*` parameters.
    #[error(
        "AWS query-string parameters must include '{parameter}'. Re-examine the query-string parameters."
    )]
    MissingQueryParameter {
        /// Name of the missing parameter.
        parameter: &'static str,
    },
}

impl ParseError {
    /// The AWS error code to answer with.
    pub fn aws_code(&self) -> &'static str {
        "IncompleteSignature"
    }
}

fn missing_components_message(credential: bool, signature: bool, signed_headers: bool) -> String {
    let mut message = String::new();
    for (missing, name) in [
        (credential, "Credential"),
        (signature, "Signature"),
        (signed_headers, "SignedHeaders"),
    ] {
        if missing {
            message.push_str("Authorization header requires '");
            message.push_str(name);
            message.push_str("' parameter. ");
        }
    }
    message
}

/// Parses an `Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/monitoring/aws4_request,
/// SignedHeaders=a;b, Signature=hex` value. Components may come in any order, separated by `,`
/// with optional spaces; if one is repeated, the last wins.
pub fn parse_authorization(value: &str) -> Result<Authorization, ParseError> {
    let trimmed = value.trim();
    let (scheme, rest) = trimmed
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((trimmed, ""));
    if scheme != ALGORITHM {
        if scheme.starts_with("AWS4-") {
            return Err(ParseError::UnsupportedAlgorithm {
                algorithm: scheme.to_owned(),
            });
        }
        return Err(ParseError::MissingComponents {
            credential: true,
            signed_headers: true,
            signature: true,
            authorization: value.to_owned(),
        });
    }

    let (mut credential, mut signed_headers, mut signature) = (None, None, None);
    // AWS splits on commas *and* whitespace: a stray space inside a credential is reported as
    // a component without '=' rather than silently becoming part of the key id.
    for component in rest
        .split(|c: char| c == ',' || c.is_ascii_whitespace())
        .filter(|c| !c.is_empty())
    {
        let Some((key, val)) = component.split_once('=') else {
            return Err(ParseError::MissingEqualSign {
                pair: component.to_owned(),
                authorization: value.to_owned(),
            });
        };
        let val = val.trim();
        match key.trim() {
            "Credential" => credential = Some(val),
            "SignedHeaders" => signed_headers = Some(val),
            "Signature" => signature = Some(val),
            // AWS ignores unknown components; so do we.
            _ => {}
        }
    }
    fn present(v: Option<&str>) -> Option<&str> {
        v.filter(|s| !s.is_empty())
    }
    // "SignedHeaders=;;" names no header: as good as absent.
    let signed_headers =
        present(signed_headers).filter(|h| h.split(';').any(|n| !n.trim().is_empty()));
    match (present(credential), signed_headers, present(signature)) {
        (Some(credential), Some(signed_headers), Some(signature)) => {
            build(credential, signed_headers, signature)
        }
        (c, h, s) => Err(ParseError::MissingComponents {
            credential: c.is_none(),
            signed_headers: h.is_none(),
            signature: s.is_none(),
            authorization: value.to_owned(),
        }),
    }
}

fn build(
    credential: &str,
    signed_headers: &str,
    signature: &str,
) -> Result<Authorization, ParseError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = parts.as_slice() else {
        return Err(ParseError::MalformedCredential {
            credential: credential.to_owned(),
        });
    };
    if [access_key_id, date, region, service]
        .iter()
        .any(|p| p.is_empty())
    {
        return Err(ParseError::MalformedCredential {
            credential: credential.to_owned(),
        });
    }
    if *terminator != TERMINATOR {
        return Err(ParseError::InvalidTerminator {
            terminator: (*terminator).to_owned(),
        });
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::InvalidCredentialDate {
            date: (*date).to_owned(),
        });
    }
    Ok(Authorization {
        access_key_id: (*access_key_id).to_owned(),
        date: (*date).to_owned(),
        region: (*region).to_owned(),
        service: (*service).to_owned(),
        signed_headers: signed_headers
            .split(';')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .map(str::to_owned)
            .collect(),
        signature: signature.to_owned(),
    })
}

/// Parses presigned-request parameters (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`,
/// `X-Amz-SignedHeaders`, `X-Amz-Signature`) from a raw query string. `Ok(None)` when the query
/// carries none of `X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Signature`; otherwise all five
/// are required. Returns the authorization and the raw `X-Amz-Date` value (its format is
/// checked by [`crate::verify`]).
pub fn parse_presigned(query: &str) -> Result<Option<(Authorization, String)>, ParseError> {
    if !is_presigned(query) {
        return Ok(None);
    }
    let require = |parameter: &'static str| {
        query_param(query, parameter)
            .filter(|v| !v.is_empty())
            .ok_or(ParseError::MissingQueryParameter { parameter })
    };
    let algorithm = require("X-Amz-Algorithm")?;
    if algorithm != ALGORITHM {
        return Err(ParseError::UnsupportedAlgorithm { algorithm });
    }
    let credential = require("X-Amz-Credential")?;
    let amz_date = require("X-Amz-Date")?;
    let signed_headers = require("X-Amz-SignedHeaders")?;
    if signed_headers.split(';').all(|n| n.trim().is_empty()) {
        return Err(ParseError::MissingQueryParameter {
            parameter: "X-Amz-SignedHeaders",
        });
    }
    let signature = require(PRESIGNED_SIGNATURE_PARAM)?;
    let auth = build(&credential, &signed_headers, &signature)?;
    Ok(Some((auth, amz_date)))
}

/// Does the raw query string look like a presigned request?
pub(crate) fn is_presigned(query: &str) -> bool {
    [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        PRESIGNED_SIGNATURE_PARAM,
    ]
    .iter()
    .any(|name| query_param(query, name).is_some())
}

/// The first `Authorization` header of a request, if any.
pub(crate) fn authorization_header<'a>(req: &Request<'a>) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
        .map(|(_, value)| *value)
}

/// Which auth does the request carry? The `Authorization` header wins over presigned query
/// parameters; `Ok(None)` when there is neither (anonymous request).
pub fn extract(req: &Request<'_>) -> Result<Option<Authorization>, ParseError> {
    match authorization_header(req) {
        Some(value) => parse_authorization(value).map(Some),
        None => Ok(parse_presigned(req.query)?.map(|(auth, _)| auth)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/monitoring/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd";

    #[test]
    fn parses_a_botocore_header() {
        let auth = parse_authorization(GOOD).expect("well-formed header parses");
        assert_eq!(auth.access_key_id, "AKID");
        assert_eq!(auth.date, "20261125");
        assert_eq!(auth.region, "us-east-1");
        assert_eq!(auth.service, "monitoring");
        assert_eq!(auth.signed_headers, ["host", "x-amz-date"]);
        assert_eq!(auth.signature, "abcd");
    }

    #[test]
    fn accepts_other_orders_and_no_spaces() {
        let v = "AWS4-HMAC-SHA256 Signature=abcd,SignedHeaders=host;x-amz-date,Credential=AKID/20261125/us-east-1/monitoring/aws4_request";
        assert_eq!(parse_authorization(v), parse_authorization(GOOD));
    }

    #[test]
    fn missing_components_message_matches_aws() {
        let err = parse_authorization("Basic dXNlcjpwYXNz").expect_err("not SigV4");
        assert_eq!(
            err.to_string(),
            "Authorization header requires 'Credential' parameter. Authorization header requires \
             'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. \
             Authorization=Basic dXNlcjpwYXNz"
        );
        assert_eq!(err.aws_code(), "IncompleteSignature");

        let err = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=A/20261125/r/s/aws4_request, Signature=ab",
        )
        .expect_err("no SignedHeaders");
        assert_eq!(
            err.to_string(),
            "Authorization header requires 'SignedHeaders' parameter. Authorization=AWS4-HMAC-SHA256 \
             Credential=A/20261125/r/s/aws4_request, Signature=ab"
        );
    }

    #[test]
    fn missing_equal_sign_message_matches_aws() {
        // A trailing space pasted into the access key id (a classic AWS support case).
        let v = "AWS4-HMAC-SHA256 Credential=AKID /20261125/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=ab";
        assert_eq!(
            parse_authorization(v)
                .expect_err("component without '='")
                .to_string(),
            format!(
                "'/20261125/us-east-1/monitoring/aws4_request' not a valid key=value pair (missing equal-sign) in Authorization header: '{v}'."
            )
        );
    }

    #[test]
    fn credential_shape_is_checked() {
        let with = |cred: &str| {
            parse_authorization(&format!(
                "AWS4-HMAC-SHA256 Credential={cred}, SignedHeaders=host, Signature=ab"
            ))
        };
        assert!(matches!(
            with("A/20261125/r/s"),
            Err(ParseError::MalformedCredential { .. })
        ));
        assert!(matches!(
            with("A/20261125/r/s/x/aws4_request"),
            Err(ParseError::MalformedCredential { .. })
        ));
        assert!(matches!(
            with("/20261125/r/s/aws4_request"),
            Err(ParseError::MalformedCredential { .. })
        ));
        assert!(matches!(
            with("A/20261125/r/s/aws4_requestx"),
            Err(ParseError::InvalidTerminator { .. })
        ));
        assert!(matches!(
            with("A/2026-11-25/r/s/aws4_request"),
            Err(ParseError::InvalidCredentialDate { .. })
        ));
        assert!(with("A/20261125/r/s/aws4_request").is_ok());
    }

    #[test]
    fn sigv4a_is_unsupported() {
        assert!(matches!(
            parse_authorization("AWS4-ECDSA-P256-SHA256 Credential=x"),
            Err(ParseError::UnsupportedAlgorithm { .. })
        ));
    }

    #[test]
    fn presigned_parameters() {
        assert_eq!(
            parse_presigned("Action=ListMetrics&Version=2010-08-01"),
            Ok(None)
        );
        let q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261125%2Fus-east-1%2Fsns%2Faws4_request&X-Amz-Date=20261125T120000Z&X-Amz-SignedHeaders=host%3Bx-a&X-Amz-Signature=ff";
        let (auth, date) = parse_presigned(q).expect("parses").expect("is presigned");
        assert_eq!(date, "20261125T120000Z");
        assert_eq!(auth.service, "sns");
        assert_eq!(auth.signed_headers, ["host", "x-a"]);
        assert_eq!(
            parse_presigned("X-Amz-Signature=ff"),
            Err(ParseError::MissingQueryParameter {
                parameter: "X-Amz-Algorithm"
            })
        );
    }

    #[test]
    fn extract_prefers_the_header() {
        let headers = [("Authorization", GOOD)];
        let req = Request {
            method: "GET",
            path: "/",
            query: "X-Amz-Signature=zz",
            headers: &headers,
            body: b"",
        };
        assert_eq!(
            extract(&req).expect("header parses").map(|a| a.signature),
            Some("abcd".into())
        );
        let anonymous = Request {
            headers: &[],
            query: "",
            ..req
        };
        assert_eq!(extract(&anonymous), Ok(None));
    }
}
