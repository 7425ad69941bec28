//! Golden wire shapes from aws-api.md §4.2 (captured requests) and §4.3
//! (responses and error envelopes).

use serde::Serialize;
use stratus_model::ops::list_metrics::ListMetricsOutput;
use stratus_model::ops::put_metric_data::PutMetricDataInput;
use stratus_model::{ApiError, Dimension, ErrorCode, Metric, Timestamp};
use stratus_proto::{
    Document, Protocol, RequestHead, Service, decode_cbor, decode_json, decode_request,
    decode_xml_response, encode_cbor, encode_error, encode_response, from_document, query_result,
    sniff, to_document,
};

const JSON_PUT: &str = r#"{"Namespace": "CWAgent", "MetricData": [{"MetricName": "disk_used_percent", "Dimensions": [{"Name": "path", "Value": "/"}], "Timestamp": 1767323045, "Value": 51.5, "Unit": "Percent", "StorageResolution": 60}, {"MetricName": "m2", "Values": [1.0, 2.0], "Counts": [3.0, 1.0]}, {"MetricName": "m3", "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 1, "Maximum": 2}}]}"#;

const QUERY_PUT: &str = "Action=PutMetricData&Version=2010-08-01&Namespace=CWAgent&MetricData.member.1.MetricName=disk_used_percent&MetricData.member.1.Dimensions.member.1.Name=path&MetricData.member.1.Dimensions.member.1.Value=%2F&MetricData.member.1.Timestamp=2026-01-02T03%3A04%3A05Z&MetricData.member.1.Value=51.5&MetricData.member.1.Unit=Percent&MetricData.member.1.StorageResolution=60&MetricData.member.2.MetricName=m2&MetricData.member.2.Values.member.1=1.0&MetricData.member.2.Values.member.2=2.0&MetricData.member.2.Counts.member.1=3.0&MetricData.member.2.Counts.member.2=1.0&MetricData.member.3.MetricName=m3&MetricData.member.3.StatisticValues.SampleCount=2&MetricData.member.3.StatisticValues.Sum=3&MetricData.member.3.StatisticValues.Minimum=1&MetricData.member.3.StatisticValues.Maximum=2";

fn json_head() -> RequestHead<'static> {
    RequestHead {
        method: "POST",
        path: "/",
        content_type: Some("application/x-amz-json-1.0"),
        target: Some("GraniteServiceVersion20100801.PutMetricData"),
        query_mode: true,
        scope_service: Some("monitoring"),
        ..RequestHead::default()
    }
}

