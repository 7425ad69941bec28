//! Smithy RPC v2 CBOR bodies: CBOR ⇄ [`Document`].
//!
//! Decoding uses minicbor's low-level `Decoder` so that any valid CBOR is
//! accepted (definite and indefinite lengths, f16/f32/f64, every integer
//! width, tag 1 timestamps as int or float). Hostile input is bounded: nesting
//! depth is capped, and declared lengths are checked against the bytes left
//! before anything is preallocated.

use crate::document::Document;
use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};
use stratus_model::{ApiError, ErrorCode, Timestamp};

/// Deepest nesting of arrays/maps/tags accepted (Smithy shapes nest a few levels).
pub const MAX_CBOR_DEPTH: usize = 64;

/// CBOR tag for "epoch-based date/time" (RFC 8949 §3.4.2).
const TAG_EPOCH: u64 = 1;

/// Decodes one CBOR data item (the whole body) into a `Document`.
pub fn decode_cbor(body: &[u8]) -> Result<Document, ApiError> {
    let mut d = Decoder::new(body);
    let doc = item(&mut d, 0).map_err(malformed)?;
    if d.position() != body.len() {
        return Err(malformed("trailing bytes after the CBOR data item"));
    }
    Ok(doc)
}

fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::MalformedInput,
        format!("Request body is not valid CBOR: {detail}"),
    )
}

