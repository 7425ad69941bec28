"""Console polish (issue 15, scope item 6) in a real headless Chromium against a real `stratus
server`: full-width layout, a compact header on a phone, WCAG AA contrast of the state badges and
muted text in the light and the dark theme (ratios computed here from the computed styles), visible
focus and a skip link, the favicon, form errors that clear once fixed, and access keys with unique
names whose secrets stay shown until dismissed.

Screenshots go to target/test-artifacts/console/ (prefixed `polish-`).
"""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

os.environ.setdefault("SE_AVOID_STATS", "true")

pytest.importorskip("selenium")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from test_console import browser, css, go, login, raw, shot, until  # noqa: E402,F401  (browser: a fixture)

AA = 4.5


# ---- contrast, as WCAG 2.x defines it ----------------------------------------------------------

def parse_rgb(s: str) -> tuple[float, float, float, float]:
    """`rgb(r, g, b)` / `rgba(r, g, b, a)` as computed styles give them."""
    inner = s[s.index("(") + 1 : s.rindex(")")].replace("/", ",")
    parts = [p.strip() for p in inner.replace(" ", ",").split(",") if p.strip()]
    r, g, b = (float(x) for x in parts[:3])
    a = float(parts[3]) if len(parts) > 3 else 1.0
    return r, g, b, a


def luminance(rgb) -> float:
    def lin(c):
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(c) for c in rgb[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg, bg) -> float:
    hi, lo = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def over(fg, bg):
    """`fg` (possibly translucent) composited over opaque `bg`."""
    a = fg[3]
    return tuple(fg[i] * a + bg[i] * (1 - a) for i in range(3)) + (1.0,)


# The colour of each visible element matching a selector and the backgrounds of it and all its
# ancestors, innermost first (composited outermost first over the white canvas).
COLOURS_JS = """
const out = [];
for (const el of document.querySelectorAll(arguments[0])) {
  const r = el.getBoundingClientRect();
  if (!r.width || !r.height || !el.textContent.trim()) continue;
  const bgs = [];
  for (let e = el; e; e = e.parentElement) bgs.push(getComputedStyle(e).backgroundColor);
  out.push({ text: el.textContent.trim().slice(0, 40), cls: el.className, color: getComputedStyle(el).color, bgs });
}
return out;
"""


def ratios(drv, selector: str) -> list[tuple[str, float]]:
    found = []
    for item in drv.execute_script(COLOURS_JS, selector):
        bg = (255.0, 255.0, 255.0, 1.0)
        for layer in reversed(item["bgs"]):
            bg = over(parse_rgb(layer), bg)
        fg = over(parse_rgb(item["color"]), bg)
        found.append((f"{item['cls']}:{item['text']}", round(contrast(fg, bg), 2)))
    return found


def dark(drv, on: bool) -> None:
    drv.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [
        {"name": "prefers-color-scheme", "value": "dark" if on else "light"}]})


def page_bg_luminance(drv) -> float:
    return luminance(parse_rgb(drv.execute_script("return getComputedStyle(document.body).backgroundColor")))


# ---- tests -------------------------------------------------------------------------------------

def test_phone_header_and_full_width_layout(server, browser):
    browser.set_window_size(390, 844)
    login(browser, server, "/#/alarms")
    until(browser, lambda d: d.execute_script("return document.body.dataset.route") == "#/alarms", "alarms page")
    inner_h = browser.execute_script("return window.innerHeight")
    header = browser.execute_script("return document.querySelector('header.top').getBoundingClientRect().height")
    shot(browser, "polish-phone-header")
    assert header <= 0.12 * inner_h, f"header {header}px of {inner_h}px"
    # The pages are one row that scrolls sideways; the page itself does not.
    tops = browser.execute_script("return [...document.querySelectorAll('#nav a')].map((a) => Math.round(a.getBoundingClientRect().top))")
    assert len(set(tops)) == 1, tops
    assert browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth") <= 0
    # The current page's link is scrolled into view.
    go(browser, "#/keys")
    link = browser.find_element(By.CSS_SELECTOR, "#nav a[href='#/keys']")
    r = browser.execute_script("return arguments[0].getBoundingClientRect().right", link)
    assert r <= browser.execute_script("return window.innerWidth"), r

    # Wide screen: main spans the window (no 1200 px cap), text keeps a readable measure.
    browser.set_window_size(2560, 1440)
    go(browser, "#/alarms")
    vw = browser.execute_script("return document.documentElement.clientWidth")
    main_w = browser.execute_script("return document.getElementById('main').getBoundingClientRect().width")
    assert main_w >= vw - 1, (main_w, vw)
    p_widths = browser.execute_script("return [...document.querySelectorAll('main p')].map((p) => p.getBoundingClientRect().width)")
    assert all(w <= 1000 for w in p_widths), p_widths
    shot(browser, "polish-wide")


