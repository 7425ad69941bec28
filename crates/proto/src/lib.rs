//! Wire protocols for Stratus: turns HTTP request heads and bodies into a
//! protocol-neutral [`Document`] and operation inputs, and turns operation
//! outputs and [`ApiError`]s back into bytes.
//!
//! It owns the three CloudWatch codecs (awsQuery form + XML, awsJson1_0 and
//! Smithy RPC v2 CBOR), the SNS awsQuery codec, the routing rules that decide
//! service/protocol/action from a request head (aws-api.md §4.4), the error
//! envelopes (§4.3) and the gzip zip-bomb guard. It must not know what an
//! operation means: inputs and outputs are plain serde types defined in
//! `stratus-model`, validation lives there, and there is no IO, HTTP stack,
//! async or storage here — the server hands in a head and bytes and gets
//! bytes back.

mod cbor;
mod de;
mod document;
#[doc(hidden)]
pub mod fuzzing;
mod gzip;
mod json;
mod number;
mod query;
mod query_direct;
mod response;
mod route;
mod ser;
mod xml;

pub use cbor::{decode_cbor, encode_cbor};
pub use de::from_document;
pub use document::Document;
pub use gzip::inflate_gzip;
pub use json::{decode_json, encode_json};
pub use query::{QueryParams, decode_form, encode_query_request};
pub use query_direct::decode_query_put_metric_data;
pub use response::{
    CONTENT_TYPE_CBOR, CONTENT_TYPE_JSON, CONTENT_TYPE_XML, Response, encode_error, encode_response,
};
pub use route::{
    CLOUDWATCH_JSON_NAMESPACE, CLOUDWATCH_TARGET_PREFIX, CLOUDWATCH_VERSION, CLOUDWATCH_XMLNS,
    DecodedRequest, LOGS_TARGET_PREFIX, Protocol, RequestHead, SNS_VERSION, SNS_XMLNS, Service,
    decode_json_direct, decode_request, sniff, sniff_service, targets_logs,
};
pub use ser::{SerError, to_document, try_to_document};
pub use xml::{decode_xml_response, query_result};

pub use stratus_model::{ApiError, ErrorCode};
