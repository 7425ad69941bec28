//! Metric filters: PutMetricFilter's checks on a metric transformation and
//! what one log event contributes to the metric.
//!
//! AWS rules used here ("Filter pattern syntax for metric filters",
//! MetricTransformation API reference):
//! - metricValue is a number or a field selector (`$.latency`, `$bytes`,
//!   `$7`); selectors need a JSON or space-delimited pattern.
//! - dimensions: "only available for JSON and space-delimited filter
//!   patterns", "up to three", and "If you assign dimensions to metrics that
//!   metric filters generate, you can't specify default values".
//! - A dimension "will only be published for a metric if the value is found
//!   in the log event" (AWS::Logs::MetricFilter Dimension): a dimension whose
//!   field is absent is left off the datum, the datum is still emitted.

use std::collections::BTreeMap;

use super::json::{JsonPattern, Selector};
use super::json_doc::Node;
use super::value::parse_number;
use super::{FilterPattern, Kind, PatternError};

/// AWS's limits on a transformation's strings.
const MAX_NAME_CHARS: usize = 255;
const MAX_METRIC_VALUE_CHARS: usize = 100;
const MAX_DIMENSIONS: usize = 3;

#[derive(Clone, Debug, PartialEq)]
pub struct MetricTransformation {
    pub metric_name: String,
    pub metric_namespace: String,
    /// `"1"`, `"3.5"`, `"$.latency"`, `"$bytes"`, `"$7"`.
    pub metric_value: String,
    pub default_value: Option<f64>,
    /// Dimension name → selector (`$.field` or `$field`).
    pub dimensions: BTreeMap<String, String>,
    pub unit: Option<String>,
}

/// One datum a metric filter publishes for one event.
#[derive(Clone, Debug, PartialEq)]
pub struct Emission {
    pub namespace: String,
    pub name: String,
    pub value: f64,
    pub unit: Option<String>,
    /// Sorted by dimension name.
    pub dimensions: Vec<(String, String)>,
    pub timestamp_ms: i64,
}

/// Where a metric value or dimension comes from.
enum Source {
    Literal(f64),
    Json(Selector),
    /// `$name` or `$3`: the key `extract` reports.
    Field(String),
}

fn invalid(reason: impl Into<String>) -> PatternError {
    PatternError::InvalidTransformation {
        reason: reason.into(),
    }
}

/// Resolves a `$…` reference against the pattern kind.
fn selector_for(p: &FilterPattern, what: &str, s: &str) -> Result<Source, PatternError> {
    match &p.kind {
        Kind::Json(_) => Selector::parse_exact(s).map(Source::Json).ok_or_else(|| {
            invalid(format!(
                "{what} '{s}' is not a JSON property selector such as $.field"
            ))
        }),
        Kind::Delimited(d) => {
            let name = s.strip_prefix('$').unwrap_or("");
            let positional = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_digit())
                && name.parse::<usize>().is_ok_and(|n| n >= 1);
            if positional || d.has_field_named(name) {
                Ok(Source::Field(s.to_string()))
            } else {
                Err(invalid(format!(
                    "{what} '{s}' names no field of the space-delimited filter pattern"
                )))
            }
        }
        Kind::Text(_) | Kind::Regex(_) => Err(invalid(format!(
            "{what} '{s}' refers to a field, which needs a JSON or space-delimited filter pattern"
        ))),
    }
}

fn metric_value_source(p: &FilterPattern, value: &str) -> Result<Source, PatternError> {
    if value.starts_with('$') {
        return selector_for(p, "metricValue", value);
    }
    parse_number(value).map(Source::Literal).ok_or_else(|| {
        invalid(format!(
            "metricValue '{value}' must be a number or a field selector such as $.field or $field"
        ))
    })
}

fn check_name(what: &str, s: &str) -> Result<(), PatternError> {
    let chars = s.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS {
        return Err(invalid(format!(
            "{what} must be 1 to {MAX_NAME_CHARS} characters long"
        )));
    }
    if s.contains([':', '*', '$']) {
        return Err(invalid(format!(
            "{what} '{s}' must not contain ':', '*' or '$'"
        )));
    }
    Ok(())
}