def put_alarm(cw, name: str, metric: str, value: float | None, threshold: float = 50.0) -> None:
    dims = [{"Name": "host", "Value": name}]
    if value is not None:
        t = dt.datetime.now(dt.timezone.utc)
        cw.put_metric_data(Namespace="Polish", MetricData=[
            {"MetricName": metric, "Dimensions": dims, "Value": value, "Timestamp": t - dt.timedelta(minutes=i)} for i in range(5)])
    cw.put_metric_alarm(AlarmName=name, Namespace="Polish", MetricName=metric, Dimensions=dims, Statistic="Maximum",
                        Period=60, EvaluationPeriods=1, Threshold=threshold, ComparisonOperator="GreaterThanThreshold",
                        TreatMissingData="ignore")


def test_badges_and_muted_text_meet_aa_in_light_and_dark(server, browser):
    cw = server.client("cloudwatch")
    tag = uuid.uuid4().hex[:6]
    put_alarm(cw, f"hot-{tag}", "temp", 90.0)
    put_alarm(cw, f"cool-{tag}", "temp", 10.0)
    put_alarm(cw, f"nodata-{tag}", "nothing", None)
    cw.set_alarm_state(AlarmName=f"hot-{tag}", StateValue="ALARM", StateReason="test")
    cw.set_alarm_state(AlarmName=f"cool-{tag}", StateValue="OK", StateReason="test")
    login(browser, server, "/#/alarms")

    def all_states(d):
        go(d, "#/alarms?" + uuid.uuid4().hex[:4])
        states = {b.get_attribute("data-state") for b in d.find_elements(By.CSS_SELECTOR, ".badge[data-state]")}
        return states >= {"OK", "ALARM", "INSUFFICIENT_DATA"}

    until(browser, all_states, "a badge of each state")
    for theme in ("light", "dark"):
        dark(browser, theme == "dark")
        lum = page_bg_luminance(browser)
        assert (lum < 0.05) if theme == "dark" else (lum > 0.8), (theme, lum)
        shot(browser, f"polish-alarms-{theme}")
        badges = ratios(browser, ".badge[data-state]")
        assert {b.split(":")[1] for b, _ in badges} >= {"OK", "ALARM", "INSUFFICIENT DATA"}, badges
        low = [(what, r) for what, r in badges if r < AA]
        assert not low, f"{theme}: badges below AA: {low}"
        text = ratios(browser, ".muted, .hint, .empty, th, main a, main td, h1, header a")
        assert text, "no text measured"
        low = [(what, r) for what, r in text if r < AA]
        assert not low, f"{theme}: text below AA: {low}"
    # The key page's muted text and the login page, in the dark theme too.
    go(browser, "#/keys")
    until(browser, lambda d: css(d, "#keys-table tbody tr"), "keys table")
    low = [(w, r) for w, r in ratios(browser, ".muted, .hint, th, td, label, button") if r < AA]
    assert not low, f"dark keys page: {low}"
    dark(browser, False)


