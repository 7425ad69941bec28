//! The awsQuery PutMetricData fast path (`decode_query_put_metric_data`)
//! against the general path (`decode_request` + `from_document`): where the
//! fast path answers it answers the same input (compared by `Debug`, which
//! prints every member and floats exactly); where it declines, the general
//! path is left to answer.

use proptest::prelude::*;
use stratus_model::ops::put_metric_data::PutMetricDataInput;
use stratus_proto::{RequestHead, decode_query_put_metric_data, decode_request, from_document};

const FORM: RequestHead<'static> = RequestHead {
    method: "POST",
    path: "/",
    query: "",
    content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
    target: None,
    smithy_protocol: None,
    query_mode: false,
    scope_service: Some("monitoring"),
};

const PREFIX: &str = "Action=PutMetricData&Version=2010-08-01";

fn general_at(head: &RequestHead<'_>, body: &str) -> Option<String> {
    let d = decode_request(head, body.as_bytes()).ok()?;
    let input: PutMetricDataInput = from_document(d.params).ok()?;
    Some(format!("{input:?}"))
}

fn direct_at(head: &RequestHead<'_>, body: &str) -> Option<PutMetricDataInput> {
    decode_query_put_metric_data(head, body.as_bytes())
}

/// The fast path takes `body` and agrees with the general path.
fn agrees(body: &str) -> PutMetricDataInput {
    agrees_at(&FORM, body)
}

fn agrees_at(head: &RequestHead<'_>, body: &str) -> PutMetricDataInput {
    let direct = direct_at(head, body).unwrap_or_else(|| panic!("declined {body}"));
    assert_eq!(
        Some(format!("{direct:?}")),
        general_at(head, body),
        "{body}"
    );
    direct
}

/// A body shaped like the CloudWatch agent's (and `stratus agent`'s): one
/// datum after another, fields in the agent's order, ISO timestamps with
/// escaped colons, an empty `Values=` for an empty distribution, and the
/// `StrictEntityValidation=false` suffix.
fn agent_body(datums: usize) -> String {
    let mut b = format!("{PREFIX}&Namespace=CWAgent");
    for n in 1..=datums {
        let m = format!("&MetricData.member.{n}.");
        b.push_str(&format!("{m}MetricName=disk_used_percent_{n}"));
        for (i, (k, v)) in [
            ("host", "ip-10-0-0-1"),
            ("path", "%2Fvar%2Flog"),
            ("fstype", "a+b"),
        ]
        .iter()
        .enumerate()
        {
            b.push_str(&format!("{m}Dimensions.member.{}.Name={k}", i + 1));
            b.push_str(&format!("{m}Dimensions.member.{}.Value={v}", i + 1));
        }
        b.push_str(&format!(
            "{m}Timestamp=2026-12-07T10%3A00%3A{:02}.000Z",
            n % 60
        ));
        match n % 10 {
            0 => {
                b.push_str(&format!(
                    "{m}Values.member.1=0.5{m}Values.member.2=97.4937343358396"
                ));
                b.push_str(&format!("{m}Counts.member.1=3.0{m}Counts.member.2=1.0"));
            }
            9 => b.push_str(&format!("{m}Values=")),
            _ => b.push_str(&format!("{m}Value={}", n as f64 * 1.1)),
        }
        b.push_str(&format!(
            "{m}Unit=Percent{m}StorageResolution={}",
            if n % 2 == 0 { 1 } else { 60 }
        ));
    }
    b.push_str("&StrictEntityValidation=false");
    b
}

#[test]
fn an_agent_body_is_read_as_the_general_path_reads_it() {
    let input = agrees(&agent_body(50));
    assert_eq!(input.namespace.as_deref(), Some("CWAgent"));
    assert_eq!(input.metric_data.len(), 50);
    assert_eq!(input.strict_entity_validation, Some(false));
    let first = &input.metric_data[0];
    assert_eq!(first.dimensions[1].value, "/var/log");
    assert_eq!(first.dimensions[2].value, "a b");
    assert_eq!(first.value, Some(1.1));
    assert_eq!(first.storage_resolution, Some(60));
    assert_eq!(input.metric_data[9].counts, vec![3.0, 1.0]);
    assert!(input.metric_data[8].values.is_empty());
}

