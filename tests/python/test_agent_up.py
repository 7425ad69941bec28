"""`stratus up`: the quick start runs the server and a local agent together, so this
machine's cpu, mem, disk and net show up under CWAgent without any setup; the agent's key
(policy agent) is created once and reused; SIGTERM stops both; SIGKILL of `up` leaves no
orphan agent."""

from __future__ import annotations

import configparser
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.config

from conftest import clean_env, free_port, stratus_bin, wait_for

EXPECTED = {"cpu_usage_idle", "mem_used_percent", "disk_used_percent", "net_bytes_sent"}


class Up:
    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.data_dir = workdir / "stratus-data"
        self.port = free_port()
        self.out = workdir / "up.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Up":
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(
                [str(stratus_bin()), "up", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=clean_env(),
                cwd=self.workdir,
            )

        def ready():
            assert self.proc is not None and self.proc.poll() is None, self.out.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                return False
            return (self.data_dir / "credentials").exists()

        wait_for(ready, timeout=60, what="stratus up to listen")
        return self

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def client(self, service="cloudwatch", profile="stratus", creds_file=None):
        cp = configparser.ConfigParser()
        cp.read(creds_file or self.data_dir / "credentials")
        return boto3.session.Session().client(
            service,
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id=cp[profile]["aws_access_key_id"],
            aws_secret_access_key=cp[profile]["aws_secret_access_key"],
            config=botocore.config.Config(retries={"max_attempts": 1}),
        )


def agent_children(config: Path) -> list[int]:
    """Pids of `stratus agent --config <config>` processes."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agent" in argv and str(config).encode() in argv:
            pids.append(int(d.name))
    return pids


def server_keys(up: "Up") -> list[dict]:
    """`stratus keys list` against the server `up` runs, with its admin key."""
    return json.loads(
        subprocess.run(
            [str(stratus_bin()), "keys", "list", "--output", "json", "--endpoint", f"http://127.0.0.1:{up.port}",
             "--credentials-file", str(up.data_dir / "credentials")],
            capture_output=True, text=True, check=True, env=clean_env(),
        ).stdout
    )["Keys"]


def test_up_runs_a_local_agent(tmp_path):
    up = Up(tmp_path).start()
    try:
        banner = wait_for(lambda: "Local agent" in up.out.read_text() and up.out.read_text(), timeout=10,
                          what="the banner")
        assert "agent.json" in banner, banner

        cw = up.client()
        names = wait_for(
            lambda: EXPECTED <= (n := {m["MetricName"] for m in cw.list_metrics(Namespace="CWAgent")["Metrics"]}) and n,
            timeout=90,
            interval=1,
            what=f"{sorted(EXPECTED)} from the local agent",
        )
        assert EXPECTED <= names

        # The agent's key: owner-only file, stock profile name, policy agent on the server.
        agent_creds = up.data_dir / "agent-credentials"
        assert stat.S_IMODE(agent_creds.stat().st_mode) == 0o600
        cp = configparser.ConfigParser()
        cp.read(agent_creds)
        key_id = cp["AmazonCloudWatchAgent"]["aws_access_key_id"]
        keys = server_keys(up)
        mine = [k for k in keys if k["AccessKeyId"] == key_id]
        assert len(mine) == 1 and mine[0]["Policy"] == "agent", keys
        n_keys = len(keys)

        config = up.data_dir / "agent.json"
        children = agent_children(config)
        assert len(children) == 1, children

        # SIGTERM: `up` exits cleanly and takes its agent with it.
        assert up.stop() == 0, up.out.read_text()[-3000:]
        assert not any(os.path.exists(f"/proc/{p}") and p in agent_children(config) for p in children)

        # Second start: the same key is reused, not a new one created.
        before = agent_creds.read_text()
        up.start()
        wait_for(lambda: agent_children(config), timeout=30, what="the agent to restart")
        assert agent_creds.read_text() == before
        keys_after = server_keys(up)
        assert len(keys_after) == n_keys, keys_after
        assert up.stop() == 0
        time.sleep(0.2)
        assert agent_children(config) == []

        # The agent's credentials file lost: key names are unique, so the key whose
        # secret went with it is replaced (not refused, not duplicated).
        agent_creds.unlink()
        up.start()
        wait_for(agent_creds.exists, timeout=30, what="a new agent key")
        cp = configparser.ConfigParser()
        cp.read(agent_creds)
        new_id = cp["AmazonCloudWatchAgent"]["aws_access_key_id"]
        assert new_id != key_id
        keys_now = server_keys(up)
        assert [k["AccessKeyId"] for k in keys_now if k["Name"] == mine[0]["Name"]] == [new_id], keys_now
        assert len(keys_now) == n_keys, keys_now
        assert up.stop() == 0
        time.sleep(0.2)

        # SIGKILL of `up` (no chance to stop its agent): the kernel SIGTERMs the agent,
        # which exits instead of running on as an orphan — after trying to flush to the
        # server that died with `up` for its 20 s shutdown deadline, then spooling.
        up.start()
        orphans = wait_for(lambda: agent_children(config), timeout=30, what="the agent to start")
        up.kill()
        wait_for(lambda: agent_children(config) == [], timeout=45, what=f"agent {orphans} to exit after up's SIGKILL")
        assert "SIGTERM received" in (up.data_dir / "agent.log").read_text()
    finally:
        up.kill()
        for p in agent_children(up.data_dir / "agent.json"):
            os.kill(p, signal.SIGKILL)


def run_up(data_dir: Path, port: int, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `stratus up` expected to stop by itself (it cannot start)."""
    return subprocess.run(
        [str(stratus_bin()), "up", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}"],
        capture_output=True, text=True, timeout=60, env=clean_env(), cwd=cwd, stdin=subprocess.DEVNULL,
    )


def test_second_up_on_a_data_dir_names_the_running_one(tmp_path):
    up = Up(tmp_path).start()
    try:
        assert up.proc is not None
        # Same port (the usual mistake: `stratus up` twice) and another port alike.
        for port in (up.port, free_port()):
            second = run_up(up.data_dir, port, tmp_path)
            out = second.stdout + second.stderr
            assert second.returncode != 0, out
            assert "another Stratus is already running on the data directory" in out, out
            assert f"(pid {up.proc.pid})" in out, out
            assert "--data-dir" in out, out
            assert "Database already open" not in out, out
        assert up.proc.poll() is None, "the first one must keep running"
    finally:
        up.kill()
        for p in agent_children(up.data_dir / "agent.json"):
            os.kill(p, signal.SIGKILL)


def test_up_on_a_busy_port_creates_nothing(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        data_dir = tmp_path / "fresh-data"
        cp = run_up(data_dir, port, tmp_path)
    out = cp.stdout + cp.stderr
    assert cp.returncode != 0, out
    assert f"cannot listen on 127.0.0.1:{port}: another program is using that port" in out, out
    assert "--listen" in out, out
    assert not data_dir.exists(), sorted(p.name for p in data_dir.iterdir())
    assert "Created admin access key" not in out, out


def test_banner_commands_work_when_pasted(tmp_path):
    """The banner names the binary by a path that runs (not a bare `stratus`, which is not on
    PATH after `cargo run`), and the AWS CLI line works as printed: no --endpoint-url needed."""
    import shlex

    up = Up(tmp_path).start()
    try:
        banner = wait_for(lambda: "Press Ctrl-C" in (t := up.out.read_text()) and t, timeout=10, what="the banner")
        (keys_line,) = [l.strip() for l in banner.splitlines() if " keys create " in l]
        argv = shlex.split(keys_line)
        assert Path(tmp_path, argv[0]).resolve() == stratus_bin().resolve(), keys_line
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=clean_env(), cwd=tmp_path)
        assert cp.returncode == 0 and "access_key_id = " in cp.stdout, cp.stdout + cp.stderr

        (export_line,) = [l.strip() for l in banner.splitlines() if l.strip().startswith("export AWS_")]
        env = clean_env(**dict(kv.split("=", 1) for kv in shlex.split(export_line)[1:]),
                        HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9",
                        NO_PROXY="127.0.0.1,localhost", AWS_EC2_METADATA_DISABLED="true")
        (aws_line,) = [l.strip() for l in banner.splitlines() if l.strip().startswith("aws ")]
        aws = shlex.split(aws_line)
        assert "--endpoint-url" not in aws, aws_line
        aws[0] = str(Path(sys.executable).parent / "aws")
        cp = subprocess.run(aws, capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
        assert cp.returncode == 0 and '"Metrics"' in cp.stdout, cp.stdout + cp.stderr
    finally:
        up.kill()
        for p in agent_children(up.data_dir / "agent.json"):
            os.kill(p, signal.SIGKILL)


def test_readme_disk_alarm_matches_the_local_agents_metric(tmp_path):
    """The README's alarm on the agent's disk metric, run as written (only the port
    changed): its dimensions are the four the agent sends, so it sees the agent's data."""
    import re

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (snippet,) = re.findall(r"```sh\n(dims=\$\(aws .*?)```", readme, re.S)
    up = Up(tmp_path).start()
    try:
        cw = up.client()
        wait_for(
            lambda: cw.list_metrics(Namespace="CWAgent", MetricName="disk_used_percent",
                                    Dimensions=[{"Name": "path", "Value": "/"}])["Metrics"],
            timeout=90, interval=1, what="disk_used_percent of / from the local agent",
        )
        up.client("sns").create_topic(Name="alerts")
        env = clean_env(
            AWS_SHARED_CREDENTIALS_FILE=str(up.data_dir / "credentials"),
            AWS_CONFIG_FILE=str(up.data_dir / "config"),
            PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            AWS_MAX_ATTEMPTS="1",
        )
        script = snippet.replace("http://127.0.0.1:4566", f"http://127.0.0.1:{up.port}")
        cp = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                            timeout=180, env=env, cwd=tmp_path)
        assert cp.returncode == 0, cp.stdout + cp.stderr
        (alarm,) = cw.describe_alarms(AlarmNames=["disk-root-50"])["MetricAlarms"]
        assert {d["Name"] for d in alarm["Dimensions"]} == {"InstanceId", "device", "fstype", "path"}, alarm
        now = time.time()
        stats = cw.get_metric_statistics(
            Namespace="CWAgent", MetricName="disk_used_percent", Dimensions=alarm["Dimensions"],
            StartTime=now - 600, EndTime=now + 60, Period=60, Statistics=["Average"],
        )
        assert stats["Datapoints"], "the alarm's dimensions match no data of the agent"
    finally:
        up.kill()
        for p in agent_children(up.data_dir / "agent.json"):
            os.kill(p, signal.SIGKILL)
