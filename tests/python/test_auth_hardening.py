"""SigV4 closed against replay and tampering, and AWS's 403/413 in every protocol.

Each refusal here was an acceptance before: a body swapped under a signature that named
its hash, a payload declared unsigned, a credential scoped to another service, a header
that decides what the request does left out of SignedHeaders. Requests are signed by
`rawsig` (independent of botocore and of the server) so a test controls every byte.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import time
import uuid

import pytest

import rawsig
from expect import floor_to

JSON_CT = "application/x-amz-json-1.0"
QUERY_CT = "application/x-www-form-urlencoded; charset=utf-8"
TARGET = "GraniteServiceVersion20100801."
CBOR_PATH = "/service/GraniteServiceVersion20100801/operation/"


@pytest.fixture(scope="module")
def admin(server):
    key, secret = server.admin_keys()
    return rawsig.Signer(key, secret)


def text(resp: rawsig.RawResponse) -> str:
    """The body with XML entities undone (query errors spell ' as &apos;)."""
    return html.unescape(resp.text)


def error_code(resp: rawsig.RawResponse) -> str:
    hdr = resp.header("x-amzn-query-error")
    if hdr:
        return hdr.split(";")[0]
    text = resp.text
    if "<Code>" in text:
        return text.split("<Code>")[1].split("</Code>")[0]
    return ""


def put_body(ns: str, value: float = 1.0) -> bytes:
    t = floor_to(time.time(), 60) - 120
    return json.dumps({"Namespace": ns, "MetricData": [{"MetricName": "m", "Timestamp": t, "Value": value}]}).encode()


def json_headers(action: str, **extra: str) -> dict[str, str]:
    return {"Content-Type": JSON_CT, "X-Amz-Target": TARGET + action, "x-amzn-query-mode": "true", **extra}


def send(server, signer, headers, body, send_body=None, path="/", **sign_kwargs) -> rawsig.RawResponse:
    h = signer.sign("POST", rawsig.host_of(server.endpoint), path, headers, body, **sign_kwargs)
    return rawsig.send(server.endpoint, "POST", path, h, body if send_body is None else send_body)


def assert_nothing_stored(cw, ns):
    assert cw.list_metrics(Namespace=ns)["Metrics"] == []


# -- the payload hash -----------------------------------------------------------------------


def test_declared_body_hash_is_checked_against_the_body(server, admin, cw, ns):
    signed = put_body(ns, 1.0)
    forged = put_body(ns, 9.0)
    assert len(signed) == len(forged) and signed != forged
    headers = json_headers("PutMetricData", **{"x-amz-content-sha256": hashlib.sha256(signed).hexdigest()})

    # Control: the declared hash of the body actually sent is accepted.
    ok = send(server, admin, headers, signed)
    assert ok.status == 200, ok
    stored = cw.list_metrics(Namespace=ns)["Metrics"]
    assert len(stored) == 1

    other_ns = ns + "/forged"
    signed = put_body(other_ns, 1.0)
    forged = put_body(other_ns, 9.0)
    headers["x-amz-content-sha256"] = hashlib.sha256(signed).hexdigest()
    resp = send(server, admin, headers, signed, send_body=forged)
    assert resp.status == 403, resp
    assert error_code(resp) == "SignatureDoesNotMatch", resp.text
    assert "x-amz-content-sha256" in text(resp), resp.text
    assert_nothing_stored(cw, other_ns)


@pytest.mark.parametrize(
    "declared",
    ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"],
)
def test_unsigned_and_streaming_payloads_are_refused(server, admin, cw, ns, declared):
    body = put_body(ns)
    headers = json_headers("PutMetricData", **{"x-amz-content-sha256": declared})
    # Signed as such a client signs: the declared value stands for the payload hash.
    resp = send(server, admin, headers, body, payload_hash=declared)
    assert resp.status == 403, resp
    assert error_code(resp) == "IncompleteSignature", resp.text
    assert declared in json.loads(resp.body)["message"]
    assert_nothing_stored(cw, ns)


def test_unsigned_payload_in_a_query_request_is_refused(server, admin, cw, ns):
    body = f"Action=PutMetricData&Version=2010-08-01&Namespace={ns}&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1".encode()
    headers = {"Content-Type": QUERY_CT, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    resp = send(server, admin, headers, body, payload_hash="UNSIGNED-PAYLOAD")
    assert resp.status == 403, resp
    assert "<ErrorResponse" in resp.text and error_code(resp) == "IncompleteSignature", resp.text
    assert_nothing_stored(cw, ns)


# -- the credential scope -------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["s3", "iam", "sns"])
def test_credential_scoped_to_another_service_is_refused(server, cw, ns, scope):
    key, secret = server.admin_keys()
    signer = rawsig.Signer(key, secret, service=scope)
    resp = send(server, signer, json_headers("PutMetricData"), put_body(ns))
    assert resp.status == 403, resp
    assert error_code(resp) == "SignatureDoesNotMatch", resp.text
    assert "Credential should be scoped to correct service: 'monitoring'" in text(resp), resp.text
    assert_nothing_stored(cw, ns)

    query = f"Action=PutMetricData&Version=2010-08-01&Namespace={ns}&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1".encode()
    resp = send(server, signer, {"Content-Type": QUERY_CT}, query)
    assert resp.status == 403 and error_code(resp) == "SignatureDoesNotMatch", resp.text
    assert_nothing_stored(cw, ns)


def test_sns_refuses_a_credential_scoped_to_s3(server):
    key, secret = server.admin_keys()
    signer = rawsig.Signer(key, secret, service="s3")
    name = f"scope-{int(time.time() * 1000)}"
    body = f"Action=CreateTopic&Version=2010-03-31&Name={name}".encode()
    resp = send(server, signer, {"Content-Type": QUERY_CT}, body)
    assert resp.status == 403, resp
    assert 'xmlns="http://sns.amazonaws.com/doc/2010-03-31/"' in resp.text, resp.text
    assert "Credential should be scoped to correct service: 'sns'" in text(resp), resp.text
    topics = server.client("sns").list_topics()["Topics"]
    assert not any(t["TopicArn"].endswith(":" + name) for t in topics)


def test_admin_api_refuses_a_monitoring_scope(server, admin):
    """`stratus keys` signs for `stratus`; a CloudWatch signature does not reach key admin."""
    resp = send(server, admin, {"Content-Type": JSON_CT, "X-Amz-Target": "StratusAdmin.ListKeys"}, b"{}")
    assert resp.status == 403, resp
    assert "scoped to correct service: 'stratus'" in text(resp), resp.text


# -- headers that must be signed ------------------------------------------------------------


def test_unsigned_target_cannot_be_swapped(server, admin, cw):
    """A DescribeAlarms signed without X-Amz-Target must not be replayable as DeleteAlarms."""
    name = f"swap-{int(time.time() * 1000)}"
    cw.put_metric_alarm(
        AlarmName=name, MetricName="m", Namespace="Auth/Swap", Statistic="Average", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold",
    )
    body = json.dumps({"AlarmNames": [name]}).encode()
    h = admin.sign("POST", rawsig.host_of(server.endpoint), "/", json_headers("DescribeAlarms"), body,
                   unsigned=("X-Amz-Target",))
    h["X-Amz-Target"] = TARGET + "DeleteAlarms"
    resp = rawsig.send(server.endpoint, "POST", "/", h, body)
    assert resp.status == 403, resp
    assert error_code(resp) == "SignatureDoesNotMatch", resp.text
    assert "'x-amz-target' must be a 'SignedHeader'" in text(resp), resp.text
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]] == [name]


