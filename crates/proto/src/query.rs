//! awsQuery forms: `application/x-www-form-urlencoded` ⇄ [`Document`]
//! (the "QueryTree").
//!
//! Keys are split on `.`; `X.member.N` makes `X` a list ordered by `N`
//! (1-based, gaps allowed), `X.entry.N.key`/`X.entry.N.value` makes `X` a map
//! (SNS also spells them `Name`/`Value`, e.g. `MessageAttributes`), any other
//! dotted key is a structure member. Leaves stay strings: the typed
//! conversion happens in `from_document`, which is lenient about scalars.

use crate::document::Document;
use crate::number::format_float;
use base64::Engine as _;
use std::collections::BTreeMap;
use stratus_model::{ApiError, ErrorCode};

/// Largest accepted `member.N` / `entry.N` index. Indices are sparse keys, so
/// this is not an allocation bound; it rejects absurd input early.
pub const MAX_MEMBER_INDEX: u32 = 100_000;
/// Most `.`-separated segments in one key (bounds recursion when converting).
pub const MAX_KEY_SEGMENTS: usize = 40;

/// A decoded awsQuery form: the routing parameters and everything else.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryParams {
    pub action: Option<String>,
    pub version: Option<String>,
    /// A `Struct` of the remaining parameters (never contains Action/Version).
    pub params: Document,
}

/// Decodes one or more form-encoded sources (e.g. the URL query string and
/// then the body; a later duplicate key wins) into [`QueryParams`].
pub fn decode_form(sources: &[&[u8]]) -> Result<QueryParams, ApiError> {
    let mut tree = QueryTree::default();
    for source in sources {
        for (key, value) in form_urlencoded::parse(source) {
            tree.insert(&key, value.into_owned())?;
        }
    }
    tree.finish()
}

#[derive(Debug)]
enum Node {
    /// Created on the way down; replaced by whatever the key turns out to be.
    Pending,
    Leaf(String),
    Struct(BTreeMap<String, Node>),
    List(BTreeMap<u32, Node>),
    Entries(BTreeMap<u32, Node>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Collection {
    List,
    Entries,
}

#[derive(Default)]
struct QueryTree {
    action: Option<String>,
    version: Option<String>,
    root: BTreeMap<String, Node>,
}

fn bad_param(key: &str, why: &str) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidQueryParameter,
        format!("The parameter {key} is invalid: {why}."),
    )
}

impl Node {
    /// True for a placeholder or the empty leaf `X=` (the CloudWatch agent
    /// sends `MetricData=` for an empty list): both may become a container.
    fn is_vacant(&self) -> bool {
        match self {
            Node::Pending => true,
            Node::Leaf(s) => s.is_empty(),
            _ => false,
        }
    }

    fn struct_child(&mut self, seg: &str, key: &str) -> Result<&mut Node, ApiError> {
        if self.is_vacant() {
            *self = Node::Struct(BTreeMap::new());
        }
        match self {
            Node::Struct(map) => {
                if !map.contains_key(seg) {
                    map.insert(seg.to_owned(), Node::Pending);
                }
                map.get_mut(seg)
                    .ok_or_else(|| bad_param(key, "conflicting structure"))
            }
            _ => Err(bad_param(key, "conflicts with another parameter")),
        }
    }

    fn indexed_child(
        &mut self,
        kind: Collection,
        index: u32,
        key: &str,
    ) -> Result<&mut Node, ApiError> {
        if self.is_vacant() {
            *self = match kind {
                Collection::List => Node::List(BTreeMap::new()),
                Collection::Entries => Node::Entries(BTreeMap::new()),
            };
        }
        match (self, kind) {
            (Node::List(items), Collection::List) | (Node::Entries(items), Collection::Entries) => {
                Ok(items.entry(index).or_insert(Node::Pending))
            }
            _ => Err(bad_param(key, "conflicts with another parameter")),
        }
    }
}

fn parse_index(seg: Option<&str>, key: &str) -> Result<u32, ApiError> {
    let seg = seg.ok_or_else(|| bad_param(key, "a list index must follow 'member'/'entry'"))?;
    member_index(seg).ok_or_else(|| {
        bad_param(
            key,
            &format!("list indices run from 1 to {MAX_MEMBER_INDEX}"),
        )
    })
}

/// The `N` of `member.N` / `entry.N`: 1 to [`MAX_MEMBER_INDEX`], decimal
/// digits only (`01` is 1, `+1` is refused).
pub(crate) fn member_index(seg: &str) -> Option<u32> {
    match seg.parse::<u32>() {
        Ok(n) if (1..=MAX_MEMBER_INDEX).contains(&n) && !seg.starts_with('+') => Some(n),
        _ => None,
    }
}

