//! Parsing and validating a Contributor Insights rule definition (AWS:
//! "Contributor Insights rule syntax"): a JSON object with `Schema`
//! `{"Name": "CloudWatchLogRule", "Version": 1}`, `LogGroupNames` and/or
//! `LogGroupARNs`, `LogFormat` `JSON`|`CLF`, `Fields` (CLF: position →
//! name), `Contribution` {`Keys`, `ValueOf`, `Filters`} and `AggregateOn`
//! `Count`|`Sum`. Unknown members are refused, so a misspelt one is not
//! silently ignored.

use serde_json::{Map, Value};

/// AWS's limits on a rule definition.
pub const MAX_DEFINITION_CHARS: usize = 8192;
pub const MAX_KEYS: usize = 4;
pub const MAX_FILTERS: usize = 4;
pub const MAX_FILTER_VALUES: usize = 10;
/// Bounds a JSON path's depth (and so the work per event).
pub const MAX_PATH_SEGMENTS: usize = 32;

pub const SCHEMA_NAME: &str = "CloudWatchLogRule";
pub const SCHEMA_VERSION: i64 = 1;

/// Why a definition is refused: a complete sentence naming what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("The rule definition is not a valid JSON object: {0}")]
    NotJson(String),
    #[error("The rule definition is invalid: {0}")]
    Invalid(String),
}

fn bad(msg: impl Into<String>) -> RuleError {
    RuleError::Invalid(msg.into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Clf,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggregateOn {
    Count,
    Sum,
}

impl AggregateOn {
    /// `GetInsightRuleReport`'s `AggregationStatistic` (AWS answers
    /// `SampleCount` for a Count rule, recorded).
    pub fn statistic(self) -> &'static str {
        match self {
            AggregateOn::Count => "SampleCount",
            AggregateOn::Sum => "Sum",
        }
    }
}

/// One step of a JSON path: `.name` or `[index]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Where a key, value or filter reads a log event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FieldRef {
    /// `$.a.b[0]` in a JSON event.
    Json(Vec<PathSeg>),
    /// The 1-based position of a CLF field.
    Clf(usize),
}

/// A filter operand: AWS accepts strings and numbers.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    Str(String),
    Num(f64),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Condition {
    In(Vec<Operand>),
    NotIn(Vec<Operand>),
    StartsWith(Vec<String>),
    GreaterThan(f64),
    LessThan(f64),
    EqualTo(Operand),
    NotEqualTo(Operand),
    IsPresent(bool),
}

/// `Match` and its conditions; an event passes when all hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Filter {
    pub field: FieldRef,
    pub conditions: Vec<Condition>,
}

/// A validated rule definition.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Names, each possibly ending in `*` (prefix match).
    pub log_group_names: Vec<String>,
    pub log_group_arns: Vec<String>,
    pub format: LogFormat,
    /// The keys as the definition spells them (the report's `KeyLabels`).
    pub key_labels: Vec<String>,
    pub keys: Vec<FieldRef>,
    pub value_of: Option<FieldRef>,
    pub filters: Vec<Filter>,
    pub aggregate_on: AggregateOn,
}

const TOP_MEMBERS: &[&str] = &[
    "Schema",
    "LogGroupNames",
    "LogGroupARNs",
    "LogFormat",
    "Fields",
    "Contribution",
    "AggregateOn",
];
const CONTRIBUTION_MEMBERS: &[&str] = &["Keys", "ValueOf", "Filters"];
const CONDITIONS: &[&str] = &[
    "In",
    "NotIn",
    "StartsWith",
    "GreaterThan",
    "LessThan",
    "EqualTo",
    "NotEqualTo",
    "IsPresent",
];

