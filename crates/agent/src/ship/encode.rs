//! PutMetricData exactly as the stock agent sends it (aws-api.md §1.6, §4.2):
//! awsQuery form, `Version=2010-08-01`, ISO 8601 timestamps,
//! `StorageResolution` on every datum, `StrictEntityValidation=false`, and
//! the body gzip'd.

use std::io::Write as _;

use stratus_model::Timestamp;
use stratus_proto::{Document, encode_query_request};

use super::{Datum, DatumValue};

pub const ACTION: &str = "PutMetricData";
pub const API_VERSION: &str = "2010-08-01";
/// CloudWatch's cap on distinct values in one datum.
pub const MAX_VALUES_PER_DATUM: usize = 150;
/// PutMetricData bodies stay below this many bytes before gzip (AWS: 1 MB).
pub const MAX_BODY_BYTES: usize = 1_000_000;

/// Why a datum cannot be sent (the server would refuse its whole batch).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidDatum {
    #[error("metric {0}: value is NaN or infinite")]
    NotFinite(String),
    #[error("metric {0}: Values and Counts differ in length")]
    CountsMismatch(String),
    #[error("metric {0}: distribution without values")]
    EmptyDistribution(String),
}

/// Checks `d` and splits a distribution of more than 150 values into datums
/// of at most 150 (same name, dimensions and timestamp: CloudWatch merges
/// them into one statistic set).
pub fn prepare(d: Datum) -> Result<Vec<Datum>, InvalidDatum> {
    let name = || d.metric_name.clone();
    match &d.value {
        DatumValue::Single(v) => {
            if !v.is_finite() {
                return Err(InvalidDatum::NotFinite(name()));
            }
            Ok(vec![d])
        }
        DatumValue::Distribution { values, counts } => {
            if values.is_empty() {
                return Err(InvalidDatum::EmptyDistribution(name()));
            }
            if !counts.is_empty() && counts.len() != values.len() {
                return Err(InvalidDatum::CountsMismatch(name()));
            }
            if values.iter().chain(counts).any(|x| !x.is_finite()) {
                return Err(InvalidDatum::NotFinite(name()));
            }
            if values.len() <= MAX_VALUES_PER_DATUM {
                return Ok(vec![d]);
            }
            let counts_for = |i: usize| -> Vec<f64> {
                if counts.is_empty() {
                    Vec::new()
                } else {
                    let end = (i + MAX_VALUES_PER_DATUM).min(counts.len());
                    counts[i..end].to_vec()
                }
            };
            Ok(values
                .chunks(MAX_VALUES_PER_DATUM)
                .enumerate()
                .map(|(n, chunk)| Datum {
                    value: DatumValue::Distribution {
                        values: chunk.to_vec(),
                        counts: counts_for(n * MAX_VALUES_PER_DATUM),
                    },
                    ..d.clone()
                })
                .collect())
        }
    }
}

fn floats(values: &[f64]) -> Document {
    Document::List(values.iter().map(|v| Document::Float(*v)).collect())
}

/// One `MetricData` member.
pub fn datum_document(d: &Datum) -> Document {
    let mut m: Vec<(String, Document)> = Vec::with_capacity(7);
    m.push(("MetricName".into(), Document::String(d.metric_name.clone())));
    if !d.dimensions.is_empty() {
        let dims = d
            .dimensions
            .iter()
            .map(|(n, v)| {
                Document::Struct(vec![
                    ("Name".into(), Document::String(n.clone())),
                    ("Value".into(), Document::String(v.clone())),
                ])
            })
            .collect();
        m.push(("Dimensions".into(), Document::List(dims)));
    }
    m.push((
        "Timestamp".into(),
        Document::Timestamp(Timestamp::from_millis(d.timestamp_ms)),
    ));
    match &d.value {
        DatumValue::Single(v) => m.push(("Value".into(), Document::Float(*v))),
        DatumValue::Distribution { values, counts } => {
            m.push(("Values".into(), floats(values)));
            if !counts.is_empty() {
                m.push(("Counts".into(), floats(counts)));
            }
        }
    }
    m.push(("Unit".into(), Document::String(d.unit.to_owned())));
    let resolution = if d.high_resolution { 1 } else { 60 };
    m.push(("StorageResolution".into(), Document::Int(resolution)));
    Document::Struct(m)
}

/// The form body of one PutMetricData request.
pub fn request_body(namespace: &str, datums: &[Datum]) -> String {
    let doc = Document::Struct(vec![
        ("Namespace".into(), Document::String(namespace.to_owned())),
        (
            "MetricData".into(),
            Document::List(datums.iter().map(datum_document).collect()),
        ),
        ("StrictEntityValidation".into(), Document::Bool(false)),
    ]);
    encode_query_request(ACTION, API_VERSION, &doc)
}

