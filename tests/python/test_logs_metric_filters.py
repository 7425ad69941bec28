"""Metric filters end to end: PutMetricFilter, PutLogEvents, then the metric in CloudWatch
(GetMetricStatistics), as AWS documents them — a match publishes metricValue (a number, or
`$.field` taken from the event) at the event's timestamp, with the transformation's unit and
dimensions; a non-match publishes defaultValue when one is set and nothing otherwise. Then
crash safety (each event counted exactly once across a SIGKILL right after PutLogEvents
returned) and the full story: an alarm on the filter's metric emails its SNS subscriber
(a real SMTP server) when ERROR lines arrive."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest

from conftest import StratusServer, wait_for
from logs_support import make_stream, now_ms, put, uniq
from notify_support import Relay, confirm_email

WAIT_S = 30.0


def utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)


def totals(cw, ns: str, name: str, start_ms: int, end_ms: int, dims=None, unit: str | None = None) -> dict:
    """Sum, SampleCount, Maximum and Minimum over [start, end) from one-minute datapoints."""
    kw = {}
    if unit:
        kw["Unit"] = unit
    resp = cw.get_metric_statistics(
        Namespace=ns, MetricName=name, Dimensions=dims or [],
        StartTime=utc(start_ms // 60_000 * 60_000), EndTime=utc(end_ms // 60_000 * 60_000 + 120_000), Period=60,
        Statistics=["Sum", "SampleCount", "Maximum", "Minimum"], **kw,
    )
    dps = resp["Datapoints"]
    if not dps:
        return {"Sum": 0.0, "SampleCount": 0.0, "Maximum": None, "Minimum": None, "Units": set()}
    return {
        "Sum": sum(d["Sum"] for d in dps),
        "SampleCount": sum(d["SampleCount"] for d in dps),
        "Maximum": max(d["Maximum"] for d in dps),
        "Minimum": min(d["Minimum"] for d in dps),
        "Units": {d.get("Unit") for d in dps},
    }


def wait_totals(cw, ns, name, start_ms, end_ms, sample_count: float, **kw) -> dict:
    """Waits until the metric has `sample_count` samples, then checks that no more arrive."""
    def reached():
        t = totals(cw, ns, name, start_ms, end_ms, **kw)
        return t if t["SampleCount"] >= sample_count else None

    wait_for(reached, WAIT_S, interval=0.5, what=f"{sample_count} samples of {ns}/{name}")
    time.sleep(2)  # anything emitted twice would show up by now
    return totals(cw, ns, name, start_ms, end_ms, **kw)


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


def test_error_count_from_a_json_filter(logs, cw):
    group, ns = uniq("app"), uniq("App")
    make_stream(logs, group, "s")
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern='{ $.level = "error" }',
        metricTransformations=[{"metricName": "AppErrors", "metricNamespace": ns, "metricValue": "1"}],
    )
    t = now_ms() - 30_000
    put(logs, group, "s", [
        (t, json.dumps({"level": "error", "msg": "a"})),
        (t + 100, json.dumps({"level": "info", "msg": "b"})),
        (t + 200, json.dumps({"level": "error", "msg": "c"})),
        (t + 300, "ERROR but not JSON"),
        (t + 400, json.dumps({"level": "error", "msg": "d"})),
    ])
    got = wait_totals(cw, ns, "AppErrors", t, t + 400, 3)
    assert got["Sum"] == 3.0 and got["SampleCount"] == 3.0
    assert got["Maximum"] == 1.0 and got["Minimum"] == 1.0
    # The metric is listed like any other.
    listed = cw.list_metrics(Namespace=ns)["Metrics"]
    assert [(m["MetricName"], m.get("Dimensions", [])) for m in listed] == [("AppErrors", [])]


def test_value_from_a_field_with_a_dimension_and_unit(logs, cw):
    group, ns = uniq("latency"), uniq("App")
    make_stream(logs, group, "s")
    logs.put_metric_filter(
        logGroupName=group, filterName="latency", filterPattern="{ $.latency > 0 }",
        metricTransformations=[{"metricName": "Latency", "metricNamespace": ns, "metricValue": "$.latency",
                                "unit": "Milliseconds", "dimensions": {"Service": "$.service"}}],
    )
    t = now_ms() - 30_000
    put(logs, group, "s", [
        (t, json.dumps({"service": "api", "latency": 100})),
        (t + 10, json.dumps({"service": "db", "latency": 50})),
        (t + 20, json.dumps({"service": "api", "latency": 300.5})),
        (t + 30, json.dumps({"service": "api", "latency": 0})),  # does not match > 0
    ])
    api = wait_totals(cw, ns, "Latency", t, t + 30, 2, dims=[{"Name": "Service", "Value": "api"}])
    assert api["Sum"] == 400.5 and api["SampleCount"] == 2.0
    assert api["Maximum"] == 300.5 and api["Minimum"] == 100.0
    assert api["Units"] == {"Milliseconds"}
    db = wait_totals(cw, ns, "Latency", t, t + 30, 1, dims=[{"Name": "Service", "Value": "db"}])
    assert db["Sum"] == 50.0 and db["SampleCount"] == 1.0
    # Asked in another unit, nothing.
    assert totals(cw, ns, "Latency", t, t + 30, dims=[{"Name": "Service", "Value": "db"}], unit="Seconds")["SampleCount"] == 0
    dims = sorted(tuple(d["Value"] for d in m["Dimensions"]) for m in cw.list_metrics(Namespace=ns)["Metrics"])
    assert dims == [("api",), ("db",)]


def test_default_value_is_emitted_for_events_that_do_not_match(logs, cw):
    group, ns = uniq("default"), uniq("App")
    make_stream(logs, group, "s")
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": ns, "metricValue": "1",
                                "defaultValue": 0.0}],
    )
    t = now_ms() - 30_000
    put(logs, group, "s", [(t, "INFO a"), (t + 1, "ERROR b"), (t + 2, "WARN c"), (t + 3, "INFO d")])
    got = wait_totals(cw, ns, "Errors", t, t + 3, 4)
    assert got["SampleCount"] == 4.0
    assert got["Sum"] == 1.0
    assert got["Minimum"] == 0.0 and got["Maximum"] == 1.0


def test_events_before_the_filter_existed_are_not_counted(logs, cw):
    group, ns = uniq("before"), uniq("App")
    make_stream(logs, group, "s")
    t = now_ms() - 30_000
    put(logs, group, "s", [(t, "ERROR early")])
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="ERROR",
        metricTransformations=[{"metricName": "Errors", "metricNamespace": ns, "metricValue": "1"}],
    )
    put(logs, group, "s", [(t + 1000, "ERROR late")])
    got = wait_totals(cw, ns, "Errors", t, t + 1000, 1)
    assert got["Sum"] == 1.0 and got["SampleCount"] == 1.0


def test_each_event_counted_once_across_a_kill(make_server):
    srv = make_server()
    logs, cw = srv.client("logs"), srv.client("cloudwatch")
    group, ns = uniq("crash"), uniq("App")
    make_stream(logs, group, "s")
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern='{ $.level = "error" }',
        metricTransformations=[{"metricName": "AppErrors", "metricNamespace": ns, "metricValue": "1"}],
    )
    t = now_ms() - 60_000
    n = 0
    for batch in range(5):
        events = [(t + batch * 100 + i, json.dumps({"level": "error" if i % 2 == 0 else "info", "i": i}))
                  for i in range(20)]
        put(logs, group, "s", events)
        n += 10
    # SIGKILL the moment the last PutLogEvents returned: what was acknowledged must be counted,
    # and counted once.
    srv.kill()
    srv.start()
    logs, cw = srv.client("logs"), srv.client("cloudwatch")
    got = wait_totals(cw, ns, "AppErrors", t, t + 500, n)
    assert got["SampleCount"] == n and got["Sum"] == n
    # The events themselves survived too.
    stored = logs.filter_log_events(logGroupName=group)["events"]
    assert len(stored) == 100
    # A clean restart later changes nothing.
    srv.stop()
    srv.start()
    cw = srv.client("cloudwatch")
    time.sleep(2)
    got = totals(cw, ns, "AppErrors", t, t + 500)
    assert got["SampleCount"] == n and got["Sum"] == n


ADDRESS = "oncall@example.com"


@pytest.fixture
def story(tmp_path):
    from conftest import _RUNNING

    relay = Relay().start()
    srv = StratusServer(tmp_path / "data", env={"STRATUS_SMTP_URL": relay.url})
    srv.start()
    yield srv, relay.inbox
    srv.stop()
    _RUNNING.remove(srv)
    relay.stop()


def test_alarm_on_the_filter_metric_emails_when_errors_appear(story):
    srv, inbox = story
    logs, cw, sns = srv.client("logs"), srv.client("cloudwatch"), srv.client("sns")
    group, ns, alarm = "app", "App", "app-errors"
    make_stream(logs, group, "web")
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="ERROR",
        metricTransformations=[{"metricName": "AppErrors", "metricNamespace": ns, "metricValue": "1"}],
    )
    topic = sns.create_topic(Name="oncall")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=ADDRESS)
    confirm_email(inbox, ADDRESS)
    cw.put_metric_alarm(
        AlarmName=alarm, Namespace=ns, MetricName="AppErrors", Statistic="Sum", Period=10,
        EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching", AlarmActions=[topic],
    )
    # Quiet lines first: no email.
    put(logs, group, "web", [(now_ms(), "INFO all fine")])
    deadline = time.time() + 60
    while time.time() < deadline:
        state = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
        if state == "ALARM":
            break
        put(logs, group, "web", [(now_ms(), "ERROR payment service unreachable")])
        time.sleep(1)
    (a,) = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    assert a["StateValue"] == "ALARM", a
    assert a["StateReason"].startswith("Threshold Crossed")
    subject = f'ALARM: "{alarm}" in US East (N. Virginia)'
    (mail,) = inbox.wait_for(ADDRESS, subject)
    assert str(mail["Subject"]) == subject
