"""The agent's `logs` section end to end: a file written while it is rotated both ways
(rename, and copytruncate), the server stopped for several flush intervals, the agent
SIGKILLed once (and a rename rotation while it is down) — and every line reaches the
server exactly once, in order, read back with boto3's `logs` client.

"Exactly once" needs no knowledge of the agent's internals: every line carries a
sequence number and its own time (the agent's `timestamp_format` reads it), so the
stream read back must be exactly 0..N-1, ascending.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

from conftest import AGENT_PROFILE, wait_for

FLUSH_S = 2
# Longer than several flush intervals: batches are sealed into the spool meanwhile.
OUTAGE_S = 3 * FLUSH_S + 2


class Writer:
    """Appends numbered, timestamped lines to a log file, the way a program does:
    through an open descriptor that survives a rename until it is reopened."""

    def __init__(self, path: Path):
        self.path = path
        self.seq = 0
        self.fh = open(path, "a", buffering=1)

    def line(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
        self.fh.write(f"{stamp} seq={self.seq:06d} some payload\n")
        self.seq += 1
        # Distinct milliseconds: the order by time is the order written.
        time.sleep(0.004)

    def lines(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.line()

    def rename_rotate(self, to: Path, late_lines: int = 3) -> None:
        """logrotate's default: rename, the program writes a little more to the old
        file, then reopens the path (a new file)."""
        self.path.rename(to)
        for _ in range(late_lines):
            self.line()
        self.fh.close()
        self.fh = open(self.path, "a", buffering=1)

    def copytruncate(self, to: Path) -> None:
        """logrotate's copytruncate: copy, then truncate the file in place (the
        program keeps its descriptor, opened with O_APPEND)."""
        self.fh.flush()
        shutil.copyfile(self.path, to)
        with open(self.path, "r+") as f:
            f.truncate(0)


def test_rotation_outage_and_kill_deliver_every_line_once(make_server, make_agent, tmp_path):
    server = make_server()
    logs = server.client("logs")
    creds = _agent_creds(server, tmp_path)

    workdir = tmp_path / "agent-logs"
    workdir.mkdir()
    log_path = workdir / "app.log"
    log_path.touch()
    group = f"e2e-{uuid.uuid4().hex[:8]}"
    config = _logs_config(server, workdir, "i-logs-e2e", force_flush_interval=FLUSH_S, logs_collected={
        "files": {"collect_list": [{
            "file_path": str(log_path),
            "log_group_name": group,
            "log_stream_name": "{instance_id}",
            "timestamp_format": "%Y-%m-%dT%H:%M:%S.%f",
            "timezone": "UTC",
            "retention_in_days": 7,
        }]},
    })
    agent = make_agent(config, credentials_file=creds, name="agent-logs")
    agent.start()
    wait_for(lambda: "tailing" in agent.log_text(), timeout=20, what="the agent to start tailing")

    w = Writer(log_path)
    w.lines(2)
    w.rename_rotate(workdir / "app.log.1")
    w.lines(2)

    # The server goes away for several flush intervals; lines keep coming.
    assert server.stop() == 0
    w.lines(OUTAGE_S / 2)
    agent.kill()
    # Rotated while the agent is down: the rest of the old file must still come.
    w.lines(1)
    w.rename_rotate(workdir / "app.log.2")
    w.lines(1)
    agent.start()
    w.lines(OUTAGE_S / 2)
    w.copytruncate(workdir / "app.log.3")
    w.lines(1)
    server.start()
    w.lines(2)
    total = w.seq

    def stream_seqs() -> list[int]:
        out: list[int] = []
        kwargs = {"logGroupName": group, "logStreamName": "i-logs-e2e", "startFromHead": True}
        token = None
        while True:
            page = logs.get_log_events(**kwargs, **({"nextToken": token} if token else {}))
            out += [int(e["message"].split("seq=")[1].split()[0]) for e in page["events"]]
            if page["nextForwardToken"] == token:
                return out
            token = page["nextForwardToken"]

    def all_arrived():
        try:
            got = stream_seqs()
        except logs.exceptions.ResourceNotFoundException:
            return None
        return got if len(got) >= total else None

    try:
        got = wait_for(all_arrived, timeout=90, interval=1, what=f"{total} lines in {group}")
    except AssertionError:
        raise AssertionError(agent.log_tail(80))
    time.sleep(2 * FLUSH_S)  # anything sent twice would have arrived by now
    got = stream_seqs()
    assert got == list(range(total)), (
        f"missing {sorted(set(range(total)) - set(got))[:20]}, "
        f"duplicated {sorted({s for s in got if got.count(s) > 1})[:20]}\n" + agent.log_tail(80)
    )
    # The group was created with the configured retention.
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g.get("retentionInDays") for g in described] == [7]
    assert agent.stop() == 0, agent.log_tail()


def test_config_refusals_name_the_json_path(make_agent, tmp_path):
    config = {
        "logs": {"logs_collected": {"journald": {"collect_list": []}}},
    }
    agent = make_agent(config, name="agent-refused")
    agent.start()
    assert agent.proc is not None
    agent.proc.wait(timeout=30)
    assert agent.proc.returncode != 0
    text = agent.log_text()
    assert "logs.logs_collected.journald" in text and "not supported by the Stratus agent" in text, text


def _agent_creds(server, tmp_path: Path) -> Path:
    kid, secret = server.admin_keys()
    creds = tmp_path / "credentials"
    creds.write_text(f"[{AGENT_PROFILE}]\naws_access_key_id = {kid}\naws_secret_access_key = {secret}\n")
    creds.chmod(0o600)
    return creds


def _logs_config(server, workdir: Path, instance_id: str, **logs) -> dict:
    """A logs-only agent config: its log file and spool under `workdir`, shipping to `server`."""
    return {
        "agent": {
            "logfile": str(workdir / "agent.log"),
            "spool_dir": str(workdir / "spool"),
            "instance_id": instance_id,
        },
        "logs": {"endpoint_override": server.endpoint, **logs},
    }


def _stream_seqs(logs, group: str, stream: str) -> list[int]:
    out: list[int] = []
    kwargs = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
    token = None
    while True:
        page = logs.get_log_events(**kwargs, **({"nextToken": token} if token else {}))
        out += [int(e["message"].split("seq=")[1].split()[0]) for e in page["events"]]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def _wait_seqs(logs, agent, group: str, stream: str, total: int) -> list[int]:
    def arrived():
        try:
            got = _stream_seqs(logs, group, stream)
        except logs.exceptions.ResourceNotFoundException:
            return None
        return got if len(got) >= total else None

    try:
        wait_for(arrived, timeout=60, interval=1, what=f"{total} lines in {group}")
    except AssertionError:
        raise AssertionError(agent.log_tail(80))
    time.sleep(2 * FLUSH_S)  # anything sent twice would have arrived by now
    return _stream_seqs(logs, group, stream)


def test_a_glob_ships_only_its_newest_file_and_a_logs_only_config_names_only_logs(
        make_server, make_agent, tmp_path):
    server = make_server()
    logs = server.client("logs")
    creds = _agent_creds(server, tmp_path)
    workdir = tmp_path / "agent-glob"
    workdir.mkdir()
    group = f"glob-{uuid.uuid4().hex[:8]}"
    config = _logs_config(server, workdir, "i-glob", force_flush_interval=FLUSH_S, logs_collected={
        "files": {"collect_list": [{
            "file_path": str(workdir / "app.log*"),
            "log_group_name": group,
            "log_stream_name": "{instance_id}",
            "timestamp_format": "%Y-%m-%dT%H:%M:%S.%f",
            "timezone": "UTC",
        }]},
    })
    agent = make_agent(config, credentials_file=creds, name="agent-glob")
    agent.start()
    wait_for(lambda: "logs: shipping to" in agent.log_text(), timeout=20, what="the logs side to start")
    # A logs-only config: the start line names the logs endpoint only, and no
    # metrics shipper starts.
    text = agent.log_text()
    assert f"starting: config {agent.config_path}, logs endpoint {server.endpoint}, region" in text, text
    assert "monitoring." not in text and "I! shipping to" not in text, text
    assert "config: no metrics" in text, text

    # app.log first (the newest), then an old rotation beside it, moved in
    # with its old modification time: only app.log is tailed.
    w = Writer(workdir / "app.log")
    w.lines(0.5)
    staged = tmp_path / "app.log.1"
    staged.write_text("2020-01-01T00:00:00.000 seq=999999 old rotated content\n" * 5)
    old = time.time() - 3600
    os.utime(staged, (old, old))
    staged.rename(workdir / "app.log.1")
    w.lines(1.5)
    # Lines written to app.log just before a newer dated file appears still
    # come (the old file is read to its end), then the dated file's.
    w.lines(0.3)
    w.fh.close()
    w.path = workdir / "app.log.2026-12-08"
    w.fh = open(w.path, "a", buffering=1)
    w.lines(1.5)
    # A kill and a restart re-read neither file.
    agent.kill()
    w.lines(0.5)
    agent.start()
    w.lines(1)
    total = w.seq
    got = _wait_seqs(logs, agent, group, "i-glob", total)
    assert got == list(range(total)), (
        f"missing {sorted(set(range(total)) - set(got))[:20]}, "
        f"duplicated {sorted({s for s in got if got.count(s) > 1})[:20]}, "
        f"foreign {sorted(set(got) - set(range(total)))[:5]}\n" + agent.log_tail(80)
    )
    assert agent.stop() == 0, agent.log_tail()


def test_emf_lines_survive_a_kill_right_after_they_are_received(make_server, make_agent, tmp_path):
    server = make_server()
    logs = server.client("logs")
    cw = server.client("cloudwatch")
    creds = _agent_creds(server, tmp_path)
    workdir = tmp_path / "agent-emf"
    workdir.mkdir()
    group = f"emf-{uuid.uuid4().hex[:8]}"
    ns = f"Emf{uuid.uuid4().hex[:8]}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # A flush interval far longer than the test: without the journal the
    # lines would only be in memory when the agent is killed.
    config = _logs_config(server, workdir, "i-emf", force_flush_interval=60,
                          metrics_collected={"emf": {"service_address": f"127.0.0.1:{port}"}})
    agent = make_agent(config, credentials_file=creds, name="agent-emf")
    agent.start()
    wait_for(lambda: "emf: listening" in agent.log_text(), timeout=20, what="the EMF listener")
    n = 200
    t = (int(time.time() * 1000) // 60000) * 60000 - 60000
    with socket.create_connection(("127.0.0.1", port)) as c:
        for i in range(n):
            doc = {
                "_aws": {"Timestamp": t + i, "LogGroupName": group, "LogStreamName": "s",
                         "CloudWatchMetrics": [{"Namespace": ns, "Dimensions": [["Service"]],
                                                "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}]}]},
                "Service": "api", "Latency": 2, "seq": i,
            }
            c.sendall((json.dumps(doc) + "\n").encode())
    # A few of the listener's 50 ms polls: read from the socket, not spooled.
    time.sleep(0.5)
    agent.kill()
    agent.start()

    def seqs() -> list[int] | None:
        try:
            events = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True,
                                         limit=10000)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return None
        got = [json.loads(e["message"])["seq"] for e in events]
        return got if len(got) >= n else None

    try:
        wait_for(seqs, timeout=60, interval=1, what=f"{n} EMF lines in {group}")
    except AssertionError:
        raise AssertionError(agent.log_tail(80))
    time.sleep(2)
    got = seqs() or []
    assert sorted(got) == list(range(n)), (len(got), agent.log_tail(40))

    def stats():
        dp = cw.get_metric_statistics(
            Namespace=ns, MetricName="Latency", Dimensions=[{"Name": "Service", "Value": "api"}],
            StartTime=t / 1000 - 60, EndTime=t / 1000 + 120, Period=60,
            Statistics=["SampleCount", "Sum"])["Datapoints"]
        return dp or None

    (dp,) = wait_for(stats, timeout=20, what="EMF datapoints")
    assert (dp["SampleCount"], dp["Sum"]) == (float(n), 2.0 * n)
    assert agent.stop() == 0, agent.log_tail()
