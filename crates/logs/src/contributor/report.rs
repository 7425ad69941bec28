//! Aggregating observations into a Contributor Insights report: per period,
//! per contributor, and the top contributors over the whole range.

use super::eval::Observation;
use std::collections::{BTreeMap, HashMap};

/// How contributors are ranked (`OrderBy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderBy {
    /// The contributor's total over the range.
    Sum,
    /// The contributor's largest value in one period.
    Maximum,
}

/// One period's figures over every contributor.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PeriodFigures {
    /// Period start, epoch ms.
    pub start_ms: i64,
    pub unique_contributors: u64,
    /// The largest one contributor's value in the period (0 when none).
    pub max_contributor_value: f64,
    /// Matching events.
    pub sample_count: u64,
    pub sum: f64,
    /// Smallest / largest single observation; `None` without data.
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
}

impl PeriodFigures {
    pub fn average(&self) -> Option<f64> {
        (self.sample_count > 0).then(|| self.sum / self.sample_count as f64)
    }

    /// The value of a report metric by its API name (`UniqueContributors`,
    /// `MaxContributorValue`, `SampleCount`, `Sum`, `Minimum`, `Maximum`,
    /// `Average`); `None` for another name or a statistic without data.
    pub fn metric(&self, name: &str) -> Option<f64> {
        match name {
            "UniqueContributors" => Some(self.unique_contributors as f64),
            "MaxContributorValue" => Some(self.max_contributor_value),
            "SampleCount" => Some(self.sample_count as f64),
            "Sum" => Some(self.sum),
            "Minimum" => self.minimum,
            "Maximum" => self.maximum,
            "Average" => self.average(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Contributor {
    pub keys: Vec<String>,
    /// The ranking value: the total (OrderBy Sum) or the largest period value
    /// (OrderBy Maximum).
    pub value: f64,
    /// (period start ms, the contributor's value in it), only periods where
    /// it appears.
    pub datapoints: Vec<(i64, f64)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Sum of every observation.
    pub aggregate_value: f64,
    pub unique_count: u64,
    /// The top contributors, best first.
    pub contributors: Vec<Contributor>,
    /// Every period of the range, ascending.
    pub periods: Vec<PeriodFigures>,
}

#[derive(Default)]
struct Bucket {
    count: u64,
    sum: f64,
    min: Option<f64>,
    max: Option<f64>,
    /// Contributor index → value in this period.
    by_contributor: HashMap<usize, f64>,
}

/// Collects observations for `[start_ms, end_ms)` on a `period_ms` grid
/// (periods start at multiples of the period since the epoch).
pub struct Accumulator {
    start_ms: i64,
    end_ms: i64,
    period_ms: i64,
    index: HashMap<Vec<String>, usize>,
    keys: Vec<Vec<String>>,
    buckets: BTreeMap<i64, Bucket>,
}

impl Accumulator {
    /// `period_ms` must be positive (a smaller value is taken as 1).
    pub fn new(start_ms: i64, end_ms: i64, period_ms: i64) -> Accumulator {
        Accumulator {
            start_ms,
            end_ms,
            period_ms: period_ms.max(1),
            index: HashMap::new(),
            keys: Vec::new(),
            buckets: BTreeMap::new(),
        }
    }

    fn period_of(&self, t: i64) -> i64 {
        t.div_euclid(self.period_ms) * self.period_ms
    }

    /// Adds one event at `timestamp_ms`; outside the range it is ignored.
    pub fn add(&mut self, timestamp_ms: i64, obs: Observation) {
        if timestamp_ms < self.start_ms || timestamp_ms >= self.end_ms || !obs.value.is_finite() {
            return;
        }
        let next = self.keys.len();
        let idx = *self.index.entry(obs.keys.clone()).or_insert(next);
        if idx == next {
            self.keys.push(obs.keys);
        }
        let p = self.period_of(timestamp_ms);
        let b = self.buckets.entry(p).or_default();
        b.count += 1;
        b.sum += obs.value;
        b.min = Some(b.min.map_or(obs.value, |m| m.min(obs.value)));
        b.max = Some(b.max.map_or(obs.value, |m| m.max(obs.value)));
        *b.by_contributor.entry(idx).or_insert(0.0) += obs.value;
    }

    /// Distinct contributors seen so far.
    pub fn contributors_seen(&self) -> usize {
        self.keys.len()
    }

    /// The report with the `top` best contributors by `order`.
    pub fn finish(self, top: usize, order: OrderBy) -> Report {
        let mut periods = Vec::new();
        let mut t = self.period_of(self.start_ms);
        while t < self.end_ms {
            let mut f = PeriodFigures {
                start_ms: t,
                ..Default::default()
            };
            if let Some(b) = self.buckets.get(&t) {
                f.unique_contributors = b.by_contributor.len() as u64;
                f.max_contributor_value = b.by_contributor.values().copied().fold(0.0, f64::max);
                f.sample_count = b.count;
                f.sum = b.sum;
                f.minimum = b.min;
                f.maximum = b.max;
            }
            periods.push(f);
            t = t.saturating_add(self.period_ms);
        }
        let mut totals: Vec<(f64, Vec<(i64, f64)>)> = vec![(0.0, Vec::new()); self.keys.len()];
        for (&t, b) in &self.buckets {
            for (&i, &v) in &b.by_contributor {
                let (rank, points) = &mut totals[i];
                *rank = match order {
                    OrderBy::Sum => *rank + v,
                    OrderBy::Maximum if points.is_empty() => v,
                    OrderBy::Maximum => rank.max(v),
                };
                points.push((t, v));
            }
        }
        let aggregate_value = self.buckets.values().map(|b| b.sum).sum();
        let mut contributors: Vec<Contributor> = self
            .keys
            .into_iter()
            .zip(totals)
            .map(|(keys, (value, datapoints))| Contributor {
                keys,
                value,
                datapoints,
            })
            .collect();
        let unique_count = contributors.len() as u64;
        contributors.sort_by(|a, b| {
            b.value
                .total_cmp(&a.value)
                .then_with(|| a.keys.cmp(&b.keys))
        });
        contributors.truncate(top);
        Report {
            aggregate_value,
            unique_count,
            contributors,
            periods,
        }
    }
}
