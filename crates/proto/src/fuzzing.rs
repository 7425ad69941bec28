//! Fuzz harnesses, shared by the cargo-fuzz targets in `fuzz/` and by the
//! regression test that replays saved crash inputs under plain `cargo test`.
//! Not a stable API.

use crate::{
    Document, Protocol, RequestHead, Service, decode_json_direct, decode_query_put_metric_data,
    decode_request, decode_xml_response, encode_cbor, encode_error, encode_json, encode_response,
    from_document, to_document,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use stratus_model::{ApiError, Timestamp};

/// A stand-in for an operation input with every kind of member the real
/// inputs use (PascalCase, optional, nested lists, timestamps, enums, maps).
#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SampleInput {
    pub namespace: Option<String>,
    #[serde(default)]
    pub metric_data: Vec<SampleDatum>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub next_token: Option<String>,
    pub max_records: Option<i32>,
    pub start_time: Option<Timestamp>,
    pub flag: Option<bool>,
    pub blob: Option<serde_bytes_like::Bytes>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SampleDatum {
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Vec<SampleDimension>,
    pub timestamp: Option<Timestamp>,
    pub value: Option<f64>,
    #[serde(default)]
    pub values: Vec<f64>,
    pub unit: Option<SampleUnit>,
    pub storage_resolution: Option<u32>,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SampleDimension {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Deserialize, Serialize)]
pub enum SampleUnit {
    Percent,
    Count,
    Seconds,
}

/// `Vec<u8>` that (de)serializes as bytes, without pulling in serde_bytes.
pub mod serde_bytes_like {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Debug)]
    pub struct Bytes(pub Vec<u8>);

    impl Serialize for Bytes {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(&self.0)
        }
    }

    impl<'de> Deserialize<'de> for Bytes {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl serde::de::Visitor<'_> for V {
                type Value = Bytes;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("bytes")
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Bytes, E> {
                    Ok(Bytes(v))
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Bytes, E> {
                    Ok(Bytes(v.to_vec()))
                }
            }
            d.deserialize_byte_buf(V)
        }
    }
}

const QUERY_HEAD: RequestHead<'static> = RequestHead {
    method: "POST",
    path: "/",
    query: "",
    content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
    target: None,
    smithy_protocol: None,
    query_mode: false,
    scope_service: None,
};

const JSON_HEAD: RequestHead<'static> = RequestHead {
    method: "POST",
    path: "/",
    query: "",
    content_type: Some("application/x-amz-json-1.0"),
    target: Some("GraniteServiceVersion20100801.PutMetricData"),
    smithy_protocol: None,
    query_mode: true,
    scope_service: Some("monitoring"),
};

const CBOR_HEAD: RequestHead<'static> = RequestHead {
    method: "POST",
    path: "/service/GraniteServiceVersion20100801/operation/PutMetricData",
    query: "",
    content_type: Some("application/cbor"),
    target: None,
    smithy_protocol: Some("rpc-v2-cbor"),
    query_mode: true,
    scope_service: Some("monitoring"),
};

/// Everything downstream of a decoded request must hold for any input:
/// typed and generic deserialization never panic, and whatever we decoded
/// can be written back in every protocol, with well-formed XML.
fn exercise(decoded: Result<crate::DecodedRequest, ApiError>) {
    let req = match decoded {
        Ok(req) => req,
        Err(err) => {
            check_error_envelopes(&err);
            return;
        }
    };
    let generic: Result<serde_json::Value, _> = from_document(req.params.clone());
    if let Ok(value) = &generic {
        let _ = to_document(value);
    }
    match from_document::<SampleInput>(req.params.clone()) {
        Ok(input) => {
            let doc = to_document(&input);
            check_outputs(req.service, &req.action, &doc);
        }
        Err(err) => check_error_envelopes(&err),
    }
    check_outputs(req.service, &req.action, &req.params);
}

fn check_outputs(service: Service, action: &str, doc: &Document) {
    let xml = encode_response(service, Protocol::Query, action, doc, "req-1");
    if let Err(err) = decode_xml_response(&xml.body) {
        panic!(
            "our XML must parse back: {err}: {}",
            String::from_utf8_lossy(&xml.body)
        );
    }
    let json = encode_json(doc);
    if let Err(err) = crate::decode_json(&json) {
        panic!("our JSON must parse back: {err}");
    }
    let cbor = encode_cbor(doc);
    if let Err(err) = crate::decode_cbor(&cbor) {
        panic!("our CBOR must parse back: {err}");
    }
}

fn check_error_envelopes(err: &ApiError) {
    for protocol in [Protocol::Query, Protocol::Json, Protocol::Cbor] {
        let resp = encode_error(Service::CloudWatch, protocol, err, "req-1", true);
        if protocol == Protocol::Query
            && let Err(e) = decode_xml_response(&resp.body)
        {
            panic!("our error XML must parse back: {e}");
        }
    }
}

/// `decode_query` target: the bytes are an awsQuery form body.
pub fn decode_query(data: &[u8]) {
    exercise(decode_request(&QUERY_HEAD, data));
    query_direct_equals_general(&QUERY_HEAD, data);
    // The same bytes as a GET query string.
    if let Ok(query) = std::str::from_utf8(data) {
        let head = RequestHead {
            method: "GET",
            query,
            content_type: None,
            ..QUERY_HEAD
        };
        exercise(decode_request(&head, b""));
        query_direct_equals_general(&head, b"");
    }
}

/// Differential check of the awsQuery PutMetricData fast path: whenever
/// [`decode_query_put_metric_data`] takes a request, the general path must
/// take it too and yield the same input.
pub fn query_direct_equals_general(head: &RequestHead<'_>, body: &[u8]) {
    use stratus_model::ops::put_metric_data::PutMetricDataInput;
    let Some(direct) = decode_query_put_metric_data(head, body) else {
        return;
    };
    let general = decode_request(head, body)
        .ok()
        .filter(|r| r.service == Service::CloudWatch && r.action == "PutMetricData")
        .and_then(|r| from_document::<PutMetricDataInput>(r.params).ok());
    assert_eq!(
        Some(format!("{direct:?}")),
        general.map(|g| format!("{g:?}")),
        "the direct query decode differs from the general path"
    );
}

/// `decode_json` target: the bytes are an awsJson1_0 body.
pub fn decode_json(data: &[u8]) {
    exercise(decode_request(&JSON_HEAD, data));
    direct_equals_general(data);
}

/// Differential check of the PutMetricData fast path: whenever
/// [`decode_json_direct`] takes a body, the general path (Document, then
/// `from_document`) must take it too and yield the same input.
fn direct_equals_general(data: &[u8]) {
    use stratus_model::ops::put_metric_data::PutMetricDataInput;
    let Some(direct) = decode_json_direct::<PutMetricDataInput>(&JSON_HEAD, data, "PutMetricData")
    else {
        return;
    };
    let general = decode_request(&JSON_HEAD, data)
        .ok()
        .and_then(|r| from_document::<PutMetricDataInput>(r.params).ok());
    assert_eq!(
        Some(format!("{direct:?}")),
        general.map(|g| format!("{g:?}")),
        "the direct decode differs from the general path"
    );
}

/// `decode_cbor` target: the bytes are an RPC v2 CBOR body.
pub fn decode_cbor(data: &[u8]) {
    exercise(decode_request(&CBOR_HEAD, data));
}
