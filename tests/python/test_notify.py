"""Notification delivery end to end: a real `stratus server`, a real SMTP server (aiosmtpd)
on 127.0.0.1, real HTTP listeners for webhooks. Messages are produced by the admin action
StratusAdmin.SendTestNotification through `stratus mail test`, with short retry policies so
retries happen within seconds."""

from __future__ import annotations

import email
import email.policy
import json
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import clean_env, stratus_bin, wait_for
from notify_support import Relay

FROM = "Stratus Alerts <alerts@stratus.test>"
FAST_RETRIES = ["--num-retries", "30", "--min-delay", "1", "--max-delay", "1"]


@pytest.fixture
def relay():
    r = Relay()
    yield r
    r.stop()


def send_test(server, *args: str) -> str:
    cp = server.stratus_cli("mail", "test", *args)
    message_id = cp.stdout.strip()
    assert len(message_id) == 36, cp.stdout
    return message_id


def delivery(server, message_id: str) -> dict:
    cp = server.stratus_cli("mail", "deliveries", "--json")
    for d in json.loads(cp.stdout)["Deliveries"]:
        if d["MessageId"] == message_id:
            return d
    raise AssertionError(f"no delivery {message_id} in {cp.stdout}")


def relay_server(make_server, relay_url: str):
    return make_server(env={"STRATUS_SMTP_URL": relay_url, "STRATUS_SMTP_FROM": FROM})


def test_email_arrives_through_the_relay_with_proper_headers(make_server, relay):
    relay.start()
    server = relay_server(make_server, relay.url)
    mid = send_test(server, "--to", "Ops Team <ops@example.com>")
    wait_for(lambda: relay.inbox.with_text(mid), 20, what="the test email")
    time.sleep(0.5)
    got = relay.inbox.with_text(mid)
    assert len(got) == 1
    env, msg = got[0]
    assert env.mail_from == "alerts@stratus.test"
    assert env.rcpt_tos == ["ops@example.com"]
    assert msg["From"].addresses[0].addr_spec == "alerts@stratus.test"
    assert msg["From"].addresses[0].display_name == "Stratus Alerts"
    assert msg["To"].addresses[0].addr_spec == "ops@example.com"
    assert msg["Subject"] == "Stratus test notification"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith("@stratus.test>")
    assert msg["Date"].datetime is not None
    assert abs(time.time() - msg["Date"].datetime.timestamp()) < 120
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["MIME-Version"] == "1.0"
    assert "This is a test notification from Stratus" in msg.get_content()
    assert server.endpoint in msg.get_content()
    d = delivery(server, mid)
    assert (d["Status"], d["Attempts"], d["Protocol"]) == ("Delivered", 1, "email")
    assert d["DeliveredAt"] is not None


def test_relay_down_then_up_delivers_exactly_once(make_server, relay):
    server = relay_server(make_server, relay.url)  # nothing listens on relay.port yet
    mid = send_test(server, "--to", "ops@example.com", *FAST_RETRIES)
    d = wait_for(
        lambda: (x := delivery(server, mid))["Attempts"] >= 2 and x,
        20,
        what="two failed attempts",
    )
    assert d["Status"] == "Pending"
    assert "127.0.0.1" in d["LastError"], d
    relay.start()
    wait_for(lambda: relay.inbox.with_text(mid), 20, what="the email after the relay came up")
    d = wait_for(lambda: (x := delivery(server, mid))["Status"] == "Delivered" and x, 10, what="Delivered")
    time.sleep(2.5)  # longer than the retry delay: a second send would have happened by now
    assert len(relay.inbox.with_text(mid)) == 1
    assert delivery(server, mid)["Attempts"] == d["Attempts"]