#[test]
fn an_empty_metric_data_marker_is_an_empty_list() {
    let input = agrees(&format!(
        "{PREFIX}&Namespace=ns&MetricData=&StrictEntityValidation=false"
    ));
    assert!(input.metric_data.is_empty());
    // Before or after members it changes nothing.
    let input = agrees(&format!(
        "{PREFIX}&MetricData=&MetricData.member.1.MetricName=m&MetricData=&Namespace=ns"
    ));
    assert_eq!(input.metric_data.len(), 1);
}

#[test]
fn members_are_ordered_by_index_with_gaps_and_any_arrival_order() {
    let input = agrees(&format!(
        "{PREFIX}&Namespace=ns&MetricData.member.5.MetricName=five\
         &MetricData.member.2.MetricName=two&MetricData.member.9.MetricName=nine\
         &MetricData.member.5.Value=5&MetricData.member.2.Dimensions.member.3.Name=c\
         &MetricData.member.2.Dimensions.member.1.Name=a&MetricData.member.2.Dimensions.member.3.Value=3\
         &MetricData.member.2.Values.member.7=7&MetricData.member.2.Values.member.2=2\
         &MetricData.member.2.Counts.member.4=4&MetricData.member.2.Counts.member.1=1\
         &MetricData.member.01.MetricName=one&MetricData.member.9.Dimensions.member.1="
    ));
    let names: Vec<_> = input
        .metric_data
        .iter()
        .map(|d| d.metric_name.as_deref())
        .collect();
    assert_eq!(
        names,
        [Some("one"), Some("two"), Some("five"), Some("nine")]
    );
    let two = &input.metric_data[1];
    assert_eq!(two.dimensions.len(), 2);
    assert_eq!(
        (
            two.dimensions[0].name.as_str(),
            two.dimensions[1].value.as_str()
        ),
        ("a", "3")
    );
    assert_eq!(two.values, vec![2.0, 7.0]);
    assert_eq!(two.counts, vec![1.0, 4.0]);
    // `Dimensions.member.1=` makes an empty dimension, as the general path does.
    assert_eq!(input.metric_data[3].dimensions.len(), 1);

    // Many members in reverse order (the Vec becomes a map once).
    let mut body = format!("{PREFIX}&Namespace=ns");
    for n in (1..=300).rev() {
        body.push_str(&format!("&MetricData.member.{n}.Value={n}"));
    }
    for n in 1..=300 {
        body.push_str(&format!("&MetricData.member.{n}.MetricName=m{n}"));
    }
    let input = agrees(&body);
    assert_eq!(input.metric_data.len(), 300);
    assert_eq!(input.metric_data[299].value, Some(300.0));
}

#[test]
fn statistic_sets_values_and_lenient_scalars_agree() {
    let input = agrees(&format!(
        "{PREFIX}&Namespace=ns&MetricData.member.1.MetricName=s\
         &MetricData.member.1.StatisticValues.SampleCount=2&MetricData.member.1.StatisticValues.Sum=3\
         &MetricData.member.1.StatisticValues.Minimum=1&MetricData.member.1.StatisticValues.Maximum=2\
         &MetricData.member.2.StatisticValues=&MetricData.member.3.StatisticValues=\
         &MetricData.member.3.StatisticValues.Sum=%2B1e3"
    ));
    let stats = input.metric_data[0]
        .statistic_values
        .as_ref()
        .expect("stats");
    assert_eq!((stats.sample_count, stats.maximum), (Some(2.0), Some(2.0)));
    assert!(input.metric_data[1].statistic_values.is_some());
    assert_eq!(
        input.metric_data[2]
            .statistic_values
            .as_ref()
            .and_then(|s| s.sum),
        Some(1000.0)
    );
    // Text the general path reads leniently is read the same way here.
    for (field, text) in [
        ("Value", "+1.5+"),
        ("Value", "-0"),
        ("Value", "1e-320"),
        ("Value", "97.49373433583960"),
        ("StorageResolution", "60.0"),
        ("StorageResolution", "6e1"),
        ("StorageResolution", "+1"),
        ("StorageResolution", "%2B1"),
        ("Value", "%2B1"),
        ("StorageResolution", "-9223372036854775808"),
        ("Timestamp", "1765000000.5"),
        ("Timestamp", "2026-12-07T10%3A00%3A00%2B01%3A00"),
        ("Timestamp", "2026-12-07T10%3A00%3A00"),
        ("Timestamp", "2026-12-07"),
        ("Unit", ""),
        ("MetricName", "%C3%A9+%0A"),
    ] {
        agrees(&format!(
            "{PREFIX}&Namespace=ns&MetricData.member.1.{field}={text}"
        ));
    }
    for text in ["TRUE", "+false+", "True"] {
        agrees(&format!(
            "{PREFIX}&Namespace=ns&StrictEntityValidation={text}"
        ));
    }
}

