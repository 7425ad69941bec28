//! Subscription filter policies: parsing and validation of the JSON policy,
//! and matching it against a message's attributes (`FilterPolicyScope =
//! MessageAttributes`) or its JSON body (`MessageBody`).
//!
//! Semantics as SNS documents them: keys of a policy object are ANDed, the
//! conditions in a key's array are ORed, an array value in the message
//! matches when any element matches, `$or` takes a list of sub-policies.

use super::invalid;
use crate::error::{ApiError, ApiResult};
use serde_json::{Map, Value};

/// Where a filter policy looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterScope {
    #[default]
    MessageAttributes,
    MessageBody,
}

impl FilterScope {
    pub fn parse(s: &str) -> ApiResult<FilterScope> {
        match s {
            "MessageAttributes" => Ok(FilterScope::MessageAttributes),
            "MessageBody" => Ok(FilterScope::MessageBody),
            _ => Err(invalid(
                "FilterPolicyScope: Invalid value [".to_string()
                    + &s.chars().take(64).collect::<String>()
                    + "]. Please use either MessageBody or MessageAttributes",
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            FilterScope::MessageAttributes => "MessageAttributes",
            FilterScope::MessageBody => "MessageBody",
        }
    }
}

/// At most this many keys (attribute names / body paths) in one policy.
pub const MAX_KEYS: usize = 5;
/// At most this many value combinations (product of the conditions per key).
pub const MAX_COMBINATIONS: usize = 150;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Condition {
    String(String),
    Number(f64),
    Bool(bool),
    Null,
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Value>),
    AnythingButPrefix(String),
    /// An IP address range: the network address and the prefix length.
    Cidr(std::net::IpAddr, u8),
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// Every member must match (`$or` members are alternatives).
    Object(Vec<(String, Node)>),
    /// One of the conditions must match the value at this key.
    Leaf(Vec<Condition>),
    /// One of the sub-policies must match.
    Or(Vec<Node>),
}

/// A validated filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    root: Node,
    scope: FilterScope,
}

fn bad(reason: impl std::fmt::Display) -> ApiError {
    invalid(format_args!("FilterPolicy: {reason}"))
}

impl FilterPolicy {
    /// Parses and validates `text` for `scope`.
    pub fn parse(text: &str, scope: FilterScope) -> ApiResult<FilterPolicy> {
        // AWS's own refusals first, with its wording and positions.
        super::filter_syntax::check(text).map_err(bad)?;
        let value: Value = serde_json::from_str(text).map_err(|_| bad("failed to parse JSON"))?;
        let Value::Object(obj) = value else {
            return Err(bad("Filter policy must be a JSON object"));
        };
        let root = parse_object(&obj, scope, 0)?;
        let (keys, combos) = complexity(&root, 1);
        if keys > MAX_KEYS {
            return Err(bad(format_args!(
                "Filter policy can not have more than {MAX_KEYS} keys"
            )));
        }
        if combos > MAX_COMBINATIONS {
            return Err(bad("Filter policy is too complex"));
        }
        Ok(FilterPolicy { root, scope })
    }

    pub fn scope(&self) -> FilterScope {
        self.scope
    }

    /// Whether a message passes. `attributes` maps attribute names to their
    /// JSON view (String → string, Number → number, String.Array → array;
    /// Binary attributes are not matchable and left out); `body` is the
    /// message text.
    pub fn matches(&self, attributes: &Map<String, Value>, body: &str) -> bool {
        match self.scope {
            FilterScope::MessageAttributes => match_node(&self.root, Some(attributes)),
            FilterScope::MessageBody => match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(obj)) => match_node(&self.root, Some(&obj)),
                _ => false,
            },
        }
    }
}

/// Number of leaf keys and of value combinations. As SNS counts them, a key
/// nested `depth` levels deep weighs `depth` × its number of values (AWS's
/// example: 4 values three levels deep, 3 two levels deep and 3 at the top
/// make 3×4 × 2×3 × 1×3 = 216); `$or` alternatives add up.
fn complexity(node: &Node, depth: usize) -> (usize, usize) {
    match node {
        Node::Leaf(c) => (1, depth.saturating_mul(c.len().max(1))),
        Node::Object(members) => members.iter().fold((0, 1), |(k, c), (_, n)| {
            // A nested object is one level deeper; `$or` stays at this level.
            let child_depth = match n {
                Node::Object(_) => depth + 1,
                _ => depth,
            };
            let (nk, nc) = complexity(n, child_depth);
            (k + nk, c.saturating_mul(nc))
        }),
        Node::Or(alts) => alts.iter().fold((0, 0), |(k, c), n| {
            let (nk, nc) = complexity(n, depth);
            (k.max(nk), c.saturating_add(nc))
        }),
    }
}

