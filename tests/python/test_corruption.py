"""Corruption is never silent: a WAL segment damaged in the middle stops the real server
at start with a message naming the file and byte offset, changing nothing; `stratus fsck`
reports it; starting with recovery (`recover = true` in [server], or `--recover`) skips only
the damaged record, keeps every intact one after it and keeps the original file aside.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from conftest import clean_env, stratus_bin
from logs_support import wal_frames
from expect import epoch, floor_to, utc

NAMESPACES = ["Corrupt/A", "Corrupt/B", "Corrupt/C", "Corrupt/D"]
BATCHES = 6  # PutMetricData calls per namespace and server start
DATUMS = 20


def value(ns: int, batch: int, j: int) -> float:
    return float(ns * 100_000 + batch * 100 + j)


def put_batches(cw, t0: int, batches: range) -> list[tuple[int, int]]:
    """One PutMetricData (one WAL record) per (batch, namespace), in this order."""
    order = []
    for b in batches:
        for n, ns in enumerate(NAMESPACES):
            cw.put_metric_data(
                Namespace=ns,
                MetricData=[
                    {"MetricName": "m", "Timestamp": utc(t0 + 60 * b + j), "Value": value(n, b, j)}
                    for j in range(DATUMS)
                ],
            )
            order.append((n, b))
    return order


def stored(cw, t0: int) -> set[tuple[int, int]]:
    """(namespace, batch) pairs whose whole batch is back; a partial one fails."""
    out = set()
    for n, ns in enumerate(NAMESPACES):
        dps = cw.get_metric_statistics(
            Namespace=ns, MetricName="m", StartTime=utc(t0), EndTime=utc(t0 + 60 * 2 * BATCHES),
            Period=60, Statistics=["SampleCount", "Sum"],
        )["Datapoints"]
        for dp in dps:
            b = (epoch(dp["Timestamp"]) - t0) // 60
            assert dp["SampleCount"] == DATUMS, f"{ns} batch {b} partly stored: {dp}"
            assert dp["Sum"] == sum(value(n, b, j) for j in range(DATUMS)), f"{ns} batch {b} mis-read"
            out.add((n, b))
    return out




def fsck(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(stratus_bin()), "fsck", "--data-dir", str(data_dir), *extra],
        capture_output=True, text=True, timeout=120, env=clean_env(),
    )


def start_fails(srv) -> str:
    try:
        srv.start()
    except RuntimeError as e:
        return str(e)
    raise AssertionError("the server started over a damaged WAL segment:\n" + srv.log_tail())


def test_mid_segment_damage_refuses_start_then_recovery_keeps_every_intact_record(make_server, tmp_path):
    srv = make_server()
    t0 = floor_to(time.time(), 60) - 60 * 60
    written = put_batches(srv.client(), t0, range(BATCHES))
    srv.kill()
    srv.start()  # the first segment is now an older one
    written += put_batches(srv.client(), t0, range(BATCHES, 2 * BATCHES))
    srv.kill()

    wal = srv.data_dir / "tsdb" / "wal"
    older = sorted(wal.glob("*.log"))[0]
    data = bytearray(older.read_bytes())
    frames = [r for r in wal_frames(bytes(data)) if r[1] > 24]  # the end marker is 24 bytes
    assert len(frames) == BATCHES * len(NAMESPACES), frames
    k = len(frames) // 2
    offset, length = frames[k]
    for i in range(offset + 30, offset + 38):
        data[i] ^= 0xFF
    older.write_bytes(bytes(data))
    lost = written[k]

    # Refused, named, nothing changed.
    log = start_fails(srv)
    assert older.name in log and f"byte offset {offset}" in log, log
    assert "--recover" in log, log
    assert older.read_bytes() == bytes(data)
    report = fsck(srv.data_dir)
    assert report.returncode == 1, report.stdout + report.stderr
    assert f"wal/{older.name}: damaged at byte offset {offset}" in report.stdout, report.stdout

    # recover = true in the config file: only the damaged record is skipped.
    config = tmp_path / "recover.toml"
    config.write_text("[server]\nrecover = true\n")
    srv.extra_env["STRATUS_CONFIG"] = str(config)
    srv.start()
    assert stored(srv.client(), t0) == set(written) - {lost}
    text = srv.log_tail(200)
    assert f"skipped damaged {length} bytes at byte offset {offset} of {older}" in text, text
    aside = sorted(wal.glob(f"{older.name}.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(data)
    assert srv.stop() == 0
    report = fsck(srv.data_dir)
    assert report.returncode == 0, report.stdout
    assert "kept aside" in report.stdout

    # The repaired store opens without recovery and keeps taking writes.
    del srv.extra_env["STRATUS_CONFIG"]
    srv.start()
    assert stored(srv.client(), t0) == set(written) - {lost}


def test_recover_flag_and_fsck_repair(make_server):
    srv = make_server()
    t0 = floor_to(time.time(), 60) - 60 * 60
    written = put_batches(srv.client(), t0, range(BATCHES))
    srv.kill()
    srv.start()
    written += put_batches(srv.client(), t0, range(BATCHES, 2 * BATCHES))
    srv.kill()
    older = sorted((srv.data_dir / "tsdb" / "wal").glob("*.log"))[0]
    data = bytearray(older.read_bytes())
    data[4] ^= 0x40  # the segment header: every record after it is intact
    older.write_bytes(bytes(data))

    assert f"{older.name} is damaged at byte offset 0" in start_fails(srv)
    # fsck --repair does what --recover does; nothing was lost.
    repaired = fsck(srv.data_dir, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert "skipped damaged 8 bytes at byte offset 0" in repaired.stdout, repaired.stdout
    srv.start()
    assert stored(srv.client(), t0) == set(written)
    srv.kill()

    # --recover on the command line, with a damaged last record of an older segment.
    data = bytearray(older.read_bytes())
    frames = [r for r in wal_frames(bytes(data)) if r[1] > 24]
    offset, _ = frames[-1]
    data[offset + 20] ^= 0x01
    older.write_bytes(bytes(data))
    assert older.name in start_fails(srv)
    srv.extra_args = ["--recover"]
    srv.start()
    assert stored(srv.client(), t0) == set(written) - {written[BATCHES * len(NAMESPACES) - 1]}


def test_damage_mid_newest_segment_is_not_taken_for_a_torn_tail(make_server):
    """The adversarial review's case: 8 flipped bytes in the middle of the segment a
    SIGKILL left behind used to start the server with the records before them only."""
    srv = make_server()
    t0 = floor_to(time.time(), 60) - 60 * 60
    written = put_batches(srv.client(), t0, range(BATCHES))
    srv.kill()
    newest = sorted((srv.data_dir / "tsdb" / "wal").glob("*.log"))[-1]
    data = bytearray(newest.read_bytes())
    frames = wal_frames(bytes(data))
    assert len(frames) == len(written)
    k = len(frames) // 2
    offset, _ = frames[k]
    for i in range(offset + 40, offset + 48):
        data[i] ^= 0xFF
    newest.write_bytes(bytes(data))

    log = start_fails(srv)
    assert f"{newest.name} is damaged at byte offset {offset}" in log, log
    assert newest.read_bytes() == bytes(data), "a refused start changed the segment"
    srv.extra_args = ["--recover"]
    srv.start()
    assert stored(srv.client(), t0) == set(written) - {written[k]}


def test_damaged_catalog_refuses_start_and_is_rebuilt_from_the_blocks(make_server):
    """The review's other case: 8 flipped bytes in tsdb/catalog.log used to rewrite the
    catalog without the damaged definitions and leave three of four namespaces empty."""
    srv = make_server()
    t0 = floor_to(time.time(), 60) - 60 * 60
    written = put_batches(srv.client(), t0, range(BATCHES))
    assert srv.stop() == 0  # a clean stop seals: blocks and catalog hold everything
    catalog = srv.data_dir / "tsdb" / "catalog.log"
    data = bytearray(catalog.read_bytes())
    assert len(data) > 64, len(data)
    mid = len(data) // 2
    for i in range(mid, mid + 8):
        data[i] ^= 0xFF
    catalog.write_bytes(bytes(data))

    log = start_fails(srv)
    assert "catalog.log" in log and "byte offset" in log, log
    assert catalog.read_bytes() == bytes(data), "a refused start rewrote the catalog"
    report = fsck(srv.data_dir)
    assert report.returncode == 1
    assert "catalog.log: damaged at byte offset" in report.stdout, report.stdout

    srv.extra_args = ["--recover"]
    srv.start()
    cw = srv.client()
    assert stored(cw, t0) == set(written)
    listed = {m["Namespace"] for m in cw.list_metrics()["Metrics"]}
    assert listed == set(NAMESPACES), listed
    assert "series definitions from the keys blocks carry" in srv.log_tail(200)
    aside = list(catalog.parent.glob("catalog.log.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(data)
    assert srv.stop() == 0
    assert fsck(srv.data_dir).returncode == 0


def test_damaged_block_refuses_start_and_recovery_sets_it_aside(make_server):
    srv = make_server()
    t0 = floor_to(time.time(), 60) - 60 * 60
    put_batches(srv.client(), t0, range(2))
    assert srv.stop() == 0
    (block,) = list((srv.data_dir / "tsdb" / "blocks").glob("*.blk"))
    data = bytearray(block.read_bytes())
    data[-10] ^= 0x01  # the index checksum in the footer
    block.write_bytes(bytes(data))

    log = start_fails(srv)
    assert f"block {block} is damaged" in log and "--recover" in log, log
    assert block.read_bytes() == bytes(data)
    srv.extra_args = ["--recover"]
    srv.start()
    assert "damaged block set aside" in srv.log_tail(200)
    assert not block.exists()
    (aside,) = list(block.parent.glob(f"{block.name}.damaged-*"))
    assert aside.read_bytes() == bytes(data)
