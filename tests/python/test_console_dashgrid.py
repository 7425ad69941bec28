"""The dashboard grid in a real headless Chromium against a real `stratus server`: widgets placed by the
body's x/y/width/height on CloudWatch's 24-column grid, the layout edited with the mouse (move, resize,
push-down) and the keyboard, saved with PutDashboard (every other field as it was), a text widget added
through the page, the dashboard-wide period override, stacked areas and gauges.

Screenshots go to target/test-artifacts/console/ (prefixed `dashgrid-`).
"""

from __future__ import annotations

import copy
import json
import math
import os
import uuid

import pytest

os.environ.setdefault("SE_AVOID_STATS", "true")

pytest.importorskip("selenium")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, shot, put_minutes, until  # noqa: E402,F401  (browser: a fixture)

ROW = 50  # px per grid row (dashboards.css)


def rect(drv, el) -> dict:
    return drv.execute_script("const r = arguments[0].getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height};", el)


def cells(drv):
    return drv.find_elements(By.CSS_SELECTOR, "#dashboard-grid > .widget")


def check_geometry(drv, widgets):
    grid = rect(drv, drv.find_element(By.ID, "dashboard-grid"))
    col = grid["w"] / 24
    for el, w in zip(cells(drv), widgets):
        r = rect(drv, el)
        want = {"x": grid["x"] + w["x"] * col, "y": grid["y"] + w["y"] * ROW, "w": w["width"] * col, "h": w["height"] * ROW}
        for k in want:
            assert r[k] == pytest.approx(want[k], abs=1.5), (w, k, r, want)


def drag(drv, handle, dx: float, dy: float):
    a = ActionChains(drv).move_to_element(handle).click_and_hold()
    for _ in range(3):
        a.move_by_offset(round(dx / 3), round(dy / 3))
    a.release().perform()


