"""What a new user trips over first, with the real binary and the real AWS CLI: the
generated AWS config reaches the server without --endpoint-url, the admin verbs find
their key through the AWS credential chain (and say where they looked when they find
none), every bench suite has its own --help, logs carry no colour codes in a file, and
an SMTP relay without --smtp-from is warned about."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import boto3
import botocore.config

from conftest import StratusAgent, clean_env, create_agent_key, stratus_bin, wait_for

AWS = Path(sys.executable).parent / "aws"
# Anything that is not loopback goes to a dead proxy on loopback: a client that ignored
# endpoint_url would fail here instead of reaching for real AWS.
NO_WAY_OUT = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_MAX_ATTEMPTS": "1",
}


def put_marker_metric(server) -> str:
    ns = f"Test/{uuid.uuid4().hex[:12]}"
    server.client().put_metric_data(Namespace=ns, MetricData=[{"MetricName": "setup_marker", "Value": 1.0}])
    return ns


def test_profile_reaches_the_server_without_endpoint_url(server):
    ns = put_marker_metric(server)
    env = clean_env(
        AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
        AWS_CONFIG_FILE=str(server.config_file),
        **NO_WAY_OUT,
    )
    cmd = [str(AWS), "--profile", "stratus", "cloudwatch", "list-metrics", "--namespace", ns]
    cp = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "setup_marker" in cp.stdout, cp.stdout
    assert f"endpoint_url = {server.endpoint}\n" in server.config_file.read_text()


def test_boto3_profile_reaches_the_server_without_endpoint_url(server, monkeypatch):
    ns = put_marker_metric(server)
    for k in list(os.environ):
        if k.startswith("AWS_"):
            monkeypatch.delenv(k)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(server.credentials_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(server.config_file))
    for k, v in NO_WAY_OUT.items():
        monkeypatch.setenv(k, v)
    cw = boto3.session.Session(profile_name="stratus").client(
        "cloudwatch", config=botocore.config.Config(retries={"max_attempts": 1})
    )
    names = [m["MetricName"] for m in cw.list_metrics(Namespace=ns)["Metrics"]]
    assert names == ["setup_marker"]


def stratus(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(stratus_bin()), *args], capture_output=True, text=True, timeout=120, cwd=cwd,
        env=clean_env(**env),
    )


def test_admin_verbs_follow_the_aws_credential_chain(server, tmp_path):
    key, secret = server.admin_keys()
    home = tmp_path / "home"
    home.mkdir()
    # Outside the repo, no ~/.aws, nothing in the environment: the error names every place.
    cp = stratus("keys", "list", "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(home))
    assert cp.returncode != 0
    for looked in ["AWS_ACCESS_KEY_ID", f"{home}/.aws/credentials", "stratus-data/credentials", "--credentials-file"]:
        assert looked in cp.stderr, cp.stderr

    # 1. Environment variables.
    cp = stratus("keys", "list", "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(home),
                 AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    assert cp.returncode == 0 and key in cp.stdout, cp.stdout + cp.stderr
    cp = stratus("mail", "deliveries", "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(home),
                 AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    # A session token is sent, and refused by name: Stratus issues none.
    cp = stratus("keys", "list", "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(home),
                 AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_SESSION_TOKEN="tok")
    assert cp.returncode != 0 and "InvalidClientTokenId" in cp.stderr, cp.stderr

    # 2. AWS_PROFILE in AWS_SHARED_CREDENTIALS_FILE.
    shared = tmp_path / "shared-credentials"
    shared.write_text(f"[ops]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    cp = stratus("keys", "list", "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(home),
                 AWS_SHARED_CREDENTIALS_FILE=str(shared), AWS_PROFILE="ops")
    assert cp.returncode == 0 and key in cp.stdout, cp.stdout + cp.stderr
    # ... and ~/.aws/credentials.
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(shared.read_text().replace("[ops]", "[stratus]"))
    cp = stratus("keys", "list", "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(home))
    assert cp.returncode == 0 and key in cp.stdout, cp.stdout + cp.stderr
    (home / ".aws" / "credentials").unlink()

    # 3. The data directory's credentials file.
    cp = stratus("keys", "list", "--endpoint", server.endpoint, "--data-dir", str(server.data_dir),
                 cwd=tmp_path, HOME=str(home))
    assert cp.returncode == 0 and key in cp.stdout, cp.stdout + cp.stderr
    cp = stratus("keys", "list", "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(home),
                 STRATUS_DATA_DIR=str(server.data_dir))
    assert cp.returncode == 0 and key in cp.stdout, cp.stdout + cp.stderr


def test_mail_list_outside_a_data_dir_says_so(server, tmp_path):
    cp = stratus("mail", "list", cwd=tmp_path)
    assert cp.returncode != 0, cp.stdout
    assert "no data directory at ./stratus-data" in cp.stderr and "--data-dir" in cp.stderr, cp.stderr
    cp = stratus("mail", "list", "--data-dir", str(server.data_dir), cwd=tmp_path)
    assert cp.returncode == 0, cp.stderr


def test_bench_fleet_takes_its_key_from_the_environment(server, tmp_path):
    key, secret = server.admin_keys()
    cp = stratus("bench", "fleet", "--hosts", "2", "--interval", "1", "--duration", "2", "--report-every", "1",
                 "--endpoint", server.endpoint, cwd=tmp_path, HOME=str(tmp_path),
                 AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    (line,) = [l for l in cp.stdout.splitlines() if l.startswith("fleet-result ")]
    r = dict(kv.split("=", 1) for kv in line.split()[1:])
    assert int(r["sent"]) > 0 and r["ok"] == r["sent"] and r["failed"] == "0", cp.stdout


def test_each_bench_suite_has_its_own_help(tmp_path):
    fleet = stratus("bench", "fleet", "--help", cwd=tmp_path)
    assert fleet.returncode == 0, fleet.stderr
    assert "--hosts" in fleet.stdout and "--batches" not in fleet.stdout, fleet.stdout
    ingest = stratus("bench", "ingest", "--help", cwd=tmp_path)
    assert "--batches" in ingest.stdout and "--hosts" not in ingest.stdout, ingest.stdout
    alarms = stratus("bench", "alarms", "--help", cwd=tmp_path)
    assert "--alarms" in alarms.stdout and "--hosts" not in alarms.stdout, alarms.stdout
    top = stratus("bench", "--help", cwd=tmp_path)
    for suite in ["ingest", "query", "alarms", "fleet"]:
        assert suite in top.stdout, top.stdout
    # Options of one suite are not accepted by another.
    wrong = stratus("bench", "fleet", "--batches", "3", cwd=tmp_path)
    assert wrong.returncode != 0 and "--batches" in wrong.stderr, wrong.stderr


def test_server_log_in_a_file_has_no_colour_codes(server):
    log = server.log_path.read_bytes()
    assert b" INFO " in log, log[-2000:]
    assert b"\x1b[" not in log, log[-2000:]


def test_agent_log_on_stderr_has_no_colour_codes(server, tmp_path):
    creds = tmp_path / "agent-credentials"
    create_agent_key(server, creds, name="plain-log")
    config = {
        "agent": {"metrics_collection_interval": 1, "spool_dir": str(tmp_path / "spool")},
        "metrics": {
            "endpoint_override": server.endpoint,
            "force_flush_interval": 1,
            "metrics_collected": {"mem": {"measurement": ["used_percent"]}},
        },
    }
    agent = StratusAgent(tmp_path / "agent", config, credentials_file=creds).start()
    try:
        wait_for(lambda: "I!" in agent.log_text(), timeout=30, what="the agent's first log line")
        time.sleep(2)
    finally:
        assert agent.stop() == 0, agent.log_tail()
    log = agent.stderr_path.read_bytes()
    assert b"I!" in log, log
    assert b"\x1b[" not in log, log


def test_smtp_relay_without_from_is_warned_about(make_server):
    relay = {"STRATUS_SMTP_URL": "smtp://127.0.0.1:9"}
    srv = make_server(env=relay)
    deadline = time.monotonic() + 10
    while "--smtp-from" not in srv.log_tail() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "WARN" in srv.log_tail() and "no-reply@localhost" in srv.log_tail(), srv.log_tail()
    quiet = make_server(env={**relay, "STRATUS_SMTP_FROM": "Ops <ops@example.com>"})
    assert "--smtp-from" not in quiet.log_tail(), quiet.log_tail()