impl QueryTree {
    fn insert(&mut self, key: &str, value: String) -> Result<(), ApiError> {
        match key {
            "Action" => {
                self.action = Some(value);
                return Ok(());
            }
            "Version" => {
                self.version = Some(value);
                return Ok(());
            }
            _ => {}
        }
        if key.bytes().filter(|&b| b == b'.').count() >= MAX_KEY_SEGMENTS {
            return Err(bad_param(key, "too deeply nested"));
        }
        let mut segs = key.split('.');
        let first = segs.next().unwrap_or_default();
        if first.is_empty() {
            return Err(bad_param(key, "empty name"));
        }
        if !self.root.contains_key(first) {
            self.root.insert(first.to_owned(), Node::Pending);
        }
        let mut node = self
            .root
            .get_mut(first)
            .ok_or_else(|| bad_param(key, "conflicting structure"))?;
        while let Some(seg) = segs.next() {
            node = match seg {
                "member" => {
                    let index = parse_index(segs.next(), key)?;
                    node.indexed_child(Collection::List, index, key)?
                }
                "entry" => {
                    let index = parse_index(segs.next(), key)?;
                    node.indexed_child(Collection::Entries, index, key)?
                }
                "" => return Err(bad_param(key, "empty name")),
                _ => node.struct_child(seg, key)?,
            };
        }
        if node.is_vacant() {
            *node = Node::Leaf(value);
        } else if let Node::Leaf(old) = node {
            // A repeated key: the later value wins.
            *old = value;
        } else if !value.is_empty() {
            return Err(bad_param(key, "conflicts with another parameter"));
        }
        Ok(())
    }

    fn finish(self) -> Result<QueryParams, ApiError> {
        let mut members = Vec::with_capacity(self.root.len());
        let mut path = String::new();
        for (name, node) in self.root {
            path.clear();
            path.push_str(&name);
            let doc = to_document(node, &mut path)?;
            members.push((name, doc));
        }
        Ok(QueryParams {
            action: self.action,
            version: self.version,
            params: Document::Struct(members),
        })
    }
}

/// Converts a finished node. `path` is the query name of `node`; it is a
/// scratch buffer extended and truncated on the way down, so that error
/// messages can name the parameter without allocating a path per node.
fn to_document(node: Node, path: &mut String) -> Result<Document, ApiError> {
    let len = path.len();
    let doc = match node {
        Node::Pending => Document::Null,
        Node::Leaf(s) => Document::String(s),
        Node::Struct(map) => {
            let mut members = Vec::with_capacity(map.len());
            for (name, child) in map {
                path.push('.');
                path.push_str(&name);
                let doc = to_document(child, path)?;
                path.truncate(len);
                members.push((name, doc));
            }
            Document::Struct(members)
        }
        Node::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (index, child) in items {
                write_index(path, "member", index);
                out.push(to_document(child, path)?);
                path.truncate(len);
            }
            Document::List(out)
        }
        Node::Entries(entries) => {
            let mut out = Vec::with_capacity(entries.len());
            for (index, child) in entries {
                write_index(path, "entry", index);
                let Node::Struct(mut fields) = child else {
                    return Err(bad_param(path, "expected key and value"));
                };
                let key = match fields.remove("key").or_else(|| fields.remove("Name")) {
                    Some(Node::Leaf(k)) => k,
                    _ => return Err(ApiError::missing(&format!("{path}.key"))),
                };
                let value = match fields.remove("value").or_else(|| fields.remove("Value")) {
                    Some(v) => {
                        path.push_str(".value");
                        to_document(v, path)?
                    }
                    None => Document::Null,
                };
                path.truncate(len);
                out.push((key, value));
            }
            Document::Map(out)
        }
    };
    Ok(doc)
}

fn write_index(path: &mut String, kind: &str, index: u32) {
    use std::fmt::Write as _;
    let _ = write!(path, ".{kind}.{index}");
}

/// Client side: the awsQuery form for `action` with `params` (a `Struct`;
/// nested `Struct`s become dotted names, `List`s `.member.N`, `Map`s
/// `.entry.N.key/value`, an empty list `X=`). Values are percent-encoded.
pub fn encode_query_request(action: &str, version: &str, params: &Document) -> String {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.append_pair("Action", action);
    form.append_pair("Version", version);
    if let Some(members) = params.members() {
        for (name, value) in members {
            flatten(&mut form, name, value);
        }
    }
    form.finish()
}

fn flatten(form: &mut form_urlencoded::Serializer<'_, String>, prefix: &str, doc: &Document) {
    match doc {
        Document::Null => {}
        Document::Struct(members) => {
            for (name, value) in members {
                flatten(form, &format!("{prefix}.{name}"), value);
            }
        }
        Document::Map(entries) => {
            for (i, (key, value)) in entries.iter().enumerate() {
                let entry = format!("{prefix}.entry.{}", i + 1);
                form.append_pair(&format!("{entry}.key"), key);
                flatten(form, &format!("{entry}.value"), value);
            }
        }
        Document::List(items) if items.is_empty() => {
            form.append_pair(prefix, "");
        }
        Document::List(items) => {
            for (i, item) in items.iter().enumerate() {
                flatten(form, &format!("{prefix}.member.{}", i + 1), item);
            }
        }
        scalar => {
            form.append_pair(prefix, &scalar_text(scalar));
        }
    }
}

