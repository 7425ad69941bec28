"""pytest harness for cluster mode: a whole cluster started by `scripts/cluster-up`
(PostgreSQL, three NATS JetStream servers, Garage S3, three Stratus nodes, all on
127.0.0.1), real clients against its nodes, real SMTP (aiosmtpd), and real failures:
SIGKILL, SIGSTOP, restarts."""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore.config
import pytest

REPO = Path(__file__).resolve().parents[2]


def _load_single_node_harness():
    """tests/python/conftest.py, loaded under its own name: this file is `conftest` here."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "stratus_single_node_harness", REPO / "tests" / "python" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


_single = _load_single_node_harness()
clean_env, stratus_bin, wait_for = _single.clean_env, _single.stratus_bin, _single.wait_for
free_port, StratusServer, _RUNNING = _single.free_port, _single.StratusServer, _single._RUNNING
StratusAgent, closed_port_endpoint = _single.StratusAgent, _single.closed_port_endpoint
# notify_support (SMTP relay, webhooks) is shared with the single-node tests.
sys.path.append(str(REPO / "tests" / "python"))

CLUSTER_UP = REPO / "scripts" / "cluster-up"


class Cluster:
    """A running cluster: its directory, nodes (name → endpoint, pid) and admin credentials."""

    def __init__(self, root: Path, env: dict[str, str]):
        self.root = root
        self.env = env
        self.nodes: dict[str, dict] = {}
        self.credentials: Path | None = None

    def up(self) -> "Cluster":
        cp = subprocess.run([str(CLUSTER_UP), str(self.root)], capture_output=True, text=True,
                            env=self.env, timeout=900)
        assert cp.returncode == 0, f"cluster-up failed:\n{cp.stdout}\n{cp.stderr[-4000:]}"
        self._parse(cp.stdout)
        return self

    def _parse(self, out: str) -> None:
        for line in out.splitlines():
            parts = line.split()
            if parts[:1] == ["node"]:
                self.nodes[parts[1]] = {"endpoint": parts[2], "pid": int(parts[4])}
            elif parts[:1] == ["credentials"]:
                self.credentials = Path(parts[1])
        assert self.credentials and self.nodes, out

    def down(self) -> None:
        subprocess.run([str(CLUSTER_UP), "--down", str(self.root)], env=self.env, timeout=120)

    def restart(self, name: str) -> None:
        cp = subprocess.run([str(CLUSTER_UP), "--restart", str(self.root), name],
                            capture_output=True, text=True, env=self.env, timeout=300)
        assert cp.returncode == 0, f"restart {name}:\n{cp.stdout}\n{cp.stderr[-4000:]}"
        self._parse(cp.stdout + f"\ncredentials {self.credentials}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        os.kill(self.nodes[name]["pid"], sig)
        if sig == signal.SIGKILL:
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    os.kill(self.nodes[name]["pid"], 0)
                except ProcessLookupError:
                    return
                # A zombie until cluster-up's subshell reaps it; /proc tells.
                stat = Path(f"/proc/{self.nodes[name]['pid']}/stat")
                if not stat.exists() or stat.read_text().split()[2] == "Z":
                    return
                time.sleep(0.05)

    def keys(self) -> tuple[str, str]:
        cfg = configparser.ConfigParser()
        cfg.read(self.credentials)
        return cfg["stratus"]["aws_access_key_id"], cfg["stratus"]["aws_secret_access_key"]

    def client(self, service: str, node: str, retries: int = 0):
        key, secret = self.keys()
        return boto3.client(
            service, endpoint_url=self.nodes[node]["endpoint"], region_name="us-east-1",
            aws_access_key_id=key, aws_secret_access_key=secret,
            config=botocore.config.Config(retries={"max_attempts": retries + 1, "mode": "standard"},
                                          connect_timeout=5, read_timeout=30))

    def status(self, node: str) -> dict:
        key, secret = self.keys()
        env = clean_env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret)
        cp = subprocess.run([str(stratus_bin()), "cluster", "status", "--json", "--endpoint",
                             self.nodes[node]["endpoint"]], capture_output=True, text=True,
                            env=env, timeout=60)
        assert cp.returncode == 0, cp.stderr
        return json.loads(cp.stdout)

    def log(self, node: str) -> str:
        return (self.root / node / "server.log").read_text(errors="replace")

    def service_pid(self, name: str) -> int:
        return int((self.root / f"{name}.pid").read_text().strip())


def cluster_env(**extra: str) -> dict[str, str]:
    env = clean_env(STRATUS_BIN=str(stratus_bin()), **extra)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def relay():
    from notify_support import Relay

    r = Relay().start()
    yield r
    r.stop()


@contextlib.contextmanager
def running_cluster(root: Path, env: dict[str, str]):
    """A cluster up under `root` for the `with` block; then down, node logs kept as artifacts."""
    c = Cluster(root, env)
    try:
        c.up()
    except BaseException:
        c.down()
        raise
    yield c
    for agent in _single._AGENTS:
        _single.kill_process(agent.proc)
    c.down()
    for name in c.nodes:
        log = c.root / name / "server.log"
        if log.exists():
            art = REPO / "target" / "test-artifacts" / "cluster"
            art.mkdir(parents=True, exist_ok=True)
            (art / f"{c.root.name}-{name}.log").write_bytes(log.read_bytes())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, relay):
    with running_cluster(tmp_path_factory.mktemp("cluster"), cluster_env(STRATUS_SMTP_URL=relay.url)) as c:
        yield c


def fnv_fields(fields: list[str]) -> int:
    """stratus_cluster::partition's FNV-1a over length-prefixed fields, in Python (pinned:
    the Rust side tests the same values)."""
    h = 0xCBF29CE484222325
    for f in fields:
        b = f.encode()
        for part in (len(b).to_bytes(8, "little"), b):
            for x in part:
                h ^= x
                h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fnv_shard(name: str, shards: int = 64) -> int:
    """stratus_cluster::partition::of_alarm."""
    return fnv_fields([name]) % shards


def partition_of(namespace: str, name: str, dims: list[dict], partitions: int = 8) -> int:
    """stratus_cluster::partition::of_series for a CloudWatch metric."""
    fields = [namespace, name]
    for d in sorted(dims, key=lambda d: (d["Name"], d["Value"])):
        fields += [d["Name"], d["Value"]]
    return fnv_fields(fields) % partitions


__all__ = ["Cluster", "cluster_env", "running_cluster", "wait_for", "free_port", "clean_env", "fnv_fields",
           "fnv_shard", "partition_of"]


@pytest.fixture
def make_single_node(tmp_path):
    """A single-node server (no [cluster]) to compare results with."""
    started = []

    def make():
        s = StratusServer(tmp_path / f"single{len(started)}")
        s.start()
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()
        if s in _RUNNING:
            _RUNNING.remove(s)
