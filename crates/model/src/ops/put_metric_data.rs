//! PutMetricData: input as decoded from the wire, and its validation into
//! normalized [`Datum`]s.
//!
//! A rejected request must change nothing, so [`PutMetricDataInput::validate`]
//! checks every datum before returning anything; the caller stores the whole
//! [`ValidPut`] or nothing.

use crate::error::ApiResult;
use crate::limits::*;
use crate::metric::{
    Dimension, MetricId, reserved_namespace_error, validate_metric_name, validate_namespace,
};
use crate::param::{
    Param, check_len, check_value, constraint, invalid, missing, mutually_exclusive,
};
use crate::time::Timestamp;
use crate::unit::Unit;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ops::Range;

// ---------------------------------------------------------------- input

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutMetricDataInput {
    pub namespace: Option<String>,
    pub metric_data: Vec<MetricDatumInput>,
    pub entity_metric_data: Vec<EntityMetricDataInput>,
    pub strict_entity_validation: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct MetricDatumInput {
    pub metric_name: Option<String>,
    pub dimensions: Vec<Dimension>,
    pub timestamp: Option<Timestamp>,
    pub value: Option<f64>,
    pub statistic_values: Option<StatisticSetInput>,
    pub values: Vec<f64>,
    pub counts: Vec<f64>,
    pub unit: Option<String>,
    pub storage_resolution: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct StatisticSetInput {
    pub sample_count: Option<f64>,
    pub sum: Option<f64>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EntityMetricDataInput {
    pub entity: Option<EntityInput>,
    pub metric_data: Vec<MetricDatumInput>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EntityInput {
    pub key_attributes: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
}

// ---------------------------------------------------------------- output of validation

/// One normalized datum, ready for storage.
#[derive(Debug, Clone, PartialEq)]
pub struct Datum {
    pub metric: MetricId,
    /// The datum's `Timestamp`, or the request time when absent.
    pub timestamp: Timestamp,
    /// `Unit`, or `None` when absent.
    pub unit: Unit,
    /// `StorageResolution` 1 (kept at 1-second granularity) vs 60 (default).
    pub high_resolution: bool,
    pub value: DatumValue,
}

/// The three ways a datum carries values.
#[derive(Debug, Clone, PartialEq)]
pub enum DatumValue {
    /// `Value`.
    Single(f64),
    /// `Values` with `Counts` as `(value, count)`; counts default to 1.
    Distribution(Vec<(f64, f64)>),
    /// `StatisticValues`.
    StatSet {
        count: f64,
        sum: f64,
        min: f64,
        max: f64,
    },
}

impl DatumValue {
    /// Number of samples this datum represents.
    pub fn sample_count(&self) -> f64 {
        match self {
            DatumValue::Single(_) => 1.0,
            DatumValue::Distribution(v) => v.iter().map(|(_, c)| c).sum(),
            DatumValue::StatSet { count, .. } => *count,
        }
    }
}

/// An entity (`EntityMetricData.member.N.Entity`) and the datums it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityDatums {
    pub key_attributes: BTreeMap<String, String>,
    pub attributes: BTreeMap<String, String>,
    /// Indices into [`ValidPut::datums`].
    pub datums: Range<usize>,
}

/// A fully validated PutMetricData request.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidPut {
    pub namespace: String,
    /// `MetricData` first, then each `EntityMetricData` entry's datums in order.
    pub datums: Vec<Datum>,
    /// Entities that passed validation. With `StrictEntityValidation` false, an
    /// invalid entity is dropped here while its datums are still stored, which is
    /// what AWS does.
    pub entities: Vec<EntityDatums>,
}

// ---------------------------------------------------------------- validation

impl PutMetricDataInput {
    /// Validates the whole request against `now`; any violation rejects all of it.
    pub fn validate(self, now: Timestamp) -> ApiResult<ValidPut> {
        let ns_param = Param::root("Namespace");
        let namespace = validate_namespace(self.namespace, ns_param)?;
        if namespace.starts_with(RESERVED_NAMESPACE_PREFIX) {
            return Err(reserved_namespace_error(&namespace, ns_param));
        }

        let entity_param = Param::root("EntityMetricData");
        if self.entity_metric_data.len() > MAX_ENTITY_METRIC_DATA {
            return Err(constraint(
                &format!("[{} entries]", self.entity_metric_data.len()),
                entity_param,
                &format!("Member must have length less than or equal to {MAX_ENTITY_METRIC_DATA}"),
            ));
        }
        let total = self.metric_data.len()
            + self
                .entity_metric_data
                .iter()
                .map(|e| e.metric_data.len())
                .sum::<usize>();
        if total > MAX_DATUMS_PER_PUT {
            return Err(invalid(format!(
                "The collection MetricData must not have a size greater than {MAX_DATUMS_PER_PUT} (this request has {total} datums across MetricData and EntityMetricData)."
            )));
        }

        let window = TimeWindow::around(now);
        let mut datums = Vec::with_capacity(total);
        let md_param = Param::root("MetricData");
        for (i, d) in self.metric_data.into_iter().enumerate() {
            datums.push(validate_datum(d, &namespace, md_param.member(i), &window)?);
        }

        let strict = self.strict_entity_validation.unwrap_or(false);
        let mut entities = Vec::new();
        for (e, emd) in self.entity_metric_data.into_iter().enumerate() {
            let ep = entity_param.member(e);
            let entity = match emd.entity {
                Some(entity) => validate_entity(entity, ep.field("Entity"), strict)?,
                None if strict => return Err(missing(ep.field("Entity"))),
                None => None,
            };
            let first = datums.len();
            let dp = ep.field("MetricData");
            for (i, d) in emd.metric_data.into_iter().enumerate() {
                datums.push(validate_datum(d, &namespace, dp.member(i), &window)?);
            }
            if let Some(entity) = entity {
                entities.push(EntityDatums {
                    key_attributes: entity.key_attributes,
                    attributes: entity.attributes,
                    datums: first..datums.len(),
                });
            }
        }
        Ok(ValidPut {
            namespace,
            datums,
            entities,
        })
    }
}

/// The accepted timestamp range, computed once per request.
struct TimeWindow {
    now: Timestamp,
    earliest: i64,
    latest: i64,
}

impl TimeWindow {
    fn around(now: Timestamp) -> Self {
        TimeWindow {
            now,
            earliest: now.millis().saturating_sub(MAX_DATUM_AGE_MS),
            latest: now.millis().saturating_add(MAX_DATUM_FUTURE_MS),
        }
    }
}

fn validate_datum(
    d: MetricDatumInput,
    namespace: &str,
    p: Param,
    window: &TimeWindow,
) -> ApiResult<Datum> {
    let metric_name = validate_metric_name(d.metric_name, p.field("MetricName"))?;
    let value = validate_values(d.value, d.values, d.counts, d.statistic_values, p)?;

    let timestamp = match d.timestamp {
        None => window.now,
        Some(t) if t.millis() < window.earliest => {
            return Err(invalid(format!(
                "The parameter {} must specify a time within the past two weeks.",
                p.field("Timestamp")
            )));
        }
        Some(t) if t.millis() > window.latest => {
            return Err(invalid(format!(
                "The parameter {} must specify a time no more than two hours in the future.",
                p.field("Timestamp")
            )));
        }
        Some(t) => t,
    };

    let unit = match d.unit.as_deref() {
        None => Unit::None,
        Some(u) => Unit::parse_param(u, p.field("Unit"))?,
    };

    let high_resolution = match d.storage_resolution {
        None | Some(STANDARD_RESOLUTION_SECS) => false,
        Some(HIGH_RESOLUTION_SECS) => true,
        Some(other) if other < 1 => {
            return Err(constraint(
                &other.to_string(),
                p.field("StorageResolution"),
                "Member must have value greater than or equal to 1",
            ));
        }
        Some(other) => {
            return Err(invalid(format!(
                "The value {other} for parameter {} is invalid: StorageResolution must be 1 (high resolution) or 60 (standard).",
                p.field("StorageResolution")
            )));
        }
    };

    let metric = MetricId::new(
        namespace.to_owned(),
        metric_name,
        d.dimensions,
        p.field("Dimensions"),
    )?;
    Ok(Datum {
        metric,
        timestamp,
        unit,
        high_resolution,
        value,
    })
}

fn validate_values(
    value: Option<f64>,
    values: Vec<f64>,
    counts: Vec<f64>,
    stats: Option<StatisticSetInput>,
    p: Param,
) -> ApiResult<DatumValue> {
    // An empty `Values` list is how query clients spell "absent".
    let has_values = !values.is_empty();
    match (value.is_some(), has_values, stats.is_some()) {
        (true, true, _) => return Err(mutually_exclusive(p.field("Value"), p.field("Values"))),
        (true, _, true) => {
            return Err(mutually_exclusive(
                p.field("Value"),
                p.field("StatisticValues"),
            ));
        }
        (false, false, false) => {
            return Err(crate::error::ApiError::combination(format!(
                "The parameter {p} must specify exactly one of Value, Values or StatisticValues."
            )));
        }
        _ => {}
    }
    if !counts.is_empty() && counts.len() != values.len() {
        return Err(invalid(format!(
            "The parameters {} and {} must be of the same size.",
            p.field("Values"),
            p.field("Counts")
        )));
    }

    if let Some(v) = value {
        check_value(v, p.field("Value"))?;
        return Ok(DatumValue::Single(v));
    }

    if let Some(s) = stats {
        // AWS accepts Values together with StatisticValues (LocalStack's
        // test_put_metric_data_validation, validated against AWS). The values
        // must still be valid; the statistic set, which summarises them, is
        // what is stored.
        if has_values {
            validate_distribution(&values, &counts, p)?;
        }
        let sp = p.field("StatisticValues");
        let count = s
            .sample_count
            .ok_or_else(|| missing(sp.field("SampleCount")))?;
        let sum = s.sum.ok_or_else(|| missing(sp.field("Sum")))?;
        let min = s.minimum.ok_or_else(|| missing(sp.field("Minimum")))?;
        let max = s.maximum.ok_or_else(|| missing(sp.field("Maximum")))?;
        check_value(count, sp.field("SampleCount"))?;
        check_value(sum, sp.field("Sum"))?;
        check_value(min, sp.field("Minimum"))?;
        check_value(max, sp.field("Maximum"))?;
        if count <= 0.0 {
            return Err(invalid(format!(
                "The value {count} for parameter {} is invalid: SampleCount must be greater than 0.",
                sp.field("SampleCount")
            )));
        }
        if min > max {
            // AWS's words (as its mon-put-data tool printed them), though an
            // equal Minimum and Maximum is accepted.
            return Err(invalid(format!(
                "The parameter {} must be greater than {}.",
                sp.field("Maximum"),
                sp.field("Minimum")
            )));
        }
        return Ok(DatumValue::StatSet {
            count,
            sum,
            min,
            max,
        });
    }

    validate_distribution(&values, &counts, p)?;
    let pairs = if counts.is_empty() {
        values.into_iter().map(|v| (v, 1.0)).collect()
    } else {
        values.into_iter().zip(counts).collect()
    };
    Ok(DatumValue::Distribution(pairs))
}

/// `Values` and `Counts` of datum `p`: at most MAX_VALUES_PER_DATUM, each a
/// valid metric value, each count above 0.
fn validate_distribution(values: &[f64], counts: &[f64], p: Param) -> ApiResult<()> {
    if values.len() > MAX_VALUES_PER_DATUM {
        return Err(invalid(format!(
            "The collection {} must not have a size greater than {MAX_VALUES_PER_DATUM}.",
            p.field("Values")
        )));
    }
    let vp = p.field("Values");
    for (i, &v) in values.iter().enumerate() {
        check_value(v, vp.member(i))?;
    }
    let cp = p.field("Counts");
    for (i, &c) in counts.iter().enumerate() {
        check_value(c, cp.member(i))?;
        if c <= 0.0 {
            return Err(invalid(format!(
                "The value {c} for parameter {} is invalid: counts must be greater than 0.",
                cp.member(i)
            )));
        }
    }
    Ok(())
}

/// Entity validation. Model constraints (sizes, lengths) always apply; the
/// semantic rules (which key attributes a `Type` needs) reject the request only
/// with `StrictEntityValidation`, otherwise the entity is dropped (`Ok(None)`).
fn validate_entity(e: EntityInput, p: Param, strict: bool) -> ApiResult<Option<EntityInput>> {
    let kp = p.field("KeyAttributes");
    let n = e.key_attributes.len();
    if !(MIN_ENTITY_KEY_ATTRIBUTES..=MAX_ENTITY_KEY_ATTRIBUTES).contains(&n) {
        return Err(constraint(
            &format!("[{n} entries]"),
            kp,
            &format!(
                "Member must have between {MIN_ENTITY_KEY_ATTRIBUTES} and {MAX_ENTITY_KEY_ATTRIBUTES} entries"
            ),
        ));
    }
    for (k, v) in &e.key_attributes {
        check_len(k, 1, MAX_ENTITY_KEY_ATTRIBUTE_KEY_LEN, kp)?;
        check_len(v, 1, MAX_ENTITY_KEY_ATTRIBUTE_VALUE_LEN, kp)?;
    }
    let ap = p.field("Attributes");
    if e.attributes.len() > MAX_ENTITY_ATTRIBUTES {
        return Err(constraint(
            &format!("[{} entries]", e.attributes.len()),
            ap,
            &format!("Member must have length less than or equal to {MAX_ENTITY_ATTRIBUTES}"),
        ));
    }
    for (k, v) in &e.attributes {
        check_len(k, 1, MAX_ENTITY_ATTRIBUTE_KEY_LEN, ap)?;
        check_len(v, 1, MAX_ENTITY_ATTRIBUTE_VALUE_LEN, ap)?;
    }
    match entity_semantic_problem(&e.key_attributes) {
        None => Ok(Some(e)),
        Some(problem) if strict => {
            Err(invalid(format!("The parameter {kp} is invalid: {problem}")))
        }
        Some(_) => Ok(None),
    }
}

/// What CloudWatch requires of an entity's key attributes, by `Type`.
fn entity_semantic_problem(keys: &BTreeMap<String, String>) -> Option<String> {
    let required: &[&str] = match keys.get("Type").map(String::as_str) {
        Some("Service") | Some("AWS::Service") => &["Name", "Environment"],
        Some("Resource") | Some("AWS::Resource") => &["ResourceType", "Identifier"],
        Some(other) => {
            return Some(format!(
                "Type '{}' is not one of Service, AWS::Service, Resource, AWS::Resource.",
                crate::param::echo(other)
            ));
        }
        None => return Some("the key attribute Type is required.".to_string()),
    };
    required
        .iter()
        .find(|k| !keys.contains_key(**k))
        .map(|k| format!("an entity of this Type requires the key attribute {k}."))
}

#[cfg(test)]
#[path = "put_metric_data_tests.rs"]
mod tests;
