//! Success and error envelopes for each protocol (aws-api.md §4.3).
//!
//! Header names are lowercase (HTTP header names are case-insensitive, and
//! lowercase is what `http::HeaderName::from_static` accepts).

use crate::cbor::encode_cbor;
use crate::document::Document;
use crate::json::encode_json;
use crate::route::{CLOUDWATCH_JSON_NAMESPACE, Protocol, Service};
use crate::xml::{close, escape_into, push_name, text_element, write_element, write_members};
use stratus_model::{ApiError, ErrorCode, Fault};

/// An encoded HTTP response: status, headers (lowercase names) and body.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub const CONTENT_TYPE_XML: &str = "text/xml";
pub const CONTENT_TYPE_JSON: &str = "application/x-amz-json-1.0";
/// CloudWatch Logs speaks awsJson1_1.
pub const CONTENT_TYPE_JSON_1_1: &str = "application/x-amz-json-1.1";
pub const CONTENT_TYPE_CBOR: &str = "application/cbor";

fn base_headers(
    service: Service,
    protocol: Protocol,
    request_id: &str,
) -> Vec<(&'static str, String)> {
    let mut headers = Vec::with_capacity(5);
    match protocol {
        Protocol::Query => headers.push(("content-type", CONTENT_TYPE_XML.to_owned())),
        Protocol::Json if service == Service::Logs => {
            headers.push(("content-type", CONTENT_TYPE_JSON_1_1.to_owned()))
        }
        Protocol::Json => headers.push(("content-type", CONTENT_TYPE_JSON.to_owned())),
        Protocol::Cbor => {
            headers.push(("content-type", CONTENT_TYPE_CBOR.to_owned()));
            // aws-sdk-go-v2 rejects CBOR responses without it (AWS-recorded).
            headers.push(("smithy-protocol", "rpc-v2-cbor".to_owned()));
        }
    }
    headers.push(("x-amzn-requestid", request_id.to_owned()));
    headers
}

fn response_metadata(out: &mut String, request_id: &str) {
    out.push_str("<ResponseMetadata>");
    text_element(out, "RequestId", request_id);
    out.push_str("</ResponseMetadata>");
}

fn xml_open_with_ns(out: &mut String, name: &str, xmlns: &str) {
    out.push('<');
    push_name(out, name);
    out.push_str(" xmlns=\"");
    escape_into(out, xmlns);
    out.push_str("\">");
}

/// A success response for `action` carrying `output` (usually from
/// [`crate::to_document`]). An empty output (`Null` or no members) is the
/// empty envelope: no `<{Action}Result>`, `{}` or an empty CBOR map.
pub fn encode_response(
    service: Service,
    protocol: Protocol,
    action: &str,
    output: &Document,
    request_id: &str,
) -> Response {
    let body = match protocol {
        Protocol::Query => query_success(service, action, output, request_id).into_bytes(),
        Protocol::Json if output.is_empty_output() => b"{}".to_vec(),
        Protocol::Json => encode_json(output),
        Protocol::Cbor if output.is_empty_output() => encode_cbor(&Document::Map(Vec::new())),
        Protocol::Cbor => encode_cbor(output),
    };
    Response {
        status: 200,
        headers: base_headers(service, protocol, request_id),
        body,
    }
}

/// Query operations whose modeled output shape has no members: clients
/// (botocore) still look for their empty `<{Action}Result>` element, while
/// operations without an output shape answer the bare envelope.
fn has_empty_result(service: Service, action: &str) -> bool {
    const CLOUDWATCH: &[&str] = &[
        "DeleteAnomalyDetector",
        "DeleteDashboards",
        "DeleteMetricStream",
        "PutAnomalyDetector",
        "PutInsightRule",
        "StartMetricStreams",
        "StopMetricStreams",
        "TagResource",
        "UntagResource",
    ];
    const SNS: &[&str] = &[
        "CreateSMSSandboxPhoneNumber",
        "DeleteSMSSandboxPhoneNumber",
        "OptInPhoneNumber",
        "SetSMSAttributes",
        "TagResource",
        "UntagResource",
        "VerifySMSSandboxPhoneNumber",
    ];
    match service {
        Service::CloudWatch => CLOUDWATCH.contains(&action),
        Service::Sns => SNS.contains(&action),
        Service::Logs => false,
    }
}

