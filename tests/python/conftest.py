"""pytest harness: runs a real `stratus server` for each test module.

Every module gets its own server on a free 127.0.0.1 port with a fresh data dir.
Clients are real boto3 clients (or the AWS CLI) pointed at it with `endpoint_url`
and the credentials the server wrote to `<data-dir>/credentials`, exactly as a
user would use it.

Environment:
- STRATUS_BIN: the stratus binary (default: <repo>/target/debug/stratus).
- STRATUS_EXPECT_PROTOCOL: `json` (default; botocore >= 1.42.7) or `query`
  (botocore 1.42.6). The protocol tests assert that this is what went on the wire.
"""

from __future__ import annotations

import configparser
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import boto3
import botocore.config
import pytest

REPO = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 60.0

_RUNNING: list["StratusServer"] = []


def stratus_bin() -> Path:
    env = os.environ.get("STRATUS_BIN")
    p = Path(env) if env else REPO / "target" / "debug" / "stratus"
    if not p.is_file():
        pytest.exit(
            f"stratus binary not found at {p}: run `cargo build -p stratus` "
            "(or set STRATUS_BIN)",
            returncode=3,
        )
    return p


def expected_protocol() -> str:
    proto = os.environ.get("STRATUS_EXPECT_PROTOCOL", "json")
    assert proto in ("json", "query"), f"bad STRATUS_EXPECT_PROTOCOL={proto!r}"
    return proto


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The process environment without anything that would steer an AWS client or the server."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and not k.startswith("STRATUS_ADMIN_")
    }
    env.update(extra)
    return env


class StratusServer:
    """One `stratus server` process on a data dir; can be stopped, killed and restarted."""

    def __init__(self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.extra_env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.starts = 0

    # -- lifecycle -----------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "config"

    def start(self) -> "StratusServer":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        log.write(f"\n===== start #{self.starts + 1} =====\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            [
                str(stratus_bin()),
                "server",
                "--data-dir",
                str(self.data_dir),
                "--listen",
                f"127.0.0.1:{self.port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(RUST_BACKTRACE="1", **self.extra_env),
        )
        log.close()
        self.starts += 1
        if self not in _RUNNING:
            _RUNNING.append(self)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"stratus server exited with {self.proc.returncode} before becoming ready:\n"
                    + self.log_tail()
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.05)
                continue
            if self.credentials_file.exists():
                return
            time.sleep(0.05)
        raise RuntimeError(f"stratus server not ready after {READY_TIMEOUT_S}s:\n" + self.log_tail())

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"server ignored SIGTERM for {timeout}s:\n" + self.log_tail())
        return self.proc.returncode

    def restart(self, kill: bool = False) -> "StratusServer":
        self.kill() if kill else self.stop()
        return self.start()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no server log)"
        return "\n".join(lines[-n:])

    # -- credentials and clients ---------------------------------------------------

    def admin_keys(self) -> tuple[str, str]:
        cp = configparser.ConfigParser()
        cp.read(self.credentials_file)
        sec = cp["stratus"]
        return sec["aws_access_key_id"], sec["aws_secret_access_key"]

    def client(
        self,
        service: str = "cloudwatch",
        key: str | None = None,
        secret: str | None = None,
        **config_kwargs,
    ):
        if key is None:
            key, secret = self.admin_keys()
        cfg = {
            "retries": {"max_attempts": 1, "mode": "standard"},
            "connect_timeout": 5,
            "read_timeout": 60,
        }
        cfg.update(config_kwargs)
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=botocore.config.Config(**cfg),
        )

    def stratus_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run a `stratus` admin subcommand against this server."""
        cmd = [
            str(stratus_bin()),
            *args,
            "--endpoint",
            self.endpoint,
            "--credentials-file",
            str(self.credentials_file),
            "--profile",
            "stratus",
        ]
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=clean_env())
        if check and cp.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} exited {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}"
            )
        return cp


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = StratusServer(tmp_path_factory.mktemp("stratus") / "data")
    srv.start()
    yield srv
    srv.stop()
    _RUNNING.remove(srv)


@pytest.fixture
def make_server(tmp_path):
    """Factory for extra servers owned by one test (stopped at its end)."""
    made: list[StratusServer] = []

    def make(env: dict[str, str] | None = None, start: bool = True) -> StratusServer:
        srv = StratusServer(tmp_path / f"data{len(made)}", env=env)
        made.append(srv)
        return srv.start() if start else srv

    yield make
    for srv in made:
        if srv.running():
            srv.kill()
        if srv in _RUNNING:
            _RUNNING.remove(srv)


@pytest.fixture(scope="module")
def cw(server):
    return server.client("cloudwatch")


@pytest.fixture
def ns():
    """A namespace unique to the test, so tests sharing a server do not see each other's data."""
    return f"Test/{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def protocol() -> str:
    return expected_protocol()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in list(_RUNNING):
            rep.sections.append((f"stratus server log ({srv.data_dir})", srv.log_tail(80)))


def pytest_sessionfinish(session, exitstatus):
    for srv in list(_RUNNING):
        if srv.running():
            srv.kill()
