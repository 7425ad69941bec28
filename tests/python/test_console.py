"""The web console in a real headless Chromium (Debian's chromium + chromium-driver) against a
real `stratus server`: the story of DESIGN.md §1 through the browser, the console's security
rules, and two performance figures (printed, not asserted).

Screenshots of every step go to target/test-artifacts/console/.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import shutil
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest

from conftest import REPO, clean_env, stratus_bin, wait_for

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import NoAlertPresentException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

ARTIFACTS = REPO / "target" / "test-artifacts" / "console"
UI_TIMEOUT = 20.0


def chromium_paths() -> tuple[str, str]:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not browser or not driver:
        pytest.fail("chromium and chromedriver are required (scripts/test installs them)")
    return browser, driver


@pytest.fixture
def browser():
    binary, driver_path = chromium_paths()
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,1000", "--disable-extensions", "--no-first-run"):
        opts.add_argument(a)
    drv = webdriver.Chrome(options=opts, service=webdriver.ChromeService(executable_path=driver_path))
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def shot(drv, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    drv.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def until(drv, fn, what: str, timeout: float = UI_TIMEOUT):
    """Waits for `fn(drv)` to be truthy; on timeout saves a screenshot named after `what`."""
    try:
        return wait_for(lambda: _try(fn, drv), timeout, interval=0.1, what=what)
    except AssertionError:
        shot(drv, "FAILED-" + "".join(c if c.isalnum() else "-" for c in what)[:60])
        raise


def _try(fn, drv):
    try:
        return fn(drv)
    except Exception:  # the page is changing under us: try again
        return None


def css(drv, selector: str):
    els = drv.find_elements(By.CSS_SELECTOR, selector)
    return els[0] if els else None


def login(drv, server, path: str = "/") -> None:
    drv.get(server.endpoint + path)
    until(drv, lambda d: "/console/login" in d.current_url and css(d, "#access_key_id"), "login page")
    kid, secret = server.admin_keys()
    drv.find_element(By.ID, "access_key_id").send_keys(kid)
    drv.find_element(By.ID, "secret_access_key").send_keys(secret)
    drv.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    until(drv, lambda d: d.execute_script("return document.body.dataset.rendered") is not None, "console after login")


def go(drv, hash_route: str) -> None:
    before = drv.execute_script("return document.body.dataset.rendered || '0'")
    drv.execute_script("location.hash = arguments[0]", hash_route)
    until(drv, lambda d: d.execute_script("return document.body.dataset.rendered") != before, f"route {hash_route}")


def dims_of(instance: str) -> list[dict]:
    return [{"Name": "InstanceId", "Value": instance}, {"Name": "device", "Value": "nvme0n1p1"},
            {"Name": "fstype", "Value": "ext4"}, {"Name": "path", "Value": "/"}]


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def put_minutes(cw, ns: str, values: dict[str, list[float]], dims: list[dict] | None = None) -> list[dt.datetime]:
    """One value per whole minute for each metric, the newest a minute before this one (oldest first);
    returns the minutes."""
    base = now().replace(second=0, microsecond=0)
    n = max(len(v) for v in values.values())
    times = [base - dt.timedelta(minutes=m) for m in range(n, 0, -1)]
    for name, vs in values.items():
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": name, "Dimensions": dims or [], "Value": v, "Timestamp": t} for t, v in zip(times, vs)])
    return times


# ---- raw HTTP helpers (no cookie jar: each call says exactly what it sends) ------------------

def raw(server, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def session_cookie(drv) -> str:
    c = drv.get_cookie("stratus_session")
    assert c, "no session cookie after login"
    assert c["httpOnly"] is True and c.get("sameSite") == "Strict", c
    return c["value"]


# ---- the story ---------------------------------------------------------------------------------

def test_story_browse_graph_alarm_confirm_and_fire(server, browser):
    drv = browser
    cw = server.client("cloudwatch")
    sns = server.client("sns")
    instance = f"i-{uuid.uuid4().hex[:17]}"
    dims = dims_of(instance)
    # 30 one-minute points over the last half hour, all under the threshold.
    base = now().replace(second=0, microsecond=0) - dt.timedelta(minutes=30)
    cw.put_metric_data(Namespace="CWAgent", MetricData=[
        {"MetricName": "disk_used_percent", "Dimensions": dims, "Value": 20.0 + i / 10, "Unit": "Percent",
         "Timestamp": base + dt.timedelta(minutes=i)} for i in range(30)])
    cw.put_metric_data(Namespace="CWAgent", MetricData=[
        {"MetricName": "disk_inodes_free", "Dimensions": dims, "Value": 1000.0, "Timestamp": now()}])

    # 1. Log in.
    login(drv, server)
    shot(drv, "01-overview")
    assert drv.find_element(By.ID, "hosts-count").text == "1"
    drv.find_element(By.LINK_TEXT, instance).click()  # the host → its metrics
    until(drv, lambda d: "?q=" in d.current_url and css(d, "a[data-dimset='InstanceId, device, fstype, path']"), "the host's dimension sets")

    # 2. Metrics → CWAgent → (InstanceId, device, fstype, path) → the host → disk_used_percent.
    drv.find_element(By.CSS_SELECTOR, "#nav a[href='#/metrics']").click()
    until(drv, lambda d: css(d, "a[data-namespace='CWAgent']"), "namespace CWAgent").click()
    until(drv, lambda d: css(d, "a[data-dimset='InstanceId, device, fstype, path']"), "dimension set").click()
    search = until(drv, lambda d: css(d, "#metric-search"), "metric search")
    search.send_keys(instance)
    row = until(drv, lambda d: css(d, "tr[data-metric='disk_used_percent']"), "disk_used_percent row")
    assert instance in row.text
    row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    chart = until(drv, lambda d: css(d, "#chart[data-points]"), "graph drawn")
    assert chart.get_attribute("data-points") == "30"
    assert json.loads(chart.get_attribute("data-series-points")) == [30]
    assert css(drv, "#chart canvas") is not None
    assert "Percent" in drv.find_element(By.CSS_SELECTOR, ".chart-status").text
    shot(drv, "02-metric-graph")
    drv.find_element(By.XPATH, "//button[.='Copy as CLI command']").click()
    cli = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, ".graph-panel pre.cli").text, "CLI command")
    assert "cloudwatch get-metric-data" in cli and instance in cli and '"Period":60' in cli, cli

    # 3. Create alarm: 10 s period, >= 50, a new topic with an email address.
    drv.find_element(By.ID, "create-alarm").click()
    until(drv, lambda d: css(d, "#create-alarm-form"), "create-alarm form")
    alarm = f"disk-root-50-{uuid.uuid4().hex[:6]}"
    topic = f"ops-{uuid.uuid4().hex[:6]}"
    address = f"ops-{uuid.uuid4().hex[:6]}@example.com"
    Select(drv.find_element(By.ID, "alarm-period")).select_by_value("10")
    Select(drv.find_element(By.ID, "alarm-op")).select_by_value("GreaterThanOrEqualToThreshold")
    drv.find_element(By.ID, "alarm-threshold").send_keys("50")
    drv.find_element(By.ID, "alarm-topic-name").send_keys(topic)
    drv.find_element(By.ID, "alarm-email").send_keys(address)
    name = drv.find_element(By.ID, "alarm-name-input")
    name.clear()
    name.send_keys(alarm)
    drv.find_element(By.ID, "alarm-description-input").send_keys("root volume over 50%")
    # An error is shown next to its field and nothing is created.
    drv.find_element(By.ID, "alarm-threshold").clear()
    drv.find_element(By.ID, "alarm-create").click()
    err = until(drv, lambda d: css(d, "#alarm-threshold[aria-invalid=true]"), "threshold error")
    assert err.find_element(By.XPATH, "..").find_element(By.CLASS_NAME, "field-error").text == "Enter a number."
    assert cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"] == []
    drv.find_element(By.ID, "alarm-threshold").send_keys("50")
    preview = drv.find_element(By.ID, "alarm-preview").text
    # Pasted as is, the command goes to this server, not to real AWS.
    assert "put-metric-alarm" in preview and f"aws --endpoint-url {server.endpoint} " in preview, preview
    shot(drv, "03-create-alarm")
    drv.find_element(By.ID, "alarm-create").click()
    until(drv, lambda d: d.find_element(By.ID, "alarm-name").text == alarm, "alarm page")
    shot(drv, "04-alarm-created")
    [a] = cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"]
    assert (a["Period"], a["Threshold"], a["ComparisonOperator"]) == (10, 50.0, "GreaterThanOrEqualToThreshold")
    assert a["AlarmDescription"] == "root volume over 50%"
    [topic_arn] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":" + topic)]
    assert a["AlarmActions"] == [topic_arn]

    # 4. The confirmation email in the mailbox page; follow its link.
    go(drv, "#/mailbox")
    link = until(drv, lambda d: d.find_element(
        By.XPATH, "//a[@class='mail-subject'][contains(., 'Subscription Confirmation')]"), "confirmation email", 30)
    shot(drv, "05-mailbox")
    link.click()
    confirm = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, "#mail-text a[href*='confirmation.html']"), "confirmation link")
    shot(drv, "06-confirmation-email")
    drv.get(confirm.get_attribute("href"))
    assert "confirmed" in drv.page_source.lower(), drv.page_source[:500]
    shot(drv, "07-confirmed")
    subs = sns.list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["Endpoint"] for s in subs if s["SubscriptionArn"].startswith("arn:")] == [address]

    # 5. The disk passes 50 %: the open alarm page turns red by itself (it polls the state)...
    drv.get(server.endpoint + "/#/alarms/" + urllib.parse.quote(alarm, safe=""))
    until(drv, lambda d: css(d, ".alarm-title .badge[data-state=INSUFFICIENT_DATA]"), "alarm page before")
    pages_before = int(drv.execute_script("return document.body.dataset.rendered"))

    def in_alarm(d):
        if cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] != "ALARM":
            cw.put_metric_data(Namespace="CWAgent", MetricData=[
                {"MetricName": "disk_used_percent", "Dimensions": dims, "Value": 81.5, "Unit": "Percent", "Timestamp": now()}])
            time.sleep(0.5)
            return None
        return css(d, ".alarm-title .badge[data-state=ALARM]")

    until(drv, in_alarm, "alarm page in ALARM", 90)
    assert int(drv.execute_script("return document.body.dataset.rendered")) == pages_before, "no navigation happened"
    assert "Threshold Crossed" in drv.find_element(By.ID, "alarm-reason").text
    history = drv.find_element(By.ID, "alarm-history").text
    assert "from INSUFFICIENT_DATA to ALARM" in history, history
    chart = until(drv, lambda d: css(d, "#alarm-chart[data-points]"), "alarm graph")
    assert "ALARM" in chart.get_attribute("data-bands").split(","), chart.get_attribute("data-bands")
    shot(drv, "08-alarm-in-alarm")

    # ...and the ALARM email is in the mailbox.
    subject = f'ALARM: "{alarm}" in US East (N. Virginia)'

    def alarm_mail(d):
        go(d, "#/mailbox")
        return [e for e in d.find_elements(By.CSS_SELECTOR, "a.mail-subject") if e.text == subject]

    until(drv, alarm_mail, "ALARM email", 60)[0].click()
    text = until(drv, lambda d: d.find_element(By.ID, "mail-text").text, "ALARM email text")
    assert "has entered the ALARM state" in text and instance in text
    shot(drv, "09-alarm-email")

    # The overview counts it and lists the transition.
    go(drv, "#/")
    assert drv.find_element(By.CSS_SELECTOR, "a.card[data-state=ALARM] .count").text == "1"
    transitions = drv.find_element(By.XPATH, "//h2[.='Recent transitions']/following-sibling::table[1]").text
    assert alarm in transitions and "from INSUFFICIENT_DATA to ALARM" in transitions, transitions
    shot(drv, "09b-overview-after")


def test_alarm_link_from_an_email_opens_the_alarm_after_login(server, browser):
    cw = server.client("cloudwatch")
    name = f"disk / {uuid.uuid4().hex[:6]} ü"
    cw.put_metric_alarm(AlarmName=name, Namespace="CWAgent", MetricName="disk_used_percent",
                        Dimensions=dims_of("i-link"), Statistic="Average", Period=60, EvaluationPeriods=1,
                        Threshold=50, ComparisonOperator="GreaterThanOrEqualToThreshold")
    link = "/#/alarms/" + urllib.parse.quote(name, safe="")  # as in the alarm email
    # A mistyped secret first: the route survives the failed attempt.
    browser.get(server.endpoint + link)
    until(browser, lambda d: css(d, "#access_key_id"), "login page")
    kid, _ = server.admin_keys()
    browser.find_element(By.ID, "access_key_id").send_keys(kid)
    browser.find_element(By.ID, "secret_access_key").send_keys("wrong-secret")
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    until(browser, lambda d: d.find_element(By.ID, "login-error").text == "Wrong access key id or secret access key.", "login error")
    browser.find_element(By.ID, "access_key_id").send_keys(kid)
    browser.find_element(By.ID, "secret_access_key").send_keys(server.admin_keys()[1])
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    until(browser, lambda d: d.find_element(By.ID, "alarm-name").text == name, "alarm from link")
    assert urllib.parse.unquote(browser.current_url.split("#", 1)[1]) == f"/alarms/{name}"
    shot(browser, "10-alarm-from-email-link")

    # Edit: the form comes filled from the alarm; a new threshold is saved.
    browser.find_element(By.ID, "edit-alarm").click()
    threshold = until(browser, lambda d: d.find_element(By.ID, "alarm-threshold"), "edit form")
    assert threshold.get_attribute("value") == "50"
    assert browser.find_element(By.ID, "alarm-name-input").get_attribute("readonly") is not None
    assert browser.find_element(By.ID, "notify-none").is_selected()
    threshold.clear()
    threshold.send_keys("75")
    browser.find_element(By.ID, "alarm-create").click()
    until(browser, lambda d: d.find_element(By.ID, "alarm-name").text == name, "alarm page after edit")
    [a] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert (a["Threshold"], a["Period"], a["Statistic"]) == (75.0, 60, "Average")


def test_alarm_form_sets_the_evaluation_window(server, browser):
    cw = server.client("cloudwatch")
    name = f"disk-window-{uuid.uuid4().hex[:6]}"
    cw.put_metric_alarm(AlarmName=name, Namespace="CWAgent", MetricName="disk_used_percent",
                        Dimensions=dims_of("i-window"), Statistic="Average", Period=3600, EvaluationPeriods=1,
                        Threshold=50, ComparisonOperator="GreaterThanOrEqualToThreshold")
    login(browser, server, "/#/alarms/" + name)
    until(browser, lambda d: d.find_element(By.ID, "alarm-name").text == name, "alarm page")
    assert browser.find_element(By.ID, "alarm-evaluation-window").text.startswith("Sliding")

    # Edit: sliding is preselected and the time zone hidden; choose a wall clock.
    browser.find_element(By.ID, "edit-alarm").click()
    window = Select(until(browser, lambda d: css(d, "#create-alarm-form #alarm-window"), "edit form"))
    assert window.first_selected_option.get_attribute("value") == "sliding"
    tz = browser.find_element(By.ID, "alarm-timezone")
    assert not tz.is_displayed()
    window.select_by_value("wall")
    assert tz.is_displayed()
    # A refused offset is shown next to the time zone; nothing changes.
    tz.send_keys("+05:31")
    browser.find_element(By.ID, "alarm-create").click()
    until(browser, lambda d: css(d, "#alarm-timezone[aria-invalid=true]"), "time zone error")
    assert "multiple of 5 minutes" in tz.find_element(By.XPATH, "..").find_element(By.CLASS_NAME, "field-error").text
    assert "EvaluationWindow" not in cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    tz.clear()
    tz.send_keys("+05:30")
    assert "complete wall-clock" in browser.find_element(By.ID, "alarm-preview").text
    shot(browser, "11-alarm-wall-clock-window")
    browser.find_element(By.ID, "alarm-create").click()
    until(browser, lambda d: d.find_element(By.ID, "alarm-evaluation-window").text.startswith("Wall clock"), "alarm page after edit")
    assert browser.find_element(By.ID, "alarm-evaluation-window").text == "Wall clock (complete periods), +05:30"
    [a] = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert a["EvaluationWindow"] == {"WallClockWindow": {"Timezone": "+05:30"}}

    # And back to sliding: the window is dropped (the default).
    browser.find_element(By.ID, "edit-alarm").click()
    window = Select(until(browser, lambda d: css(d, "#create-alarm-form #alarm-window"), "edit form again"))
    assert window.first_selected_option.get_attribute("value") == "wall"
    assert browser.find_element(By.ID, "alarm-timezone").get_attribute("value") == "+05:30"
    window.select_by_value("sliding")
    browser.find_element(By.ID, "alarm-create").click()
    until(browser, lambda d: d.find_element(By.ID, "alarm-evaluation-window").text.startswith("Sliding"), "sliding again")
    assert "EvaluationWindow" not in cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]


def test_user_data_is_rendered_as_text(server, browser):
    cw = server.client("cloudwatch")
    evil = "<script>alert(1)</script>"
    ns = f"Xss/{uuid.uuid4().hex[:6]}"
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": evil, "Dimensions": [{"Name": "host", "Value": "<img src=x onerror=alert(2)>"}], "Value": 1.0}])
    login(browser, server)
    go(browser, "#/metrics/" + urllib.parse.quote(ns, safe="") + "/host")
    row = until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#metrics-table tbody tr"), "metric row")
    assert evil in row.text and "<img src=x onerror=alert(2)>" in row.text
    row.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    until(browser, lambda d: css(d, "#chart[data-points]"), "graph of the hostile metric")
    assert evil in browser.find_element(By.CSS_SELECTOR, ".u-legend").text
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.find_elements(By.XPATH, "//main//script") == []
    assert browser.find_elements(By.CSS_SELECTOR, "main img") == []
    shot(browser, "11-hostile-metric-name")

    # An alarm's name and description, and an email address, are data too.
    name = f"<svg onload=alert(3)>-{uuid.uuid4().hex[:4]}"
    cw.put_metric_alarm(AlarmName=name, AlarmDescription="<img src=x onerror=alert(4)> & more",
                        Namespace=ns, MetricName=evil, Statistic="Average", Period=60, EvaluationPeriods=1,
                        Threshold=1, ComparisonOperator="GreaterThanThreshold")
    go(browser, "#/alarms/" + urllib.parse.quote(name, safe=""))
    until(browser, lambda d: d.find_element(By.ID, "alarm-name").text == name, "hostile alarm page")
    assert browser.find_element(By.ID, "alarm-description").text == "<img src=x onerror=alert(4)> & more"
    go(browser, "#/alarms")
    until(browser, lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "#alarms-table tbody tr") if name in r.text], "hostile alarm listed")
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text  # noqa: B018
    assert browser.find_elements(By.CSS_SELECTOR, "main img, main svg[onload]") == []


def test_empty_states_say_what_to_do(make_server, browser):
    fresh = make_server()
    login(browser, fresh)
    hosts = until(browser, lambda d: d.find_element(By.XPATH, "//h2[.='Hosts']/following-sibling::p[1]"), "hosts empty state")
    assert hosts.text.startswith("No metrics yet") and "stratus agent" in hosts.text
    go(browser, "#/metrics")
    assert "No metrics yet" in until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "main .empty"), "metrics empty").text
    go(browser, "#/alarms")
    assert "No alarms yet" in until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#alarms-table .empty"), "alarms empty").text
    go(browser, "#/mailbox")
    assert until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "main .empty"), "mailbox empty").text == "The mailbox is empty."
    go(browser, "#/create-alarm")
    assert "First choose one metric" in until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "main .empty"), "no metric chosen").text
    shot(browser, "18-empty-create-alarm")


def test_security_headers_sessions_and_csrf(server, browser):
    # `stratus server` says where the console is and how to log in.
    banner = server.log_path.read_text()
    assert f"Web console: {server.endpoint}/" in banner
    assert f"log in with aws_access_key_id and aws_secret_access_key from {server.credentials_file.resolve()}" in banner
    # Without a session: pages redirect to the login page, the API answers 401.
    status, headers, _ = raw(server, "GET", "/")
    assert status == 303 and headers["location"] == "/console/login"
    status, _, body = raw(server, "GET", "/console/api/session")
    assert status == 401 and json.loads(body)["__type"] == "NotLoggedIn"
    status, _, _ = raw(server, "POST", "/console/api/monitoring/ListMetrics", b"{}",
                       {"Content-Type": "application/json", "X-CSRF-Token": "x"})
    assert status == 401
    status, headers, page = raw(server, "GET", "/console/login")
    assert status == 200
    csp = headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp
    assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "no-referrer"
    assert b"<script>" not in page and b'<script type="module" src="/console/assets/login.js">' in page
    # Assets: public, gzip'd on request, revalidated by ETag; nothing outside the embedded set.
    status, headers, gz = raw(server, "GET", "/console/assets/uPlot.iife.min.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and len(gz) < 30_000, len(gz)
    status, _, _ = raw(server, "GET", "/console/assets/uPlot.iife.min.js", headers={"If-None-Match": headers["etag"]})
    assert status == 304
    status, _, plain = raw(server, "GET", "/console/assets/LICENSE-uPlot.txt")
    assert status == 200 and b"Leon Sorokin" in plain
    assert raw(server, "GET", "/console/assets/..%2Fmod.rs")[0] == 404
    assert raw(server, "GET", "/console/assets/index.html")[0] == 404

    # A login form post without its CSRF token is refused, and logs nobody in.
    kid, secret = server.admin_keys()
    form = urllib.parse.urlencode({"access_key_id": kid, "secret_access_key": secret}).encode()
    status, headers, _ = raw(server, "POST", "/console/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403 and "stratus_session=" not in headers.get("set-cookie", "")
    # A wrong secret is refused with the error next to the form.
    login_cookie = headers["set-cookie"].split(";")[0]
    csrf = login_cookie.split("=", 1)[1]
    bad = urllib.parse.urlencode({"access_key_id": kid, "secret_access_key": secret + "x", "csrf": csrf}).encode()
    status, _, page = raw(server, "POST", "/console/login", bad,
                          {"Content-Type": "application/x-www-form-urlencoded", "Cookie": login_cookie})
    assert status == 401 and b"Wrong access key id or secret access key." in page

    # With a session: a POST without the session's CSRF token is refused (403)...
    login(browser, server)
    cookie = {"Cookie": f"stratus_session={session_cookie(browser)}", "Content-Type": "application/json"}
    status, _, body = raw(server, "POST", "/console/api/monitoring/ListMetrics", b"{}", cookie)
    assert status == 403 and json.loads(body)["__type"] == "InvalidCsrfToken"
    status, _, _ = raw(server, "POST", "/console/api/monitoring/ListMetrics", b"{}", {**cookie, "X-CSRF-Token": "0" * 64})
    assert status == 403
    status, _, _ = raw(server, "POST", "/console/logout", b"", cookie)
    assert status == 403
    # ...and with it the same action runs, under the same validation as the API.
    token = browser.execute_script("return fetch('/console/api/session').then(r => r.json()).then(j => j.CsrfToken)")
    ok = {**cookie, "X-CSRF-Token": token}
    status, _, body = raw(server, "POST", "/console/api/monitoring/ListMetrics", b"{}", ok)
    assert status == 200 and "Metrics" in json.loads(body)
    status, _, body = raw(server, "POST", "/console/api/monitoring/PutMetricAlarm", b'{"AlarmName": "x"}', ok)
    assert status == 400 and json.loads(body)["__type"] == "MissingParameter", body
    status, _, _ = raw(server, "POST", "/console/api/monitoring/ListMetrics", b" " * (2 * 1024 * 1024), ok)
    assert status == 413

    # Logging out ends the session.
    admin_cookie = session_cookie(browser)
    browser.find_element(By.CSS_SELECTOR, ".logout button").click()
    until(browser, lambda d: "/console/login" in d.current_url, "login page after logout")
    status, _, _ = raw(server, "GET", "/console/api/session", headers={"Cookie": f"stratus_session={admin_cookie}"})
    assert status == 401

    # An agent-policy key (PutMetricData only) is refused at login, saying why; no session.
    out = server.stratus_cli("keys", "create", "--name", "console-agent", "--policy", "agent", "--output", "json")
    agent = json.loads(out.stdout)
    browser.delete_all_cookies()
    browser.get(server.endpoint + "/console/login")
    browser.find_element(By.ID, "access_key_id").send_keys(agent["AccessKeyId"])
    browser.find_element(By.ID, "secret_access_key").send_keys(agent["SecretAccessKey"])
    browser.find_element(By.CSS_SELECTOR, "#login-form button[type=submit]").click()
    err = until(browser, lambda d: (e := css(d, "#login-error")) and e.is_displayed() and e, "agent key refused")
    assert "policy (agent) cannot read metrics, alarms or topics" in err.text and "readonly or admin" in err.text
    assert "/console/login" in browser.current_url and browser.get_cookie("stratus_session") is None
    shot(browser, "12-agent-key-refused")


# ---- figures (printed, not asserted) -------------------------------------------------------------

def test_performance_figures(server, browser):
    cw = server.client("cloudwatch")
    ns = f"Perf/{uuid.uuid4().hex[:6]}"
    end = now().replace(second=0, microsecond=0)
    start = end - dt.timedelta(minutes=10080)
    names = ["cpu", "mem", "disk", "net"]
    for name in names:
        datums = [{"MetricName": name, "Dimensions": [{"Name": "host", "Value": "h1"}],
                   "Value": float((i * 7919) % 1000) / 10, "Timestamp": start + dt.timedelta(minutes=i)}
                  for i in range(10080)]
        for j in range(0, len(datums), 1000):
            cw.put_metric_data(Namespace=ns, MetricData=datums[j:j + 1000])

    # First load of the metrics page with the browser cache disabled: a full page load of
    # /#/metrics/NS/host (shell, assets, API calls) after logging in.
    login(browser, server)
    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
    browser.get(server.endpoint + "/#/metrics/" + urllib.parse.quote(ns, safe="") + "/host")
    until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#metrics-table tbody tr")) == 4, "perf metrics")
    sizes = browser.execute_script("""
        const nav = performance.getEntriesByType('navigation')[0];
        const res = performance.getEntriesByType('resource');
        const all = [nav, ...res];
        return {transfer: all.reduce((s, e) => s + (e.transferSize || 0), 0),
                encoded: all.reduce((s, e) => s + (e.encodedBodySize || 0), 0),
                decoded: all.reduce((s, e) => s + (e.decodedBodySize || 0), 0),
                count: all.length};""")
    print(f"\nFIGURE first load of the metrics page, cache disabled (shell + assets + API calls): "
          f"{sizes['transfer']} bytes transferred, {sizes['encoded']} bytes of bodies on the wire "
          f"({sizes['decoded']} decoded), {sizes['count']} requests")

    for cb in browser.find_elements(By.CSS_SELECTOR, "#metrics-table tbody input[type=checkbox]"):
        cb.click()
    until(browser, lambda d: css(d, "#chart[data-points]"), "first graph")
    browser.find_element(By.CSS_SELECTOR, "button.range[data-range='604800']").click()
    Select(browser.find_element(By.CSS_SELECTOR, ".period-select")).select_by_value("60")
    # The week the data covers exactly, as a custom range (the "1w" preset moves with the clock).
    browser.execute_script("""
        const f = (t) => { const d = new Date(t * 1000), p = (n) => String(n).padStart(2, '0');
          return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`; };
        const [from, to] = document.querySelectorAll('.custom input[type=datetime-local]');
        from.value = f(arguments[0]); to.value = f(arguments[1]);""", start.timestamp(), end.timestamp())
    browser.find_element(By.XPATH, "//span[@class='custom']/button[.='Apply']").click()
    chart = until(browser, lambda d: css(d, "#chart[data-points='10080']"), "a week of 1-minute points", 60)
    per_series = json.loads(chart.get_attribute("data-series-points"))
    assert per_series == [10080] * 4, per_series
    draw_ms = float(chart.get_attribute("data-draw-ms"))
    load_ms = float(chart.get_attribute("data-load-ms"))
    gmd = browser.execute_script("""
        const e = performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/GetMetricData')).pop();
        return e ? [e.encodedBodySize, e.decodedBodySize] : [0, 0];""")
    print(f"FIGURE graph of 10,080 points x 4 series: drawn in {draw_ms:.1f} ms (uPlot construction to "
          f"end of first draw, Performance API); {load_ms:.1f} ms including GetMetricData and JSON parsing; "
          f"its GetMetricData answer: {gmd[0]} bytes on the wire, {gmd[1]} bytes of JSON")
    shot(browser, "13-week-of-minutes")


# ---- the other pages ---------------------------------------------------------------------------

def test_keys_topics_and_dashboards_pages(server, browser):
    drv = browser
    cw = server.client("cloudwatch")
    sns = server.client("sns")
    login(drv, server)

    # Access keys: an agent key, its secret shown once with a ready-to-paste agent config.
    go(drv, "#/keys")
    drv.find_element(By.ID, "key-name").send_keys("web-1")
    Select(drv.find_element(By.ID, "key-policy")).select_by_value("agent")
    drv.find_element(By.CSS_SELECTOR, "#key-name").submit()
    kid = until(drv, lambda d: d.find_element(By.ID, "new-key-id").text, "new key shown")
    secret = drv.find_element(By.ID, "new-key-secret").text
    created = drv.find_element(By.ID, "key-created").text
    assert f"aws_access_key_id = {kid}" in created and '"endpoint_override"' in created
    shot(drv, "14-agent-key-created")
    # The config shown is one the agent accepts.
    cfg_path = Path(server.data_dir).parent / "console-agent.json"
    cfg_path.write_text(drv.find_element(By.ID, "agent-config").text)
    assert json.loads(cfg_path.read_text())["metrics"]["endpoint_override"] == server.endpoint
    check = subprocess.run([str(stratus_bin()), "agent", "--check-config", str(cfg_path)],
                           capture_output=True, text=True, timeout=60, env=clean_env())
    assert check.returncode == 0, check.stdout + check.stderr
    assert "disk_used_percent" in check.stdout, check.stdout
    agent = server.client("cloudwatch", key=kid, secret=secret)
    agent.put_metric_data(Namespace="FromConsoleKey", MetricData=[{"MetricName": "m", "Value": 1.0}])
    with pytest.raises(agent.exceptions.ClientError) as denied:
        agent.list_metrics()
    assert denied.value.response["Error"]["Code"] == "AccessDenied"
    go(drv, "#/keys?reloaded")
    assert until(drv, lambda d: [r for r in d.find_elements(By.CSS_SELECTOR, "#keys-table tbody tr") if kid in r.text], "key listed")
    assert secret not in drv.find_element(By.TAG_NAME, "main").text, "the secret is shown only once"

    # Topics: create one, subscribe an address: pending until confirmed.
    topic = f"t-{uuid.uuid4().hex[:6]}"
    go(drv, "#/topics")
    drv.find_element(By.ID, "topic-name").send_keys(topic)
    drv.find_element(By.ID, "topic-name").submit()
    section = until(drv, lambda d: css(d, f"section[data-topic='{topic}']"), "topic section")
    section.find_element(By.CSS_SELECTOR, "form.inline input").send_keys("team@example.com")
    section.find_element(By.CSS_SELECTOR, "form.inline button[type=submit]").click()
    row = until(drv, lambda d: css(d, f"section[data-topic='{topic}'] tr[data-endpoint='team@example.com']"), "subscription row")
    assert "pending confirmation" in row.text
    arn = next(t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":" + topic))
    assert [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]] == ["team@example.com"]
    # A bad endpoint: the API's error next to the field.
    section = css(drv, f"section[data-topic='{topic}']")
    section.find_element(By.CSS_SELECTOR, "form.inline input").send_keys("not-an-address")
    section.find_element(By.CSS_SELECTOR, "form.inline button[type=submit]").click()
    err = until(drv, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, f"section[data-topic='{topic}'] .field-error") if e.is_displayed()], "endpoint error")
    assert "Invalid parameter" in err[0].text, err[0].text
    shot(drv, "15-topics")
    # Resend the confirmation, confirm from the mailbox, then unsubscribe.
    css(drv, f"section[data-topic='{topic}'] tr[data-endpoint='team@example.com'] button").click()
    until(drv, lambda d: "Confirmation sent again." in d.find_element(By.CSS_SELECTOR, f"section[data-topic='{topic}']").text, "resent")

    def confirmations(d):
        go(d, "#/mailbox?" + str(time.time()))
        rows = [r for r in d.find_elements(By.CSS_SELECTOR, "#mail-table tbody tr")
                if "team@example.com" in r.text and "Subscription Confirmation" in r.text]
        return rows if len(rows) >= 2 else None

    until(drv, confirmations, "two confirmation emails", 30)[0].find_element(By.CSS_SELECTOR, "a.mail-subject").click()
    link = until(drv, lambda d: d.find_element(By.CSS_SELECTOR, "#mail-text a[href*='confirmation.html']"), "confirmation link")
    drv.get(link.get_attribute("href"))
    assert "confirmed" in drv.page_source.lower()
    drv.get(server.endpoint + "/#/topics")
    row = until(drv, lambda d: css(d, f"section[data-topic='{topic}'] tr[data-endpoint='team@example.com'] td.confirmed"), "confirmed row")
    assert row.text == "confirmed"
    css(drv, f"section[data-topic='{topic}'] tr[data-endpoint='team@example.com'] button").click()
    until(drv, lambda d: css(d, f"section[data-topic='{topic}']") and not css(d, f"section[data-topic='{topic}'] tr[data-endpoint='team@example.com']"), "unsubscribed")
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []

    # Dashboards: a body put through the API renders as a grid of graphs.
    cw.put_metric_data(Namespace="DashNs", MetricData=[
        {"MetricName": "load", "Dimensions": [{"Name": "host", "Value": "a"}], "Value": float(i), "Timestamp": now() - dt.timedelta(minutes=i)}
        for i in range(5)])
    body = {"widgets": [
        {"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
         "properties": {"title": "Load", "metrics": [["DashNs", "load", "host", "a"]], "stat": "Maximum", "period": 60}},
        {"type": "text", "x": 12, "y": 0, "width": 12, "height": 3, "properties": {"markdown": "<b>on call</b>: ops"}}]}
    cw.put_dashboard(DashboardName="ops", DashboardBody=json.dumps(body))
    go(drv, "#/dashboards/ops")
    chart = until(drv, lambda d: css(d, "#dashboard-grid .widget[data-type=metric] .chart[data-points]"), "dashboard graph")
    assert chart.get_attribute("data-points") == "5"
    assert drv.find_element(By.CSS_SELECTOR, ".text-widget").text == "<b>on call</b>: ops"
    shot(drv, "16-dashboard")
    # Editing: an invalid body is refused next to the field.
    go(drv, "#/dashboard-edit/ops")
    area = until(drv, lambda d: d.find_element(By.ID, "dashboard-body"), "dashboard editor")
    area.clear()
    area.send_keys('{"widgets": [{"type": "nope"}]}')
    area.submit()
    err = until(drv, lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, ".field-error") if e.is_displayed()], "body error")
    assert "Unknown widget type nope" in err[0].text, err[0].text
    assert json.loads(cw.get_dashboard(DashboardName="ops")["DashboardBody"]) == body


def test_phone_width(server, browser):
    """The pages reflow at a phone's width: nothing wider than the viewport."""
    server.client("cloudwatch").put_metric_data(Namespace="CWAgent", MetricData=[
        {"MetricName": "disk_used_percent", "Dimensions": dims_of("i-phone"), "Value": 42.0}])
    browser.set_window_size(390, 844)
    login(browser, server)
    for name, r in (("overview", "#/"), ("metrics", "#/metrics/CWAgent/" + urllib.parse.quote("InstanceId, device, fstype, path", safe="")),
                    ("alarms", "#/alarms"), ("mailbox", "#/mailbox")):
        go(browser, r)
        if name == "metrics":
            until(browser, lambda d: css(d, "#metrics-table input[type=checkbox]"), "metric row").click()
            until(browser, lambda d: css(d, "#chart[data-points]"), "graph at phone width")
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        shot(browser, f"17-phone-{name}")
        assert overflow <= 0, f"{name} is {overflow}px wider than a phone screen"
