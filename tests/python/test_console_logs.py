"""CloudWatch Logs in the web console, in a real headless Chromium against a real `stratus server`:
find a log group, search it, see an attacker's line as text, create a metric filter and an alarm on
its metric from the search (checked afterwards through boto3), live tail, a stream's events, and a
Logs Insights `stats count(*) by bin(5m)` query with its chart.

Screenshots of every step go to target/test-artifacts/console/ (prefixed `logs-`).
"""

from __future__ import annotations

import datetime as dt
import os
import time
import urllib.parse
import uuid

import pytest

# Selenium Manager would otherwise report usage statistics over the network.
os.environ.setdefault("SE_AVOID_STATS", "true")

pytest.importorskip("selenium")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, shot, until  # noqa: E402,F401  (browser: a fixture)

FIVE_MIN_MS = 300_000


def utc_text(ms: int) -> str:
    """How the console prints a time: ISO order, UTC, whole seconds."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def bin_start(now_ms: int) -> int:
    """The start of a 5-minute bin that ended at least 10 s before now: events put at it and a few
    milliseconds after all fall into one `bin(5m)` row and lie inside a "last hour" query."""
    return (now_ms - 10_000) // FIVE_MIN_MS * FIVE_MIN_MS


def now_ms() -> int:
    return int(time.time() * 1000)


def group_route(group: str, *rest: str, query: str = "") -> str:
    parts = [urllib.parse.quote(p, safe="") for p in (group, *rest)]
    return "#/logs/" + "/".join(parts) + (f"?{query}" if query else "")


def search(drv, pattern: str) -> list:
    """Runs a search from the group page and returns the result rows."""
    table = drv.find_element(By.ID, "log-events")
    before = int(table.get_attribute("data-searched") or 0)
    box = drv.find_element(By.ID, "log-filter-pattern")
    box.clear()
    if pattern:
        box.send_keys(pattern)
    drv.find_element(By.ID, "log-search").click()
    until(drv, lambda d: int(d.find_element(By.ID, "log-events").get_attribute("data-searched") or 0) > before,
          f"search {pattern!r}")
    return drv.find_elements(By.CSS_SELECTOR, "#log-events tbody tr.log-event")


def messages(rows) -> list[str]:
    return [r.find_element(By.CSS_SELECTOR, "td.message").text for r in rows]


def type_into_el(el, text: str) -> None:
    el.clear()
    el.send_keys(text)


def type_into(drv, element_id: str, text: str) -> None:
    type_into_el(drv.find_element(By.ID, element_id), text)


def test_search_script_line_metric_filter_alarm_and_tail(server, browser):
    drv = browser
    logs = server.client("logs")
    sns = server.client("sns")
    cw = server.client("cloudwatch")
    group = f"/stratus/app-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="web-1")
    topic_arn = sns.create_topic(Name="log-alerts")["TopicArn"]
    base = bin_start(now_ms())
    script = "<script>alert(1)</script>"
    img = '<img src=x onerror="document.body.dataset.pwned=1">'
    lines = ["INFO service started on port 8080", "ERROR disk full on /dev/sda1", script, img,
             "WARN slow request took 1200 ms"]
    logs.put_log_events(logGroupName=group, logStreamName="web-1",
                        logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(lines)])

    # The group in the list, with no metric filter yet.
    login(drv, server)
    go(drv, "#/logs")
    row = until(drv, lambda d: css(d, f'#log-groups tr[data-group="{group}"]'), "the group in the list")
    assert row.find_element(By.CSS_SELECTOR, ".filter-count").text == "0"
    assert row.find_element(By.CSS_SELECTOR, ".retention").text == "Never expire"
    shot(drv, "logs-01-groups")
    # The name filter narrows the list on the server (DescribeLogGroups' pattern).
    type_into(drv, "log-group-search", "no-such-group-xyz")
    until(drv, lambda d: not css(d, "#log-groups tr[data-group]"), "the list filtered to nothing")
    type_into(drv, "log-group-search", group.split("/")[-1])
    row = until(drv, lambda d: css(d, f'#log-groups tr[data-group="{group}"]'), "the group found by name")
    row.find_element(By.CSS_SELECTOR, "a").click()
    until(drv, lambda d: d.find_element(By.ID, "log-group-name").text == group, "the group page")

    # The stream list, newest first.
    until(drv, lambda d: css(d, '#log-streams tr[data-stream="web-1"]'), "the stream list")

    # Search ERROR: exactly the ERROR line, its time in UTC and ISO order.
    rows = search(drv, "ERROR")
    assert messages(rows) == ["ERROR disk full on /dev/sda1"]
    assert rows[0].find_element(By.CSS_SELECTOR, "td.time").text == utc_text(base + 1)
    assert "UTC" in drv.find_element(By.CSS_SELECTOR, "#log-events th.time").text
    assert rows[0].find_element(By.CSS_SELECTOR, "td.stream").text == "web-1"
    shot(drv, "logs-02-search-error")

    # Every line: the markup ones are text, nothing of them became an element or ran.
    rows = search(drv, "")
    assert messages(rows) == lines
    assert drv.execute_script(
        "return document.querySelectorAll('#log-events script, #log-events img').length") == 0
    assert drv.execute_script("return document.body.dataset.pwned === undefined")
    with pytest.raises(NoAlertPresentException):
        drv.switch_to.alert.text  # noqa: B018
    shot(drv, "logs-03-every-line")

    # An absolute window, typed in UTC: the minute holding the lines, then a later one without them.
    drv.find_element(By.CSS_SELECTOR, '#log-search-form button[data-range="absolute"]').click()
    type_into_el(drv.find_element(By.CSS_SELECTOR, 'input[data-edge="from"]'), utc_text(base)[:16])
    type_into_el(drv.find_element(By.CSS_SELECTOR, 'input[data-edge="to"]'), utc_text(base + 120_000)[:16])
    assert messages(search(drv, "")) == lines
    type_into_el(drv.find_element(By.CSS_SELECTOR, 'input[data-edge="from"]'), utc_text(base + 60_000)[:16])
    assert search(drv, "") == []
    assert "No events match" in drv.find_element(By.ID, "log-search-status").text
    drv.find_element(By.CSS_SELECTOR, '#log-search-form button[data-range="1h"]').click()

    # From the ERROR search: create metric filter (pattern prefilled) → create alarm from it.
    search(drv, "ERROR")
    drv.find_element(By.ID, "create-metric-filter").click()
    until(drv, lambda d: d.find_element(By.ID, "mf-pattern").get_attribute("value") == "ERROR", "prefilled pattern")
    assert drv.find_element(By.ID, "mf-value").get_attribute("value") == "1"
    type_into(drv, "mf-name", "errors")
    type_into(drv, "mf-namespace", "App/Logs")
    type_into(drv, "mf-metric", "ErrorCount")
    shot(drv, "logs-04-metric-filter-form")
    drv.find_element(By.ID, "mf-create").click()
    until(drv, lambda d: css(d, '#metric-filter-table tr[data-filter="errors"]'), "the filter listed on the group page")
    until(drv, lambda d: css(d, "#create-alarm-from-filter"), "create alarm from this filter").click()
    form = until(drv, lambda d: css(d, "#filter-alarm-form"), "the alarm form")
    assert "App/Logs · ErrorCount" in form.find_element(By.ID, "filter-alarm-metric").text
    assert drv.find_element(By.ID, "fa-threshold").get_attribute("value") == "1"
    assert Select(drv.find_element(By.ID, "fa-stat")).first_selected_option.text == "Sum"
    assert Select(drv.find_element(By.ID, "fa-period")).first_selected_option.get_attribute("value") == "60"
    assert drv.find_element(By.ID, "fa-periods").get_attribute("value") == "1"
    assert Select(drv.find_element(By.ID, "fa-op")).first_selected_option.get_attribute("value") == "GreaterThanOrEqualToThreshold"
    until(drv, lambda d: d.find_element(By.ID, "fa-topic").get_attribute("data-loaded") == "true", "topics loaded")
    Select(drv.find_element(By.ID, "fa-topic")).select_by_visible_text("log-alerts")
    type_into(drv, "fa-name", "app-errors")
    drv.find_element(By.ID, "fa-create").click()
    link = until(drv, lambda d: css(d, "#filter-alarm-link"), "the new alarm's link")
    assert link.get_attribute("href").endswith("#/alarms/app-errors")
    shot(drv, "logs-05-alarm-created")

    # What the API now holds: the filter and an alarm on its metric.
    mfs = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [(f["filterName"], f["filterPattern"]) for f in mfs] == [("errors", "ERROR")]
    t = mfs[0]["metricTransformations"]
    assert [(x["metricNamespace"], x["metricName"], x["metricValue"]) for x in t] == [("App/Logs", "ErrorCount", "1")]
    alarms = cw.describe_alarms(AlarmNames=["app-errors"])["MetricAlarms"]
    assert len(alarms) == 1
    a = alarms[0]
    assert (a["Namespace"], a["MetricName"], a.get("Dimensions", [])) == ("App/Logs", "ErrorCount", [])
    assert (a["Statistic"], a["Period"], a["EvaluationPeriods"], a["Threshold"], a["ComparisonOperator"]) == (
        "Sum", 60, 1, 1.0, "GreaterThanOrEqualToThreshold")
    assert a["AlarmActions"] == [topic_arn]

    link.click()
    until(drv, lambda d: d.find_element(By.ID, "alarm-name").text == "app-errors", "the alarm page")

    # The list counts the filter now.
    go(drv, "#/logs")
    row = until(drv, lambda d: css(d, f'#log-groups tr[data-group="{group}"]'), "the group in the list again")
    assert row.find_element(By.CSS_SELECTOR, ".filter-count").text == "1"

    # Live tail: the ERROR search from the address, then new matching lines appear by themselves.
    go(drv, group_route(group, query="q=ERROR"))
    until(drv, lambda d: messages(d.find_elements(By.CSS_SELECTOR, "#log-events tr.log-event"))
          == ["ERROR disk full on /dev/sda1"], "the search run from the address")
    drv.find_element(By.ID, "log-tail").click()
    assert drv.find_element(By.ID, "log-tail").get_attribute("aria-pressed") == "true"
    t0 = now_ms()
    logs.put_log_events(logGroupName=group, logStreamName="web-1", logEvents=[
        {"timestamp": t0, "message": "INFO tail noise"}, {"timestamp": t0 + 1, "message": "ERROR tail line 42"}])
    until(drv, lambda d: "ERROR tail line 42" in messages(d.find_elements(By.CSS_SELECTOR, "#log-events tr.log-event")),
          "the tailed line", timeout=15)
    time.sleep(2.5)  # one more poll: the line is not repeated, the noise never shows
    shown = messages(drv.find_elements(By.CSS_SELECTOR, "#log-events tr.log-event"))
    assert shown == ["ERROR disk full on /dev/sda1", "ERROR tail line 42"]
    drv.find_element(By.ID, "log-tail").click()
    assert drv.find_element(By.ID, "log-tail").get_attribute("aria-pressed") == "false"
    shot(drv, "logs-06-live-tail")

    # One stream's events (GetLogEvents), oldest first.
    go(drv, group_route(group, "web-1"))
    until(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#stream-events tr.log-event")) == 7, "the stream's events")
    rows = drv.find_elements(By.CSS_SELECTOR, "#stream-events tr.log-event")
    assert messages(rows) == lines + ["INFO tail noise", "ERROR tail line 42"]
    assert rows[0].find_element(By.CSS_SELECTOR, "td.time").text == utc_text(base)
    shot(drv, "logs-07-stream")


def test_insights_stats_by_bin_and_fields(server, browser):
    drv = browser
    logs = server.client("logs")
    group = f"/stratus/insights-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    base = bin_start(now_ms())
    lines = ["GET /a 200", "ERROR timeout talking to db", "GET /b 200", "GET /c 500"]
    logs.put_log_events(logGroupName=group, logStreamName="s",
                        logEvents=[{"timestamp": base + i, "message": m} for i, m in enumerate(lines)])

    login(drv, server)
    go(drv, "#/insights?group=" + urllib.parse.quote(group, safe=""))
    box = until(drv, lambda d: css(d, f'#insights-groups input[data-group="{group}"]'), "the group picker")
    assert box.is_selected()

    def run(query: str) -> None:
        drv.execute_script("document.getElementById('insights-status').dataset.status = ''")
        editor = drv.find_element(By.ID, "insights-query")
        editor.clear()
        editor.send_keys(query)
        drv.find_element(By.ID, "insights-run").click()
        until(drv, lambda d: d.find_element(By.ID, "insights-status").get_attribute("data-status")
              in ("Complete", "Failed", "Cancelled", "Timeout"), f"query {query!r} to finish", timeout=30)
        assert drv.find_element(By.ID, "insights-status").get_attribute("data-status") == "Complete"

    # One 5-minute bin holding all four events: one row, count 4, and a one-point chart.
    run("stats count(*) by bin(5m)")
    rows = drv.find_elements(By.CSS_SELECTOR, "#insights-results tr.result-row")
    assert len(rows) == 1
    assert rows[0].find_element(By.CSS_SELECTOR, 'td[data-field="count(*)"]').text == "4"
    # AWS prints a bin as `YYYY-MM-DD HH:MM:SS.000` in UTC, the bin's start.
    assert rows[0].find_element(By.CSS_SELECTOR, 'td[data-field="bin(5m)"]').text.startswith(utc_text(base))
    assert drv.find_element(By.ID, "insights-stats").text.startswith("4 records matched")
    chart = until(drv, lambda d: css(d, "#insights-chart[data-points]"), "the bin chart")
    assert chart.get_attribute("data-points") == "1" and chart.get_attribute("data-series") == "1"
    # The console's own chart: its table view lists the one bin with its count.
    drv.find_element(By.CSS_SELECTOR, "#insights-chart .table-toggle").click()
    cells = until(drv, lambda d: d.find_elements(By.CSS_SELECTOR, "#insights-chart .chart-table tbody td"), "the bin chart's table")
    assert [c.text for c in cells] == ["4"]
    shot(drv, "logs-08-insights-stats")

    # A fields query: its columns, never @ptr; no chart.
    run("fields @timestamp, @message | filter @message like /ERROR/")
    heads = [th.text for th in drv.find_elements(By.CSS_SELECTOR, "#insights-results th")]
    assert heads == ["@timestamp", "@message"]
    rows = drv.find_elements(By.CSS_SELECTOR, "#insights-results tr.result-row")
    assert [r.find_element(By.CSS_SELECTOR, 'td[data-field="@message"]').text for r in rows] == [
        "ERROR timeout talking to db"]
    assert not drv.find_element(By.ID, "insights-chart").is_displayed()
    shot(drv, "logs-09-insights-fields")
