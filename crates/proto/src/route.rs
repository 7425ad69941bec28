//! Which service, protocol and operation a request is for (aws-api.md §4.4),
//! and the decoding of its body into a [`Document`].

use crate::cbor::decode_cbor;
use crate::document::Document;
use crate::json::decode_json;
use crate::query::decode_form;
use stratus_model::{ApiError, ErrorCode};

/// `X-Amz-Target` prefix and Smithy service name of CloudWatch.
pub const CLOUDWATCH_TARGET_PREFIX: &str = "GraniteServiceVersion20100801";
/// `X-Amz-Target` prefix of CloudWatch Logs (awsJson1_1).
pub const LOGS_TARGET_PREFIX: &str = "Logs_20140328";
/// awsQuery `Version` of CloudWatch.
pub const CLOUDWATCH_VERSION: &str = "2010-08-01";
/// awsQuery `Version` of SNS.
pub const SNS_VERSION: &str = "2010-03-31";
/// XML namespace of CloudWatch query responses.
pub const CLOUDWATCH_XMLNS: &str = "http://monitoring.amazonaws.com/doc/2010-08-01/";
/// XML namespace of SNS query responses.
pub const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";
/// Shape namespace of CloudWatch JSON/CBOR error `__type`s.
pub const CLOUDWATCH_JSON_NAMESPACE: &str = "com.amazonaws.cloudwatch.v2010_08_01";

/// Operation-name length cap (the longest real one is ~40 characters).
const MAX_ACTION_LEN: usize = 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    CloudWatch,
    Sns,
    /// CloudWatch Logs: awsJson1_1 only.
    Logs,
}

impl Service {
    /// The SigV4 credential-scope service name.
    pub fn signing_name(self) -> &'static str {
        match self {
            Service::CloudWatch => "monitoring",
            Service::Sns => "sns",
            Service::Logs => "logs",
        }
    }

    pub fn xmlns(self) -> &'static str {
        match self {
            // Logs has no query protocol; never asked for in practice.
            Service::CloudWatch | Service::Logs => CLOUDWATCH_XMLNS,
            Service::Sns => SNS_XMLNS,
        }
    }

    pub fn query_version(self) -> &'static str {
        match self {
            Service::CloudWatch | Service::Logs => CLOUDWATCH_VERSION,
            Service::Sns => SNS_VERSION,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Query,
    Json,
    Cbor,
}

/// What the router needs from an HTTP request head. Header values are raw;
/// `query` is the URL query string without `?`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestHead<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub content_type: Option<&'a str>,
    /// `X-Amz-Target`.
    pub target: Option<&'a str>,
    /// `smithy-protocol`.
    pub smithy_protocol: Option<&'a str>,
    /// `x-amzn-query-mode: true`.
    pub query_mode: bool,
    /// SigV4 credential-scope service: `"monitoring"` or `"sns"`.
    pub scope_service: Option<&'a str>,
}

/// A routed request: the body decoded, not yet typed.
#[derive(Clone, Debug, PartialEq)]
pub struct DecodedRequest {
    pub service: Service,
    pub protocol: Protocol,
    pub action: String,
    /// For Query a `Struct` without `Action`/`Version`; for JSON/CBOR the body's `Map`.
    pub params: Document,
}

/// The media type of a `Content-Type` value, lowercased, without parameters.
fn media_type(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

fn is_amz_json(media: &str) -> bool {
    media.starts_with("application/x-amz-json-")
}

/// Decides the protocol from the head alone, so that errors found before the
/// body is read or verified (auth, size) get the envelope the client parses.
pub fn sniff(head: &RequestHead<'_>) -> Protocol {
    let media = media_type(head.content_type);
    if head.path.starts_with("/service/")
        || head
            .smithy_protocol
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("rpc-v2-cbor"))
    {
        Protocol::Cbor
    } else if head.target.is_some() || is_amz_json(&media) {
        Protocol::Json
    } else if media == "application/cbor" {
        Protocol::Cbor
    } else {
        Protocol::Query
    }
}