/// Why a CBOR item could not be decoded (message only; mapped to MalformedInput).
#[derive(Debug, thiserror::Error)]
enum CborError {
    #[error(transparent)]
    Decode(#[from] minicbor::decode::Error),
    #[error("{0}")]
    Invalid(&'static str),
}

fn item(d: &mut Decoder<'_>, depth: usize) -> Result<Document, CborError> {
    if depth > MAX_CBOR_DEPTH {
        return Err(CborError::Invalid("nesting too deep"));
    }
    Ok(match d.datatype()? {
        Type::Bool => Document::Bool(d.bool()?),
        Type::Null => {
            d.null()?;
            Document::Null
        }
        Type::Undefined => {
            d.undefined()?;
            Document::Null
        }
        Type::U8
        | Type::U16
        | Type::U32
        | Type::U64
        | Type::I8
        | Type::I16
        | Type::I32
        | Type::I64
        | Type::Int => {
            let v = i128::from(d.int()?);
            i64::try_from(v).map_or(Document::Float(v as f64), Document::Int)
        }
        Type::F16 | Type::F32 | Type::F64 => Document::Float(d.f64()?),
        Type::Bytes => Document::Blob(d.bytes()?.to_vec()),
        Type::BytesIndef => {
            let mut out = Vec::new();
            for chunk in d.bytes_iter()? {
                out.extend_from_slice(chunk?);
            }
            Document::Blob(out)
        }
        Type::String | Type::StringIndef => Document::String(text(d)?),
        Type::Array | Type::ArrayIndef => {
            let mut items = match d.array()? {
                Some(n) => {
                    let n = bounded_len(d, n, 1)?;
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(item(d, depth + 1)?);
                    }
                    return Ok(Document::List(items));
                }
                None => Vec::new(),
            };
            while !at_break(d)? {
                items.push(item(d, depth + 1)?);
            }
            Document::List(items)
        }
        Type::Map | Type::MapIndef => {
            let mut members = match d.map()? {
                Some(n) => {
                    let n = bounded_len(d, n, 2)?;
                    let mut members = Vec::with_capacity(n);
                    for _ in 0..n {
                        let k = text(d)?;
                        members.push((k, item(d, depth + 1)?));
                    }
                    return Ok(Document::Map(members));
                }
                None => Vec::new(),
            };
            while !at_break(d)? {
                let k = text(d)?;
                members.push((k, item(d, depth + 1)?));
            }
            Document::Map(members)
        }
        Type::Tag => {
            let tag = d.tag()?;
            let inner = item(d, depth + 1)?;
            if tag.as_u64() == TAG_EPOCH {
                let secs = match inner {
                    Document::Int(i) => i as f64,
                    Document::Float(f) => f,
                    _ => return Err(CborError::Invalid("tag 1 must wrap a number")),
                };
                let ts = Timestamp::from_seconds_f64(secs)
                    .ok_or(CborError::Invalid("timestamp out of range"))?;
                Document::Timestamp(ts)
            } else {
                // Other tags (bignums, URIs, ...) are not part of the Smithy
                // protocol; keep the tagged value rather than failing.
                inner
            }
        }
        Type::Simple => return Err(CborError::Invalid("unsupported simple value")),
        Type::Break => return Err(CborError::Invalid("unexpected break")),
        Type::Unknown(_) => return Err(CborError::Invalid("unknown CBOR type")),
    })
}

/// A map key or string value: definite or indefinite (chunked) text.
fn text(d: &mut Decoder<'_>) -> Result<String, CborError> {
    match d.datatype()? {
        Type::String => Ok(d.str()?.to_owned()),
        Type::StringIndef => {
            let mut out = String::new();
            for chunk in d.str_iter()? {
                out.push_str(chunk?);
            }
            Ok(out)
        }
        _ => Err(CborError::Invalid("map keys must be text strings")),
    }
}

/// Consumes the break byte ending an indefinite-length container, if next.
fn at_break(d: &mut Decoder<'_>) -> Result<bool, CborError> {
    if d.datatype()? == Type::Break {
        d.set_position(d.position() + 1);
        return Ok(true);
    }
    Ok(false)
}

/// A declared element count, refused when the remaining input cannot possibly
/// hold it (each item takes at least one byte), so a 5-byte body cannot make
/// us allocate for 2^32 items.
fn bounded_len(d: &Decoder<'_>, n: u64, bytes_per_item: u64) -> Result<usize, CborError> {
    let remaining = d.input().len().saturating_sub(d.position()) as u64;
    if n.saturating_mul(bytes_per_item) > remaining {
        return Err(CborError::Invalid("declared length exceeds the input"));
    }
    usize::try_from(n).map_err(|_| CborError::Invalid("declared length too large"))
}

/// Encodes a `Document` as CBOR the way AWS does: definite lengths, text
/// keys, doubles as float64, timestamps as tag 1 + float64 epoch seconds.
pub fn encode_cbor(doc: &Document) -> Vec<u8> {
    let mut enc = Encoder::new(Vec::with_capacity(256));
    // Writing into a Vec cannot fail (its error type is Infallible).
    let _ = write(&mut enc, doc);
    enc.into_writer()
}

type EncResult = Result<(), minicbor::encode::Error<std::convert::Infallible>>;

fn write(e: &mut Encoder<Vec<u8>>, doc: &Document) -> EncResult {
    match doc {
        Document::Null => {
            e.null()?;
        }
        Document::Bool(b) => {
            e.bool(*b)?;
        }
        Document::Int(i) => {
            e.i64(*i)?;
        }
        Document::Float(f) => {
            e.f64(*f)?;
        }
        Document::String(s) => {
            e.str(s)?;
        }
        Document::Blob(b) => {
            e.bytes(b)?;
        }
        Document::Timestamp(t) => {
            e.tag(Tag::new(TAG_EPOCH))?.f64(tag1_seconds(*t))?;
        }
        Document::List(items) => {
            e.array(items.len() as u64)?;
            for item in items {
                write(e, item)?;
            }
        }
        Document::Map(members) | Document::Struct(members) => {
            e.map(members.len() as u64)?;
            for (k, v) in members {
                e.str(k)?;
                write(e, v)?;
            }
        }
    }
    Ok(())
}

/// Epoch seconds for tag 1, never below the exact millisecond. aws-smithy-cbor
/// truncates a timestamp's fraction to whole milliseconds, and the nearest
/// double to `….123` can lie just below it (`….12299999`), which that SDK
/// reads as `….122` — and sends back as a filter one millisecond off. A few
/// ulps up (well under a microsecond) read the same in every client.
fn tag1_seconds(t: Timestamp) -> f64 {
    let want = t.millis().rem_euclid(1000);
    let mut secs = t.seconds_f64();
    for _ in 0..8 {
        let frac = secs - secs.floor();
        if (frac * 1e9) as i64 / 1_000_000 >= want {
            break;
        }
        secs = secs.next_up();
    }
    secs
}

#[cfg(test)]
mod tests {
    use super::*;