fn cbor_head(op: &'static str) -> RequestHead<'static> {
    RequestHead {
        method: "POST",
        path: op,
        content_type: Some("application/cbor"),
        smithy_protocol: Some("rpc-v2-cbor"),
        query_mode: true,
        scope_service: Some("monitoring"),
        ..RequestHead::default()
    }
}

fn query_head(scope: Option<&'static str>) -> RequestHead<'static> {
    RequestHead {
        method: "POST",
        path: "/",
        content_type: Some("application/x-www-form-urlencoded; charset=utf-8"),
        scope_service: scope,
        ..RequestHead::default()
    }
}

/// The three datums of the captured request, whatever protocol carried them.
fn assert_captured_put(input: &PutMetricDataInput, first_timestamp: Timestamp) {
    assert_eq!(input.namespace.as_deref(), Some("CWAgent"));
    assert_eq!(input.metric_data.len(), 3);
    let d1 = &input.metric_data[0];
    assert_eq!(d1.metric_name.as_deref(), Some("disk_used_percent"));
    assert_eq!(d1.dimensions, vec![Dimension::new("path", "/")]);
    assert_eq!(d1.timestamp, Some(first_timestamp));
    assert_eq!(d1.value, Some(51.5));
    assert_eq!(d1.unit.as_deref(), Some("Percent"));
    assert_eq!(d1.storage_resolution, Some(60));
    let d2 = &input.metric_data[1];
    assert_eq!(d2.values, vec![1.0, 2.0]);
    assert_eq!(d2.counts, vec![3.0, 1.0]);
    let stats = input.metric_data[2]
        .statistic_values
        .as_ref()
        .expect("statistic values");
    assert_eq!(
        (stats.sample_count, stats.sum, stats.minimum, stats.maximum),
        (Some(2.0), Some(3.0), Some(1.0), Some(2.0))
    );
}

#[test]
fn captured_json_request_decodes() {
    let head = json_head();
    assert_eq!(sniff(&head), Protocol::Json);
    let req = decode_request(&head, JSON_PUT.as_bytes()).expect("decodes");
    assert_eq!(
        (req.service, req.protocol, req.action.as_str()),
        (Service::CloudWatch, Protocol::Json, "PutMetricData")
    );
    let input: PutMetricDataInput = from_document(req.params).expect("typed");
    assert_captured_put(&input, Timestamp(1_767_323_045_000));
}

#[test]
fn captured_cbor_request_decodes() {
    // The captured request's CBOR: the JSON members, ints as CBOR ints,
    // doubles as float64, the timestamp as tag 1 + integer seconds.
    let mut doc = decode_json(JSON_PUT.as_bytes()).expect("json");
    if let Document::Map(members) = &mut doc
        && let Some((_, Document::List(data))) = members.iter_mut().find(|(k, _)| k == "MetricData")
        && let Some(Document::Map(d1)) = data.first_mut()
        && let Some((_, ts)) = d1.iter_mut().find(|(k, _)| k == "Timestamp")
    {
        *ts = Document::Timestamp(Timestamp(1_767_323_045_000));
    }
    let mut body = encode_cbor(&doc);
    // Our encoder writes tag 1 + float64; AWS clients may send tag 1 + int. Patch
    // the first `c1 fb <8 bytes>` into `c1 1a <4 bytes>`.
    let at = body
        .windows(2)
        .position(|w| w == [0xc1, 0xfb])
        .expect("tag 1");
    let mut int_ts = vec![0xc1, 0x1a];
    int_ts.extend_from_slice(&1_767_323_045u32.to_be_bytes());
    body.splice(at..at + 10, int_ts);
    assert!(
        body.windows(3).any(|w| w == [0x19, 0x00, 0x3c])
            || body.windows(2).any(|w| w == [0x18, 0x3c])
    );

    let head = cbor_head("/service/GraniteServiceVersion20100801/operation/PutMetricData");
    assert_eq!(sniff(&head), Protocol::Cbor);
    let req = decode_request(&head, &body).expect("decodes");
    assert_eq!(
        (req.service, req.protocol, req.action.as_str()),
        (Service::CloudWatch, Protocol::Cbor, "PutMetricData")
    );
    let input: PutMetricDataInput = from_document(req.params).expect("typed");
    assert_captured_put(&input, Timestamp(1_767_323_045_000));
}

#[test]
fn captured_query_request_decodes_plain_and_gzip_inflated() {
    let req = decode_request(&query_head(None), QUERY_PUT.as_bytes()).expect("decodes");
    assert_eq!(
        (req.service, req.protocol, req.action.as_str()),
        (Service::CloudWatch, Protocol::Query, "PutMetricData")
    );
    let input: PutMetricDataInput = from_document(req.params).expect("typed");
    let ts = Timestamp::parse("2026-01-02T03:04:05Z").expect("iso");
    assert_captured_put(&input, ts);

    use flate2::{Compression, write::GzEncoder};
    use std::io::Write;
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(QUERY_PUT.as_bytes()).expect("gzip");
    let gz = enc.finish().expect("gzip");
    let body = stratus_proto::inflate_gzip(&gz, 1 << 20).expect("inflates");
    assert!(decode_request(&query_head(Some("monitoring")), &body).is_ok());
}

#[test]
fn captured_sns_requests_route_to_sns() {
    let forms = [
        "Action=CreateTopic&Version=2010-03-31&Name=alerts&Attributes.entry.1.key=DisplayName&Attributes.entry.1.value=Alerts&Tags.member.1.Key=k&Tags.member.1.Value=v",
        "Action=Subscribe&Version=2010-03-31&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aalerts&Protocol=email&Endpoint=ops%40example.com&ReturnSubscriptionArn=true&Attributes.entry.1.key=RawMessageDelivery&Attributes.entry.1.value=false",
        "Action=Publish&Version=2010-03-31&TopicArn=t&Message=m&Subject=s&MessageAttributes.entry.1.Name=a&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=x&MessageAttributes.entry.2.Name=b&MessageAttributes.entry.2.Value.DataType=Binary&MessageAttributes.entry.2.Value.BinaryValue=AAE%3D",
        "Action=ConfirmSubscription&Version=2010-03-31&TopicArn=t&Token=abc&AuthenticateOnUnsubscribe=true",
    ];
    for form in forms {
        let req = decode_request(&query_head(Some("sns")), form.as_bytes()).expect(form);
        assert_eq!(req.service, Service::Sns, "{form}");
    }
    let req = decode_request(&query_head(None), forms[1].as_bytes()).expect("subscribe");
    assert_eq!(
        req.params.get("Endpoint").and_then(Document::as_str),
        Some("ops@example.com")
    );
    assert_eq!(
        req.params.get("Attributes"),
        Some(&Document::Map(vec![(
            "RawMessageDelivery".into(),
            Document::String("false".into())
        )]))
    );
}

#[test]
fn routing_rules() {
    // Colliding action names: Version decides, else the SigV4 scope.
    let tag = "Action=TagResource&ResourceARN=x";
    let sns = decode_request(&query_head(Some("sns")), tag.as_bytes()).expect("sns");
    assert_eq!(sns.service, Service::Sns);
    let cw = decode_request(&query_head(Some("monitoring")), tag.as_bytes()).expect("cw");
    assert_eq!(cw.service, Service::CloudWatch);
    // Version and scope must agree.
    let err = decode_request(
        &query_head(Some("sns")),
        b"Action=TagResource&Version=2010-08-01",
    )
    .expect_err("scope clash");
    assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch);
    // A credential scoped to any other service is refused, in every protocol.
    for scope in ["s3", "iam", "logs", "stratus"] {
        for (head, body) in [
            (
                query_head(Some(scope)),
                "Action=ListMetrics&Version=2010-08-01",
            ),
            (query_head(Some(scope)), "Action=ListTopics"),
            (
                query_head(Some(scope)),
                "Action=ListTopics&Version=2010-03-31",
            ),
            (
                RequestHead {
                    scope_service: Some(scope),
                    ..json_head()
                },
                "{}",
            ),
        ] {
            let err = decode_request(&head, body.as_bytes()).expect_err(scope);
            assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch, "{scope} {body}");
            assert!(err.message.contains("scoped to correct service"), "{err:?}");
        }
        let cbor = RequestHead {
            scope_service: Some(scope),
            ..cbor_head("/service/GraniteServiceVersion20100801/operation/ListMetrics")
        };
        let err = decode_request(&cbor, &[0xa0]).expect_err(scope);
        assert_eq!(err.code, ErrorCode::SignatureDoesNotMatch, "{scope} cbor");
    }
    // Unsigned confirmation link: GET, no Version, no scope.
    let head = RequestHead {
        method: "GET",
        path: "/",
        query: "Action=ConfirmSubscription&TopicArn=t&Token=abc",
        ..RequestHead::default()
    };
    let req = decode_request(&head, b"").expect("get");
    assert_eq!(
        (req.service, req.action.as_str()),
        (Service::Sns, "ConfirmSubscription")
    );
    // No Action.
    let err = decode_request(&query_head(None), b"Version=2010-08-01").expect_err("no action");
    assert_eq!(err.code, ErrorCode::MissingParameter);
    assert!(err.message.contains("Action"));
    // Unknown version.
    let err =
        decode_request(&query_head(None), b"Action=X&Version=2099-01-01").expect_err("version");
    assert_eq!(err.code, ErrorCode::InvalidParameterValue);
    // CloudWatch Logs' target routes to Logs (awsJson1_1).
    let head = RequestHead {
        target: Some("Logs_20140328.PutLogEvents"),
        content_type: Some("application/x-amz-json-1.1"),
        scope_service: Some("logs"),
        ..json_head()
    };
    let req = decode_request(&head, b"{}").expect("logs");
    assert_eq!(
        (req.service, req.protocol, req.action.as_str()),
        (Service::Logs, Protocol::Json, "PutLogEvents")
    );
    // ... and a `logs` credential cannot address CloudWatch.
    let head = RequestHead {
        scope_service: Some("logs"),
        ..json_head()
    };
    assert_eq!(
        decode_request(&head, b"{}").expect_err("scope").code,
        ErrorCode::SignatureDoesNotMatch
    );
    // Unknown JSON target, unknown CBOR path, CBOR with X-Amz-Target.
    let head = RequestHead {
        target: Some("Kinesis_20131202.PutRecord"),
        ..json_head()
    };
    assert_eq!(
        decode_request(&head, b"{}").expect_err("target").code,
        ErrorCode::InvalidAction
    );
    let head = cbor_head("/service/Other/operation/PutMetricData");
    assert_eq!(
        decode_request(&head, &[0xa0]).expect_err("path").code,
        ErrorCode::InvalidAction
    );
    let head = RequestHead {
        target: Some("GraniteServiceVersion20100801.PutMetricData"),
        ..cbor_head("/service/GraniteServiceVersion20100801/operation/PutMetricData")
    };
    assert!(decode_request(&head, &[0xa0]).is_err());
    // Bad bodies.
    assert_eq!(
        decode_request(&json_head(), b"{").expect_err("json").code,
        ErrorCode::MalformedInput
    );
    assert_eq!(
        decode_request(&json_head(), b"[]").expect_err("array").code,
        ErrorCode::MalformedInput
    );
    let head = cbor_head("/service/GraniteServiceVersion20100801/operation/ListMetrics");
    assert_eq!(
        decode_request(&head, &[0xa1]).expect_err("cbor").code,
        ErrorCode::MalformedInput
    );
    // Empty inputs.
    assert_eq!(
        decode_request(&head, b"").expect("empty").params,
        Document::Map(vec![])
    );
    assert_eq!(
        decode_request(&head, &[0xa0]).expect("a0").params,
        Document::Map(vec![])
    );
    assert_eq!(
        decode_request(&json_head(), b"{}").expect("{}").params,
        Document::Map(vec![])
    );
}

