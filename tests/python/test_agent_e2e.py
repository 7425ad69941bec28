"""The DESIGN §1 story, end to end: the stock agent's JSON (verbatim, plus where the server
is and short intervals) → a real `stratus agent` → a real `stratus server` → boto3.

The agent publishes `CWAgent / disk_used_percent` with dimensions exactly
`InstanceId, device, fstype, path`, Unit Percent, and the value `df /` shows
(used / (used + available)). InstanceId comes from a fake IMDSv2 on 127.0.0.1 in one
test; with no IMDS it comes from the config's `instance_id` or the machine id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import socket
import subprocess
import time
import uuid
from pathlib import Path

import botocore.exceptions
import pytest

from conftest import closed_port_endpoint, create_agent_key, wait_for

# DESIGN.md §1, step 2, character for character.
STORY_CONFIG = (
    '{"agent":{"metrics_collection_interval":3600},"metrics":{"append_dimensions":'
    '{"InstanceId":"${aws:InstanceId}"},"metrics_collected":{"disk":{"measurement":'
    '["used_percent"],"metrics_collection_interval":3600,"resources":["/"]}}}}'
)
INTERVAL_S = 1


def story_config(endpoint: str, workdir: Path, **agent_extra) -> dict:
    """The story config with the server's endpoint, 1 s intervals, and the log and spool
    in the test's directory."""
    c = json.loads(STORY_CONFIG)
    c["agent"]["metrics_collection_interval"] = INTERVAL_S
    c["metrics"]["metrics_collected"]["disk"]["metrics_collection_interval"] = INTERVAL_S
    c["metrics"]["endpoint_override"] = endpoint
    c["metrics"]["force_flush_interval"] = INTERVAL_S
    c["agent"]["logfile"] = str(workdir / "agent.log")
    c["agent"]["spool_dir"] = str(workdir / "spool")
    c["agent"].update(agent_extra)
    return c


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)


def df_used_percent(path: str = "/") -> float:
    """What `df` shows as Use%, unrounded: used / (used + available)."""
    out = subprocess.run(
        ["df", "-B1", "--output=used,avail", path], capture_output=True, text=True, check=True
    ).stdout.split()
    used, avail = int(out[-2]), int(out[-1])
    return 100.0 * used / (used + avail)


def root_mount() -> tuple[str, str]:
    """(device, fstype) of `/` as the agent reports them: the last `/` entry of
    /proc/self/mounts, `/dev/` stripped from the device (the stock agent's rule)."""
    dev = fstype = None
    for line in Path("/proc/self/mounts").read_text().splitlines():
        f = line.split()
        if len(f) >= 3 and f[1] == "/":
            dev, fstype = f[0], f[2]
    assert dev and fstype, "no / in /proc/self/mounts"
    return dev.removeprefix("/dev/"), fstype


def disk_metrics(cw, instance_id: str) -> list[dict]:
    return cw.list_metrics(
        Namespace="CWAgent",
        MetricName="disk_used_percent",
        Dimensions=[{"Name": "InstanceId", "Value": instance_id}],
    )["Metrics"]


def assert_story_metric(cw, instance_id: str) -> dict:
    """Waits for the agent's disk_used_percent and checks its identity. Returns its dimensions."""
    metrics = wait_for(lambda: disk_metrics(cw, instance_id), timeout=30, what="disk_used_percent")
    assert len(metrics) == 1, metrics
    m = metrics[0]
    assert m["Namespace"] == "CWAgent"
    dims = {d["Name"]: d["Value"] for d in m["Dimensions"]}
    assert sorted(dims) == ["InstanceId", "device", "fstype", "path"], dims
    device, fstype = root_mount()
    assert dims == {"InstanceId": instance_id, "device": device, "fstype": fstype, "path": "/"}
    return dims


def assert_value_matches_df(cw, dims: dict) -> None:
    """Every datapoint the agent collected while we watched `df` lies within 0.1 of what
    `df /` showed (other processes write to the disk meanwhile, hence the window)."""
    t0 = time.time()
    readings = [df_used_percent()]
    while time.time() < t0 + 4 * INTERVAL_S + 1:
        time.sleep(0.2)
        readings.append(df_used_percent())
    t1 = time.time()
    lo, hi = min(readings), max(readings)

    def points():
        return cw.get_metric_statistics(
            Namespace="CWAgent",
            MetricName="disk_used_percent",
            Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
            StartTime=utc(int(t0) + 1),
            EndTime=utc(int(t1)),
            Period=1,
            Statistics=["Average", "Minimum", "Maximum", "SampleCount"],
        )["Datapoints"]

    # The window's datapoints arrive within a flush interval or two.
    dps = wait_for(lambda: len(points()) >= 2 and points(), timeout=15, what="datapoints in the df window")
    for dp in dps:
        assert dp["Unit"] == "Percent", dp
        assert lo - 0.1 <= dp["Minimum"] and dp["Maximum"] <= hi + 0.1, (dp, lo, hi)


