//! awsQuery XML: writing response bodies from a [`Document`] and, for our own
//! clients (agent, CLI, tests), reading them back generically.
//!
//! Writing is done by hand into a `String` rather than through an XML
//! library: the shapes are fixed (`<member>` lists, `<entry><key/><value/>`
//! maps, nested members), and escaping is the only subtle part.

use crate::document::Document;
use crate::query::scalar_text;
use quick_xml::Reader;
use quick_xml::events::Event;
use stratus_model::{ApiError, ErrorCode};

/// Deepest element nesting accepted when reading XML. Reading is iterative,
/// so this only bounds memory; it must exceed anything we write ourselves: a
/// map nests two elements per level (`<entry><value>`), and decoded documents
/// may be 128 levels deep (serde_json's limit), plus the envelope.
pub const MAX_XML_DEPTH: usize = 512;

/// Appends `s` as XML character data. Characters XML 1.0 cannot carry at
/// all (most C0 controls, U+FFFE/U+FFFF) become U+FFFD; `\r` is written as a
/// reference so parsers do not normalise it away.
pub(crate) fn escape_into(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            '\n' | '\t' => out.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Element names come from our own types, but a name that is not a valid
/// XML name must still not break the document: invalid characters become `_`.
pub(crate) fn push_name(out: &mut String, name: &str) {
    if name.is_empty() {
        out.push('_');
        return;
    }
    for (i, ch) in name.chars().enumerate() {
        let ok = ch.is_ascii_alphabetic()
            || ch == '_'
            || (i > 0 && (ch.is_ascii_digit() || ch == '-' || ch == '.'));
        out.push(if ok { ch } else { '_' });
    }
}

pub(crate) fn open(out: &mut String, name: &str) {
    out.push('<');
    push_name(out, name);
    out.push('>');
}

pub(crate) fn close(out: &mut String, name: &str) {
    out.push_str("</");
    push_name(out, name);
    out.push('>');
}

/// `<name>text</name>` with escaped text.
pub(crate) fn text_element(out: &mut String, name: &str, text: &str) {
    open(out, name);
    escape_into(out, text);
    close(out, name);
}

/// Writes the members of a structure (or map used as the top-level output)
/// as child elements.
pub(crate) fn write_members(out: &mut String, members: &[(String, Document)]) {
    for (name, value) in members {
        write_element(out, name, value);
    }
}

/// Writes one member: scalars as text, lists as `<member>`s, maps as
/// `<entry><key/><value/></entry>`, structures as nested members. `Null`
/// members are omitted, as AWS omits absent members.
pub(crate) fn write_element(out: &mut String, name: &str, value: &Document) {
    match value {
        Document::Null => {}
        Document::Struct(members) => {
            open(out, name);
            write_members(out, members);
            close(out, name);
        }
        Document::Map(entries) => {
            open(out, name);
            for (key, v) in entries {
                out.push_str("<entry>");
                text_element(out, "key", key);
                write_element(out, "value", v);
                out.push_str("</entry>");
            }
            close(out, name);
        }
        Document::List(items) => {
            open(out, name);
            for item in items {
                write_element(out, "member", item);
            }
            close(out, name);
        }
        scalar => text_element(out, name, &scalar_text(scalar)),
    }
}

fn malformed(detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(ErrorCode::MalformedInput, format!("Invalid XML: {detail}"))
}

/// An element being read: its name, child elements so far, and its text.
struct Open {
    name: String,
    children: Vec<(String, Document)>,
    text: String,
}

impl Open {
    /// Text-only → `String`; all children `<member>` → `List`; all children
    /// `<entry>` with key/value → `Map`; otherwise a `Map` of the children in
    /// document order (repeated names are kept).
    fn into_document(self) -> Document {
        if self.children.is_empty() {
            return Document::String(self.text);
        }
        if self.children.iter().all(|(n, _)| n == "member") {
            return Document::List(self.children.into_iter().map(|(_, v)| v).collect());
        }
        if self.children.iter().all(|(n, _)| n == "entry") {
            let mut entries = Vec::with_capacity(self.children.len());
            for (_, entry) in &self.children {
                let key = entry
                    .get("key")
                    .or_else(|| entry.get("Name"))
                    .and_then(Document::as_str);
                let value = entry.get("value").or_else(|| entry.get("Value"));
                match (key, value) {
                    (Some(k), v) => {
                        entries.push((k.to_owned(), v.cloned().unwrap_or(Document::Null)))
                    }
                    _ => return Document::Map(self.children),
                }
            }
            return Document::Map(entries);
        }
        Document::Map(self.children)
    }
}

fn element_name(e: &quick_xml::events::BytesStart<'_>) -> String {
    let local = e.local_name();
    let name: &str = local.as_ref();
    name.to_owned()
}

/// Reads an awsQuery XML response (success or `ErrorResponse`) into a
/// `Document`: a one-member `Map` from the root element's name to its content.
pub fn decode_xml_response(xml: &[u8]) -> Result<Document, ApiError> {
    let text = std::str::from_utf8(xml).map_err(malformed)?;
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Open> = Vec::new();
    let mut root: Option<(String, Document)> = None;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(e) => {
                if root.is_some() {
                    return Err(malformed("content after the root element"));
                }
                if stack.len() >= MAX_XML_DEPTH {
                    return Err(malformed("nesting too deep"));
                }
                let name = element_name(&e);
                stack.push(Open {
                    name,
                    children: Vec::new(),
                    text: String::new(),
                });
            }
            Event::Empty(e) => {
                let name = element_name(&e);
                match stack.last_mut() {
                    Some(parent) => parent
                        .children
                        .push((name, Document::String(String::new()))),
                    None if root.is_none() => root = Some((name, Document::String(String::new()))),
                    None => return Err(malformed("content after the root element")),
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| malformed("unbalanced end tag"))?;
                let name = done.name.clone();
                let doc = done.into_document();
                match stack.last_mut() {
                    Some(parent) => parent.children.push((name, doc)),
                    None => root = Some((name, doc)),
                }
            }
            Event::Text(t) => {
                let content = t.xml10_content();
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&content),
                    None if content.trim().is_empty() => {}
                    None => return Err(malformed("text outside the root element")),
                }
            }
            Event::CData(c) => {
                let content = c.xml10_content();
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&content);
                }
            }
            Event::GeneralRef(r) => {
                let ch = match r.resolve_char_ref().map_err(malformed)? {
                    Some(ch) => ch,
                    None => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        other => return Err(malformed(format!("unknown entity &{other};"))),
                    },
                };
                if let Some(top) = stack.last_mut() {
                    top.text.push(ch);
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(malformed("unclosed element"));
    }
    let (name, doc) = root.ok_or_else(|| malformed("no root element"))?;
    Ok(Document::Map(vec![(name, doc)]))
}

