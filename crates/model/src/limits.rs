//! Every numeric limit of the CloudWatch API that Stratus enforces, in one place.
//!
//! Validation code refers to these names only, so a limit is changed here and
//! nowhere else. Sources: aws-api.md §2.2–2.5 and the CloudWatch API reference.

/// Milliseconds in a second / minute / hour / day, for readable arithmetic below.
pub const SECOND_MS: i64 = 1_000;
pub const MINUTE_MS: i64 = 60 * SECOND_MS;
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
pub const DAY_MS: i64 = 24 * HOUR_MS;

// ---------------------------------------------------------------- names

/// `Namespace`: 1..=255 characters, must not start with `:`.
pub const MAX_NAMESPACE_LEN: usize = 255;
/// Namespaces with this prefix belong to AWS services; PutMetricData refuses them.
pub const RESERVED_NAMESPACE_PREFIX: &str = "AWS/";
/// `MetricName`: 1..=255 characters.
pub const MAX_METRIC_NAME_LEN: usize = 255;
/// `Dimension.Name`: 1..=255 characters.
pub const MAX_DIMENSION_NAME_LEN: usize = 255;
/// `Dimension.Value`: 1..=1024 characters.
pub const MAX_DIMENSION_VALUE_LEN: usize = 1024;
/// Dimensions on one metric.
pub const MAX_DIMENSIONS_PER_METRIC: usize = 30;

// ---------------------------------------------------------------- PutMetricData

/// Datums in one PutMetricData call, `MetricData` and `EntityMetricData` together.
pub const MAX_DATUMS_PER_PUT: usize = 1000;
/// Entries in `EntityMetricData`.
pub const MAX_ENTITY_METRIC_DATA: usize = 2;
/// `Entity.KeyAttributes` entry count range.
pub const MIN_ENTITY_KEY_ATTRIBUTES: usize = 2;
pub const MAX_ENTITY_KEY_ATTRIBUTES: usize = 4;
/// `Entity.KeyAttributes` key / value lengths.
pub const MAX_ENTITY_KEY_ATTRIBUTE_KEY_LEN: usize = 32;
pub const MAX_ENTITY_KEY_ATTRIBUTE_VALUE_LEN: usize = 2048;
/// `Entity.Attributes`: at most 10 entries, keys 1..=256, values 1..=2048.
pub const MAX_ENTITY_ATTRIBUTES: usize = 10;
pub const MAX_ENTITY_ATTRIBUTE_KEY_LEN: usize = 256;
pub const MAX_ENTITY_ATTRIBUTE_VALUE_LEN: usize = 2048;
/// `Values` (and therefore `Counts`) entries in one datum.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// Request body limit for PutMetricData (applies to the inflated body as well;
/// enforced by the server, declared here so every limit lives in one file).
pub const MAX_PUT_BODY_BYTES: usize = 1024 * 1024;
/// Largest accepted magnitude of any value: 2^360 (CloudWatch documents the range
/// as -2^360..2^360). Built from bits because `powi` is not `const`.
pub const MAX_VALUE_MAGNITUDE: f64 = f64::from_bits((1023 + 360) << 52);
/// Smallest accepted non-zero magnitude: 2^-360. CloudWatch documents its range
/// as "2e-360 to 2e360 (base 2)", i.e. 8.5e-109..1.2e108 in base 10, so tiny
/// magnitudes such as 1e-200 (and every subnormal) are refused; exact 0 is fine.
pub const MIN_NONZERO_MAGNITUDE: f64 = f64::from_bits((1023 - 360) << 52);
/// A datum's timestamp may be at most this far in the past…
pub const MAX_DATUM_AGE_MS: i64 = 14 * DAY_MS;
/// …and at most this far in the future.
pub const MAX_DATUM_FUTURE_MS: i64 = 2 * HOUR_MS;
/// The two allowed `StorageResolution` values (seconds).
pub const HIGH_RESOLUTION_SECS: i64 = 1;
pub const STANDARD_RESOLUTION_SECS: i64 = 60;