fn check_members(obj: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), RuleError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad(format!(
            "{at} has an unknown member \"{}\"; allowed: {}.",
            short(k),
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// Cuts user text echoed in a message.
fn short(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
}

fn string_list(v: &Value, at: &str) -> Result<Vec<String>, RuleError> {
    let arr = v
        .as_array()
        .ok_or_else(|| bad(format!("{at} must be an array of strings.")))?;
    arr.iter()
        .map(|x| {
            x.as_str()
                .map(str::to_string)
                .ok_or_else(|| bad(format!("{at} must be an array of strings.")))
        })
        .collect()
}

impl Rule {
    /// Parses and validates a definition. Total: any input yields a rule or
    /// a [`RuleError`].
    pub fn parse(text: &str) -> Result<Rule, RuleError> {
        let chars = text.chars().count();
        if chars > MAX_DEFINITION_CHARS {
            return Err(bad(format!(
                "it is {chars} characters long; the limit is {MAX_DEFINITION_CHARS}."
            )));
        }
        let root: Value =
            serde_json::from_str(text).map_err(|e| RuleError::NotJson(e.to_string()))?;
        let obj = root
            .as_object()
            .ok_or_else(|| RuleError::NotJson("the top level is not an object".into()))?;
        check_members(obj, TOP_MEMBERS, "The definition")?;
        parse_schema(obj.get("Schema"))?;

        let log_group_names = match obj.get("LogGroupNames") {
            Some(v) => string_list(v, "LogGroupNames")?,
            None => Vec::new(),
        };
        let log_group_arns = match obj.get("LogGroupARNs") {
            Some(v) => string_list(v, "LogGroupARNs")?,
            None => Vec::new(),
        };
        if log_group_names.is_empty() && log_group_arns.is_empty() {
            return Err(bad(
                "LogGroupNames or LogGroupARNs must name at least one log group.",
            ));
        }
        for n in &log_group_names {
            let stem = n.strip_suffix('*').unwrap_or(n);
            if n.is_empty() || n.len() > 512 || stem.contains('*') {
                return Err(bad(format!(
                    "LogGroupNames entry \"{}\" is not a log group name (1 to 512 characters; * only as the last character).",
                    short(n)
                )));
            }
        }
        for a in &log_group_arns {
            if arn_group_pattern(a).is_none() {
                return Err(bad(format!(
                    "LogGroupARNs entry \"{}\" is not a log group ARN (arn:aws:logs:<region>:<account>:log-group:<name>).",
                    short(a)
                )));
            }
        }

        let format = match obj.get("LogFormat").and_then(Value::as_str) {
            Some("JSON") => LogFormat::Json,
            Some("CLF") => LogFormat::Clf,
            Some(other) => {
                return Err(bad(format!(
                    "LogFormat \"{}\" is not one of JSON, CLF.",
                    short(other)
                )));
            }
            None => return Err(bad("LogFormat (JSON or CLF) is required.")),
        };
        let fields = match (format, obj.get("Fields")) {
            (LogFormat::Clf, Some(v)) => clf_fields(v)?,
            (LogFormat::Clf, None) => {
                return Err(bad(
                    "Fields is required with LogFormat CLF: it maps field positions to names.",
                ));
            }
            (LogFormat::Json, Some(_)) => {
                return Err(bad("Fields is only allowed with LogFormat CLF."));
            }
            (LogFormat::Json, None) => Vec::new(),
        };
        let field = |name: &str, at: &str| -> Result<FieldRef, RuleError> {
            match format {
                LogFormat::Json => json_path(name, at),
                LogFormat::Clf => fields
                    .iter()
                    .find(|(_, n)| n == name)
                    .map(|(pos, _)| FieldRef::Clf(*pos))
                    .ok_or_else(|| {
                        bad(format!(
                            "{at} \"{}\" is not one of the names in Fields.",
                            short(name)
                        ))
                    }),
            }
        };

        let aggregate_on = match obj.get("AggregateOn").and_then(Value::as_str) {
            Some("Count") => AggregateOn::Count,
            Some("Sum") => AggregateOn::Sum,
            Some(other) => {
                return Err(bad(format!(
                    "AggregateOn \"{}\" is not one of Count, Sum.",
                    short(other)
                )));
            }
            None => return Err(bad("AggregateOn (Count or Sum) is required.")),
        };

        let contribution = obj
            .get("Contribution")
            .ok_or_else(|| bad("Contribution is required."))?
            .as_object()
            .ok_or_else(|| bad("Contribution must be an object."))?;
        check_members(contribution, CONTRIBUTION_MEMBERS, "Contribution")?;
        let key_labels = match contribution.get("Keys") {
            Some(v) => string_list(v, "Contribution.Keys")?,
            None => return Err(bad("Contribution.Keys is required.")),
        };
        if key_labels.is_empty() || key_labels.len() > MAX_KEYS {
            return Err(bad(format!(
                "Contribution.Keys must have 1 to {MAX_KEYS} keys; it has {}.",
                key_labels.len()
            )));
        }
        let keys = key_labels
            .iter()
            .map(|k| field(k, "Contribution.Keys entry"))
            .collect::<Result<Vec<_>, _>>()?;
        let value_of = match contribution.get("ValueOf") {
            None => None,
            Some(Value::String(v)) => Some(field(v, "Contribution.ValueOf")?),
            Some(_) => return Err(bad("Contribution.ValueOf must be a string.")),
        };
        if aggregate_on == AggregateOn::Sum && value_of.is_none() {
            return Err(bad(
                "Contribution.ValueOf is required when AggregateOn is Sum: it names the field summed.",
            ));
        }
        let filters = match contribution.get("Filters") {
            None => Vec::new(),
            Some(v) => {
                let arr = v
                    .as_array()
                    .ok_or_else(|| bad("Contribution.Filters must be an array."))?;
                if arr.len() > MAX_FILTERS {
                    return Err(bad(format!(
                        "Contribution.Filters can have at most {MAX_FILTERS} filters; it has {}.",
                        arr.len()
                    )));
                }
                arr.iter()
                    .enumerate()
                    .map(|(i, f)| parse_filter(f, i, &field))
                    .collect::<Result<Vec<_>, _>>()?
            }
        };
        Ok(Rule {
            log_group_names,
            log_group_arns,
            format,
            key_labels,
            keys,
            value_of,
            filters,
            aggregate_on,
        })
    }

    /// Whether the rule reads the log group `name`: a listed name, a
    /// `prefix*` pattern, or an ARN's group (its region and account are not
    /// compared: one node serves one account).
    pub fn reads_group(&self, name: &str) -> bool {
        self.log_group_names
            .iter()
            .map(String::as_str)
            .chain(
                self.log_group_arns
                    .iter()
                    .filter_map(|a| arn_group_pattern(a)),
            )
            .any(|p| match p.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == p,
            })
    }
}

/// The group name (or `prefix*`) of `arn:aws:logs:<region>:<account>:log-group:<name>[:*]`.
pub fn arn_group_pattern(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(7, ':');
    let (arn_, _partition, service, _region, _account, kind, rest) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if arn_ != "arn" || service != "logs" || kind != "log-group" {
        return None;
    }
    let name = rest.strip_suffix(":*").unwrap_or(rest);
    let stem = name.strip_suffix('*').unwrap_or(name);
    (!name.is_empty() && !stem.contains('*') && !name.contains(':')).then_some(name)
}

fn parse_schema(v: Option<&Value>) -> Result<(), RuleError> {
    let wrong = || {
        bad(format!(
            "Schema must be {{\"Name\": \"{SCHEMA_NAME}\", \"Version\": {SCHEMA_VERSION}}}."
        ))
    };
    let obj = v.and_then(Value::as_object).ok_or_else(wrong)?;
    let name_ok = obj.get("Name").and_then(Value::as_str) == Some(SCHEMA_NAME);
    let version_ok = obj.get("Version").and_then(Value::as_i64) == Some(SCHEMA_VERSION);
    if !name_ok || !version_ok || obj.len() != 2 {
        return Err(wrong());
    }
    Ok(())
}

/// CLF `Fields`: `{"4": "IpAddress", ...}`, positions from 1, names unique.
fn clf_fields(v: &Value) -> Result<Vec<(usize, String)>, RuleError> {
    let obj = v
        .as_object()
        .ok_or_else(|| bad("Fields must be an object mapping positions to names."))?;
    if obj.is_empty() {
        return Err(bad("Fields must name at least one field."));
    }
    let mut out: Vec<(usize, String)> = Vec::with_capacity(obj.len());
    for (pos, name) in obj {
        let p: usize = pos
            .parse()
            .ok()
            .filter(|p| (1..=1000).contains(p))
            .ok_or_else(|| {
                bad(format!(
                    "Fields key \"{}\" is not a field position (a number from 1).",
                    short(pos)
                ))
            })?;
        let name = name
            .as_str()
            .filter(|n| !n.is_empty())
            .ok_or_else(|| bad(format!("Fields \"{p}\" must be a non-empty name.")))?;
        if out.iter().any(|(_, n)| n == name) {
            return Err(bad(format!("Fields names \"{}\" twice.", short(name))));
        }
        out.push((p, name.to_string()));
    }
    Ok(out)
}

/// `$.a.b[0].c`: a key per dot, an index per bracket.
fn json_path(path: &str, at: &str) -> Result<FieldRef, RuleError> {
    let wrong = || {
        bad(format!(
            "{at} \"{}\" is not a JSON path like $.field or $.a.b[0].",
            short(path)
        ))
    };
    let rest = path.strip_prefix("$.").ok_or_else(wrong)?;
    let mut segs = Vec::new();
    for part in rest.split('.') {
        let (name, mut idx) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty() || name.contains(']') {
            return Err(wrong());
        }
        segs.push(PathSeg::Key(name.to_string()));
        while !idx.is_empty() {
            let close = idx.find(']').ok_or_else(wrong)?;
            let n: usize = idx[1..close].parse().map_err(|_| wrong())?;
            segs.push(PathSeg::Index(n));
            idx = &idx[close + 1..];
            if !idx.is_empty() && !idx.starts_with('[') {
                return Err(wrong());
            }
        }
        if segs.len() > MAX_PATH_SEGMENTS {
            return Err(bad(format!(
                "{at} \"{}\" is deeper than {MAX_PATH_SEGMENTS} steps.",
                short(path)
            )));
        }
    }
    Ok(FieldRef::Json(segs))
}

fn operand(v: &Value, at: &str) -> Result<Operand, RuleError> {
    match v {
        Value::String(s) => Ok(Operand::Str(s.clone())),
        Value::Number(n) => n
            .as_f64()
            .map(Operand::Num)
            .ok_or_else(|| bad(format!("{at} must be a string or a number."))),
        _ => Err(bad(format!("{at} must be a string or a number."))),
    }
}

fn operand_list(v: &Value, at: &str) -> Result<Vec<Operand>, RuleError> {
    let arr = v
        .as_array()
        .ok_or_else(|| bad(format!("{at} must be an array.")))?;
    if arr.is_empty() || arr.len() > MAX_FILTER_VALUES {
        return Err(bad(format!(
            "{at} must have 1 to {MAX_FILTER_VALUES} values; it has {}.",
            arr.len()
        )));
    }
    arr.iter().map(|x| operand(x, at)).collect()
}

fn number(v: &Value, at: &str) -> Result<f64, RuleError> {
    v.as_f64()
        .ok_or_else(|| bad(format!("{at} must be a number.")))
}

fn parse_filter(
    v: &Value,
    i: usize,
    field: &dyn Fn(&str, &str) -> Result<FieldRef, RuleError>,
) -> Result<Filter, RuleError> {
    let at = format!("Contribution.Filters[{i}]");
    let obj = v
        .as_object()
        .ok_or_else(|| bad(format!("{at} must be an object.")))?;
    let mut allowed = vec!["Match"];
    allowed.extend_from_slice(CONDITIONS);
    check_members(obj, &allowed, &at)?;
    let m = obj
        .get("Match")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}.Match (the field filtered) is required.")))?;
    let field = field(m, &format!("{at}.Match"))?;
    let mut conditions = Vec::new();
    for (name, val) in obj {
        let cat = format!("{at}.{name}");
        conditions.push(match name.as_str() {
            "Match" => continue,
            "In" => Condition::In(operand_list(val, &cat)?),
            "NotIn" => Condition::NotIn(operand_list(val, &cat)?),
            "StartsWith" => Condition::StartsWith(
                operand_list(val, &cat)?
                    .into_iter()
                    .map(|o| match o {
                        Operand::Str(s) => s,
                        Operand::Num(n) => format_number(n),
                    })
                    .collect(),
            ),
            "GreaterThan" => Condition::GreaterThan(number(val, &cat)?),
            "LessThan" => Condition::LessThan(number(val, &cat)?),
            "EqualTo" => Condition::EqualTo(operand(val, &cat)?),
            "NotEqualTo" => Condition::NotEqualTo(operand(val, &cat)?),
            "IsPresent" => Condition::IsPresent(
                val.as_bool()
                    .ok_or_else(|| bad(format!("{cat} must be true or false.")))?,
            ),
            _ => continue,
        });
    }
    if conditions.is_empty() {
        return Err(bad(format!(
            "{at} needs a condition: one of {}.",
            CONDITIONS.join(", ")
        )));
    }
    Ok(Filter { field, conditions })
}

/// A number as a log field would spell it (`200`, not `200.0`).
pub(crate) fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}