const MAX_DEPTH: usize = 5;

fn parse_object(obj: &Map<String, Value>, scope: FilterScope, depth: usize) -> ApiResult<Node> {
    if depth > MAX_DEPTH {
        return Err(bad("Filter policy is too deeply nested"));
    }
    let mut members = Vec::with_capacity(obj.len());
    for (key, v) in obj {
        let node = if key == "$or" {
            let alts = v
                .as_array()
                .filter(|a| a.len() >= 2)
                .ok_or_else(|| bad("$or must be an array of at least 2 objects"))?;
            let mut nodes = Vec::with_capacity(alts.len());
            for alt in alts {
                let o = alt
                    .as_object()
                    .ok_or_else(|| bad("$or must be an array of at least 2 objects"))?;
                nodes.push(parse_object(o, scope, depth + 1)?);
            }
            Node::Or(nodes)
        } else {
            match v {
                Value::Array(items) => Node::Leaf(parse_conditions(items)?),
                Value::Object(o) if scope == FilterScope::MessageBody => {
                    parse_object(o, scope, depth + 1)?
                }
                Value::Object(_) => {
                    // AWS names no attribute here ("Invalid parameter: Filter policy …").
                    return Err(invalid(
                        "Filter policy scope MessageAttributes does not support nested filter policy",
                    ));
                }
                _ => {
                    return Err(bad(format_args!("\"{key}\" must be an object or an array")));
                }
            }
        };
        members.push((key.clone(), node));
    }
    Ok(Node::Object(members))
}

fn literal(v: &Value) -> ApiResult<Condition> {
    Ok(match v {
        Value::String(s) => Condition::String(s.clone()),
        Value::Number(n) => Condition::Number(n.as_f64().ok_or_else(|| bad("bad number"))?),
        Value::Bool(b) => Condition::Bool(*b),
        Value::Null => Condition::Null,
        _ => {
            return Err(bad(
                "Match value must be String, number, true, false, or null",
            ));
        }
    })
}

fn parse_conditions(items: &[Value]) -> ApiResult<Vec<Condition>> {
    if items.is_empty() {
        return Err(bad("Empty arrays are not allowed"));
    }
    items.iter().map(parse_condition).collect()
}

fn single_string(v: &Value, op: &str) -> ApiResult<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| bad(format_args!("{op} match pattern must be a string")))
}

fn parse_condition(v: &Value) -> ApiResult<Condition> {
    let Value::Object(o) = v else {
        return literal(v);
    };
    if o.len() != 1 {
        return Err(bad("Only one key allowed in match expression"));
    }
    let Some((op, arg)) = o.iter().next() else {
        return Err(bad("Only one key allowed in match expression"));
    };
    Ok(match op.as_str() {
        "prefix" => Condition::Prefix(single_string(arg, "prefix")?),
        "suffix" => Condition::Suffix(single_string(arg, "suffix")?),
        "equals-ignore-case" => Condition::EqualsIgnoreCase(single_string(arg, op)?),
        "exists" => match arg {
            Value::Bool(b) => Condition::Exists(*b),
            _ => return Err(bad("exists match pattern must be either true or false.")),
        },
        "anything-but" => match arg {
            Value::Array(vals) if !vals.is_empty() => {
                for x in vals {
                    if !(x.is_string() || x.is_number()) {
                        return Err(bad(
                            "Inside anything but list, start|null|boolean is not supported.",
                        ));
                    }
                }
                Condition::AnythingBut(vals.clone())
            }
            Value::String(_) | Value::Number(_) => Condition::AnythingBut(vec![arg.clone()]),
            Value::Object(inner) if inner.len() == 1 => match inner.get("prefix") {
                Some(Value::String(p)) => Condition::AnythingButPrefix(p.clone()),
                _ => return Err(bad("Unsupported anything-but pattern")),
            },
            _ => return Err(bad("Unsupported anything-but pattern")),
        },
        "numeric" => Condition::Numeric(parse_numeric(arg)?),
        "cidr" => parse_cidr(&single_string(arg, "prefix")?)?,
        other => {
            return Err(bad(format_args!(
                "Unrecognized match type {}",
                other.chars().take(64).collect::<String>()
            )));
        }
    })
}

