//! Statistics: the five basic ones, percentiles (`ExtendedStatistics`), and the
//! `Stat` string of GetMetricData / alarms that may be either.

use crate::error::ApiResult;
use crate::param::{Param, invalid, not_in_enum};
use serde::{Serialize, Serializer};
use std::fmt;

/// One of CloudWatch's five basic statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Statistic {
    SampleCount,
    Average,
    Sum,
    Minimum,
    Maximum,
}

impl Statistic {
    pub const ALL: [Statistic; 5] = [
        Statistic::SampleCount,
        Statistic::Average,
        Statistic::Sum,
        Statistic::Minimum,
        Statistic::Maximum,
    ];
    pub const NAMES: [&'static str; 5] = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"];

    pub fn as_str(self) -> &'static str {
        match self {
            Statistic::SampleCount => "SampleCount",
            Statistic::Average => "Average",
            Statistic::Sum => "Sum",
            Statistic::Minimum => "Minimum",
            Statistic::Maximum => "Maximum",
        }
    }

    /// Exact, case-sensitive, as AWS matches it.
    pub fn parse(s: &str) -> Option<Statistic> {
        Statistic::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn parse_param(s: &str, p: Param) -> ApiResult<Statistic> {
        Statistic::parse(s).ok_or_else(|| not_in_enum(s, p, &Statistic::NAMES))
    }

    /// This statistic computed from an aggregate's basic parts. `None` when there
    /// are no samples (an average of nothing is not zero).
    pub fn from_parts(
        self,
        sample_count: f64,
        sum: f64,
        minimum: f64,
        maximum: f64,
    ) -> Option<f64> {
        if sample_count.is_nan() || sample_count <= 0.0 {
            return None;
        }
        Some(match self {
            Statistic::SampleCount => sample_count,
            Statistic::Average => sum / sample_count,
            Statistic::Sum => sum,
            Statistic::Minimum => minimum,
            Statistic::Maximum => maximum,
        })
    }
}

impl fmt::Display for Statistic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Statistic {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A percentile extended statistic, `p0`..`p100` with at most two decimals
/// (`p99`, `p99.9`, `p0.0`, `p100`). The request's spelling is kept because the
/// output map is keyed by it (`p99.0` asked → `p99.0` answered).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Percentile {
    /// Rank in hundredths of a percent: `p99.9` → 9990. 0..=10000.
    hundredths: u16,
    text: String,
}

impl Percentile {
    /// Parses `pNN[.N[N]]` with 0 ≤ NN ≤ 100.
    pub fn parse(s: &str) -> Option<Percentile> {
        let rest = s.strip_prefix('p')?;
        let (int, frac) = match rest.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (rest, None),
        };
        if int.is_empty() || int.len() > 3 || !int.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut hundredths: u32 = int.parse::<u32>().ok()? * 100;
        if let Some(f) = frac {
            if f.is_empty() || f.len() > 2 || !f.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let digits: u32 = f.parse().ok()?;
            hundredths += if f.len() == 1 { digits * 10 } else { digits };
        }
        if hundredths > 10_000 {
            return None;
        }
        Some(Percentile {
            hundredths: hundredths as u16,
            text: s.to_string(),
        })
    }

    /// Parses an `ExtendedStatistics` member; anything else is `InvalidParameterValue`.
    pub fn parse_param(s: &str, p: Param) -> ApiResult<Percentile> {
        Percentile::parse(s).ok_or_else(|| {
            invalid(format!(
                "The value {} for parameter {p} is not supported.",
                crate::param::echo(s)
            ))
        })
    }

    /// The rank in percent, 0.0..=100.0 (`p99.9` → 99.9).
    pub fn rank(&self) -> f64 {
        f64::from(self.hundredths) / 100.0
    }

    /// The rank in hundredths of a percent (exact; for equality and storage).
    pub fn hundredths(&self) -> u16 {
        self.hundredths
    }

    /// The request's spelling, e.g. `p99.0`.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Percentile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The `Stat` of a `MetricStat` (GetMetricData, metric alarms): a basic
/// statistic or a percentile. Other extended statistics (trimmed mean `tm`,
/// winsorized mean `wm`, trimmed count `tc`, trimmed sum `ts`, `IQM`,
/// percentile rank `PR`) need the raw distribution and are refused with a
/// message that says so.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Stat {
    Basic(Statistic),
    Percentile(Percentile),
}

