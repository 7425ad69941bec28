//! Applying a rule to one log event: read the keys, the value and the
//! filters' fields (JSON path or CLF position) and decide whether and how
//! much the event contributes.

use super::rule::{AggregateOn, Condition, FieldRef, LogFormat, Operand, PathSeg, Rule};
use serde_json::Value;

/// What one matching event adds: to the contributor named by `keys`, `value`
/// (1 for a Count rule, the `ValueOf` field for a Sum rule).
#[derive(Clone, Debug, PartialEq)]
pub struct Observation {
    pub keys: Vec<String>,
    pub value: f64,
}

/// A field's value in an event: its text, and its number when it is one.
#[derive(Clone, Debug, PartialEq)]
struct FieldValue {
    text: String,
    num: Option<f64>,
}

impl FieldValue {
    fn equals(&self, o: &Operand) -> bool {
        match o {
            Operand::Str(s) => self.text == *s,
            Operand::Num(n) => self.num == Some(*n),
        }
    }
}

/// The parsed event: a JSON document or the CLF fields.
enum Parsed<'m> {
    Json(Value),
    Clf(Vec<&'m str>),
}

fn lookup(parsed: &Parsed<'_>, f: &FieldRef) -> Option<FieldValue> {
    match (parsed, f) {
        (Parsed::Json(doc), FieldRef::Json(path)) => {
            let mut cur = doc;
            for seg in path {
                cur = match seg {
                    PathSeg::Key(k) => cur.as_object()?.get(k)?,
                    PathSeg::Index(i) => cur.as_array()?.get(*i)?,
                };
            }
            match cur {
                Value::Null => None,
                Value::String(s) => Some(FieldValue {
                    num: s.trim().parse::<f64>().ok().filter(|n| n.is_finite()),
                    text: s.clone(),
                }),
                Value::Number(n) => {
                    let x = n.as_f64()?;
                    Some(FieldValue {
                        text: n.to_string(),
                        num: Some(x),
                    })
                }
                Value::Bool(b) => Some(FieldValue {
                    text: b.to_string(),
                    num: None,
                }),
                other => Some(FieldValue {
                    text: other.to_string(),
                    num: None,
                }),
            }
        }
        (Parsed::Clf(fields), FieldRef::Clf(pos)) => {
            let text = *fields.get(pos.checked_sub(1)?)?;
            Some(FieldValue {
                num: text.parse::<f64>().ok().filter(|n| n.is_finite()),
                text: text.to_string(),
            })
        }
        _ => None,
    }
}

/// Whether a field value (absent: `None`) passes a condition. An absent
/// field passes only `IsPresent: false`.
fn holds(c: &Condition, v: Option<&FieldValue>) -> bool {
    match (c, v) {
        (Condition::IsPresent(want), v) => v.is_some() == *want,
        (_, None) => false,
        (Condition::In(list), Some(v)) => list.iter().any(|o| v.equals(o)),
        (Condition::NotIn(list), Some(v)) => !list.iter().any(|o| v.equals(o)),
        (Condition::StartsWith(prefixes), Some(v)) => {
            prefixes.iter().any(|p| v.text.starts_with(p.as_str()))
        }
        (Condition::GreaterThan(n), Some(v)) => v.num.is_some_and(|x| x > *n),
        (Condition::LessThan(n), Some(v)) => v.num.is_some_and(|x| x < *n),
        (Condition::EqualTo(o), Some(v)) => v.equals(o),
        (Condition::NotEqualTo(o), Some(v)) => !v.equals(o),
    }
}

impl Rule {
    /// The event's contribution, or `None` when it does not parse in the
    /// rule's format, fails a filter, lacks a key, or (Sum) lacks a numeric
    /// value.
    pub fn observe(&self, message: &str) -> Option<Observation> {
        let parsed = match self.format {
            LogFormat::Json => Parsed::Json(serde_json::from_str(message.trim()).ok()?),
            LogFormat::Clf => Parsed::Clf(crate::pattern::field_values(message)),
        };
        for f in &self.filters {
            let v = lookup(&parsed, &f.field);
            if !f.conditions.iter().all(|c| holds(c, v.as_ref())) {
                return None;
            }
        }
        let keys = self
            .keys
            .iter()
            .map(|k| lookup(&parsed, k).map(|v| v.text))
            .collect::<Option<Vec<String>>>()?;
        let value = match self.aggregate_on {
            AggregateOn::Count => 1.0,
            AggregateOn::Sum => lookup(&parsed, self.value_of.as_ref()?)?.num?,
        };
        Some(Observation { keys, value })
    }
}