/// The service a request is for, from the head alone (for error envelopes):
/// the SigV4 scope when it names SNS, Logs when the target or scope names it,
/// else CloudWatch.
pub fn sniff_service(head: &RequestHead<'_>) -> Service {
    match (sniff(head), head.scope_service) {
        (Protocol::Query, Some("sns")) => Service::Sns,
        (Protocol::Json, scope) if scope == Some("logs") || targets_logs(head.target) => {
            Service::Logs
        }
        _ => Service::CloudWatch,
    }
}

/// Whether an `X-Amz-Target` names a CloudWatch Logs operation.
pub fn targets_logs(target: Option<&str>) -> bool {
    target.is_some_and(|t| {
        t.strip_prefix(LOGS_TARGET_PREFIX)
            .is_some_and(|rest| rest.starts_with('.'))
    })
}

/// The bulk-write fast path: the input of awsJson1_0 CloudWatch operation
/// `action`, deserialized straight from the body's JSON object without the
/// intermediate [`Document`] tree (building and walking that tree was most
/// of a large PutMetricData's CPU). `None` — leave it to
/// [`decode_request`] — for any other protocol, operation or scope, and for
/// any body the direct decode refuses, so errors are still worded by the
/// general path. When it succeeds the value equals the general path's: the
/// same serde_json parser feeds the same `Deserialize` impl, with no value
/// conversion in between (a mistyped member fails here and falls back).
pub fn decode_json_direct<T: serde::de::DeserializeOwned>(
    head: &RequestHead<'_>,
    body: &[u8],
    action: &str,
) -> Option<T> {
    if sniff(head) != Protocol::Json
        || !head.method.eq_ignore_ascii_case("POST")
        || targets_logs(head.target)
        || check_scope(head, Service::CloudWatch).is_err()
    {
        return None;
    }
    let op = json_operation(head.target, Service::CloudWatch).ok()?;
    // serde would also read a struct from a JSON array; the protocol (and the
    // general path) only accept an object.
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if op != action || *first != b'{' {
        return None;
    }
    serde_json::from_slice(body).ok()
}

/// Routes and decodes a request. `body` must already be inflated.
pub fn decode_request(head: &RequestHead<'_>, body: &[u8]) -> Result<DecodedRequest, ApiError> {
    match sniff(head) {
        Protocol::Cbor => decode_rpc(head, body, Protocol::Cbor),
        Protocol::Json => decode_rpc(head, body, Protocol::Json),
        Protocol::Query => decode_query(head, body),
    }
}

fn invalid_action(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidAction, message)
}

fn check_action_name(action: &str) -> Result<(), ApiError> {
    if !action.starts_with(|c: char| c.is_ascii_alphabetic())
        || action.len() > MAX_ACTION_LEN
        || !action.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        let shown: String = action.chars().take(MAX_ACTION_LEN).collect();
        return Err(invalid_action(format!(
            "The action {shown} is not valid for this web service."
        )));
    }
    Ok(())
}

/// A request whose credential is scoped to another service than the one it
/// addresses (`sns` sent to CloudWatch, or `s3`, `iam`, ...) is refused the
/// way AWS refuses a wrongly scoped credential: a signature is only valid
/// for the service it names. Unsigned requests (`None`) are left to the
/// authenticator.
pub(crate) fn check_scope(head: &RequestHead<'_>, service: Service) -> Result<(), ApiError> {
    match head.scope_service {
        Some(scope) if scope != service.signing_name() => Err(ApiError::new(
            ErrorCode::SignatureDoesNotMatch,
            format!(
                "Credential should be scoped to correct service: '{}'.",
                service.signing_name()
            ),
        )),
        _ => Ok(()),
    }
}