def test_pending_delivery_survives_kill_9(make_server, relay):
    server = relay_server(make_server, relay.url)  # relay down
    mid = send_test(server, "--to", "ops@example.com", *FAST_RETRIES)
    wait_for(lambda: delivery(server, mid)["Attempts"] >= 1, 20, what="a failed attempt")
    server.kill()
    relay.start()
    server.start()
    wait_for(lambda: relay.inbox.with_text(mid), 20, what="the email after the restart")
    wait_for(lambda: delivery(server, mid)["Status"] == "Delivered", 10, what="Delivered")
    # A clean restart afterwards must not send it again either.
    server.restart()
    time.sleep(2.5)
    assert len(relay.inbox.with_text(mid)) == 1
    assert delivery(server, mid)["Status"] == "Delivered"


class Webhook:
    """A real HTTP listener answering with scripted statuses (then 200)."""

    def __init__(self, statuses: list[int]):
        self.statuses = list(statuses)
        self.requests: list[tuple[str, dict, bytes]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hook.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                status = hook.statuses.pop(0) if hook.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    # Following it would reach this hook again and get a 200.
                    self.send_header("Location", self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_webhook_failing_twice_is_delivered_once_after_retries(make_server):
    hook = Webhook([500, 500])
    try:
        server = make_server()
        mid = send_test(server, "--url", hook.url, "--num-retries", "3", "--min-delay", "1", "--max-delay", "1")
        d = wait_for(lambda: (x := delivery(server, mid))["Status"] == "Delivered" and x, 20, what="Delivered")
        assert d["Attempts"] == 3
        assert d["LastError"] and "500" in d["LastError"]
        time.sleep(2.5)
        assert len(hook.requests) == 3
        path, headers, body = hook.requests[-1]
        assert path == "/hook"
        assert headers["content-type"] == "application/json"
        doc = json.loads(body)
        assert doc["Type"] == "TestNotification" and doc["MessageId"] == mid
    finally:
        hook.close()


def test_webhook_gives_up_after_its_retries(make_server):
    hook = Webhook([503] * 10)
    try:
        server = make_server()
        mid = send_test(server, "--url", hook.url, "--num-retries", "1", "--min-delay", "1", "--max-delay", "1")
        d = wait_for(lambda: (x := delivery(server, mid))["Status"] == "GaveUp" and x, 20, what="GaveUp")
        assert d["Attempts"] == 2 and "503" in d["LastError"] and d["GivenUpAt"]
        time.sleep(2)
        assert len(hook.requests) == 2
    finally:
        hook.close()


def test_no_relay_means_local_mailbox(make_server):
    server = make_server()
    mid = send_test(server, "--to", "dev@example.com")
    mailbox = server.data_dir / "mailbox"
    wait_for(lambda: list(mailbox.glob("*.eml")), 20, what="a mailbox file")
    files = list(mailbox.glob("*.eml"))
    assert len(files) == 1 and not list(mailbox.glob("*.tmp"))
    msg = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert msg["To"].addresses[0].addr_spec == "dev@example.com"
    assert mid in msg.get_content()
    wait_for(lambda: delivery(server, mid)["Status"] == "Delivered", 10, what="Delivered")

    def mail(*args):
        cp = subprocess.run(
            [str(stratus_bin()), "mail", *args, "--data-dir", str(server.data_dir)],
            capture_output=True, text=True, timeout=30, env=clean_env(),
        )
        assert cp.returncode == 0, cp.stderr
        return cp.stdout

    listing = mail("list")
    rows = listing.strip().splitlines()
    assert rows[0].split()[:4] == ["ID", "DATE", "TO", "SUBJECT"]
    assert len(rows) == 2 and "dev@example.com" in rows[1] and "Stratus test notification" in rows[1]
    mail_id = rows[1].split()[0]
    assert files[0].name.endswith(f"-{mail_id}.eml")
    shown = mail("show", mail_id)
    assert "Subject:    Stratus test notification" in shown
    assert "To:         dev@example.com" in shown
    assert mid in shown and "This is a test notification from Stratus" in shown
    assert json.loads(mail("list", "--json"))[0]["id"] == mail_id


def test_bad_requests_change_nothing(make_server, tmp_path):
    server = make_server()
    for args, fragment in [
        (["--url", "ftp://example.com/x"], "Endpoint must be an http:// URL"),
        (["--to", "not-an-address"], "is not valid"),
        (["--to", "a@example.com", "--backoff", "sideways"], "BackoffFunction"),
        (["--to", "a@example.com", "--min-delay", "9", "--max-delay", "3"], "MinDelaySeconds"),
    ]:
        cp = server.stratus_cli("mail", "test", *args, check=False)
        assert cp.returncode != 0
        assert "InvalidParameterValue" in cp.stderr and fragment in cp.stderr, cp.stderr
    # A key without the admin policy may not send test notifications.
    out = server.stratus_cli("keys", "create", "--name", "ro", "--policy", "readonly", "--output", "json")
    key = json.loads(out.stdout)
    creds = tmp_path / "ro-credentials"
    creds.write_text(
        f"[stratus]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    cp = subprocess.run(
        [str(stratus_bin()), "mail", "test", "--to", "a@example.com", "--endpoint", server.endpoint,
         "--credentials-file", str(creds)],
        capture_output=True, text=True, timeout=30, env=clean_env(),
    )
    assert cp.returncode != 0 and "AccessDenied" in cp.stderr, cp.stderr
    cp = server.stratus_cli("mail", "deliveries", "--json")
    assert json.loads(cp.stdout)["Deliveries"] == []


def test_bad_smtp_url_stops_the_server_at_start(make_server):
    server = make_server(env={"STRATUS_SMTP_URL": "http://mail.example.com"}, start=False)
    with pytest.raises(RuntimeError) as e:
        server.start()
    assert "--smtp-url" in str(e.value) and "unsupported SMTP URL scheme" in str(e.value)


def test_https_verifies_the_certificate(make_server, tmp_path):
    """https deliveries go through rustls with the webpki roots: a self-signed endpoint
    is refused at the handshake (no test-only trust hook exists), and nothing is POSTed."""
    import shutil
    import ssl

    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a self-signed certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )
    hook = Webhook([])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    hook.httpd.socket = ctx.wrap_socket(hook.httpd.socket, server_side=True)
    url = hook.url.replace("http://", "https://")
    try:
        server = make_server()
        mid = send_test(server, "--url", url, "--num-retries", "0")
        d = wait_for(lambda: (x := delivery(server, mid))["Status"] == "GaveUp" and x, 30, what="GaveUp")
        assert d["Protocol"] == "https" and d["Attempts"] == 1
        assert "certificate" in d["LastError"].lower() or "issuer" in d["LastError"].lower(), d
        assert hook.requests == []
    finally:
        hook.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_relay_login_with_percent_encoded_credentials(make_server):
    """user:password@ in --smtp-url is percent-decoded and used for SMTP AUTH."""
    from aiosmtpd.smtp import AuthResult

    seen = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == b"alerts@stratus.test" and auth_data.password == b"p@ss:w/rd"
        return AuthResult(success=ok)

    relay = Relay().start(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    try:
        url = f"smtp://alerts%40stratus.test:p%40ss%3Aw%2Frd@127.0.0.1:{relay.port}"
        server = relay_server(make_server, url)
        mid = send_test(server, "--to", "ops@example.com")
        wait_for(lambda: relay.inbox.with_text(mid), 20, what="the authenticated email")
        assert seen and seen[0][1:] == (b"alerts@stratus.test", b"p@ss:w/rd")
        assert "p@ss" not in server.log_tail(200)
    finally:
        relay.stop()


def test_webhook_redirects_are_not_followed(make_server):
    hook = Webhook([302])
    try:
        server = make_server()
        mid = send_test(server, "--url", hook.url, "--num-retries", "0")
        d = wait_for(lambda: (x := delivery(server, mid))["Status"] == "GaveUp" and x, 20, what="GaveUp")
        assert "302" in d["LastError"] and d["Attempts"] == 1
        assert len(hook.requests) == 1
    finally:
        hook.close()
