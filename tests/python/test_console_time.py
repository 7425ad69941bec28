"""The console's one time setting (Local / UTC in the header) in a browser whose zone is not UTC
(America/New_York via CDP): alarm reason, alarm history, mailbox and the graph's time axis show the
chosen zone's time, computed here from the known UTC instants; the alarm page pages through all
of a long history; the chart's Table toggle lists the points in the chosen zone; a logs window is
typed in the chosen zone and Insights' time columns are shown in it.

Screenshots go to target/test-artifacts/console/ (time-*).
"""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid
from zoneinfo import ZoneInfo

import pytest

pytest.importorskip("selenium")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, shot, until  # noqa: E402,F401  (browser: a fixture)

ZONE = "America/New_York"
NY = ZoneInfo(ZONE)
UTC = dt.timezone.utc
MINUS = "\u2212"


def fmt(t: dt.datetime, local: bool, secs: bool = True) -> str:
    """What the console should print for instant `t` (aware) with the switch on Local or UTC."""
    d = t.astimezone(NY if local else UTC)
    off = d.utcoffset() or dt.timedelta(0)
    mins = int(off.total_seconds() // 60)
    zone = "UTC" if mins == 0 else f"UTC{MINUS if mins < 0 else '+'}{abs(mins) // 60:02d}:{abs(mins) % 60:02d}"
    return d.strftime("%Y-%m-%d %H:%M" + (":%S" if secs else "")) + " " + zone


def set_zone(drv, value: str) -> None:
    """Uses the header switch; the page re-renders."""
    before = drv.execute_script("return document.body.dataset.rendered || '0'")
    Select(drv.find_element(By.ID, "tz-switch")).select_by_value(value)
    until(drv, lambda d: d.execute_script("return document.body.dataset.rendered") != before, f"re-render on {value}")
    assert drv.execute_script("return localStorage.getItem('stratus.tz')") == value


def ny_browser(drv) -> None:
    drv.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ZONE})
    assert drv.execute_script("return Intl.DateTimeFormat().resolvedOptions().timeZone") == ZONE


