"""Authentication and authorization: every request is SigV4-verified, keys carry policies.

Raw requests are signed by `rawsig` (our own SigV4 signer, independent of botocore and
of the server), so a test can sign with a stale date or change the body after signing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import stat
import time

import botocore.exceptions
import pytest

import rawsig
from expect import floor_to, utc

LIST_BODY = b"{}"


def json_call(server, signer, action="ListMetrics", body=LIST_BODY, when=None, send_body=None):
    path, headers = rawsig.json_request(action, body)
    h = signer.sign("POST", rawsig.host_of(server.endpoint), path, headers, body, when=when)
    return rawsig.send(server.endpoint, "POST", path, h, body if send_body is None else send_body)


def error_code(resp: rawsig.RawResponse) -> str:
    hdr = resp.header("x-amzn-query-error")
    if hdr:
        return hdr.split(";")[0]
    try:
        t = json.loads(resp.body).get("__type", "")
        return t.split("#")[-1]
    except ValueError:
        return ""


def error_message(resp: rawsig.RawResponse) -> str:
    try:
        doc = json.loads(resp.body)
    except ValueError:
        return resp.text
    return doc.get("message") or doc.get("Message") or ""


def json_field(doc: dict, snake: str) -> str:
    """A field of `stratus keys create --output json`, named in snake_case or AWS's PascalCase."""
    want = snake.replace("_", "").lower()
    for k, v in doc.items():
        if k.replace("_", "").lower() == want:
            return v
    raise AssertionError(f"no {snake} in {doc}")


@pytest.fixture(scope="module")
def admin(server):
    key, secret = server.admin_keys()
    return rawsig.Signer(key, secret)


def test_credentials_and_config_files(server):
    mode = stat.S_IMODE(os.stat(server.credentials_file).st_mode)
    assert mode == 0o600, oct(mode)
    key, secret = server.admin_keys()
    assert key and secret and key != secret
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(server.config_file)
    assert cfg["profile stratus"]["region"] == "us-east-1"


def test_signed_raw_request_is_accepted(server, admin):
    """Control: our own signer is right, so the refusals below are about what each test breaks."""
    resp = json_call(server, admin)
    assert resp.status == 200, resp
    assert "Metrics" in json.loads(resp.body)
    assert resp.header("x-amzn-RequestId")