fn query_success(service: Service, action: &str, output: &Document, request_id: &str) -> String {
    let response_name = format!("{action}Response");
    let result_name = format!("{action}Result");
    let mut out = String::with_capacity(256);
    xml_open_with_ns(&mut out, &response_name, service.xmlns());
    if output.is_empty_output() && has_empty_result(service, action) {
        crate::xml::open(&mut out, &result_name);
        close(&mut out, &result_name);
    } else if !output.is_empty_output() {
        match output {
            Document::Struct(members) | Document::Map(members) => {
                crate::xml::open(&mut out, &result_name);
                write_members(&mut out, members);
                close(&mut out, &result_name);
            }
            other => write_element(&mut out, &result_name, other),
        }
    }
    response_metadata(&mut out, request_id);
    close(&mut out, &response_name);
    out
}

/// The `__type` of a JSON/CBOR error: `<namespace>#<Shape>`.
fn error_type(service: Service, code: ErrorCode) -> String {
    match (service, code) {
        // Schema violations are reported by the Coral validator, not the service model.
        (_, ErrorCode::ValidationError) => {
            "com.amazon.coral.validate#ValidationException".to_owned()
        }
        (Service::CloudWatch, _) => format!("{CLOUDWATCH_JSON_NAMESPACE}#{}", code.shape()),
        (Service::Sns, _) => format!("com.amazonaws.sns.v2010_03_31#{}", code.shape()),
        // CloudWatch Logs answers bare shape names (`ResourceNotFoundException`).
        (Service::Logs, _) => logs_shape(code).to_owned(),
    }
}

/// The exception name CloudWatch Logs gives a code: its own names for the
/// authentication refusals and the generic ones, else the code's shape.
fn logs_shape(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidClientTokenId => "UnrecognizedClientException",
        ErrorCode::SignatureDoesNotMatch | ErrorCode::IncompleteSignature => {
            "InvalidSignatureException"
        }
        ErrorCode::AccessDenied => "AccessDeniedException",
        ErrorCode::ServiceUnavailable => "ServiceUnavailableException",
        ErrorCode::InvalidAction => "UnknownOperationException",
        ErrorCode::MalformedInput
        | ErrorCode::ValidationError
        | ErrorCode::InvalidParameterValue
        | ErrorCode::MissingParameter
        | ErrorCode::InvalidParameterCombination => "InvalidParameterException",
        ErrorCode::InternalServiceError | ErrorCode::InternalError => "ServiceUnavailableException",
        other => other.shape(),
    }
}

/// Refusals made before any operation is looked at — authentication and the
/// body cap — keep their own status (403, 413) in every protocol and mode:
/// AWS answers them from its front door, not from the service model.
fn is_front_door(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::IncompleteSignature
            | ErrorCode::InvalidClientTokenId
            | ErrorCode::SignatureDoesNotMatch
            | ErrorCode::RequestExpired
            | ErrorCode::MissingAuthenticationToken
            | ErrorCode::RequestEntityTooLarge
    )
}