def test_grid_layout_edit_save_and_add_widget(server, browser):
    drv = browser
    drv.set_window_size(1440, 1000)
    cw = server.client("cloudwatch")
    ns = f"Grid{uuid.uuid4().hex[:6]}"
    name = f"g-{ns}"
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0}])
    body = {"start": "-PT3H", "periodOverride": "auto", "widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "title": "graph", "stat": "Sum", "period": 60, "region": "us-east-1", "view": "timeSeries",
            "metrics": [[ns, "m", {"label": "em"}]], "yAxis": {"left": {"min": 0}}}},
        {"type": "text", "x": 12, "y": 0, "width": 12, "height": 3, "properties": {"markdown": "## B", "background": "transparent"}},
        {"type": "text", "x": 0, "y": 6, "width": 8, "height": 4, "properties": {"markdown": "C"}},
    ]}
    cw.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    login(drv, server)
    go(drv, f"#/dashboards/{name}")
    until(drv, lambda d: len(cells(d)) == 3 and d.find_element(By.CSS_SELECTOR, "#dashboard-grid .chart[data-points]"), "drawn")

    # 1. Each widget sits in its grid cell: columns of the grid's width / 24, rows of 50 px.
    check_geometry(drv, body["widgets"])
    shot(drv, "dashgrid-view")

    # 2. Edit the layout: move C right by 16 columns and up 3 rows; grow A by 2 columns and 1 row,
    #    which then overlaps B, so B is pushed down to just below A.
    drv.find_element(By.ID, "dashboard-edit-layout").click()
    until(drv, lambda d: css(d, "#dashboard-grid.editing .widget-move"), "edit mode")
    col = rect(drv, drv.find_element(By.ID, "dashboard-grid"))["w"] / 24
    drag(drv, cells(drv)[2].find_element(By.CSS_SELECTOR, ".widget-move"), 16 * col, -3 * ROW)
    drag(drv, cells(drv)[0].find_element(By.CSS_SELECTOR, ".widget-resize"), 2 * col, 1 * ROW)
    expected = copy.deepcopy(body)
    a, b, c = expected["widgets"]
    c.update(x=c["x"] + 16, y=c["y"] - 3)
    a.update(width=a["width"] + 2, height=a["height"] + 1)
    assert a["x"] + a["width"] > b["x"] and b["y"] < a["y"] + a["height"], "the test's resize makes A overlap B"
    b.update(y=a["y"] + a["height"])
    assert not (c["x"] < b["x"] + b["width"] and b["x"] < c["x"] + c["width"] and c["y"] < b["y"] + b["height"] and b["y"] < c["y"] + c["height"])
    until(drv, lambda d: [[int(e.get_attribute(f"data-{k}")) for k in "xywh"] for e in cells(d)]
          == [[w["x"], w["y"], w["width"], w["height"]] for w in expected["widgets"]], "layout after drags")
    check_geometry(drv, expected["widgets"])
    # The resized graph redraws at its new height before any save: its canvas grows by a row.
    plot_h = lambda d: d.execute_script("return document.querySelector('#dashboard-grid .chart')._chart.height")
    until(drv, lambda d: plot_h(d) == (a["height"] * ROW - 150), "graph redrawn at the new height")

    # 3. Add a text widget through the page; it goes below the others.
    drv.find_element(By.ID, "dashboard-add-widget").click()
    md = f"# Added {ns}"
    ta = until(drv, lambda d: d.find_element(By.ID, "add-widget-markdown"), "text form")
    ta.send_keys(md)
    until(drv, lambda d: d.find_element(By.CSS_SELECTOR, "#add-widget-preview h1").text == f"Added {ns}", "preview")
    drv.find_element(By.ID, "add-widget-confirm").click()
    until(drv, lambda d: len(cells(d)) == 4, "added")
    bottom = max(w["y"] + w["height"] for w in expected["widgets"])
    expected["widgets"].append({"type": "text", "width": 6, "height": 6, "properties": {"markdown": md}, "x": 0, "y": bottom})
    shot(drv, "dashgrid-edit")

    # 4. Save: the new cells, everything else exactly as it was.
    drv.find_element(By.ID, "dashboard-save-layout").click()
    until(drv, lambda d: json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"]) != body, "saved")
    assert json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"]) == expected
    until(drv, lambda d: len(cells(d)) == 4 and not css(d, "#dashboard-grid.editing"), "view again")
    check_geometry(drv, expected["widgets"])
    assert cells(drv)[3].find_element(By.CSS_SELECTOR, ".text-widget h1").text == f"Added {ns}"

    # 5. Keyboard: arrows move the focused widget, shift+arrows resize it; Cancel restores.
    drv.find_element(By.ID, "dashboard-edit-layout").click()
    until(drv, lambda d: css(d, "#dashboard-grid.editing"), "edit mode again")
    last = cells(drv)[3]
    drv.execute_script("arguments[0].focus()", last)
    ActionChains(drv).send_keys(Keys.ARROW_RIGHT, Keys.ARROW_RIGHT).key_down(Keys.SHIFT).send_keys(Keys.ARROW_RIGHT).key_up(Keys.SHIFT).perform()
    w = expected["widgets"][3]
    until(drv, lambda d: [int(cells(d)[3].get_attribute(f"data-{k}")) for k in "xw"] == [w["x"] + 2, w["width"] + 1], "keyboard moved")
    drv.find_element(By.ID, "dashboard-cancel-layout").click()
    until(drv, lambda d: not css(d, "#dashboard-grid.editing") and [int(cells(d)[3].get_attribute(f"data-{k}")) for k in "xw"] == [w["x"], w["width"]], "cancelled")
    assert json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"]) == expected

    # 6. A phone stacks the widgets full width, in reading order.
    drv.set_window_size(420, 900)
    until(drv, lambda d: all(abs(rect(d, e)["w"] - rect(d, d.find_element(By.ID, "dashboard-grid"))["w"]) < 1.5 for e in cells(d)), "stacked")
    tops = [rect(drv, e)["y"] for e in cells(drv)]
    order = sorted(range(4), key=lambda i: (expected["widgets"][i]["y"], expected["widgets"][i]["x"]))
    assert sorted(tops) == [tops[i] for i in order]
    shot(drv, "dashgrid-phone")


def test_period_override_stacked_area_and_gauge(server, browser):
    drv = browser
    drv.set_window_size(1440, 1000)
    cw = server.client("cloudwatch")
    ns = f"Per{uuid.uuid4().hex[:6]}"
    vals = [float(i + 1) for i in range(12)]
    times = put_minutes(cw, ns, {"x": vals, "y": [v * 10.0 for v in vals]})
    body = {"periodOverride": "inherit", "widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6, "properties": {
            "title": "per minute", "stat": "Sum", "period": 60, "metrics": [[ns, "x"]]}},
        {"type": "metric", "x": 12, "y": 0, "width": 12, "height": 6, "properties": {
            "title": "stacked", "stat": "Sum", "period": 60, "stacked": True, "metrics": [[ns, "x"], [ns, "y"]]}},
        {"type": "metric", "x": 0, "y": 6, "width": 6, "height": 6, "properties": {
            "title": "gauge", "view": "gauge", "stat": "Maximum", "period": 60, "metrics": [[ns, "x"]],
            "yAxis": {"left": {"min": 0, "max": 40}}}},
        {"type": "text", "width": 6, "height": 3, "properties": {"markdown": "auto-placed"}},
    ]}
    name = f"p-{ns}"
    cw.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    login(drv, server)
    go(drv, f"#/dashboards/{name}?range=3600")

    def drawn(d, i):
        ch = cells(d)[i].find_element(By.CSS_SELECTOR, ".chart[data-points]")
        return [[v for v in s if v is not None] for s in json.loads(ch.get_attribute("data-series-values"))]

    # The widget without x/y takes the first free cell, left to right then top to bottom.
    placed = body["widgets"][:3]
    auto = body["widgets"][3]
    spot = next((x, y) for y in range(100) for x in range(24 - auto["width"] + 1)
                if not any(x < p["x"] + p["width"] and p["x"] < x + auto["width"] and y < p["y"] + p["height"] and p["y"] < y + auto["height"] for p in placed))
    assert [int(cells(drv)[3].get_attribute(f"data-{k}")) for k in "xy"] == list(spot)
    check_geometry(drv, placed + [{**auto, "x": spot[0], "y": spot[1]}])

    # "inherit": the widget's own period, one point per minute.
    until(drv, lambda d: drawn(d, 0) == [vals], "per-minute points")
    assert cells(drv)[0].find_element(By.CSS_SELECTOR, "section").get_attribute("data-period") == "60"

    # Stacked: cumulative values, each series filled down to the one below (uPlot bands).
    until(drv, lambda d: drawn(d, 1) == [vals, [v + 10 * v for v in vals]], "stacked")
    info = drv.execute_script("const u = arguments[0]._chart; return {bands: (u.bands || []).map((b) => b.series), fills: u.series.slice(1).map((s) => !!s.fill)};",
                              cells(drv)[1].find_element(By.CSS_SELECTOR, ".chart"))
    assert info == {"bands": [[2, 1]], "fills": [True, True]}

    # Gauge: the latest value on the yAxis.left range, drawn as an SVG arc.
    g = until(drv, lambda d: cells(d)[2].find_element(By.CSS_SELECTOR, ".gauge[data-value]"), "gauge")
    assert float(g.get_attribute("data-value")) == vals[-1]
    assert float(g.get_attribute("data-fraction")) == pytest.approx(vals[-1] / 40, abs=1e-4)
    assert g.find_elements(By.CSS_SELECTOR, "svg path.gauge-value")
    shot(drv, "dashgrid-stacked-gauge")

    # The period override: 5 minutes for every graph, kept in the URL; Sum over 5-minute buckets.
    Select(drv.find_element(By.ID, "dashboard-period")).select_by_value("300")
    until(drv, lambda d: "period=300" in d.current_url and "range=3600" in d.current_url, "period in URL")
    until(drv, lambda d: cells(d)[0].find_element(By.CSS_SELECTOR, "section").get_attribute("data-period") == "300", "period sent")
    pts = until(drv, lambda d: drawn(d, 0), "redrawn")[0]
    # Each 5-minute Sum is a run of ≤ 5 consecutive minutes: every running total of the drawn points is a
    # running total of the minutes, and there are as many points as 5-minute buckets can hold them.
    prefix = [sum(vals[:i]) for i in range(len(vals) + 1)]
    running = [sum(pts[:i + 1]) for i in range(len(pts))]
    assert all(any(r == pytest.approx(p) for p in prefix) for r in running), (pts, vals)
    assert math.ceil(len(vals) / 5) <= len(pts) <= math.ceil(len(vals) / 5) + 1, pts
    assert running[-1] == pytest.approx(sum(vals))
    assert Select(drv.find_element(By.ID, "dashboard-period")).first_selected_option.get_attribute("value") == "300"


