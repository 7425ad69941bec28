//! The protocol-neutral value tree every codec decodes into and encodes from.

use stratus_model::Timestamp;

/// A decoded request or an encoded-to-be response, independent of the wire.
///
/// Decoders produce `Map` for both maps and structures (the wire does not say
/// which); the serializer ([`crate::to_document`]) produces `Struct` for Rust
/// structs and `Map` for Rust maps, so that the query/XML writers can tell
/// `<Name>value</Name>` members from `<entry><key/><value/></entry>` maps.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Blob(Vec<u8>),
    Timestamp(Timestamp),
    List(Vec<Document>),
    Map(Vec<(String, Document)>),
    Struct(Vec<(String, Document)>),
}

impl Document {
    /// The member `name` of a `Map` or `Struct` (first match), if any.
    pub fn get(&self, name: &str) -> Option<&Document> {
        self.members()?
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// Members of a `Map` or `Struct`.
    pub fn members(&self) -> Option<&[(String, Document)]> {
        match self {
            Document::Map(m) | Document::Struct(m) => Some(m),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Document::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Document]> {
        match self {
            Document::List(l) => Some(l),
            _ => None,
        }
    }

    /// True for `Null` and for a `Map`/`Struct` without members: an "empty output".
    pub fn is_empty_output(&self) -> bool {
        match self {
            Document::Null => true,
            Document::Map(m) | Document::Struct(m) => m.is_empty(),
            _ => false,
        }
    }

    /// A short name of the variant, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Document::Null => "null",
            Document::Bool(_) => "boolean",
            Document::Int(_) => "integer",
            Document::Float(_) => "number",
            Document::String(_) => "string",
            Document::Blob(_) => "blob",
            Document::Timestamp(_) => "timestamp",
            Document::List(_) => "list",
            Document::Map(_) => "map",
            Document::Struct(_) => "structure",
        }
    }
}
