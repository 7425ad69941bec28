"""A damaged meta.redb: the real server either starts with every acknowledged alarm and topic
back, or refuses to start with a message naming meta.redb — never on an older state.

Alarms and topics are created with boto3, the server is stopped (cleanly, or with kill -9),
and for each of many offsets a copy of the data dir gets one damaged byte in meta.redb.
`--recover-meta` (STRATUS_RECOVER_META) then starts on a refused copy and keeps the damaged file beside it.
"""

from __future__ import annotations

import shutil

import pytest

from conftest import StratusServer


def snapshot(srv: StratusServer) -> tuple[dict, set[str]]:
    cw, sns = srv.client("cloudwatch"), srv.client("sns")
    alarms = {
        a["AlarmName"]: (a["Threshold"], a.get("AlarmDescription"))
        for page in cw.get_paginator("describe_alarms").paginate()
        for a in page["MetricAlarms"]
    }
    topics = {t["TopicArn"] for t in sns.list_topics()["Topics"]}
    return alarms, topics


def populate(srv: StratusServer) -> None:
    cw, sns = srv.client("cloudwatch"), srv.client("sns")
    for i in range(25):
        cw.put_metric_alarm(
            AlarmName=f"damage-{i:02}",
            AlarmDescription="d" * 100,
            Namespace="Damage",
            MetricName="m",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=float(i),
            ComparisonOperator="GreaterThanThreshold",
        )
    for i in range(8):
        sns.create_topic(Name=f"damage-{i}")
    # Later commits change earlier records, so an older commit would show.
    for i in range(0, 25, 4):
        cw.put_metric_alarm(
            AlarmName=f"damage-{i:02}",
            AlarmDescription="updated",
            Namespace="Damage",
            MetricName="m",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1000.0 + i,
            ComparisonOperator="GreaterThanThreshold",
        )
    cw.delete_alarms(AlarmNames=["damage-03"])


def start_or_refusal(data_dir, env: dict[str, str] | None = None) -> tuple[StratusServer | None, str]:
    """Starts a server on `data_dir`: the running server, or None and its output when it refused."""
    srv = StratusServer(data_dir, env=env)
    try:
        srv.start()
    except RuntimeError as e:
        return None, str(e)
    return srv, ""


@pytest.mark.parametrize("stop", ["clean", "kill"])
def test_damaged_meta_is_refused_or_harmless(tmp_path, stop):
    pristine = tmp_path / "pristine"
    srv = StratusServer(pristine)
    srv.start()
    populate(srv)
    expected = snapshot(srv)
    srv.kill() if stop == "kill" else srv.stop()

    size = (pristine / "meta.redb").stat().st_size
    offsets = list(range(0, 64, 7)) + list(range(64, size, max(size // 24, 1)))
    outcomes = {"harmless": 0, "refused": 0}
    refused_dirs = []
    for n, offset in enumerate(offsets):
        data = tmp_path / f"damaged-{n}"
        shutil.copytree(pristine, data)
        with open(data / "meta.redb", "r+b") as f:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0x5A]))
        srv, refusal = start_or_refusal(data)
        if srv is None:
            assert "meta.redb" in refusal and "--recover-meta" in refusal, (offset, refusal)
            outcomes["refused"] += 1
            if offset >= 4096:  # a damaged page rather than the file header
                refused_dirs.append(data)
            continue
        try:
            assert snapshot(srv) == expected, f"offset {offset}: started, but not as acknowledged"
        finally:
            srv.kill()
        outcomes["harmless"] += 1
        shutil.rmtree(data)
    assert outcomes["refused"] > 0 and refused_dirs, outcomes

    # The way out, best effort: --recover-meta starts, keeping the damaged file beside the
    # repaired (or salvaged) one, or says that only a backup helps.
    recovered = 0
    for data in refused_dirs:
        srv, refusal = start_or_refusal(data, {"STRATUS_RECOVER_META": "true"})
        if srv is None:
            assert "meta.redb" in refusal and "restore it from a backup" in refusal, refusal
            continue
        try:
            assert len(list(data.glob("meta.redb.damaged-*"))) == 1
            srv.client("sns").create_topic(Name="after-recovery")
        finally:
            srv.stop()
        # Recovered: it starts normally again.
        srv, refusal = start_or_refusal(data)
        assert srv is not None, refusal
        srv.stop()
        recovered += 1
    assert recovered > 0, f"--recover-meta recovered none of {len(refused_dirs)}"
