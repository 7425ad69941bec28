"""axe-core on every console page, in the light and the dark theme: no `serious` or `critical`
violation. axe.min.js comes from the npm registry, pinned in .ci/run (target/axe/...); set
AXE_JS to use another copy.

Screenshots go to target/test-artifacts/console/ (a11y-*).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from urllib.parse import quote

import pytest

from conftest import REPO, wait_for

pytest.importorskip("selenium")

from test_console import browser, css, go, login, shot, until  # noqa: E402,F401  (browser: a fixture)

AXE_JS = os.environ.get("AXE_JS") or str(REPO / "target" / "axe" / "node_modules" / "axe-core" / "axe.min.js")
BLOCKING = ("serious", "critical")


def axe_source() -> str:
    if not os.path.exists(AXE_JS):
        pytest.fail(f"{AXE_JS} is missing: npm install --prefix target/axe axe-core@4.14.1 (as .ci/run does)")
    with open(AXE_JS, encoding="utf-8") as f:
        return f.read()


def violations(drv, src: str) -> list[dict]:
    """axe's serious/critical violations on the page as it is now (each with the offending nodes)."""
    if not drv.execute_script("return !!window.axe"):
        drv.execute_script(src)
    found = drv.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] })
          .then((r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => n.target.join(' ') + ' :: ' + n.failureSummary).slice(0, 5) }))))
          .catch((e) => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));""")
    return [v for v in found if v["impact"] in BLOCKING]


def seed(server) -> dict:
    cw, sns, logs = server.client("cloudwatch"), server.client("sns"), server.client("logs")
    ns = f"A11y/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "InstanceId", "Value": "i-a11y"}]
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "cpu", "Dimensions": dims, "Value": 10.0 + i, "Unit": "Percent",
                                                  "Timestamp": now - dt.timedelta(minutes=30 - i)} for i in range(30)])
    topic = sns.create_topic(Name=f"a11y-{uuid.uuid4().hex[:6]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a11y@example.com")
    alarm = f"a11y-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=alarm, Namespace=ns, MetricName="cpu", Dimensions=dims, Statistic="Average", Period=60,
                        EvaluationPeriods=2, Threshold=30.0, ComparisonOperator="GreaterThanThreshold", AlarmActions=[topic])
    arn = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    dash = f"a11y-{uuid.uuid4().hex[:6]}"
    cw.put_dashboard(DashboardName=dash, DashboardBody=json.dumps({"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "title": "cpu", "stat": "Average", "period": 60, "view": "timeSeries", "metrics": [[ns, "cpu", "InstanceId", "i-a11y"]]}},
        {"type": "metric", "x": 12, "y": 0, "width": 6, "height": 3, "properties": {
            "title": "latest cpu", "view": "singleValue", "stat": "Maximum", "period": 60, "metrics": [[ns, "cpu", "InstanceId", "i-a11y"]]}},
        {"type": "alarm", "x": 18, "y": 0, "width": 6, "height": 3, "properties": {"title": "Alarms", "alarms": [arn]}},
        {"type": "text", "x": 0, "y": 6, "width": 12, "height": 3, "properties": {"markdown": "# Notes\n\nSome *text*."}},
    ]}))
    group = f"/a11y/{uuid.uuid4().hex[:6]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    logs.put_log_events(logGroupName=group, logStreamName="s1",
                        logEvents=[{"timestamp": int(now.timestamp() * 1000) - 1000 * i, "message": f"line {i}"} for i in range(5, 0, -1)])
    metric = {"Namespace": ns, "MetricName": "cpu", "Dimensions": dims}
    rule = f"a11y-{uuid.uuid4().hex[:6]}"
    cw.put_insight_rule(RuleName=rule, RuleDefinition=json.dumps({
        "Schema": {"Name": "CloudWatchLogRule", "Version": 1}, "LogGroupNames": [group], "LogFormat": "JSON",
        "Contribution": {"Keys": ["$.ip"]}, "AggregateOn": "Count"}))
    # A multi-time-series alarm (grouped Metrics Insights query) with a contributor in ALARM.
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "load", "Dimensions": [{"Name": "host", "Value": h}], "Value": v,
                                                  "Timestamp": now - dt.timedelta(minutes=m)}
                                                 for h, v in (("h-hot", 90.0), ("h-cold", 10.0)) for m in range(1, 4)])
    grouped = f"a11y-mts-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=grouped, EvaluationPeriods=1, Threshold=50.0, ComparisonOperator="GreaterThanThreshold",
                        Metrics=[{"Id": "q", "Period": 60,
                                  "Expression": f'SELECT AVG(load) FROM SCHEMA("{ns}", host) GROUP BY host ORDER BY AVG() DESC'}])
    wait_for(lambda: cw.describe_alarm_contributors(AlarmName=grouped)["AlarmContributors"], 30, what="a contributor in ALARM")
    return {"ns": ns, "alarm": alarm, "grouped": grouped, "dash": dash, "group": group, "metric": metric, "rule": rule}


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_no_serious_or_critical_axe_violations(server, browser, theme):
    drv = browser
    drv.set_window_size(1440, 1000)
    src = axe_source()
    s = seed(server)
    drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": theme}]})
    login(drv, server)
    drv.execute_script("sessionStorage.setItem('stratus.selection', JSON.stringify([arguments[0]]))", s["metric"])
    drawn = ".chart[data-points]"
    pages = [
        ("overview", "#/", "#hosts-count"),
        ("metrics-graph", "#/metrics/" + quote(s["ns"], safe="") + "/InstanceId", drawn),
        ("alarms", "#/alarms", f"tr[data-alarm='{s['alarm']}']"),
        ("alarm", f"#/alarms/{s['alarm']}", drawn),
        ("alarm-contributors", f"#/alarms/{s['grouped']}", "#alarm-contributors-table tbody tr"),
        ("create-alarm", "#/create-alarm", "#create-alarm-form"),
        ("dashboards", "#/dashboards", "main table, main ul, main .empty"),
        ("dashboard", f"#/dashboards/{s['dash']}", drawn),
        ("logs", "#/logs", "#log-groups"),
        ("log-group", "#/logs/" + quote(s["group"], safe=""), "main table"),
        ("insights", "#/insights", "main textarea"),
        ("topics", "#/topics", "main table"),
        ("streams", "#/streams", "#stream-form"),
        ("contributors", "#/contributors", "#rules-table"),
        ("contributor-rule", f"#/contributors/{s['rule']}", "#rule-summary"),
        ("mailbox", "#/mailbox", "#mail-table"),
        ("keys", "#/keys", "main table"),
    ]
    problems = {}
    for name, route, ready in pages:
        go(drv, route)
        until(drv, lambda d: css(d, ready), f"{name} ready")
        if ready == drawn:  # the Table view too
            drv.find_element("css selector", ".chart .table-toggle").click()
        found = violations(drv, src)
        if found:
            problems[name] = found
        shot(drv, f"a11y-{theme}-{name}")
    assert not problems, json.dumps(problems, indent=1)