def test_skip_link_and_visible_focus(server, browser):
    login(browser, server, "/#/alarms")
    browser.get(server.endpoint + "/#/alarms")
    until(browser, lambda d: d.execute_script("return document.body.dataset.rendered") is not None, "page load")
    ActionChains(browser).send_keys(Keys.TAB).perform()
    active = browser.switch_to.active_element
    assert active.get_attribute("id") == "skip-link" and active.text == "Skip to content"
    rect = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", active)
    assert rect["left"] >= 0 and rect["top"] >= 0 and rect["width"] > 0, rect
    style = browser.execute_script("const s = getComputedStyle(arguments[0]); return [s.outlineStyle, s.outlineWidth]", active)
    assert style[0] != "none" and float(style[1].rstrip("px")) >= 2, style
    shot(browser, "polish-skip-link")
    ActionChains(browser).send_keys(Keys.ENTER).perform()
    until(browser, lambda d: d.switch_to.active_element.get_attribute("id") == "main", "focus on main")
    assert browser.execute_script("return location.hash") == "#/alarms"
    # Every stop of the tab order shows a focus outline.
    browser.get(server.endpoint + "/#/keys")
    browser.refresh()  # a new document: the tab order starts at the top again
    until(browser, lambda d: css(d, "#key-name"), "keys page")
    seen = []
    for _ in range(16):
        ActionChains(browser).send_keys(Keys.TAB).perform()
        el = browser.switch_to.active_element
        tag, ident, outline, width = browser.execute_script(
            "const e = arguments[0], s = getComputedStyle(e); return [e.tagName, e.id || e.textContent.trim().slice(0, 20), s.outlineStyle, s.outlineWidth]", el)
        if tag == "BODY":
            break
        seen.append(ident)
        assert outline != "none" and float(width.rstrip("px")) >= 2, (tag, ident, outline, width)
    assert seen[0] == "skip-link" and "Metrics" in seen and "key-name" in seen and len(seen) >= 10, seen


