"""DescribeAlarmHistory and DescribeAlarmsForMetric, filter by filter and page by
page, as botocore's CloudWatch model and AWS's documentation describe them
(awsJson1_0, and awsQuery in the query run)."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from botocore.exceptions import ClientError

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"
ITEM_KEYS = ["AlarmName", "AlarmType", "Timestamp", "HistoryItemType", "HistorySummary", "HistoryData"]
MS = dt.timedelta(milliseconds=1)


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as ei:
        call(**kwargs)
    err = ei.value.response["Error"]
    return err["Code"], err.get("Message", "")


def metric_alarm(name: str, ns: str, **extra) -> dict:
    args = dict(AlarmName=name, MetricName="latency", Namespace=ns, Statistic="Average",
                Dimensions=[{"Name": "host", "Value": "web-1"}, {"Name": "az", "Value": "a"}],
                Period=60, EvaluationPeriods=1, Threshold=5.0, ComparisonOperator="GreaterThanThreshold",
                # No data keeps the state, so evaluations add no StateUpdate items of their own.
                TreatMissingData="ignore")
    args.update(extra)
    return args


def all_pages(cw, **kw) -> list[dict]:
    return [i for p in cw.get_paginator("describe_alarm_history").paginate(**kw) for i in p["AlarmHistoryItems"]]


def ids(items) -> list[tuple]:
    return [(i["AlarmName"], i["Timestamp"], i["HistorySummary"]) for i in items]


@pytest.fixture(scope="module")
def raw(server):
    """A client that sends what it is given, to reach the server's own validation."""
    return server.client("cloudwatch", parameter_validation=False)


@pytest.fixture(scope="module")
def alarms(server):
    """A metric alarm with three state changes and a composite alarm over it."""
    cw = server.client("cloudwatch")
    ns = "Test/history"
    cw.put_metric_alarm(**metric_alarm("hist-m", ns, ActionsEnabled=False))
    time.sleep(0.005)
    cw.put_metric_alarm(**metric_alarm("hist-m", ns, ActionsEnabled=False, Threshold=6.0))  # an update
    cw.put_composite_alarm(AlarmName="hist-c", AlarmRule='ALARM("hist-m")', ActionsEnabled=False)
    for v in ("ALARM", "OK", "ALARM"):
        time.sleep(0.005)  # items of one millisecond have no defined order
        cw.set_alarm_state(AlarmName="hist-m", StateValue=v, StateReason=f"to {v}")
    return ns


