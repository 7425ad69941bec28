"""Dashboards in the web console, in a real headless Chromium against a real `stratus server`: a body
made through the API (as `aws cloudwatch put-dashboard` would) with a metric-math widget whose
inputs are hidden, a single-value widget, an alarm status widget, an alarm graph and a markdown text
widget. The test computes the expected math values itself and checks what the page drew.

Screenshots go to target/test-artifacts/console/ (prefixed `dash-`).
"""

from __future__ import annotations

import json
import os
import uuid

import pytest

os.environ.setdefault("SE_AVOID_STATS", "true")

pytest.importorskip("selenium")
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, shot, put_minutes, until  # noqa: E402,F401  (browser: a fixture)


def widget(drv, n: int):
    return drv.find_element(By.CSS_SELECTOR, f"#dashboard-grid > .widget:nth-child({n})")


def test_dashboard_with_math_number_alarm_and_markdown_widgets(server, browser):
    drv = browser
    cw = server.client("cloudwatch")
    ns = f"Dash{uuid.uuid4().hex[:6]}"
    # Five whole minutes of two metrics, one value per minute, oldest first.
    a_vals = [1.0, 2.0, 3.0, 4.0, 5.5]
    b_vals = [10.0, 20.0, 30.0, 40.0, 50.0]
    times = put_minutes(cw, ns, {"a": a_vals, "b": b_vals}, [{"Name": "host", "Value": "web-1"}])
    expected_sum = [a + b for a, b in zip(a_vals, b_vals)]

    alarm = f"a-high-{ns}"
    cw.put_metric_alarm(AlarmName=alarm, Namespace=ns, MetricName="a", Dimensions=[{"Name": "host", "Value": "web-1"}],
                        Statistic="Maximum", Period=60, EvaluationPeriods=1, Threshold=3.0,
                        ComparisonOperator="GreaterThanThreshold")
    arn = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]

    markdown = "\n".join([
        "# Title",
        "",
        "Some **bold** and *italic* text with `code`, [docs](https://example.com/runbook) and [bad](javascript:alert(2)).",
        "",
        "| Host | Role |",
        "|------|------|",
        "| web-1 | front |",
        "",
        "- one",
        "- two",
        "",
        "---",
        "<script>alert(1)</script>",
        '<img src="x" onerror="window.__pwned=1">',
    ])
    dims = ["host", "web-1"]
    body = {"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "title": "a plus b", "stat": "Sum", "period": 60, "region": "us-east-1", "view": "timeSeries",
            "metrics": [[ns, "a", *dims, {"id": "m1", "visible": False}],
                        [".", "b", ".", ".", {"id": "m2", "visible": False}],
                        [{"expression": "m1+m2", "label": "total", "id": "e1"}]]}},
        {"type": "metric", "x": 12, "y": 0, "width": 6, "height": 3, "properties": {
            "title": "latest a", "view": "singleValue", "stat": "Maximum", "period": 60,
            "metrics": [[ns, "a", *dims]]}},
        {"type": "alarm", "x": 18, "y": 0, "width": 6, "height": 3, "properties": {
            "title": "Alarms", "alarms": [arn]}},
        {"type": "metric", "x": 0, "y": 6, "width": 12, "height": 6, "properties": {
            "title": "alarm graph", "annotations": {"alarms": [arn]}, "view": "timeSeries", "stacked": False}},
        {"type": "text", "x": 12, "y": 6, "width": 12, "height": 6, "properties": {"markdown": markdown}},
    ]}
    cw.put_dashboard(DashboardName=f"d-{ns}", DashboardBody=json.dumps(body))

    login(drv, server)
    go(drv, f"#/dashboards/d-{ns}")

    # 1. The math widget draws only the expression, labelled, with the sums computed here.
    chart = until(drv, lambda d: widget(d, 1).find_element(By.CSS_SELECTOR, ".chart[data-points]"), "math widget drawn")
    assert json.loads(chart.get_attribute("data-series-labels")) == ["total"]
    assert json.loads(chart.get_attribute("data-series-points")) == [5], "the hidden inputs are not drawn"
    drawn = [v for v in json.loads(chart.get_attribute("data-series-values"))[0] if v is not None]
    assert drawn == pytest.approx(expected_sum)
    series = json.loads(widget(drv, 1).find_element(By.CSS_SELECTOR, "section").get_attribute("data-series"))
    assert [s["label"] for s in series] == ["total"]
    assert series[0]["ts"] == [int(t.timestamp()) for t in times]

    # 2. The number widget shows the latest value of a.
    big = until(drv, lambda d: widget(d, 2).find_element(By.CSS_SELECTOR, ".single-value[data-value]"), "single value")
    assert float(big.get_attribute("data-value")) == a_vals[-1]
    assert big.text == "5.5"
    assert "a (web-1)" in widget(drv, 2).text

    # 3. The alarm status list: the alarm's name and its current state.
    row = until(drv, lambda d: widget(d, 3).find_element(By.CSS_SELECTOR, f"tr[data-alarm='{alarm}']"), "alarm row")
    assert row.find_element(By.CSS_SELECTOR, ".alarm-name a").text == alarm

    def state_matches(d):
        r = widget(d, 3).find_element(By.CSS_SELECTOR, f"tr[data-alarm='{alarm}']")
        state = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"]
        if r.find_element(By.CSS_SELECTOR, ".badge").get_attribute("data-state") == state:
            return True
        d.find_element(By.ID, "dashboard-reload").click()  # it changed since: load again
        return False

    until(drv, state_matches, "alarm state shown")

    # 4. The alarm graph: the alarm's metric with its threshold.
    g = until(drv, lambda d: widget(d, 4).find_element(By.CSS_SELECTOR, "section[data-threshold]"), "alarm graph")
    assert g.get_attribute("data-alarm") == alarm and float(g.get_attribute("data-threshold")) == 3.0
    agraph = until(drv, lambda d: widget(d, 4).find_element(By.CSS_SELECTOR, ".chart[data-points]"), "alarm graph drawn")
    assert [v for v in json.loads(agraph.get_attribute("data-series-values"))[0] if v is not None] == pytest.approx(a_vals)

    # 5. Markdown rendered as elements; raw HTML stays text and runs nothing.
    text = widget(drv, 5).find_element(By.CSS_SELECTOR, ".text-widget")
    assert text.find_element(By.CSS_SELECTOR, "h1").text == "Title"
    assert text.find_element(By.CSS_SELECTOR, "strong").text == "bold"
    assert text.find_element(By.CSS_SELECTOR, "em").text == "italic"
    assert text.find_element(By.CSS_SELECTOR, "code").text == "code"
    link = text.find_element(By.CSS_SELECTOR, "a")
    assert link.text == "docs" and link.get_attribute("href") == "https://example.com/runbook"
    assert len(text.find_elements(By.CSS_SELECTOR, "a")) == 1, "a javascript: link is not a link"
    assert "[bad](javascript:alert(2))" in text.text
    assert [c.text for c in text.find_elements(By.CSS_SELECTOR, "table th")] == ["Host", "Role"]
    assert [c.text for c in text.find_elements(By.CSS_SELECTOR, "table td")] == ["web-1", "front"]
    assert [li.text for li in text.find_elements(By.CSS_SELECTOR, "ul li")] == ["one", "two"]
    assert text.find_elements(By.CSS_SELECTOR, "hr")
    assert "<script>alert(1)</script>" in text.text
    assert '<img src="x" onerror="window.__pwned=1">' in text.text
    assert not text.find_elements(By.CSS_SELECTOR, "script, img")
    with pytest.raises(NoAlertPresentException):
        drv.switch_to.alert.text
    assert drv.execute_script("return window.__pwned") is None
    shot(drv, "dash-widgets")

    # The dashboard-wide range: 1h keeps the data, the choice is in the URL.
    drv.find_element(By.CSS_SELECTOR, ".toolbar .ranges a[href$='range=3600']").click()
    until(drv, lambda d: "range=3600" in d.current_url and css(d, ".ranges a[aria-current=true][href$='range=3600']"), "1h range")
    chart = until(drv, lambda d: widget(d, 1).find_element(By.CSS_SELECTOR, ".chart[data-points]"), "math widget redrawn")
    assert [v for v in json.loads(chart.get_attribute("data-series-values"))[0] if v is not None] == pytest.approx(expected_sum)


