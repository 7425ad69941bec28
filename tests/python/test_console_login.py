"""Console login and page hardening over plain HTTP (no browser needed): the failed-login
throttle counts per client address (a second loopback address, 127.0.0.2, plays the
attacker), keys that cannot read are refused at login, and every HTML page the server serves
carries the security headers."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse

ATTACKER = "127.0.0.2"
MAX_FAILURES = 20  # console::session::MAX_FAILURES


def request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None,
            source: str = "127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30, source_address=(source, 0))
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.headers, data


def login(server, key_id: str, secret: str, source: str = "127.0.0.1"):
    """The login form as a browser submits it (CSRF cookie and field from the GET)."""
    status, headers, page = request(server, "GET", "/console/login", source=source)
    assert status == 200
    csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', page).group(1).decode()
    form = urllib.parse.urlencode({"access_key_id": key_id, "secret_access_key": secret, "csrf": csrf})
    return request(server, "POST", "/console/login", form.encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"stratus_login_csrf={csrf}",
    }, source=source)


def session_cookie(headers) -> str | None:
    for v in headers.get_all("Set-Cookie") or []:
        m = re.match(r"stratus_session=([0-9a-f]+);", v)
        if m:
            return m.group(1)
    return None


def assert_hardened(headers, what: str) -> None:
    assert headers["Content-Type"].startswith("text/html"), what
    csp = headers["Content-Security-Policy"] or ""
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, (what, csp)
    assert "'unsafe-inline'" not in csp, what
    assert headers["X-Frame-Options"] == "DENY", what
    assert headers["X-Content-Type-Options"] == "nosniff", what
    assert headers["Referrer-Policy"] == "no-referrer", what


def test_failed_logins_are_throttled_per_client_address(server):
    kid, secret = server.admin_keys()
    for n in range(MAX_FAILURES):
        status, _, page = login(server, kid, secret + "x", source=ATTACKER)
        assert status == 401, (n, page)
    # The guesser's address is locked out, even with the right secret...
    status, _, page = login(server, kid, secret, source=ATTACKER)
    assert status == 429 and b"Too many failed logins from your address" in page
    status, headers, _ = login(server, kid, secret, source=ATTACKER)
    assert status == 429 and session_cookie(headers) is None
    # ...the admin elsewhere is not.
    status, headers, _ = login(server, kid, secret)
    assert status == 303 and session_cookie(headers), headers


def test_a_key_that_cannot_read_is_refused_at_login(server):
    out = server.stratus_cli("keys", "create", "--name", "agent-login", "--policy", "agent", "--output", "json")
    agent = json.loads(out.stdout)
    status, headers, page = login(server, agent["AccessKeyId"], agent["SecretAccessKey"])
    assert status == 403, page
    assert b"policy (agent) cannot read metrics, alarms or topics" in page
    assert session_cookie(headers) is None
    # A readonly key can read, and logs in.
    out = server.stratus_cli("keys", "create", "--name", "ro-login", "--policy", "readonly", "--output", "json")
    ro = json.loads(out.stdout)
    status, headers, _ = login(server, ro["AccessKeyId"], ro["SecretAccessKey"])
    assert status == 303 and session_cookie(headers)


def test_every_html_page_carries_the_security_headers(server):
    topic = "arn:aws:sns:us-east-1:123456789012:nope"
    for path in [f"/confirmation.html?TopicArn={topic}&Token=00", "/unsubscribe.html?SubscriptionArn=x",
                 "/console/login"]:
        status, headers, _ = request(server, "GET", path)
        assert status in (200, 400, 404), (path, status)
        assert_hardened(headers, path)
    # The app shell behind the login, and a failed login's form.
    kid, secret = server.admin_keys()
    _, headers, _ = login(server, kid, secret)
    cookie = session_cookie(headers)
    status, headers, page = request(server, "GET", "/", headers={"Cookie": f"stratus_session={cookie}"})
    assert status == 200 and b"<!DOCTYPE html>" in page
    assert_hardened(headers, "app shell")
    status, headers, _ = login(server, kid, secret + "x")
    assert status == 401
    assert_hardened(headers, "failed login")
