"""Cluster mode: console sessions are shared by every node. A browser (plain HTTP here, as
tests/python/test_console_login.py does it) logs in on n1 and uses the same cookie on n2 and
n3, pages, API reads and a CSRF-protected POST alike; a logout on n3 ends the session on n1
and n2 within seconds; PostgreSQL holds the token's SHA-256, never the token."""

from __future__ import annotations

import hashlib
import http.client
import json
import re
import shutil
import subprocess
import time
import urllib.parse
from pathlib import Path

from conftest import Cluster

# console::session::RECHECK is 15 s: a logout elsewhere is noticed within that.
LOGOUT_PROPAGATES_WITHIN = 20


def request(cluster: Cluster, node: str, method: str, path: str, body: bytes = b"",
            headers: dict | None = None):
    port = urllib.parse.urlsplit(cluster.nodes[node]["endpoint"]).port
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.headers, data


def login(cluster: Cluster, node: str) -> str:
    """The login form as a browser submits it; returns the session cookie's token."""
    status, _, page = request(cluster, node, "GET", "/console/login")
    assert status == 200
    csrf = re.search(rb'name="csrf" value="([0-9a-f]+)"', page).group(1).decode()
    key, secret = cluster.keys()
    form = urllib.parse.urlencode({"access_key_id": key, "secret_access_key": secret, "csrf": csrf})
    status, headers, page = request(cluster, node, "POST", "/console/login", form.encode(), {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"stratus_login_csrf={csrf}",
    })
    assert status == 303, page
    for v in headers.get_all("Set-Cookie") or []:
        m = re.match(r"stratus_session=([0-9a-f]{64});", v)
        if m:
            return m.group(1)
    raise AssertionError(f"no session cookie: {headers}")


def session(cluster: Cluster, node: str, token: str):
    """`GET /console/api/session` with the cookie: (status, JSON body)."""
    status, _, body = request(cluster, node, "GET", "/console/api/session",
                              headers={"Cookie": f"stratus_session={token}"})
    return status, json.loads(body)


def pg_url(cluster: Cluster) -> str:
    text = (cluster.root / "n1" / "cluster.toml").read_text()
    return re.search(r'postgres_url = "([^"]+)"', text).group(1)


def test_a_console_session_works_on_every_node_and_a_logout_ends_it_everywhere(cluster: Cluster):
    key, _ = cluster.keys()
    token = login(cluster, "n1")
    cookie = {"Cookie": f"stratus_session={token}"}
    csrf = None
    for node in ("n1", "n2", "n3"):
        status, info = session(cluster, node, token)
        assert status == 200, (node, info)
        assert info["AccessKeyId"] == key
        # One CSRF token for the session, whichever node is asked.
        assert csrf in (None, info["CsrfToken"]), node
        csrf = info["CsrfToken"]
        # The app shell (not a redirect to the login page)...
        status, _, page = request(cluster, node, "GET", "/", headers=cookie)
        assert status == 200 and b"<!DOCTYPE html>" in page, (node, status)
        # ...and CSRF-protected POSTs: a read and a write.
        ok = {**cookie, "Content-Type": "application/json", "X-CSRF-Token": csrf}
        status, _, body = request(cluster, node, "POST", "/console/api/monitoring/ListMetrics", b"{}", ok)
        assert status == 200, (node, body)
        status, _, body = request(cluster, node, "POST", "/console/api/monitoring/ListMetrics", b"{}",
                                  {**ok, "X-CSRF-Token": "0" * 64})
        assert status == 403 and json.loads(body)["__type"] == "InvalidCsrfToken", (node, body)
    alarm = f"console-{token[:8]}"
    status, _, body = request(cluster, "n2", "POST", "/console/api/monitoring/PutMetricAlarm", json.dumps({
        "AlarmName": alarm, "Namespace": "ConsoleTest", "MetricName": "cpu", "Statistic": "Average",
        "Period": 60, "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
    }).encode(), {**cookie, "Content-Type": "application/json", "X-CSRF-Token": csrf})
    assert status == 200, body
    names = [a["AlarmName"] for a in
             cluster.client("cloudwatch", "n3").describe_alarms(AlarmNames=[alarm])["MetricAlarms"]]
    assert names == [alarm]
    cluster.client("cloudwatch", "n1").delete_alarms(AlarmNames=[alarm])

    # Log out on n3 (its CSRF token in the form, as the page's logout form sends it).
    form = urllib.parse.urlencode({"csrf": csrf}).encode()
    status, headers, _ = request(cluster, "n3", "POST", "/console/logout", form,
                                 {**cookie, "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303 and headers["Location"] == "/console/login"
    assert session(cluster, "n3", token)[0] == 401
    started = time.monotonic()
    pending = {"n1", "n2"}
    while pending and time.monotonic() - started < LOGOUT_PROPAGATES_WITHIN + 5:
        for node in sorted(pending):
            if session(cluster, node, token)[0] == 401:
                pending.discard(node)
        time.sleep(0.5)
    took = time.monotonic() - started
    assert not pending, f"still logged in on {pending} after {took:.1f} s"
    assert took <= LOGOUT_PROPAGATES_WITHIN, took
    for node in ("n1", "n2", "n3"):
        status, _, _ = request(cluster, node, "GET", "/", headers=cookie)
        assert status in (302, 303), node
        status, _, _ = request(cluster, node, "POST", "/console/api/monitoring/ListMetrics", b"{}",
                               {**cookie, "Content-Type": "application/json", "X-CSRF-Token": csrf})
        assert status == 401, node


def test_the_database_holds_no_raw_token(cluster: Cluster):
    # PostgreSQL's own client, installed with the server the cluster runs on.
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))
    psql = shutil.which("psql") or (str(found[-1]) if found else None)
    assert psql, "psql not found: scripts/cluster-up installs postgresql-15, which brings it"
    tokens = [login(cluster, node) for node in ("n1", "n2")]

    def rows() -> str:
        cp = subprocess.run(
            [psql, pg_url(cluster), "-At", "-c",
             "SELECT key, convert_from(value, 'UTF8') FROM stratus_kv WHERE tbl = 'console_sessions'"],
            capture_output=True, text=True, timeout=30)
        assert cp.returncode == 0, cp.stderr
        return cp.stdout

    out = rows()
    keys = {line.split("|", 1)[0] for line in out.splitlines()}
    for token in tokens:
        assert hashlib.sha256(token.encode()).hexdigest() in keys
        assert token not in out
    # The whole database, not only that table: no row anywhere holds a token.
    cp = subprocess.run([psql, pg_url(cluster), "-At", "-c",
                         "SELECT count(*) FROM stratus_kv WHERE position(convert_to($1, 'UTF8') in value) > 0 "
                         "OR position($1 in key) > 0".replace("$1", f"'{tokens[0]}'")],
                        capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert cp.stdout.strip() == "0"
    # A logout deletes the row.
    status, info = session(cluster, "n2", tokens[1])
    assert status == 200
    form = urllib.parse.urlencode({"csrf": info["CsrfToken"]}).encode()
    status, _, _ = request(cluster, "n1", "POST", "/console/logout", form, {
        "Cookie": f"stratus_session={tokens[1]}", "Content-Type": "application/x-www-form-urlencoded"})
    assert status == 303
    assert hashlib.sha256(tokens[1].encode()).hexdigest() not in rows()
