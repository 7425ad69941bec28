//! The anomaly-detection model behind `ANOMALY_DETECTION_BAND`: pure, trained
//! at query time on the metric's own history (no stored model, so a band is
//! reproducible from the data alone and a test can compute it independently).
//!
//! Training data: the metric's values at the query's period over the
//! [`TRAINING_WINDOW_MS`] before the query's start up to its end, minus
//! `Configuration.ExcludedTimeRanges` (`[start, end)`, by period timestamp).
//!
//! Model:
//! - **Cycle**: weekly when the training points span at least 14 days
//!   (`last − first + period ≥ 14 d`, i.e. two full weeks), daily otherwise.
//! - **Slot** of a timestamp `t`: `((t + utc_offset(t)) mod cycle) div period`,
//!   the offset that of `MetricTimezone` (UTC when none), so the daily cycle
//!   follows the metric's local day across DST changes.
//! - **Baseline** at `t`: the median of the training values in `t`'s slot when
//!   the slot holds at least [`MIN_SLOT_VALUES`] of them (the same time of
//!   day/week over past cycles); otherwise the median of all training values
//!   (too little history for seasonality).
//! - **Spread**: `1.4826 × MAD` of the training residuals `v − baseline(t)`
//!   (MAD = median of `|r − median(r)|`): the robust estimate of a standard
//!   deviation, so a few spikes in the history neither shift nor widen the band.
//! - **Band** at `t`: `baseline(t) ± k × spread`, `k` the function's second
//!   argument (default 2).
//!
//! Medians of an even count are the mean of the two middle values.

use std::collections::HashMap;

pub const DAY_MS: i64 = 86_400_000;
pub const WEEK_MS: i64 = 7 * DAY_MS;
/// How far before the query's start the model looks (AWS trains on up to
/// two weeks).
pub const TRAINING_WINDOW_MS: i64 = 14 * DAY_MS;
/// Fewer values than this in a slot and the baseline falls back to the
/// global median.
pub const MIN_SLOT_VALUES: usize = 2;
/// Scales a MAD to a standard deviation for normally distributed residuals.
pub const MAD_SCALE: f64 = 1.4826;
/// `ANOMALY_DETECTION_BAND(m)` without a second argument.
pub const DEFAULT_STDDEVS: f64 = 2.0;

/// What a detector adds to training (none when the metric has no detector).
#[derive(Debug, Clone, Default)]
pub struct TrainingConfig {
    /// `[start, end)` epoch ms, left out of training.
    pub excluded: Vec<(i64, i64)>,
    /// `MetricTimezone`, resolved; UTC when `None`.
    pub timezone: Option<jiff::tz::TimeZone>,
}

/// A metric's history and its detector's configuration.
#[derive(Debug, Clone, Default)]
pub struct Training {
    /// (epoch ms, value), any order.
    pub points: Vec<(i64, f64)>,
    pub config: TrainingConfig,
}

/// The band at timestamps `at`: `(lower, upper)`, one value each, or `None`
/// when there is nothing to train on.
pub fn band(
    training: &Training,
    period_ms: i64,
    stddevs: f64,
    at: &[i64],
) -> Option<(Vec<f64>, Vec<f64>)> {
    let model = Model::train(training, period_ms)?;
    let mut lower = Vec::with_capacity(at.len());
    let mut upper = Vec::with_capacity(at.len());
    for &t in at {
        let b = model.baseline(t);
        lower.push(b - stddevs * model.spread);
        upper.push(b + stddevs * model.spread);
    }
    Some((lower, upper))
}

struct Model {
    cycle_ms: i64,
    period_ms: i64,
    timezone: Option<jiff::tz::TimeZone>,
    slot_medians: HashMap<i64, f64>,
    global_median: f64,
    spread: f64,
}

impl Model {
    fn train(training: &Training, period_ms: i64) -> Option<Model> {
        let period_ms = period_ms.max(1);
        let points: Vec<(i64, f64)> = training
            .points
            .iter()
            .copied()
            .filter(|(t, v)| {
                v.is_finite()
                    && !training
                        .config
                        .excluded
                        .iter()
                        .any(|(s, e)| *t >= *s && *t < *e)
            })
            .collect();
        let first = points.iter().map(|p| p.0).min()?;
        let last = points.iter().map(|p| p.0).max()?;
        let cycle_ms = if last - first + period_ms >= 2 * WEEK_MS {
            WEEK_MS
        } else {
            DAY_MS
        };
        let mut model = Model {
            cycle_ms,
            period_ms,
            timezone: training.config.timezone.clone(),
            slot_medians: HashMap::new(),
            global_median: 0.0,
            spread: 0.0,
        };
        let mut slots: HashMap<i64, Vec<f64>> = HashMap::new();
        for &(t, v) in &points {
            slots.entry(model.slot(t)).or_default().push(v);
        }
        model.slot_medians = slots
            .into_iter()
            .filter(|(_, vs)| vs.len() >= MIN_SLOT_VALUES)
            .map(|(slot, mut vs)| (slot, median(&mut vs)))
            .collect();
        model.global_median = median(&mut points.iter().map(|p| p.1).collect::<Vec<_>>());
        let mut residuals: Vec<f64> = points.iter().map(|&(t, v)| v - model.baseline(t)).collect();
        let center = median(&mut residuals);
        let mut deviations: Vec<f64> = residuals.iter().map(|r| (r - center).abs()).collect();
        model.spread = MAD_SCALE * median(&mut deviations);
        Some(model)
    }

