"""Properties of the running server process itself."""

from __future__ import annotations

from pathlib import Path


def test_server_runs_without_transparent_huge_pages(server):
    # mimalloc marks its arenas MADV_HUGEPAGE; the binary turns THP off for
    # itself (PR_SET_THP_DISABLE) so a first touch costs 4 KiB, not 2 MiB.
    status = Path(f"/proc/{server.proc.pid}/status").read_text()
    fields = dict(
        line.split(":", 1) for line in status.splitlines() if ":" in line
    )
    assert "THP_enabled" in fields, "kernel reports no THP_enabled line"
    assert fields["THP_enabled"].strip() == "0", status