impl Stat {
    pub fn parse_param(s: &str, p: Param) -> ApiResult<Stat> {
        if let Some(st) = Statistic::parse(s) {
            return Ok(Stat::Basic(st));
        }
        if let Some(pc) = Percentile::parse(s) {
            return Ok(Stat::Percentile(pc));
        }
        let shown = crate::param::echo(s);
        let known_extended = ["tm", "wm", "tc", "ts", "TM", "WM", "TC", "TS", "PR", "IQM"]
            .iter()
            .any(|prefix| s.starts_with(prefix));
        if known_extended {
            Err(invalid(format!(
                "The value {shown} for parameter {p} is not supported: this server computes SampleCount, Average, Sum, Minimum, Maximum and percentiles (p0.0 to p100); trimmed/winsorized statistics, IQM and PR are not available."
            )))
        } else {
            Err(invalid(format!(
                "The value {shown} for parameter {p} is not a valid statistic: use SampleCount, Average, Sum, Minimum, Maximum or a percentile such as p99."
            )))
        }
    }

    /// The spelling used in labels and outputs.
    pub fn as_str(&self) -> &str {
        match self {
            Stat::Basic(s) => s.as_str(),
            Stat::Percentile(p) => p.as_str(),
        }
    }
}

impl fmt::Display for Stat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Stat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    #[test]
    fn statistics_parse_exactly() {
        for s in Statistic::ALL {
            assert_eq!(Statistic::parse(s.as_str()), Some(s));
        }
        assert_eq!(Statistic::parse("average"), None);
        let e = Statistic::parse_param("Avg", Param::root("Statistics").member(0)).unwrap_err();
        assert_eq!(e.code, ErrorCode::ValidationError);
        assert!(e.message.contains("'statistics.1.member'"), "{}", e.message);
    }

    #[test]
    fn from_parts() {
        assert_eq!(
            Statistic::Average.from_parts(4.0, 10.0, 1.0, 4.0),
            Some(2.5)
        );
        assert_eq!(Statistic::Sum.from_parts(0.0, 0.0, 0.0, 0.0), None);
        assert_eq!(Statistic::Maximum.from_parts(2.0, 3.0, 1.0, 2.0), Some(2.0));
    }

    #[test]
    fn percentiles() {
        let cases: &[(&str, Option<u16>)] = &[
            ("p99", Some(9900)),
            ("p99.9", Some(9990)),
            ("p99.99", Some(9999)),
            ("p0.0", Some(0)),
            ("p0", Some(0)),
            ("p100", Some(10000)),
            ("p100.00", Some(10000)),
            ("p50.5", Some(5050)),
            ("p101", None),
            ("p100.01", None),
            ("p-1", None),
            ("p+1", None),
            ("tm90", None),
            ("p", None),
            ("p.5", None),
            ("p9.", None),
            ("p9.999", None),
            ("P99", None),
            ("p 9", None),
            ("p1000", None),
            ("p99.9x", None),
        ];
        for (s, want) in cases {
            assert_eq!(Percentile::parse(s).map(|p| p.hundredths()), *want, "{s}");
        }
        let p = Percentile::parse("p99.0").unwrap();
        assert_eq!(p.as_str(), "p99.0");
        assert_eq!(p.rank(), 99.0);
        let e = Percentile::parse_param("p101", Param::root("ExtendedStatistics").member(1))
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert_eq!(
            e.message,
            "The value p101 for parameter ExtendedStatistics.member.2 is not supported."
        );
    }

    #[test]
    fn stats() {
        let p = Param::root("MetricDataQueries")
            .member(0)
            .field("MetricStat")
            .field("Stat");
        assert_eq!(
            Stat::parse_param("Sum", p).unwrap(),
            Stat::Basic(Statistic::Sum)
        );
        assert_eq!(Stat::parse_param("p90", p).unwrap().as_str(), "p90");
        let e = Stat::parse_param("tm90", p).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(e.message.contains("not supported"));
        assert!(
            e.message
                .contains("MetricDataQueries.member.1.MetricStat.Stat")
        );
        let e = Stat::parse_param("Mean", p).unwrap_err();
        assert!(e.message.contains("not a valid statistic"));
    }
}
