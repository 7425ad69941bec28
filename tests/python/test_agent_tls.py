"""The agent ships over HTTPS: a Stratus server behind a TLS-terminating proxy (as in a
real deployment), with a private CA the agent is told about through AWS_CA_BUNDLE, as the
AWS SDKs and the stock agent are. Without that CA the agent refuses the certificate, says
so in its log and keeps the datapoints in its spool; with it, they arrive. Temporary
credentials' session tokens are sent along (signed) instead of being dropped."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import closed_port_endpoint, create_agent_key, wait_for


def make_cert(dirpath: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate for 127.0.0.1 signed by it.
    Returns (ca_cert, server_cert, server_key)."""
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command is needed to make test certificates"

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True)

    ca_key, ca = dirpath / "ca-key.pem", dirpath / "ca.pem"
    key, csr, cert = dirpath / "key.pem", dirpath / "server.csr", dirpath / "cert.pem"
    ext = dirpath / "server.ext"
    ext.write_text("basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=Stratus test CA",
        "-keyout", str(ca_key), "-out", str(ca))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(csr))
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "1", "-extfile", str(ext), "-out", str(cert))
    return ca, cert, key


class TlsProxy:
    """Terminates TLS on 127.0.0.1:<port> and pipes each connection to `upstream`."""

    def __init__(self, cert: Path, key: Path, upstream: tuple[str, int]):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert, key)
        self.upstream = upstream
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.handshakes_ok = 0
        self.handshakes_failed = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket):
        try:
            tls = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.handshakes_failed += 1
            raw.close()
            return
        self.handshakes_ok += 1
        up = socket.create_connection(self.upstream)

        def pump(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pump, args=(up, tls), daemon=True).start()
        pump(tls, up)

    def close(self):
        self.sock.close()


@pytest.fixture
def tls_setup(make_server, tmp_path):
    server = make_server()
    ca, cert, key = make_cert(tmp_path)
    host, port = server.endpoint.removeprefix("http://").split(":")
    proxy = TlsProxy(cert, key, (host, int(port)))
    yield server, proxy, ca
    proxy.close()


def agent_config(proxy: TlsProxy, workdir: Path, iid: str) -> dict:
    return {
        "agent": {
            "metrics_collection_interval": 2,
            "logfile": str(workdir / "agent.log"),
            "spool_dir": str(workdir / "spool"),
            "instance_id": iid,
        },
        "metrics": {
            "endpoint_override": f"https://127.0.0.1:{proxy.port}",
            "force_flush_interval": 2,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}},
        },
    }


def test_agent_ships_over_https_with_a_private_ca(tls_setup, make_agent, tmp_path):
    server, proxy, ca = tls_setup
    cw = server.client("cloudwatch")
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="tls")
    iid = f"tls-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "agent-tls"
    imds = {"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()}

    # Without the CA: the certificate is refused, logged, and the datapoints wait in the spool.
    untrusting = make_agent(agent_config(proxy, workdir, iid), credentials_file=creds, env=imds, name="no-ca")
    t_first = time.time()
    untrusting.start()
    wait_for(lambda: "cannot ship" in untrusting.log_text(), timeout=30, what="the TLS failure in the log")
    assert proxy.handshakes_failed >= 1
    assert proxy.handshakes_ok == 0
    assert "certificate" in untrusting.log_text().lower(), untrusting.log_tail()
    assert cw.list_metrics(Namespace="CWAgent", Dimensions=[{"Name": "InstanceId", "Value": iid}])["Metrics"] == []
    assert untrusting.stop() == 0
    t_switch = time.time()

    # With AWS_CA_BUNDLE: the same agent (same spool) gets through and drains what it kept.
    trusting = make_agent(
        agent_config(proxy, workdir, iid), credentials_file=creds,
        env={**imds, "AWS_CA_BUNDLE": str(ca)}, name="with-ca",
    )
    trusting.start()
    metrics = wait_for(
        lambda: cw.list_metrics(Namespace="CWAgent", Dimensions=[{"Name": "InstanceId", "Value": iid}])["Metrics"],
        timeout=30, what="mem_used_percent over https",
    )
    assert [m["MetricName"] for m in metrics] == ["mem_used_percent"]
    assert proxy.handshakes_ok >= 1
    # What the first run collected (and spooled) arrived too.
    dims = metrics[0]["Dimensions"]

    def first_run_points():
        return cw.get_metric_statistics(
            Namespace="CWAgent", MetricName="mem_used_percent", Dimensions=dims,
            StartTime=dt.datetime.fromtimestamp(t_first - 5, dt.timezone.utc),
            EndTime=dt.datetime.fromtimestamp(t_switch, dt.timezone.utc),
            Period=1, Statistics=["SampleCount"],
        )["Datapoints"]

    wait_for(first_run_points, timeout=30, what="the untrusting run's spooled datapoints")
    assert "left by a previous run" in trusting.log_text(), trusting.log_tail()
    assert trusting.stop() == 0


def test_agent_sends_session_tokens(make_server, make_agent, tmp_path):
    """A temporary-credentials token is signed and sent; Stratus has no STS, so it refuses
    the token as AWS refuses an unknown one (and the agent logs the server's message)."""
    server = make_server()
    kid, secret = create_agent_key(server, tmp_path / "unused", name="token")
    workdir = tmp_path / "agent-token"
    config = {
        "agent": {"metrics_collection_interval": 2, "logfile": str(workdir / "agent.log"),
                  "spool_dir": str(workdir / "spool"), "instance_id": "i-token"},
        "metrics": {"endpoint_override": server.endpoint, "force_flush_interval": 2,
                    "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}}},
    }
    agent = make_agent(config, env={
        "AWS_ACCESS_KEY_ID": kid, "AWS_SECRET_ACCESS_KEY": secret, "AWS_SESSION_TOKEN": "FwoGZXIvYXdzEXAMPLETOKEN",
        "STRATUS_IMDS_ENDPOINT": closed_port_endpoint(),
    }, name="token")
    agent.start()
    # Refused for authentication: kept in the spool and retried, and logged naming the key.
    wait_for(lambda: f"refuses access key {kid}" in agent.log_text(), timeout=30,
             what="the server's answer to a session token in the log")
    assert "token" in agent.log_text().lower(), agent.log_tail()
    assert agent.stop() == 0
