//! `from_document`: a serde `Deserializer` over an owned [`Document`].
//!
//! It is lenient the way AWS servers are, because the query protocol only has
//! strings: numbers and booleans are parsed from text, an empty string is an
//! empty list/structure (`MetricData=` from the CloudWatch agent), and
//! timestamps reach `stratus_model::Timestamp` as epoch seconds (`f64`) or text.
//!
//! Errors carry the AWS query-style parameter path
//! (`MetricData.member.3.Value`). The path is assembled only while an error
//! propagates (each map/list level prepends its segment), so the success path
//! pays nothing for it — no per-key allocation as with `serde_path_to_error`.

use crate::document::Document;
use crate::number::format_float;
use base64::Engine as _;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer as _, EnumAccess, IntoDeserializer,
    MapAccess, SeqAccess, VariantAccess, Visitor,
};
use std::fmt;
use stratus_model::ApiError;

/// Deserializes an operation input from a decoded request.
///
/// A missing required member → `MissingParameter` "The parameter <Path> is
/// required."; a value of the wrong type → `InvalidParameterValue` naming the
/// parameter path.
pub fn from_document<T: DeserializeOwned>(doc: Document) -> Result<T, ApiError> {
    T::deserialize(doc).map_err(DeError::into_api_error)
}

/// A deserialization failure plus the path where it happened. Boxed so that
/// `Result<T, DeError>` stays one pointer wide on the hot path.
#[derive(Debug)]
pub struct DeError(Box<ErrorInner>);

#[derive(Debug)]
struct ErrorInner {
    kind: ErrorKind,
    /// Innermost segment first (segments are pushed while unwinding).
    path: Vec<Segment>,
}

#[derive(Debug)]
enum ErrorKind {
    Missing(&'static str),
    BadValue {
        value: String,
        expected: &'static str,
    },
    /// A number that is NaN or infinite: AWS names the value and nothing else
    /// (`The value NaN for parameter MetricData.member.1.Value is invalid.`).
    NotFinite(String),
    Other(String),
}

#[derive(Debug)]
enum Segment {
    Member(String),
    Index(usize),
}

impl DeError {
    fn new(kind: ErrorKind) -> Self {
        DeError(Box::new(ErrorInner {
            kind,
            path: Vec::new(),
        }))
    }

    fn bad_value(value: &str, expected: &'static str) -> Self {
        // Echo at most a short prefix of hostile input back.
        let value: String = value.chars().take(64).collect();
        Self::new(ErrorKind::BadValue { value, expected })
    }

    fn not_finite(value: &str) -> Self {
        let value: String = value.chars().take(64).collect();
        Self::new(ErrorKind::NotFinite(value))
    }

    fn in_member(mut self, name: &str) -> Self {
        self.0.path.push(Segment::Member(name.to_owned()));
        self
    }

    fn at_index(mut self, index: usize) -> Self {
        self.0.path.push(Segment::Index(index));
        self
    }

    /// The AWS query-style path: `A.member.2.B` (indices are 1-based).
    fn aws_path(&self) -> String {
        let mut out = String::new();
        for seg in self.0.path.iter().rev() {
            if !out.is_empty() {
                out.push('.');
            }
            match seg {
                Segment::Member(name) => out.push_str(name),
                Segment::Index(i) => {
                    out.push_str("member.");
                    out.push_str(&(i + 1).to_string());
                }
            }
        }
        out
    }

    fn into_api_error(self) -> ApiError {
        let path = self.aws_path();
        match self.0.kind {
            ErrorKind::Missing(field) => {
                let full = if path.is_empty() {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                };
                ApiError::missing(&full)
            }
            ErrorKind::BadValue { value, expected } if !path.is_empty() => ApiError::invalid_value(
                format!("The value {value} for parameter {path} is invalid: expected {expected}."),
            ),
            ErrorKind::BadValue { value, expected } => ApiError::invalid_value(format!(
                "The value {value} is invalid: expected {expected}."
            )),
            ErrorKind::NotFinite(value) if !path.is_empty() => ApiError::invalid_value(format!(
                "The value {value} for parameter {path} is invalid."
            )),
            ErrorKind::NotFinite(value) => {
                ApiError::invalid_value(format!("The value {value} is invalid."))
            }
            ErrorKind::Other(msg) if !path.is_empty() => {
                ApiError::invalid_value(format!("Invalid value for parameter {path}: {msg}."))
            }
            ErrorKind::Other(msg) => ApiError::invalid_value(format!("Invalid request: {msg}.")),
        }
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.kind {
            ErrorKind::Missing(field) => write!(f, "missing field {field}"),
            ErrorKind::BadValue { value, expected } => {
                write!(f, "invalid value {value}, expected {expected}")
            }
            ErrorKind::NotFinite(value) => {
                write!(f, "invalid value {value}, expected a finite number")
            }
            ErrorKind::Other(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self::new(ErrorKind::Other(msg.to_string()))
    }
    fn missing_field(field: &'static str) -> Self {
        Self::new(ErrorKind::Missing(field))
    }
}

fn parse_f64(s: &str) -> Result<f64, DeError> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(DeError::not_finite(s.trim())),
        Err(_) => Err(DeError::bad_value(s, "a finite number")),
    }
}

fn finite(v: f64) -> Result<f64, DeError> {
    if v.is_finite() {
        Ok(v)
    } else {
        Err(DeError::not_finite(&format_float(v)))
    }
}

/// An integral `f64` that fits an `i64` exactly (`60.0` is fine for `Period`).
fn integral(v: f64) -> Option<i64> {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    (v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v)).then_some(v as i64)
}