def test_wrong_secret(server):
    key, _ = server.admin_keys()
    cw = server.client(key=key, secret="wrong" + "x" * 35)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cw.list_metrics()
    assert ei.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_session_token_is_refused(server):
    """Stratus has no STS: a temporary-credentials token is never valid, even with a real
    key and a correct signature, and is refused like AWS refuses an unknown token."""
    import boto3
    import botocore.config

    key, secret = server.admin_keys()
    cw = boto3.session.Session().client(
        "cloudwatch", endpoint_url=server.endpoint, region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token="FwoGZXIvYXdzEXAMPLE",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cw.put_metric_data(Namespace="Auth", MetricData=[{"MetricName": "token", "Value": 1.0}])
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert server.client().list_metrics(Namespace="Auth", MetricName="token")["Metrics"] == []


def test_unknown_key_id(server):
    cw = server.client(key="AKIAUNKNOWNKEY000000", secret="x" * 40)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cw.put_metric_data(Namespace="Auth", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize("minutes", [-20, 20], ids=["20min-ago", "20min-ahead"])
def test_stale_date(server, admin, minutes):
    when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=minutes)
    resp = json_call(server, admin, when=when)
    assert resp.status == 403, resp
    assert error_code(resp) == "SignatureDoesNotMatch", resp.text
    # AWS: "Signature expired: ..." for an old date, "Signature not yet current: ..." for a future one.
    want = "expired" if minutes < 0 else "not yet current"
    assert want in error_message(resp).lower(), resp.text


def test_date_within_skew_is_accepted(server, admin):
    when = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
    resp = json_call(server, admin, when=when)
    assert resp.status == 200, resp


def test_tampered_body(server, admin, cw):
    ns = "Auth/Tamper"
    t = floor_to(time.time(), 60) - 120
    signed = json.dumps({"Namespace": ns, "MetricData": [{"MetricName": "m", "Timestamp": t, "Value": 1.0}]}).encode()
    sent = signed.replace(b"1.0", b"9.0")
    assert len(sent) == len(signed) and sent != signed
    resp = json_call(server, admin, action="PutMetricData", body=signed, send_body=sent)
    assert resp.status == 403, resp
    assert error_code(resp) == "SignatureDoesNotMatch", resp.text
    assert cw.list_metrics(Namespace=ns)["Metrics"] == []


def test_tampered_signed_header(server, admin):
    path, headers = rawsig.json_request("ListMetrics", LIST_BODY)
    h = admin.sign("POST", rawsig.host_of(server.endpoint), path, headers, LIST_BODY)
    h["X-Amz-Target"] = "GraniteServiceVersion20100801.GetMetricData"
    resp = rawsig.send(server.endpoint, "POST", path, h, LIST_BODY)
    assert resp.status == 403, resp
    assert error_code(resp) == "SignatureDoesNotMatch", resp.text


def test_unsigned_request(server):
    path, headers = rawsig.json_request("ListMetrics", LIST_BODY)
    headers["Host"] = rawsig.host_of(server.endpoint)
    resp = rawsig.send(server.endpoint, "POST", path, headers, LIST_BODY)
    assert resp.status in (400, 403), resp
    assert error_code(resp), f"no error code in {resp}"
    assert resp.status == 403 or error_code(resp) in ("MissingAuthenticationToken", "IncompleteSignature")


def test_unsigned_query_request(server):
    body = b"Action=ListMetrics&Version=2010-08-01"
    resp = rawsig.send(
        server.endpoint,
        "POST",
        "/",
        {"Host": rawsig.host_of(server.endpoint), "Content-Type": "application/x-www-form-urlencoded"},
        body,
    )
    assert resp.status in (400, 403), resp
    assert "<Code>" in resp.text and "<ErrorResponse" in resp.text, resp.text


def test_agent_policy_key(server, cw):
    out = server.stratus_cli("keys", "create", "--name", "agent-test", "--policy", "agent", "--output", "json")
    created = json.loads(out.stdout)
    key, secret = json_field(created, "access_key_id"), json_field(created, "secret_access_key")
    assert key and secret

    agent = server.client(key=key, secret=secret)
    ns = "Auth/Agent"
    t = floor_to(time.time(), 60) - 120
    agent.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "disk_used_percent", "Timestamp": utc(t), "Value": 51.5}])
    # The admin sees what the agent wrote.
    assert [m["MetricName"] for m in cw.list_metrics(Namespace=ns)["Metrics"]] == ["disk_used_percent"]

    for call in (
        lambda: agent.list_metrics(Namespace=ns),
        lambda: agent.get_metric_statistics(
            Namespace=ns, MetricName="disk_used_percent", StartTime=utc(t), EndTime=utc(t + 60), Period=60, Statistics=["Sum"]
        ),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            call()
        assert ei.value.response["Error"]["Code"] == "AccessDenied", ei.value.response
        assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # Listed, then deleted: the key stops working.
    listed = server.stratus_cli("keys", "list").stdout
    assert key in listed
    assert secret not in listed, "keys list must not print secrets"
    server.stratus_cli("keys", "delete", key)
    assert key not in server.stratus_cli("keys", "list").stdout
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        agent.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert ei.value.response["Error"]["Code"] == "InvalidClientTokenId"


def test_keys_create_text_output(server):
    out = server.stratus_cli("keys", "create", "--name", "admin-two", "--policy", "admin").stdout
    fields = {}
    for line in out.splitlines():
        parts = line.replace("=", " ").replace(":", " ").split()
        if len(parts) >= 2:
            fields[parts[0]] = parts[-1]
    assert "access_key_id" in fields and "secret_access_key" in fields, out
    admin2 = server.client(key=fields["access_key_id"], secret=fields["secret_access_key"])
    admin2.list_metrics()


def test_admin_key_from_environment(make_server):
    key, secret = "AKIASTRATUSFIXED0001", "fixed-secret-for-automation-0123456789ab"
    srv = make_server(env={"STRATUS_ADMIN_ACCESS_KEY_ID": key, "STRATUS_ADMIN_SECRET_ACCESS_KEY": secret})
    assert srv.admin_keys() == (key, secret)
    srv.client(key=key, secret=secret).list_metrics()
    # The key survives a restart (it is stored, not only taken from the environment).
    srv.restart()
    srv.client(key=key, secret=secret).list_metrics()