def test_stacked_and_bar_views(server, browser):
    drv = browser
    cw = server.client("cloudwatch")
    ns = f"Stack{uuid.uuid4().hex[:6]}"
    vals = {"x": [1.0, 2.0, 3.0], "y": [5.0, 6.0, 7.0]}
    put_minutes(cw, ns, vals)
    rows = [[ns, "x"], [ns, "y"]]
    body = {"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
         "properties": {"title": "stacked", "stacked": True, "stat": "Sum", "period": 60, "metrics": rows}},
        {"type": "metric", "x": 12, "y": 0, "width": 12, "height": 6,
         "properties": {"title": "bars", "view": "bar", "stat": "Sum", "period": 60, "metrics": rows}}]}
    cw.put_dashboard(DashboardName=f"d-{ns}", DashboardBody=json.dumps(body))
    login(drv, server)
    go(drv, f"#/dashboards/d-{ns}")
    chart = until(drv, lambda d: widget(d, 1).find_element(By.CSS_SELECTOR, ".chart[data-points]"), "stacked drawn")
    drawn = [[v for v in s if v is not None] for s in json.loads(chart.get_attribute("data-series-values"))]
    assert drawn == [vals["x"], [a + b for a, b in zip(vals["x"], vals["y"])]]
    bars = until(drv, lambda d: widget(d, 2).find_elements(By.CSS_SELECTOR, ".bar-row[data-value]"), "bars")
    assert [float(b.get_attribute("data-value")) for b in bars] == [3.0, 7.0]
    assert [b.text for b in bars] == ["x: 3", "y: 7"]
    widths = [b.find_element(By.CSS_SELECTOR, ".bar").size["width"] for b in bars]
    assert widths[0] == pytest.approx(widths[1] * 3 / 7, rel=0.05)
    shot(drv, "dash-stacked-bars")


