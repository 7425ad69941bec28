"""Durability: every acknowledged write survives SIGKILL, and a damaged WAL tail is cut cleanly.

Each batch of datums goes to its own one-minute slot with values unique to it, so after a
restart the SampleCount and Sum of each slot say exactly which batches survived.
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import botocore.exceptions
import pytest

from expect import epoch, floor_to, utc

BATCH = 100  # datums per PutMetricData
SLOTS = 1400  # one-minute slots available per writer (one GetMetricStatistics call)


def batch_values(writer: int, i: int) -> list[float]:
    return [float(writer * 10_000_000 + i * 1000 + j) for j in range(BATCH)]


def batch_data(t0: int, writer: int, i: int) -> list[dict]:
    return [
        {
            "MetricName": "stream",
            "Dimensions": [{"Name": "writer", "Value": str(writer)}],
            "Timestamp": utc(t0 + 60 * i + j % 60),
            "Value": v,
        }
        for j, v in enumerate(batch_values(writer, i))
    ]


class Writer(threading.Thread):
    """Streams batches until the server goes away; records a batch only after its 200."""

    def __init__(self, server, ns: str, t0: int, writer: int):
        super().__init__(daemon=True)
        self.client = server.client(connect_timeout=2, read_timeout=20)
        self.ns, self.t0, self.writer = ns, t0, writer
        self.acked: list[int] = []
        self.in_flight: int | None = None
        self.error: Exception | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        for i in range(SLOTS):
            if self.stop.is_set():
                return
            self.in_flight = i
            try:
                self.client.put_metric_data(Namespace=self.ns, MetricData=batch_data(self.t0, self.writer, i))
            except Exception as e:  # the server was killed under us
                self.error = e
                return
            self.acked.append(i)
            self.in_flight = None


def slots_of(cw, ns: str, writer: int, t0: int, n: int = SLOTS) -> dict[int, dict]:
    dps = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="stream",
        Dimensions=[{"Name": "writer", "Value": str(writer)}],
        StartTime=utc(t0),
        EndTime=utc(t0 + 60 * n),
        Period=60,
        Statistics=["SampleCount", "Sum"],
    )["Datapoints"]
    return {(epoch(dp["Timestamp"]) - t0) // 60: dp for dp in dps}


def assert_batch_whole(dp: dict, writer: int, i: int) -> None:
    assert dp["SampleCount"] == BATCH, f"batch {i} of writer {writer} partly stored: {dp}"
    assert dp["Sum"] == sum(batch_values(writer, i)), f"batch {i} of writer {writer} mis-read: {dp}"


def test_every_acknowledged_write_survives_sigkill(make_server):
    srv = make_server()
    ns = "Durability/Kill"
    t0 = floor_to(time.time(), 60) - 60 * (SLOTS + 5)
    writers = [Writer(srv, ns, t0, w) for w in range(2)]
    for w in writers:
        w.start()

    # Let the stream run, then kill at a random moment mid-stream.
    deadline = time.monotonic() + 120
    while sum(len(w.acked) for w in writers) < 30:
        assert time.monotonic() < deadline, "writers made no progress: " + srv.log_tail()
        assert any(w.is_alive() for w in writers), f"writers died early: {[w.error for w in writers]}"
        time.sleep(0.01)
    time.sleep(random.uniform(0.0, 0.5))
    srv.kill()
    for w in writers:
        w.join(timeout=60)
        assert not w.is_alive(), "writer hung after the kill"
        assert w.error is not None, "writer finished its whole stream before the kill: raise SLOTS"

    srv.start()
    cw = srv.client()
    total_acked = 0
    for w in writers:
        assert w.acked == list(range(len(w.acked))), "batches are acknowledged in order"
        stored = slots_of(cw, ns, w.writer, t0)
        for i in w.acked:
            assert i in stored, f"acknowledged batch {i} of writer {w.writer} lost after SIGKILL"
            assert_batch_whole(stored[i], w.writer, i)
        # The batch in flight at the kill may or may not have made it, but never in part.
        if w.in_flight is not None and w.in_flight in stored:
            assert_batch_whole(stored[w.in_flight], w.writer, w.in_flight)
        extra = set(stored) - set(w.acked) - {w.in_flight}
        assert not extra, f"slots never written appeared: {sorted(extra)}"
        total_acked += len(w.acked)
    assert total_acked >= 30
    print(f"acknowledged before SIGKILL: {[len(w.acked) for w in writers]} batches of {BATCH}; "
          f"in flight: {[w.in_flight for w in writers]}; errors: {[type(w.error).__name__ for w in writers]}")

    # GetMetricData agrees on the total number of datums of writer 0.
    n0 = len(writers[0].acked) + (1 if writers[0].in_flight in slots_of(cw, ns, 0, t0) else 0)
    resp = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "n",
                "MetricStat": {
                    "Metric": {"Namespace": ns, "MetricName": "stream", "Dimensions": [{"Name": "writer", "Value": "0"}]},
                    "Period": 60,
                    "Stat": "SampleCount",
                },
            }
        ],
        StartTime=utc(t0),
        EndTime=utc(t0 + 60 * SLOTS),
    )
    values = resp["MetricDataResults"][0]["Values"]
    assert len(values) == n0 and sum(values) == n0 * BATCH

    # The restarted server keeps taking writes, and they survive another SIGKILL.
    nxt = len(writers[0].acked) + 1
    cw.put_metric_data(Namespace=ns, MetricData=batch_data(t0, 0, nxt))
    srv.kill()
    srv.start()
    stored = slots_of(srv.client(), ns, 0, t0)
    assert_batch_whole(stored[nxt], 0, nxt)
    for i in writers[0].acked:
        assert_batch_whole(stored[i], 0, i)


def newest_wal_segment(data_dir: Path) -> Path:
    wal_dir = data_dir / "tsdb" / "wal"
    logs = sorted(wal_dir.glob("*.log"), key=lambda p: (p.stat().st_mtime_ns, p.name))
    if not logs:
        tree = "\n".join(str(p.relative_to(data_dir)) for p in sorted(data_dir.rglob("*")))
        pytest.fail(f"no WAL segment (*.log) under {wal_dir}; data dir holds:\n{tree}")
    return logs[-1]


def damage(path: Path, how: str) -> None:
    size = path.stat().st_size
    if how == "append_garbage":
        with open(path, "ab") as f:
            f.write(bytes(random.Random(7).getrandbits(8) for _ in range(777)))
    elif how == "truncate_mid_record":
        os.truncate(path, size - 7)
    elif how == "flip_byte_in_last_record":
        with open(path, "r+b") as f:
            f.seek(size - 20)
            b = f.read(1)
            f.seek(size - 20)
            f.write(bytes([b[0] ^ 0x5A]))
    else:
        raise AssertionError(how)


@pytest.mark.parametrize("how", ["append_garbage", "truncate_mid_record", "flip_byte_in_last_record"])
def test_damaged_wal_tail_restarts_cleanly(make_server, how):
    srv = make_server()
    ns = "Durability/Wal"
    t0 = floor_to(time.time(), 60) - 60 * 60
    cw = srv.client()
    n = 12
    for i in range(n):
        cw.put_metric_data(Namespace=ns, MetricData=batch_data(t0, 0, i))
    srv.kill()  # no clean shutdown: the WAL holds the newest batches

    seg = newest_wal_segment(srv.data_dir)
    assert seg.stat().st_size > 64, f"newest WAL segment {seg} holds no record ({seg.stat().st_size} bytes)"
    damage(seg, how)

    srv.start()
    assert srv.running()
    cw = srv.client()
    stored = slots_of(cw, ns, 0, t0, 60)
    # Everything before the last batch is intact whatever happened to the tail.
    for i in range(n - 1):
        assert i in stored, f"batch {i} lost after {how} on the WAL tail"
        assert_batch_whole(stored[i], 0, i)
    last = n - 1
    if how == "append_garbage":
        assert last in stored, "garbage after the last record must not cost the last record"
    if last in stored:
        assert_batch_whole(stored[last], 0, last)
    assert set(stored) <= set(range(n))

    # Writes after recovery land after the cut and survive another SIGKILL.
    cw.put_metric_data(Namespace=ns, MetricData=batch_data(t0, 0, n))
    srv.kill()
    srv.start()
    stored = slots_of(srv.client(), ns, 0, t0, 60)
    for i in list(range(n - 1)) + [n]:
        assert i in stored, f"batch {i} lost after the second restart ({how})"
        assert_batch_whole(stored[i], 0, i)
    # A clean stop works after all this.
    assert srv.stop() == 0


def test_clean_shutdown_and_restart_keep_data(make_server):
    srv = make_server()
    ns = "Durability/Clean"
    t0 = floor_to(time.time(), 60) - 60 * 30
    cw = srv.client()
    for i in range(5):
        cw.put_metric_data(Namespace=ns, MetricData=batch_data(t0, 3, i))
    assert srv.stop() == 0, "SIGTERM must end the server cleanly: " + srv.log_tail()
    srv.start()
    stored = slots_of(srv.client(), ns, 3, t0, 30)
    assert sorted(stored) == list(range(5))
    for i in range(5):
        assert_batch_whole(stored[i], 3, i)
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        srv.kill()
        srv.client().list_metrics()


def test_sigterm_as_soon_as_the_port_opens_stops_cleanly(tmp_path):
    """The signal handlers are installed before the port opens: a SIGTERM that arrives
    the moment the server accepts connections ends it cleanly (exit 0, "stopping"
    logged), it does not kill it mid-start."""
    import signal
    import socket
    import subprocess

    from conftest import free_port, stratus_bin

    for attempt in range(3):
        port = free_port()
        log_path = tmp_path / f"start-{attempt}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [str(stratus_bin()), "server", "--data-dir", str(tmp_path / f"d{attempt}"),
                 "--listen", f"127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "never listened: " + log_path.read_text()
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.05).close()
                    break
                except OSError:
                    time.sleep(0.002)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        text = log_path.read_text()
        assert code == 0, f"exit {code}:\n{text}"
        assert "signal received, stopping" in text, text
