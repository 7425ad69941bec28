"""`stratus up` on a journald-only host: the journal's text export lands in log group
`system`. Real journalctl over real journal files written by systemd-journal-remote
(STRATUS_JOURNAL_DIR points `up`'s journalctl at them; STRATUS_UP_SYSTEM_LOG=journal picks
the journal even where /var/log/syslog exists). Entries from before the first start are not
exported; entries appended later (to the same file and to a new one) arrive as syslog-shaped
lines; a restarted `up` resumes after its saved cursor without repeating anything."""

from __future__ import annotations

import os
import shutil
import signal
import struct
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import wait_for
from test_agent_up import Up, agent_children

JOURNAL_REMOTE = Path("/lib/systemd/systemd-journal-remote")
BOOT_ID = uuid.uuid4().hex

pytestmark = pytest.mark.skipif(
    not JOURNAL_REMOTE.exists() or shutil.which("journalctl") is None,
    reason="needs journalctl and systemd-journal-remote (apt-get install systemd-journal-remote)",
)


def export_field(name: str, value: bytes) -> bytes:
    """One field in journal export format (binary form when the value has a newline)."""
    if b"\n" in value:
        return name.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
    return name.encode() + b"=" + value + b"\n"


def write_journal(journal_file: Path, entries: list[dict[str, bytes | str]], at_us: int | None = None) -> None:
    """Appends entries to a journal file (created if missing) with systemd-journal-remote."""
    stream = b""
    for i, fields in enumerate(entries):
        t = (at_us if at_us is not None else time.time_ns() // 1000) + i
        # One boot: journalctl orders its entries by the monotonic clock, so it rises too.
        stream += export_field("__REALTIME_TIMESTAMP", str(t).encode())
        stream += export_field("__MONOTONIC_TIMESTAMP", str(t).encode())
        stream += export_field("_BOOT_ID", BOOT_ID.encode())
        for k, v in fields.items():
            stream += export_field(k, v.encode() if isinstance(v, str) else v)
        stream += b"\n"
    cp = subprocess.run([str(JOURNAL_REMOTE), f"--output={journal_file}", "-"], input=stream,
                        capture_output=True, timeout=30)
    assert cp.returncode == 0, cp.stderr.decode(errors="replace")


def entry(ident: str, pid: int, message: str | bytes) -> dict[str, bytes | str]:
    return {"_HOSTNAME": "jhost", "SYSLOG_IDENTIFIER": ident, "_PID": str(pid), "MESSAGE": message}


def system_events(up: Up) -> list[str]:
    logs = up.client("logs")
    try:
        pages = logs.get_paginator("filter_log_events").paginate(logGroupName="system")
        return [e["message"] for page in pages for e in page["events"]]
    except logs.exceptions.ResourceNotFoundException:
        return []


def stop_all(up: Up) -> None:
    up.kill()
    for p in agent_children(up.data_dir / "agent.json"):
        os.kill(p, signal.SIGKILL)


def journalctls(jdir: Path) -> list[int]:
    """Pids of journalctl processes reading `jdir`."""
    pids = []
    for d in Path("/proc").iterdir():
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0") if d.name.isdigit() else []
        except OSError:
            continue
        if argv and argv[0].endswith(b"journalctl") and f"--directory={jdir}".encode() in argv:
            pids.append(int(d.name))
    return pids


def test_up_exports_the_journal_into_group_system(tmp_path, monkeypatch):
    jdir = tmp_path / "journal-files"
    jdir.mkdir()
    first = jdir / "a.journal"
    # History from before `up` first ran: never exported.
    write_journal(first, [entry("oldapp", 9, "from-history")], at_us=time.time_ns() // 1000 - 3600 * 10**6)

    # `Up` starts `stratus up` with this process's environment (less AWS_*).
    monkeypatch.setenv("STRATUS_JOURNAL_DIR", str(jdir))
    monkeypatch.setenv("STRATUS_UP_SYSTEM_LOG", "journal")
    up = Up(tmp_path)
    try:
        up.start()
        export = up.data_dir / "journal" / "system.log"

        # The agent's first scan may come after the first lines: markers until one arrives.
        n = 0

        def a_marker_arrived():
            nonlocal n
            if any("marker-" in m for m in system_events(up)):
                return True
            n += 1
            write_journal(first, [entry("marker", 1, f"marker-{n}")])
            return False

        wait_for(a_marker_arrived, timeout=120, interval=3, what="a journal entry in group system")

        # Appended to the same file: a plain line, a multi-line one, one that is not UTF-8.
        write_journal(first, [
            entry("sshd", 811, "Accepted publickey for ops"),
            entry("app", 22, "line one\nline two"),
            entry("bin", 33, b"caf\xe9 \xff"),
        ])
        want_a = [
            "jhost sshd[811]: Accepted publickey for ops",
            "jhost app[22]: line one#012line two",
            "jhost bin[33]: caf\ufffd \ufffd",
        ]
        wait_for(lambda: all(any(m.endswith(" " + w) for m in system_events(up)) for w in want_a),
                 timeout=90, interval=1, what=f"{want_a} in group system")
        (sshd,) = [m for m in system_events(up) if m.endswith("sshd[811]: Accepted publickey for ops")]
        # rsyslog's shape: ISO time with microseconds and the zone's offset first.
        stamp = sshd.split(" ", 1)[0]
        assert len(stamp) == len("2026-12-07T09:49:27.123456+00:00") and stamp[10] == "T" and stamp[19] == ".", sshd

        # A second journal file in the directory is followed too.
        write_journal(jdir / "b.journal", [entry("cron", 44, "second file entry")])
        wait_for(lambda: any(m.endswith("jhost cron[44]: second file entry") for m in system_events(up)),
                 timeout=90, interval=1, what="the second file's entry")

        # Restart: resumes after the saved cursor. An entry written while `up` is down arrives.
        cursor_before = (up.data_dir / "journal" / "cursor").read_text()
        assert "s=" in cursor_before and ";i=" in cursor_before, cursor_before
        assert up.stop() == 0, up.out.read_text()[-3000:]
        write_journal(jdir / "b.journal", [entry("cron", 45, "while up was down")])
        up.start()
        write_journal(first, [entry("sshd", 812, "after the restart")])
        wait_for(lambda: all(any(m.endswith(w) for m in system_events(up))
                             for w in ("cron[45]: while up was down", "sshd[812]: after the restart")),
                 timeout=120, interval=1, what="entries written around the restart")

        events = system_events(up)
        assert not any("from-history" in m for m in events), events
        repeated = {m for m in events if events.count(m) > 1}
        assert not repeated, repeated
        lines = export.read_text().splitlines()
        assert len(lines) == len(set(lines)), "the export file repeats lines"
        assert not any("from-history" in l for l in lines)
        assert len(journalctls(jdir)) == 1, journalctls(jdir)
        assert up.stop() == 0
        time.sleep(0.2)
        assert agent_children(up.data_dir / "agent.json") == []
        assert journalctls(jdir) == [], "journalctl outlived `up`"
    finally:
        stop_all(up)
        for p in journalctls(jdir):
            os.kill(p, signal.SIGKILL)
