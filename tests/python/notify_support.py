"""Real receivers for notification tests, shared by the SNS, delivery and story tests: an
SMTP server (aiosmtpd) keeping what it receives, an HTTP listener recording POSTs, and the
subscriber's side of SNS (clicking confirmation links, verifying signatures with the
certificate served at SigningCertURL — independently of the server's code)."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# aiosmtpd and cryptography are imported where used: the query-protocol venv (botocore
# 1.42.6) has neither, and its tests use only the HTTP side of this module.

from conftest import free_port, wait_for

WAIT_S = 30.0


class Inbox:
    """aiosmtpd handler keeping every received message with its SMTP envelope."""

    def __init__(self):
        self.received: list[tuple[object, email.message.EmailMessage]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        msg["X-Test-Rcpt"] = ",".join(envelope.rcpt_tos)
        with self.lock:
            self.received.append((envelope, msg))
        return "250 OK"

    def to(self, address: str) -> list:
        with self.lock:
            return [m for _, m in self.received if address in m["X-Test-Rcpt"]]

    def with_text(self, text: str) -> list:
        """(envelope, message) of every message whose body contains `text`."""
        with self.lock:
            received = list(self.received)
        return [(e, m) for e, m in received if text in m.get_content()]

    def wait_for(self, address: str, subject_part: str, count: int = 1):
        def found():
            ms = [m for m in self.to(address) if subject_part in str(m["Subject"])]
            return ms if len(ms) >= count else None

        return wait_for(found, WAIT_S, what=f"{count} email(s) to {address} with {subject_part!r}")


class Relay:
    """An SMTP server (aiosmtpd) on a fixed 127.0.0.1 port that can start late, stop and
    start again — a relay that goes down and comes back — keeping one `Inbox` throughout."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.inbox = Inbox()
        self.controller = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self, **controller_options) -> "Relay":
        from aiosmtpd.controller import Controller

        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **controller_options)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


def body_of(msg) -> str:
    part = msg.get_body(preferencelist=("plain",))
    text = part.get_content() if part is not None else msg.get_content()
    return text.replace("\r\n", "\n")  # SMTP carries CRLF line ends


class PostListener:
    """An HTTP listener on 127.0.0.1 (port 0: any free one) that hands every POST to
    `on_post(path, headers, body)` (headers lower-cased, body bytes) and answers the
    `(status, content_type, body)` it returns. Webhook receivers, SMS gateways and
    Firehose endpoints in the tests are subclasses."""

    def __init__(self, port: int = 0):
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, ctype, answer = outer.on_post(self.path, headers, body)
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def on_post(self, path: str, headers: dict, body: bytes) -> tuple[int, str | None, bytes]:
        raise NotImplementedError

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Webhook(PostListener):
    """An HTTP listener on 127.0.0.1 recording every POST (path, headers, body)."""

    def __init__(self):
        self.requests: list[tuple[str, dict, str]] = []
        super().__init__()

    def on_post(self, path, headers, body):
        with self.lock:
            self.requests.append((path, headers, body.decode("utf-8")))
        return 200, None, b""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str, message_type: str | None = None) -> list:
        with self.lock:
            return [
                r
                for r in self.requests
                if r[0] == path and (message_type is None or r[1].get("x-amz-sns-message-type") == message_type)
            ]

    def wait_for(self, path: str, message_type: str, count: int = 1):
        def found():
            rs = self.at(path, message_type)
            return rs if len(rs) >= count else None

        return wait_for(found, WAIT_S, what=f"{count} {message_type} POST(s) to {path}")


def http_get(url: str) -> tuple[int, str, dict]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


# ---- signature verification (independent of the server's code) ------------------------

NOTIFICATION_KEYS = ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
CONFIRMATION_KEYS = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]


def verify_signature(doc: dict) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    keys = NOTIFICATION_KEYS if doc["Type"] == "Notification" else CONFIRMATION_KEYS
    canonical = "".join(f"{k}\n{doc[k]}\n" for k in keys if k in doc)
    status, pem, _ = http_get(doc["SigningCertURL"])
    assert status == 200, pem
    cert = x509.load_pem_x509_certificate(pem.encode())
    algo = {"1": hashes.SHA1(), "2": hashes.SHA256()}[doc["SignatureVersion"]]
    cert.public_key().verify(base64.b64decode(doc["Signature"]), canonical.encode(), padding.PKCS1v15(), algo)
    # Tampering breaks it.
    with pytest.raises(Exception):
        cert.public_key().verify(
            base64.b64decode(doc["Signature"]), (canonical + "x").encode(), padding.PKCS1v15(), algo
        )


def confirm_email(inbox: Inbox, address: str) -> str:
    """Clicks the link in the confirmation email; returns the page."""
    (msg,) = inbox.wait_for(address, "Subscription Confirmation")
    assert str(msg["Subject"]) == "AWS Notification - Subscription Confirmation"
    link = re.search(r"(http://\S+/confirmation\.html\?\S+)", body_of(msg)).group(1)
    status, page, _ = http_get(link)
    assert status == 200, page
    assert "Subscription confirmed!" in page
    return page


def confirmed_http_subscription(sns, hook: Webhook, topic: str, path: str, **attrs) -> str:
    arn = sns.subscribe(
        TopicArn=topic, Protocol="http", Endpoint=hook.url(path), ReturnSubscriptionArn=True,
        Attributes={k: v for k, v in attrs.items()},
    )["SubscriptionArn"]
    (_, _, body), = hook.wait_for(path, "SubscriptionConfirmation")
    doc = json.loads(body)
    status, xml, _ = http_get(doc["SubscribeURL"])
    assert status == 200, xml
    assert f"<SubscriptionArn>{arn}</SubscriptionArn>" in xml
    return arn