def test_alarm_types_default_to_metric_alarms_only(cw, alarms):
    # AWS: "If you omit this parameter, only metric alarms are returned."
    assert cw.describe_alarm_history(AlarmName="hist-c")["AlarmHistoryItems"] == []
    comp = all_pages(cw, AlarmName="hist-c", AlarmTypes=["CompositeAlarm"])
    assert comp and {i["AlarmType"] for i in comp} == {"CompositeAlarm"}
    assert {i["AlarmType"] for i in all_pages(cw)} == {"MetricAlarm"}
    both = all_pages(cw, AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert {i["AlarmType"] for i in both} == {"MetricAlarm", "CompositeAlarm"}
    assert all_pages(cw, AlarmTypes=["LogAlarm"]) == []
    code, msg = error_of(cw.describe_alarm_history, AlarmTypes=["Nope"])
    assert code == "ValidationError"
    assert msg == ("1 validation error detected: Value 'Nope' at 'alarmTypes.1.member' failed to satisfy "
                   "constraint: Member must satisfy enum value set: [CompositeAlarm, MetricAlarm, LogAlarm]")


def test_item_types_and_history_data(cw, alarms):
    items = all_pages(cw, AlarmName="hist-m", ScanBy="TimestampAscending")
    assert [i["HistoryItemType"] for i in items] == ["ConfigurationUpdate"] * 2 + ["StateUpdate"] * 3
    for i in items:
        assert list(i) == ITEM_KEYS  # field order as AWS sends them
        assert i["AlarmName"] == "hist-m" and i["AlarmType"] == "MetricAlarm"
    created, updated = (json.loads(i["HistoryData"]) for i in items[:2])
    assert list(created) == ["version", "type", "createdAlarm"]
    assert (created["version"], created["type"]) == ("1.0", "Create")
    assert list(created["createdAlarm"])[:3] == ["AlarmName", "AlarmArn", "AlarmConfigurationUpdatedTimestamp"]
    assert created["createdAlarm"]["AlarmName"] == "hist-m" and created["createdAlarm"]["Threshold"] == 5.0
    assert (updated["type"], updated["updatedAlarm"]["Threshold"]) == ("Update", 6.0)
    assert items[0]["HistorySummary"] == 'Alarm "hist-m" created'
    assert items[1]["HistorySummary"] == 'Alarm "hist-m" updated'
    # The AWS-recorded StateUpdate document.
    first = json.loads(items[2]["HistoryData"])
    assert list(first) == ["version", "oldState", "newState"]
    assert first["oldState"] == {"stateValue": "INSUFFICIENT_DATA", "stateReason": "Unchecked: Initial alarm creation"}
    assert first["newState"] == {"stateValue": "ALARM", "stateReason": "to ALARM"}
    assert list(first["oldState"]) == list(first["newState"]) == ["stateValue", "stateReason"]
    assert items[2]["HistorySummary"] == "Alarm updated from INSUFFICIENT_DATA to ALARM"
    for t, n in (("ConfigurationUpdate", 2), ("StateUpdate", 3), ("Action", 0)):
        got = all_pages(cw, AlarmName="hist-m", HistoryItemType=t)
        assert len(got) == n and {i["HistoryItemType"] for i in got} <= {t}
    # Contributor items belong to multi-time-series alarms (test_multi_series_alarms.py):
    # on a single-metric alarm these are valid filters that match nothing.
    for t in ("AlarmContributorStateUpdate", "AlarmContributorAction"):
        assert cw.describe_alarm_history(AlarmName="hist-m", HistoryItemType=t)["AlarmHistoryItems"] == []
    assert cw.describe_alarm_history(AlarmName="hist-m", AlarmContributorId="c1")["AlarmHistoryItems"] == []
    assert error_of(cw.describe_alarm_history, HistoryItemType="Nope") == (
        "ValidationError",
        "1 validation error detected: Value 'Nope' at 'historyItemType' failed to satisfy constraint: Member must "
        "satisfy enum value set: [ConfigurationUpdate, StateUpdate, Action, AlarmContributorStateUpdate, "
        "AlarmContributorAction]")


def test_contributor_id_length(raw, alarms):
    assert error_of(raw.describe_alarm_history, AlarmContributorId="x" * 17) == (
        "ValidationError",
        f"1 validation error detected: Value '{'x' * 17}' at 'alarmContributorId' failed to satisfy constraint: "
        "Member must have length less than or equal to 16")


def test_dates_are_inclusive(cw, alarms):
    items = all_pages(cw, AlarmName="hist-m", HistoryItemType="StateUpdate", ScanBy="TimestampAscending")
    t = items[1]["Timestamp"]
    exact = cw.describe_alarm_history(AlarmName="hist-m", StartDate=t, EndDate=t)["AlarmHistoryItems"]
    assert items[1]["HistorySummary"] in [i["HistorySummary"] for i in exact]
    assert all(i["Timestamp"] == t for i in exact)
    after = all_pages(cw, AlarmName="hist-m", StartDate=t + MS)
    assert all(i["Timestamp"] > t for i in after) and items[2]["Timestamp"] in [i["Timestamp"] for i in after]
    before = all_pages(cw, AlarmName="hist-m", EndDate=t - MS)
    assert before and all(i["Timestamp"] < t for i in before)
    code, _ = error_of(cw.describe_alarm_history, StartDate=t, EndDate=t - MS)
    assert code == "InvalidParameterValue"


def test_scan_order(cw, alarms):
    desc = all_pages(cw, AlarmName="hist-m")  # TimestampDescending is the default
    assert [i["Timestamp"] for i in desc] == sorted((i["Timestamp"] for i in desc), reverse=True)
    assert ids(all_pages(cw, AlarmName="hist-m", ScanBy="TimestampDescending")) == ids(desc)
    assert ids(all_pages(cw, AlarmName="hist-m", ScanBy="TimestampAscending")) == ids(desc)[::-1]
    code, msg = error_of(cw.describe_alarm_history, ScanBy="Sideways")
    assert (code, msg) == ("ValidationError",
                           "1 validation error detected: Value 'Sideways' at 'scanBy' failed to satisfy constraint: "
                           "Member must satisfy enum value set: [TimestampDescending, TimestampAscending]")


def test_max_records_range(raw, alarms):
    for bad, rule in ((0, "greater than or equal to 1"), (101, "less than or equal to 100")):
        assert error_of(raw.describe_alarm_history, MaxRecords=bad) == (
            "ValidationError",
            f"1 validation error detected: Value '{bad}' at 'maxRecords' failed to satisfy constraint: "
            f"Member must have value {rule}")
    assert len(raw.describe_alarm_history(MaxRecords=1)["AlarmHistoryItems"]) == 1
    assert len(raw.describe_alarm_history(MaxRecords=100)["AlarmHistoryItems"]) <= 100


def test_paging_is_stable_under_new_history(cw, alarms):
    cw.put_metric_alarm(**metric_alarm("hist-p", alarms, ActionsEnabled=False))
    for n in range(5):
        time.sleep(0.005)
        cw.set_alarm_state(AlarmName="hist-p", StateValue=("ALARM", "OK")[n % 2], StateReason=f"r{n}")
    for n, scan in enumerate(("TimestampDescending", "TimestampAscending")):
        before = all_pages(cw, AlarmName="hist-p", ScanBy=scan)
        assert len(before) == 6 + 2 * n, [i["HistorySummary"] for i in before]
        page = cw.describe_alarm_history(AlarmName="hist-p", ScanBy=scan, MaxRecords=2)
        got = page["AlarmHistoryItems"]
        # New history arrives between pages.
        cw.set_alarm_state(AlarmName="hist-p", StateValue="INSUFFICIENT_DATA", StateReason=f"new {scan}")
        time.sleep(0.005)
        cw.set_alarm_state(AlarmName="hist-p", StateValue="OK", StateReason=f"newer {scan}")
        while "NextToken" in page:
            page = cw.describe_alarm_history(AlarmName="hist-p", ScanBy=scan, MaxRecords=2,
                                             NextToken=page["NextToken"])
            assert len(page["AlarmHistoryItems"]) <= 2
            got += page["AlarmHistoryItems"]
        if scan == "TimestampDescending":
            assert ids(got) == ids(before)  # newer items are above the first page: not repeated, not mixed in
        else:
            assert ids(got[:-2]) == ids(before)  # newer items come last
            assert [i["HistorySummary"] for i in got[-2:]] == ["Alarm updated from OK to INSUFFICIENT_DATA",
                                                             "Alarm updated from INSUFFICIENT_DATA to OK"]


def test_invalid_next_token(cw, alarms):
    forged = "sa1-" + "x".encode().hex()  # our token format around a key we never handed out
    for token in ("bogus", forged):
        assert error_of(cw.describe_alarm_history, NextToken=token) == (
            "InvalidNextToken", "The service returned an invalid NextToken.")


# ---- DescribeAlarmsForMetric ------------------------------------------------------------------


def for_metric(cw, ns, **kw) -> list[str]:
    args = dict(MetricName="latency", Namespace=ns)
    args.update(kw)
    return sorted(a["AlarmName"] for a in cw.describe_alarms_for_metric(**args)["MetricAlarms"])


def test_alarms_for_metric_filters(cw, ns):
    dims = [{"Name": "host", "Value": "web-1"}, {"Name": "az", "Value": "a"}]
    cw.put_metric_alarm(**metric_alarm("avg60", ns))
    cw.put_metric_alarm(**metric_alarm("max300", ns, Statistic="Maximum", Period=300, Unit="Milliseconds"))
    p99 = metric_alarm("p99", ns)
    del p99["Statistic"]
    cw.put_metric_alarm(**p99, ExtendedStatistic="p99")
    cw.put_metric_alarm(**metric_alarm("one-dim", ns, Dimensions=dims[:1]))
    cw.put_metric_alarm(AlarmName="math", EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                        Metrics=[{"Id": "m1", "ReturnData": False, "MetricStat": {
                            "Metric": {"Namespace": ns, "MetricName": "latency", "Dimensions": dims},
                            "Period": 60, "Stat": "Average"}},
                                 {"Id": "e1", "Expression": "m1 * 2", "ReturnData": True}])
    cw.put_composite_alarm(AlarmName=f"comp-{ns}", AlarmRule='ALARM("avg60")')
    every = ["avg60", "max300", "one-dim", "p99"]
    assert for_metric(cw, ns) == every  # only standard alarms: not "math", not the composite
    # Dimensions: the exact set, in any order.
    assert for_metric(cw, ns, Dimensions=dims[::-1]) == ["avg60", "max300", "p99"]
    assert for_metric(cw, ns, Dimensions=dims[:1]) == ["one-dim"]
    assert for_metric(cw, ns, Dimensions=[{"Name": "host", "Value": "web-2"}]) == []
    assert for_metric(cw, ns, Statistic="Average") == ["avg60", "one-dim"]
    assert for_metric(cw, ns, ExtendedStatistic="p99") == ["p99"]
    assert for_metric(cw, ns, ExtendedStatistic="p50") == []
    assert for_metric(cw, ns, Period=300) == ["max300"]
    assert for_metric(cw, ns, Unit="Milliseconds") == ["max300"]
    assert for_metric(cw, ns, Unit="Seconds") == []
    assert for_metric(cw, ns, Statistic="Maximum", Period=300, Unit="Milliseconds", Dimensions=dims) == ["max300"]
    assert for_metric(cw, ns, MetricName="other") == []
    # The same MetricAlarm documents DescribeAlarms returns.
    described = {a["AlarmName"]: a for a in cw.describe_alarms(AlarmNames=every)["MetricAlarms"]}
    for a in cw.describe_alarms_for_metric(MetricName="latency", Namespace=ns)["MetricAlarms"]:
        assert a == described[a["AlarmName"]]
        assert list(a) == list(described[a["AlarmName"]])
    cw.delete_alarms(AlarmNames=[f"comp-{ns}"])
    cw.delete_alarms(AlarmNames=every + ["math"])


def test_alarms_for_metric_refusals(raw, ns):
    code, msg = error_of(raw.describe_alarms_for_metric, Namespace=ns)
    assert code in ("ValidationError", "MissingParameter") and ("MetricName" in msg or "metricName" in msg)
    code, msg = error_of(raw.describe_alarms_for_metric, MetricName="m")
    assert code in ("ValidationError", "MissingParameter") and ("Namespace" in msg or "namespace" in msg)
    assert error_of(raw.describe_alarms_for_metric, MetricName="m", Namespace=ns, Statistic="Average",
                    ExtendedStatistic="p99") == (
        "InvalidParameterCombination",
        "The parameters Statistic and ExtendedStatistic are mutually exclusive and you have specified both.")
    assert error_of(raw.describe_alarms_for_metric, MetricName="m", Namespace=ns, Period=0) == (
        "ValidationError",
        "1 validation error detected: Value '0' at 'period' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")
    assert error_of(raw.describe_alarms_for_metric, MetricName="m", Namespace=ns, Statistic="Median")[0] == (
        "ValidationError")
    assert error_of(raw.describe_alarms_for_metric, MetricName="m", Namespace=ns, ExtendedStatistic="p101")[0] in (
        "InvalidParameterValue", "ValidationError")
    assert error_of(raw.describe_alarms_for_metric, MetricName="m", Namespace=ns, Unit="Parsecs")[0] == (
        "ValidationError")
