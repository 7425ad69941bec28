//! Kinesis Data Firehose's HTTP endpoint delivery request: what a Firehose
//! delivery stream POSTs to an HTTP destination, so a real Firehose HTTP
//! receiver accepts our deliveries.
//!
//! Body: `{"requestId":"<uuid>","timestamp":<epoch ms>,"records":[{"data":"<base64>"}]}`;
//! headers `X-Amz-Firehose-Request-Id` (the same id), `X-Amz-Firehose-Access-Key`
//! when the destination has one, and `Content-Type: application/json`. A 2xx
//! answer accepts the whole request; anything else is retried.

use base64::Engine as _;

pub const REQUEST_ID_HEADER: &str = "X-Amz-Firehose-Request-Id";
pub const ACCESS_KEY_HEADER: &str = "X-Amz-Firehose-Access-Key";
pub const PROTOCOL_VERSION_HEADER: &str = "X-Amz-Firehose-Protocol-Version";

/// The JSON body of one delivery request.
pub fn body(request_id: &str, timestamp_ms: i64, records: &[Vec<u8>]) -> String {
    let records: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            serde_json::json!({
                "data": base64::engine::general_purpose::STANDARD.encode(r)
            })
        })
        .collect();
    serde_json::json!({
        "requestId": request_id,
        "timestamp": timestamp_ms,
        "records": records,
    })
    .to_string()
}

/// The request's headers (the content type included).
pub fn headers(request_id: &str, access_key: Option<&str>) -> Vec<(String, String)> {
    let mut h = vec![
        ("Content-Type".to_string(), "application/json".to_string()),
        (REQUEST_ID_HEADER.to_string(), request_id.to_string()),
        (PROTOCOL_VERSION_HEADER.to_string(), "1.0".to_string()),
    ];
    if let Some(k) = access_key {
        h.push((ACCESS_KEY_HEADER.to_string(), k.to_string()));
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_round_trips() {
        let b = body("id-1", 1700000000000, &[b"a\n".to_vec(), vec![0, 255]]);
        let v: serde_json::Value = serde_json::from_str(&b).unwrap();
        assert_eq!(v["requestId"], "id-1");
        assert_eq!(v["timestamp"], 1700000000000i64);
        assert_eq!(v["records"][0]["data"], "YQo=");
        assert_eq!(v["records"][1]["data"], "AP8=");
        let h = headers("id-1", Some("k"));
        assert!(h.contains(&(REQUEST_ID_HEADER.into(), "id-1".into())));
        assert!(h.contains(&(ACCESS_KEY_HEADER.into(), "k".into())));
        assert!(
            !headers("x", None)
                .iter()
                .any(|(k, _)| k == ACCESS_KEY_HEADER)
        );
    }
}
