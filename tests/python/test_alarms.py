"""CloudWatch alarms end to end with boto3 (awsJson1_0, and awsQuery in the
query run): create/describe/update/delete, every validation error, paging,
SetAlarmState and history, actions on/off, tags, composite alarms, a live
evaluation on high-resolution data, and persistence across a restart. The
AWS CLI story command is in test_awscli_alarms.py."""

from __future__ import annotations

import json
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_for

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
REASON_DATE = r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d"


def story_alarm(name: str, ns: str = "CWAgent", **extra) -> dict:
    args = dict(
        AlarmName=name,
        MetricName="disk_used_percent",
        Namespace=ns,
        Statistic="Average",
        Dimensions=[{"Name": "path", "Value": "/"}, {"Name": "host", "Value": "web-1"}],
        Period=3600,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        AlarmActions=[TOPIC],
    )
    args.update(extra)
    return args


def error_of(call, **kwargs) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as ei:
        call(**kwargs)
    err = ei.value.response["Error"]
    return err["Code"], err.get("Message", ""), ei.value.response["ResponseMetadata"]["HTTPStatusCode"]


def names(resp) -> list[str]:
    return [a["AlarmName"] for a in resp["MetricAlarms"]] + [a["AlarmName"] for a in resp["CompositeAlarms"]]


def history(cw, name, **kw) -> list[dict]:
    return cw.describe_alarm_history(AlarmName=name, **kw)["AlarmHistoryItems"]


@pytest.fixture(scope="module")
def raw(server):
    """A client that sends what it is given (no client-side validation), to reach the server's."""
    return server.client("cloudwatch", parameter_validation=False)


# ---- create / describe / update / delete ---------------------------------------------------


def test_create_describe_update_delete(cw, ns):
    name = f"disk-{ns[-6:]}"
    cw.put_metric_alarm(**story_alarm(name, ns, AlarmDescription="root volume over 50%"))
    [a] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert a["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
    assert a["StateValue"] == "INSUFFICIENT_DATA"
    assert a["StateReason"] == "Unchecked: Initial alarm creation"
    assert a["Threshold"] == 50.0 and a["Period"] == 3600 and a["EvaluationPeriods"] == 1
    assert a["Statistic"] == "Average" and a["Namespace"] == ns
    assert a["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert a["AlarmActions"] == [TOPIC] and a["OKActions"] == [] and a["InsufficientDataActions"] == []
    assert a["ActionsEnabled"] is True
    assert a["AlarmDescription"] == "root volume over 50%"
    assert sorted(d["Name"] for d in a["Dimensions"]) == ["host", "path"]
    for k in ("AlarmConfigurationUpdatedTimestamp", "StateUpdatedTimestamp", "StateTransitionedTimestamp"):
        assert k in a, k
    # Update: fully replaces the configuration, keeps the state.
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="manual")
    cw.put_metric_alarm(**story_alarm(name, ns, Threshold=75.0, DatapointsToAlarm=1,
                                      TreatMissingData="breaching", AlarmActions=[]))
    [b] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert b["Threshold"] == 75.0 and b["TreatMissingData"] == "breaching" and b["DatapointsToAlarm"] == 1
    assert b["AlarmActions"] == [] and "AlarmDescription" not in b
    assert b["StateValue"] == "ALARM" and b["StateReason"] == "manual"
    summaries = [h["HistorySummary"] for h in history(cw, name, HistoryItemType="ConfigurationUpdate")]
    assert summaries == [f'Alarm "{name}" updated', f'Alarm "{name}" created']
    # Delete: gone from Describe, history kept; unknown names are ignored.
    cw.delete_alarms(AlarmNames=[name, "no-such-alarm"])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    items = history(cw, name)
    assert items[0]["HistorySummary"] == f'Alarm "{name}" deleted'
    assert json.loads(items[0]["HistoryData"])["type"] == "Delete"
    assert {h["HistoryItemType"] for h in items} == {"ConfigurationUpdate", "StateUpdate"}


def test_math_alarm_round_trips(cw, ns):
    name = f"math-{ns[-6:]}"
    metrics = [
        {"Id": "m1", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "errors"}, "Period": 60, "Stat": "Sum"},
         "ReturnData": False},
        {"Id": "m2", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "requests"}, "Period": 60, "Stat": "Sum"},
         "ReturnData": False},
        {"Id": "e1", "Expression": "100 * m1 / m2", "Label": "error rate"},
    ]
    cw.put_metric_alarm(AlarmName=name, Metrics=metrics, EvaluationPeriods=3, DatapointsToAlarm=2,
                        Threshold=5, ComparisonOperator="GreaterThanThreshold")
    [a] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    for q in metrics:  # a Metric without dimensions is echoed with an empty list
        q.get("MetricStat", {}).get("Metric", {}).setdefault("Dimensions", [])
    assert a["Metrics"] == metrics
    assert "MetricName" not in a and "Period" not in a
    # A math alarm is not an alarm "for" its metrics.
    assert cw.describe_alarms_for_metric(MetricName="errors", Namespace=ns)["MetricAlarms"] == []
    cw.delete_alarms(AlarmNames=[name])


