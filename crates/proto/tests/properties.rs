//! Property tests: codec round trips and "random bytes never panic".

use proptest::prelude::*;
use std::collections::BTreeMap;
use stratus_model::Timestamp;
use stratus_proto::{
    Document, Protocol, Service, decode_cbor, decode_form, decode_json, decode_xml_response,
    encode_cbor, encode_json, encode_query_request, encode_response, fuzzing, inflate_gzip,
    query_result,
};

/// Scalars every codec carries faithfully.
fn common_scalar() -> impl Strategy<Value = Document> {
    prop_oneof![
        Just(Document::Null),
        any::<bool>().prop_map(Document::Bool),
        any::<i64>().prop_map(Document::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Document::Float),
        ".{0,12}".prop_map(Document::String),
    ]
}

fn tree(leaf: BoxedStrategy<Document>) -> impl Strategy<Value = Document> {
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Document::List),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Document::Map(m.into_iter().collect())),
        ]
    })
}

fn cbor_scalar() -> impl Strategy<Value = Document> {
    prop_oneof![
        common_scalar(),
        prop::collection::vec(any::<u8>(), 0..16).prop_map(Document::Blob),
        (-100_000_000_000_000i64..100_000_000_000_000)
            .prop_map(|ms| Document::Timestamp(Timestamp(ms))),
    ]
}

/// A query-shaped structure: sorted unique member names, string leaves,
/// lists of strings or structures, string maps; nothing empty.
fn query_struct(depth: u32) -> BoxedStrategy<Document> {
    let name = "[A-Z][a-zA-Z0-9]{0,6}";
    let leaf = ".{1,10}".prop_map(Document::String).boxed();
    let member = if depth == 0 {
        leaf
    } else {
        prop_oneof![
            3 => leaf,
            1 => prop::collection::vec(".{1,6}".prop_map(Document::String), 1..4).prop_map(Document::List),
            1 => prop::collection::vec(query_struct(depth - 1), 1..3).prop_map(Document::List),
            1 => query_struct(depth - 1),
            1 => prop::collection::btree_map(".{0,6}", ".{0,6}".prop_map(Document::String), 1..3)
                .prop_map(|m| Document::Map(m.into_iter().collect())),
        ]
        .boxed()
    };
    prop::collection::btree_map(name, member, 1..5)
        .prop_map(|m: BTreeMap<String, Document>| Document::Struct(m.into_iter().collect()))
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn json_round_trips(doc in tree(common_scalar().boxed())) {
        prop_assert_eq!(decode_json(&encode_json(&doc)).ok(), Some(doc));
    }

    #[test]
    fn cbor_round_trips(doc in tree(cbor_scalar().boxed())) {
        prop_assert_eq!(decode_cbor(&encode_cbor(&doc)).ok(), Some(doc));
    }

    #[test]
    fn form_round_trips(doc in query_struct(2)) {
        let form = encode_query_request("Op", "2010-08-01", &doc);
        let decoded = decode_form(&[form.as_bytes()]).expect("own form decodes");
        prop_assert_eq!(decoded.action.as_deref(), Some("Op"));
        prop_assert_eq!(decoded.params, doc);
    }

    #[test]
    fn xml_text_round_trips(text in "[^\u{0}-\u{8}\u{b}\u{c}\u{e}-\u{1f}\u{fffe}\u{ffff}]{0,40}") {
        let out = Document::Struct(vec![("S".into(), Document::String(text.clone()))]);
        let resp = encode_response(Service::Sns, Protocol::Query, "Publish", &out, "r");
        let doc = decode_xml_response(&resp.body).expect("well-formed");
        let result = query_result(&doc, "Publish").expect("result");
        prop_assert_eq!(result.get("S").and_then(Document::as_str), Some(text.as_str()));
    }

    #[test]
    fn random_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        fuzzing::decode_query(&data);
        fuzzing::decode_json(&data);
        fuzzing::decode_cbor(&data);
        let _ = decode_xml_response(&data);
        let _ = inflate_gzip(&data, 4096);
    }

    #[test]
    fn mutated_cbor_never_panics(
        doc in tree(cbor_scalar().boxed()),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = encode_cbor(&Document::Map(vec![("MetricData".into(), doc)]));
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        fuzzing::decode_cbor(&bytes);
    }

    #[test]
    fn mutated_forms_never_panic(
        doc in query_struct(2),
        cut in any::<prop::sample::Index>(),
        junk in "[.=&%a-z0-9]{0,8}",
    ) {
        let form = encode_query_request("PutMetricData", "2010-08-01", &doc);
        let at = cut.index(form.len() + 1);
        let mutated = format!("{}{}{}", &form[..at.min(form.len())], junk, &form[at.min(form.len())..]);
        fuzzing::decode_query(mutated.as_bytes());
    }
}