fn parse_cidr(text: &str) -> ApiResult<Condition> {
    super::filter_syntax::check_cidr(text).map_err(bad)?;
    let (ip, bits) = text
        .split_once('/')
        .ok_or_else(|| bad("Malformed CIDR, one '/' required"))?;
    let ip = ip
        .parse::<std::net::IpAddr>()
        .map_err(|_| bad(format_args!("Nonstandard IP address: {ip}")))?;
    let bits = bits
        .parse::<u8>()
        .map_err(|_| bad("Malformed CIDR, mask bits must be an integer"))?;
    Ok(Condition::Cidr(ip, bits))
}

/// Whether `addr` falls in the `net`/`bits` range (same address family only).
fn in_cidr(net: std::net::IpAddr, bits: u8, addr: &str) -> bool {
    use std::net::IpAddr;
    let (net, addr, width): (u128, u128, u32) = match (net, addr.parse::<IpAddr>()) {
        (IpAddr::V4(n), Ok(IpAddr::V4(a))) => (u32::from(n) as u128, u32::from(a) as u128, 32),
        (IpAddr::V6(n), Ok(IpAddr::V6(a))) => (u128::from(n), u128::from(a), 128),
        _ => return false,
    };
    let bits = u32::from(bits).min(width);
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (net >> shift) == (addr >> shift)
}

fn parse_numeric(arg: &Value) -> ApiResult<Vec<(Cmp, f64)>> {
    let items = arg
        .as_array()
        .ok_or_else(|| bad("Value of numeric must be an array."))?;
    if items.is_empty() || !items.len().is_multiple_of(2) || items.len() > 4 {
        return Err(bad(
            "Value of numeric must be an array of one or two comparisons.",
        ));
    }
    let mut out = Vec::with_capacity(2);
    for pair in items.chunks(2) {
        let cmp = match pair[0].as_str() {
            Some("=") => Cmp::Eq,
            Some("<") => Cmp::Lt,
            Some("<=") => Cmp::Le,
            Some(">") => Cmp::Gt,
            Some(">=") => Cmp::Ge,
            _ => return Err(bad("Unrecognized numeric range operator")),
        };
        let n = pair[1]
            .as_f64()
            .ok_or_else(|| bad("Value of numeric must be numeric"))?;
        if n.abs() > 1e9 {
            return Err(bad("Numeric values must be between -1.0E9 and 1.0E9"));
        }
        out.push((cmp, n));
    }
    if out.len() == 2 {
        let lower = matches!(out[0].0, Cmp::Gt | Cmp::Ge);
        let upper = matches!(out[1].0, Cmp::Lt | Cmp::Le);
        if !lower || !upper {
            return Err(bad("Bad numeric range operator"));
        }
        if out[0].1 >= out[1].1 {
            return Err(bad("Bottom must be less than top"));
        }
    } else if out.len() == 1 && out[0].0 == Cmp::Eq && items.len() != 2 {
        return Err(bad("Bad numeric range operator"));
    }
    Ok(out)
}

fn match_node(node: &Node, obj: Option<&Map<String, Value>>) -> bool {
    match node {
        Node::Object(members) => members.iter().all(|(key, child)| match child {
            Node::Or(_) => match_node(child, obj),
            Node::Leaf(conds) => match_leaf(conds, obj.and_then(|o| o.get(key))),
            Node::Object(_) => {
                let inner = obj.and_then(|o| o.get(key)).and_then(Value::as_object);
                match_node(child, inner)
            }
        }),
        Node::Or(alts) => alts.iter().any(|a| match_node(a, obj)),
        Node::Leaf(_) => false,
    }
}

fn match_leaf(conds: &[Condition], value: Option<&Value>) -> bool {
    conds.iter().any(|c| match (c, value) {
        (Condition::Exists(want), v) => v.is_some() == *want,
        (_, None) => false,
        (c, Some(Value::Array(items))) => items.iter().any(|i| match_one(c, i)),
        (c, Some(v)) => match_one(c, v),
    })
}