def test_favicon(server, browser):
    status, headers, body = raw(server, "GET", "/favicon.ico")
    assert status == 200, status
    assert headers.get("Content-Type", headers.get("content-type", "")).startswith("image/svg+xml")
    assert body.startswith(b"<svg")
    browser.get(server.endpoint + "/console/login")
    href = until(browser, lambda d: d.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href"), "icon link")
    assert href.startswith(server.endpoint)
    status, _, _ = raw(server, "GET", href[len(server.endpoint):])
    assert status == 200
    login(browser, server)
    href = browser.find_element(By.CSS_SELECTOR, "link[rel=icon]").get_attribute("href")
    assert raw(server, "GET", href[len(server.endpoint):])[0] == 200


def test_alarm_form_errors_clear_once_fixed(server, browser):
    cw = server.client("cloudwatch")
    name = f"form-{uuid.uuid4().hex[:6]}"
    put_alarm(cw, name, "load", None)
    login(browser, server, f"/#/alarms/{name}/edit")
    threshold = until(browser, lambda d: css(d, "#create-alarm-form #alarm-threshold"), "edit form")
    err = threshold.find_element(By.XPATH, "..").find_element(By.CLASS_NAME, "field-error")
    threshold.clear()
    browser.find_element(By.ID, "alarm-create").click()
    until(browser, lambda d: err.is_displayed() and err.text == "Enter a number.", "threshold error")
    assert threshold.get_attribute("aria-invalid") == "true"
    assert "correct the fields" in browser.find_element(By.ID, "create-error").text
    shot(browser, "polish-form-error")
    # Fixing the field clears its error and the summary at once, before any submit.
    threshold.send_keys("75")
    until(browser, lambda d: not err.is_displayed(), "threshold error cleared")
    assert threshold.get_attribute("aria-invalid") == "false"
    assert browser.find_element(By.ID, "create-error").text == ""
    # A server-side refusal next to a field also goes when that field is edited.
    Select(browser.find_element(By.ID, "alarm-window")).select_by_value("wall")
    tz = browser.find_element(By.ID, "alarm-timezone")
    tz.send_keys("+05:31")
    browser.find_element(By.ID, "alarm-create").click()
    tz_err = tz.find_element(By.XPATH, "..").find_element(By.CLASS_NAME, "field-error")
    until(browser, lambda d: tz_err.is_displayed() and "multiple of 5 minutes" in tz_err.text, "time zone error")
    tz.send_keys(Keys.BACKSPACE, "0")
    until(browser, lambda d: not tz_err.is_displayed(), "time zone error cleared")
    assert not [e for e in browser.find_elements(By.CSS_SELECTOR, "#create-alarm-form .field-error") if e.is_displayed()]
    browser.find_element(By.ID, "alarm-create").click()
    until(browser, lambda d: d.execute_script("return location.hash") == f"#/alarms/{name}", "saved")
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["Threshold"] == 75.0


def key_rows(drv, name: str) -> list:
    return [r for r in drv.find_elements(By.CSS_SELECTOR, "#keys-table tbody tr")
            if r.find_elements(By.TAG_NAME, "td")[1].text == name]


def test_key_names_are_unique_and_secrets_stay_until_dismissed(server, browser):
    tag = uuid.uuid4().hex[:6]
    # The API refuses a taken name with a 409 and a clear message.
    server.stratus_cli("keys", "create", "--name", f"cli-{tag}", "--policy", "agent")
    again = server.stratus_cli("keys", "create", "--name", f"cli-{tag}", "--policy", "agent", check=False)
    assert again.returncode != 0
    assert "already exists" in again.stdout + again.stderr, again.stdout + again.stderr

    login(browser, server, "/#/keys")
    name_input = until(browser, lambda d: css(d, "#key-name"), "keys page")
    answer = browser.execute_async_script("""
      const done = arguments[arguments.length - 1];
      const s = await (await fetch('/console/api/session')).json();
      const r = await fetch('/console/api/stratus/CreateKey', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': s.CsrfToken },
        body: JSON.stringify({ Name: arguments[0], Policy: 'agent' }) });
      done([r.status, await r.json()]);
    """, f"cli-{tag}")
    assert answer[0] == 409, answer
    assert f"An access key named cli-{tag} already exists" in answer[1]["message"], answer

    # In the form: the first key's secret is shown; the same name again is refused next to the field.
    name_input.send_keys(f"web-{tag}")
    name_input.submit()
    first_id = until(browser, lambda d: d.find_element(By.ID, "new-key-id").text, "first key shown")
    first_secret = browser.find_element(By.ID, "new-key-secret").text
    until(browser, lambda d: key_rows(d, f"web-{tag}"), "first key listed")
    name_input = browser.find_element(By.ID, "key-name")
    name_input.send_keys(f"web-{tag}")
    name_input.submit()
    err = name_input.find_element(By.XPATH, "..").find_element(By.CLASS_NAME, "field-error")
    until(browser, lambda d: err.is_displayed() and "already exists" in err.text, "duplicate refused")
    assert browser.find_element(By.ID, "new-key-secret").text == first_secret, "the first secret stays shown"
    # A name taken behind the page's back (the list it holds is stale): the server's 409 is shown.
    server.stratus_cli("keys", "create", "--name", f"race-{tag}", "--policy", "agent")
    name_input.send_keys(Keys.CONTROL + "a", Keys.BACKSPACE)  # typing, as a user does (clear() sends no input event)
    until(browser, lambda d: not err.is_displayed(), "error cleared on edit")
    name_input.send_keys(f"race-{tag}")
    name_input.submit()
    until(browser, lambda d: err.is_displayed() and f"An access key named race-{tag} already exists" in err.text, "server refusal shown")
    shot(browser, "polish-duplicate-key")
    assert first_secret in browser.find_element(By.ID, "key-created").text
    go(browser, "#/keys?" + tag)
    until(browser, lambda d: key_rows(d, f"web-{tag}"), "keys listed again")
    assert len(key_rows(browser, f"web-{tag}")) == 1
    assert len(key_rows(browser, f"race-{tag}")) == 1
    assert len(key_rows(browser, f"cli-{tag}")) == 1
    assert first_id in browser.find_element(By.ID, "keys-table").text

    # Two keys created in a row: both secrets stay until each is dismissed.
    for n in ("a", "b"):
        el = browser.find_element(By.ID, "key-name")
        el.send_keys(f"{n}-{tag}")
        el.submit()
        until(browser, lambda d, n=n: key_rows(d, f"{n}-{tag}"), f"key {n} listed")
    panels = browser.find_elements(By.CSS_SELECTOR, "#key-created .secret-once")
    assert [p.find_element(By.TAG_NAME, "h2").text for p in panels] == [f"Key b-{tag} created", f"Key a-{tag} created"]
    panels[0].find_element(By.CSS_SELECTOR, "button.dismiss").click()
    until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#key-created .secret-once")) == 1, "one dismissed")
    assert f"a-{tag}" in browser.find_element(By.ID, "key-created").text