fn list_metrics_output() -> ListMetricsOutput {
    ListMetricsOutput {
        metrics: vec![Metric {
            namespace: Some("CWAgent".into()),
            metric_name: Some("disk_used_percent".into()),
            dimensions: vec![Dimension::new("path", "/")],
        }],
        next_token: Some("t<1>&".into()),
        owning_accounts: None,
    }
}

#[test]
fn query_success_shape() {
    let out = to_document(&list_metrics_output());
    let resp = encode_response(
        Service::CloudWatch,
        Protocol::Query,
        "ListMetrics",
        &out,
        "rid-1",
    );
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("text/xml"));
    assert_eq!(resp.header("x-amzn-requestid"), Some("rid-1"));
    let body = String::from_utf8(resp.body).expect("utf8");
    assert_eq!(
        body,
        "<ListMetricsResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
         <ListMetricsResult><Metrics><member><Namespace>CWAgent</Namespace>\
         <MetricName>disk_used_percent</MetricName><Dimensions><member><Name>path</Name>\
         <Value>/</Value></member></Dimensions></member></Metrics>\
         <NextToken>t&lt;1&gt;&amp;</NextToken></ListMetricsResult>\
         <ResponseMetadata><RequestId>rid-1</RequestId></ResponseMetadata></ListMetricsResponse>"
    );
    // And our client reads it back.
    let doc = decode_xml_response(body.as_bytes()).expect("parses");
    let result = query_result(&doc, "ListMetrics").expect("result");
    assert_eq!(
        result.get("NextToken").and_then(Document::as_str),
        Some("t<1>&")
    );
    let metrics = result
        .get("Metrics")
        .and_then(Document::as_list)
        .expect("list");
    assert_eq!(
        metrics[0].get("MetricName").and_then(Document::as_str),
        Some("disk_used_percent")
    );
}