def test_local_and_utc_everywhere_and_the_whole_history(server, browser):
    drv = browser
    drv.set_window_size(1440, 1000)
    cw = server.client("cloudwatch")
    sns = server.client("sns")
    ns = f"Test/{uuid.uuid4().hex[:10]}"
    name = f"tz-{uuid.uuid4().hex[:8]}"
    dims = [{"Name": "InstanceId", "Value": "i-tz"}]
    now = dt.datetime.now(UTC).replace(microsecond=0)
    # Points 40..20 minutes ago: in the graph's hour, never in the 1-minute evaluation window,
    # and missing data is ignored, so the state set below stays.
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "load", "Dimensions": dims, "Value": float(i), "Unit": "Percent",
                                                  "Timestamp": now - dt.timedelta(minutes=40 - i)} for i in range(20)])
    cw.put_metric_alarm(AlarmName=name, Namespace=ns, MetricName="load", Dimensions=dims, Statistic="Average", Period=60,
                        EvaluationPeriods=1, Threshold=50.0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    # > 120 history items; the last state's reason carries CloudWatch's dd/MM/yy UTC time.
    for i in range(126):  # ends on OK, so the last ALARM is a transition
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM" if i % 2 == 0 else "OK", StateReason=f"step {i}")
    crossed = dt.datetime(2026, 12, 6, 15, 3, 0, tzinfo=UTC)
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM",
                       StateReason=f"Threshold Crossed: 1 datapoint [75.0 ({crossed:%d/%m/%y %H:%M:%S})] was greater than the threshold (50.0).")
    history = [i for p in cw.get_paginator("describe_alarm_history").paginate(AlarmName=name, ScanBy="TimestampDescending")
               for i in p["AlarmHistoryItems"]]
    assert len(history) > 120, len(history)
    newest, oldest = history[0], history[-1]
    # A mail with a known date: a subscription's confirmation.
    topic = sns.create_topic(Name=f"tz-{uuid.uuid4().hex[:6]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="tz@example.com")

    ny_browser(drv)
    login(drv, server, "/#/alarms/" + name)
    drv.execute_script("localStorage.removeItem('stratus.tz')")
    drv.refresh()
    until(drv, lambda d: css(d, "#alarm-reason"), "alarm page")
    assert Select(drv.find_element(By.ID, "tz-switch")).first_selected_option.get_attribute("value") == "local"

    for zone in ("local", "utc"):
        local = zone == "local"
        if zone == "utc":  # (Local is the default the page opened with)
            go(drv, "#/alarms/" + name)
            set_zone(drv, "utc")
        reason = until(drv, lambda d: css(d, "#alarm-reason"), "reason")
        assert f"({fmt(crossed, local)})" in reason.text, reason.text
        assert "06/12/26 15:03:00" in reason.get_attribute("title")
        first = until(drv, lambda d: d.find_elements(By.CSS_SELECTOR, "#alarm-history tbody tr"), "history")[0]
        assert first.find_elements(By.TAG_NAME, "td")[0].text == fmt(newest["Timestamp"], local)
        # The graph's x axis: named zone, and each tick's hour:minute is the split's time in that zone.
        chart = until(drv, lambda d: d.find_element(By.ID, "alarm-chart") if d.find_element(By.ID, "alarm-chart").get_attribute("data-axes") else None, "axes")
        axes = json.loads(chart.get_attribute("data-axes"))
        splits = drv.execute_script("return document.getElementById('alarm-chart')._chart.axes[0]._splits")
        assert axes[0]["label"] == f"Time ({fmt(now, local).split(' ')[-1]})"
        assert splits and len(axes[0]["ticks"]) == len(splits)
        for tick, s in zip(axes[0]["ticks"], splits):
            want = dt.datetime.fromtimestamp(s, NY if local else UTC).strftime("%H:%M")
            assert tick.split("\n")[0] == want, (tick, s)
        # From/To hold the graph's range in the same zone (datetime-local has no zone of its own).
        xmin, xmax = drv.execute_script("const u = document.getElementById('alarm-chart')._chart; return [u.scales.x.min, u.scales.x.max]")
        from_el = drv.find_element(By.CSS_SELECTOR, ".graph-panel input[aria-label=From]")
        to_el = drv.find_element(By.CSS_SELECTOR, ".graph-panel input[aria-label=To]")
        for el, t in ((from_el, xmin), (to_el, xmax)):
            want = dt.datetime.fromtimestamp(t, NY if local else UTC).strftime("%Y-%m-%dT%H:%M")
            assert el.get_attribute("value") == want, (el.get_attribute("value"), want)
        assert from_el.get_attribute("title") == fmt(now, local).split(" ")[-1]
        # The cursor tooltip: the point's time in the zone, named.
        over = drv.find_element(By.CSS_SELECTOR, "#alarm-chart .u-over")
        ActionChains(drv).move_to_element_with_offset(over, -over.size["width"] // 4, 0).perform()
        tip = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, "#alarm-chart .chart-tooltip .tt-time"), "tooltip")
        x = drv.execute_script("const u = document.getElementById('alarm-chart')._chart; return u.data[0][u.cursor.idx]")
        assert tip.text == fmt(dt.datetime.fromtimestamp(x, UTC), local, secs=False), (tip.text, x)
        # The Table toggle: one row per point, times in the zone, values with units.
        drv.find_element(By.CSS_SELECTOR, "#alarm-chart .table-toggle").click()
        rows = until(drv, lambda d: d.find_elements(By.CSS_SELECTOR, "#alarm-chart .chart-table tbody tr"), "chart table")
        assert len(rows) == 20
        first_t = now - dt.timedelta(minutes=40)
        assert rows[0].find_element(By.TAG_NAME, "th").text == fmt(first_t.replace(second=0), local)
        assert rows[0].find_element(By.TAG_NAME, "td").text == "0%"
        assert rows[-1].find_element(By.TAG_NAME, "td").text == "19%"
        shot(drv, f"time-alarm-{zone}-1440")

        # Mailbox list and message.
        go(drv, "#/mailbox")
        mails = drv.execute_async_script("import('/console/assets/api.js').then((m) => m.admin('ListMail', {})).then((r) => arguments[arguments.length - 1](r.Messages))")
        mine = [m for m in mails if m["to"] == "tz@example.com"]
        assert mine
        sent = dt.datetime.fromtimestamp(mine[0]["date_ms"] / 1000, UTC)
        link = until(drv, lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "#mail-table tbody tr") if "tz@example.com" in r.text], "mail row")[0]
        assert link.find_elements(By.TAG_NAME, "td")[0].text == fmt(sent, local)
        link.find_element(By.CSS_SELECTOR, "a.mail-subject").click()
        until(drv, lambda d: fmt(sent, local) in d.find_element(By.CSS_SELECTOR, "dl.kv").text, "mail date")
        # Alarm list: "Since" in the zone.
        go(drv, "#/alarms")
        row = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, f"tr[data-alarm='{name}']"), "alarm row")
        updated = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateUpdatedTimestamp"]
        assert row.find_elements(By.TAG_NAME, "td")[-1].text == fmt(updated, local)

    # The whole history, 50 at a time: paging "Older" reaches the oldest item.
    drv.set_window_size(390, 844)
    go(drv, "#/alarms/" + name)
    until(drv, lambda d: css(d, "#history-older"), "pager")
    info = drv.find_element(By.ID, "history-page")
    assert info.text == f"1–50 of {len(history)}"
    while drv.find_element(By.ID, "history-older").is_enabled():
        drv.find_element(By.ID, "history-older").click()
    rows = drv.find_elements(By.CSS_SELECTOR, "#alarm-history tbody tr")
    assert len(rows) == len(history) - (len(history) - 1) // 50 * 50
    last = rows[-1].find_elements(By.TAG_NAME, "td")
    assert last[0].text == fmt(oldest["Timestamp"], False) and last[2].text == oldest["HistorySummary"]
    assert info.text.endswith(f"of {len(history)}") and not drv.find_element(By.ID, "history-newer").get_attribute("disabled")
    drv.execute_script("arguments[0].scrollIntoView()", rows[-1])
    shot(drv, "time-history-oldest-390")


