"""A small, independent AWS Signature V4 signer and raw HTTP sender.

The auth and gzip tests need requests that botocore will not make on purpose:
a date 20 minutes off, a body changed after signing, a gzip bomb, an action that
does not exist. This module signs them itself (written from the SigV4 spec, not
reusing botocore), so a test controls every byte that goes on the wire.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import http.client
import urllib.parse
from dataclasses import dataclass, field

SIGV4_DATE = "%Y%m%dT%H%M%SZ"


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class Signer:
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    service: str = "monitoring"
    # Headers signed in addition to host and x-amz-date (lower-case names).
    extra_signed: tuple[str, ...] = field(default=())

    def sign(
        self,
        method: str,
        host: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        when: _dt.datetime | None = None,
        query: str = "",
        unsigned: tuple[str, ...] = (),
        payload_hash: str | None = None,
    ) -> dict[str, str]:
        """Return a copy of `headers` with Host, X-Amz-Date and Authorization set.

        Every header passed in is signed (so tampering with any of them is detectable),
        except those named in `unsigned` (sent, but left out of SignedHeaders). The payload
        hash is the body's SHA-256 unless `payload_hash` says otherwise (as a client sending
        `x-amz-content-sha256: UNSIGNED-PAYLOAD` signs that value).
        """
        when = when or _dt.datetime.now(_dt.timezone.utc)
        amz_date = when.strftime(SIGV4_DATE)
        datestamp = amz_date[:8]
        out = dict(headers)
        out["Host"] = host
        out["X-Amz-Date"] = amz_date
        skip = {u.lower() for u in unsigned}
        lowered = {
            k.lower(): " ".join(str(v).strip().split()) for k, v in out.items() if k.lower() not in skip
        }
        signed_names = sorted(lowered)
        canonical_headers = "".join(f"{n}:{lowered[n]}\n" for n in signed_names)
        signed_headers = ";".join(signed_names)
        canonical_query = _canonical_query(query)
        canonical_request = "\n".join(
            [
                method,
                urllib.parse.quote(path, safe="/-_.~"),
                canonical_query,
                canonical_headers,
                signed_headers,
                payload_hash or hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{datestamp}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256",
                amz_date,
                scope,
                hashlib.sha256(canonical_request.encode()).hexdigest(),
            ]
        )
        key = _hmac(("AWS4" + self.secret_key).encode(), datestamp)
        key = _hmac(key, self.region)
        key = _hmac(key, self.service)
        key = _hmac(key, "aws4_request")
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        out["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        return out


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def _canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = [
        (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
        for k, v in pairs
    ]
    return "&".join(f"{k}={v}" for k, v in sorted(enc))


def send(
    endpoint: str,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    query: str = "",
    timeout: float = 30.0,
) -> RawResponse:
    """Send exactly these bytes; return status, headers and body."""
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        target = path + (("?" + query) if query else "")
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        sent = {k.lower() for k in headers}
        for k, v in headers.items():
            conn.putheader(k, v)
        if "content-length" not in sent:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return RawResponse(resp.status, dict(resp.getheaders()), data)
    finally:
        conn.close()


def host_of(endpoint: str) -> str:
    return urllib.parse.urlsplit(endpoint).netloc


def json_request(action: str, body: bytes) -> tuple[str, dict[str, str]]:
    """Path and headers of an awsJson1_0 CloudWatch call, as botocore sends it."""
    return "/", {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": f"GraniteServiceVersion20100801.{action}",
        "x-amzn-query-mode": "true",
    }


def query_request() -> tuple[str, dict[str, str]]:
    """Path and headers of an awsQuery CloudWatch call."""
    return "/", {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def signed_send(
    endpoint: str,
    signer: Signer,
    path: str,
    headers: dict[str, str],
    body: bytes,
    when: _dt.datetime | None = None,
    method: str = "POST",
) -> RawResponse:
    h = signer.sign(method, host_of(endpoint), path, headers, body, when=when)
    return send(endpoint, method, path, h, body)