#[test]
fn query_empty_output_and_sns_maps_and_timestamps() {
    let resp = encode_response(
        Service::CloudWatch,
        Protocol::Query,
        "PutMetricData",
        &Document::Null,
        "r",
    );
    assert_eq!(
        String::from_utf8_lossy(&resp.body),
        "<PutMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\">\
         <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></PutMetricDataResponse>"
    );

    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Attrs {
        attributes: std::collections::BTreeMap<String, String>,
        when: Timestamp,
        value: f64,
        big: f64,
    }
    let out = Attrs {
        attributes: [("DisplayName".to_owned(), "A & B".to_owned())].into(),
        when: Timestamp(1_795_620_525_489),
        value: 51.5,
        big: 1e300,
    };
    let resp = encode_response(
        Service::Sns,
        Protocol::Query,
        "GetTopicAttributes",
        &to_document(&out),
        "r",
    );
    let body = String::from_utf8(resp.body).expect("utf8");
    assert!(body.starts_with("<GetTopicAttributesResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><GetTopicAttributesResult>"));
    assert!(body.contains(
        "<Attributes><entry><key>DisplayName</key><value>A &amp; B</value></entry></Attributes>"
    ));
    assert!(
        body.contains("<When>2026-11-25T15:28:45.489Z</When>"),
        "{body}"
    );
    assert!(body.contains("<Value>51.5</Value>"));
    let big = body
        .split("<Big>")
        .nth(1)
        .and_then(|s| s.split("</Big>").next())
        .expect("big");
    assert_eq!(big.parse::<f64>().ok(), Some(1e300));
}

