"""Console graphs (issue 15, scope item 1) in a real headless Chromium against a real `stratus server`:
20 series from the metrics page get 20 distinct legend colours, a Bytes series is drawn in MiB on an
axis wide enough for its ticks, the chart shrinks with the window, the cursor tooltip lists every
series' value sorted, and a drag-zoom moves the From/To fields.

Screenshots go to target/test-artifacts/console/ (prefixed `graphs-`).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
import uuid

import pytest

os.environ.setdefault("SE_AVOID_STATS", "true")

pytest.importorskip("selenium")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

from test_console import browser, css, go, login, shot, until  # noqa: E402,F401  (browser: a fixture)
from test_console_polish import contrast, dark, luminance, parse_rgb  # noqa: E402

MIB = 1024 * 1024
N_REQ = 19  # Count series; the 20th is Bytes


def put_twenty_series(cw, ns: str):
    """30 one-minute points for 19 Count series (`requests` on i-00…i-18) and one Bytes series
    (`mem_used` on i-19, around 120,000,000). Returns {epoch minute: {label: value}}."""
    base = dt.datetime.now(dt.timezone.utc).replace(second=0, microsecond=0) - dt.timedelta(minutes=31)
    by_t: dict[int, dict[str, float]] = {}
    for k in range(N_REQ + 1):
        inst = f"i-{k:02d}"
        name, unit = ("mem_used", "Bytes") if k == N_REQ else ("requests", "Count")
        data = []
        for i in range(30):
            ts = base + dt.timedelta(minutes=i)
            v = 120_000_000.0 + 40_000.0 * i if k == N_REQ else float(100 + 37 * k + (i * 7 + k * 3) % 23)
            data.append({"MetricName": name, "Dimensions": [{"Name": "InstanceId", "Value": inst}],
                         "Value": v, "Unit": unit, "Timestamp": ts})
            by_t.setdefault(int(ts.timestamp()), {})[f"{name} ({inst})"] = v
        cw.put_metric_data(Namespace=ns, MetricData=data)
    return by_t


def chart_js(drv, script: str):
    return drv.execute_script("const el = document.getElementById('chart'); const u = el._chart;" + script)


def test_twenty_series_palette_units_resize_tooltip_zoom(server, browser):
    drv = browser
    drv.set_window_size(1440, 1000)
    ns = f"G15-{uuid.uuid4().hex[:8]}"
    by_t = put_twenty_series(server.client("cloudwatch"), ns)
    mem = [v["mem_used (i-19)"] for v in by_t.values()]

    login(drv, server)
    go(drv, f"#/metrics/{ns}/InstanceId")
    until(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#metrics-table tbody input[type=checkbox]")) == 20, "20 metric rows")
    for cb in drv.find_elements(By.CSS_SELECTOR, "#metrics-table tbody input[type=checkbox]"):
        cb.click()
    chart = until(drv, lambda d: (c := css(d, "#chart[data-points][data-axes]"))
                  and len(json.loads(c.get_attribute("data-series-points"))) == 20 and c, "graph of 20 series")
    assert json.loads(chart.get_attribute("data-series-points")) == [30] * 20
    shot(drv, "graphs-01-twenty-series")

    # 20 distinct colours in the legend (as rendered), one line each, and a filter box past 8 series.
    colours = drv.execute_script(
        "return [...document.querySelectorAll('#chart .chart-legend .lg-item .swatch')].map(s => getComputedStyle(s).backgroundColor)")
    assert len(colours) == 20 and len(set(colours)) == 20, colours
    heights = drv.execute_script("return [...document.querySelectorAll('#chart .chart-legend .lg-item')].map(b => b.getBoundingClientRect().height)")
    assert max(heights) < 24, heights  # one line per series
    flt = css(drv, "#chart .legend-search")
    flt.send_keys("mem_used")
    visible = lambda d: [li.text for li in d.find_elements(By.CSS_SELECTOR, "#chart .chart-legend li") if li.is_displayed()]
    until(drv, lambda d: visible(d) == ["mem_used (i-19)"], "legend filtered to mem_used")
    flt.clear()
    flt.send_keys(" ")
    until(drv, lambda d: len(visible(d)) == 20, "legend unfiltered")

    # The Bytes axis is in MiB around the data; its width fits the longest tick label.
    axes = json.loads(chart.get_attribute("data-axes"))
    byte_axis = [i for i, a in enumerate(axes) if a["label"] == "Bytes"]
    assert len(byte_axis) == 1, axes
    ticks = [t for t in axes[byte_axis[0]]["ticks"] if t]
    assert ticks and all(t.endswith(" MiB") for t in ticks), ticks
    values = [float(t[:-4]) for t in ticks]
    steps = {round(b - a, 6) for a, b in zip(values, values[1:])}
    assert len(steps) == 1 and all(abs(v / min(steps) - round(v / min(steps))) < 1e-6 for v in values), values  # round MiB figures
    lo, hi = min(mem) / MIB, max(mem) / MIB
    assert min(values) <= lo + 0.5 and max(values) >= hi - 0.5, (values, lo, hi)
    assert min(values) >= lo - 2 and max(values) <= hi + 2, (values, lo, hi)
    count_axis = [a for a in axes[1:] if a["label"] == "Count"]
    assert count_axis and not any("MiB" in t for t in count_axis[0]["ticks"]), axes
    for ai in range(1, len(axes)):
        size, need = chart_js(drv, f"""
            const ax = u.axes[{ai}]; u.ctx.font = ax.font[0];
            const w = Math.max(...{json.dumps(axes[ai]['ticks'])}.map(t => u.ctx.measureText(t).width)) / devicePixelRatio;
            return [ax._size, w + ax.ticks.size + ax.gap];""")
        assert size >= need, (ai, size, need)

    # Tidy ISO-like time ticks: HH:MM, the first with its date, none repeated.
    xt = [t for t in axes[0]["ticks"] if t]
    assert re.fullmatch(r"\d\d:\d\d\n\d{4}-\d\d-\d\d", xt[0]), xt
    assert all(re.fullmatch(r"\d\d:\d\d(\n[\d-]+)?", t) for t in xt) and len(set(xt)) == len(xt), xt

    # The chart follows the window: 1440 → 500 px, the canvas shrinks to its container (at 1440 the
    # metrics page puts the graph beside the list, so it is narrower than the window to begin with).
    geom = "const r = el.getBoundingClientRect(); return [u.width, el.querySelector('canvas').getBoundingClientRect().width, r.width, r.right, window.innerWidth];"
    w_wide, canvas_wide, box_wide, _, _ = chart_js(drv, geom)
    drv.set_window_size(500, 1000)
    until(drv, lambda d: chart_js(d, geom)[1] < canvas_wide - 300, "canvas shrinks with the window")
    w, canvas_w, box_w, right, inner = until(drv, lambda d: (g := chart_js(d, geom)) and abs(g[0] - g[2]) <= 1 and g, "chart width = container width")
    assert canvas_w <= box_w + 1 and right <= inner, (canvas_w, box_w, right, inner)
    assert box_w < box_wide, (box_w, box_wide)
    shot(drv, "graphs-02-narrow")
    drv.set_window_size(1440, 1000)
    until(drv, lambda d: abs(chart_js(d, geom)[1] - canvas_wide) <= 2, "canvas grows back")

    # Hover: the tooltip lists the 20 values at the cursor's time, largest first.
    over = css(drv, "#chart .u-over")
    # (the data fills the last 30 minutes of the 3-hour range: hover there)
    ActionChains(drv).move_to_element_with_offset(over, int(over.size["width"] / 2 - 60), 0).perform()
    tip = until(drv, lambda d: (t := css(d, "#chart .chart-tooltip")) and t.is_displayed() and t, "tooltip")
    rows = tip.find_elements(By.CSS_SELECTOR, ".tt-row")
    assert len(rows) == 20
    shown = [float(r.get_attribute("data-value")) for r in rows]
    assert shown == sorted(shown, reverse=True), shown
    labels = [r.find_element(By.CSS_SELECTOR, ".tt-label").text for r in rows]
    t = next(t for t, vals in by_t.items() if sorted(vals.values(), reverse=True) == shown)
    assert labels == sorted(by_t[t], key=lambda k: -by_t[t][k]), labels
    assert rows[0].find_element(By.CSS_SELECTOR, ".tt-value").text == f"{by_t[t]['mem_used (i-19)'] / MIB:.1f}".rstrip("0").rstrip(".") + " MiB"
    when = tip.find_element(By.CSS_SELECTOR, ".tt-time").text
    local = dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M")
    assert re.fullmatch(re.escape(local) + r" \S+", when), (when, local)
    shot(drv, "graphs-03-tooltip")

    # Zoom by dragging across the plot: From/To follow, time ticks stay tidy.
    from_el = drv.find_element(By.CSS_SELECTOR, ".graph-panel input[aria-label=From]")
    to_el = drv.find_element(By.CSS_SELECTOR, ".graph-panel input[aria-label=To]")
    before = (from_el.get_attribute("value"), to_el.get_attribute("value"))
    ActionChains(drv).move_to_element_with_offset(over, -150, 0).click_and_hold().move_by_offset(200, 0).release().perform()
    until(drv, lambda d: (from_el.get_attribute("value"), to_el.get_attribute("value")) != before, "From/To follow the zoom")
    x0, x1 = chart_js(drv, "return [u.scales.x.min, u.scales.x.max];")
    assert from_el.get_attribute("value") == dt.datetime.fromtimestamp(x0).strftime("%Y-%m-%dT%H:%M")
    assert to_el.get_attribute("value") == dt.datetime.fromtimestamp(x1).strftime("%Y-%m-%dT%H:%M")
    assert before[0] <= from_el.get_attribute("value") < to_el.get_attribute("value") <= before[1]
    time.sleep(0.2)
    xt = [t for t in json.loads(chart.get_attribute("data-axes"))[0]["ticks"] if t]
    plot_w = chart_js(drv, "return u.bbox.width / devicePixelRatio;")
    assert 2 <= len(xt) <= plot_w / 60 and len(set(xt)) == len(xt), xt
    shot(drv, "graphs-04-zoomed")

    # A click on a legend line hides that series (and the tooltip leaves it out); another shows it.
    item = drv.find_element(By.XPATH, "//div[@id='chart']//button[contains(@class,'lg-item')][normalize-space()='mem_used (i-19)']")
    item.click()
    assert item.get_attribute("aria-pressed") == "false"
    idx = chart_js(drv, "return u.series.findIndex(s => s.label === 'mem_used (i-19)');")
    assert chart_js(drv, f"return u.series[{idx}].show;") is False
    ActionChains(drv).move_to_element_with_offset(over, int(over.size["width"] / 2 - 30), 10).perform()
    until(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart .chart-tooltip .tt-row")) == 19, "tooltip without the hidden series")
    item.click()
    assert chart_js(drv, f"return u.series[{idx}].show;") is True

    # The dark theme: the same 20 series, still 20 distinct colours, each ≥ 3:1 against the
    # graph panel's dark background (the light palette's navy and near-black would vanish).
    dark(drv, True)
    drv.refresh()  # the metrics page's URL keeps the selection
    until(drv, lambda d: (c := css(d, "#chart[data-points]")) and len(json.loads(c.get_attribute("data-series-points"))) == 20,
          "graph of 20 series, dark")
    colours = drv.execute_script(
        "return [...document.querySelectorAll('#chart .chart-legend .lg-item .swatch')].map(s => getComputedStyle(s).backgroundColor)")
    strokes = chart_js(drv, "return u.series.slice(1).map(s => s._stroke || s.stroke);")
    panel = parse_rgb(drv.execute_script("return getComputedStyle(document.querySelector('#chart').closest('.graph-panel')).backgroundColor"))
    assert luminance(panel) < 0.05, panel  # the theme is on
    assert len(set(colours)) == 20, colours
    low = [(c, round(contrast(parse_rgb(c), panel), 2)) for c in colours if contrast(parse_rgb(c), panel) < 3]
    assert not low, low
    assert len(set(map(str, strokes))) == 20, strokes
    shot(drv, "graphs-05-dark")
    dark(drv, False)
