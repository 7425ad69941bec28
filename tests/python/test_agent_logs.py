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
import shutil
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
    kid, secret = server.admin_keys()
    creds = tmp_path / "credentials"
    creds.write_text(f"[{AGENT_PROFILE}]\naws_access_key_id = {kid}\naws_secret_access_key = {secret}\n")
    creds.chmod(0o600)

    workdir = tmp_path / "agent-logs"
    workdir.mkdir()
    log_path = workdir / "app.log"
    log_path.touch()
    group = f"e2e-{uuid.uuid4().hex[:8]}"
    config = {
        "agent": {
            "logfile": str(workdir / "agent.log"),
            "spool_dir": str(workdir / "spool"),
            "instance_id": "i-logs-e2e",
        },
        "logs": {
            "endpoint_override": server.endpoint,
            "force_flush_interval": FLUSH_S,
            "logs_collected": {
                "files": {
                    "collect_list": [
                        {
                            "file_path": str(log_path),
                            "log_group_name": group,
                            "log_stream_name": "{instance_id}",
                            "timestamp_format": "%Y-%m-%dT%H:%M:%S.%f",
                            "timezone": "UTC",
                            "retention_in_days": 7,
                        }
                    ]
                }
            },
        },
    }
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
