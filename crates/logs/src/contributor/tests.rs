use super::*;
use rule::{AggregateOn, FieldRef, LogFormat, PathSeg};

const CLF_RULE: &str = r#"{"Schema":{"Name":"CloudWatchLogRule","Version":1},
 "LogGroupNames":["API-Gateway-Access-Logs*"],"LogFormat":"CLF",
 "Fields":{"1":"IpAddress","6":"StatusCode","7":"Bytes"},
 "Contribution":{"Keys":["IpAddress"],"Filters":[{"Match":"StatusCode","EqualTo":200}]},
 "AggregateOn":"Count"}"#;

fn json_rule(contribution: &str, aggregate: &str) -> String {
    format!(
        r#"{{"Schema":{{"Name":"CloudWatchLogRule","Version":1}},"LogGroupNames":["app"],
        "LogFormat":"JSON","Contribution":{contribution},"AggregateOn":"{aggregate}"}}"#
    )
}

fn err(def: &str) -> String {
    Rule::parse(def).unwrap_err().to_string()
}

#[test]
fn parses_clf_rule() {
    let r = Rule::parse(CLF_RULE).unwrap();
    assert_eq!(r.format, LogFormat::Clf);
    assert_eq!(r.keys, vec![FieldRef::Clf(1)]);
    assert_eq!(r.key_labels, vec!["IpAddress"]);
    assert_eq!(r.aggregate_on, AggregateOn::Count);
    assert!(r.reads_group("API-Gateway-Access-Logs-prod"));
    assert!(!r.reads_group("other"));
}

#[test]
fn clf_observation_and_filter() {
    let r = Rule::parse(CLF_RULE).unwrap();
    let ok = r#"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 200 2326"#;
    let not_found = r#"10.0.0.2 - - [10/Oct/2000:13:55:36 -0700] "GET / HTTP/1.0" 404 12"#;
    assert_eq!(
        r.observe(ok),
        Some(Observation {
            keys: vec!["10.0.0.1".into()],
            value: 1.0
        })
    );
    assert_eq!(r.observe(not_found), None);
}