    fn slot(&self, t: i64) -> i64 {
        let offset_ms = self.timezone.as_ref().map_or(0, |tz| {
            let at = jiff::Timestamp::from_millisecond(t).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            i64::from(tz.to_offset(at).seconds()) * 1000
        });
        t.saturating_add(offset_ms).rem_euclid(self.cycle_ms) / self.period_ms
    }

    fn baseline(&self, t: i64) -> f64 {
        self.slot_medians
            .get(&self.slot(t))
            .copied()
            .unwrap_or(self.global_median)
    }
}

/// Median (NaN-free input); 0 for an empty list.
fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: i64 = 300_000;

    fn daily(days: i64, f: impl Fn(i64) -> f64) -> Vec<(i64, f64)> {
        (0..days * DAY_MS / P).map(|i| (i * P, f(i))).collect()
    }

    #[test]
    fn seasonal_baseline_follows_the_time_of_day() {
        // Value = slot index within the day, plus ±1 alternating by day.
        let per_day = DAY_MS / P;
        let pts = daily(3, |i| {
            (i % per_day) as f64 + if (i / per_day) % 2 == 0 { 1.0 } else { -1.0 }
        });
        let t = Training {
            points: pts,
            config: TrainingConfig::default(),
        };
        let (lo, hi) = band(&t, P, 2.0, &[3 * DAY_MS + 10 * P]).unwrap();
        // Slot 10 holds 11, 9, 11: median 11. Residuals are 0 (2/3) or −2
        // (1/3): median 0, MAD 0, so the band collapses onto the baseline.
        assert_eq!((lo[0], hi[0]), (11.0, 11.0));
    }

    #[test]
    fn too_little_history_falls_back_to_the_global_median() {
        let pts = vec![(0, 1.0), (P, 5.0), (2 * P, 9.0)];
        let t = Training {
            points: pts,
            config: TrainingConfig::default(),
        };
        let (lo, hi) = band(&t, P, 1.0, &[3 * P]).unwrap();
        // Residuals −4, 0, 4 → MAD 4.
        assert_eq!(lo[0], 5.0 - MAD_SCALE * 4.0);
        assert_eq!(hi[0], 5.0 + MAD_SCALE * 4.0);
    }

    #[test]
    fn excluded_ranges_are_left_out_and_nothing_left_means_no_band() {
        let pts = vec![(0, 1.0), (P, 1000.0)];
        let config = TrainingConfig {
            excluded: vec![(P, 2 * P)],
            timezone: None,
        };
        let t = Training {
            points: pts.clone(),
            config,
        };
        let (lo, _) = band(&t, P, 1.0, &[0]).unwrap();
        assert_eq!(lo[0], 1.0);
        let config = TrainingConfig {
            excluded: vec![(0, 2 * P)],
            timezone: None,
        };
        assert!(
            band(
                &Training {
                    points: pts,
                    config
                },
                P,
                1.0,
                &[0]
            )
            .is_none()
        );
    }

    #[test]
    fn weekly_cycle_once_two_weeks_of_data() {
        // Weekdays 0, weekends 100: the weekly slot keeps them apart.
        let per_day = DAY_MS / P;
        let pts = daily(14, |i| if (i / per_day) % 7 >= 5 { 100.0 } else { 0.0 });
        let t = Training {
            points: pts,
            config: TrainingConfig::default(),
        };
        let (lo, _) = band(&t, P, 0.0, &[14 * DAY_MS + 5 * DAY_MS, 15 * DAY_MS]).unwrap();
        assert_eq!(lo, vec![100.0, 0.0]);
    }

    #[test]
    fn metric_timezone_keeps_the_local_time_of_day_across_dst() {
        // 09:00 in Paris on four days around the 2026-03-29 DST change:
        // 08:00 UTC before it, 07:00 UTC after.
        let pts = vec![
            (1_774_598_400_000, 10.0), // 03-27 08:00Z
            (1_774_684_800_000, 20.0), // 03-28 08:00Z
            (1_774_854_000_000, 30.0), // 03-30 07:00Z
            (1_774_940_400_000, 40.0), // 03-31 07:00Z
        ];
        let at = [1_774_940_400_000];
        let paris = jiff::tz::TimeZone::get("Europe/Paris").unwrap();
        let local = TrainingConfig {
            excluded: vec![],
            timezone: Some(paris),
        };
        let (lo, _) = band(
            &Training {
                points: pts.clone(),
                config: local,
            },
            P,
            0.0,
            &at,
        )
        .unwrap();
        // One local slot holds all four: median 25.
        assert_eq!(lo[0], 25.0);
        // In UTC the 07:00 slot holds only the post-change days: median 35.
        let utc = TrainingConfig::default();
        let (lo, _) = band(
            &Training {
                points: pts,
                config: utc,
            },
            P,
            0.0,
            &at,
        )
        .unwrap();
        assert_eq!(lo[0], 35.0);
    }
}
