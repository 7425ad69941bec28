"""The console shows issue 16's capabilities: metric streams (#/streams), Contributor Insights
(#/contributors), the anomaly band on the metrics graph and a band alarm's page, and the
topics page's type, tags and policies. Headless Chromium against the real server; what the
pages show is checked against what boto3 reads back.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from urllib.parse import quote

import pytest

pytest.importorskip("selenium")

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, shot, until  # noqa: E402,F401  (browser: a fixture)

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/streams"


def firehose(name: str) -> str:
    return f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"


def uniq(p: str) -> str:
    return f"{p}-{uuid.uuid4().hex[:8]}"


def record_requests(drv) -> None:
    """Keeps every console API request body in window.__bodies (the page's own fetch, wrapped)."""
    drv.execute_script("""
      if (window.__bodies) return;
      window.__bodies = [];
      const orig = window.fetch;
      window.fetch = (url, init) => { if (init && init.body) window.__bodies.push(String(url) + ' ' + init.body); return orig(url, init); };""")


def test_metric_streams_page(make_server, browser):
    srv = make_server(start=False)
    srv.extra_args = ["--firehose", "ds-ui=http://127.0.0.1:9/ds-ui"]
    srv.start()
    cw = srv.client("cloudwatch")
    drv = browser
    login(drv, srv)
    go(drv, "#/streams")
    until(drv, lambda d: css(d, "#streams-empty"), "no streams yet")

    # A refused create: the server's own message, inline, and nothing created.
    bad = firehose("not-mapped")
    with pytest.raises(Exception) as ei:
        cw.put_metric_stream(Name="x", FirehoseArn=bad, RoleArn=ROLE, OutputFormat="json")
    server_msg = ei.value.response["Error"]["Message"]
    assert server_msg
    drv.find_element(By.ID, "stream-name").send_keys("refused")
    drv.find_element(By.ID, "stream-firehose").send_keys(bad)
    drv.find_element(By.ID, "stream-role").send_keys(ROLE)
    drv.find_element(By.CSS_SELECTOR, "#stream-form button[type=submit]").click()
    shown = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, "#stream-form-error .error").text, "refusal shown")
    assert server_msg in shown
    assert cw.list_metric_streams()["Entries"] == []

    # Create with include filters, OpenTelemetry format.
    name = uniq("ui-stream")
    for el, text in (("stream-name", name), ("stream-firehose", firehose("ds-ui"))):
        drv.find_element(By.ID, el).clear()
        drv.find_element(By.ID, el).send_keys(text)
    Select(drv.find_element(By.ID, "stream-format")).select_by_value("opentelemetry1.0")
    drv.find_element(By.ID, "stream-filters").send_keys("AWS/EC2\nMyApp: Latency, Errors")
    drv.find_element(By.ID, "stream-percentiles").send_keys("p99, p50")
    drv.find_element(By.CSS_SELECTOR, "#stream-form button[type=submit]").click()
    row = f"tr[data-stream='{name}']"
    until(drv, lambda d: css(d, row), "stream listed")
    got = cw.get_metric_stream(Name=name)
    assert got["OutputFormat"] == "opentelemetry1.0" and got["FirehoseArn"] == firehose("ds-ui")
    assert got["IncludeFilters"] == [{"Namespace": "AWS/EC2", "MetricNames": []}, {"Namespace": "MyApp", "MetricNames": ["Latency", "Errors"]}] \
        or got["IncludeFilters"] == [{"Namespace": "AWS/EC2"}, {"Namespace": "MyApp", "MetricNames": ["Latency", "Errors"]}]
    assert got["StatisticsConfigurations"] == [{"IncludeMetrics": [{"Namespace": "MyApp", "MetricName": "Latency"}, {"Namespace": "MyApp", "MetricName": "Errors"}],
                                                "AdditionalStatistics": ["p99", "p50"]}]
    text = css(drv, row).text
    assert "running" in text and "MyApp: Latency, Errors" in text and "opentelemetry1.0" in text
    assert "+ p99, p50 for MyApp/Latency, MyApp/Errors" in text
    shot(drv, "parity-streams")

    drv.execute_script("window.confirm = () => true")
    css(drv, f"{row} .stream-stop").click()
    until(drv, lambda d: css(d, f"tr[data-stream='{name}'][data-state='stopped']"), "stopped")
    assert [e["State"] for e in cw.list_metric_streams()["Entries"]] == ["stopped"]
    css(drv, f"{row} .stream-start").click()
    until(drv, lambda d: css(d, f"tr[data-stream='{name}'][data-state='running']"), "running again")
    assert [e["State"] for e in cw.list_metric_streams()["Entries"]] == ["running"]
    css(drv, f"{row} .stream-delete").click()
    until(drv, lambda d: css(d, "#streams-empty"), "deleted")
    assert cw.list_metric_streams()["Entries"] == []


