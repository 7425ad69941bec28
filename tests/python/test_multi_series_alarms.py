"""Multi-time-series alarms: an alarm on a Metrics Insights query with GROUP BY and
ORDER BY judges every series as a contributor (ALARM or OK only), is in ALARM while any
contributor is, lists its contributors in ALARM with DescribeAlarmContributors, writes
AlarmContributorStateUpdate / AlarmContributorAction history items (filterable by
AlarmContributorId) and notifies per contributor through SNS.

Runs under both venvs (JSON and, with STRATUS_EXPECT_PROTOCOL=query, the query protocol).
Expected states are computed here from the values the test puts.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timezone

import botocore.exceptions
import pytest

from conftest import wait_for
from notify_support import Webhook, confirmed_http_subscription

HOSTS = {"h-a": 90.0, "h-b": 80.0, "h-c": 10.0}


def utc(t: float) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)


def put_hosts(cw, ns: str, values: dict[str, float]) -> None:
    now = int(time.time())
    data = [
        {"MetricName": "cpu", "Dimensions": [{"Name": "host", "Value": h}], "Timestamp": utc(now - s), "Value": v}
        for s in range(0, 300, 20)
        for h, v in values.items()
    ]
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace=ns, MetricData=data[i : i + 1000])


def grouped(ns: str) -> list[dict]:
    return [
        {
            "Id": "q",
            "Expression": f'SELECT AVG(cpu) FROM SCHEMA("{ns}", host) GROUP BY host ORDER BY AVG() DESC',
            "Period": 60,
        }
    ]


def put_alarm(cw, name: str, ns: str, threshold: float, topic: str | None = None) -> None:
    actions = {"AlarmActions": [topic], "OKActions": [topic]} if topic else {}
    cw.put_metric_alarm(
        AlarmName=name,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        Metrics=grouped(ns),
        **actions,
    )


def contributors(cw, name: str) -> list[dict]:
    out, token = [], None
    while True:
        kw = {"NextToken": token} if token else {}
        page = cw.describe_alarm_contributors(AlarmName=name, **kw)
        out += page["AlarmContributors"]
        token = page.get("NextToken")
        if not token:
            return out


def hosts_of(cs: list[dict]) -> set[str]:
    return {c["ContributorAttributes"]["host"] for c in cs}


def alarm_of(cw, name: str) -> dict:
    (a,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return a


def history(cw, name: str, **kw) -> list[dict]:
    return cw.describe_alarm_history(AlarmName=name, ScanBy="TimestampAscending", **kw)["AlarmHistoryItems"]


def contributor_updates(cw, name: str) -> int:
    pages = cw.get_paginator("describe_alarm_history").paginate(
        AlarmName=name, HistoryItemType="AlarmContributorStateUpdate")
    return sum(len(p["AlarmHistoryItems"]) for p in pages)


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.close()


def notifications(hook: Webhook, path: str) -> list[dict]:
    return [json.loads(json.loads(body)["Message"]) for _, _, body in hook.at(path, "Notification")]


def test_contributors_alarm_notify_and_recover(server, hook):
    cw, sns = server.client("cloudwatch"), server.client("sns")
    ns = f"MTS/{uuid.uuid4().hex[:10]}"
    name = f"{ns}-cpu"
    topic = sns.create_topic(Name=f"mts-{uuid.uuid4().hex[:8]}")["TopicArn"]
    confirmed_http_subscription(sns, hook, topic, "/mts")
    put_hosts(cw, ns, HOSTS)
    put_alarm(cw, name, ns, 50, topic)

    # h-a (90) and h-b (80) breach 50; h-c (10) does not.
    wait_for(lambda: alarm_of(cw, name)["StateValue"] == "ALARM", 30, what="alarm in ALARM")
    a = alarm_of(cw, name)
    assert a["StateReason"] == "2 of 3 contributors in ALARM state.", a["StateReason"]
    cs = contributors(cw, name)
    assert hosts_of(cs) == {"h-a", "h-b"}
    for c in cs:
        assert re.fullmatch(r"[0-9a-f]{16}", c["ContributorId"]), c
        assert c["ContributorAttributes"] == {"host": c["ContributorAttributes"]["host"]}
        value = HOSTS[c["ContributorAttributes"]["host"]]
        assert c["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints ["), c
        assert f"[{value}" in c["StateReason"], c
        assert abs(c["StateTransitionedTimestamp"].timestamp() - time.time()) < 60
    ids = {c["ContributorAttributes"]["host"]: c["ContributorId"] for c in cs}

    # History: one contributor item per transition, named and filterable.
    items = history(cw, name, HistoryItemType="AlarmContributorStateUpdate")
    assert sorted(i["AlarmContributorAttributes"]["host"] for i in items) == ["h-a", "h-b"]
    for i in items:
        assert i["HistorySummary"] == "Alarm contributor updated from OK to ALARM"
        assert i["AlarmContributorId"] == ids[i["AlarmContributorAttributes"]["host"]]
        data = json.loads(i["HistoryData"])
        assert (data["oldState"]["stateValue"], data["newState"]["stateValue"]) == ("OK", "ALARM")
    only_a = history(cw, name, AlarmContributorId=ids["h-a"])
    assert only_a and {i["AlarmContributorId"] for i in only_a} == {ids["h-a"]}
    # The alarm's own StateUpdate carries no contributor.
    (state_update,) = history(cw, name, HistoryItemType="StateUpdate")
    assert "AlarmContributorId" not in state_update

    # Notifications: the alarm's own, and one per contributor naming it.
    hook.wait_for("/mts", "Notification", count=3)
    msgs = notifications(hook, "/mts")
    by_contributor = {m.get("AlarmContributorAttributes", {}).get("host"): m for m in msgs}
    assert set(by_contributor) == {None, "h-a", "h-b"}, msgs
    assert by_contributor[None]["NewStateValue"] == "ALARM"
    for h in ("h-a", "h-b"):
        m = by_contributor[h]
        assert m["AlarmContributorId"] == ids[h]
        assert m["NewStateValue"] == "ALARM" and m["OldStateValue"] == "OK"
        assert m["NewStateReason"].startswith("Threshold Crossed"), m
    # Each contributor notification was recorded as a contributor action.
    wait_for(lambda: len(history(cw, name, HistoryItemType="AlarmContributorAction")) == 2, 30,
             what="two AlarmContributorAction items")
    acts = history(cw, name, HistoryItemType="AlarmContributorAction")
    assert {i["AlarmContributorId"] for i in acts} == {ids["h-a"], ids["h-b"]}
    assert all(i["HistorySummary"].startswith("Successfully executed action") for i in acts), acts

    # A higher threshold (85): h-b recovers, the alarm stays in ALARM on h-a.
    put_alarm(cw, name, ns, 85, topic)
    wait_for(lambda: hosts_of(contributors(cw, name)) == {"h-a"}, 30, what="only h-a in ALARM")
    assert alarm_of(cw, name)["StateValue"] == "ALARM"
    wait_for(lambda: alarm_of(cw, name)["StateReason"] == "1 of 3 contributors in ALARM state.", 30,
             what="reason naming one contributor")
    back = [i for i in history(cw, name, HistoryItemType="AlarmContributorStateUpdate")
            if i["HistorySummary"].endswith("from ALARM to OK")]
    assert [i["AlarmContributorId"] for i in back] == [ids["h-b"]]
    hook.wait_for("/mts", "Notification", count=4)
    ok = [m for m in notifications(hook, "/mts") if m["NewStateValue"] == "OK"]
    assert [m["AlarmContributorAttributes"] for m in ok] == [{"host": "h-b"}]

    # Above every host: all contributors recover and so does the alarm.
    put_alarm(cw, name, ns, 95, topic)
    wait_for(lambda: alarm_of(cw, name)["StateValue"] == "OK", 30, what="alarm back to OK")
    assert contributors(cw, name) == []
    assert alarm_of(cw, name)["StateReason"] == "0 of 3 contributors in ALARM state."

    cw.delete_alarms(AlarmNames=[name])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.describe_alarm_contributors(AlarmName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_contributors_page_and_survive_kill_9(make_server):
    server = make_server()
    cw = server.client("cloudwatch")
    ns = f"MTS/{uuid.uuid4().hex[:10]}"
    name = f"{ns}-fleet"
    fleet = {f"h-{k:03d}": 60.0 + k % 7 for k in range(130)}
    put_hosts(cw, ns, fleet)
    put_alarm(cw, name, ns, 50)
    wait_for(lambda: alarm_of(cw, name)["StateValue"] == "ALARM", 60, what="fleet alarm in ALARM")

    first = cw.describe_alarm_contributors(AlarmName=name)
    assert len(first["AlarmContributors"]) == 100 and first.get("NextToken")
    second = cw.describe_alarm_contributors(AlarmName=name, NextToken=first["NextToken"])
    assert len(second["AlarmContributors"]) == 30 and not second.get("NextToken")
    all_ids = [c["ContributorId"] for c in first["AlarmContributors"] + second["AlarmContributors"]]
    assert len(set(all_ids)) == 130 and all_ids == sorted(all_ids)
    assert hosts_of(first["AlarmContributors"] + second["AlarmContributors"]) == set(fleet)
    assert contributor_updates(cw, name) == 130

    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.describe_alarm_contributors(AlarmName=name, NextToken="not-a-token")
    assert e.value.response["Error"]["Code"] == "InvalidNextToken"

    # kill -9: the contributors and their history are durable, and the evaluation after the
    # restart finds them in ALARM already, so nothing transitions twice.
    server.restart(kill=True)
    cw = server.client("cloudwatch")
    again = contributors(cw, name)
    assert sorted(c["ContributorId"] for c in again) == sorted(all_ids)
    # A redefinition with the same query keeps the contributors and is evaluated at once.
    put_alarm(cw, name, ns, 51)
    time.sleep(3)
    assert alarm_of(cw, name)["StateReason"] == "130 of 130 contributors in ALARM state."
    assert contributor_updates(cw, name) == 130


def test_grouped_alarm_rules(cw):
    ns = f"MTS/{uuid.uuid4().hex[:10]}"
    base = dict(EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold")

    def refused(metrics) -> str:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            cw.put_metric_alarm(AlarmName=f"bad-{uuid.uuid4().hex[:8]}", Metrics=metrics, **base)
        err = e.value.response["Error"]
        assert err["Code"] == "ValidationError", err
        return err["Message"]

    msg = refused([{"Id": "q", "Expression": f'SELECT MAX(cpu) FROM "{ns}" GROUP BY host', "Period": 60}])
    assert "Metrics.member.1.Expression" in msg and "ORDER BY" in msg, msg
    msg = refused([
        {"Id": "q", "Expression": grouped(ns)[0]["Expression"], "Period": 60, "ReturnData": False},
        {"Id": "e", "Expression": "q * 2"},
    ])
    assert "Metrics.member.1.Expression" in msg and "only metric" in msg, msg

    # A plain metric alarm has no contributors; an unknown alarm is not found.
    name = f"{ns}-plain"
    cw.put_metric_alarm(AlarmName=name, MetricName="cpu", Namespace=ns, Statistic="Average", Period=60, **base)
    assert cw.describe_alarm_contributors(AlarmName=name)["AlarmContributors"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.describe_alarm_contributors(AlarmName=f"{ns}-missing")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.describe_alarm_history(AlarmContributorId="x" * 17)
    assert e.value.response["Error"]["Code"] == "ValidationError"
    cw.delete_alarms(AlarmNames=[name])
