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


def kill_process(proc: "subprocess.Popen[bytes] | None") -> None:
    """SIGKILL a child that is still running and reap it."""
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)


def terminate_process(proc: "subprocess.Popen[bytes] | None", timeout: float, what: str, log_tail) -> int:
    """SIGTERM a child and wait for it; a child that ignores SIGTERM is killed and the
    test fails with its log. Returns the exit code (0 when it never started)."""
    if proc is None:
        return 0
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"{what} ignored SIGTERM for {timeout}s:\n" + log_tail())
    return proc.returncode


# The test receivers (webhooks) listen on 127.0.0.1, which the webhook egress policy refuses
# unless allowed: every test server allows it explicitly (`[notify] webhook_allow`); tests of
# the policy itself pass `webhook_allow=()`.
TEST_WEBHOOK_ALLOW: tuple[str, ...] = ("127.0.0.1",)


class StratusServer:
    """One `stratus server` process on a data dir; can be stopped, killed and restarted."""

    def __init__(self, data_dir: Path, port: int | None = None, env: dict[str, str] | None = None,
                 webhook_allow: tuple[str, ...] = TEST_WEBHOOK_ALLOW):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.extra_env = env or {}
        self.webhook_allow = webhook_allow
        self.extra_args: list[str] = []  # more `stratus server` flags, e.g. --recover
        # Runs in the child before exec (e.g. to set a hard resource limit).
        self.preexec_fn = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        self.config_path = self.data_dir.parent / f"{self.data_dir.name}-server.toml"
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
        cmd = [str(stratus_bin()), "server", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}"]
        if "STRATUS_CONFIG" not in self.extra_env:  # a test's own config file wins
            allow = ", ".join(f'"{a}"' for a in self.webhook_allow)
            self.config_path.write_text(f"[notify]\nwebhook_allow = [{allow}]\n")
            cmd += ["--config", str(self.config_path)]
        self.proc = subprocess.Popen(
            [*cmd, *self.extra_args],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(RUST_BACKTRACE="1", **self.extra_env),
            preexec_fn=self.preexec_fn,
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
            # The port opens before storage does (a start that cannot listen must
            # not touch the data dir), so a connection alone is not readiness: the
            # banner, printed once everything is open, is.
            if self.credentials_file.exists() and self._banner_since_start():
                return
            time.sleep(0.05)
        raise RuntimeError(f"stratus server not ready after {READY_TIMEOUT_S}s:\n" + self.log_tail())

    def _banner_since_start(self) -> bool:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return False
        return "Stratus is listening on " in text.rsplit(f"===== start #{self.starts} =====", 1)[-1]

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        kill_process(self.proc)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait for a clean exit; returns the exit code."""
        return terminate_process(self.proc, timeout, "server", self.log_tail)

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

    def make(env: dict[str, str] | None = None, start: bool = True,
             webhook_allow: tuple[str, ...] = TEST_WEBHOOK_ALLOW) -> StratusServer:
        srv = StratusServer(tmp_path / f"data{len(made)}", env=env, webhook_allow=webhook_allow)
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
        for agent in list(_AGENTS):
            rep.sections.append((f"stratus agent log ({agent.workdir})", agent.log_tail(80)))


def pytest_sessionfinish(session, exitstatus):
    for srv in list(_RUNNING):
        if srv.running():
            srv.kill()


# ---- the agent ---------------------------------------------------------------------------
#
# Helpers for tests/python/test_agent_*.py: a real `stratus agent` process, an agent-policy
# key, and a fake EC2 instance metadata service (IMDSv2) on 127.0.0.1.

import json  # noqa: E402
import threading  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402

AGENT_PROFILE = "AmazonCloudWatchAgent"


def create_agent_key(server: "StratusServer", path: Path, name: str = "agent") -> tuple[str, str]:
    """Creates an `agent`-policy key on `server` with `stratus keys create` and writes it to
    `path` as the stock agent's shared-credentials profile. Returns (id, secret)."""
    out = server.stratus_cli("keys", "create", "--name", name, "--policy", "agent", "--output", "json")
    key = json.loads(out.stdout)
    kid, secret = key["AccessKeyId"], key["SecretAccessKey"]
    path.write_text(f"[{AGENT_PROFILE}]\naws_access_key_id = {kid}\naws_secret_access_key = {secret}\n")
    path.chmod(0o600)
    return kid, secret


class StratusAgent:
    """One `stratus agent --config FILE` process. The config dict is written to
    `<workdir>/agent.json` on every start; its log goes to `agent.logfile` if the config
    sets one, else to `<workdir>/agent-stderr.log`."""

    def __init__(
        self,
        workdir: Path,
        config: dict,
        credentials_file: Path | None = None,
        env: dict[str, str] | None = None,
    ):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.credentials_file = credentials_file
        self.extra_env = env or {}
        self.config_path = self.workdir / "agent.json"
        self.stderr_path = self.workdir / "agent-stderr.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def logfile(self) -> Path:
        lf = self.config.get("agent", {}).get("logfile")
        return Path(lf) if lf else self.stderr_path

    def start(self) -> "StratusAgent":
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.config_path.write_text(json.dumps(self.config, indent=2))
        cmd = [str(stratus_bin()), "agent", "--config", str(self.config_path)]
        if self.credentials_file is not None:
            cmd += ["--credentials-file", str(self.credentials_file)]
        err = open(self.stderr_path, "ab")
        err.write(f"\n===== start #{self.starts + 1} =====\n".encode())
        err.flush()
        self.proc = subprocess.Popen(
            cmd,
            stdout=err,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(RUST_BACKTRACE="1", **self.extra_env),
        )
        err.close()
        self.starts += 1
        if self not in _AGENTS:
            _AGENTS.append(self)
        return self

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the agent gets no chance to flush."""
        kill_process(self.proc)

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM (the agent flushes) and wait; returns the exit code."""
        return terminate_process(self.proc, timeout, "agent", self.log_tail)

    def log_text(self) -> str:
        parts = []
        for p in dict.fromkeys([self.logfile, self.stderr_path]):
            try:
                parts.append(p.read_text(errors="replace"))
            except OSError:
                pass
        return "\n".join(parts)

    def log_tail(self, n: int = 60) -> str:
        lines = self.log_text().splitlines()
        return "\n".join(lines[-n:]) if lines else "(no agent log)"

    def assert_running(self) -> None:
        if not self.running():
            assert self.proc is not None
            raise AssertionError(f"agent exited with {self.proc.returncode}:\n" + self.log_tail())


_AGENTS: list[StratusAgent] = []


@pytest.fixture
def make_agent(tmp_path):
    """Factory for agents owned by one test (killed at its end)."""
    made: list[StratusAgent] = []

    def make(config: dict, credentials_file: Path | None = None, env: dict[str, str] | None = None,
             name: str | None = None) -> StratusAgent:
        agent = StratusAgent(tmp_path / (name or f"agent{len(made)}"), config, credentials_file, env)
        made.append(agent)
        return agent

    yield make
    for agent in made:
        agent.kill()
        while agent in _AGENTS:
            _AGENTS.remove(agent)


class FakeImds:
    """The EC2 instance metadata service as IMDSv2 serves it, on 127.0.0.1: PUT
    /latest/api/token (needs the TTL header) issues a token; GET /latest/meta-data/...
    answers only with that token (401 otherwise). Records every request."""

    def __init__(self, instance_id: str, instance_type: str = "t3.micro", image_id: str = "ami-0123456789abcdef0"):
        self.values = {
            "instance-id": instance_id,
            "instance-type": instance_type,
            "ami-id": image_id,
        }
        self.token = uuid.uuid4().hex
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def _answer(self, status: int, body: str = "") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_PUT(self):
                imds.requests.append(("PUT", self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path != "/latest/api/token":
                    return self._answer(404)
                if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                    return self._answer(400)
                self._answer(200, imds.token)

            def do_GET(self):
                imds.requests.append(("GET", self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.headers.get("X-aws-ec2-metadata-token") != imds.token:
                    return self._answer(401)
                prefix = "/latest/meta-data/"
                key = self.path[len(prefix):] if self.path.startswith(prefix) else None
                if key not in imds.values:
                    return self._answer(404)
                self._answer(200, imds.values[key])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_imds():
    imds = FakeImds(instance_id=f"i-{uuid.uuid4().hex[:17]}")
    yield imds
    imds.close()


def closed_port_endpoint() -> str:
    """An http://127.0.0.1 URL nothing listens on (connection refused at once)."""
    return f"http://127.0.0.1:{free_port()}"


def wait_for(predicate, timeout: float, interval: float = 0.25, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