/// The query/XML text of a scalar.
pub(crate) fn scalar_text(doc: &Document) -> String {
    match doc {
        Document::Bool(b) => b.to_string(),
        Document::Int(i) => i.to_string(),
        Document::Float(f) => format_float(*f),
        Document::String(s) => s.clone(),
        Document::Blob(b) => base64::engine::general_purpose::STANDARD.encode(b),
        Document::Timestamp(t) => t.to_iso8601(),
        Document::Null | Document::List(_) | Document::Map(_) | Document::Struct(_) => {
            String::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<QueryParams, ApiError> {
        decode_form(&[s.as_bytes()])
    }

    fn s(v: &str) -> Document {
        Document::String(v.into())
    }

    #[test]
    fn builds_lists_maps_and_structs() {
        let q = decode(
            "Action=CreateTopic&Version=2010-03-31&Name=alerts&Attributes.entry.1.key=DisplayName\
             &Attributes.entry.1.value=Alerts+A&Tags.member.2.Key=k2&Tags.member.1.Key=k1&A.B.C=%2F",
        )
        .expect("valid form");
        assert_eq!(q.action.as_deref(), Some("CreateTopic"));
        assert_eq!(q.version.as_deref(), Some("2010-03-31"));
        let p = &q.params;
        assert_eq!(p.get("Action"), None);
        assert_eq!(p.get("Name"), Some(&s("alerts")));
        assert_eq!(
            p.get("Attributes"),
            Some(&Document::Map(vec![("DisplayName".into(), s("Alerts A"))]))
        );
        let tags = p.get("Tags").and_then(Document::as_list).expect("list");
        assert_eq!(tags[0].get("Key"), Some(&s("k1")));
        assert_eq!(tags[1].get("Key"), Some(&s("k2")));
        assert_eq!(
            p.get("A").and_then(|a| a.get("B")).and_then(|b| b.get("C")),
            Some(&s("/"))
        );
    }

    #[test]
    fn sns_message_attributes_use_name_and_value() {
        let q = decode(
            "MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String\
             &MessageAttributes.entry.1.Value.StringValue=x",
        )
        .expect("valid form");
        let attrs = q.params.get("MessageAttributes").expect("map");
        let Document::Map(entries) = attrs else {
            panic!("not a map: {attrs:?}")
        };
        assert_eq!(entries[0].0, "a");
        assert_eq!(entries[0].1.get("StringValue"), Some(&s("x")));
    }

    #[test]
    fn empty_value_survives_and_may_become_a_container() {
        let q = decode("MetricData=").expect("valid");
        assert_eq!(q.params.get("MetricData"), Some(&s("")));
        let q = decode("MetricData=&MetricData.member.1.MetricName=m").expect("valid");
        assert!(
            q.params
                .get("MetricData")
                .and_then(Document::as_list)
                .is_some()
        );
    }

    #[test]
    fn rejects_bad_indices_and_conflicts() {
        for bad in [
            "A.member.0=x",
            "A.member.100001=x",
            "A.member.x=x",
            "A.member=x",
            "A.member.-1=x",
            "A=1&A.B=2",
            "A.B=2&A=1",
            "A..B=1",
            ".A=1",
            "A.member.1=x&A.entry.1.key=y",
            "A.entry.1.value=v",
        ] {
            assert!(decode(bad).is_err(), "{bad} should be rejected");
        }
        let deep = format!("{}=1", vec!["a"; 100].join("."));
        assert!(decode(&deep).is_err());
    }

    #[test]
    fn form_round_trips() {
        let doc = Document::Struct(vec![
            ("Namespace".into(), s("CWAgent & co")),
            (
                "MetricData".into(),
                Document::List(vec![Document::Struct(vec![
                    ("MetricName".into(), s("disk_used_percent")),
                    ("Value".into(), s("51.5")),
                    ("Values".into(), Document::List(vec![s("1.0"), s("2.0")])),
                ])]),
            ),
            (
                "Attributes".into(),
                Document::Map(vec![("DisplayName".into(), s("x=y"))]),
            ),
            ("Empty".into(), Document::List(vec![])),
        ]);
        let form = encode_query_request("PutMetricData", "2010-08-01", &doc);
        assert!(form.starts_with("Action=PutMetricData&Version=2010-08-01&"));
        assert!(form.contains("MetricData.member.1.Values.member.2=2.0"));
        let q = decode(&form).expect("own output decodes");
        // Decoding sorts members by name; compare member by member.
        for (name, value) in doc.members().unwrap_or_default() {
            let want = if matches!(value, Document::List(l) if l.is_empty()) {
                s("")
            } else {
                value.clone()
            };
            assert_eq!(q.params.get(name), Some(&want), "{name}");
        }
    }
}