#[test]
fn json_and_cbor_success_shapes() {
    let out = to_document(&list_metrics_output());
    let resp = encode_response(
        Service::CloudWatch,
        Protocol::Json,
        "ListMetrics",
        &out,
        "r",
    );
    assert_eq!(
        resp.header("content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert_eq!(resp.header("x-amzn-requestid"), Some("r"));
    assert_eq!(
        String::from_utf8_lossy(&resp.body),
        r#"{"Metrics":[{"Namespace":"CWAgent","MetricName":"disk_used_percent","Dimensions":[{"Name":"path","Value":"/"}]}],"NextToken":"t<1>&"}"#
    );
    let empty = encode_response(
        Service::CloudWatch,
        Protocol::Json,
        "PutMetricData",
        &Document::Null,
        "r",
    );
    assert_eq!(empty.body, b"{}");

    let resp = encode_response(
        Service::CloudWatch,
        Protocol::Cbor,
        "ListMetrics",
        &out,
        "r",
    );
    assert_eq!(resp.header("content-type"), Some("application/cbor"));
    assert_eq!(resp.header("smithy-protocol"), Some("rpc-v2-cbor"));
    assert_eq!(
        decode_cbor(&resp.body).expect("cbor"),
        decode_json(&encode_json_bytes(&out)).expect("json")
    );
    let empty = encode_response(
        Service::CloudWatch,
        Protocol::Cbor,
        "PutMetricData",
        &Document::Null,
        "r",
    );
    assert_eq!(empty.body, [0xa0]);

    // Timestamps: JSON epoch-seconds numbers, CBOR tag 1 + float64.
    let ts = Document::Struct(vec![(
        "T".into(),
        Document::Timestamp(Timestamp(1_765_977_780_000)),
    )]);
    let json = encode_response(Service::CloudWatch, Protocol::Json, "X", &ts, "r");
    assert_eq!(json.body, br#"{"T":1765977780.0}"#);
    let cbor = encode_response(Service::CloudWatch, Protocol::Cbor, "X", &ts, "r");
    let mut want = vec![0xa1, 0x61, b'T', 0xc1, 0xfb];
    want.extend_from_slice(&1_765_977_780.0f64.to_be_bytes());
    assert_eq!(cbor.body, want);
}

fn encode_json_bytes(doc: &Document) -> Vec<u8> {
    stratus_proto::encode_json(doc)
}

#[test]
fn query_error_shape() {
    let err = ApiError::new(ErrorCode::ResourceNotFound, "Alarm <x> not found");
    let resp = encode_error(Service::CloudWatch, Protocol::Query, &err, "rid", true);
    assert_eq!(resp.status, 404);
    assert_eq!(resp.header("content-type"), Some("text/xml"));
    assert_eq!(
        String::from_utf8_lossy(&resp.body),
        "<ErrorResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><Error><Type>Sender</Type>\
         <Code>ResourceNotFound</Code><Message>Alarm &lt;x&gt; not found</Message></Error>\
         <RequestId>rid</RequestId></ErrorResponse>"
    );
    let doc = decode_xml_response(&resp.body).expect("parses");
    assert_eq!(query_result(&doc, "DescribeAlarms"), Err(err));

    let sns = encode_error(
        Service::Sns,
        Protocol::Query,
        &ApiError::new(ErrorCode::NotFound, "x"),
        "r",
        false,
    );
    assert_eq!(sns.status, 404);
    assert!(
        String::from_utf8_lossy(&sns.body)
            .starts_with("<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">")
    );
    let internal = encode_error(
        Service::CloudWatch,
        Protocol::Query,
        &ApiError::internal("boom"),
        "r",
        false,
    );
    assert_eq!(internal.status, 500);
    assert!(String::from_utf8_lossy(&internal.body).contains("<Type>Receiver</Type>"));
}

#[test]
fn json_error_shape() {
    let err = ApiError::invalid_value("bad");
    let resp = encode_error(Service::CloudWatch, Protocol::Json, &err, "rid", true);
    assert_eq!(resp.status, 400);
    assert_eq!(
        resp.header("content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert_eq!(
        resp.header("x-amzn-query-error"),
        Some("InvalidParameterValue;Sender")
    );
    assert_eq!(
        resp.header("x-amzn-errortype"),
        Some("InvalidParameterValueException")
    );
    assert_eq!(resp.header("x-amzn-requestid"), Some("rid"));
    assert_eq!(
        String::from_utf8_lossy(&resp.body),
        r#"{"__type":"com.amazonaws.cloudwatch.v2010_08_01#InvalidParameterValueException","message":"bad"}"#
    );
    // Modeled status only in query mode.
    let nf = ApiError::new(ErrorCode::ResourceNotFound, "gone");
    assert_eq!(
        encode_error(Service::CloudWatch, Protocol::Json, &nf, "r", true).status,
        404
    );
    assert_eq!(
        encode_error(Service::CloudWatch, Protocol::Json, &nf, "r", false).status,
        400
    );
    let boom = ApiError::internal("boom");
    let resp = encode_error(Service::CloudWatch, Protocol::Json, &boom, "r", false);
    assert_eq!(resp.status, 500);
    assert_eq!(
        resp.header("x-amzn-query-error"),
        Some("InternalServiceError;Receiver")
    );
    // Schema violations use the Coral validator's shape.
    let v = ApiError::new(ErrorCode::ValidationError, "v");
    let body = encode_error(Service::CloudWatch, Protocol::Json, &v, "r", true).body;
    assert!(
        String::from_utf8_lossy(&body)
            .contains(r#""__type":"com.amazon.coral.validate#ValidationException""#)
    );
}

#[test]
fn cbor_error_shape() {
    let err = ApiError::missing("MetricData.member.1.MetricName");
    let resp = encode_error(Service::CloudWatch, Protocol::Cbor, &err, "rid", true);
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("content-type"), Some("application/cbor"));
    assert_eq!(resp.header("smithy-protocol"), Some("rpc-v2-cbor"));
    assert_eq!(
        resp.header("x-amzn-query-error"),
        Some("MissingParameter;Sender")
    );
    assert_eq!(resp.header("x-amzn-errortype"), None);
    let body = decode_cbor(&resp.body).expect("cbor");
    assert_eq!(
        body.get("__type").and_then(Document::as_str),
        Some("com.amazonaws.cloudwatch.v2010_08_01#MissingRequiredParameterException")
    );
    assert_eq!(
        body.get("message").and_then(Document::as_str),
        Some(err.message.as_str())
    );
}
