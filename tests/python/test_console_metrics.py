"""The console's metrics page (metrics.js) in headless Chromium: the graph beside the list on
wide screens and above it on a phone, select all/none, the view in the URL (a reload or a fresh
login reproduces it), metric math on the graph, "Add to dashboard", and one search across
namespaces. Screenshots go to target/test-artifacts/console/."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
import uuid

import pytest

selenium = pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, shot, until  # noqa: E402,F401  (browser: a fixture)


def put_series(cw, ns: str, n: int, minutes: int = 20) -> dict[int, dict[str, float]]:
    """`requests` on i-00…i-(n-1), one point a minute. Returns {epoch s: {instance: value}}."""
    base = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(minutes=minutes + 1)
    by_t: dict[int, dict[str, float]] = {}
    for k in range(n):
        inst = f"i-{k:02d}"
        data = []
        for i in range(minutes):
            ts = base + dt.timedelta(minutes=i)
            v = float(10 + 7 * k + (i * 5 + k) % 11)
            data.append({"MetricName": "requests", "Dimensions": [{"Name": "InstanceId", "Value": inst}],
                         "Value": v, "Unit": "Count", "Timestamp": ts})
            by_t.setdefault(int(ts.timestamp()), {})[inst] = v
        cw.put_metric_data(Namespace=ns, MetricData=data)
    return by_t


def rows(drv):
    return drv.find_elements(By.CSS_SELECTOR, "#metrics-table tbody tr[data-metric]")


def checked(drv) -> int:
    return len(drv.find_elements(By.CSS_SELECTOR, "#metrics-table tbody input[type=checkbox]:checked"))


def series_count(drv) -> int | None:
    c = css(drv, "#chart[data-points]")
    return len(json.loads(c.get_attribute("data-series-points"))) if c else None


def rect(drv, selector: str) -> dict:
    return drv.execute_script("const r = document.querySelector(arguments[0]).getBoundingClientRect();"
                              "return {top: r.top, left: r.left, right: r.right, bottom: r.bottom};", selector)


def query_of(drv) -> dict[str, str]:
    frag = drv.execute_script("return location.hash")
    return dict(urllib.parse.parse_qsl(frag.split("?", 1)[1] if "?" in frag else "", keep_blank_values=True))


def test_layout_select_all_and_url_state(server, browser):
    drv = browser
    ns = f"M15-{uuid.uuid4().hex[:8]}"
    by_t = put_series(server.client("cloudwatch"), ns, 20)
    page = f"#/metrics/{ns}/InstanceId"

    # Wide screens: the graph beside the 20-row list, its top on the first screen.
    drv.set_window_size(1440, 900)
    login(drv, server)
    go(drv, page)
    until(drv, lambda d: len(rows(d)) == 20, "20 metric rows")
    drv.find_element(By.ID, "select-all").click()
    until(drv, lambda d: checked(d) == 20 and series_count(d) == 20, "all 20 selected and drawn")
    for width, height in ((1440, 900), (2560, 1440)):
        drv.set_window_size(width, height)
        inner_h = drv.execute_script("return window.innerHeight")
        until(drv, lambda d: rect(d, ".graph-col")["left"] >= rect(d, ".list-col")["right"], f"graph beside the list at {width}")
        g, lst = rect(drv, "#chart"), rect(drv, ".list-col")
        assert 0 <= g["top"] < inner_h / 2, (width, g, inner_h)
        assert g["left"] > lst["left"], (width, g, lst)
        shot(drv, f"metrics-01-beside-{width}")
    drv.set_window_size(1440, 900)

    # Select none acts on the rows shown: filter to i-1x, deselect them, the i-0x stay.
    search = drv.find_element(By.ID, "metric-search")
    search.send_keys("i-1")
    until(drv, lambda d: len(rows(d)) == 10, "10 rows for i-1")
    drv.find_element(By.ID, "select-none").click()
    until(drv, lambda d: series_count(d) == 10, "graph of the 10 left")
    ids = [li.text for li in drv.find_elements(By.CSS_SELECTOR, "#metric-ids li")]
    assert len(ids) == 10 and all("(i-0" in t for t in ids), ids
    assert ids[0].startswith("m1 ") and ids[9].startswith("m10 "), ids
    search.clear()
    search.send_keys(" ")
    until(drv, lambda d: len(rows(d)) == 20 and checked(d) == 10, "all rows back, 10 ticked")

    # Statistic, period, range and a zoom go into the URL without re-rendering the page.
    rendered = drv.execute_script("return document.body.dataset.rendered")
    Select(drv.find_element(By.CSS_SELECTOR, ".stat-select")).select_by_value("Maximum")
    drv.find_element(By.CSS_SELECTOR, "button.range[data-range='3600']").click()
    Select(drv.find_element(By.CSS_SELECTOR, ".period-select")).select_by_value("60")
    until(drv, lambda d: query_of(d).get("period") == "60" and query_of(d).get("range") == "1h", "period and range in the URL")
    x0, x1 = drv.execute_script("const u = document.getElementById('chart')._chart; const a = u.data[0];"
                                "return [a[3], a[a.length - 4]];")
    drv.execute_script("document.getElementById('chart')._chart.setScale('x', {min: arguments[0], max: arguments[1]})", x0, x1)
    until(drv, lambda d: query_of(d).get("zoom") == f"{int(x0)},{int(x1)}", "zoom in the URL")
    Select(drv.find_element(By.CSS_SELECTOR, ".refresh-select")).select_by_value("300")
    until(drv, lambda d: query_of(d).get("refresh") == "300", "auto-refresh in the URL")
    q = query_of(drv)
    assert q["stat"] == "Maximum" and q["tz"] in ("utc", "local"), q
    assert drv.execute_script("return document.body.dataset.rendered") == rendered  # replaceState: no re-render
    selected = q["sel"].split(";")
    assert len(selected) == 10 and selected[0] == f"{ns}|requests|InstanceId=i-00" and selected[1] == "|requests|InstanceId=i-01", selected
    link = drv.current_url

    # "Copy link": the clipboard, or the text field when the clipboard is denied.
    drv.find_element(By.ID, "copy-link").click()
    until(drv, lambda d: d.find_element(By.ID, "copy-link").text == "Link copied" or d.find_element(By.ID, "link-field").is_displayed(), "link copied or shown")
    assert drv.find_element(By.ID, "link-field").get_attribute("value") == link

    # The same link after logging out and in (no session storage, no cookies) reproduces the view.
    drv.execute_script("sessionStorage.clear()")
    drv.delete_all_cookies()
    drv.get("about:blank")
    drv.set_window_size(1440, 900)
    login(drv, server, "/" + link.split("/", 3)[3])
    until(drv, lambda d: series_count(d) == 10 and checked(d) == 10, "the view after a fresh login")
    assert Select(drv.find_element(By.CSS_SELECTOR, ".stat-select")).first_selected_option.text == "Maximum"
    assert Select(drv.find_element(By.CSS_SELECTOR, ".period-select")).first_selected_option.get_attribute("value") == "60"
    assert css(drv, "button.range[data-range='3600']").get_attribute("aria-pressed") == "true"
    assert Select(drv.find_element(By.CSS_SELECTOR, ".refresh-select")).first_selected_option.get_attribute("value") == "300"
    until(drv, lambda d: css(d, "#chart").get_attribute("data-zoom") == f"{int(x0)},{int(x1)}", "zoom restored")
    labels = sorted(li.text for li in drv.find_elements(By.CSS_SELECTOR, "#chart .chart-legend li"))
    assert labels == [f"requests (i-{k:02d})" for k in range(10)], labels
    shot(drv, "metrics-02-restored-from-link")
    assert "|requests|InstanceId=i-01;" in drv.current_url  # compact and readable, not JSON

    # An absolute range goes in as from/to (and the relative range and zoom go out).
    t1 = (int(drv.execute_script("return Date.now() / 1000")) // 60 - 5) * 60
    t0 = t1 - 15 * 60
    drv.execute_script("""
        const f = (t) => { const d = new Date(t * 1000), p = (n) => String(n).padStart(2, '0');
          return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; };
        const [from, to] = document.querySelectorAll('.custom input[type=datetime-local]');
        from.value = f(arguments[0]); to.value = f(arguments[1]);""", t0, t1)
    drv.find_element(By.XPATH, "//span[@class='custom']/button[.='Apply']").click()
    iso = lambda t: dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    until(drv, lambda d: (query_of(d).get("from"), query_of(d).get("to")) == (iso(t0), iso(t1)), "from/to in the URL")
    assert "range" not in query_of(drv) and "zoom" not in query_of(drv), query_of(drv)
    drv.refresh()
    inside = len([t for t in by_t if t0 <= t < t1])
    assert 5 < inside < 20
    until(drv, lambda d: (c := css(d, "#chart[data-points]")) and json.loads(c.get_attribute("data-series-points")) == [inside] * 10,
          f"the {inside} minutes from/to covers")
    assert all(b.get_attribute("aria-pressed") == "false" for b in drv.find_elements(By.CSS_SELECTOR, "button.range"))

    # A tz in the URL sets the time-zone setting.
    go(drv, page + "?tz=utc&" + link.split("?", 1)[1].replace("tz=local", "tz=utc"))
    assert drv.execute_script("return localStorage.getItem('stratus.tz')") == "utc"

    # A phone: the graph above the list.
    drv.set_window_size(390, 844)
    until(drv, lambda d: rect(d, "#chart")["bottom"] <= rect(d, "#metrics-table")["top"], "graph above the list at 390")
    assert drv.execute_script("return document.documentElement.scrollWidth - window.innerWidth") <= 0
    shot(drv, "metrics-03-phone")


def test_math_and_add_to_dashboard(server, browser):
    drv = browser
    cw = server.client("cloudwatch")
    ns = f"M15m-{uuid.uuid4().hex[:8]}"
    by_t = put_series(cw, ns, 3)
    dash = f"d-{ns}"
    # An existing dashboard in hand-written JSON (spacing, 1.0, key order): it must come back untouched.
    old_text = ('{ "widgets": [\n  {"type":"text","x":0,"y":0,"width":24,"height":2,"properties":{"markdown":"# Hello"}},\n'
                '  {"height": 5, "width": 12, "y": 2, "x": 12, "type": "metric", "properties": {"metrics": [["A", "b"]], "period": 60, "stat": "Average", "yAxis": {"left": {"min": 1.0}}}}\n'
                '], "periodOverride": "inherit" }')
    cw.put_dashboard(DashboardName=dash, DashboardBody=old_text)

    drv.set_window_size(1440, 900)
    login(drv, server)
    go(drv, f"#/metrics/{ns}/InstanceId")
    until(drv, lambda d: len(rows(d)) == 3, "3 metric rows")
    drv.find_element(By.ID, "select-all").click()
    until(drv, lambda d: series_count(d) == 3, "3 series")
    Select(drv.find_element(By.CSS_SELECTOR, ".period-select")).select_by_value("60")

    # SUM(METRICS()) drawn as its own series, equal to the sums the test computes.
    drv.find_element(By.ID, "expr-input").send_keys("SUM(METRICS())")
    drv.find_element(By.ID, "expr-label").send_keys("total")
    drv.find_element(By.ID, "expr-add").click()
    chart = until(drv, lambda d: (c := css(d, "#chart[data-points][data-expr-values]")) and series_count(d) == 4 and c, "sum drawn")
    [total] = json.loads(chart.get_attribute("data-expr-values"))
    assert total["label"] == "total"
    expected = {t: sum(v.values()) for t, v in by_t.items()}
    got = dict(zip(total["ts"], total["vs"]))
    assert got and set(got) <= set(expected), (got, expected)
    assert len(got) >= len(expected) - 1  # the oldest minute may fall outside the window
    for t, v in got.items():
        assert v == pytest.approx(expected[t]), (t, v, expected[t])
    assert "total" in drv.find_element(By.CSS_SELECTOR, "#chart .u-legend").text

    # A bad expression: its error beside it, the rest still drawn.
    drv.find_element(By.ID, "expr-input").send_keys("m1 +* nope(")
    drv.find_element(By.ID, "expr-add").click()
    err = until(drv, lambda d: (e := css(d, "#exprs li:nth-child(2) .expr-error")) and e.is_displayed() and e.text and e, "expression error")
    assert err.text.strip()
    until(drv, lambda d: series_count(d) == 4, "the good series still drawn")
    assert not css(drv, "#exprs li:nth-child(1) .expr-error").is_displayed()
    x = json.loads(query_of(drv)["x"])
    assert x == [["SUM(METRICS())", "total"], ["m1 +* nope("]], x
    drv.find_element(By.CSS_SELECTOR, "#exprs li:nth-child(2) button").click()
    until(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#exprs li")) == 1 and json.loads(query_of(d)["x"]) == [["SUM(METRICS())", "total"]], "bad one removed")
    shot(drv, "metrics-04-math")

    # Add to the existing dashboard: old widgets as they were, the new one below them.
    drv.find_element(By.ID, "add-to-dashboard").click()
    until(drv, lambda d: css(d, f"#dash-pick option[value='{dash}']"), "dashboard listed")
    Select(drv.find_element(By.ID, "dash-pick")).select_by_value(dash)
    drv.find_element(By.ID, "dash-widget-title").send_keys("Requests <b>all</b>")
    drv.find_element(By.ID, "dash-add").click()
    link = until(drv, lambda d: css(d, "#dash-link"), "link to the dashboard")
    shot(drv, "metrics-05-added-to-dashboard")
    text = cw.get_dashboard(DashboardName=dash)["DashboardBody"]
    body, old = json.loads(text), json.loads(old_text)
    assert body["widgets"][:2] == old["widgets"] and body["periodOverride"] == "inherit"
    assert text.startswith(old_text[:old_text.rindex("}\n]")]), text  # the old widgets' bytes untouched
    new = body["widgets"][2]
    assert (new["type"], new["x"], new["y"], new["width"], new["height"]) == ("metric", 0, 7, 12, 6), new
    p = new["properties"]
    assert p["metrics"] == [[ns, "requests", "InstanceId", f"i-{k:02d}", {"id": f"m{k + 1}"}] for k in range(3)] + [
        [{"expression": "SUM(METRICS())", "label": "total", "id": "e1"}]], p["metrics"]
    assert (p["stat"], p["period"], p["view"], p["title"]) == ("Average", 60, "timeSeries", "Requests <b>all</b>"), p
    assert p["region"]

    # A new dashboard by name.
    Select(drv.find_element(By.ID, "dash-pick")).select_by_value("")
    drv.find_element(By.ID, "dash-new-name").send_keys(dash + "-new")
    drv.find_element(By.ID, "dash-add").click()
    until(drv, lambda d: css(d, "#dash-link") and d.find_element(By.ID, "dash-link").text == dash + "-new", "new dashboard link")
    fresh = json.loads(cw.get_dashboard(DashboardName=dash + "-new")["DashboardBody"])
    assert len(fresh["widgets"]) == 1 and fresh["widgets"][0]["y"] == 0
    assert [r[3] for r in fresh["widgets"][0]["properties"]["metrics"][:3]] == ["i-00", "i-01", "i-02"]

    # The link opens the dashboard, which draws the widget.
    drv.find_element(By.ID, "dash-link").click()
    until(drv, lambda d: d.execute_script("return location.hash") == "#/dashboards/" + urllib.parse.quote(dash + "-new", safe=""), "dashboard page")
    chart = until(drv, lambda d: css(d, "#dashboard-grid > .widget .chart[data-points]"), "the new widget drawn")
    assert len(json.loads(chart.get_attribute("data-series-points"))) == 4  # 3 metrics and their sum
    shot(drv, "metrics-07-dashboard-widget")


def test_one_search_across_namespaces(server, browser):
    drv = browser
    cw = server.client("cloudwatch")
    token = f"web-{uuid.uuid4().hex[:6]}"
    ns_a, ns_b = f"SA-{uuid.uuid4().hex[:6]}", f"SB-{uuid.uuid4().hex[:6]}"
    now = dt.datetime.now(dt.timezone.utc)
    cw.put_metric_data(Namespace=ns_a, MetricData=[{"MetricName": "cpu", "Dimensions": [{"Name": "host", "Value": token}], "Value": 3.0, "Timestamp": now}])
    cw.put_metric_data(Namespace=ns_b, MetricData=[{"MetricName": "latency", "Dimensions": [{"Name": "host", "Value": token}, {"Name": "route", "Value": "/"}], "Value": 5.0, "Timestamp": now},
                                                  {"MetricName": "other", "Dimensions": [{"Name": "host", "Value": "elsewhere"}], "Value": 1.0, "Timestamp": now}])
    drv.set_window_size(1440, 900)
    login(drv, server)
    go(drv, "#/metrics")
    until(drv, lambda d: css(d, f"a[data-namespace='{ns_a}']"), "namespace tiles")
    drv.find_element(By.ID, "metric-search").send_keys(token)
    until(drv, lambda d: len(rows(d)) == 2, "two matches in two namespaces")
    assert sorted(r.get_attribute("data-namespace") for r in rows(drv)) == [ns_a, ns_b]
    # A namespace name matches too.
    drv.find_element(By.ID, "metric-search").clear()
    drv.find_element(By.ID, "metric-search").send_keys(ns_b)
    until(drv, lambda d: sorted(r.get_attribute("data-metric") for r in rows(d)) == ["latency", "other"], "namespace match")
    drv.find_element(By.ID, "metric-search").clear()
    drv.find_element(By.ID, "metric-search").send_keys(token)
    until(drv, lambda d: len(rows(d)) == 2, "two matches again")
    drv.find_element(By.ID, "select-all").click()
    until(drv, lambda d: series_count(d) == 2, "a graph across namespaces")
    sel = query_of(drv)["sel"].split(";")
    assert sorted(s.split("|")[0] for s in sel) == [ns_a, ns_b], sel
    assert query_of(drv)["q"] == token
    shot(drv, "metrics-06-search-all")
    # Reloaded, the search and the selection are back.
    drv.refresh()
    until(drv, lambda d: len(rows(d)) == 2 and checked(d) == 2 and series_count(d) == 2, "search and selection after reload")