def test_add_metric_and_alarm_widgets(server, browser):
    drv = browser
    drv.set_window_size(1440, 1000)
    cw = server.client("cloudwatch")
    ns = f"Add{uuid.uuid4().hex[:6]}"
    vals = {"p": [1.0, 2.0, 3.0], "q": [4.0, 5.0, 6.0]}
    times = put_minutes(cw, ns, vals, [{"Name": "host", "Value": "h1"}])
    alarm = f"al-{ns}"
    cw.put_metric_alarm(AlarmName=alarm, Namespace=ns, MetricName="p", Statistic="Maximum", Period=60, EvaluationPeriods=1,
                        Threshold=100.0, ComparisonOperator="GreaterThanThreshold")
    arn = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["AlarmArn"]
    body = {"widgets": [{"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": "top"}}]}
    name = f"a-{ns}"
    cw.put_dashboard(DashboardName=name, DashboardBody=json.dumps(body))
    login(drv, server)
    go(drv, f"#/dashboards/{name}")
    until(drv, lambda d: len(cells(d)) == 1, "drawn")
    drv.find_element(By.ID, "dashboard-edit-layout").click()

    # A metric widget: search ListMetrics, pick both metrics, Sum, stacked area.
    drv.find_element(By.ID, "dashboard-add-widget").click()
    Select(until(drv, lambda d: d.find_element(By.ID, "add-widget-type"), "form")).select_by_value("metric")
    until(drv, lambda d: d.find_element(By.ID, "add-widget-search"), "search").send_keys(ns)
    boxes = until(drv, lambda d: (lambda b: b if len(b) == 2 else None)(d.find_elements(By.CSS_SELECTOR, "#add-widget-metrics input[type=checkbox]")), "two hits")
    for b in boxes:
        b.click()
    Select(drv.find_element(By.ID, "add-widget-stat")).select_by_value("Sum")
    Select(drv.find_element(By.ID, "add-widget-view")).select_by_value("stacked")
    drv.find_element(By.ID, "add-widget-confirm").click()
    until(drv, lambda d: len(cells(d)) == 2, "metric added")

    # An alarm status widget: the alarm picked from DescribeAlarms.
    drv.find_element(By.ID, "dashboard-add-widget").click()
    Select(until(drv, lambda d: d.find_element(By.ID, "add-widget-type"), "form")).select_by_value("alarm")
    until(drv, lambda d: d.find_element(By.CSS_SELECTOR, f"#add-widget-alarms input[value='{arn}']"), "alarm listed").click()
    drv.find_element(By.ID, "add-widget-confirm").click()
    until(drv, lambda d: len(cells(d)) == 3, "alarm added")
    drv.find_element(By.ID, "dashboard-save-layout").click()
    until(drv, lambda d: len(json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"])["widgets"]) == 3, "saved")

    saved = json.loads(cw.get_dashboard(DashboardName=name)["DashboardBody"])["widgets"]
    assert saved[0] == body["widgets"][0]
    m, a = saved[1], saved[2]
    assert (m["type"], m["x"], m["y"]) == ("metric", 0, 2) and (a["type"], a["x"], a["y"]) == ("alarm", 0, 2 + m["height"])
    assert sorted(r[1] for r in m["properties"]["metrics"]) == ["p", "q"]
    assert all(r[0] == ns and r[2:] == ["host", "h1"] for r in m["properties"]["metrics"])
    assert m["properties"]["stat"] == "Sum" and m["properties"]["stacked"] is True
    assert a["properties"]["alarms"] == [arn]

    # Drawn after the save: the stacked sums and the alarm's row.
    until(drv, lambda d: not css(d, "#dashboard-grid.editing") and len(cells(d)) == 3, "view again")
    # (the new widget's period is 5 minutes, so each series sums into 5-minute buckets; stacked adds the first to the second)
    first, second = (vals[r[1]] for r in m["properties"]["metrics"])
    ch = until(drv, lambda d: cells(d)[1].find_element(By.CSS_SELECTOR, ".chart[data-points]"), "metric drawn")
    drawn = [[v for v in s if v is not None] for s in json.loads(ch.get_attribute("data-series-values"))]
    assert [sum(s) for s in drawn] == pytest.approx([sum(first), sum(first) + sum(second)])
    until(drv, lambda d: cells(d)[2].find_element(By.CSS_SELECTOR, f"tr[data-alarm='{alarm}']"), "alarm row")
    shot(drv, "dashgrid-added")