@pytest.mark.parametrize("header", ["Content-Type", "Content-Encoding", "x-stratus-batch-id"])
def test_headers_that_steer_the_request_must_be_signed(server, admin, cw, ns, header):
    form = f"Action=PutMetricData&Version=2010-08-01&Namespace={ns}&MetricData.member.1.MetricName=m&MetricData.member.1.Value=1".encode()
    body = gzip.compress(form)
    headers = {
        "Content-Type": QUERY_CT,
        "Content-Encoding": "gzip",
        "x-stratus-batch-id": uuid.uuid4().hex,
    }
    # Control: all signed, accepted.
    ok = send(server, admin, headers, body)
    assert ok.status == 200, ok
    assert len(cw.list_metrics(Namespace=ns)["Metrics"]) == 1

    other = ns + "/unsigned"
    body = gzip.compress(form.replace(ns.encode(), other.encode()))
    headers["x-stratus-batch-id"] = uuid.uuid4().hex
    resp = send(server, admin, headers, body, unsigned=(header,))
    assert resp.status == 403, resp
    assert error_code(resp) == "SignatureDoesNotMatch", resp.text
    assert f"'{header.lower()}' must be a 'SignedHeader'" in text(resp), resp.text
    assert_nothing_stored(cw, other)


# -- 403 for a missing signature, 413 for a body over the cap, in each protocol's envelope --


