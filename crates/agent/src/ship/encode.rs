//! PutMetricData exactly as the stock agent sends it (aws-api.md §1.6, §4.2):
//! awsQuery form, `Version=2010-08-01`, ISO 8601 timestamps,
//! `StorageResolution` on every datum, `StrictEntityValidation=false`, and
//! the body gzip'd.

use stratus_model::Timestamp;

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

/// The part of a body after the last datum.
const BODY_SUFFIX: &str = "&StrictEntityValidation=false";

/// Builds a PutMetricData form body datum by datum, straight into one
/// `String`: the bytes `stratus_proto::encode_query_request` makes from the
/// equivalent `Document` (a test holds the two together), without building
/// the document — on a host agent this encoder was the shipping thread's
/// largest cost. Appending one datum at a time also gives the batcher the
/// body's exact length, so a datum is encoded once.
pub struct BodyWriter {
    body: String,
    datums: usize,
    /// The last timestamp written and its encoded text: the datums of one
    /// collection share it.
    timestamp: Option<(i64, String)>,
}

impl BodyWriter {
    pub fn new(namespace: &str) -> BodyWriter {
        let mut w = BodyWriter {
            body: String::with_capacity(4096),
            datums: 0,
            timestamp: None,
        };
        w.start(namespace);
        w
    }

    /// Empties the body and writes the part before the first datum.
    fn start(&mut self, namespace: &str) {
        self.body.clear();
        self.datums = 0;
        self.timestamp = None;
        self.body.push_str("Action=");
        self.body.push_str(ACTION);
        self.body.push_str("&Version=");
        self.body.push_str(API_VERSION);
        self.body.push_str("&Namespace=");
        push_encoded(&mut self.body, namespace);
    }

    /// Finishes the body, hands it to `consume`, and starts the next body
    /// (for `namespace`) in the same buffer. A host's body is ~130 KB: a
    /// fresh one per flush meant growing it by doubling (copying ~128 KB)
    /// and glibc returning it to the kernel at free, so the next flush
    /// faulted its pages in again.
    pub fn finish_with<R>(&mut self, namespace: &str, consume: impl FnOnce(&[u8]) -> R) -> R {
        self.push_suffix();
        let out = consume(self.body.as_bytes());
        self.start(namespace);
        out
    }

    fn push_suffix(&mut self) {
        if self.datums == 0 {
            self.body.push_str("&MetricData=");
        }
        self.body.push_str(BODY_SUFFIX);
    }

    /// Datums written so far.
    pub fn datums(&self) -> usize {
        self.datums
    }

    /// Length of the finished body if it ended now.
    pub fn finished_len(&self) -> usize {
        self.body.len()
            + BODY_SUFFIX.len()
            + if self.datums == 0 {
                "&MetricData=".len()
            } else {
                0
            }
    }

    /// Appends `d` as the next `MetricData` member. Plain `push_str`s, no
    /// `format!`: the formatting machinery was a fifth of the encoder.
    pub fn push(&mut self, d: &Datum) {
        self.datums += 1;
        let n = self.datums;
        let b = &mut self.body;
        // "&MetricData.member.{n}." starts every field of the datum.
        let field_start = b.len();
        b.push_str("&MetricData.member.");
        push_decimal(b, n);
        b.push('.');
        let prefix_len = b.len() - field_start;
        let field = |b: &mut String, name: &str| {
            b.extend_from_within(field_start..field_start + prefix_len);
            b.push_str(name);
        };
        b.push_str("MetricName=");
        push_encoded(b, &d.metric_name);
        for (i, (name, value)) in d.dimensions.iter().enumerate() {
            field(b, "Dimensions.member.");
            push_decimal(b, i + 1);
            b.push_str(".Name=");
            push_encoded(b, name);
            field(b, "Dimensions.member.");
            push_decimal(b, i + 1);
            b.push_str(".Value=");
            push_encoded(b, value);
        }
        field(b, "Timestamp=");
        match &self.timestamp {
            Some((ms, text)) if *ms == d.timestamp_ms => b.push_str(text),
            _ => {
                let mut text = String::with_capacity(32);
                push_encoded(
                    &mut text,
                    &Timestamp::from_millis(d.timestamp_ms).to_iso8601(),
                );
                b.push_str(&text);
                self.timestamp = Some((d.timestamp_ms, text));
            }
        }
        match &d.value {
            DatumValue::Single(v) => {
                field(b, "Value=");
                push_float(b, *v);
            }
            DatumValue::Distribution { values, counts } => {
                push_floats(b, n, "Values", values);
                if !counts.is_empty() {
                    push_floats(b, n, "Counts", counts);
                }
            }
        }
        field(b, "Unit=");
        push_encoded(b, d.unit);
        field(b, "StorageResolution=");
        b.push_str(if d.high_resolution { "1" } else { "60" });
    }