def test_alarm_graph_range_covers_the_transition_and_marks_the_window(server, browser):
    drv = browser
    drv.set_window_size(1440, 1000)
    cw = server.client("cloudwatch")
    ns = f"Test/{uuid.uuid4().hex[:10]}"
    name = f"win-{uuid.uuid4().hex[:8]}"
    period, n = 300, 5
    cw.put_metric_alarm(AlarmName=name, Namespace=ns, MetricName="m", Statistic="Average", Period=period,
                        EvaluationPeriods=n, Threshold=1.0, ComparisonOperator="GreaterThanThreshold", TreatMissingData="ignore")
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    since = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateUpdatedTimestamp"].timestamp()
    login(drv, server, "/#/alarms/" + name)
    until(drv, lambda d: d.find_element(By.ID, "alarm-chart").get_attribute("data-axes"), "alarm graph")
    xmin, xmax = drv.execute_script("const u = document.getElementById('alarm-chart')._chart; return [u.scales.x.min, u.scales.x.max]")
    window = period * n
    now = dt.datetime.now(UTC).timestamp()
    assert abs(xmax - now) < 60
    # From at least three evaluation windows before the state began (so the crossing shows).
    assert xmin <= since - 3 * window, (xmin, since)
    assert "WINDOW" in drv.find_element(By.ID, "alarm-chart").get_attribute("data-bands").split(",")
    # The window's band: its left edge sits `window` seconds before the right edge of the plot.
    left, right, edge = drv.execute_script("""const u = document.getElementById('alarm-chart')._chart;
        return [u.valToPos(u.scales.x.max - arguments[0], 'x'), u.valToPos(u.scales.x.max, 'x'), u.bbox.width / devicePixelRatio];""", window)
    assert abs(right - edge) < 1 and 0 < right - left < edge
    assert abs((right - left) / edge - window / (xmax - xmin)) < 0.01
    # ...and it is painted: inside it the plot is tinted blue, just left of it not.
    inside, outside = drv.execute_script("""const u = document.getElementById('alarm-chart')._chart, r = devicePixelRatio;
        const px = (x) => Array.from(u.ctx.getImageData(Math.round(u.bbox.left + x * r), Math.round(u.bbox.top + u.bbox.height * 0.37), 1, 1).data);
        return [px(arguments[1] - 3), px(arguments[0] - 6)];""", left, right)
    assert inside != outside and inside[2] - inside[0] > outside[2] - outside[0], (inside, outside)
    shot(drv, "time-alarm-window-1440")