def test_describe_alarms_for_metric(cw, ns):
    cw.put_metric_alarm(**story_alarm(f"{ns}-a", ns))
    cw.put_metric_alarm(**story_alarm(f"{ns}-b", ns, Statistic="Maximum", Period=60))
    cw.put_metric_alarm(**story_alarm(f"{ns}-c", ns, MetricName="other"))
    got = cw.describe_alarms_for_metric(MetricName="disk_used_percent", Namespace=ns)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in got) == [f"{ns}-a", f"{ns}-b"]
    got = cw.describe_alarms_for_metric(MetricName="disk_used_percent", Namespace=ns, Statistic="Maximum",
                                        Dimensions=[{"Name": "host", "Value": "web-1"}, {"Name": "path", "Value": "/"}])
    assert [a["AlarmName"] for a in got["MetricAlarms"]] == [f"{ns}-b"]
    got = cw.describe_alarms_for_metric(MetricName="disk_used_percent", Namespace=ns,
                                        Dimensions=[{"Name": "path", "Value": "/"}])
    assert got["MetricAlarms"] == []
    cw.delete_alarms(AlarmNames=[f"{ns}-a", f"{ns}-b", f"{ns}-c"])


# ---- validation ------------------------------------------------------------------------------

BAD_PUTS = [
    ({"AlarmName": "x" * 256}, "ValidationError"),
    ({"AlarmDescription": "d" * 1025}, "ValidationError"),
    ({"EvaluationPeriods": 0}, "ValidationError"),
    ({"DatapointsToAlarm": 2}, "InvalidParameterValue"),
    ({"ComparisonOperator": "Bigger"}, "ValidationError"),
    ({"ComparisonOperator": "GreaterThanUpperThreshold"}, "InvalidParameterValue"),
    ({"Statistic": "Mean"}, "ValidationError"),
    ({"ExtendedStatistic": "p99"}, "InvalidParameterCombination"),
    ({"Period": 45}, "InvalidParameterValue"),
    ({"Period": 60, "EvaluationPeriods": 1441}, "InvalidParameterValue"),
    ({"TreatMissingData": "sometimes"}, "InvalidParameterValue"),
    ({"EvaluateLowSampleCountPercentile": "maybe"}, "InvalidParameterValue"),
    ({"Unit": "Parsecs"}, "ValidationError"),
    ({"AlarmActions": [TOPIC] * 6}, "ValidationError"),
    ({"OKActions": ["not-an-arn"]}, "InvalidParameterValue"),
    ({"Tags": [{"Key": "k" * 129, "Value": "v"}]}, "ValidationError"),
    ({"Metrics": [{"Id": "e1", "Expression": "1"}]}, "InvalidParameterCombination"),
]


@pytest.mark.parametrize("extra,code", BAD_PUTS, ids=[c + ":" + ",".join(e) for e, c in BAD_PUTS])
def test_put_metric_alarm_refusals(cw, raw, ns, extra, code):
    name = extra.get("AlarmName", f"bad-{ns[-8:]}")
    got, msg, status = error_of(raw.put_metric_alarm, **story_alarm(name, ns, **extra))
    assert (got, status) == (code, 400), msg
    assert msg
    assert cw.describe_alarms(AlarmNamePrefix=name[:255])["MetricAlarms"] == []


