//! Measures decode + deserialize of a 1000-datum PutMetricData in each
//! protocol. Run in release: `cargo run --release -p stratus-proto --example decode_bench`.

use std::time::{Duration, Instant};
use stratus_model::Timestamp;
use stratus_model::ops::put_metric_data::PutMetricDataInput;
use stratus_proto::{
    Document, Protocol, RequestHead, Service, decode_request, encode_cbor, encode_json,
    encode_query_request, encode_response, from_document, to_document,
};

fn datum(i: usize) -> Document {
    let s = |v: &str| Document::String(v.to_owned());
    Document::Struct(vec![
        ("MetricName".into(), s(&format!("disk_used_{}", i % 10))),
        (
            "Dimensions".into(),
            Document::List(vec![Document::Struct(vec![
                ("Name".into(), s("path")),
                ("Value".into(), s(&format!("/mnt/d{}", i % 10))),
            ])]),
        ),
        (
            "Timestamp".into(),
            Document::Timestamp(Timestamp(1_767_323_045_000 + i as i64 * 1000)),
        ),
        ("Value".into(), Document::Float(51.5 + (i % 40) as f64)),
        ("Unit".into(), s("Percent")),
        ("StorageResolution".into(), Document::Int(60)),
    ])
}

/// CPU time (user + system) of this process, from /proc: on a shared,
/// busy machine wall time mostly measures the scheduler.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_comm = stat.rsplit(')').next()?;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are 12 and 13 after the command name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10)) // USER_HZ is 100 on Linux
}

fn time<F: FnMut()>(label: &str, bytes: usize, mut f: F) {
    // An optional first argument selects benchmarks by substring.
    if let Some(filter) = std::env::args().nth(1)
        && !label.contains(&filter)
    {
        return;
    }
    // BENCH_RUNS=5 keeps profiler runs (callgrind) short.
    let runs: u32 = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    for _ in 0..runs.min(20) {
        f();
    }
    let start = Instant::now();
    let cpu_start = cpu_time();
    for _ in 0..runs {
        f();
    }
    let wall = start.elapsed() / runs;
    let cpu = match (cpu_start, cpu_time()) {
        (Some(a), Some(b)) => format!("{:>9.1?}", b.saturating_sub(a) / runs),
        _ => "n/a".to_owned(),
    };
    println!("{label:<34} {bytes:>7} bytes  wall {wall:>9.1?}  cpu {cpu} per request");
}

fn main() {
    let input = Document::Struct(vec![
        ("Namespace".into(), Document::String("CWAgent".into())),
        (
            "MetricData".into(),
            Document::List((0..1000).map(datum).collect()),
        ),
    ]);
    let json = encode_json(&input);
    let cbor = encode_cbor(&input);
    let form = encode_query_request("PutMetricData", "2010-08-01", &input);

    let json_head = RequestHead {
        method: "POST",
        path: "/",
        content_type: Some("application/x-amz-json-1.0"),
        target: Some("GraniteServiceVersion20100801.PutMetricData"),
        ..RequestHead::default()
    };
    let cbor_head = RequestHead {
        method: "POST",
        path: "/service/GraniteServiceVersion20100801/operation/PutMetricData",
        smithy_protocol: Some("rpc-v2-cbor"),
        ..RequestHead::default()
    };
    let query_head = RequestHead {
        method: "POST",
        path: "/",
        ..RequestHead::default()
    };

    for (label, head, body) in [
        ("json decode+from_document", json_head, json.as_slice()),
        ("cbor decode+from_document", cbor_head, cbor.as_slice()),
        ("query decode+from_document", query_head, form.as_bytes()),
    ] {
        time(label, body.len(), || {
            let req = decode_request(&head, body).expect("decodes");
            let typed: PutMetricDataInput = from_document(req.params).expect("typed");
            assert_eq!(typed.metric_data.len(), 1000);
        });
    }

    time("json decode only", json.len(), || {
        let req = decode_request(&json_head, &json).expect("decodes");
        assert!(matches!(req.params, Document::Map(_)));
    });
    time("cbor decode only", cbor.len(), || {
        let req = decode_request(&cbor_head, &cbor).expect("decodes");
        assert!(matches!(req.params, Document::Map(_)));
    });
    let decoded = decode_request(&cbor_head, &cbor).expect("decodes").params;
    time("from_document only (clone incl.)", 0, || {
        let typed: PutMetricDataInput = from_document(decoded.clone()).expect("typed");
        assert_eq!(typed.metric_data.len(), 1000);
    });
    time("clone only", 0, || {
        let c = decoded.clone();
        assert!(matches!(c, Document::Map(_)));
    });

    let output = to_document(&input);
    for protocol in [Protocol::Query, Protocol::Json, Protocol::Cbor] {
        let size = encode_response(Service::CloudWatch, protocol, "X", &output, "r")
            .body
            .len();
        time(&format!("encode_response {protocol:?}"), size, || {
            let resp = encode_response(Service::CloudWatch, protocol, "X", &output, "r");
            assert!(!resp.body.is_empty());
        });
    }
}
