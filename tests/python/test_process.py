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


def test_server_raises_its_open_file_limit_to_the_hard_limit(make_server):
    # Started under a soft limit of 256: agents keep connections open, so a
    # hand-started server must not stay at a low soft limit.
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        srv = make_server()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    limits = Path(f"/proc/{srv.proc.pid}/limits").read_text()
    line = next(l for l in limits.splitlines() if l.startswith("Max open files"))
    fields = line.split()
    want = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
    assert fields[3] == want, line