fn parse_bool(s: &str) -> Result<bool, DeError> {
    let t = s.trim();
    if t.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if t.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(DeError::bad_value(s, "true or false"))
    }
}

impl Document {
    fn deserialize_integer<'de, V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Int(i) => v.visit_i64(i),
            Document::Float(f) => match integral(f) {
                Some(i) => v.visit_i64(i),
                None => Err(DeError::bad_value(&format_float(f), "an integer")),
            },
            Document::String(s) => integer_from_text(&s, v),
            other => other.deserialize_any(v),
        }
    }
}

/// An integer member from query text: `60`, ` 60 `, `60.0` and `6e1` all
/// read as 60.
fn integer_from_text<'de, V: Visitor<'de>>(s: &str, v: V) -> Result<V::Value, DeError> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        v.visit_i64(i)
    } else if let Ok(u) = t.parse::<u64>() {
        v.visit_u64(u)
    } else if let Some(i) = t.parse::<f64>().ok().and_then(integral) {
        v.visit_i64(i)
    } else {
        Err(DeError::bad_value(s, "an integer"))
    }
}

/// Typed values of one query-form leaf, by exactly the rules `from_document`
/// applies to a `Document::String` of that text, without building the
/// string: for decoders that skip the `Document` tree
/// ([`crate::query_direct`]) and must agree with it bit for bit.
pub(crate) mod leaf {
    use super::{KeyDeserializer, parse_bool, parse_f64};
    use serde::Deserialize as _;
    use stratus_model::Timestamp;

    pub(crate) fn f64(text: &str) -> Option<f64> {
        parse_f64(text).ok()
    }

    pub(crate) fn i64(text: &str) -> Option<i64> {
        i64::deserialize(KeyDeserializer(text)).ok()
    }

    pub(crate) fn bool(text: &str) -> Option<bool> {
        parse_bool(text).ok()
    }

    /// Through `Timestamp`'s own `Deserialize`, which reads any text with
    /// `visit_str` (as it does a `Document::String`).
    pub(crate) fn timestamp(text: &str) -> Option<Timestamp> {
        Timestamp::deserialize(KeyDeserializer(text)).ok()
    }
}