#[test]
fn routing_is_the_general_paths() {
    let rest = "Namespace=ns&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1";
    // Unsigned, and without a Version: still CloudWatch's PutMetricData.
    let unsigned = RequestHead {
        scope_service: None,
        ..FORM
    };
    agrees_at(&unsigned, &format!("Action=PutMetricData&{rest}"));
    // Action and Version in the URL, the rest in the body; a later Action wins.
    let in_url = RequestHead {
        query: "Action=ListMetrics&Version=2010-08-01",
        ..FORM
    };
    agrees_at(&in_url, &format!("Action=PutMetricData&{rest}"));
    assert!(direct_at(&in_url, rest).is_none());
    // A GET reads the URL only.
    let get_query = format!("{PREFIX}&{rest}");
    let get = RequestHead {
        method: "GET",
        query: &get_query,
        content_type: None,
        ..FORM
    };
    let input = agrees_at(&get, "Namespace=ignored");
    assert_eq!(input.namespace.as_deref(), Some("ns"));

    // Other services, scopes, versions, actions and protocols are declined.
    let body = format!("{PREFIX}&{rest}");
    for head in [
        RequestHead {
            scope_service: Some("sns"),
            ..FORM
        },
        RequestHead {
            scope_service: Some("s3"),
            ..FORM
        },
        RequestHead {
            content_type: Some("application/x-amz-json-1.0"),
            ..FORM
        },
        RequestHead {
            path: "/service/GraniteServiceVersion20100801/operation/PutMetricData",
            ..FORM
        },
    ] {
        assert!(direct_at(&head, &body).is_none(), "{head:?}");
    }
    for body in [
        format!("Action=PutMetricData&Version=2010-03-31&{rest}"),
        format!("Action=PutMetricData&Version=2010-08-02&{rest}"),
        format!("Action=PutMetricData&Version=&{rest}"),
        format!("Action=ListMetrics&Version=2010-08-01&{rest}"),
        format!("Version=2010-08-01&{rest}"),
        format!("Action=putmetricdata&{rest}"),
    ] {
        assert!(direct_at(&FORM, &body).is_none(), "{body}");
    }
    let unsigned_sns = RequestHead {
        scope_service: Some("sns"),
        ..unsigned
    };
    assert!(direct_at(&unsigned_sns, &format!("Action=PutMetricData&{rest}")).is_none());
}