// ---------------------------------------------------------------- ListMetrics

/// Metrics per ListMetrics page.
pub const LIST_METRICS_PAGE_SIZE: usize = 500;
/// Dimension filters in one ListMetrics call.
pub const MAX_LIST_METRICS_DIMENSION_FILTERS: usize = 10;
/// The only accepted `RecentlyActive` value.
pub const RECENTLY_ACTIVE_PT3H: &str = "PT3H";
/// Window that `RecentlyActive=PT3H` refers to.
pub const RECENTLY_ACTIVE_WINDOW_MS: i64 = 3 * HOUR_MS;

// ---------------------------------------------------------------- periods / retention

/// Periods below one minute that are valid for high-resolution data.
pub const HIGH_RES_PERIODS_SECS: [i64; 5] = [1, 5, 10, 20, 30];
/// Data older than this is only available at ≥ 60 s periods.
pub const HIGH_RES_RETENTION_MS: i64 = 3 * HOUR_MS;
/// Data older than this is only available at multiples of 300 s.
pub const MINUTE_RETENTION_MS: i64 = 15 * DAY_MS;
/// Data older than this is only available at multiples of 3600 s.
pub const FIVE_MINUTE_RETENTION_MS: i64 = 63 * DAY_MS;
/// Upper bound on `Period` (one year). Not an AWS-documented limit; it keeps
/// period arithmetic in milliseconds far away from overflow.
pub const MAX_PERIOD_SECS: i64 = 366 * 24 * 3600;

// ---------------------------------------------------------------- GetMetricStatistics

/// Datapoints one GetMetricStatistics call may ask for.
pub const GMS_MAX_DATAPOINTS: i64 = 1440;
/// Entries in `Statistics`.
pub const MAX_STATISTICS: usize = 5;
/// Entries in `ExtendedStatistics`.
pub const MAX_EXTENDED_STATISTICS: usize = 10;

// ---------------------------------------------------------------- GetMetricData

/// `MetricDataQueries` entries in one GetMetricData call.
pub const GMD_MAX_QUERIES: usize = 500;
/// Default (and documented maximum per call) of `MaxDatapoints`.
pub const GMD_DEFAULT_MAX_DATAPOINTS: i64 = 100_800;
/// `Id`: 1..=255 characters.
pub const MAX_QUERY_ID_LEN: usize = 255;
/// `Expression`: 1..=2048 characters.
pub const MAX_EXPRESSION_LEN: usize = 2048;
/// Periods summed over all queries of one GetMetricData call. Not an AWS limit
/// (AWS pages through any amount); it bounds the memory one request can use.
/// 500 queries × 4000 periods, or 92 queries at 1-minute resolution over 15 days.
pub const GMD_MAX_EVALUATED_DATAPOINTS: i64 = 2_000_000;
/// Default period for an expression that references no metric and sets no `Period`.
pub const DEFAULT_EXPRESSION_PERIOD_SECS: i64 = 60;

// ---------------------------------------------------------------- error messages

/// Offending values echoed in validation messages are cut to this many characters
/// so a 1 MB value cannot produce a 1 MB error body.
pub const MAX_ECHOED_VALUE_CHARS: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude_bounds_are_powers_of_two() {
        assert_eq!(MAX_VALUE_MAGNITUDE, 2f64.powi(360));
        assert_eq!(MIN_NONZERO_MAGNITUDE, 2f64.powi(-360));
        // Matches the base-10 range CloudWatch documents (8.5e-109 .. 1.2e108)
        // to within one binade.
        const { assert!(MAX_VALUE_MAGNITUDE > 1.17e108 && MAX_VALUE_MAGNITUDE < 2.4e108) };
        const { assert!(MIN_NONZERO_MAGNITUDE < 8.6e-109 && MIN_NONZERO_MAGNITUDE > 4.2e-109) };
    }
}
