"""The log store's damage is never silent either: a WAL record damaged in the middle
stops `stratus server` with a message naming the file and pointing at `stratus fsck` /
`--recover`; `stratus fsck` names the file and exits 1; `stratus fsck --repair` skips only
the damaged record (keeping the original aside) and every other event comes back."""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path

from conftest import clean_env, stratus_bin
from logs_support import read_all, wal_frames

BATCHES = 10
PER_BATCH = 5


def fsck(data_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(stratus_bin()), "fsck", "--data-dir", str(data_dir), *extra],
        capture_output=True, text=True, timeout=120, env=clean_env(),
    )






def start_refused(srv) -> str:
    """Starts the server expecting it to exit; returns its log."""
    try:
        srv.start()  # may look ready: the listener is bound before the stores open
    except RuntimeError as e:
        return str(e)
    deadline = time.monotonic() + 30
    while srv.running() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not srv.running(), "the server started over a damaged log WAL:\n" + srv.log_tail()
    return srv.log_tail(200)


def test_a_damaged_wal_record_refuses_start_and_fsck_repair_keeps_every_other_event(make_server):
    srv = make_server()
    logs = srv.client("logs")
    group = f"rec-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t0 = int(time.time() * 1000) - 60_000
    sent: list[list[str]] = []
    for b in range(BATCHES):
        events = [{"timestamp": t0 + b * 100 + i, "message": f"batch-{b:02d}-event-{i}"} for i in range(PER_BATCH)]
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
        sent.append([e["message"] for e in events])
    assert read_all(logs, group, "s") == [m for batch in sent for m in batch]
    assert srv.stop() == 0

    # Damage batch 4's record, in the middle of the WAL.
    victim, offset, length = None, None, None
    for seg in sorted((srv.data_dir / "logs" / "wal").glob("*.log")):
        data = seg.read_bytes()
        for off, n in wal_frames(data):
            if b"batch-04-event-0" in data[off:off + n]:
                victim, offset, length = seg, off, n
    assert victim is not None, "no WAL record holds batch 4"
    data = bytearray(victim.read_bytes())
    assert offset + length < len(data), "batch 4 is not the last record"
    for i in range(offset + 12 + length // 3, offset + 12 + length // 3 + 4):
        data[i] ^= 0xFF
    victim.write_bytes(bytes(data))

    # Refused with the way out; nothing changed.
    log = start_refused(srv)
    assert victim.name in log and f"offset {offset}" in log, log
    assert f"stratus fsck --data-dir {srv.data_dir}" in log and "--recover" in log, log
    assert victim.read_bytes() == bytes(data)

    report = fsck(srv.data_dir)
    assert report.returncode == 1, report.stdout + report.stderr
    assert f"logs/wal/{victim.name}: damaged at byte offset {offset}" in report.stdout, report.stdout

    repaired = fsck(srv.data_dir, "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert f"skipped {length} damaged bytes" in repaired.stdout, repaired.stdout
    aside = sorted(victim.parent.glob(f"{victim.name}.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == bytes(data)

    srv.start()
    want = [m for b, batch in enumerate(sent) if b != 4 for m in batch]
    assert read_all(srv.client("logs"), group, "s") == want