#[test]
fn anything_unusual_is_left_to_the_general_path() {
    let deep = format!("MetricData.member.1{}=1", ".X".repeat(40));
    for tail in [
        // Unknown members, entities.
        "Foo=1",
        "MetricData.member.1.Foo=1",
        "MetricData.member.1.StatisticValues.Average=1",
        "MetricData.member.1.Dimensions.member.1.Extra=1",
        "EntityMetricData=",
        "EntityMetricData.member.1.Entity.KeyAttributes.entry.1.key=Type",
        "=x",
        "MetricData.member.1.=x",
        "MetricData.member.1..Value=1",
        "MetricData.entry.1.MetricName=m",
        &deep,
        // Scalars from_document refuses.
        "MetricData.member.1.Value=NaN",
        "MetricData.member.1.Value=Infinity",
        "MetricData.member.1.Value=1e400",
        "MetricData.member.1.Value=0x10",
        "MetricData.member.1.Value=",
        "MetricData.member.1.Value=1,5",
        "MetricData.member.1.Values.member.1=",
        "MetricData.member.1.Counts.member.1=x",
        "MetricData.member.1.StatisticValues.Sum=nan",
        "MetricData.member.1.StorageResolution=1.5",
        "MetricData.member.1.StorageResolution=9223372036854775808",
        "MetricData.member.1.StorageResolution=",
        "MetricData.member.1.Timestamp=nope",
        "MetricData.member.1.Timestamp=",
        "MetricData.member.1.Timestamp=1e14",
        "StrictEntityValidation=yes",
        "StrictEntityValidation=",
        // Repeated keys (the general path lets the later one win).
        "MetricData.member.1.MetricName=a&MetricData.member.1.MetricName=b",
        "MetricData.member.1.MetricName=a&MetricData.member.01.MetricName=a",
        "MetricData.member.1.Values.member.1=1&MetricData.member.1.Values.member.1=1",
        "MetricData.member.1.Dimensions.member.1.Name=a&MetricData.member.1.Dimensions.member.1.Name=b",
        "MetricData.member.1.StatisticValues.Sum=1&MetricData.member.1.StatisticValues.Sum=1",
        "Namespace=other",
        // Bad indices.
        "MetricData.member.0.MetricName=m",
        "MetricData.member.100001.MetricName=m",
        "MetricData.member.%2B1.MetricName=m",
        "MetricData.member.-1.MetricName=m",
        "MetricData.member.x.MetricName=m",
        "MetricData.member.1.Values.member.0=1",
        "MetricData.member..MetricName=m",
        "MetricData.member=1",
        // Conflicting shapes.
        "MetricData=x",
        "MetricData.member.1=x",
        "MetricData.member.1.Value.Sum=1",
        "MetricData.member.1.MetricName.x=1",
        "MetricData.member.1.Dimensions=x",
        "MetricData.member.1.Values=1",
        "MetricData.member.1.StatisticValues=1",
        "MetricData.member.1.Dimensions.member.1=x",
    ] {
        let body = format!("{PREFIX}&Namespace=ns&{tail}");
        assert!(direct_at(&FORM, &body).is_none(), "took {body}");
    }
}

/// Text for each kind of leaf: valid ones (the first list) and ones the
/// general path refuses or reads leniently.
fn float_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| format!("{f:?}")),
        any::<i32>().prop_map(|i| i.to_string()),
        Just("1e3".to_owned()),
        Just(" 2.5 ".to_owned()),
    ]
}

fn int_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("1".to_owned()),
        Just("60".to_owned()),
        Just("60.0".to_owned()),
        any::<i64>().prop_map(|i| i.to_string()),
    ]
}

fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0i64..4_000_000_000_000).prop_map(|ms| stratus_model::Timestamp(ms).to_iso8601()),
        (0u32..2_000_000_000).prop_map(|s| s.to_string()),
        Just("2026-12-07T10:00:00+02:00".to_owned()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9_/:. +%&=-]{0,12}", "\\PC{0,6}",]
}