fn match_one(c: &Condition, v: &Value) -> bool {
    match c {
        Condition::String(s) => v.as_str() == Some(s),
        Condition::Number(n) => v.as_f64() == Some(*n),
        Condition::Bool(b) => v.as_bool() == Some(*b),
        Condition::Null => v.is_null(),
        Condition::Prefix(p) => v.as_str().is_some_and(|s| s.starts_with(p.as_str())),
        Condition::Suffix(p) => v.as_str().is_some_and(|s| s.ends_with(p.as_str())),
        Condition::EqualsIgnoreCase(p) => v.as_str().is_some_and(|s| s.eq_ignore_ascii_case(p)),
        Condition::AnythingBut(vals) => {
            (v.is_string() || v.is_number())
                && !vals.iter().any(|x| match (x, v) {
                    (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
                    _ => x == v,
                })
        }
        Condition::AnythingButPrefix(p) => v.as_str().is_some_and(|s| !s.starts_with(p.as_str())),
        Condition::Numeric(ranges) => v.as_f64().is_some_and(|x| {
            ranges.iter().all(|(cmp, n)| match cmp {
                Cmp::Eq => x == *n,
                Cmp::Lt => x < *n,
                Cmp::Le => x <= *n,
                Cmp::Gt => x > *n,
                Cmp::Ge => x >= *n,
            })
        }),
        Condition::Cidr(net, bits) => v.as_str().is_some_and(|s| in_cidr(*net, *bits, s)),
        Condition::Exists(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn attribute_matching_table() {
        let cases: &[(&str, Value, bool)] = &[
            (
                r#"{"store":["example_corp"]}"#,
                json!({"store": "example_corp"}),
                true,
            ),
            (
                r#"{"store":["example_corp"]}"#,
                json!({"store": "other"}),
                false,
            ),
            (r#"{"store":["example_corp"]}"#, json!({}), false),
            (r#"{"store":["a","b"]}"#, json!({"store": "b"}), true),
            (
                r#"{"store":[{"prefix":"ex"}]}"#,
                json!({"store": "example"}),
                true,
            ),
            (
                r#"{"store":[{"prefix":"ex"}]}"#,
                json!({"store": "sample"}),
                false,
            ),
            (
                r#"{"store":[{"suffix":"ple"}]}"#,
                json!({"store": "sample"}),
                true,
            ),
            (
                r#"{"s":[{"equals-ignore-case":"ABC"}]}"#,
                json!({"s": "aBc"}),
                true,
            ),
            (
                r#"{"event":[{"anything-but":["order_cancelled"]}]}"#,
                json!({"event": "order_placed"}),
                true,
            ),
            (
                r#"{"event":[{"anything-but":"order_cancelled"}]}"#,
                json!({"event": "order_cancelled"}),
                false,
            ),
            (r#"{"event":[{"anything-but":["x"]}]}"#, json!({}), false),
            (
                r#"{"event":[{"anything-but":{"prefix":"order-"}}]}"#,
                json!({"event": "order-x"}),
                false,
            ),
            (
                r#"{"event":[{"anything-but":{"prefix":"order-"}}]}"#,
                json!({"event": "ship"}),
                true,
            ),
            (
                r#"{"price":[{"numeric":[">=",100]}]}"#,
                json!({"price": 100}),
                true,
            ),
            (
                r#"{"price":[{"numeric":[">",0,"<=",150]}]}"#,
                json!({"price": 150.0}),
                true,
            ),
            (
                r#"{"price":[{"numeric":[">",0,"<=",150]}]}"#,
                json!({"price": 150.5}),
                false,
            ),
            (
                r#"{"price":[{"numeric":[">",0,"<=",150]}]}"#,
                json!({"price": "100"}),
                false,
            ),
            (
                r#"{"price":[{"numeric":["=",5]}]}"#,
                json!({"price": 5}),
                true,
            ),
            (r#"{"price":[5]}"#, json!({"price": 5.0}), true),
            (r#"{"code":[{"exists":true}]}"#, json!({"code": "x"}), true),
            (r#"{"code":[{"exists":true}]}"#, json!({}), false),
            (r#"{"code":[{"exists":false}]}"#, json!({}), true),
            (r#"{"code":[{"exists":false}]}"#, json!({"code": 1}), false),
            (
                r#"{"tags":["red"]}"#,
                json!({"tags": ["blue", "red"]}),
                true,
            ),
            (r#"{"tags":["red"]}"#, json!({"tags": ["blue"]}), false),
            (
                r#"{"a":["1"],"b":["2"]}"#,
                json!({"a": "1", "b": "2"}),
                true,
            ),
            (r#"{"a":["1"],"b":["2"]}"#, json!({"a": "1"}), false),
            (
                r#"{"$or":[{"a":["1"]},{"b":["2"]}]}"#,
                json!({"b": "2"}),
                true,
            ),
            (
                r#"{"$or":[{"a":["1"]},{"b":["2"]}]}"#,
                json!({"b": "3"}),
                false,
            ),
            ("{}", json!({"x": "y"}), true),
        ];
        for (policy, message, want) in cases {
            let p = FilterPolicy::parse(policy, FilterScope::MessageAttributes).unwrap();
            assert_eq!(
                p.matches(&attrs(message.clone()), ""),
                *want,
                "{policy} vs {message}"
            );
        }
    }

    #[test]
    fn body_matching() {
        let p = FilterPolicy::parse(
            r#"{"order":{"status":["shipped"],"total":[{"numeric":[">",10]}]}}"#,
            FilterScope::MessageBody,
        )
        .unwrap();
        let empty = Map::new();
        assert!(p.matches(&empty, r#"{"order":{"status":"shipped","total":12}}"#));
        assert!(!p.matches(&empty, r#"{"order":{"status":"shipped","total":2}}"#));
        assert!(!p.matches(&empty, "not json"));
        assert!(!p.matches(&empty, r#"{"order":"shipped"}"#));
    }

    #[test]
    fn invalid_policies() {
        let cases = [
            ("[]", FilterScope::MessageAttributes),
            ("nope", FilterScope::MessageAttributes),
            (r#"{"a":"x"}"#, FilterScope::MessageAttributes),
            (r#"{"a":[]}"#, FilterScope::MessageAttributes),
            (r#"{"a":[{"prefx":"x"}]}"#, FilterScope::MessageAttributes),
            (
                r#"{"a":[{"numeric":[">",5,">",6]}]}"#,
                FilterScope::MessageAttributes,
            ),
            (
                r#"{"a":[{"numeric":[">",10,"<",5]}]}"#,
                FilterScope::MessageAttributes,
            ),
            (r#"{"a":[{"numeric":"5"}]}"#, FilterScope::MessageAttributes),
            (
                r#"{"a":[{"exists":"yes"}]}"#,
                FilterScope::MessageAttributes,
            ),
            (r#"{"a":[[1]]}"#, FilterScope::MessageAttributes),
            (
                r#"{"a":["1"],"b":["1"],"c":["1"],"d":["1"],"e":["1"],"f":["1"]}"#,
                FilterScope::MessageAttributes,
            ),
        ];
        for (text, scope) in cases {
            let e = FilterPolicy::parse(text, scope).unwrap_err();
            assert!(
                e.message.starts_with("Invalid parameter: FilterPolicy: "),
                "{text}: {}",
                e.message
            );
        }
        // AWS names no attribute for a nested policy under MessageAttributes.
        assert_eq!(
            FilterPolicy::parse(r#"{"a":{"b":["x"]}}"#, FilterScope::MessageAttributes)
                .unwrap_err()
                .message,
            "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
        );
        let many: Vec<String> = (0..151).map(|i| format!("\"v{i}\"")).collect();
        let text = format!("{{\"a\":[{}]}}", many.join(","));
        assert!(FilterPolicy::parse(&text, FilterScope::MessageAttributes).is_err());
        assert!(FilterScope::parse("Body").is_err());
    }
}

#[cfg(test)]
mod or_complexity_tests {
    use super::*;

    #[test]
    fn or_alternatives_add_up_to_aws_combination_count() {
        // From AWS's recorded refusal: 4×6 + 4×4×4 + 4×4×4 = 152 > 150.
        let flat = r#"{"source":["a","b","c","d"],"$or":[{"metricName":["1","2","3","4","5","6"]},{"metricType":["1","2","3","4"],"$or":[{"metricId":[1,2,3,4]},{"spaceId":[1,2,3,4]}]}]}"#;
        let e = FilterPolicy::parse(flat, FilterScope::MessageAttributes).unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: FilterPolicy: Filter policy is too complex"
        );
        // AWS's nested example: 3×4 × 2×3 × 1×3 = 216 > 150; and 160 with `$or`.
        for (text, scope) in [
            (
                r#"{"key_a":{"key_b":{"key_c":["1","2","3","4"]}},"key_d":{"key_e":["1","2","3"]},"key_f":["1","2","3"]}"#,
                FilterScope::MessageBody,
            ),
            (
                r#"{"$or":[{"metricName":["a","b","c"]},{"namespace":["a","b"]}],"detail":{"scope":["a","b"],"$or":[{"source":["a"]},{"type":["a","b","c"]}]}}"#,
                FilterScope::MessageBody,
            ),
        ] {
            assert!(FilterPolicy::parse(text, scope).is_err(), "{text}");
        }
        // Exactly 150 is accepted (AWS's recorded positive case).
        let ok = r#"{"source":["a","b","c"],"$or":[{"metricName":["1","2","3","4","5","6"]},{"metricType":["1","2","3","4"],"$or":[{"metricId":[1,2,3,4]},{"spaceId":[1,2,3,4,5,6,7]}]}]}"#;
        assert!(FilterPolicy::parse(ok, FilterScope::MessageAttributes).is_ok());
    }
}