pub fn validate_transformation(
    p: &FilterPattern,
    t: &MetricTransformation,
) -> Result<(), PatternError> {
    check_name("metricName", &t.metric_name)?;
    check_name("metricNamespace", &t.metric_namespace)?;
    if t.metric_value.is_empty() || t.metric_value.chars().count() > MAX_METRIC_VALUE_CHARS {
        return Err(invalid(format!(
            "metricValue must be 1 to {MAX_METRIC_VALUE_CHARS} characters long"
        )));
    }
    metric_value_source(p, &t.metric_value)?;
    if let Some(d) = t.default_value
        && !d.is_finite()
    {
        return Err(invalid("defaultValue must be a finite number"));
    }
    if let Some(unit) = &t.unit
        && !crate::UNITS.contains(&unit.as_str())
    {
        return Err(invalid(format!("unit '{unit}' is not a CloudWatch unit")));
    }
    if t.dimensions.is_empty() {
        return Ok(());
    }
    if !(p.is_json() || p.is_space_delimited()) {
        return Err(invalid(
            "dimensions are only available for JSON and space-delimited filter patterns",
        ));
    }
    if t.dimensions.len() > MAX_DIMENSIONS {
        return Err(invalid(format!(
            "a metric filter can have at most {MAX_DIMENSIONS} dimensions"
        )));
    }
    if t.default_value.is_some() {
        return Err(invalid("defaultValue cannot be specified with dimensions"));
    }
    for (name, selector) in &t.dimensions {
        let chars = name.chars().count();
        if chars == 0 || chars > MAX_NAME_CHARS {
            return Err(invalid(format!(
                "dimension names must be 1 to {MAX_NAME_CHARS} characters long"
            )));
        }
        if !selector.starts_with('$') {
            return Err(invalid(format!(
                "dimension '{name}' must be a field selector such as $.field or $field, not '{selector}'"
            )));
        }
        selector_for(p, &format!("dimension '{name}'"), selector)?;
    }
    Ok(())
}

/// The matched event's fields, parsed once for the value and dimensions.
enum Matched<'m> {
    Json(Node<'m>),
    Fields(BTreeMap<String, String>),
    Nothing,
}

impl Matched<'_> {
    fn text(&self, source: &Source) -> Option<String> {
        match (self, source) {
            (_, Source::Literal(v)) => Some(v.to_string()),
            (Matched::Json(doc), Source::Json(sel)) => sel.first_scalar(doc).map(Node::render),
            (Matched::Fields(fields), Source::Field(key)) => fields.get(key).cloned(),
            _ => None,
        }
    }

    fn number(&self, source: &Source) -> Option<f64> {
        match (self, source) {
            (_, Source::Literal(v)) => Some(*v),
            (Matched::Json(doc), Source::Json(sel)) => match sel.first_scalar(doc)? {
                Node::Number(n) => Some(n.as_f64()),
                Node::String(s) => parse_number(s.trim()),
                _ => None,
            },
            (Matched::Fields(fields), Source::Field(key)) => parse_number(fields.get(key)?.trim()),
            _ => None,
        }
    }
}

/// One event through one metric filter. A match emits `metric_value` (a
/// selector whose value is absent or not numeric emits nothing); no match
/// emits `default_value` if there is one. An invalid transformation (see
/// [`validate_transformation`]) emits nothing.
pub fn apply(
    p: &FilterPattern,
    t: &MetricTransformation,
    message: &str,
    timestamp_ms: i64,
) -> Option<Emission> {
    let value_source = metric_value_source(p, &t.metric_value).ok()?;
    let matched = match &p.kind {
        Kind::Json(j) => JsonPattern::document(message)
            .filter(|doc| j.eval(doc))
            .map(Matched::Json),
        Kind::Delimited(d) => d.extract(message).map(Matched::Fields),
        Kind::Text(_) | Kind::Regex(_) => p.matches(message).then_some(Matched::Nothing),
    };
    let emission = |value: f64, dimensions: Vec<(String, String)>| Emission {
        namespace: t.metric_namespace.clone(),
        name: t.metric_name.clone(),
        value,
        unit: t.unit.clone(),
        dimensions,
        timestamp_ms,
    };
    let Some(matched) = matched else {
        return t.default_value.map(|d| emission(d, Vec::new()));
    };
    let value = matched.number(&value_source)?;
    let mut dimensions = Vec::with_capacity(t.dimensions.len());
    for (name, selector) in &t.dimensions {
        let Ok(source) = selector_for(p, "dimension", selector) else {
            continue;
        };
        if let Some(v) = matched.text(&source) {
            dimensions.push((name.clone(), v));
        }
    }
    Some(emission(value, dimensions))
}
