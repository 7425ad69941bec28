//! `to_document`: a serde `Serializer` that builds a [`Document`] from an
//! operation output.
//!
//! Rust structs become `Struct` (members in declaration order, `None`
//! members dropped — AWS never sends `null` members), maps become `Map`,
//! sequences `List`, unit enum variants their name, and
//! `stratus_model::Timestamp` (a newtype named `TIMESTAMP_TOKEN` around epoch
//! milliseconds) becomes `Document::Timestamp`.

use crate::document::Document;
use crate::number::{format_float, widen_f32};
use serde::ser::{self, Serialize};
use std::fmt;
use stratus_model::Timestamp;
use stratus_model::time::TIMESTAMP_TOKEN;

/// Serializes an output value. A value whose `Serialize` impl fails (only
/// possible for hand-written impls or non-text map keys) yields `Null`; use
/// [`try_to_document`] to see the error.
pub fn to_document<T: Serialize + ?Sized>(value: &T) -> Document {
    try_to_document(value).unwrap_or(Document::Null)
}

/// Like [`to_document`], reporting serialization errors.
pub fn try_to_document<T: Serialize + ?Sized>(value: &T) -> Result<Document, SerError> {
    value.serialize(DocumentSerializer)
}

/// Why a value could not be turned into a `Document`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct SerError(String);

impl ser::Error for SerError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        SerError(msg.to_string())
    }
}

struct DocumentSerializer;

impl ser::Serializer for DocumentSerializer {
    type Ok = Document;
    type Error = SerError;
    type SerializeSeq = ListBuilder;
    type SerializeTuple = ListBuilder;
    type SerializeTupleStruct = ListBuilder;
    type SerializeTupleVariant = VariantBuilder<ListBuilder>;
    type SerializeMap = MapBuilder;
    type SerializeStruct = StructBuilder;
    type SerializeStructVariant = VariantBuilder<StructBuilder>;

    fn serialize_bool(self, v: bool) -> Result<Document, SerError> {
        Ok(Document::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Document, SerError> {
        Ok(Document::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Document, SerError> {
        Ok(Document::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Document, SerError> {
        Ok(Document::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Document, SerError> {
        Ok(Document::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Document, SerError> {
        Ok(Document::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Document, SerError> {
        Ok(Document::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Document, SerError> {
        Ok(Document::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Document, SerError> {
        Ok(i64::try_from(v).map_or(Document::Float(v as f64), Document::Int))
    }
    fn serialize_f32(self, v: f32) -> Result<Document, SerError> {
        Ok(Document::Float(widen_f32(v)))
    }
    fn serialize_f64(self, v: f64) -> Result<Document, SerError> {
        Ok(Document::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Document, SerError> {
        Ok(Document::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Document, SerError> {
        Ok(Document::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Document, SerError> {
        Ok(Document::Blob(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Document, SerError> {
        Ok(Document::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Document, SerError> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Document, SerError> {
        Ok(Document::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Document, SerError> {
        Ok(Document::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Document, SerError> {
        Ok(Document::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Document, SerError> {
        let inner = v.serialize(self)?;
        if name == TIMESTAMP_TOKEN
            && let Document::Int(millis) = inner
        {
            return Ok(Document::Timestamp(Timestamp(millis)));
        }
        Ok(inner)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Document, SerError> {
        Ok(Document::Struct(vec![(
            variant.to_owned(),
            v.serialize(self)?,
        )]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<ListBuilder, SerError> {
        Ok(ListBuilder(Vec::with_capacity(len.unwrap_or(0))))
    }
    fn serialize_tuple(self, len: usize) -> Result<ListBuilder, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<ListBuilder, SerError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<ListBuilder>, SerError> {
        Ok(VariantBuilder {
            variant,
            inner: ListBuilder(Vec::with_capacity(len)),
        })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<MapBuilder, SerError> {
        Ok(MapBuilder {
            entries: Vec::with_capacity(len.unwrap_or(0)),
            key: None,
        })
    }
    fn serialize_struct(self, _name: &'static str, len: usize) -> Result<StructBuilder, SerError> {
        Ok(StructBuilder(Vec::with_capacity(len)))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<VariantBuilder<StructBuilder>, SerError> {
        Ok(VariantBuilder {
            variant,
            inner: StructBuilder(Vec::with_capacity(len)),
        })
    }
}

struct ListBuilder(Vec<Document>);

impl ser::SerializeSeq for ListBuilder {
    type Ok = Document;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        self.0.push(v.serialize(DocumentSerializer)?);
        Ok(())
    }
    fn end(self) -> Result<Document, SerError> {
        Ok(Document::List(self.0))
    }
}

impl ser::SerializeTuple for ListBuilder {
    type Ok = Document;
    type Error = SerError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Document, SerError> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for ListBuilder {
    type Ok = Document;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<Document, SerError> {
        ser::SerializeSeq::end(self)
    }
}

struct MapBuilder {
    entries: Vec<(String, Document)>,
    key: Option<String>,
}

/// Map keys must be text on every wire; numbers and booleans are written as text.
fn key_text(key: Document) -> Result<String, SerError> {
    match key {
        Document::String(s) => Ok(s),
        Document::Int(i) => Ok(i.to_string()),
        Document::Float(f) => Ok(format_float(f)),
        Document::Bool(b) => Ok(b.to_string()),
        other => Err(SerError(format!(
            "map key must be text, not {}",
            other.kind()
        ))),
    }
}

impl ser::SerializeMap for MapBuilder {
    type Ok = Document;
    type Error = SerError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), SerError> {
        self.key = Some(key_text(k.serialize(DocumentSerializer)?)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        let key = self
            .key
            .take()
            .ok_or_else(|| SerError("map value without a key".into()))?;
        self.entries.push((key, v.serialize(DocumentSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Document, SerError> {
        Ok(Document::Map(self.entries))
    }
}

struct StructBuilder(Vec<(String, Document)>);

impl ser::SerializeStruct for StructBuilder {
    type Ok = Document;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        let value = v.serialize(DocumentSerializer)?;
        // An absent optional member is simply not on the wire.
        if value != Document::Null {
            self.0.push((name.to_owned(), value));
        }
        Ok(())
    }
    fn end(self) -> Result<Document, SerError> {
        Ok(Document::Struct(self.0))
    }
}

/// `{"Variant": inner}` for tuple/struct enum variants.
struct VariantBuilder<B> {
    variant: &'static str,
    inner: B,
}

impl ser::SerializeTupleVariant for VariantBuilder<ListBuilder> {
    type Ok = Document;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), SerError> {
        ser::SerializeSeq::serialize_element(&mut self.inner, v)
    }
    fn end(self) -> Result<Document, SerError> {
        let inner = ser::SerializeSeq::end(self.inner)?;
        Ok(Document::Struct(vec![(self.variant.to_owned(), inner)]))
    }
}

impl ser::SerializeStructVariant for VariantBuilder<StructBuilder> {
    type Ok = Document;
    type Error = SerError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), SerError> {
        ser::SerializeStruct::serialize_field(&mut self.inner, name, v)
    }
    fn end(self) -> Result<Document, SerError> {
        let inner = ser::SerializeStruct::end(self.inner)?;
        Ok(Document::Struct(vec![(self.variant.to_owned(), inner)]))
    }
}