def test_put_metric_alarm_missing_parameters(raw, ns):
    cw = raw
    for drop, code in [("Threshold", "MissingParameter"), ("Statistic", "MissingParameter"),
                       ("Namespace", "MissingParameter")]:
        args = story_alarm(f"m-{ns[-6:]}", ns)
        del args[drop]
        got, msg, _ = error_of(cw.put_metric_alarm, **args)
        assert got == code, (drop, msg)
    args = story_alarm(f"m-{ns[-6:]}", ns)
    del args["Statistic"]
    args["Metrics"] = [{"Id": "m1", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "a"}, "Period": 60,
                                                   "Stat": "Sum"}},
                       {"Id": "e1", "Expression": "m1 * 2"}]
    for k in ("MetricName", "Namespace", "Period", "Dimensions"):
        del args[k]
    got, msg, _ = error_of(cw.put_metric_alarm, **args)
    assert (got, msg) == ("ValidationError", "Exactly one element of the metrics list should return data.")


def test_other_refusals(raw):
    cw = raw
    assert error_of(cw.describe_alarms, AlarmNames=["a"], AlarmNamePrefix="b")[0] == "InvalidParameterCombination"
    assert error_of(cw.describe_alarms, ChildrenOfAlarmName="a", StateValue="OK")[0] == "InvalidParameterCombination"
    assert error_of(cw.describe_alarms, StateValue="NOPE")[0] == "ValidationError"
    assert error_of(cw.describe_alarms, MaxRecords=101)[0] == "ValidationError"
    assert error_of(cw.describe_alarms, NextToken="bogus")[0] == "InvalidNextToken"
    assert error_of(cw.describe_alarm_history, NextToken="bogus")[0] == "InvalidNextToken"
    assert error_of(cw.describe_alarm_history, HistoryItemType="Nope")[0] == "ValidationError"
    assert error_of(cw.delete_alarms, AlarmNames=[f"a{i}" for i in range(101)])[0] == "ValidationError"
    code, msg, status = error_of(cw.set_alarm_state, AlarmName="no-such", StateValue="OK", StateReason="r")
    assert (code, status) == ("ResourceNotFound", 404)
    code, msg, _ = error_of(cw.set_alarm_state, AlarmName="x", StateValue="INVALID", StateReason="r")
    assert code == "ValidationError"
    assert msg == ("1 validation error detected: Value 'INVALID' at 'stateValue' failed to satisfy constraint: "
                   "Member must satisfy enum value set: [INSUFFICIENT_DATA, ALARM, OK]")


# ---- paging and filters ------------------------------------------------------------------------


def test_describe_paging_and_filters(cw, ns):
    prefix = f"page-{ns[-6:]}-"
    for i in range(7):
        extra = {"OKActions": ["arn:aws:sns:us-east-1:123456789012:ok-topic"]} if i % 2 else {}
        cw.put_metric_alarm(**story_alarm(f"{prefix}{i}", ns, TreatMissingData="ignore", **extra))
    seen, token, pages = [], None, 0
    while True:
        kw = {"AlarmNamePrefix": prefix, "MaxRecords": 3}
        if token:
            kw["NextToken"] = token
        resp = cw.describe_alarms(**kw)
        pages += 1
        assert len(resp["MetricAlarms"]) <= 3
        seen += names(resp)
        token = resp.get("NextToken")
        if not token:
            break
    assert pages == 3 and seen == [f"{prefix}{i}" for i in range(7)]
    cw.set_alarm_state(AlarmName=f"{prefix}3", StateValue="OK", StateReason="test")
    got = cw.describe_alarms(AlarmNamePrefix=prefix, StateValue="OK")
    assert names(got) == [f"{prefix}3"]
    got = cw.describe_alarms(AlarmNamePrefix=prefix, ActionPrefix="arn:aws:sns:us-east-1:123456789012:ok-")
    assert names(got) == [f"{prefix}{i}" for i in (1, 3, 5)]
    got = cw.describe_alarms(AlarmNames=[f"{prefix}2", f"{prefix}6", "nope"])
    assert names(got) == [f"{prefix}2", f"{prefix}6"]
    # Composite alarms are only listed when asked for.
    cw.put_composite_alarm(AlarmName=f"{prefix}comp", AlarmRule=f'ALARM("{prefix}0")')
    assert f"{prefix}comp" not in names(cw.describe_alarms(AlarmNamePrefix=prefix))
    got = cw.describe_alarms(AlarmNamePrefix=prefix, AlarmTypes=["CompositeAlarm"])
    assert names(got) == [f"{prefix}comp"]
    cw.delete_alarms(AlarmNames=[f"{prefix}comp"])
    cw.delete_alarms(AlarmNames=[f"{prefix}{i}" for i in range(7)])


# ---- SetAlarmState, history, actions --------------------------------------------------------


