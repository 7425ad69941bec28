"""Native TLS on the server port (`--tls-cert` / `--tls-key`, here through STRATUS_TLS_*):
boto3 and our agent talk HTTPS to it with a private CA, plain HTTP gets no answer, and
SIGHUP swaps in a renewed certificate (a broken one is refused and the old one kept)."""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import ssl
import uuid

import boto3
import botocore.config
import pytest

import rawsig
from conftest import AGENT_PROFILE, closed_port_endpoint, wait_for
from test_agent_tls import make_cert


def der(pem: str) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem)


def served_cert(port: int) -> bytes:
    return der(ssl.get_server_certificate(("127.0.0.1", port)))


def first_cert(path) -> bytes:
    text = path.read_text()
    end = "-----END CERTIFICATE-----"
    return der(text[: text.index(end) + len(end)] + "\n")


def https_client(port: int, ca, key: str, secret: str):
    return boto3.session.Session().client(
        "cloudwatch", endpoint_url=f"https://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id=key, aws_secret_access_key=secret, verify=str(ca),
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def tls_server(make_server, tmp_path):
    (tmp_path / "certs").mkdir()
    ca, cert, key = make_cert(tmp_path / "certs")
    live_cert, live_key = tmp_path / "live-cert.pem", tmp_path / "live-key.pem"
    shutil.copy(cert, live_cert)
    shutil.copy(key, live_key)
    server = make_server(env={"STRATUS_TLS_CERT": str(live_cert), "STRATUS_TLS_KEY": str(live_key)})
    return server, ca, live_cert, live_key


def test_https_for_boto3_and_the_agent(tls_server, make_agent, tmp_path):
    server, ca, cert, _ = tls_server
    wait_for(lambda: f"listening on https://127.0.0.1:{server.port}" in server.log_tail(), timeout=10,
             what="the https banner")
    assert served_cert(server.port) == first_cert(cert)
    cw = https_client(server.port, ca, *server.admin_keys())
    cw.list_metrics()

    # Plain HTTP on the TLS port gets no HTTP answer, and the server carries on.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.request("GET", "/health")
        conn.getresponse().read()
    conn.close()

    # The agent's key, made over HTTPS (the admin API, signed for `stratus`).
    creds = tmp_path / "credentials"
    admin_key, admin_secret = server.admin_keys()
    signer = rawsig.Signer(admin_key, admin_secret, service="stratus")
    body = json.dumps({"Name": "tls-agent", "Policy": "agent"}).encode()
    headers = signer.sign("POST", f"127.0.0.1:{server.port}", "/",
                          {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "StratusAdmin.CreateKey"}, body)
    https = http.client.HTTPSConnection("127.0.0.1", server.port, timeout=10,
                                        context=ssl.create_default_context(cafile=str(ca)))
    https.request("POST", "/", body=body, headers=headers)
    resp = https.getresponse()
    created = json.loads(resp.read())
    assert resp.status == 200, created
    creds.write_text(f"[{AGENT_PROFILE}]\naws_access_key_id = {created['AccessKeyId']}\n"
                     f"aws_secret_access_key = {created['SecretAccessKey']}\n")
    iid = f"tls-native-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "agent"
    config = {
        "agent": {"metrics_collection_interval": 2, "logfile": str(workdir / "agent.log"),
                  "spool_dir": str(workdir / "spool"), "instance_id": iid},
        "metrics": {"endpoint_override": f"https://127.0.0.1:{server.port}", "force_flush_interval": 2,
                    "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
                    "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}}},
    }
    agent = make_agent(config, credentials_file=creds,
                       env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint(), "AWS_CA_BUNDLE": str(ca)}, name="https")
    agent.start()
    metrics = wait_for(
        lambda: cw.list_metrics(Namespace="CWAgent", Dimensions=[{"Name": "InstanceId", "Value": iid}])["Metrics"],
        timeout=30, what="the agent's datapoints over native https",
    )
    assert [m["MetricName"] for m in metrics] == ["mem_used_percent"]
    assert agent.stop() == 0
    assert server.stop() == 0


def test_sighup_reloads_the_certificate_and_keeps_it_when_the_new_one_is_broken(tls_server, tmp_path):
    server, _, cert, key = tls_server
    first = served_cert(server.port)
    (tmp_path / "renewed").mkdir()
    ca2, cert2, key2 = make_cert(tmp_path / "renewed")
    shutil.copy(cert2, cert)
    shutil.copy(key2, key)
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: served_cert(server.port) == first_cert(cert2), timeout=10, what="the renewed certificate")
    assert first != first_cert(cert2)
    https_client(server.port, ca2, *server.admin_keys()).list_metrics()

    # A broken renewal: logged, and the certificate in use stays.
    cert.write_text("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n")
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "TLS reload failed" in server.log_tail(), timeout=10, what="the reload failure in the log")
    assert served_cert(server.port) == first_cert(cert2)
    assert server.running()
    assert server.stop() == 0


def test_a_missing_certificate_stops_start_up(make_server, tmp_path):
    server = make_server(env={"STRATUS_TLS_CERT": str(tmp_path / "absent.pem"),
                              "STRATUS_TLS_KEY": str(tmp_path / "absent-key.pem")}, start=False)
    with pytest.raises(RuntimeError) as ei:
        server.start()
    assert "absent.pem" in str(ei.value), ei.value
    assert not server.running()


def test_sighup_without_tls_leaves_the_server_running(make_server):
    """`systemctl reload` sends SIGHUP whatever the config: without TLS it must not
    stop the server (SIGHUP's default action would)."""
    server = make_server()
    server.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "nothing to reload" in server.log_tail(), timeout=10, what="the SIGHUP log line")
    assert server.running()
    server.client().list_metrics()
    assert server.stop() == 0