/// Bytes `d` adds to a request body, whatever its position in the batch:
/// measured at member 1, plus room for a 4-digit member number in each of
/// its parameters.
pub fn encoded_len(d: &Datum) -> usize {
    let doc = Document::Struct(vec![(
        "MetricData".into(),
        Document::List(vec![datum_document(d)]),
    )]);
    let text = encode_query_request("", "", &doc);
    let params = text.matches('&').count().saturating_sub(1);
    text.len() - "Action=&Version=".len() + params * 3
}

/// Bytes of a request body without datums.
pub fn envelope_len(namespace: &str) -> usize {
    request_body(namespace, &[]).len()
}

/// gzip at the fastest level: the form bodies are so repetitive that level 1
/// already shrinks them ~10× (measured on a 231-datum body: 9.9× at level 1,
/// 12.1× at level 6 for three times the CPU; deflate was the agent's largest
/// single cost).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4 + 64),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datum(name: &str, value: DatumValue) -> Datum {
        Datum {
            metric_name: name.into(),
            dimensions: vec![("path".into(), "/".into()), ("host".into(), "a b".into())],
            timestamp_ms: 1_767_323_045_000,
            value,
            unit: "Percent",
            high_resolution: false,
        }
    }

    #[test]
    fn body_matches_the_stock_agent_shape() {
        let body = request_body(
            "CWAgent",
            &[
                datum("disk_used_percent", DatumValue::Single(51.5)),
                Datum {
                    high_resolution: true,
                    ..datum(
                        "d",
                        DatumValue::Distribution {
                            values: vec![1.0, 2.0],
                            counts: vec![3.0, 1.0],
                        },
                    )
                },
            ],
        );
        assert!(body.starts_with("Action=PutMetricData&Version=2010-08-01&Namespace=CWAgent&"));
        for part in [
            "MetricData.member.1.MetricName=disk_used_percent",
            "MetricData.member.1.Dimensions.member.1.Name=path",
            "MetricData.member.1.Dimensions.member.1.Value=%2F",
            "MetricData.member.1.Dimensions.member.2.Value=a+b",
            "MetricData.member.1.Timestamp=2026-01-02T03%3A04%3A05.000Z",
            "MetricData.member.1.Value=51.5",
            "MetricData.member.1.Unit=Percent",
            "MetricData.member.1.StorageResolution=60",
            "MetricData.member.2.Values.member.2=2.0",
            "MetricData.member.2.Counts.member.1=3.0",
            "MetricData.member.2.StorageResolution=1",
        ] {
            assert!(body.contains(part), "{part} missing from {body}");
        }
        assert!(body.ends_with("&StrictEntityValidation=false"));
    }

    #[test]
    fn encoded_len_bounds_every_position() {
        let d = datum("m", DatumValue::Single(1.25));
        let one = request_body("N", std::slice::from_ref(&d)).len() - envelope_len("N");
        let many: Vec<Datum> = std::iter::repeat_n(d.clone(), 1000).collect();
        let total = request_body("N", &many).len() - envelope_len("N");
        assert!(encoded_len(&d) >= one);
        assert!(encoded_len(&d) * 1000 >= total);
        assert!(encoded_len(&d) < one + 40, "estimate stays tight");
    }

    #[test]
    fn large_distributions_are_split_and_bad_values_refused() {
        let values: Vec<f64> = (0..320).map(f64::from).collect();
        let counts: Vec<f64> = (0..320).map(|i| f64::from(i % 3 + 1)).collect();
        let parts = prepare(datum(
            "big",
            DatumValue::Distribution {
                values: values.clone(),
                counts: counts.clone(),
            },
        ))
        .unwrap();
        assert_eq!(parts.len(), 3);
        let mut got_v = Vec::new();
        let mut got_c = Vec::new();
        for p in &parts {
            let DatumValue::Distribution { values, counts } = &p.value else {
                panic!("not a distribution")
            };
            assert!(values.len() <= MAX_VALUES_PER_DATUM);
            assert_eq!(values.len(), counts.len());
            got_v.extend_from_slice(values);
            got_c.extend_from_slice(counts);
        }
        assert_eq!((got_v, got_c), (values, counts));

        assert!(matches!(
            prepare(datum("n", DatumValue::Single(f64::NAN))),
            Err(InvalidDatum::NotFinite(_))
        ));
        assert!(matches!(
            prepare(datum(
                "c",
                DatumValue::Distribution {
                    values: vec![1.0],
                    counts: vec![1.0, 2.0]
                }
            )),
            Err(InvalidDatum::CountsMismatch(_))
        ));
    }
}
