//! awsJson1_0 bodies: JSON ⇄ [`Document`].
//!
//! Decoding goes straight from serde_json's tokens into a `Document` (no
//! intermediate `serde_json::Value`); integers become `Int`, every other
//! number `Float`. Encoding writes timestamps as epoch-seconds numbers and
//! blobs as base64 strings, as the awsJson protocol does.

use crate::document::Document;
use base64::Engine as _;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use std::fmt;
use stratus_model::{ApiError, ErrorCode};

/// Cap on speculative preallocation from untrusted length hints.
const MAX_PREALLOC: usize = 4096;
/// serde_json gives no length hints; most AWS structures have a handful of
/// members, so start maps here rather than growing 0 → 4 → 8.
const MAP_START_CAPACITY: usize = 8;

/// Parses a JSON text into a `Document`. Nesting is bounded by serde_json's
/// recursion limit (128), so hostile input cannot overflow the stack.
pub fn decode_json(body: &[u8]) -> Result<Document, ApiError> {
    // One UTF-8 check of the whole body (fast ASCII path) lets serde_json's
    // `StrRead` skip validating every string separately.
    let text = std::str::from_utf8(body).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedInput,
            format!("Request body is not valid UTF-8: {e}"),
        )
    })?;
    serde_json::from_str(text).map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedInput,
            format!("Request body is not valid JSON: {e}"),
        )
    })
}

/// Serializes a `Document` as JSON (timestamps as epoch seconds, blobs base64).
pub fn encode_json(doc: &Document) -> Vec<u8> {
    // Our Serialize impl never fails (keys are strings already); the fallback
    // only exists so this function has no panic path.
    serde_json::to_vec(doc).unwrap_or_else(|_| b"{}".to_vec())
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DocumentVisitor)
    }
}

struct DocumentVisitor;

impl<'de> Visitor<'de> for DocumentVisitor {
    type Value = Document;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Document, E> {
        Ok(Document::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Document, E> {
        Ok(Document::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Document, E> {
        Ok(i64::try_from(v).map_or(Document::Float(v as f64), Document::Int))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Document, E> {
        Ok(Document::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Document, E> {
        Ok(Document::String(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Document, E> {
        Ok(Document::String(v))
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Document, E> {
        Ok(Document::Blob(v.to_vec()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Document, E> {
        Ok(Document::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Document, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Document, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_PREALLOC));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Document::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Document, A::Error> {
        let hint = map.size_hint().unwrap_or(MAP_START_CAPACITY);
        let mut members = Vec::with_capacity(hint.min(MAX_PREALLOC));
        while let Some((k, v)) = map.next_entry::<String, Document>()? {
            members.push((k, v));
        }
        Ok(Document::Map(members))
    }
}

/// The JSON shape of a `Document` (awsJson conventions).
impl Serialize for Document {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Document::Null => s.serialize_unit(),
            Document::Bool(b) => s.serialize_bool(*b),
            Document::Int(i) => s.serialize_i64(*i),
            Document::Float(f) => s.serialize_f64(*f),
            Document::String(v) => s.serialize_str(v),
            Document::Blob(b) => {
                s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            Document::Timestamp(t) => s.serialize_f64(t.seconds_f64()),
            Document::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Document::Map(members) | Document::Struct(members) => {
                let mut map = s.serialize_map(Some(members.len()))?;
                for (k, v) in members {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratus_model::Timestamp;

    #[test]
    fn numbers_keep_their_kind() {
        let doc =
            decode_json(br#"{"a": 1, "b": 1.5, "c": -3, "d": 18446744073709551615, "e": null}"#)
                .expect("valid json");
        assert_eq!(doc.get("a"), Some(&Document::Int(1)));
        assert_eq!(doc.get("b"), Some(&Document::Float(1.5)));
        assert_eq!(doc.get("c"), Some(&Document::Int(-3)));
        assert_eq!(doc.get("d"), Some(&Document::Float(18446744073709551615.0)));
        assert_eq!(doc.get("e"), Some(&Document::Null));
    }

    #[test]
    fn timestamps_are_epoch_seconds_and_blobs_base64() {
        let doc = Document::Struct(vec![
            (
                "T".into(),
                Document::Timestamp(Timestamp(1_765_977_780_000)),
            ),
            ("U".into(), Document::Timestamp(Timestamp(1_500))),
            ("B".into(), Document::Blob(vec![0, 1])),
        ]);
        let text = String::from_utf8(encode_json(&doc)).expect("utf8");
        assert_eq!(text, r#"{"T":1765977780.0,"U":1.5,"B":"AAE="}"#);
    }

    #[test]
    fn rejects_garbage_with_malformed_input() {
        let err = decode_json(b"{\"a\":").expect_err("truncated");
        assert_eq!(err.code, ErrorCode::MalformedInput);
        let deep = "[".repeat(10_000);
        assert!(decode_json(deep.as_bytes()).is_err());
    }
}