    /// Takes the last datum back out (`mark` = [`BodyWriter::mark`] before
    /// its `push`).
    pub fn undo(&mut self, mark: usize) {
        if mark < self.body.len() && self.datums > 0 {
            self.body.truncate(mark);
            self.datums -= 1;
        }
    }

    /// Where the next datum would start.
    pub fn mark(&self) -> usize {
        self.body.len()
    }

    /// The finished form body.
    pub fn finish(mut self) -> String {
        self.push_suffix();
        self.body
    }
}

fn push_floats(b: &mut String, n: usize, list: &str, values: &[f64]) {
    use std::fmt::Write as _;
    if values.is_empty() {
        let _ = write!(b, "&MetricData.member.{n}.{list}=");
        return;
    }
    for (i, v) in values.iter().enumerate() {
        let _ = write!(b, "&MetricData.member.{n}.{list}.member.{}=", i + 1);
        push_float(b, *v);
    }
}

/// A float as the query protocol writes it (shortest round-trip text;
/// digits, `.`, `-` and `e` need no escaping).
fn push_float(b: &mut String, v: f64) {
    use std::fmt::Write as _;
    if v.is_nan() {
        b.push_str("NaN");
    } else if v.is_infinite() {
        b.push_str(if v > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        let _ = write!(b, "{v:?}");
    }
}

/// `n` in decimal.
fn push_decimal(b: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[at..] {
        b.push(char::from(d));
    }
}

/// application/x-www-form-urlencoded, as `form_urlencoded::byte_serialize`:
/// alphanumerics and `*-._` as they are, space as `+`, every other byte `%XX`.
/// Runs of bytes that need no escape (most of every name) go in one copy.
fn push_encoded(b: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let safe =
        |c: u8| matches!(c, b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_');
    let mut rest = s;
    while !rest.is_empty() {
        let run = rest.bytes().position(|c| !safe(c)).unwrap_or(rest.len());
        b.push_str(&rest[..run]);
        let Some(&c) = rest.as_bytes().get(run) else {
            break;
        };
        if c == b' ' {
            b.push('+');
        } else {
            b.push('%');
            b.push(char::from(HEX[usize::from(c >> 4)]));
            b.push(char::from(HEX[usize::from(c & 15)]));
        }
        // `c` is one byte of a char that may be longer: the escaped run
        // continues byte by byte until the next safe (ASCII) byte.
        let mut next = run + 1;
        while let Some(&c) = rest.as_bytes().get(next) {
            if safe(c) || c == b' ' || c.is_ascii() {
                break;
            }
            b.push('%');
            b.push(char::from(HEX[usize::from(c >> 4)]));
            b.push(char::from(HEX[usize::from(c & 15)]));
            next += 1;
        }
        rest = &rest[next..];
    }
}

/// The form body of one PutMetricData request.
pub fn request_body(namespace: &str, datums: &[Datum]) -> String {
    let mut w = BodyWriter::new(namespace);
    for d in datums {
        w.push(d);
    }
    w.finish()
}

/// gzip at the fastest level: the form bodies are so repetitive that level 1
/// already shrinks them 8× (flate2's zlib-rs backend; `cargo run --release
/// -p stratus-agent --example ship_cost` on a 231-datum, 132 KB body: level 1
/// 16.2 KB in 152 µs after an idle pause, level 2 11.3 KB in 240 µs;
/// miniz_oxide, the backend before, took 456 µs for 13.5 KB — deflate was
/// the shipping thread's largest cost).
///
/// One `Gzip` is kept for the shipper's life: a deflate state is ~300 KB, and
/// allocating it per batch meant an mmap, page faults zeroing it and an
/// munmap (a TLB shootdown on every core) per flush.
pub struct Gzip {
    deflate: flate2::Compress,
}

impl Default for Gzip {
    fn default() -> Self {
        Gzip {
            // Raw deflate: the gzip header and trailer are written here.
            deflate: flate2::Compress::new(flate2::Compression::fast(), false),
        }
    }
}

/// The fixed gzip member header: deflate, no name or comment, mtime 0,
/// "fastest" (XFL 4), OS unknown.
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 255];

impl Gzip {
    /// `body` as one gzip member.
    pub fn compress(&mut self, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(body.len() / 4 + 64);
        out.extend_from_slice(&GZIP_HEADER);
        self.deflate.reset();
        loop {
            let consumed = usize::try_from(self.deflate.total_in()).unwrap_or(usize::MAX);
            let rest = body.get(consumed..).unwrap_or_default();
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(1024));
            }
            match self
                .deflate
                .compress_vec(rest, &mut out, flate2::FlushCompress::Finish)
            {
                Ok(flate2::Status::StreamEnd) => break,
                Ok(_) => {}
                // Deflating a slice into a Vec has no failure mode but a
                // bug; an empty body is what the server would refuse.
                Err(_) => return Vec::new(),
            }
        }
        out.extend_from_slice(&crc32fast::hash(body).to_le_bytes());
        // ISIZE: the length modulo 2^32, as RFC 1952 says.
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out
    }
}