def test_set_alarm_state_history_and_failed_action(cw, raw, ns):
    name = f"set-{ns[-6:]}"
    # `ignore`: evaluations (no data here) keep whatever state SetAlarmState set.
    cw.put_metric_alarm(**story_alarm(name, ns, TreatMissingData="ignore"))
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="testing",
                       StateReasonData='{"why": "test"}')
    [a] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (a["StateValue"], a["StateReason"]) == ("ALARM", "testing")
    assert json.loads(a["StateReasonData"]) == {"why": "test"}
    [h] = history(cw, name, HistoryItemType="StateUpdate")
    assert h["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    assert h["AlarmType"] == "MetricAlarm"
    data = json.loads(h["HistoryData"])
    assert data["oldState"] == {"stateValue": "INSUFFICIENT_DATA", "stateReason": "Unchecked: Initial alarm creation"}
    assert data["newState"]["stateValue"] == "ALARM" and data["newState"]["stateReasonData"] == {"why": "test"}
    # The ALARM action was attempted: with no topic to publish to it is recorded as failed
    # (after its retries), and nothing is left pending.
    items = wait_for(lambda: history(cw, name, HistoryItemType="Action"), timeout=30, what="Action history item")
    assert items[0]["HistorySummary"].startswith(f"Failed to execute action {TOPIC}"), items[0]
    assert json.loads(items[0]["HistoryData"])["actionState"] == "Failed"
    assert list(json.loads(items[0]["HistoryData"]))[:3] == ["actionState", "stateUpdateTimestamp",
                                                             "notificationResource"]
    # invalid StateReasonData changes nothing
    code, _, _ = error_of(raw.set_alarm_state, AlarmName=name, StateValue="OK", StateReason="r",
                          StateReasonData="{not json")
    assert code == "InvalidFormat"
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] == "ALARM"
    # history paging and ordering
    cw.set_alarm_state(AlarmName=name, StateValue="OK", StateReason="one")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="two")
    all_items = history(cw, name)
    stamps = [h["Timestamp"] for h in all_items]
    assert stamps == sorted(stamps, reverse=True)
    page1 = cw.describe_alarm_history(AlarmName=name, MaxRecords=2)
    assert len(page1["AlarmHistoryItems"]) == 2 and page1.get("NextToken")
    page2 = cw.describe_alarm_history(AlarmName=name, MaxRecords=100, NextToken=page1["NextToken"])
    assert page1["AlarmHistoryItems"] + page2["AlarmHistoryItems"] == all_items
    asc = cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending")["AlarmHistoryItems"]
    assert asc == list(reversed(all_items))
    future = cw.describe_alarm_history(AlarmName=name, StartDate=time.time() + 3600)["AlarmHistoryItems"]
    assert future == []
    cw.delete_alarms(AlarmNames=[name])


def test_set_alarm_state_is_overridden_by_the_next_evaluation(cw, ns):
    name = f"over-{ns[-6:]}"
    cw.put_metric_alarm(**story_alarm(name, ns, Period=10, AlarmActions=[]))
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="forced")
    # No data and TreatMissingData=missing: the next evaluation computes INSUFFICIENT_DATA again.
    a = wait_for(lambda: [x for x in cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
                          if x["StateValue"] == "INSUFFICIENT_DATA"], timeout=20, what="re-evaluation")[0]
    assert a["StateReason"] == "Insufficient Data: 1 datapoint was unknown."
    assert json.loads(a["StateReasonData"])["recentDatapoints"] == []
    cw.delete_alarms(AlarmNames=[name])


def test_enable_disable_actions(cw, ns):
    name = f"act-{ns[-6:]}"
    cw.put_metric_alarm(**story_alarm(name, ns, TreatMissingData="ignore"))
    cw.disable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="quiet")
    time.sleep(2.5)
    assert history(cw, name, HistoryItemType="Action") == []  # disabled: nothing attempted
    cw.enable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is True
    cw.delete_alarms(AlarmNames=[name])


# ---- tags ------------------------------------------------------------------------------------


