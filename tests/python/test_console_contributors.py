"""The console's view of a multi-time-series alarm (a grouped Metrics Insights query): the
contributors in ALARM on the alarm's page (escaped, each filtering the history to itself),
the contributor column of the history, the "N contributors" badge in the alarm list, and the
graph drawing one series per group with the threshold.

Expected contributors are computed from the values the test puts.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest

from conftest import wait_for
from test_multi_series_alarms import alarm_of, contributors, grouped, put_hosts

pytest.importorskip("selenium")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, shot, until  # noqa: E402,F401  (browser: a fixture)

THRESHOLD = 50.0
# A breaching host whose name is markup: it must show as text.
HOSTILE = "<b>x</b>"
HOSTS = {"h-a": 90.0, HOSTILE: 80.0, "h-c": 10.0}
BREACHING = {h for h, v in HOSTS.items() if v > THRESHOLD}


def put_alarm(cw, name: str, ns: str, threshold: float) -> None:
    cw.put_metric_alarm(AlarmName=name, EvaluationPeriods=1, Threshold=threshold,
                        ComparisonOperator="GreaterThanThreshold", Metrics=grouped(ns))


def rows(drv, table: str) -> list:
    return drv.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")


def test_contributors_on_the_alarm_page_filter_its_history(server, browser):
    drv = browser
    cw = server.client("cloudwatch")
    ns = f"ConsoleMTS/{uuid.uuid4().hex[:8]}"
    name = f"mts-{uuid.uuid4().hex[:8]}"
    put_hosts(cw, ns, HOSTS)
    put_alarm(cw, name, ns, THRESHOLD)
    wait_for(lambda: alarm_of(cw, name)["StateValue"] == "ALARM", 30, what="alarm in ALARM")
    wait_for(lambda: {c["ContributorAttributes"]["host"] for c in contributors(cw, name)} == BREACHING, 30,
             what="both breaching hosts in ALARM")
    listed = contributors(cw, name)
    ids = {c["ContributorAttributes"]["host"]: c["ContributorId"] for c in listed}
    since_of = {c["ContributorId"]: c["StateTransitionedTimestamp"].strftime("%Y-%m-%d %H:%M:%S UTC") for c in listed}

    login(drv, server)
    drv.execute_script("localStorage.setItem('stratus.tz', 'utc')")  # times below are compared in UTC
    go(drv, "#/alarms/" + quote(name, safe=""))
    until(drv, lambda d: len(rows(d, "alarm-contributors-table")) == len(BREACHING), "contributors table")
    shot(drv, "contributors-alarm-page")
    cells = {r.get_attribute("data-contributor"): r.find_elements(By.TAG_NAME, "td") for r in rows(drv, "alarm-contributors-table")}
    assert set(cells) == set(ids.values())
    assert {c[0].text for c in cells.values()} == {f"host={h}" for h in BREACHING}
    for host, cid in ids.items():
        since, reason = cells[cid][1].text, cells[cid][2].text
        assert since == since_of[cid], (since, since_of[cid])
        assert reason.startswith("Threshold Crossed") and f"[{HOSTS[host]}" in reason, reason
    # The markup in the host name is text: no <b> element was made from it.
    assert drv.find_elements(By.CSS_SELECTOR, "#alarm-contributors-table b, main b") == []
    assert drv.find_element(By.ID, "contributors-count").text.startswith(f"{len(BREACHING)} contributors in ALARM")

    # The history names each contributor's transition in its own column.
    history_rows = rows(drv, "alarm-history")
    named = {r.get_attribute("data-contributor"): r.find_element(By.CSS_SELECTOR, ".history-contributor").text
             for r in history_rows if r.get_attribute("data-contributor")}
    assert named == {cid: f"host={h}" for h, cid in ids.items()}
    full = len(history_rows)

    # The type filter offers the contributor types and keeps only those items.
    types = Select(drv.find_element(By.ID, "history-type"))
    assert {"AlarmContributorStateUpdate", "AlarmContributorAction"} <= {o.get_attribute("value") for o in types.options}
    types.select_by_value("AlarmContributorStateUpdate")
    until(drv, lambda d: len(rows(d, "alarm-history")) == len(BREACHING), "type filter")
    types.select_by_value("")
    until(drv, lambda d: len(rows(d, "alarm-history")) == full, "type filter cleared")

    # Clicking a contributor shows only its history (DescribeAlarmHistory AlarmContributorId).
    cid = ids[HOSTILE]
    expected = cw.describe_alarm_history(AlarmName=name, AlarmContributorId=cid)["AlarmHistoryItems"]
    assert expected
    drv.find_element(By.CSS_SELECTOR, f"#alarm-contributors-table tr[data-contributor='{cid}'] button.contributor-filter").click()
    until(drv, lambda d: css(d, "#history-clear-filter"), "contributor filter applied")
    until(drv, lambda d: len(rows(d, "alarm-history")) == len(expected), "contributor's history")
    only = rows(drv, "alarm-history")
    assert {r.get_attribute("data-contributor") for r in only} == {cid}
    update = [r for r in only if r.find_elements(By.TAG_NAME, "td")[1].text == "AlarmContributorStateUpdate"]
    assert len(update) == 1
    tds = update[0].find_elements(By.TAG_NAME, "td")
    assert tds[2].text == f"host={HOSTILE}"
    assert tds[3].text == "Alarm contributor updated from OK to ALARM"
    assert f"host={HOSTILE}" in drv.find_element(By.ID, "history-filter").text
    shot(drv, "contributors-history-filtered")
    drv.find_element(By.ID, "history-clear-filter").click()
    until(drv, lambda d: len(rows(d, "alarm-history")) == full and not css(d, "#history-clear-filter"), "filter cleared")

    # The graph: one series per host of the grouped query, with the threshold line.
    chart = until(drv, lambda d: css(d, "#alarm-chart[data-points]"), "alarm graph")
    series = json.loads(chart.get_attribute("data-expr-values"))
    # Named after their groups (no Label sent), each with the values put for its host.
    assert sorted(s["label"] for s in series) == sorted(HOSTS), series
    for s in series:
        assert s["vs"] and all(v == HOSTS[s["label"]] for v in s["vs"]), s
    assert HOSTILE in drv.find_element(By.CSS_SELECTOR, "#alarm-chart .u-legend").text
    assert drv.find_elements(By.CSS_SELECTOR, "main b") == []
    assert float(chart.get_attribute("data-threshold")) == THRESHOLD
    assert "(1 × 60 s)" in drv.find_element(By.ID, "alarm-window-note").text
    assert not drv.find_element(By.CSS_SELECTOR, ".graph-panel .stat-select").is_displayed()

    # The alarm list counts the contributors in ALARM.
    go(drv, "#/alarms")
    row = until(drv, lambda d: css(d, f"tr[data-alarm='{name}']"), "alarm listed")
    badge = row.find_element(By.CSS_SELECTOR, ".badge.contributors")
    assert badge.text == f"{len(BREACHING)} contributors"
    assert "Metrics Insights" in row.text
    shot(drv, "contributors-alarm-list")

    # Above every host: no contributor is in ALARM, the page says so and the badge is gone.
    put_alarm(cw, name, ns, max(HOSTS.values()) + 10)
    wait_for(lambda: alarm_of(cw, name)["StateValue"] == "OK" and not contributors(cw, name), 30, what="all contributors OK")
    go(drv, "#/alarms/" + quote(name, safe=""))
    empty = until(drv, lambda d: css(d, "#contributors-empty"), "empty contributors")
    assert empty.text == "No contributor is in ALARM."
    assert rows(drv, "alarm-contributors-table") == []
    go(drv, "#/alarms")
    row = until(drv, lambda d: css(d, f"tr[data-alarm='{name}']"), "alarm listed again")
    assert row.find_elements(By.CSS_SELECTOR, ".badge.contributors") == []


def test_plain_alarm_page_has_no_contributors_section(server, browser):
    cw = server.client("cloudwatch")
    ns = f"ConsolePlain/{uuid.uuid4().hex[:8]}"
    name = f"plain-{uuid.uuid4().hex[:8]}"
    cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "cpu", "Value": 1.0}])
    cw.put_metric_alarm(AlarmName=name, Namespace=ns, MetricName="cpu", Statistic="Average", Period=60,
                        EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
    login(browser, server)
    go(browser, "#/alarms/" + quote(name, safe=""))
    until(browser, lambda d: css(d, "#alarm-config"), "plain alarm page")
    assert browser.find_elements(By.ID, "alarm-contributors") == []
    assert "Contributor" not in [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#alarm-history th")]


def test_more_than_a_page_of_contributors(server, browser):
    """105 hosts in ALARM: two DescribeAlarmContributors pages (100 + 5) followed, shown 50 at a time."""
    drv = browser
    cw = server.client("cloudwatch")
    ns = f"ConsoleMTSMany/{uuid.uuid4().hex[:8]}"
    name = f"mts-many-{uuid.uuid4().hex[:8]}"
    hosts = {f"h-{i:03d}": 60.0 + i % 7 for i in range(105)} | {"h-cool": 1.0}
    breaching = {h for h, v in hosts.items() if v > THRESHOLD}
    put_hosts(cw, ns, hosts)
    put_alarm(cw, name, ns, THRESHOLD)
    wait_for(lambda: len(contributors(cw, name)) == len(breaching), 60, what="105 contributors in ALARM")
    assert cw.describe_alarm_contributors(AlarmName=name).get("NextToken"), "the server pages at 100"

    login(drv, server)
    go(drv, "#/alarms/" + quote(name, safe=""))
    until(drv, lambda d: css(d, "#contributors-page"), "contributors pager")
    assert drv.find_element(By.ID, "contributors-count").text.startswith(f"{len(breaching)} contributors in ALARM")
    seen = []
    while True:
        seen += [r.find_element(By.TAG_NAME, "td").text for r in rows(drv, "alarm-contributors-table")]
        older = drv.find_element(By.ID, "contributors-older")
        if not older.is_enabled():
            break
        older.click()
    assert drv.find_element(By.ID, "contributors-page").text == f"101–{len(breaching)} of {len(breaching)}"
    assert sorted(seen) == sorted(f"host={h}" for h in breaching)
    # The history's own pager is separate: its ids are untouched by the contributors' one.
    assert drv.find_element(By.ID, "history-page").text.startswith("1–50 of ")