def test_contributor_insights_page(server, browser):
    cw, logs = server.client("cloudwatch"), server.client("logs")
    group, rule = f"/parity/{uuid.uuid4().hex[:8]}", uniq("rule")
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    drv = browser
    login(drv, server)
    go(drv, "#/contributors")
    area = until(drv, lambda d: d.find_element(By.ID, "rule-definition"), "rule form")
    example = json.loads(area.get_attribute("value"))
    assert example["Schema"] == {"Name": "CloudWatchLogRule", "Version": 1}
    example["LogGroupNames"] = [group]
    area.clear()
    area.send_keys(json.dumps(example))
    drv.find_element(By.ID, "rule-name").send_keys(rule)
    drv.find_element(By.CSS_SELECTOR, "#rule-form button[type=submit]").click()
    until(drv, lambda d: css(d, "#rule-report"), "rule page")
    assert [r["Name"] for r in cw.describe_insight_rules()["InsightRules"] if r["Name"] == rule] == [rule]

    # Events after the rule exists: 10.0.0.2 sends the most bytes; a 404 does not count.
    t = int(time.time() * 1000) - 5 * 60_000
    rows = [("10.0.0.1", 200, 100), ("10.0.0.2", 200, 400), ("10.0.0.2", 201, 50), ("10.0.0.3", 200, 30), ("10.0.0.9", 404, 9999)]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": t + i, "message": json.dumps({"client": {"ip": ip}, "status": st, "bytes": b})} for i, (ip, st, b) in enumerate(rows)])
    go(drv, f"#/contributors/{quote(rule)}?range=3600")
    first = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, "#contributors-table tbody tr"), "top contributors")
    assert json.loads(first.get_attribute("data-keys")) == ["10.0.0.2"]
    assert float(first.get_attribute("data-value")) == 450.0
    assert len(drv.find_elements(By.CSS_SELECTOR, "#contributors-table tbody tr")) == 3
    until(drv, lambda d: css(d, "#rule-chart[data-points]"), "contributors graph")
    assert "10.0.0.2" in css(drv, "#rule-chart .u-legend").text
    shot(drv, "parity-contributors")

    # A partial failure is shown: a rule deleted behind the page's back cannot be disabled.
    gone = uniq("gone")
    cw.put_insight_rule(RuleName=gone, RuleDefinition=json.dumps(example))
    go(drv, "#/contributors")
    until(drv, lambda d: css(d, f"tr[data-rule='{gone}']"), "second rule listed")
    cw.delete_insight_rules(RuleNames=[gone])
    css(drv, f"tr[data-rule='{gone}'] .rule-toggle").click()
    failure = until(drv, lambda d: d.find_element(By.ID, "rule-failures").text, "partial failure shown")
    assert gone in failure

    # Disable, then delete from the list.
    go(drv, "#/")
    go(drv, "#/contributors")
    row = f"tr[data-rule='{rule}']"
    until(drv, lambda d: css(d, row), "rule listed")
    css(drv, f"{row} .rule-toggle").click()
    until(drv, lambda d: css(d, f"tr[data-rule='{rule}'][data-state='DISABLED']"), "disabled")
    drv.execute_script("window.confirm = () => true")
    css(drv, f"{row} .rule-delete").click()
    until(drv, lambda d: not css(d, f"tr[data-rule='{rule}']") and css(d, "h1"), "deleted")
    assert all(r["Name"] != rule for r in cw.describe_insight_rules()["InsightRules"])