/// The content of `<{action}Result>` in a decoded success response, or an
/// empty `Map` when the operation has no output. An `ErrorResponse` is
/// turned back into the `ApiError` it carries (code matched by name,
/// `InternalServiceError` when unknown).
pub fn query_result(doc: &Document, action: &str) -> Result<Document, ApiError> {
    if let Some(err) = doc.get("ErrorResponse") {
        let error = err.get("Error");
        let code = error
            .and_then(|e| e.get("Code"))
            .and_then(Document::as_str)
            .unwrap_or("");
        let message = error
            .and_then(|e| e.get("Message"))
            .and_then(Document::as_str)
            .unwrap_or("")
            .to_owned();
        return Err(ApiError::new(
            ErrorCode::from_code(code).unwrap_or(ErrorCode::InternalServiceError),
            message,
        ));
    }
    let response = doc
        .get(&format!("{action}Response"))
        .ok_or_else(|| malformed(format!("no {action}Response element")))?;
    Ok(response
        .get(&format!("{action}Result"))
        .cloned()
        .unwrap_or(Document::Map(Vec::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_sanitises_names() {
        let mut out = String::new();
        text_element(&mut out, "a b", "<&>\"'\r\n\u{1}x");
        assert_eq!(out, "<a_b>&lt;&amp;&gt;&quot;&apos;&#xD;\n\u{FFFD}x</a_b>");
    }

    #[test]
    fn reads_lists_maps_and_entities() {
        let xml = br#"<?xml version="1.0"?>
<R xmlns="x"><Result>
  <L><member>a &amp; b</member><member>c</member></L>
  <M><entry><key>k</key><value>v&#x41;</value></entry></M>
  <E/><S><![CDATA[<raw>]]></S>
</Result></R>"#;
        let doc = decode_xml_response(xml).expect("valid xml");
        let result = doc.get("R").and_then(|r| r.get("Result")).expect("result");
        assert_eq!(
            result.get("L"),
            Some(&Document::List(vec![
                Document::String("a & b".into()),
                Document::String("c".into())
            ]))
        );
        assert_eq!(
            result.get("M"),
            Some(&Document::Map(vec![(
                "k".into(),
                Document::String("vA".into())
            )]))
        );
        assert_eq!(result.get("E"), Some(&Document::String(String::new())));
        assert_eq!(result.get("S"), Some(&Document::String("<raw>".into())));
    }

    #[test]
    fn rejects_malformed_xml() {
        for bad in [
            &b"<a>"[..],
            b"<a></b>",
            b"",
            b"<a/><b/>",
            b"<a>&bogus;</a>",
            b"\xff",
        ] {
            assert!(
                decode_xml_response(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let deep = "<a>".repeat(MAX_XML_DEPTH + 1) + &"</a>".repeat(MAX_XML_DEPTH + 1);
        assert!(decode_xml_response(deep.as_bytes()).is_err());
    }
}