/// The pairs of one well-formed datum, without its `MetricData.member.N.`.
fn datum_pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    let scalar = prop_oneof![
        text().prop_map(|v| vec![("MetricName".to_owned(), v)]),
        float_text().prop_map(|v| vec![("Value".to_owned(), v)]),
        time_text().prop_map(|v| vec![("Timestamp".to_owned(), v)]),
        text().prop_map(|v| vec![("Unit".to_owned(), v)]),
        int_text().prop_map(|v| vec![("StorageResolution".to_owned(), v)]),
    ];
    let dims = prop::collection::btree_map(1u32..12, (text(), text()), 0..4).prop_map(|m| {
        let mut pairs = vec![("Dimensions".to_owned(), String::new())];
        for (i, (name, value)) in m {
            pairs.push((format!("Dimensions.member.{i}.Name"), name));
            pairs.push((format!("Dimensions.member.{i}.Value"), value));
        }
        pairs
    });
    let list = |name: &'static str| {
        prop::collection::btree_map(1u32..40, float_text(), 0..5).prop_map(move |m| {
            let mut pairs = vec![(name.to_owned(), String::new())];
            pairs.extend(
                m.into_iter()
                    .map(|(i, v)| (format!("{name}.member.{i}"), v)),
            );
            pairs
        })
    };
    let stats = prop::collection::btree_map(
        prop::sample::select(vec!["SampleCount", "Sum", "Minimum", "Maximum"]),
        float_text(),
        0..4,
    )
    .prop_map(|m| {
        let mut pairs = vec![("StatisticValues".to_owned(), String::new())];
        pairs.extend(
            m.into_iter()
                .map(|(k, v)| (format!("StatisticValues.{k}"), v)),
        );
        pairs
    });
    // Each field group at most once; drop the empty markers at random.
    (
        prop::collection::vec(scalar, 0..5),
        prop::option::of(dims),
        prop::option::of(list("Values")),
        prop::option::of(list("Counts")),
        prop::option::of(stats),
        any::<u8>(),
    )
        .prop_map(|(scalars, dims, values, counts, stats, keep_markers)| {
            let mut seen = std::collections::HashSet::new();
            let mut pairs: Vec<(String, String)> = scalars
                .into_iter()
                .flatten()
                .filter(|(k, _)| seen.insert(k.clone()))
                .collect();
            for (bit, group) in [dims, values, counts, stats].into_iter().enumerate() {
                for (k, v) in group.into_iter().flatten() {
                    let marker = !k.contains('.');
                    if !marker || keep_markers & (1 << bit) != 0 {
                        pairs.push((k, v));
                    }
                }
            }
            pairs
        })
}

/// A well-formed PutMetricData form, its pairs in random order.
fn well_formed_form() -> impl Strategy<Value = String> {
    (
        prop::option::of(text()),
        prop::collection::btree_map(1u32..60, datum_pairs(), 0..6),
        prop::option::of(prop::sample::select(vec!["true", "false", "TRUE"])),
        any::<bool>(),
    )
        .prop_map(|(namespace, datums, strict, marker)| {
            let mut pairs: Vec<(String, String)> = Vec::new();
            if let Some(ns) = namespace {
                pairs.push(("Namespace".into(), ns));
            }
            if marker {
                pairs.push(("MetricData".into(), String::new()));
            }
            if let Some(s) = strict {
                pairs.push(("StrictEntityValidation".into(), s.into()));
            }
            for (n, fields) in datums {
                if fields.is_empty() {
                    pairs.push((format!("MetricData.member.{n}.MetricName"), "m".into()));
                }
                for (k, v) in fields {
                    pairs.push((format!("MetricData.member.{n}.{k}"), v));
                }
            }
            pairs
        })
        .prop_shuffle()
        .prop_map(|pairs| {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("Action", "PutMetricData");
            form.append_pair("Version", "2010-08-01");
            for (k, v) in &pairs {
                form.append_pair(k, v);
            }
            form.finish()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// A well-formed form is taken, and read as the general path reads it.
    #[test]
    fn well_formed_forms_agree(form in well_formed_form()) {
        let general = general_at(&FORM, &form);
        prop_assert!(general.is_some(), "the general path refused {}", form);
        let direct = direct_at(&FORM, &form).map(|d| format!("{d:?}"));
        prop_assert_eq!(direct, general);
    }

    /// Random edits of a well-formed form: whatever is taken agrees.
    #[test]
    fn edited_forms_agree_or_are_declined(
        form in well_formed_form(),
        cut in any::<prop::sample::Index>(),
        junk in prop_oneof![
            "[.=&%a-zA-Z0-9+]{0,8}",
            Just("&MetricData.member.1.Value=1".to_owned()),
            Just("&MetricData=".to_owned()),
            Just(".member.1".to_owned()),
        ],
    ) {
        let at = cut.index(form.len() + 1);
        let edited = format!("{}{}{}", &form[..at], junk, &form[at..]);
        stratus_proto::fuzzing::query_direct_equals_general(&FORM, edited.as_bytes());
    }
}