/// awsJson1_0 and RPC v2 CBOR: the operation comes from the head, the body is
/// one object (an empty body is an empty input).
fn decode_rpc(
    head: &RequestHead<'_>,
    body: &[u8],
    protocol: Protocol,
) -> Result<DecodedRequest, ApiError> {
    let service = if protocol == Protocol::Json && targets_logs(head.target) {
        Service::Logs
    } else {
        Service::CloudWatch
    };
    let action = match protocol {
        Protocol::Cbor => {
            if head.target.is_some() {
                return Err(ApiError::new(
                    ErrorCode::MalformedInput,
                    "X-Amz-Target must not be sent with an RPC v2 CBOR request.",
                ));
            }
            cbor_operation(head.path)?
        }
        _ => json_operation(head.target, service)?,
    };
    if !head.method.eq_ignore_ascii_case("POST") {
        return Err(ApiError::new(
            ErrorCode::MalformedInput,
            format!("{action} must be sent with POST."),
        ));
    }
    check_scope(head, service)?;
    let params = if body.iter().all(u8::is_ascii_whitespace) {
        Document::Map(Vec::new())
    } else if protocol == Protocol::Cbor {
        decode_cbor(body)?
    } else {
        decode_json(body)?
    };
    if !matches!(params, Document::Map(_)) {
        return Err(ApiError::new(
            ErrorCode::MalformedInput,
            format!(
                "The request body must be an object, not a {}.",
                params.kind()
            ),
        ));
    }
    Ok(DecodedRequest {
        service,
        protocol,
        action,
        params,
    })
}

/// `GraniteServiceVersion20100801.<Op>` (or `Logs_20140328.<Op>`) → `<Op>`.
fn json_operation(target: Option<&str>, service: Service) -> Result<String, ApiError> {
    let target = target.unwrap_or_default();
    let prefix = match service {
        Service::Logs => LOGS_TARGET_PREFIX,
        _ => CLOUDWATCH_TARGET_PREFIX,
    };
    let op = target
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .ok_or_else(|| {
            let shown: String = target.chars().take(MAX_ACTION_LEN).collect();
            invalid_action(format!("Unknown X-Amz-Target {shown}."))
        })?;
    check_action_name(op)?;
    Ok(op.to_owned())
}

/// `/service/GraniteServiceVersion20100801/operation/<Op>` → `<Op>`.
fn cbor_operation(path: &str) -> Result<String, ApiError> {
    let op = path
        .strip_prefix("/service/")
        .and_then(|rest| rest.strip_prefix(CLOUDWATCH_TARGET_PREFIX))
        .and_then(|rest| rest.strip_prefix("/operation/"))
        .ok_or_else(|| {
            let shown: String = path.chars().take(MAX_ACTION_LEN).collect();
            invalid_action(format!("Unknown RPC v2 CBOR path {shown}."))
        })?;
    check_action_name(op)?;
    Ok(op.to_owned())
}

/// SNS operations, for the rare query request that carries neither `Version`
/// nor a SigV4 scope (the unsigned `GET /?Action=ConfirmSubscription` link).
/// The names shared with CloudWatch (`TagResource`, ...) are not listed.
const SNS_ONLY_ACTIONS: &[&str] = &[
    "AddPermission",
    "ConfirmSubscription",
    "CreateTopic",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetSubscriptionAttributes",
    "GetTopicAttributes",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "ListTopics",
    "Publish",
    "PublishBatch",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "Unsubscribe",
];

/// awsQuery: parameters from the URL query string and then the form body.
fn decode_query(head: &RequestHead<'_>, body: &[u8]) -> Result<DecodedRequest, ApiError> {
    let form = if head.method.eq_ignore_ascii_case("GET") || body.is_empty() {
        decode_form(&[head.query.as_bytes()])?
    } else {
        decode_form(&[head.query.as_bytes(), body])?
    };
    let action = form
        .action
        .filter(|a| !a.is_empty())
        .ok_or_else(|| ApiError::missing("Action"))?;
    check_action_name(&action)?;
    let service = match form.version.as_deref() {
        Some(CLOUDWATCH_VERSION) => Service::CloudWatch,
        Some(SNS_VERSION) => Service::Sns,
        Some(other) => {
            let shown: String = other.chars().take(32).collect();
            return Err(ApiError::new(
                ErrorCode::InvalidParameterValue,
                format!(
                    "Version {shown} is not supported (use {CLOUDWATCH_VERSION} or {SNS_VERSION})."
                ),
            ));
        }
        None => match head.scope_service {
            Some("sns") => Service::Sns,
            Some("monitoring") => Service::CloudWatch,
            _ if SNS_ONLY_ACTIONS.contains(&action.as_str()) => Service::Sns,
            _ => Service::CloudWatch,
        },
    };
    check_scope(head, service)?;
    Ok(DecodedRequest {
        service,
        protocol: Protocol::Query,
        action,
        params: form.params,
    })
}