def test_anomaly_band_on_metrics_graph_and_band_alarm(server, browser):
    cw = server.client("cloudwatch")
    ns = f"Parity/{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "InstanceId", "Value": "i-band"}]
    now = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0)
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "cpu", "Dimensions": dims, "Value": 10.0 + (i % 7),
                                                  "Timestamp": now - dt.timedelta(minutes=50 - i)} for i in range(50)])
    drv = browser
    login(drv, server)
    drv.execute_script("sessionStorage.setItem('stratus.selection', JSON.stringify([arguments[0]]))",
                       {"Namespace": ns, "MetricName": "cpu", "Dimensions": dims})
    go(drv, "#/metrics/" + quote(ns, safe="") + "/InstanceId")
    until(drv, lambda d: css(d, ".chart[data-points]"), "graph drawn")
    record_requests(drv)
    drv.find_element(By.ID, "anomaly-band").click()
    legend = until(drv, lambda d: "High" in d.find_element(By.CSS_SELECTOR, "#graph-slot .u-legend").text
                   and d.find_element(By.CSS_SELECTOR, "#graph-slot .u-legend").text, "band in legend")
    assert "cpu (i-band) Low" in legend and "cpu (i-band) High" in legend
    bodies = drv.execute_script("return window.__bodies")
    assert any("GetMetricData" in b and "ANOMALY_DETECTION_BAND(m1, 2)" in b for b in bodies), bodies
    drawn = json.loads(css(drv, "#graph-slot .chart").get_attribute("data-expr-values"))
    assert [s["label"] for s in drawn] == ["cpu (i-band) Low", "cpu (i-band) High"]
    assert any(lo is not None and hi is not None and lo < hi for lo, hi in zip(drawn[0]["vs"], drawn[1]["vs"]))
    shot(drv, "parity-anomaly-band")

    # An alarm whose threshold is the band: its page draws the band.
    alarm = uniq("band")
    cw.put_metric_alarm(AlarmName=alarm, EvaluationPeriods=1, ComparisonOperator="GreaterThanUpperThreshold",
                        ThresholdMetricId="ad1", Metrics=[
                            {"Id": "cpu1", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "cpu", "Dimensions": dims},
                                                          "Period": 60, "Stat": "Average"}, "ReturnData": True},
                            {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(cpu1, 2)", "Label": "expected", "ReturnData": True}])
    go(drv, f"#/alarms/{alarm}")
    text = until(drv, lambda d: "High" in d.find_element(By.CSS_SELECTOR, "#alarm-chart .u-legend").text
                 and d.find_element(By.CSS_SELECTOR, "#alarm-chart .u-legend").text, "band on the alarm page")
    assert "expected Low" in text and "expected High" in text
    cw.delete_alarms(AlarmNames=[alarm])


def test_topics_page_shows_type_tags_and_policies_as_text(server, browser):
    sns = server.client("sns")
    name = uniq("parity") + ".fifo"
    evil = "<script>window.__pwned=1</script>"
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"},
                           Tags=[{"Key": "team", "Value": evil}])["TopicArn"]
    policy = {"Version": "2012-10-17", "Statement": [{"Sid": "x<img src=x onerror=window.__pwned=2>", "Effect": "Allow",
                                                      "Principal": {"AWS": "*"}, "Action": "SNS:Publish", "Resource": arn}]}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(policy))
    dpp = {"Name": "dpp", "Description": "<b>no markup</b>", "Version": "2021-06-01", "Statement": [{
        "Sid": "deny-email", "DataDirection": "Inbound", "Principal": ["*"],
        "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"], "Operation": {"Deny": {}}}]}
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=json.dumps(dpp))
    plain = sns.create_topic(Name=uniq("plain"))["TopicArn"]
    sns.subscribe(TopicArn=plain, Protocol="sms", Endpoint="+15555550100")
    drv = browser
    login(drv, server)
    go(drv, "#/topics")
    sec = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, f"section[data-topic='{name}']"), "topic shown")
    assert sec.find_element(By.CSS_SELECTOR, ".topic-type").text == "FIFO, content-based deduplication"
    assert sec.find_element(By.CSS_SELECTOR, ".topic-tags").text == f"team={evil}"
    sec.find_element(By.CSS_SELECTOR, ".topic-policy summary").click()
    shown = sec.find_element(By.CSS_SELECTOR, ".topic-policy pre").text
    assert json.loads(shown)["Statement"][0]["Sid"] == policy["Statement"][0]["Sid"]
    sec.find_element(By.CSS_SELECTOR, ".topic-dpp summary").click()
    assert json.loads(sec.find_element(By.CSS_SELECTOR, ".topic-dpp pre").text) == dpp
    assert drv.execute_script("return window.__pwned === undefined && !document.querySelector('main script, main img, main b')")
    other = drv.find_element(By.CSS_SELECTOR, f"section[data-topic='{plain.split(':')[-1]}']")
    assert other.find_element(By.CSS_SELECTOR, ".topic-type").text == "Standard"
    assert not other.find_elements(By.CSS_SELECTOR, ".topic-dpp")
    assert other.find_element(By.CSS_SELECTOR, "tr[data-endpoint='+15555550100'] td").text == "sms"
    assert "sms" in [o.get_attribute("value") for o in sec.find_elements(By.CSS_SELECTOR, "select[aria-label=Protocol] option")]
    shot(drv, "parity-topics")