def test_story_config_with_imds(server, cw, make_agent, fake_imds, tmp_path):
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="web-1")
    workdir = tmp_path / "agent-imds"
    # The agent asks IMDS only where DMI says EC2: a Nitro instance's DMI, faked.
    sys_root = tmp_path / "sys"
    (sys_root / "class/dmi/id").mkdir(parents=True)
    (sys_root / "class/dmi/id/sys_vendor").write_text("Amazon EC2\n")
    agent = make_agent(
        story_config(server.endpoint, workdir),
        credentials_file=creds,
        env={"STRATUS_IMDS_ENDPOINT": fake_imds.endpoint, "STRATUS_SYS_ROOT": str(sys_root)},
        name="agent-imds",
    ).start()

    iid = fake_imds.values["instance-id"]
    dims = assert_story_metric(cw, iid)
    agent.assert_running()
    assert_value_matches_df(cw, dims)

    # IMDSv2: a token first, then the instance id asked for with it.
    puts = [r for r in fake_imds.requests if r[0] == "PUT"]
    assert puts and puts[0][1] == "/latest/api/token", fake_imds.requests
    assert int(puts[0][2]["x-aws-ec2-metadata-token-ttl-seconds"]) > 0
    gets = [r for r in fake_imds.requests if r[0] == "GET" and r[1] == "/latest/meta-data/instance-id"]
    assert gets and all(r[2].get("x-aws-ec2-metadata-token") == fake_imds.token for r in gets)

    # The agent's log says it started and where it sends; SIGTERM is a clean exit.
    log = agent.log_text()
    assert server.endpoint in log, log
    assert agent.stop() == 0, agent.log_tail()


def test_story_config_without_imds_uses_configured_instance_id(server, cw, make_agent, tmp_path):
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="onprem-1")
    iid = f"onprem-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "agent-noimds"
    agent = make_agent(
        story_config(server.endpoint, workdir, instance_id=iid),
        credentials_file=creds,
        # Nothing listens there: the IMDS probe fails at once, as off EC2.
        env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()},
        name="agent-noimds",
    ).start()
    dims = assert_story_metric(cw, iid)
    agent.assert_running()
    assert_value_matches_df(cw, dims)
    # One log line says where the instance id came from.
    assert iid in agent.log_text(), agent.log_tail()
    assert agent.stop() == 0


def machine_instance_id() -> str:
    """The agent's documented off-EC2 instance id: `mi-` + 17 hex digits of
    SHA-256("stratus-instance-id:" + machine id); the hostname without a machine id."""
    for p in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            mid = Path(p).read_text().strip()
        except OSError:
            continue
        if len(mid) == 32 and all(c in "0123456789abcdefABCDEF" for c in mid):
            return "mi-" + hashlib.sha256(f"stratus-instance-id:{mid}".encode()).hexdigest()[:17]
    return socket.gethostname()


def test_story_config_without_imds_uses_machine_id(server, cw, make_agent, tmp_path):
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="onprem-2")
    workdir = tmp_path / "agent-machineid"
    agent = make_agent(
        story_config(server.endpoint, workdir),
        credentials_file=creds,
        env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()},
        name="agent-machineid",
    ).start()
    iid = machine_instance_id()
    assert_story_metric(cw, iid)
    agent.assert_running()
    assert iid in agent.log_text(), agent.log_tail()
    assert agent.stop() == 0


def test_agent_key_publishes_but_cannot_read(server, cw, make_agent, tmp_path):
    """The key the agent runs with (policy `agent`) is enough for the agent, and nothing else."""
    creds = tmp_path / "credentials"
    kid, secret = create_agent_key(server, creds, name="least-privilege")
    iid = f"lp-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "agent-lp"
    agent = make_agent(
        story_config(server.endpoint, workdir, instance_id=iid),
        credentials_file=creds,
        env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()},
        name="agent-lp",
    ).start()
    assert_story_metric(cw, iid)  # published with the agent key, read with the admin key
    agent.assert_running()
    assert "AccessDenied" not in agent.log_text()

    as_agent = server.client(key=kid, secret=secret)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        as_agent.list_metrics(Namespace="CWAgent")
    assert ei.value.response["Error"]["Code"] == "AccessDenied", ei.value.response
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert agent.stop() == 0


def test_agent_with_a_readonly_key_logs_the_refusal(server, make_agent, tmp_path):
    """A key that may not publish: the server's refusal reaches the agent's log (a
    permanent 4xx, not retried forever), and the agent keeps running."""
    out = server.stratus_cli("keys", "create", "--name", "ro", "--policy", "readonly", "--output", "json")
    key = json.loads(out.stdout)
    creds = tmp_path / "credentials"
    creds.write_text(
        f"[AmazonCloudWatchAgent]\naws_access_key_id = {key['AccessKeyId']}\n"
        f"aws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    workdir = tmp_path / "agent-ro"
    agent = make_agent(
        story_config(server.endpoint, workdir, instance_id="ro-1"),
        credentials_file=creds,
        env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()},
        name="agent-ro",
    ).start()
    wait_for(lambda: "AccessDenied" in agent.log_text(), timeout=30, what="AccessDenied in the agent log")
    agent.assert_running()
    assert agent.stop() == 0