#[cfg(test)]
mod direct_tests {
    use super::*;
    use stratus_model::ops::put_metric_data::PutMetricDataInput;

    fn head(target: &str) -> RequestHead<'_> {
        RequestHead {
            method: "POST",
            path: "/",
            content_type: Some("application/x-amz-json-1.0"),
            target: Some(target),
            scope_service: Some("monitoring"),
            ..RequestHead::default()
        }
    }

    const PUT: &str = "GraniteServiceVersion20100801.PutMetricData";

    /// What the general path makes of `body`, as text (the input has no
    /// PartialEq; Debug prints every member, floats exactly).
    fn general(body: &str) -> Option<String> {
        let d = decode_request(&head(PUT), body.as_bytes()).ok()?;
        let input: PutMetricDataInput = crate::from_document(d.params).ok()?;
        Some(format!("{input:?}"))
    }

    fn direct(body: &str) -> Option<String> {
        decode_json_direct::<PutMetricDataInput>(&head(PUT), body.as_bytes(), "PutMetricData")
            .map(|i| format!("{i:?}"))
    }

    /// Where the direct decode answers, it answers what the general path
    /// does; where it declines, the general path is left to answer.
    #[test]
    fn direct_decode_equals_the_general_path_or_declines() {
        let same = [
            r#"{"Namespace":"ns","MetricData":[{"MetricName":"cpu","Value":97.49373433583960,
                "Timestamp":1765000000.5,"Unit":"Percent","StorageResolution":1,
                "Dimensions":[{"Name":"host","Value":"h\u00e9\n"}]}]}"#,
            r#"{"Namespace":"ns","MetricData":[{"MetricName":"m","Values":[1,2.5,1e300],
                "Counts":[3,1,18446744073709551615],"Timestamp":"2026-12-07T10:00:00Z"},
                {"MetricName":"s","StatisticValues":{"SampleCount":2,"Sum":3,"Minimum":1,"Maximum":2}}],
                "Unknown":{"x":[1]}}"#,
            r#"  {"Namespace":"ns","MetricData":[],"StrictEntityValidation":true,
                "EntityMetricData":[{"Entity":{"KeyAttributes":{"Type":"Service"},"Attributes":{}},
                "MetricData":[{"MetricName":"e","Value":-0.0}]}]}"#,
            r#"{}"#,
        ];
        for body in same {
            let d = direct(body);
            assert!(d.is_some(), "declined {body}");
            assert_eq!(d, general(body), "{body}");
        }
        // Mistyped or malformed: declined (the general path words the error).
        for body in [
            r#"{"Namespace":"ns","MetricData":[{"MetricName":"m","Value":"NaN"}]}"#,
            r#"{"Namespace":5}"#,
            r#"["ns",[]]"#,
            r#"{"Namespace":"ns""#,
            "",
        ] {
            assert_eq!(direct(body), None, "{body}");
        }
        // Other operations, protocols, services and scopes are not taken.
        let body = br#"{"Namespace":"ns"}"#;
        let other = head("GraniteServiceVersion20100801.ListMetrics");
        assert!(decode_json_direct::<PutMetricDataInput>(&other, body, "PutMetricData").is_none());
        let logs = head("Logs_20140328.PutMetricData");
        assert!(decode_json_direct::<PutMetricDataInput>(&logs, body, "PutMetricData").is_none());
        let mut wrong_scope = head(PUT);
        wrong_scope.scope_service = Some("sns");
        assert!(
            decode_json_direct::<PutMetricDataInput>(&wrong_scope, body, "PutMetricData").is_none()
        );
        let mut get = head(PUT);
        get.method = "GET";
        assert!(decode_json_direct::<PutMetricDataInput>(&get, body, "PutMetricData").is_none());
        let cbor = RequestHead {
            path: "/service/GraniteServiceVersion20100801/operation/PutMetricData",
            content_type: Some("application/cbor"),
            target: None,
            ..head(PUT)
        };
        assert!(decode_json_direct::<PutMetricDataInput>(&cbor, body, "PutMetricData").is_none());
    }
}
