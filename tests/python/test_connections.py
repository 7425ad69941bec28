"""Connection limits: idle and slowloris sockets cannot starve the server.

Before, the server held every socket for ever (no header-read or idle timeout) and, once
out of file descriptors, stopped accepting: 1,100 idle sockets under a 1,024 open-file
limit made `/health` time out. Every socket here is a real TCP connection to 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import resource
import select
import socket
import threading
import time
import urllib.request

import pytest

from conftest import wait_for


@contextlib.contextmanager
def open_files(n: int):
    """Lets this test process hold `n` sockets (soft limit up to the hard one)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256 if hard == resource.RLIM_INFINITY else min(hard, n + 256)
    if want < n + 64:
        pytest.skip(f"hard open-file limit {hard} is too low for {n} sockets")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.setblocking(True)
    return s


def health(server, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(server.endpoint + "/health", timeout=timeout) as r:
        assert r.status == 200
        return r.read().decode()


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes (EOF or reset) within `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return False
        try:
            if sock.recv(4096) == b"":
                return True
        except (ConnectionResetError, BrokenPipeError):
            return True


class Slowloris:
    """Sockets that send a request head one byte at a time and never finish it."""

    def __init__(self, port: int, n: int, every: float):
        self.socks = [connect(port) for _ in range(n)]
        self.every = every
        self.stop = threading.Event()
        self.closed = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        head = b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 10_000
        i = 0
        while not self.stop.wait(self.every) and i < len(head):
            for s in self.socks:
                try:
                    s.send(head[i : i + 1])
                except OSError:
                    pass
            i += 1

    def close(self):
        self.stop.set()
        self.thread.join()
        for s in self.socks:
            s.close()


def write_config(tmp_path, **server) -> str:
    lines = ["[server]"] + [f"{k} = {v!r}" if isinstance(v, str) else f"{k} = {v}" for k, v in server.items()]
    path = tmp_path / "stratus.toml"
    path.write_text("\n".join(lines).replace("'", '"') + "\n")
    return str(path)


def start_with_file_limit(make_server, n: int, env: dict[str, str] | None = None):
    """A server whose hard open-file limit is `n` (so it cannot raise its soft one)."""
    server = make_server(env=env, start=False)

    def limit_files():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))

    server.preexec_fn = limit_files
    server.start()
    limits = open(f"/proc/{server.proc.pid}/limits").read()
    assert [l.split()[3] for l in limits.splitlines() if l.startswith("Max open files")] == [str(n)]
    return server


def test_idle_and_slowloris_sockets_do_not_lock_out_clients(make_server, ns):
    # 2,000 idle and 20 slowloris sockets under a 2,000 open-file limit: more than the
    # server can hold beside its own files (before: accept failed, /health timed out).
    server = start_with_file_limit(make_server, 2000)
    with open_files(2_100):
        idle = [connect(server.port) for _ in range(2_000)]
        slow = Slowloris(server.port, 20, every=0.5)
        try:
            t0 = time.monotonic()
            assert health(server) == "ok"
            cw = server.client()
            cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 1.0}])
            assert [m["MetricName"] for m in cw.list_metrics(Namespace=ns)["Metrics"]] == ["m"]
            assert time.monotonic() - t0 < 10, "clients waited behind idle sockets"
            # SIGTERM still stops the server cleanly with all of them open.
            assert server.stop(timeout=30) == 0
        finally:
            slow.close()
            for s in idle:
                s.close()


def test_idle_and_slow_sockets_are_closed_after_their_timeouts(make_server, tmp_path):
    config = write_config(tmp_path, header_read_timeout="2s", idle_timeout="4s", body_read_timeout="3s")
    server = make_server(env={"STRATUS_CONFIG": config})

    # Opened, never a byte sent: the request-head timeout applies.
    silent = connect(server.port)
    assert closed_by_server(silent, within=15), "a silent socket was kept"

    # A head trickled one byte every 0.2 s would take ~30 min: cut at the head timeout.
    slow = Slowloris(server.port, 3, every=0.2)
    try:
        t0 = time.monotonic()
        for s in slow.socks:
            assert closed_by_server(s, within=15), "a slowloris socket was kept"
        assert time.monotonic() - t0 < 15
    finally:
        slow.close()

    # A complete head, then a body trickled one byte every 0.2 s (it would take 200 s):
    # cut at the body timeout, even though bytes keep coming.
    body = connect(server.port)
    body.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.0\r\n"
                 b"X-Amz-Target: GraniteServiceVersion20100801.ListMetrics\r\nContent-Length: 1000\r\n\r\n")
    stop = threading.Event()

    def trickle():
        while not stop.wait(0.2):
            try:
                body.send(b" ")
            except OSError:
                return

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        assert closed_by_server(body, within=20), "a slow body was waited for"
    finally:
        stop.set()
        thread.join()
        body.close()

    # Kept alive after a request: open between requests until the idle timeout.
    keep = connect(server.port)
    keep.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    reply = b""
    while not reply.endswith(b"ok"):
        chunk = keep.recv(4096)
        assert chunk, reply
        reply += chunk
    assert reply.startswith(b"HTTP/1.1 200"), reply
    assert not closed_by_server(keep, within=1.0), "closed long before the idle timeout"
    # Still usable: a second request on the same connection.
    keep.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    ready, _, _ = select.select([keep], [], [], 5)
    assert ready and keep.recv(4096).startswith(b"HTTP/1.1 200")
    assert closed_by_server(keep, within=20), "an idle keep-alive socket was kept"
    for s in (silent, keep):
        s.close()
    assert health(server) == "ok"


def test_server_under_a_1024_open_file_limit_keeps_answering(make_server, ns):
    server = start_with_file_limit(make_server, 1024)

    with open_files(1_300):
        idle = [connect(server.port) for _ in range(1_100)]
        try:
            # More sockets than the server has descriptors: it keeps accepting,
            # closing the longest-waiting idle ones to make room.
            assert health(server) == "ok"
            cw = server.client()
            cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": "m", "Value": 2.0}])
            assert [m["MetricName"] for m in cw.list_metrics(Namespace=ns)["Metrics"]] == ["m"]
            more = [connect(server.port) for _ in range(200)]
            assert health(server) == "ok"
            for s in more:
                s.close()
            # Evictions are logged, but not once per socket.
            wait_for(lambda: "connection limit reached" in server.log_tail(400), 10, what="a limit log line")
            assert server.log_tail(2000).count("connection limit reached") <= 3
            assert server.running()
        finally:
            for s in idle:
                s.close()
    assert server.stop(timeout=30) == 0