/// `body` gzip'd with a deflate state of its own (one-off callers).
pub fn gzip(body: &[u8]) -> Vec<u8> {
    Gzip::default().compress(body)
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

    /// The reference encoding: the datum as a `Document`, flattened by the
    /// protocol crate's generic query encoder.
    fn body_via_document(namespace: &str, datums: &[Datum]) -> String {
        use stratus_proto::{Document, encode_query_request};
        let floats = |v: &[f64]| Document::List(v.iter().map(|x| Document::Float(*x)).collect());
        let member = |d: &Datum| {
            let mut m: Vec<(String, Document)> = Vec::new();
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
            let r = if d.high_resolution { 1 } else { 60 };
            m.push(("StorageResolution".into(), Document::Int(r)));
            Document::Struct(m)
        };
        let doc = Document::Struct(vec![
            ("Namespace".into(), Document::String(namespace.to_owned())),
            (
                "MetricData".into(),
                Document::List(datums.iter().map(member).collect()),
            ),
            ("StrictEntityValidation".into(), Document::Bool(false)),
        ]);
        encode_query_request(ACTION, API_VERSION, &doc)
    }

    fn arb_datum() -> impl proptest::strategy::Strategy<Value = Datum> {
        use proptest::prelude::*;
        let text = "[a-zA-Z0-9 _./:&=%+*~-]{1,12}|\\PC{1,6}";
        let value = prop_oneof![
            (-1e300f64..1e300).prop_map(DatumValue::Single),
            prop::sample::select(vec![
                0.0,
                -0.0,
                1e21,
                1e-7,
                0.1,
                2.0,
                f64::MAX,
                f64::MIN_POSITIVE
            ])
            .prop_map(DatumValue::Single),
            (prop::collection::vec(-1e9f64..1e9, 0..4), any::<bool>()).prop_map(
                |(values, with_counts)| DatumValue::Distribution {
                    counts: if with_counts {
                        values.iter().map(|v| v.abs().floor() + 1.0).collect()
                    } else {
                        Vec::new()
                    },
                    values,
                }
            ),
        ];
        (
            text,
            prop::collection::vec((text, text), 0..4),
            prop::sample::select(vec![
                0i64,
                1_767_323_045_000,
                1_767_323_045_123,
                253_402_300_799_999,
            ]),
            value,
            prop::sample::select(vec!["Percent", "Bytes/Second", "None"]),
            any::<bool>(),
        )
            .prop_map(
                |(metric_name, dimensions, timestamp_ms, value, unit, high_resolution)| Datum {
                    metric_name,
                    dimensions,
                    timestamp_ms,
                    value,
                    unit,
                    high_resolution,
                },
            )
    }

    proptest::proptest! {
        #[test]
        fn body_writer_writes_what_the_generic_encoder_writes(
            namespace in "[a-zA-Z0-9 /:_.-]{1,20}",
            datums in proptest::collection::vec(arb_datum(), 0..14),
        ) {
            proptest::prop_assert_eq!(
                request_body(&namespace, &datums),
                body_via_document(&namespace, &datums)
            );
            let mut w = BodyWriter::new(&namespace);
            for d in &datums {
                w.push(d);
            }
            let len = w.finished_len();
            proptest::prop_assert_eq!(len, w.finish().len());
        }
    }

    #[test]
    fn a_reused_gzip_state_makes_valid_members() {
        use std::io::Read as _;
        let mut gz = Gzip::default();
        let bodies = [
            request_body("CWAgent", &[datum("a", DatumValue::Single(1.0))]),
            String::new(),
            // Bigger than one output reservation, little redundancy.
            (0..200_000u32)
                .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
                .collect(),
            request_body("CWAgent", &[datum("b", DatumValue::Single(2.0))]),
        ];
        for body in &bodies {
            let z = gz.compress(body.as_bytes());
            let mut back = String::new();
            flate2::read::GzDecoder::new(&z[..])
                .read_to_string(&mut back)
                .unwrap();
            assert_eq!(&back, body);
            assert_eq!(z, gzip(body.as_bytes()), "same bytes as a fresh state");
        }
    }

    #[test]
    fn member_numbers_past_one_digit_and_undo() {
        let ds: Vec<Datum> = (0..120)
            .map(|i| datum(&format!("m{i}"), DatumValue::Single(f64::from(i))))
            .collect();
        assert_eq!(
            request_body("CWAgent", &ds),
            body_via_document("CWAgent", &ds)
        );
        let mut w = BodyWriter::new("N");
        w.push(&ds[0]);
        let mark = w.mark();
        w.push(&ds[1]);
        w.undo(mark);
        assert_eq!(w.datums(), 1);
        assert_eq!(w.finish(), body_via_document("N", &ds[..1]));
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
