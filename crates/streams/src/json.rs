//! The JSON output format: one object per metric and minute, each on its own
//! line, keys in the order AWS documents:
//!
//! ```json
//! {"metric_stream_name":"s","account_id":"123456789012","region":"us-east-1","namespace":"AWS/EC2","metric_name":"DiskWriteOps","dimensions":{"InstanceId":"i-1"},"timestamp":1611929698000,"value":{"max":0.0,"min":0.0,"sum":0.0,"count":2.0},"unit":"Seconds"}
//! ```
//!
//! Additional statistics (`p99`, ...) join `value` after `count`.

use crate::{MinuteStats, StreamIdentity};

/// Newline-delimited JSON lines (each line ends with `\n`).
pub fn encode(id: &StreamIdentity, stats: &[MinuteStats]) -> Vec<u8> {
    let mut out = String::new();
    for s in stats {
        line(&mut out, id, s);
        out.push('\n');
    }
    out.into_bytes()
}

fn string(out: &mut String, s: &str) {
    // serde_json escapes exactly as JSON requires; a str never fails.
    out.push_str(&serde_json::Value::from(s).to_string());
}

fn number(out: &mut String, v: f64) {
    // Non-finite values cannot be stored, but JSON has no spelling for them.
    if v.is_finite() {
        out.push_str(&serde_json::Value::from(v).to_string());
    } else {
        out.push_str("null");
    }
}

fn line(out: &mut String, id: &StreamIdentity, s: &MinuteStats) {
    out.push_str("{\"metric_stream_name\":");
    string(out, &id.stream_name);
    out.push_str(",\"account_id\":");
    string(out, &id.account_id);
    out.push_str(",\"region\":");
    string(out, &id.region);
    out.push_str(",\"namespace\":");
    string(out, &s.namespace);
    out.push_str(",\"metric_name\":");
    string(out, &s.metric_name);
    out.push_str(",\"dimensions\":{");
    for (i, (k, v)) in s.dimensions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, k);
        out.push(':');
        string(out, v);
    }
    out.push_str("},\"timestamp\":");
    out.push_str(&s.start_ms.to_string());
    out.push_str(",\"value\":{\"max\":");
    number(out, s.max);
    out.push_str(",\"min\":");
    number(out, s.min);
    out.push_str(",\"sum\":");
    number(out, s.sum);
    out.push_str(",\"count\":");
    number(out, s.count);
    for (name, v) in &s.extra {
        out.push(',');
        string(out, name);
        out.push(':');
        number(out, *v);
    }
    out.push_str("},\"unit\":");
    string(out, &s.unit);
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn identity() -> StreamIdentity {
        StreamIdentity {
            stream_name: "MyMetricStream".into(),
            arn: "arn:aws:cloudwatch:us-east-1:123456789012:metric-stream/MyMetricStream".into(),
            account_id: "123456789012".into(),
            region: "us-east-1".into(),
        }
    }

    #[test]
    fn lines_match_the_documented_shape() {
        let s = MinuteStats {
            namespace: "AWS/EC2".into(),
            metric_name: "DiskWriteOps".into(),
            dimensions: vec![("InstanceId".into(), "i-123456789012".into())],
            start_ms: 1611929698000,
            unit: "Seconds".into(),
            min: 0.0,
            max: 0.0,
            sum: 0.0,
            count: 2.0,
            extra: vec![],
        };
        let mut two = s.clone();
        two.metric_name = "q\"\n".into();
        two.extra = vec![("p99".into(), 1.5)];
        let text = String::from_utf8(encode(&identity(), &[s, two])).unwrap();
        let lines: Vec<&str> = text.split_terminator('\n').collect();
        assert_eq!(
            lines[0],
            r#"{"metric_stream_name":"MyMetricStream","account_id":"123456789012","region":"us-east-1","namespace":"AWS/EC2","metric_name":"DiskWriteOps","dimensions":{"InstanceId":"i-123456789012"},"timestamp":1611929698000,"value":{"max":0.0,"min":0.0,"sum":0.0,"count":2.0},"unit":"Seconds"}"#
        );
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["metric_name"], "q\"\n");
        assert_eq!(v["value"]["p99"], 1.5);
        assert!(text.ends_with('\n'));
    }
}