/// An error response. Query: `<ErrorResponse>` with the modeled status.
/// JSON/CBOR: `{"__type", "message"}` plus `x-amzn-query-error:
/// <Code>;<Fault>` (always — SDKs need it to map `...Exception` shapes),
/// with the modeled status when the client sent `x-amzn-query-mode: true`
/// or the refusal is [`is_front_door`], else 400 for sender faults and 500
/// for receiver faults.
pub fn encode_error(
    service: Service,
    protocol: Protocol,
    err: &ApiError,
    request_id: &str,
    query_mode: bool,
) -> Response {
    let code = err.code;
    let fault = code.fault();
    let mut headers = base_headers(service, protocol, request_id);
    let (status, body) = match protocol {
        Protocol::Query => {
            let mut out = String::with_capacity(256);
            xml_open_with_ns(&mut out, "ErrorResponse", service.xmlns());
            out.push_str("<Error>");
            text_element(&mut out, "Type", fault.as_str());
            text_element(&mut out, "Code", code.code());
            // AWS leaves out a message it does not have (e.g. SetAlarmState's
            // ResourceNotFound) rather than sending an empty one.
            if !err.message.is_empty() {
                text_element(&mut out, "Message", &err.message);
            }
            out.push_str("</Error>");
            text_element(&mut out, "RequestId", request_id);
            out.push_str("</ErrorResponse>");
            (code.status(), out.into_bytes())
        }
        Protocol::Json if service == Service::Logs => {
            // awsJson1_1 has no query compatibility: 400 for the caller's
            // faults (also "not found"), the front door's own statuses,
            // 500/503 for ours.
            let status = if is_front_door(code) || code == ErrorCode::ServiceUnavailable {
                code.status()
            } else if fault == Fault::Receiver {
                500
            } else {
                400
            };
            let envelope = Document::Map(vec![
                (
                    "__type".to_owned(),
                    Document::String(error_type(service, code)),
                ),
                ("message".to_owned(), Document::String(err.message.clone())),
            ]);
            headers.push(("x-amzn-errortype", logs_shape(code).to_owned()));
            (status, encode_json(&envelope))
        }
        Protocol::Json | Protocol::Cbor => {
            let status = if query_mode || is_front_door(code) {
                code.status()
            } else if fault == Fault::Receiver {
                500
            } else {
                400
            };
            let mut envelope = vec![(
                "__type".to_owned(),
                Document::String(error_type(service, code)),
            )];
            // As in the query envelope: no member for a message AWS does not send.
            if !err.message.is_empty() {
                envelope.push(("message".to_owned(), Document::String(err.message.clone())));
            }
            let envelope = Document::Map(envelope);
            headers.push((
                "x-amzn-query-error",
                format!("{};{}", code.code(), fault.as_str()),
            ));
            let body = if protocol == Protocol::Json {
                headers.push(("x-amzn-errortype", code.shape().to_owned()));
                encode_json(&envelope)
            } else {
                encode_cbor(&envelope)
            };
            (status, body)
        }
    };
    Response {
        status,
        headers,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::decode_xml_response;

    #[test]
    fn auth_and_size_refusals_keep_their_status_without_query_mode() {
        for (code, status) in [
            (ErrorCode::MissingAuthenticationToken, 403),
            (ErrorCode::SignatureDoesNotMatch, 403),
            (ErrorCode::IncompleteSignature, 403),
            (ErrorCode::InvalidClientTokenId, 403),
            (ErrorCode::RequestEntityTooLarge, 413),
        ] {
            let err = ApiError::new(code, "m");
            for protocol in [Protocol::Json, Protocol::Cbor, Protocol::Query] {
                for query_mode in [false, true] {
                    let r = encode_error(Service::CloudWatch, protocol, &err, "r", query_mode);
                    assert_eq!(r.status, status, "{code:?} {protocol:?} {query_mode}");
                }
            }
        }
        // A modeled service error still follows the query-mode rule.
        let err = ApiError::new(ErrorCode::ResourceNotFound, "m");
        let r = encode_error(Service::CloudWatch, Protocol::Json, &err, "r", false);
        assert_eq!(r.status, 400);
    }

    #[test]
    fn envelope_names_stay_well_formed_for_odd_actions() {
        // Found by fuzzing: an action that is not an XML name must not break
        // the document (decode_request refuses such actions; this is defence
        // in depth for other callers).
        for action in ["4Publish", "a b", "<x>", ""] {
            let resp = encode_response(Service::Sns, Protocol::Query, action, &Document::Null, "r");
            assert!(decode_xml_response(&resp.body).is_ok(), "{action}");
        }
    }

    #[test]
    fn empty_modeled_outputs_keep_their_result_element() {
        let body = |action: &str| {
            let r = encode_response(
                Service::CloudWatch,
                Protocol::Query,
                action,
                &Document::Struct(Vec::new()),
                "r",
            );
            String::from_utf8(r.body).unwrap()
        };
        assert!(body("TagResource").contains("<TagResourceResult></TagResourceResult>"));
        assert!(!body("PutMetricData").contains("Result"));
    }
}
