//! The parsed form of a Metrics Insights query.

/// An aggregation over observations: in `SELECT FUNC(metric)` it aggregates
/// each period, in `ORDER BY FUNC()` the whole window of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    Avg,
    Count,
    Max,
    Min,
    Sum,
}

impl Func {
    pub const NAMES: [&'static str; 5] = ["AVG", "COUNT", "MAX", "MIN", "SUM"];

    pub fn parse(word: &str) -> Option<Func> {
        Some(match word.to_ascii_uppercase().as_str() {
            "AVG" => Func::Avg,
            "COUNT" => Func::Count,
            "MAX" => Func::Max,
            "MIN" => Func::Min,
            "SUM" => Func::Sum,
            _ => return None,
        })
    }
}

/// What `FROM` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `FROM ns`: every metric of the namespace, whatever its dimensions.
    Namespace(String),
    /// `FROM SCHEMA(ns, k1, k2)`: only metrics whose dimension names are
    /// exactly `{k1, k2}` (no keys: only metrics without dimensions).
    Schema {
        namespace: String,
        keys: Vec<String>,
    },
}

impl Source {
    pub fn namespace(&self) -> &str {
        match self {
            Source::Namespace(ns) | Source::Schema { namespace: ns, .. } => ns,
        }
    }
}

/// A `WHERE` condition over dimension (label) values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    Eq { key: String, value: String },
    Ne { key: String, value: String },
    And(Box<Condition>, Box<Condition>),
    Or(Box<Condition>, Box<Condition>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderBy {
    pub func: Func,
    pub direction: Direction,
}

/// A whole query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub func: Func,
    pub metric_name: String,
    pub source: Source,
    pub filter: Option<Condition>,
    pub group_by: Vec<String>,
    pub order_by: Option<OrderBy>,
    /// At most [`super::MAX_LIMIT`].
    pub limit: Option<usize>,
}
