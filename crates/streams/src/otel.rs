//! The OpenTelemetry 1.0.0 output format: each metric and minute is one
//! `ExportMetricsServiceRequest` (opentelemetry-proto v1.0.0), written after
//! an unsigned varint of its length, as AWS documents. Encoded by hand (the
//! handful of messages below), so no protoc or generated code is needed.
//!
//! Per AWS: resource attributes `cloud.provider` = `aws`, `cloud.account.id`,
//! `cloud.region`, `aws.exporter.arn`; one `Metric` named
//! `amazonaws.com/<Namespace>/<MetricName>` with the unit in UCUM
//! ([`ucum_unit`]) and a `Summary` data point: attributes `Namespace`,
//! `MetricName` and `Dimensions` (a key-value list), start and end of the
//! minute, `count` = SampleCount, `sum` = Sum, quantiles 0.0 = Minimum and
//! 1.0 = Maximum, plus the stream's configured percentiles between them.

use crate::{MinuteStats, StreamIdentity};

const LEN: u8 = 2;
const FIXED64: u8 = 1;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn tag(out: &mut Vec<u8>, field: u32, wire: u8) {
    varint(out, (u64::from(field) << 3) | u64::from(wire));
}

fn bytes_field(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
    tag(out, field, LEN);
    varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn string_field(out: &mut Vec<u8>, field: u32, s: &str) {
    bytes_field(out, field, s.as_bytes());
}

fn fixed64_field(out: &mut Vec<u8>, field: u32, v: u64) {
    tag(out, field, FIXED64);
    out.extend_from_slice(&v.to_le_bytes());
}

fn double_field(out: &mut Vec<u8>, field: u32, v: f64) {
    fixed64_field(out, field, v.to_bits());
}

/// `KeyValue { key = 1; AnyValue value = 2 }` with `AnyValue.string_value = 1`.
fn string_kv(key: &str, value: &str) -> Vec<u8> {
    let mut any = Vec::new();
    string_field(&mut any, 1, value);
    let mut kv = Vec::new();
    string_field(&mut kv, 1, key);
    bytes_field(&mut kv, 2, &any);
    kv
}

/// `KeyValue` whose value is `AnyValue.kvlist_value = 6` (`KeyValueList.values = 1`).
fn kvlist_kv(key: &str, pairs: &[(String, String)]) -> Vec<u8> {
    let mut list = Vec::new();
    for (k, v) in pairs {
        bytes_field(&mut list, 1, &string_kv(k, v));
    }
    let mut any = Vec::new();
    bytes_field(&mut any, 6, &list);
    let mut kv = Vec::new();
    string_field(&mut kv, 1, key);
    bytes_field(&mut kv, 2, &any);
    kv
}

/// `p99` → 0.99, `p99.9` → 0.999; anything else is not a quantile.
pub fn percentile_quantile(stat: &str) -> Option<f64> {
    let digits = stat.strip_prefix('p')?;
    let n: f64 = digits.parse().ok()?;
    if !(n.is_finite() && (0.0..=100.0).contains(&n)) || digits.starts_with(['+', '-']) {
        return None;
    }
    if n == 100.0 {
        return Some(1.0);
    }
    // Shift the decimal point in the text: 99.9 / 100 in binary is 0.9990000000000001.
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    format!("0.{int:0>2}{frac}").parse().ok()
}

/// CloudWatch unit → the case-sensitive UCUM code AWS uses; `X/Second`
/// maps both halves (`Bytes/Second` → `By/s`).
pub fn ucum_unit(unit: &str) -> String {
    fn one(u: &str) -> &str {
        match u {
            "Second" | "Seconds" => "s",
            "Microseconds" => "us",
            "Milliseconds" => "ms",
            "Bytes" => "By",
            "Kilobytes" => "kBy",
            "Megabytes" => "MBy",
            "Gigabytes" => "GBy",
            "Terabytes" => "TBy",
            "Bits" => "bit",
            "Kilobits" => "kbit",
            "Megabits" => "MBit",
            "Gigabits" => "GBit",
            "Terabits" => "Tbit",
            "Percent" => "%",
            "Count" => "{Count}",
            "None" | "" => "1",
            other => other,
        }
    }
    match unit.split_once('/') {
        Some((a, b)) => format!("{}/{}", one(a), one(b)),
        None => one(unit).to_string(),
    }
}

/// One `ExportMetricsServiceRequest` for one metric and minute.
pub fn request(id: &StreamIdentity, s: &MinuteStats) -> Vec<u8> {
    let mut resource = Vec::new();
    for (k, v) in [
        ("cloud.provider", "aws"),
        ("cloud.account.id", id.account_id.as_str()),
        ("cloud.region", id.region.as_str()),
        ("aws.exporter.arn", id.arn.as_str()),
    ] {
        bytes_field(&mut resource, 1, &string_kv(k, v));
    }

    let mut point = Vec::new();
    let start_ns = (s.start_ms.max(0) as u64).saturating_mul(1_000_000);
    fixed64_field(&mut point, 2, start_ns);
    fixed64_field(&mut point, 3, start_ns.saturating_add(60_000_000_000));
    // SampleCount is a whole number of samples (statistic sets carry it as a double).
    fixed64_field(&mut point, 4, s.count.max(0.0).round() as u64);
    double_field(&mut point, 5, s.sum);
    let mut quantiles: Vec<(f64, f64)> = vec![(0.0, s.min)];
    quantiles.extend(
        s.extra
            .iter()
            .filter_map(|(name, v)| percentile_quantile(name).map(|q| (q, *v)))
            .filter(|(q, _)| *q > 0.0 && *q < 1.0),
    );
    quantiles.push((1.0, s.max));
    quantiles.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (q, v) in quantiles {
        let mut vq = Vec::new();
        double_field(&mut vq, 1, q);
        double_field(&mut vq, 2, v);
        bytes_field(&mut point, 6, &vq);
    }
    bytes_field(&mut point, 7, &string_kv("Namespace", &s.namespace));
    bytes_field(&mut point, 7, &string_kv("MetricName", &s.metric_name));
    bytes_field(&mut point, 7, &kvlist_kv("Dimensions", &s.dimensions));

    let mut summary = Vec::new();
    bytes_field(&mut summary, 1, &point);
    let mut metric = Vec::new();
    string_field(
        &mut metric,
        1,
        &format!("amazonaws.com/{}/{}", s.namespace, s.metric_name),
    );
    string_field(&mut metric, 3, &ucum_unit(&s.unit));
    bytes_field(&mut metric, 11, &summary);
    let mut scope_metrics = Vec::new();
    bytes_field(&mut scope_metrics, 2, &metric);
    let mut resource_metrics = Vec::new();
    bytes_field(&mut resource_metrics, 1, &resource);
    bytes_field(&mut resource_metrics, 2, &scope_metrics);
    let mut req = Vec::new();
    bytes_field(&mut req, 1, &resource_metrics);
    req
}

/// Size-delimited requests, one per metric and minute.
pub fn encode(id: &StreamIdentity, stats: &[MinuteStats]) -> Vec<u8> {
    let mut out = Vec::new();
    for s in stats {
        let msg = request(id, s);
        varint(&mut out, msg.len() as u64);
        out.extend_from_slice(&msg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_varint(b: &[u8], at: &mut usize) -> u64 {
        let mut v = 0u64;
        let mut shift = 0;
        loop {
            let byte = b[*at];
            *at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return v;
            }
            shift += 7;
        }
    }

    #[test]
    fn varints_and_units() {
        let mut v = Vec::new();
        varint(&mut v, 300);
        assert_eq!(v, [0xac, 0x02]);
        assert_eq!(ucum_unit("Bytes/Second"), "By/s");
        assert_eq!(ucum_unit("Count"), "{Count}");
        assert_eq!(ucum_unit("None"), "1");
        assert_eq!(percentile_quantile("p99.9"), Some(0.999));
        assert_eq!(percentile_quantile("tm99"), None);
    }

    #[test]
    fn messages_are_size_delimited_and_carry_the_strings() {
        let id = StreamIdentity {
            stream_name: "s".into(),
            arn: "arn:aws:cloudwatch:us-east-1:123456789012:metric-stream/s".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        };
        let s = MinuteStats {
            namespace: "NS".into(),
            metric_name: "M".into(),
            dimensions: vec![("Host".into(), "a".into())],
            start_ms: 60_000,
            unit: "Count".into(),
            min: 1.0,
            max: 3.0,
            sum: 4.0,
            count: 2.0,
            extra: vec![("p50".into(), 2.0)],
        };
        let out = encode(&id, &[s.clone(), s]);
        let mut at = 0;
        let mut n = 0;
        while at < out.len() {
            let len = read_varint(&out, &mut at) as usize;
            let msg = &out[at..at + len];
            let text = String::from_utf8_lossy(msg);
            assert!(text.contains("amazonaws.com/NS/M"));
            assert!(text.contains("aws.exporter.arn"));
            assert!(text.contains("{Count}"));
            at += len;
            n += 1;
        }
        assert_eq!((n, at), (2, out.len()));
    }
}