def test_tags(cw, raw, ns):
    name = f"tag-{ns[-6:]}"
    cw.put_metric_alarm(**story_alarm(name, ns, Tags=[{"Key": "team", "Value": "ops"}]))
    arn = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["AlarmArn"]
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "sre"}])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "sre"}]
    # Tags given on update are ignored (AWS: create only).
    cw.put_metric_alarm(**story_alarm(name, ns, Tags=[{"Key": "x", "Value": "y"}]))
    assert len(cw.list_tags_for_resource(ResourceARN=arn)["Tags"]) == 2
    cw.untag_resource(ResourceARN=arn, TagKeys=["env", "absent"])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "sre"}]
    missing = arn + "-missing"
    code, _, status = error_of(cw.tag_resource, ResourceARN=missing, Tags=[{"Key": "a", "Value": "b"}])
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert error_of(cw.untag_resource, ResourceARN=missing, TagKeys=["a"])[0] == "ResourceNotFoundException"
    assert error_of(raw.tag_resource, ResourceARN=arn, Tags=[{"Key": "", "Value": "b"}])[0] in (
        "MissingParameter", "ValidationError")
    cw.delete_alarms(AlarmNames=[name])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


# ---- composite alarms ------------------------------------------------------------------------


def test_composite_alarms(cw, raw, ns):
    a, b, c, top = (f"{ns[-6:]}-{x}" for x in ("a", "b", "comp", "top"))
    cw.put_metric_alarm(**story_alarm(a, ns, AlarmActions=[], TreatMissingData="ignore"))
    cw.put_metric_alarm(**story_alarm(b, ns, AlarmActions=[], TreatMissingData="ignore"))
    arn_b = cw.describe_alarms(AlarmNames=[b])["MetricAlarms"][0]["AlarmArn"]
    cw.put_composite_alarm(AlarmName=c, AlarmRule=f'ALARM("{a}") AND NOT OK({arn_b})',
                           AlarmDescription="both", Tags=[{"Key": "k", "Value": "v"}])
    cw.put_composite_alarm(AlarmName=top, AlarmRule=f'ALARM("{c}") OR FALSE')
    [comp] = cw.describe_alarms(AlarmNames=[c], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"]
    assert comp["AlarmRule"] == f'ALARM("{a}") AND NOT OK({arn_b})'
    assert comp["AlarmArn"].endswith(f":alarm:{c}")
    assert cw.list_tags_for_resource(ResourceARN=comp["AlarmArn"])["Tags"] == [{"Key": "k", "Value": "v"}]
    # Relations
    assert names(cw.describe_alarms(ChildrenOfAlarmName=c)) == sorted([a, b])
    assert names(cw.describe_alarms(ParentsOfAlarmName=a)) == [c]
    assert names(cw.describe_alarms(ParentsOfAlarmName=c)) == [top]
    # A child change re-evaluates the composite, and its parent in turn.
    cw.set_alarm_state(AlarmName=a, StateValue="ALARM", StateReason="child a")

    def comp_state(n):
        return cw.describe_alarms(AlarmNames=[n], AlarmTypes=["CompositeAlarm"])["CompositeAlarms"][0]

    wait_for(lambda: comp_state(c)["StateValue"] == "ALARM", timeout=10, what="composite ALARM")
    got = comp_state(c)
    assert re.fullmatch(rf"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{a} transitioned to ALARM at .+ UTC",
                        got["StateReason"]), got["StateReason"]
    assert json.loads(got["StateReasonData"])["triggeringAlarms"][0]["state"]["value"] == "ALARM"
    wait_for(lambda: comp_state(top)["StateValue"] == "ALARM", timeout=10, what="parent composite ALARM")
    cw.set_alarm_state(AlarmName=b, StateValue="OK", StateReason="child b")
    wait_for(lambda: comp_state(c)["StateValue"] == "OK", timeout=10, what="composite OK")
    # Without AlarmTypes, AWS returns metric alarms' history only.
    assert history(cw, c, HistoryItemType="StateUpdate") == []
    [h] = [h for h in history(cw, c, HistoryItemType="StateUpdate", AlarmTypes=["CompositeAlarm"])
           if "to ALARM" in h["HistorySummary"]]
    assert h["AlarmType"] == "CompositeAlarm"
    # Refusals: cycles, unknown children, bad rules.
    code, msg, _ = error_of(cw.put_composite_alarm, AlarmName=c, AlarmRule=f'ALARM("{top}")')
    assert code == "InvalidParameterValue" and "cycle" in msg
    code, msg, _ = error_of(cw.put_composite_alarm, AlarmName=f"{ns[-6:]}-x", AlarmRule='ALARM("nope")')
    assert code == "InvalidParameterValue" and "nope" in msg
    for bad in ["ALARM(", "ALARM(a) AND", "alarm(a)", "ALARM(a) XOR OK(b)"]:
        assert error_of(cw.put_composite_alarm, AlarmName=f"{ns[-6:]}-x", AlarmRule=bad)[0] == \
            "InvalidParameterValue", bad
    assert error_of(raw.put_composite_alarm, AlarmName=f"{ns[-6:]}-x")[0] == "MissingParameter"
    assert error_of(cw.put_composite_alarm, AlarmName=a, AlarmRule="TRUE")[0] == "InvalidParameterValue"
    # At most one composite alarm per DeleteAlarms call.
    assert error_of(cw.delete_alarms, AlarmNames=[c, top])[0] == "InvalidParameterValue"
    cw.delete_alarms(AlarmNames=[top])
    cw.delete_alarms(AlarmNames=[c])
    cw.delete_alarms(AlarmNames=[a, b])


# ---- live evaluation, restart ----------------------------------------------------------------


def test_live_evaluation_and_restart(make_server, ns):
    srv = make_server()
    cw = srv.client("cloudwatch")
    name = "cpu-high-10s"
    dims = [{"Name": "host", "Value": "web-1"}]
    cw.put_metric_alarm(AlarmName=name, Namespace=ns, MetricName="cpu", Dimensions=dims, Statistic="Maximum",
                        Period=10, EvaluationPeriods=1, Threshold=50, ComparisonOperator="GreaterThanOrEqualToThreshold",
                        AlarmActions=[TOPIC])
    cw.put_metric_alarm(AlarmName="cpu-math-10s", EvaluationPeriods=1, Threshold=100,
                        ComparisonOperator="GreaterThanThreshold",
                        Metrics=[{"Id": "m1", "ReturnData": False, "MetricStat": {
                            "Metric": {"Namespace": ns, "MetricName": "cpu", "Dimensions": dims},
                            "Period": 10, "Stat": "Maximum"}},
                            {"Id": "e1", "Expression": "m1 * 2"}])

    def put(v):
        cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "cpu", "Dimensions": dims, "Value": v,
                                                      "StorageResolution": 1}])

    def state(n=name):
        return cw.describe_alarms(AlarmNames=[n])["MetricAlarms"][0]

    def feed_until(v, want, n=name, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            put(v)
            a = state(n)
            if a["StateValue"] == want:
                return a
            time.sleep(1)
        raise AssertionError(f"{n} did not reach {want}: {state(n)}")

    a = feed_until(80.0, "ALARM")
    assert re.fullmatch(
        rf"Threshold Crossed: 1 out of the last 1 datapoints \[80\.0 \({REASON_DATE}\)\] was greater than or equal "
        r"to the threshold \(50\.0\) \(minimum 1 datapoint for (INSUFFICIENT_DATA|OK) -> ALARM transition\)\.",
        a["StateReason"]), a["StateReason"]
    data = json.loads(a["StateReasonData"])
    assert data["version"] == "1.0" and data["period"] == 10 and data["threshold"] == 50.0
    assert data["statistic"] == "Maximum" and 80.0 in data["recentDatapoints"]
    assert data["evaluatedDatapoints"][0]["value"] == 80.0
    assert wait_for(lambda: state("cpu-math-10s")["StateValue"] == "ALARM", timeout=20, what="math alarm ALARM")
    a = feed_until(10.0, "OK")
    assert re.fullmatch(
        rf"Threshold Crossed: 1 out of the last 1 datapoints \[10\.0 \({REASON_DATE}\)\] was not greater than or "
        r"equal to the threshold \(50\.0\) \(minimum 1 datapoint for ALARM -> OK transition\)\.",
        a["StateReason"]), a["StateReason"]
    summaries = [h["HistorySummary"] for h in history(cw, name, HistoryItemType="StateUpdate")]
    assert summaries[0] == "Alarm updated from ALARM to OK"
    assert "Alarm updated from INSUFFICIENT_DATA to ALARM" in summaries or \
        "Alarm updated from OK to ALARM" in summaries
    before = history(cw, name)
    # Restart on the same data dir: state and history are still there.
    srv.stop()
    srv.start()
    cw = srv.client("cloudwatch")
    after = history(cw, name)
    assert after[: len(before)] == before or after[-len(before):] == before
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"] in ("OK", "INSUFFICIENT_DATA")
    cw.delete_alarms(AlarmNames=[name, "cpu-math-10s"])
    srv.stop()
    srv.start()
    cw = srv.client("cloudwatch")
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
    kept = history(cw, name)
    assert kept[0]["HistorySummary"] == f'Alarm "{name}" deleted'
    assert {h["HistoryItemType"] for h in kept} >= {"ConfigurationUpdate", "StateUpdate", "Action"}
