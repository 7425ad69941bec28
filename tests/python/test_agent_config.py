"""`stratus agent --check-config`: a valid stock config is accepted and its metrics listed;
each broken config is refused (non-zero exit) with a message naming the JSON path of the
offending key. No server needed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import clean_env, closed_port_endpoint, stratus_bin

GOOD = {
    "agent": {"metrics_collection_interval": 60},
    "metrics": {
        "endpoint_override": "http://127.0.0.1:4566",
        "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
        "metrics_collected": {
            "disk": {"measurement": ["used_percent"], "resources": ["/"]},
            "mem": {"measurement": ["mem_used_percent"]},
        },
    },
}


def agent_env(**extra: str) -> dict[str, str]:
    # Off EC2 as far as the agent can tell, without waiting for 169.254.169.254 to time out.
    return clean_env(STRATUS_IMDS_ENDPOINT=closed_port_endpoint(), **extra)


def check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "amazon-cloudwatch-agent.json"
    path.write_text(text)
    return run_check(path)


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(stratus_bin()), "agent", "--check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=agent_env(),
    )


def with_changes(change) -> str:
    c = json.loads(json.dumps(GOOD))
    change(c)
    return json.dumps(c)


def test_valid_config_lists_the_metrics(tmp_path):
    cp = check_config(tmp_path, json.dumps(GOOD))
    assert cp.returncode == 0, cp.stdout + cp.stderr
    out = cp.stdout
    assert "disk_used_percent" in out and "mem_used_percent" in out, out
    assert "Percent" in out, out


def _set(path: list, value):
    def change(c):
        node = c
        for k in path[:-1]:
            node = node.setdefault(k, {})
        node[path[-1]] = value

    return change


def _delete(path: list):
    def change(c):
        node = c
        for k in path[:-1]:
            node = node[k]
        del node[path[-1]]

    return change


# (id, config text, substrings the error must contain: the JSON path or the key it names)
BROKEN = [
    ("unknown-top-level-key", with_changes(_set(["bogus"], 1)), ["bogus"]),
    (
        "typo-in-agent-key",
        with_changes(_set(["agent", "metrics_colection_interval"], 60)),
        ["agent", "metrics_colection_interval"],
    ),
    (
        "interval-wrong-type",
        with_changes(_set(["agent", "metrics_collection_interval"], "60")),
        ["agent.metrics_collection_interval"],
    ),
    (
        "interval-zero",
        with_changes(_set(["metrics", "metrics_collected", "disk", "metrics_collection_interval"], 0)),
        ["metrics.metrics_collected.disk.metrics_collection_interval"],
    ),
    (
        "unknown-measurement",
        with_changes(_set(["metrics", "metrics_collected", "disk", "measurement"], ["used_percent", "used_percentage"])),
        ["metrics.metrics_collected.disk.measurement[1]", "used_percentage"],
    ),
    (
        "measurement-of-another-plugin",
        with_changes(_set(["metrics", "metrics_collected", "mem", "measurement"], ["disk_used_percent"])),
        ["metrics.metrics_collected.mem.measurement[0]"],
    ),
    (
        "measurement-object-unknown-key",
        with_changes(
            _set(["metrics", "metrics_collected", "disk", "measurement"], [{"name": "used_percent", "renam": "X"}])
        ),
        ["metrics.metrics_collected.disk.measurement[0]", "renam"],
    ),
    (
        "measurement-bad-unit",
        with_changes(
            _set(["metrics", "metrics_collected", "disk", "measurement"], [{"name": "used_percent", "unit": "Percents"}])
        ),
        ["metrics.metrics_collected.disk.measurement[0]", "Percents"],
    ),
    (
        "measurement-not-a-list",
        with_changes(_set(["metrics", "metrics_collected", "disk", "measurement"], "used_percent")),
        ["metrics.metrics_collected.disk.measurement"],
    ),
    (
        "unsupported-plugin",
        with_changes(_set(["metrics", "metrics_collected", "nvidia_gpu"], {"measurement": ["utilization_gpu"]})),
        ["metrics.metrics_collected.nvidia_gpu"],
    ),
    (
        "unknown-plugin",
        with_changes(_set(["metrics", "metrics_collected", "diskk"], {"measurement": ["used_percent"]})),
        ["metrics.metrics_collected", "diskk"],
    ),
    (
        "no-metrics-collected",
        with_changes(_delete(["metrics", "metrics_collected"])),
        ["metrics", "metrics_collected"],
    ),
    (
        "unknown-placeholder",
        with_changes(_set(["metrics", "append_dimensions", "InstanceId"], "${aws:InstanceID}")),
        ["metrics.append_dimensions", "InstanceID"],
    ),
    (
        "cpu-resources-not-star",
        with_changes(_set(["metrics", "metrics_collected", "cpu"], {"measurement": ["usage_idle"], "resources": ["cpu0"]})),
        ["metrics.metrics_collected.cpu.resources"],
    ),
    (
        "procstat-without-selector",
        with_changes(_set(["metrics", "metrics_collected", "procstat"], [{"measurement": ["cpu_usage"]}])),
        ["metrics.metrics_collected.procstat[0]"],
    ),
    (
        "negative-flush-interval",
        with_changes(_set(["metrics", "force_flush_interval"], -5)),
        ["metrics.force_flush_interval"],
    ),
    (
        "endpoint-not-a-url",
        with_changes(_set(["metrics", "endpoint_override"], "stratus.internal")),
        ["metrics.endpoint_override"],
    ),
    (
        "disk-drop-device-wrong-type",
        with_changes(_set(["metrics", "metrics_collected", "disk", "drop_device"], "yes")),
        ["metrics.metrics_collected.disk.drop_device"],
    ),
]


@pytest.mark.parametrize("text,expected", [(t, e) for _, t, e in BROKEN], ids=[i for i, _, _ in BROKEN])
def test_broken_config_is_refused_naming_the_path(tmp_path, text, expected):
    cp = check_config(tmp_path, text)
    out = cp.stdout + cp.stderr
    assert cp.returncode != 0, f"accepted a broken config:\n{text}\n{out}"
    for s in expected:
        assert s in out, f"error does not name {s!r}:\n{out}"
    assert "panicked" not in out, out


def test_not_json_is_refused(tmp_path):
    cp = check_config(tmp_path, '{"agent": {"metrics_collection_interval": 60,}')
    assert cp.returncode != 0
    assert "JSON" in (cp.stdout + cp.stderr), cp.stdout + cp.stderr


def test_missing_config_file_is_refused(tmp_path):
    missing = tmp_path / "nope.json"
    cp = run_check(missing)
    assert cp.returncode != 0
    assert str(missing) in cp.stdout + cp.stderr


def test_agent_refuses_to_start_on_a_broken_config(tmp_path):
    """`stratus agent --config` (not only --check-config) refuses at start, naming the path."""
    path = tmp_path / "agent.json"
    path.write_text(with_changes(_set(["metrics", "metrics_collected", "disk", "measurement"], ["nope"])))
    cp = subprocess.run(
        [str(stratus_bin()), "agent", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=agent_env(AWS_ACCESS_KEY_ID="AKIAEXAMPLE", AWS_SECRET_ACCESS_KEY="secret"),
    )
    assert cp.returncode != 0
    assert "metrics.metrics_collected.disk.measurement[0]" in cp.stdout + cp.stderr


def test_packaged_example_config_is_valid():
    """packaging/amazon-cloudwatch-agent.json (installed as /etc/stratus/...) passes the check."""
    example = Path(__file__).resolve().parents[2] / "packaging" / "amazon-cloudwatch-agent.json"
    cp = run_check(example)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert "disk_used_percent" in cp.stdout
