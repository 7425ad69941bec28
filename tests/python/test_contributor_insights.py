"""Contributor Insights rules end to end with boto3: PutInsightRule /
DescribeInsightRules / Enable|Disable|DeleteInsightRules (round trip in AWS's
recorded describe shape, partial failures, errors that change nothing),
GetInsightRuleReport over JSON and CLF log events whose contributors, ranking
and per-period statistics this test computes itself, a disabled rule gathering
nothing, and INSIGHT_RULE_METRIC in GetMetricData."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from datetime import datetime, timezone

import pytest
from botocore.exceptions import ClientError

from logs_support import make_stream, now_ms, put, uniq

PERIOD = 60
SCHEMA = {"Name": "CloudWatchLogRule", "Version": 1}


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"].get("Message", ""), e["ResponseMetadata"]["HTTPStatusCode"]


def dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def ms_of(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def base_ms() -> int:
    """A period boundary ten minutes ago: events there are inside the report window."""
    return (now_ms() // 60_000 - 10) * 60_000


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


def clf_definition(group_pattern: str) -> dict:
    # The rule of AWS's recorded test_insight_rule.
    return {
        "Schema": SCHEMA,
        "LogGroupNames": [group_pattern],
        "LogFormat": "CLF",
        "Fields": {"1": "IpAddress", "6": "StatusCode", "7": "Bytes"},
        "Contribution": {"Keys": ["IpAddress"], "Filters": [{"Match": "StatusCode", "EqualTo": 200}]},
        "AggregateOn": "Count",
    }


def json_definition(group: str) -> dict:
    return {
        "Schema": SCHEMA,
        "LogGroupNames": [group],
        "LogFormat": "JSON",
        "Contribution": {
            "Keys": ["$.client.ip", "$.method"],
            "ValueOf": "$.bytes",
            "Filters": [{"Match": "$.status", "In": [200, 201]}],
        },
        "AggregateOn": "Sum",
    }


def put_rule(cw, name: str, definition: dict, **kwargs) -> None:
    cw.put_insight_rule(RuleName=name, RuleDefinition=json.dumps(definition), **kwargs)


def rules_by_name(cw) -> dict[str, dict]:
    return {r["Name"]: r for r in cw.describe_insight_rules()["InsightRules"]}


# ---- CRUD ---------------------------------------------------------------------------------------


def test_rule_round_trip_in_the_recorded_shape(cw):
    name = uniq("rule")
    definition = json.dumps(clf_definition("API-Gateway-Access-Logs*"))
    cw.put_insight_rule(RuleName=name, RuleDefinition=definition)
    got = rules_by_name(cw)[name]
    assert got == {
        "Name": name,
        "State": "ENABLED",
        "Schema": "CloudWatchLogRule/1",
        "Definition": definition,
        "ManagedRule": False,
        "ApplyOnTransformedLogs": False,
    }
    assert cw.disable_insight_rules(RuleNames=[name])["Failures"] == []
    assert rules_by_name(cw)[name]["State"] == "DISABLED"
    assert cw.enable_insight_rules(RuleNames=[name])["Failures"] == []
    assert rules_by_name(cw)[name]["State"] == "ENABLED"
    # Put again: replaces the definition and the state.
    cw.put_insight_rule(RuleName=name, RuleDefinition=definition.replace("Count", "Count"),
                        RuleState="DISABLED", ApplyOnTransformedLogs=True)
    got = rules_by_name(cw)[name]
    assert (got["State"], got["ApplyOnTransformedLogs"]) == ("DISABLED", True)
    assert cw.delete_insight_rules(RuleNames=[name])["Failures"] == []
    assert name not in rules_by_name(cw)


def test_unknown_names_are_partial_failures(cw):
    known, unknown = uniq("rule"), uniq("missing")
    put_rule(cw, known, clf_definition("web*"))
    for op, state in ((cw.disable_insight_rules, "DISABLED"), (cw.enable_insight_rules, "ENABLED")):
        failures = op(RuleNames=[unknown, known])["Failures"]
        assert [f["FailureResource"] for f in failures] == [unknown]
        assert failures[0]["ExceptionType"] == "ResourceNotFoundException"
        assert unknown in failures[0]["FailureDescription"]
        assert rules_by_name(cw)[known]["State"] == state, "the known rule is still changed"
    failures = cw.delete_insight_rules(RuleNames=[known, unknown])["Failures"]
    assert [f["FailureResource"] for f in failures] == [unknown]
    assert known not in rules_by_name(cw)


def test_describe_pages_in_name_order(cw):
    prefix = uniq("page")
    names = [f"{prefix}-{i}" for i in range(3)]
    for n in names:
        put_rule(cw, n, clf_definition("web*"))
    seen: list[str] = []
    token = None
    while True:
        kwargs = {"MaxResults": 2}
        if token:
            kwargs["NextToken"] = token
        resp = cw.describe_insight_rules(**kwargs)
        assert len(resp["InsightRules"]) <= 2
        seen += [r["Name"] for r in resp["InsightRules"]]
        token = resp.get("NextToken")
        if not token:
            break
    mine = [n for n in seen if n.startswith(prefix)]
    assert mine == names
    assert seen == sorted(seen)
    with pytest.raises(ClientError) as e:
        cw.describe_insight_rules(NextToken="not-a-token")
    assert err(e)[0] == "InvalidNextToken"
    cw.delete_insight_rules(RuleNames=names)


def _bad(change):
    d = clf_definition("web*")
    change(d)
    return json.dumps(d)


@pytest.mark.parametrize("definition, fragment", [
    ("{not json", "not a valid JSON object"),
    (_bad(lambda d: d.update(Schema={"Name": "Other", "Version": 1})), "Schema must be"),
    (_bad(lambda d: d.update(LogFormat="XML")), 'LogFormat "XML"'),
    (_bad(lambda d: d.update(AggregateOn="Sum")), "ValueOf is required"),
    (_bad(lambda d: d["Contribution"].update(Keys=["Nope"])), "not one of the names in Fields"),
    (_bad(lambda d: d["Contribution"].update(Keys=["a", "b", "c", "d", "e"])), "1 to 4 keys"),
    (_bad(lambda d: d.pop("LogGroupNames")), "LogGroupNames or LogGroupARNs"),
    (_bad(lambda d: d["Contribution"]["Filters"][0].update(GreaterThan="x")), "must be a number"),
    (_bad(lambda d: d.update(Extra=1)), 'unknown member "Extra"'),
])
def test_bad_definitions_are_refused_and_change_nothing(cw, definition, fragment):
    name = uniq("bad")
    with pytest.raises(ClientError) as e:
        cw.put_insight_rule(RuleName=name, RuleDefinition=definition)
    code, message, status = err(e)
    assert (code, status) == ("InvalidParameterValue", 400)
    assert fragment in message
    assert name not in rules_by_name(cw)


def test_bad_state_and_report_parameters(cw):
    name = uniq("rule")
    with pytest.raises(ClientError) as e:
        put_rule(cw, name, clf_definition("web*"), RuleState="PAUSED")
    assert err(e)[0] == "InvalidParameterValue" and "RuleState" in err(e)[1]
    assert name not in rules_by_name(cw)

    put_rule(cw, name, clf_definition("web*"))
    t = base_ms()
    window = {"StartTime": dt(t), "EndTime": dt(t + 600_000), "Period": PERIOD}
    cases = [
        ({"MaxContributorCount": 0}, "MaxContributorCount"),
        ({"MaxContributorCount": 101}, "MaxContributorCount"),
        ({"OrderBy": "Average"}, "OrderBy"),
        ({"Metrics": ["Median"]}, "Metrics"),
        ({"EndTime": dt(t)}, "StartTime must be less than"),
        ({"Period": 1, "EndTime": dt(t + 86_400_000)}, "at most 1440"),
    ]
    for extra, fragment in cases:
        with pytest.raises(ClientError) as e:
            cw.get_insight_rule_report(RuleName=name, **{**window, **extra})
        assert err(e)[0] == "InvalidParameterValue", extra
        assert fragment in err(e)[1], extra
    with pytest.raises(ClientError) as e:
        cw.get_insight_rule_report(RuleName=uniq("missing"), **window)
    assert err(e)[0] == "ResourceNotFoundException" and err(e)[2] == 404
    cw.delete_insight_rules(RuleNames=[name])


# ---- reports ------------------------------------------------------------------------------------


def json_events(t0: int) -> list[tuple[int, dict]]:
    """Events over three periods from t0: contributors (ip, method) with byte counts; 404s and
    events without a key are filtered out."""
    rows = [
        (0, "10.0.0.1", "GET", 200, 100), (5, "10.0.0.1", "GET", 201, 50), (10, "10.0.0.2", "GET", 200, 400),
        (20, "10.0.0.3", "PUT", 200, 10), (30, "10.0.0.1", "PUT", 200, 5), (40, "10.0.0.9", "GET", 404, 9999),
        (60, "10.0.0.1", "GET", 200, 300), (70, "10.0.0.3", "PUT", 200, 20), (80, "10.0.0.3", "PUT", 200, 30),
        (125, "10.0.0.4", "GET", 200, 1), (130, "10.0.0.1", "GET", 200, 60),
    ]
    out = [(t0 + s * 1000, {"client": {"ip": ip}, "method": m, "status": st, "bytes": b})
           for s, ip, m, st, b in rows]
    out.append((t0 + 15_000, {"method": "GET", "status": 200, "bytes": 7}))  # no client.ip
    return out


def expected_report(events: list[tuple[int, tuple[str, ...], float]], t0: int, periods: int):
    """Per period and per contributor values from (timestamp, keys, value) observations."""
    per = defaultdict(lambda: defaultdict(float))
    obs = defaultdict(list)
    for t, keys, v in events:
        p = t0 + (t - t0) // (PERIOD * 1000) * PERIOD * 1000
        per[p][keys] += v
        obs[p].append(v)
    points = []
    for i in range(periods):
        p = t0 + i * PERIOD * 1000
        vals = obs.get(p, [])
        point = {
            "UniqueContributors": float(len(per[p])),
            "MaxContributorValue": float(max(per[p].values(), default=0.0)),
            "SampleCount": float(len(vals)),
            "Sum": float(sum(vals)),
        }
        if vals:
            point.update(Minimum=float(min(vals)), Maximum=float(max(vals)), Average=sum(vals) / len(vals))
        points.append((p, point))
    totals = defaultdict(float)
    maxima = defaultdict(float)
    for p in per:
        for k, v in per[p].items():
            totals[k] += v
            maxima[k] = max(maxima[k], v)
    return points, totals, maxima, per


ALL_METRICS = ["UniqueContributors", "MaxContributorValue", "SampleCount", "Sum", "Minimum", "Maximum", "Average"]


def test_json_sum_report_top_contributors_and_metrics(cw, logs):
    group, name = uniq("app"), uniq("rule")
    put_rule(cw, name, json_definition(group))
    make_stream(logs, group, "s")
    t0 = base_ms()
    events = json_events(t0)
    put(logs, group, "s", [(t, json.dumps(doc)) for t, doc in events])
    observed = [(t, (d["client"]["ip"], d["method"]), float(d["bytes"])) for t, d in events
                if "client" in d and d["status"] in (200, 201)]
    points, totals, maxima, per = expected_report(observed, t0, 3)

    resp = cw.get_insight_rule_report(RuleName=name, StartTime=dt(t0), EndTime=dt(t0 + 3 * PERIOD * 1000),
                                      Period=PERIOD, Metrics=ALL_METRICS)
    assert resp["KeyLabels"] == ["$.client.ip", "$.method"]
    assert resp["AggregationStatistic"] == "Sum"
    assert resp["AggregateValue"] == sum(v for _, _, v in observed)
    assert resp["ApproximateUniqueCount"] == len(totals)
    ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(tuple(c["Keys"]), c["ApproximateAggregateValue"]) for c in resp["Contributors"]] == ranked
    top = resp["Contributors"][0]
    top_keys = tuple(top["Keys"])
    assert [(ms_of(d["Timestamp"]), d["ApproximateValue"]) for d in top["Datapoints"]] == \
        sorted((p, per[p][top_keys]) for p in per if top_keys in per[p])
    got_points = [(ms_of(d.pop("Timestamp")), d) for d in resp["MetricDatapoints"]]
    assert got_points == points

    # MaxContributorCount and OrderBy Maximum (largest single-period value ranks first).
    resp = cw.get_insight_rule_report(RuleName=name, StartTime=dt(t0), EndTime=dt(t0 + 3 * PERIOD * 1000),
                                      Period=PERIOD, MaxContributorCount=2, OrderBy="Maximum",
                                      Metrics=["UniqueContributors"])
    by_max = sorted(maxima.items(), key=lambda kv: (-kv[1], kv[0]))[:2]
    assert [(tuple(c["Keys"]), c["ApproximateAggregateValue"]) for c in resp["Contributors"]] == by_max
    assert by_max[0][0] != ranked[0][0], "the data ranks differently by Sum and by Maximum"
    assert resp["ApproximateUniqueCount"] == len(totals)
    assert all(set(d) == {"Timestamp", "UniqueContributors"} for d in resp["MetricDatapoints"])

    # A window covering only the second period.
    resp = cw.get_insight_rule_report(RuleName=name, StartTime=dt(t0 + 60_000), EndTime=dt(t0 + 120_000),
                                      Period=PERIOD, Metrics=["SampleCount"])
    assert [d["SampleCount"] for d in resp["MetricDatapoints"]] == [points[1][1]["SampleCount"]]
    assert resp["AggregateValue"] == points[1][1]["Sum"]
    cw.delete_insight_rules(RuleNames=[name])


def test_clf_count_report_over_wildcard_groups(cw, logs):
    prefix = uniq("API-Gateway-Access-Logs")
    name = uniq("rule")
    put_rule(cw, name, clf_definition(prefix + "*"))
    t0 = base_ms()
    line = '{ip} - - [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.1" {status} 512'
    rows = {
        prefix + "-a": [("1.1.1.1", 200), ("1.1.1.1", 200), ("2.2.2.2", 200), ("3.3.3.3", 500)],
        prefix + "-b": [("1.1.1.1", 200), ("2.2.2.2", 404), ("4.4.4.4", 200)],
        "other-" + prefix: [("9.9.9.9", 200)] * 5,  # not matched by the pattern
    }
    for group, items in rows.items():
        make_stream(logs, group, "s")
        put(logs, group, "s", [(t0 + i * 1000, line.format(ip=ip, status=st)) for i, (ip, st) in enumerate(items)])
    counts = defaultdict(int)
    for group, items in rows.items():
        if group.startswith(prefix):
            for ip, st in items:
                if st == 200:
                    counts[ip] += 1
    resp = cw.get_insight_rule_report(RuleName=name, StartTime=dt(t0), EndTime=dt(t0 + PERIOD * 1000),
                                      Period=PERIOD, Metrics=["UniqueContributors", "SampleCount"])
    assert resp["KeyLabels"] == ["IpAddress"]
    assert resp["AggregationStatistic"] == "SampleCount"
    assert {c["Keys"][0]: c["ApproximateAggregateValue"] for c in resp["Contributors"]} == counts
    assert resp["Contributors"][0]["Keys"] == ["1.1.1.1"]
    assert resp["MetricDatapoints"][0]["UniqueContributors"] == len(counts)
    assert resp["MetricDatapoints"][0]["SampleCount"] == sum(counts.values())
    cw.delete_insight_rules(RuleNames=[name])


def test_a_disabled_rule_gathers_no_data(cw, logs):
    group, name = uniq("app"), uniq("rule")
    put_rule(cw, name, json_definition(group))
    make_stream(logs, group, "s")
    t0 = base_ms()
    ev = lambda ip, b: json.dumps({"client": {"ip": ip}, "method": "GET", "status": 200, "bytes": b})

    def report():
        r = cw.get_insight_rule_report(RuleName=name, StartTime=dt(t0), EndTime=dt(t0 + PERIOD * 1000),
                                       Period=PERIOD, Metrics=["SampleCount"])
        return {c["Keys"][0]: c["ApproximateAggregateValue"] for c in r["Contributors"]}

    put(logs, group, "s", [(t0 + 1000, ev("a", 10))])
    assert report() == {"a": 10}
    cw.disable_insight_rules(RuleNames=[name])
    put(logs, group, "s", [(t0 + 2000, ev("b", 20)), (t0 + 3000, ev("a", 5))])
    assert report() == {"a": 10}, "events ingested while disabled are not counted"
    cw.enable_insight_rules(RuleNames=[name])
    put(logs, group, "s", [(t0 + 4000, ev("c", 30))])
    assert report() == {"a": 10, "c": 30}
    # Created disabled: nothing at all.
    off = uniq("rule")
    put_rule(cw, off, json_definition(group), RuleState="DISABLED")
    put(logs, group, "s", [(t0 + 5000, ev("d", 1))])
    r = cw.get_insight_rule_report(RuleName=off, StartTime=dt(t0), EndTime=dt(t0 + PERIOD * 1000), Period=PERIOD)
    assert (r["Contributors"], r["AggregateValue"], r["ApproximateUniqueCount"]) == ([], 0.0, 0)
    cw.delete_insight_rules(RuleNames=[name, off])


def test_insight_rule_metric_in_get_metric_data(cw, logs):
    group, name = uniq("app"), uniq("rule")
    put_rule(cw, name, json_definition(group))
    make_stream(logs, group, "s")
    t0 = base_ms()
    events = json_events(t0)
    put(logs, group, "s", [(t, json.dumps(doc)) for t, doc in events])
    observed = [(t, (d["client"]["ip"], d["method"]), float(d["bytes"])) for t, d in events
                if "client" in d and d["status"] in (200, 201)]
    points, *_ = expected_report(observed, t0, 3)
    queries = [
        {"Id": "u", "Expression": f"INSIGHT_RULE_METRIC('{name}', 'UniqueContributors')", "Period": PERIOD},
        {"Id": "s", "Expression": f'INSIGHT_RULE_METRIC("{name}", "Sum")', "Period": PERIOD},
        {"Id": "m", "Expression": f"INSIGHT_RULE_METRIC('{name}', 'MaxContributorValue') * 2", "Period": PERIOD},
    ]
    resp = cw.get_metric_data(MetricDataQueries=queries, StartTime=dt(t0), EndTime=dt(t0 + 3 * PERIOD * 1000),
                              ScanBy="TimestampAscending")
    got = {r["Id"]: [(ms_of(t), v) for t, v in zip(r["Timestamps"], r["Values"])] for r in resp["MetricDataResults"]}
    assert got["u"] == [(p, pt["UniqueContributors"]) for p, pt in points]
    assert got["s"] == [(p, pt["Sum"]) for p, pt in points]
    assert got["m"] == [(p, 2 * pt["MaxContributorValue"]) for p, pt in points]

    for expr, fragment in [
        (f"INSIGHT_RULE_METRIC('{uniq('missing')}', 'Sum')", "does not exist"),
        (f"INSIGHT_RULE_METRIC('{name}', 'Median')", "not a Contributor Insights metric"),
        ("INSIGHT_RULE_METRIC(m1, 'Sum')", ""),
    ]:
        with pytest.raises(ClientError) as e:
            cw.get_metric_data(MetricDataQueries=[{"Id": "x", "Expression": expr, "Period": PERIOD}],
                               StartTime=dt(t0), EndTime=dt(t0 + PERIOD * 1000))
        assert fragment in err(e)[1], expr
    cw.delete_insight_rules(RuleNames=[name])


def test_alarm_on_insight_rule_metric_fires(cw, logs):
    group, name = uniq("app"), uniq("rule")
    definition = json_definition(group)
    definition["AggregateOn"] = "Count"
    put_rule(cw, name, definition)
    make_stream(logs, group, "s")
    alarm = uniq("alarm")
    cw.put_metric_alarm(
        AlarmName=alarm, EvaluationPeriods=1, Threshold=3, ComparisonOperator="GreaterThanOrEqualToThreshold",
        Metrics=[{"Id": "e1", "Expression": f"INSIGHT_RULE_METRIC('{name}', 'UniqueContributors')",
                  "Period": 10, "ReturnData": True}],
    )
    got = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    assert "INSIGHT_RULE_METRIC" in got["Metrics"][0]["Expression"]
    deadline = time.monotonic() + 40
    while True:
        now = now_ms()
        put(logs, group, "s", [(now, json.dumps({"client": {"ip": f"10.1.0.{i}"}, "method": "GET",
                                                  "status": 200, "bytes": 1})) for i in range(4)])
        state = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
        if state["StateValue"] == "ALARM":
            break
        assert time.monotonic() < deadline, f"alarm did not fire: {state}"
        time.sleep(1)
    assert "4.0" in state["StateReason"], state["StateReason"]
    cw.delete_alarms(AlarmNames=[alarm])
    cw.delete_insight_rules(RuleNames=[name])


def test_rule_tags_through_put_and_tag_resource(cw):
    name = uniq("rule")
    arn = f"arn:aws:cloudwatch:{cw.meta.region_name}:123456789012:insight-rule/{name}"
    put_rule(cw, name, clf_definition("web*"), Tags=[{"Key": "team", "Value": "web"}])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "web"}]
    # Tags on an update are ignored (AWS: use TagResource).
    put_rule(cw, name, clf_definition("web*"), Tags=[{"Key": "team", "Value": "other"}])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "web"}]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}])
    tags = {t["Key"]: t["Value"] for t in cw.list_tags_for_resource(ResourceARN=arn)["Tags"]}
    assert tags == {"team": "web", "env": "prod"}
    cw.delete_insight_rules(RuleNames=[name])
    with pytest.raises(ClientError) as e:
        cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert err(e)[0] == "ResourceNotFoundException"
    # Re-created: the old tags are gone.
    put_rule(cw, name, clf_definition("web*"))
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    cw.delete_insight_rules(RuleNames=[name])


def test_rules_survive_a_restart(make_server):
    srv = make_server()
    cw = srv.client("cloudwatch")
    name = uniq("rule")
    definition = json.dumps(clf_definition("web*"))
    cw.put_insight_rule(RuleName=name, RuleDefinition=definition, RuleState="DISABLED")
    srv.kill()
    srv.start()
    got = rules_by_name(srv.client("cloudwatch"))[name]
    assert (got["Definition"], got["State"]) == (definition, "DISABLED")


def test_readonly_key_reads_rules_and_cannot_change_them(server, cw, logs):
    out = server.stratus_cli("keys", "create", "--name", uniq("ci-reader"), "--policy", "readonly", "--output", "json")
    key = json.loads(out.stdout)
    reader = server.client("cloudwatch", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    name = uniq("rule")
    put_rule(cw, name, clf_definition("web*"))
    assert name in rules_by_name(reader)
    t = base_ms()
    reader.get_insight_rule_report(RuleName=name, StartTime=dt(t), EndTime=dt(t + 60_000), Period=PERIOD)
    for call in (lambda: put_rule(reader, uniq("rule"), clf_definition("web*")),
                 lambda: reader.disable_insight_rules(RuleNames=[name]),
                 lambda: reader.delete_insight_rules(RuleNames=[name])):
        with pytest.raises(ClientError) as e:
            call()
        assert err(e)[0] == "AccessDenied", err(e)
    assert rules_by_name(cw)[name]["State"] == "ENABLED"
    cw.delete_insight_rules(RuleNames=[name])


# -- managed rules -------------------------------------------------------------------------------


def test_managed_rules_are_checked_and_none_exist(cw):
    """Managed rules are AWS's templates for its own services' resources: a Stratus server has
    none. Valid requests say so per rule and create nothing; bad ones get the model's errors."""
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    assert cw.list_managed_insight_rules(ResourceARN=arn)["ManagedRules"] == []
    before = rules_by_name(cw)
    out = cw.put_managed_insight_rules(
        ManagedRules=[
            {"TemplateName": "DynamoDBMostAccessedItems", "ResourceARN": arn},
            {"TemplateName": "VpcTopTalkers", "ResourceARN": "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1",
             "Tags": [{"Key": "team", "Value": "ops"}]},
        ]
    )
    fails = out["Failures"]
    assert [f["FailureResource"] for f in fails] == [arn, "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-1"]
    assert {(f["ExceptionType"], f["FailureCode"]) for f in fails} == {("ResourceNotFoundException", "ResourceNotFound")}
    assert "DynamoDBMostAccessedItems" in fails[0]["FailureDescription"]
    assert rules_by_name(cw) == before

    with pytest.raises(ClientError) as e:
        cw.put_managed_insight_rules(ManagedRules=[{"TemplateName": "-bad", "ResourceARN": arn}])
    code, message, status = err(e)
    assert (code, status) == ("ValidationError", 400)
    assert "'-bad'" in message and "regular expression pattern" in message, message
    with pytest.raises(ClientError) as e:
        cw.list_managed_insight_rules(ResourceARN=arn, MaxResults=501)
    assert err(e)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        cw.list_managed_insight_rules(ResourceARN=arn, NextToken="bm9wZQ")
    assert err(e)[0] == "InvalidNextToken"
