"""A full disk, for real: the server's data dir is a small tmpfs that the test fills.

While it is full, PutMetricData, PutMetricAlarm and CreateTopic are refused with a 5xx
`ServiceUnavailable` and nothing of them shows (GetMetricStatistics, ListMetrics,
DescribeAlarms, ListTopics). Once the filler is removed, the very next requests succeed —
no restart — and after a `kill -9` and a restart exactly the acknowledged data is there.

Needs `mount` (tests run as root, in CI too); where that is not permitted the test fails
loudly instead of skipping.
"""

from __future__ import annotations

import errno
import subprocess
import time
from pathlib import Path

import botocore.exceptions
import pytest

from conftest import StratusServer, _RUNNING
from expect import floor_to, utc

DISK_SIZE = "8m"


class SmallDisk:
    def __init__(self, path: Path):
        self.path = path
        path.mkdir(parents=True)
        cp = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={DISK_SIZE}", "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if cp.returncode != 0:
            pytest.fail(f"mounting a tmpfs failed (these tests need root, as in CI): {cp.stderr}")

    @property
    def filler(self) -> Path:
        return self.path / "filler"

    def fill(self) -> None:
        with open(self.filler, "wb", buffering=0) as f:
            for chunk in (b"\xaa" * 65536, b"\xaa" * 4096, b"\xaa"):
                while True:
                    try:
                        f.write(chunk)
                    except OSError as e:
                        assert e.errno == errno.ENOSPC, e
                        break
        with pytest.raises(OSError):
            (self.path / "probe").write_bytes(b"x" * 4096)

    def free(self) -> None:
        self.filler.unlink()
        (self.path / "probe").unlink(missing_ok=True)

    def unmount(self) -> None:
        subprocess.run(["umount", str(self.path)], check=False)


@pytest.fixture
def disk(tmp_path):
    d = SmallDisk(tmp_path / "disk")
    yield d
    d.unmount()


@pytest.fixture
def full_disk_server(disk):
    # The data dir is the mount itself, so the server log (beside it) stays off the small disk.
    srv = StratusServer(disk.path)
    srv.start()
    yield srv
    srv.kill()
    if srv in _RUNNING:
        _RUNNING.remove(srv)


def datums(metric: str, minute: int, n: int, base: float) -> list[dict]:
    return [
        {"MetricName": metric, "Timestamp": utc(minute + i % 60), "Value": base + i}
        for i in range(n)
    ]


def minutes(cw, ns: str, metric: str, t0: int) -> dict[int, tuple[float, float]]:
    """SampleCount and Sum per minute over the test's three minutes."""
    r = cw.get_metric_statistics(
        Namespace=ns,
        MetricName=metric,
        StartTime=utc(t0),
        EndTime=utc(t0 + 180),
        Period=60,
        Statistics=["SampleCount", "Sum"],
    )
    return {int(d["Timestamp"].timestamp()): (d["SampleCount"], d["Sum"]) for d in r["Datapoints"]}


def listed(cw, ns: str) -> set[str]:
    return {m["MetricName"] for m in cw.list_metrics(Namespace=ns)["Metrics"]}


def assert_unavailable(exc: pytest.ExceptionInfo) -> None:
    err = exc.value.response
    assert err["Error"]["Code"] == "ServiceUnavailable", err
    assert err["ResponseMetadata"]["HTTPStatusCode"] >= 500, err


def put_alarm(cw, ns: str, name: str) -> None:
    cw.put_metric_alarm(
        AlarmName=name,
        Namespace=ns,
        MetricName="kept",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1e12,
        ComparisonOperator="GreaterThanThreshold",
    )


def alarm_names(cw, ns: str) -> set[str]:
    names = set()
    for page in cw.get_paginator("describe_alarms").paginate(AlarmNamePrefix=ns):
        names |= {a["AlarmName"] for a in page["MetricAlarms"]}
    return names


def topic_names(sns) -> set[str]:
    return {t["TopicArn"].rsplit(":", 1)[1] for t in sns.list_topics()["Topics"]}


def test_full_disk_refuses_then_recovers_without_restart(disk, full_disk_server, ns):
    srv = full_disk_server
    cw, sns = srv.client("cloudwatch"), srv.client("sns")
    t0 = floor_to(time.time() - 1800, 60)
    a, b, c = t0, t0 + 60, t0 + 120

    cw.put_metric_data(Namespace=ns, MetricData=datums("kept", a, 100, 1.0))
    put_alarm(cw, ns, f"{ns}-before")
    sns.create_topic(Name="before")

    disk.fill()
    # Big enough to need fresh pages in the WAL: refused on a full disk.
    refused = datums("kept", b, 500, 1000.0) + datums("refused-only", b, 500, 1.0)
    for _ in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as exc:
            cw.put_metric_data(Namespace=ns, MetricData=refused)
        assert_unavailable(exc)
        # Nothing of the refused batch is visible: not its datapoints, not its new metric.
        assert minutes(cw, ns, "kept", t0) == {a: (100.0, sum(1.0 + i for i in range(100)))}
        assert minutes(cw, ns, "refused-only", t0) == {}
        assert listed(cw, ns) == {"kept"}

    # The metadata store is refused too (a few writes may still fit in its pages).
    acked_alarms = {f"{ns}-before"}
    for i in range(200):
        name = f"{ns}-full-{i}"
        try:
            put_alarm(cw, ns, name)
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "ServiceUnavailable", e.response
            refused_alarm = name
            break
        acked_alarms.add(name)
    else:
        pytest.fail("PutMetricAlarm never failed on a full disk")
    assert alarm_names(cw, ns) == acked_alarms
    acked_topics = {"before"}
    for i in range(200):
        try:
            sns.create_topic(Name=f"full-{i}")
        except botocore.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "ServiceUnavailable", e.response
            break
        acked_topics.add(f"full-{i}")
    else:
        pytest.fail("CreateTopic never failed on a full disk")
    assert topic_names(sns) == acked_topics

    disk.free()
    # No restart: the next requests succeed.
    cw.put_metric_data(Namespace=ns, MetricData=datums("kept", c, 10, 5000.0))
    put_alarm(cw, ns, refused_alarm)
    acked_alarms.add(refused_alarm)
    sns.create_topic(Name="after")
    acked_topics.add("after")
    expected = {
        a: (100.0, sum(1.0 + i for i in range(100))),
        c: (10.0, sum(5000.0 + i for i in range(10))),
    }
    assert minutes(cw, ns, "kept", t0) == expected
    assert listed(cw, ns) == {"kept"}

    # kill -9 and restart: exactly what was acknowledged.
    srv.restart(kill=True)
    cw, sns = srv.client("cloudwatch"), srv.client("sns")
    assert minutes(cw, ns, "kept", t0) == expected
    assert minutes(cw, ns, "refused-only", t0) == {}
    assert listed(cw, ns) == {"kept"}
    assert alarm_names(cw, ns) == acked_alarms
    assert topic_names(sns) == acked_topics