def test_logs_windows_and_insights_times_follow_the_setting(server, browser):
    """Logs in New York: an absolute window is typed in the chosen zone (the fields name it), and
    Insights' time columns — UTC text from the query — are shown in that zone too."""
    from test_console_logs import bin_start, group_route, messages, now_ms, search, type_into_el

    drv = browser
    logs = server.client("logs")
    group = f"/time/{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    base = bin_start(now_ms())
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[
        {"timestamp": base + i, "message": f"line {i}"} for i in range(3)])
    at = dt.datetime.fromtimestamp(base / 1000, UTC)
    typed = lambda t, local: t.astimezone(NY if local else UTC).strftime("%Y-%m-%d %H:%M")  # noqa: E731

    ny_browser(drv)
    login(drv, server)
    go(drv, group_route(group))
    for zone in ("local", "utc"):
        local = zone == "local"
        if not local:
            set_zone(drv, "utc")
        until(drv, lambda d: d.find_element(By.ID, "log-group-name").text == group, "the group page")
        drv.find_element(By.CSS_SELECTOR, '#log-search-form button[data-range="absolute"]').click()
        frm = drv.find_element(By.CSS_SELECTOR, 'input[data-edge="from"]')
        assert frm.get_attribute("aria-label") == f"From ({fmt(at, local).split(' ')[-1]})"
        # The minute holding the lines, typed in the zone: found; a minute later: nothing.
        type_into_el(frm, typed(at, local))
        type_into_el(drv.find_element(By.CSS_SELECTOR, 'input[data-edge="to"]'), typed(at + dt.timedelta(minutes=2), local))
        assert messages(search(drv, "")) == ["line 0", "line 1", "line 2"]
        type_into_el(frm, typed(at + dt.timedelta(minutes=1), local))
        assert search(drv, "") == []
        shot(drv, f"time-logs-{zone}")

        # Insights: the bin column in the zone, the query's UTC text in its title.
        go(drv, "#/insights?range=1d&group=" + urllib.parse.quote(group, safe=""))
        until(drv, lambda d: d.find_element(By.CSS_SELECTOR, f'#insights-groups input[data-group="{group}"]').is_selected(), "insights")
        editor = drv.find_element(By.ID, "insights-query")
        editor.clear()
        editor.send_keys("stats count(*) by bin(5m)")
        drv.find_element(By.ID, "insights-run").click()
        cell = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, '#insights-results td[data-field="bin(5m)"]'), "a bin row")
        assert cell.text == fmt(at, local), (cell.text, fmt(at, local))
        assert cell.get_attribute("title").startswith(at.strftime("%Y-%m-%d %H:%M:%S"))
        go(drv, group_route(group))