macro_rules! integer_methods {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
            self.deserialize_integer(v)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Document {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Null => v.visit_unit(),
            Document::Bool(b) => v.visit_bool(b),
            Document::Int(i) => v.visit_i64(i),
            Document::Float(f) => v.visit_f64(f),
            Document::String(s) => v.visit_string(s),
            Document::Blob(b) => v.visit_byte_buf(b),
            Document::Timestamp(t) => v.visit_f64(t.seconds_f64()),
            Document::List(items) => visit_list(items, v),
            Document::Map(m) | Document::Struct(m) => visit_members(m, v),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Bool(b) => v.visit_bool(b),
            Document::String(s) => v.visit_bool(parse_bool(&s)?),
            other => other.deserialize_any(v),
        }
    }

    integer_methods! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
    }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_f64(v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Float(f) => v.visit_f64(finite(f)?),
            Document::Int(i) => v.visit_f64(i as f64),
            Document::String(s) => v.visit_f64(parse_f64(&s)?),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_string(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_string(v)
    }

    /// Strings accept scalars too (a JSON client may send `"Value": 1` for a
    /// dimension value); they become their query text.
    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::String(s) => v.visit_string(s),
            Document::Int(i) => v.visit_string(i.to_string()),
            Document::Float(f) => v.visit_string(format_float(f)),
            Document::Bool(b) => v.visit_string(b.to_string()),
            Document::Timestamp(t) => v.visit_string(t.to_iso8601()),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_byte_buf(v)
    }

    /// Blobs arrive raw (CBOR) or base64 text (query, JSON).
    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Blob(b) => v.visit_byte_buf(b),
            Document::String(s) => match base64::engine::general_purpose::STANDARD.decode(s.trim())
            {
                Ok(bytes) => v.visit_byte_buf(bytes),
                Err(_) => Err(DeError::bad_value(&s, "base64 data")),
            },
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Null => v.visit_none(),
            other => v.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Null => v.visit_unit(),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::List(items) => visit_list(items, v),
            // `MetricData=`: the query protocol's spelling of an empty list.
            Document::String(s) if s.is_empty() => visit_list(Vec::new(), v),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        match self {
            Document::Map(m) | Document::Struct(m) => visit_members(m, v),
            Document::String(s) if s.is_empty() => visit_members(Vec::new(), v),
            other => other.deserialize_any(v),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(v)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        match self {
            Document::String(s) => v.visit_enum(s.into_deserializer()),
            Document::Map(mut m) | Document::Struct(mut m) if m.len() == 1 => match m.pop() {
                Some((variant, value)) => v.visit_enum(EnumDeserializer { variant, value }),
                None => Err(de::Error::custom("expected an enum variant")),
            },
            other => Err(DeError::bad_value(other.kind(), "an enum variant name")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        self.deserialize_string(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_unit()
    }
}

fn visit_list<'de, V: Visitor<'de>>(items: Vec<Document>, v: V) -> Result<V::Value, DeError> {
    let mut seq = ListAccess {
        iter: items.into_iter(),
        index: 0,
    };
    let value = v.visit_seq(&mut seq)?;
    if seq.iter.len() != 0 {
        return Err(de::Error::invalid_length(
            seq.index + seq.iter.len(),
            &"fewer elements",
        ));
    }
    Ok(value)
}

fn visit_members<'de, V: Visitor<'de>>(
    members: Vec<(String, Document)>,
    v: V,
) -> Result<V::Value, DeError> {
    let mut map = MemberAccess {
        iter: members.into_iter(),
        current: None,
    };
    v.visit_map(&mut map)
}

struct ListAccess {
    iter: std::vec::IntoIter<Document>,
    index: usize,
}

impl<'de> SeqAccess<'de> for ListAccess {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let Some(item) = self.iter.next() else {
            return Ok(None);
        };
        let index = self.index;
        self.index += 1;
        seed.deserialize(item)
            .map(Some)
            .map_err(|e| e.at_index(index))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MemberAccess {
    iter: std::vec::IntoIter<(String, Document)>,
    /// The member whose key was just handed out; its value comes next.
    current: Option<(String, Document)>,
}

impl<'de> MapAccess<'de> for MemberAccess {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((name, value)) = self.iter.next() else {
            return Ok(None);
        };
        let key = seed
            .deserialize(KeyDeserializer(&name))
            .map_err(|e| e.in_member(&name))?;
        self.current = Some((name, value));
        Ok(Some(key))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let Some((name, value)) = self.current.take() else {
            return Err(de::Error::custom("value requested before its key"));
        };
        seed.deserialize(value).map_err(|e| e.in_member(&name))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// A member name. Struct field identifiers are matched from the borrowed
/// text (no allocation); other key types (e.g. `HashMap<String, _>`) get the
/// lenient scalar rules of a `Document::String`.
struct KeyDeserializer<'a>(&'a str);

impl<'de> de::Deserializer<'de> for KeyDeserializer<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_str(self.0)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_str(self.0)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_str(self.0)
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_string(self.0.to_owned())
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_bool(parse_bool(self.0)?)
    }

    fn deserialize_i64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        integer_from_text(self.0, v)
    }

    fn deserialize_u64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        integer_from_text(self.0, v)
    }

    fn deserialize_i32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        integer_from_text(self.0, v)
    }

    fn deserialize_u32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        integer_from_text(self.0, v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_f64(parse_f64(self.0)?)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        Document::String(self.0.to_owned()).deserialize_enum(name, variants, v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, DeError> {
        v.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, DeError> {
        v.visit_newtype_struct(self)
    }

    serde::forward_to_deserialize_any! {
        i8 i16 u8 u16 f32 char bytes byte_buf unit unit_struct seq tuple
        tuple_struct map struct ignored_any
    }
}

/// `{"Variant": value}` for newtype/struct enum variants.
struct EnumDeserializer {
    variant: String,
    value: Document,
}

impl<'de> EnumAccess<'de> for EnumDeserializer {
    type Error = DeError;
    type Variant = Document;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Document), DeError> {
        let variant = seed.deserialize(KeyDeserializer(&self.variant))?;
        Ok((variant, self.value))
    }
}

impl<'de> VariantAccess<'de> for Document {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        match self {
            Document::Null => Ok(()),
            other => Err(DeError::bad_value(
                other.kind(),
                "no value for a unit variant",
            )),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_seq(self, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, DeError> {
        de::Deserializer::deserialize_map(self, v)
    }
}
