"""The AWS CLI (v1, current: awsJson1_0) exactly as the README shows it:
`aws --endpoint-url ... --profile stratus cloudwatch ...` with the server's own
credentials and config files."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import clean_env
from expect import Slot, floor_to, utc

AWS = Path(sys.executable).parent / "aws"


def aws(server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = clean_env(
        AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
        AWS_CONFIG_FILE=str(server.config_file),
        AWS_MAX_ATTEMPTS="1",
    )
    cmd = [str(AWS), "--endpoint-url", server.endpoint, "--profile", "stratus", "cloudwatch", *args]
    cp = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if check and cp.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}")
    return cp


def cli_time(v) -> int:
    """AWS CLI v1 prints timestamps as they came off the wire: epoch numbers (JSON) or ISO text."""
    if isinstance(v, (int, float)):
        return int(v)
    return int(dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp())


def iso(t: float) -> str:
    return utc(t).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture(scope="module", autouse=True)
def _aws_cli_present():
    if not AWS.exists():
        pytest.fail(f"AWS CLI not installed in this venv ({AWS}); scripts/test installs it")


def test_put_list_and_statistics(server):
    t0 = floor_to(time.time(), 60) - 600
    values = {t0 + 1: 51.5, t0 + 20: 48.0, t0 + 40: 60.25, t0 + 60: 70.0, t0 + 61: 10.0}
    # The README's command (no timestamp: "now") ...
    aws(server, "put-metric-data", "--namespace", "CWAgent", "--metric-name", "disk_used_percent",
        "--dimensions", "path=/,InstanceId=i-1", "--value", "51.5", "--unit", "Percent")
    # ... and timestamped points whose statistics we know.
    for t, v in values.items():
        aws(server, "put-metric-data", "--namespace", "CWAgent", "--metric-name", "disk_used_percent",
            "--dimensions", "path=/,InstanceId=i-1", "--value", str(v), "--unit", "Percent", "--timestamp", iso(t))

    listed = json.loads(aws(server, "list-metrics", "--namespace", "CWAgent").stdout)
    assert len(listed["Metrics"]) == 1
    m = listed["Metrics"][0]
    assert m["MetricName"] == "disk_used_percent" and m["Namespace"] == "CWAgent"
    assert {(d["Name"], d["Value"]) for d in m["Dimensions"]} == {("path", "/"), ("InstanceId", "i-1")}

    out = json.loads(
        aws(server, "get-metric-statistics", "--namespace", "CWAgent", "--metric-name", "disk_used_percent",
            "--dimensions", "Name=path,Value=/", "Name=InstanceId,Value=i-1",
            "--start-time", iso(t0), "--end-time", iso(t0 + 120), "--period", "60",
            "--statistics", "Average", "Maximum", "--extended-statistics", "p90").stdout
    )
    assert out["Label"] == "disk_used_percent"
    slots: dict[int, Slot] = {}
    for t, v in values.items():
        slots.setdefault(floor_to(t, 60), Slot()).add_value(v)
    got = {cli_time(dp["Timestamp"]): dp for dp in out["Datapoints"]}
    assert sorted(got) == sorted(slots)
    for t, slot in slots.items():
        dp = got[t]
        assert math.isclose(dp["Average"], slot.average)
        assert dp["Maximum"] == slot.maximum
        assert dp["ExtendedStatistics"]["p90"] == slot.percentile("p90")
        assert dp["Unit"] == "Percent"
        assert "Sum" not in dp and "SampleCount" not in dp

    text = aws(server, "list-metrics", "--namespace", "CWAgent", "--output", "text").stdout
    assert "disk_used_percent" in text


def test_bad_unit_is_validation_error(server):
    cp = aws(server, "put-metric-data", "--namespace", "CWAgent", "--metric-name", "m",
             "--value", "1", "--unit", "Furlongs", check=False)
    assert cp.returncode != 0
    assert "ValidationError" in cp.stderr, cp.stderr


def test_start_after_end_is_invalid_parameter_value(server):
    t = floor_to(time.time(), 60)
    cp = aws(server, "get-metric-statistics", "--namespace", "CWAgent", "--metric-name", "disk_used_percent",
             "--start-time", iso(t), "--end-time", iso(t - 3600), "--period", "60",
             "--statistics", "Average", check=False)
    assert cp.returncode != 0
    assert "InvalidParameterValue" in cp.stderr, cp.stderr


def test_value_and_statistic_values_is_invalid_combination(server):
    cp = aws(server, "put-metric-data", "--namespace", "CWAgent", "--metric-name", "m", "--value", "1",
             "--statistic-values", "SampleCount=1,Sum=1,Minimum=1,Maximum=1", check=False)
    assert cp.returncode != 0
    assert "InvalidParameterCombination" in cp.stderr, cp.stderr