    const BREAK_BYTE: u8 = 0xff;

    #[test]
    fn decodes_aws_encoding_details() {
        // {"Period": 300, "T": 1(1767323045), "V": 51.5 as f64, "H": 1.0 as f16}
        let mut b = vec![0xa4];
        b.extend_from_slice(&[0x66]);
        b.extend_from_slice(b"Period");
        b.extend_from_slice(&[0x19, 0x01, 0x2c]);
        b.extend_from_slice(&[0x61, b'T', 0xc1, 0x1a]);
        b.extend_from_slice(&1_767_323_045u32.to_be_bytes());
        b.extend_from_slice(&[0x61, b'V', 0xfb]);
        b.extend_from_slice(&51.5f64.to_be_bytes());
        b.extend_from_slice(&[0x61, b'H', 0xf9, 0x3c, 0x00]);
        let doc = decode_cbor(&b).expect("valid cbor");
        assert_eq!(doc.get("Period"), Some(&Document::Int(300)));
        assert_eq!(
            doc.get("T"),
            Some(&Document::Timestamp(Timestamp(1_767_323_045_000)))
        );
        assert_eq!(doc.get("V"), Some(&Document::Float(51.5)));
        assert_eq!(doc.get("H"), Some(&Document::Float(1.0)));
    }

    #[test]
    fn decodes_indefinite_lengths() {
        // {_ "L": [_ 1, 2], "S": (_ "ab", "c")}
        let b = [
            0xbf, 0x61, b'L', 0x9f, 0x01, 0x02, BREAK_BYTE, 0x61, b'S', 0x7f, 0x62, b'a', b'b',
            0x61, b'c', BREAK_BYTE, BREAK_BYTE,
        ];
        let doc = decode_cbor(&b).expect("valid cbor");
        assert_eq!(
            doc.get("L"),
            Some(&Document::List(vec![Document::Int(1), Document::Int(2)]))
        );
        assert_eq!(doc.get("S"), Some(&Document::String("abc".into())));
    }

    #[test]
    fn refuses_hostile_input() {
        // Array claiming 2^32 elements in 5 bytes.
        assert!(decode_cbor(&[0x9a, 0xff, 0xff, 0xff, 0xff]).is_err());
        // Deep nesting.
        assert!(decode_cbor(&[0x81; 10_000]).is_err());
        assert!(decode_cbor(&[0x9f; 10_000]).is_err());
        // Non-text key, trailing bytes, lone break, truncated.
        assert!(decode_cbor(&[0xa1, 0x01, 0x02]).is_err());
        assert!(decode_cbor(&[0xa0, 0x00]).is_err());
        assert!(decode_cbor(&[0xff]).is_err());
        assert!(decode_cbor(&[0xfb, 0x00]).is_err());
        assert!(decode_cbor(&[]).is_err());
    }

    #[test]
    fn timestamps_survive_a_reader_that_truncates_to_milliseconds() {
        // aws-smithy-cbor: floor, fraction × 1e9 truncated, then to whole ms.
        let smithy_ms = |secs: f64| {
            let whole = secs.floor();
            whole as i64 * 1000 + ((secs - whole) * 1e9) as i64 / 1_000_000
        };
        for ms in (1_765_000_000_000i64..1_765_000_020_000).chain(-5_000..5_000) {
            let secs = tag1_seconds(Timestamp(ms));
            assert_eq!(smithy_ms(secs), ms, "{ms}");
            assert!((secs - ms as f64 / 1000.0).abs() < 1e-6, "{ms}");
        }
    }

    #[test]
    fn timestamps_encode_as_tag_1_float() {
        let bytes = encode_cbor(&Document::Timestamp(Timestamp(1_500)));
        let mut want = vec![0xc1, 0xfb];
        want.extend_from_slice(&1.5f64.to_be_bytes());
        assert_eq!(bytes, want);
    }
}