#[test]
fn json_paths_and_sum() {
    let def = json_rule(
        r#"{"Keys":["$.user.name","$.items[1]"],"ValueOf":"$.bytes","Filters":[{"Match":"$.method","In":["GET","PUT"]},{"Match":"$.bytes","GreaterThan":10}]}"#,
        "Sum",
    );
    let r = Rule::parse(&def).unwrap();
    assert_eq!(
        r.keys[0],
        FieldRef::Json(vec![
            PathSeg::Key("user".into()),
            PathSeg::Key("name".into())
        ])
    );
    let ev = r#"{"user":{"name":"ann"},"items":["a",7],"bytes":25,"method":"GET"}"#;
    assert_eq!(
        r.observe(ev),
        Some(Observation {
            keys: vec!["ann".into(), "7".into()],
            value: 25.0
        })
    );
    // Filtered out: method, bytes too small; a key missing; not JSON.
    assert_eq!(r.observe(&ev.replace("GET", "POST")), None);
    assert_eq!(r.observe(&ev.replace("25", "5")), None);
    assert_eq!(
        r.observe(r#"{"user":{},"items":["a",7],"bytes":25,"method":"GET"}"#),
        None
    );
    assert_eq!(r.observe("not json"), None);
}

#[test]
fn conditions() {
    let rule = |f: &str| {
        Rule::parse(&json_rule(
            &format!(r#"{{"Keys":["$.k"],"Filters":[{f}]}}"#),
            "Count",
        ))
        .unwrap()
    };
    let hit = |r: &Rule, ev: &str| r.observe(ev).is_some();
    let r = rule(r#"{"Match":"$.p","StartsWith":["/api","/v2"]}"#);
    assert!(hit(&r, r#"{"k":1,"p":"/api/x"}"#));
    assert!(!hit(&r, r#"{"k":1,"p":"/web"}"#));
    let r = rule(r#"{"Match":"$.p","IsPresent":false}"#);
    assert!(hit(&r, r#"{"k":1}"#));
    assert!(!hit(&r, r#"{"k":1,"p":2}"#));
    let r = rule(r#"{"Match":"$.s","NotIn":[500,"x"]}"#);
    assert!(hit(&r, r#"{"k":1,"s":200}"#));
    assert!(!hit(&r, r#"{"k":1,"s":500}"#));
    assert!(!hit(&r, r#"{"k":1}"#), "absent fails NotIn");
    let r = rule(r#"{"Match":"$.s","LessThan":300,"NotEqualTo":204}"#);
    assert!(hit(&r, r#"{"k":1,"s":"200"}"#));
    assert!(!hit(&r, r#"{"k":1,"s":204}"#));
    assert!(!hit(&r, r#"{"k":1,"s":301}"#));
}

#[test]
fn refuses_bad_definitions() {
    assert!(err("{").contains("not a valid JSON object"));
    assert!(err("[]").contains("not a valid JSON object"));
    assert!(err(&CLF_RULE.replace("CloudWatchLogRule", "Other")).contains("Schema must be"));
    assert!(err(&CLF_RULE.replace("\"CLF\"", "\"XML\"")).contains("LogFormat \"XML\""));
    assert!(err(&CLF_RULE.replace("\"Count\"", "\"Avg\"")).contains("AggregateOn \"Avg\""));
    assert!(err(&CLF_RULE.replace("\"Count\"", "\"Sum\"")).contains("ValueOf is required"));
    assert!(
        err(&CLF_RULE.replace("[\"IpAddress\"]", "[\"Nope\"]"))
            .contains("not one of the names in Fields")
    );
    assert!(err(&CLF_RULE.replace("[\"IpAddress\"]", "[]")).contains("1 to 4 keys"));
    assert!(
        err(&CLF_RULE.replace("[\"API-Gateway-Access-Logs*\"]", "[]"))
            .contains("LogGroupNames or LogGroupARNs")
    );
    assert!(err(&CLF_RULE.replace("Access-Logs*", "Ac*cess")).contains("* only as the last"));
    assert!(
        err(&CLF_RULE.replace("\"EqualTo\":200", "\"Equals\":200"))
            .contains("unknown member \"Equals\"")
    );
    assert!(
        err(&CLF_RULE.replace("\"EqualTo\":200", "\"GreaterThan\":\"x\""))
            .contains("must be a number")
    );
    assert!(
        err(&CLF_RULE.replace("\"AggregateOn\"", "\"Extra\":1,\"AggregateOn\""))
            .contains("unknown member \"Extra\"")
    );
    assert!(err(&json_rule(r#"{"Keys":["user"]}"#, "Count")).contains("not a JSON path"));
    assert!(err(&json_rule(r#"{"Keys":["$.a[x]"]}"#, "Count")).contains("not a JSON path"));
    assert!(
        err(&json_rule(
            r#"{"Keys":["$.a","$.b","$.c","$.d","$.e"]}"#,
            "Count"
        ))
        .contains("1 to 4 keys")
    );
    let long = format!("{}{}", CLF_RULE, " ".repeat(8200));
    assert!(err(&long).contains("limit is 8192"));
}

#[test]
fn log_group_arns() {
    let def = CLF_RULE.replace(
        r#""LogGroupNames":["API-Gateway-Access-Logs*"]"#,
        r#""LogGroupARNs":["arn:aws:logs:us-east-1:000000000000:log-group:web:*"]"#,
    );
    let r = Rule::parse(&def).unwrap();
    assert!(r.reads_group("web"));
    assert!(!r.reads_group("web2"));
    assert!(err(&def.replace("arn:aws:logs", "arn:aws:s3")).contains("not a log group ARN"));
}

#[test]
fn report_periods_contributors_and_order() {
    let obs = |k: &str, v: f64| Observation {
        keys: vec![k.to_string()],
        value: v,
    };
    // Range [30s, 150s), 60s periods → periods at 0, 60, 120.
    let mut acc = Accumulator::new(30_000, 150_000, 60_000);
    acc.add(10_000, obs("early", 100.0)); // before the range: ignored
    acc.add(30_000, obs("a", 1.0));
    acc.add(40_000, obs("a", 2.0));
    acc.add(50_000, obs("b", 10.0));
    acc.add(70_000, obs("a", 4.0));
    acc.add(130_000, obs("c", 6.0));
    acc.add(150_000, obs("late", 100.0)); // end is exclusive
    assert_eq!(acc.contributors_seen(), 3);
    let r = acc.finish(10, OrderBy::Sum);
    assert_eq!(r.aggregate_value, 23.0);
    assert_eq!(r.unique_count, 3);
    let starts: Vec<i64> = r.periods.iter().map(|p| p.start_ms).collect();
    assert_eq!(starts, vec![0, 60_000, 120_000]);
    let p0 = &r.periods[0];
    assert_eq!(
        (
            p0.unique_contributors,
            p0.max_contributor_value,
            p0.sample_count,
            p0.sum
        ),
        (2, 10.0, 3, 13.0)
    );
    assert_eq!((p0.minimum, p0.maximum), (Some(1.0), Some(10.0)));
    assert_eq!(p0.metric("Average"), Some(13.0 / 3.0));
    let keys: Vec<&str> = r.contributors.iter().map(|c| c.keys[0].as_str()).collect();
    assert_eq!(keys, vec!["b", "a", "c"]);
    assert_eq!(r.contributors[1].value, 7.0);
    assert_eq!(r.contributors[1].datapoints, vec![(0, 3.0), (60_000, 4.0)]);

    let mut acc = Accumulator::new(0, 180_000, 60_000);
    for (t, k, v) in [
        (0, "a", 5.0),
        (60_000, "a", 5.0),
        (70_000, "b", 8.0),
        (120_000, "c", 1.0),
    ] {
        acc.add(t, obs(k, v));
    }
    let r = acc.finish(2, OrderBy::Maximum);
    let ranked: Vec<(&str, f64)> = r
        .contributors
        .iter()
        .map(|c| (c.keys[0].as_str(), c.value))
        .collect();
    assert_eq!(ranked, vec![("b", 8.0), ("a", 5.0)]);
    assert_eq!(r.unique_count, 3);
    assert_eq!(r.periods[2].metric("Minimum"), Some(1.0));
    let empty = Accumulator::new(0, 60_000, 60_000).finish(10, OrderBy::Sum);
    assert_eq!(empty.periods[0].metric("Minimum"), None);
    assert_eq!(empty.periods[0].metric("UniqueContributors"), Some(0.0));
}

#[test]
fn fuzz_harness_runs_on_examples() {
    fuzz_rule(CLF_RULE.as_bytes());
    fuzz_rule(json_rule(r#"{"Keys":["$.ip"],"ValueOf":"$.bytes"}"#, "Sum").as_bytes());
    fuzz_rule(b"\xff");
}

proptest::proptest! {
    #[test]
    fn parse_is_total(s in ".{0,300}") {
        let _ = Rule::parse(&s);
    }

    /// Near-valid definitions (a slice of a valid one replaced) parse or
    /// fail cleanly, and whatever parses evaluates any event.
    #[test]
    fn mutated_definitions_are_total(pos in 0usize..320, len in 0usize..8, ins in ".{0,8}", msg in ".{0,80}") {
        let mut def = CLF_RULE.to_string();
        let start = pos.min(def.len());
        let end = (start + len).min(def.len());
        def.replace_range(start..end, &ins);
        if let Ok(r) = Rule::parse(&def) {
            let _ = r.observe(&msg);
            let _ = r.reads_group(&msg);
        }
    }

    #[test]
    fn observe_is_total(msg in ".{0,200}") {
        let r = Rule::parse(CLF_RULE).unwrap();
        let _ = r.observe(&msg);
        let j = Rule::parse(&json_rule(r#"{"Keys":["$.a[0].b"],"ValueOf":"$.v"}"#, "Sum")).unwrap();
        let _ = j.observe(&msg);
    }
}