def test_add_to_dashboard_from_an_alarm_page(server, browser):
    """The alarm page's "Add to dashboard": CloudWatch's alarm widget (the metric graph annotated with
    the alarm) appended to an existing dashboard, whose other widgets stay as they were, and drawn with
    the alarm's threshold."""
    drv = browser
    cw = server.client("cloudwatch")
    ns = f"DashAlarm{uuid.uuid4().hex[:6]}"
    vals = [1.0, 4.0, 2.0]
    put_minutes(cw, ns, {"lat": vals})
    alarm = f"lat-high-{ns}"
    cw.put_metric_alarm(AlarmName=alarm, Namespace=ns, MetricName="lat", Statistic="Maximum", Period=60,
                        EvaluationPeriods=1, Threshold=3.5, ComparisonOperator="GreaterThanThreshold")
    arn = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    dash = f"d-{ns}"
    old_text = '{"widgets": [{"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": "ops"}}]}'
    cw.put_dashboard(DashboardName=dash, DashboardBody=old_text)

    login(drv, server)
    go(drv, f"#/alarms/{alarm}")
    drv.find_element(By.ID, "add-to-dashboard").click()
    Select(until(drv, lambda d: d.find_element(By.ID, "dash-pick"), "dashboard picker")).select_by_value(dash)
    drv.find_element(By.ID, "dash-add").click()
    until(drv, lambda d: css(d, "#dash-link") and d.find_element(By.ID, "dash-link").text == dash, "link to the dashboard")

    saved = cw.get_dashboard(DashboardName=dash)["DashboardBody"]
    body = json.loads(saved)
    assert body["widgets"][0] == json.loads(old_text)["widgets"][0]
    assert saved.startswith(old_text[:-2])  # the old text unchanged, the widget appended
    new = body["widgets"][1]
    assert new["type"] == "metric" and new["y"] == 2 and new["x"] == 0
    assert new["properties"]["annotations"] == {"alarms": [arn]} and new["properties"]["title"] == alarm

    drv.find_element(By.ID, "dash-link").click()
    g = until(drv, lambda d: widget(d, 2).find_element(By.CSS_SELECTOR, "section[data-threshold]"), "alarm graph")
    assert g.get_attribute("data-alarm") == alarm and float(g.get_attribute("data-threshold")) == 3.5
    drawn = until(drv, lambda d: widget(d, 2).find_element(By.CSS_SELECTOR, ".chart[data-points]"), "alarm graph drawn")
    assert [v for v in json.loads(drawn.get_attribute("data-series-values"))[0] if v is not None] == pytest.approx(vals)
    shot(drv, "dashboards-03-from-alarm")
