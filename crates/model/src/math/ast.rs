//! The parsed form of an expression. Same-precedence operator runs are kept
//! flat (`Chain`, `Pow`) so that a 2048-character `m1+m1+…` does not become a
//! 1000-deep tree: tree depth is then bounded by the parser's nesting limit.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
    And,
    Or,
}

impl BinOp {
    pub fn apply(self, a: f64, b: f64) -> f64 {
        let truth = |c: bool| if c { 1.0 } else { 0.0 };
        match self {
            BinOp::Add => a + b,
            BinOp::Sub => a - b,
            BinOp::Mul => a * b,
            BinOp::Div => a / b,
            BinOp::Pow => a.powf(b),
            BinOp::Lt => truth(a < b),
            BinOp::Le => truth(a <= b),
            BinOp::Gt => truth(a > b),
            BinOp::Ge => truth(a >= b),
            BinOp::Eq => truth(a == b),
            BinOp::Ne => truth(a != b),
            BinOp::And => truth(is_true(a) && is_true(b)),
            BinOp::Or => truth(is_true(a) || is_true(b)),
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Pow => "^",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "AND",
            BinOp::Or => "OR",
        }
    }
}

/// Truthiness for `IF`, `AND`, `OR`: non-zero is true; NaN is false (a NaN
/// condition means "no usable value", never "take the true branch").
pub(crate) fn is_true(v: f64) -> bool {
    v != 0.0 && !v.is_nan()
}

/// The functions we implement, with their accepted argument counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Func {
    Abs,
    AnomalyDetectionBand,
    Avg,
    Ceil,
    DatapointCount,
    Diff,
    DiffTime,
    Epoch,
    Fill,
    First,
    Floor,
    If,
    InsightRuleMetric,
    Last,
    Log,
    Log10,
    Max,
    MetricCount,
    Metrics,
    Min,
    Period,
    Rate,
    RemoveEmpty,
    RunningSum,
    Stddev,
    Sum,
    TimeSeries,
}

impl Func {
    pub fn from_name(name: &str) -> Option<Func> {
        Some(match name {
            "ABS" => Func::Abs,
            "ANOMALY_DETECTION_BAND" => Func::AnomalyDetectionBand,
            "AVG" => Func::Avg,
            "CEIL" => Func::Ceil,
            "DATAPOINT_COUNT" => Func::DatapointCount,
            "DIFF" => Func::Diff,
            "DIFF_TIME" => Func::DiffTime,
            "EPOCH" => Func::Epoch,
            "FILL" => Func::Fill,
            "FIRST" => Func::First,
            "FLOOR" => Func::Floor,
            "IF" => Func::If,
            "INSIGHT_RULE_METRIC" => Func::InsightRuleMetric,
            "LAST" => Func::Last,
            "LOG" => Func::Log,
            "LOG10" => Func::Log10,
            "MAX" => Func::Max,
            "METRIC_COUNT" => Func::MetricCount,
            "METRICS" => Func::Metrics,
            "MIN" => Func::Min,
            "PERIOD" => Func::Period,
            "RATE" => Func::Rate,
            "REMOVE_EMPTY" => Func::RemoveEmpty,
            "RUNNING_SUM" => Func::RunningSum,
            "STDDEV" => Func::Stddev,
            "SUM" => Func::Sum,
            "TIME_SERIES" => Func::TimeSeries,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Func::Abs => "ABS",
            Func::AnomalyDetectionBand => "ANOMALY_DETECTION_BAND",
            Func::Avg => "AVG",
            Func::Ceil => "CEIL",
            Func::DatapointCount => "DATAPOINT_COUNT",
            Func::Diff => "DIFF",
            Func::DiffTime => "DIFF_TIME",
            Func::Epoch => "EPOCH",
            Func::Fill => "FILL",
            Func::First => "FIRST",
            Func::Floor => "FLOOR",
            Func::If => "IF",
            Func::InsightRuleMetric => "INSIGHT_RULE_METRIC",
            Func::Last => "LAST",
            Func::Log => "LOG",
            Func::Log10 => "LOG10",
            Func::Max => "MAX",
            Func::MetricCount => "METRIC_COUNT",
            Func::Metrics => "METRICS",
            Func::Min => "MIN",
            Func::Period => "PERIOD",
            Func::Rate => "RATE",
            Func::RemoveEmpty => "REMOVE_EMPTY",
            Func::RunningSum => "RUNNING_SUM",
            Func::Stddev => "STDDEV",
            Func::Sum => "SUM",
            Func::TimeSeries => "TIME_SERIES",
        }
    }

    /// Inclusive (min, max) number of arguments.
    pub fn arity(self) -> (usize, usize) {
        match self {
            Func::Metrics => (0, 1),
            Func::Fill => (2, 2),
            Func::AnomalyDetectionBand => (1, 2),
            Func::If => (2, 3),
            Func::InsightRuleMetric => (2, 2),
            _ => (1, 1),
        }
    }
}

/// `FILL`'s second argument when it is a strategy rather than a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FillMode {
    Repeat,
    Linear,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Number(f64),
    Id(String),
    Neg(Box<Node>),
    /// `first op1 n1 op2 n2 …`, evaluated left to right; all ops share one
    /// precedence level.
    Chain {
        first: Box<Node>,
        rest: Vec<(BinOp, Node)>,
    },
    /// `a ^ b ^ c`, right-associative: evaluated right to left.
    Pow(Vec<Node>),
    Call {
        func: Func,
        args: Vec<Node>,
    },
    /// `[m1, m2]`: an array of time series.
    Array(Vec<Node>),
    /// `METRICS("filter")`'s argument.
    Str(String),
    /// `FILL(m, REPEAT)` / `FILL(m, LINEAR)`'s second argument.
    FillMode(FillMode),
}

impl Node {
    /// Direct children, for traversals that do not care about node kinds.
    pub fn children(&self) -> Vec<&Node> {
        match self {
            Node::Number(_) | Node::Id(_) | Node::Str(_) | Node::FillMode(_) => Vec::new(),
            Node::Neg(inner) => vec![inner],
            Node::Chain { first, rest } => std::iter::once(first.as_ref())
                .chain(rest.iter().map(|(_, n)| n))
                .collect(),
            Node::Pow(items) | Node::Array(items) | Node::Call { args: items, .. } => {
                items.iter().collect()
            }
        }
    }
}