def unsigned_send(server, path, headers, body) -> rawsig.RawResponse:
    return rawsig.send(server.endpoint, "POST", path, {"Host": rawsig.host_of(server.endpoint), **headers}, body)


@pytest.mark.parametrize("query_mode", [True, False], ids=["query-mode", "plain"])
def test_missing_signature_is_403_in_json_and_cbor(server, query_mode):
    mode = {"x-amzn-query-mode": "true"} if query_mode else {}
    resp = unsigned_send(server, "/", {"Content-Type": JSON_CT, "X-Amz-Target": TARGET + "ListMetrics", **mode}, b"{}")
    assert resp.status == 403, resp
    assert resp.header("content-type").startswith(JSON_CT), resp.headers
    assert json.loads(resp.body)["__type"].endswith("#MissingAuthenticationToken"), resp.text
    assert error_code(resp) == "MissingAuthenticationToken"

    resp = unsigned_send(
        server, CBOR_PATH + "ListMetrics",
        {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor", **mode}, b"\xa0",
    )
    assert resp.status == 403, resp
    assert resp.header("content-type") == "application/cbor", resp.headers
    assert resp.header("smithy-protocol") == "rpc-v2-cbor"
    assert error_code(resp) == "MissingAuthenticationToken"
    assert b"MissingAuthenticationToken" in resp.body


def test_missing_signature_is_403_in_query(server):
    resp = unsigned_send(server, "/", {"Content-Type": QUERY_CT}, b"Action=ListMetrics&Version=2010-08-01")
    assert resp.status == 403, resp
    assert "<ErrorResponse" in resp.text and error_code(resp) == "MissingAuthenticationToken", resp.text


OVER_CAP = 1024 * 1024 + 1


@pytest.mark.parametrize("query_mode", [True, False], ids=["query-mode", "plain"])
def test_body_over_the_cap_is_413_in_each_envelope(server, admin, query_mode):
    body = b" " * OVER_CAP
    mode = {"x-amzn-query-mode": "true"} if query_mode else {}

    resp = send(server, admin, {"Content-Type": JSON_CT, "X-Amz-Target": TARGET + "ListMetrics", **mode}, body)
    assert resp.status == 413, resp
    assert json.loads(resp.body)["__type"].endswith("#RequestEntityTooLarge"), resp.text

    resp = send(server, admin, {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor", **mode},
                body, path=CBOR_PATH + "ListMetrics")
    assert resp.status == 413, resp
    assert resp.header("content-type") == "application/cbor"
    assert error_code(resp) == "RequestEntityTooLarge"

    resp = send(server, admin, {"Content-Type": QUERY_CT}, b"Action=ListMetrics&Version=2010-08-01&x=" + body)
    assert resp.status == 413, resp
    assert "<ErrorResponse" in resp.text and error_code(resp) == "RequestEntityTooLarge", resp.text


def test_body_at_the_cap_is_not_413(server, admin):
    body = b"{}" + b" " * (1024 * 1024 - 2)
    resp = send(server, admin, json_headers("ListMetrics"), body)
    assert resp.status == 200, resp
