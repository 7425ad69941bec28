"""The agent keeps data through refused keys and full disks, and stays off the metadata
address where it is not on EC2 (issue 12), each against a real server:

- a wrong secret: batches are spooled, not dropped; one loud log line names the key id
  and the server's error; once the key is fixed, what was collected meanwhile arrives;
- a full spool disk (a real 1 MiB tmpfs, filled up): the agent starts anyway and ships
  from memory, saying so in its log, and opens the spool once space returns (needs root
  to mount; skipped otherwise);
- a fake DMI tree that is not EC2: no request reaches a recording fake IMDS, from the
  running agent or from --check-config; with EC2's DMI, check-config still asks nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import clean_env, closed_port_endpoint, create_agent_key, stratus_bin, wait_for

INTERVAL_S = 2


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)


def mem_config(endpoint: str, workdir: Path, iid: str | None, spool: Path | None = None) -> dict:
    agent = {
        "metrics_collection_interval": INTERVAL_S,
        "logfile": str(workdir / "agent.log"),
        "spool_dir": str(spool or workdir / "spool"),
    }
    if iid:
        agent["instance_id"] = iid
    return {
        "agent": agent,
        "metrics": {
            "endpoint_override": endpoint,
            "force_flush_interval": INTERVAL_S,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}},
        },
    }


def sys_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


LAPTOP_DMI = {
    "class/dmi/id/sys_vendor": "LENOVO\n",
    "class/dmi/id/board_asset_tag": "Not Specified\n",
    "class/dmi/id/product_uuid": "4c4c4544-0051-3510-8052-b4c04f4e3632\n",
}


def not_ec2_env(tmp_path: Path, imds_endpoint: str | None = None) -> dict[str, str]:
    return {
        "STRATUS_IMDS_ENDPOINT": imds_endpoint or closed_port_endpoint(),
        "STRATUS_SYS_ROOT": str(sys_tree(tmp_path / "sys-laptop", LAPTOP_DMI)),
    }


def datapoints(cw, iid: str, t0: float, t1: float) -> list[dict]:
    return cw.get_metric_statistics(
        Namespace="CWAgent",
        MetricName="mem_used_percent",
        Dimensions=[{"Name": "InstanceId", "Value": iid}],
        StartTime=utc(int(t0)),
        EndTime=utc(int(t1) + 1),
        Period=1,
        Statistics=["SampleCount"],
    )["Datapoints"]


def test_wrong_secret_is_spooled_logged_and_delivered_once_the_key_is_fixed(server, cw, make_agent, tmp_path):
    creds = tmp_path / "credentials"
    kid, secret = create_agent_key(server, creds, name="resilience-auth")
    good = creds.read_text()
    creds.write_text(good.replace(secret, "wrong" + secret[5:]))
    iid = f"auth-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "agent-auth"
    agent = make_agent(
        mem_config(server.endpoint, workdir, iid), credentials_file=creds, env=not_ec2_env(tmp_path), name="agent-auth"
    )
    t_start = time.time()
    agent.start()

    # One loud line names the key and the server's answer.
    line = wait_for(
        lambda: next((l for l in agent.log_text().splitlines() if f"refuses access key {kid}" in l), None),
        timeout=30,
        what="the refusal in the agent's log",
    )
    assert "E!" in line and "HTTP 403 SignatureDoesNotMatch" in line, line
    time.sleep(3 * INTERVAL_S)
    agent.assert_running()
    assert datapoints(cw, iid, t_start, time.time()) == []
    assert agent.stop() == 0, agent.log_tail()
    t_fixed = time.time()
    log = agent.log_text()
    assert log.count(f"refuses access key {kid}") == 1, log
    assert "since start: 0 sent, 0 dropped" in log and "rejected" not in log, log

    # The key is fixed: what was collected while it was refused arrives. (Down a moment,
    # so the two runs' collections never share a 1-second slot.)
    creds.write_text(good)
    time.sleep(2)
    agent.start()
    early = wait_for(
        lambda: [d for d in datapoints(cw, iid, t_start, t_fixed) if d["Timestamp"].timestamp() < t_fixed],
        timeout=30,
        what="datapoints collected while the key was refused",
    )
    time.sleep(INTERVAL_S)
    early = [d for d in datapoints(cw, iid, t_start, t_fixed) if d["Timestamp"].timestamp() < t_fixed]
    # Collected every 2 s for at least 8 s while refused.
    assert len(early) >= 3, early
    assert all(d["SampleCount"] == 1 for d in early), early
    assert agent.stop() == 0, agent.log_tail()


@pytest.fixture
def full_tmpfs(tmp_path):
    mnt = tmp_path / "tmpfs"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        (mnt / "spool").mkdir()
        with open(mnt / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\x5a" * 4096)
            except OSError:
                pass
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_full_spool_disk_at_start_still_ships(server, cw, make_agent, tmp_path, full_tmpfs):
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="resilience-disk")
    iid = f"disk-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "agent-disk"
    agent = make_agent(
        mem_config(server.endpoint, workdir, iid, spool=full_tmpfs / "spool"),
        credentials_file=creds,
        env=not_ec2_env(tmp_path),
        name="agent-disk",
    )
    t_start = time.time()
    agent.start()
    wait_for(lambda: datapoints(cw, iid, t_start, time.time()), timeout=30, what="datapoints from the agent")
    agent.assert_running()
    log = agent.log_text()
    assert "cannot open the spool" in log and "shipping from memory" in log, log
    # Space returns: within the 30 s retry the spool is opened (durable again).
    (full_tmpfs / "filler").unlink()
    spool_back = f"spool {full_tmpfs / 'spool'} writable again"
    wait_for(lambda: spool_back in agent.log_text(), timeout=45, interval=1, what="the spool's return")
    assert (full_tmpfs / "spool" / "head").exists()
    agent.assert_running()
    assert agent.stop() == 0, agent.log_tail()


def test_off_ec2_the_metadata_service_is_never_asked(server, cw, make_agent, fake_imds, tmp_path):
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="resilience-dmi")
    workdir = tmp_path / "agent-dmi"
    config = mem_config(server.endpoint, workdir, None)
    agent = make_agent(
        config, credentials_file=creds, env=not_ec2_env(tmp_path, fake_imds.endpoint), name="agent-dmi"
    )
    t_start = time.time()
    agent.start()
    line = wait_for(
        lambda: next((l for l in agent.log_text().splitlines() if "instance id " in l), None),
        timeout=30,
        what="the instance id line",
    )
    assert "machine id" in line or "hostname" in line, line
    iid = line.split("instance id ", 1)[1].split()[0]
    wait_for(lambda: datapoints(cw, iid, t_start, time.time()), timeout=30, what="datapoints from the agent")
    assert agent.stop() == 0, agent.log_tail()
    assert fake_imds.requests == [], fake_imds.requests

    # --check-config makes no network call, off EC2 or on it.
    ec2 = sys_tree(tmp_path / "sys-ec2", {"class/dmi/id/board_asset_tag": "i-0aaaabbbbccccdddd\n"})
    for sys_root, want in ((tmp_path / "sys-laptop", "mem_used_percent"), (ec2, "instance id i-0aaaabbbbccccdddd from EC2 DMI")):
        cp = subprocess.run(
            [str(stratus_bin()), "agent", "--check-config", str(agent.config_path)],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(STRATUS_IMDS_ENDPOINT=fake_imds.endpoint, STRATUS_SYS_ROOT=str(sys_root)),
        )
        assert cp.returncode == 0, cp.stdout + cp.stderr
        assert want in cp.stdout, cp.stdout
    assert fake_imds.requests == [], fake_imds.requests


def test_check_config_names_a_log_file_it_cannot_write(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    config = mem_config("http://127.0.0.1:4566", tmp_path, "x")
    config["agent"]["logfile"] = str(blocker / "logs" / "agent.log")
    path = tmp_path / "agent.json"
    path.write_text(json.dumps(config))
    cp = subprocess.run(
        [str(stratus_bin()), "agent", "--check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        env=clean_env(**not_ec2_env(tmp_path)),
    )
    assert cp.returncode == 1, cp.stdout + cp.stderr
    assert "config OK" not in cp.stdout, cp.stdout
    assert f"agent.logfile {blocker / 'logs' / 'agent.log'}:" in cp.stderr, cp.stderr


def test_check_config_on_a_read_only_path_under_systemd_names_the_unit_setting(tmp_path):
    """What ProtectSystem=strict does to a path outside ReadWritePaths=: a read-only
    file system (here a read-only tmpfs; INVOCATION_ID is what systemd sets)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(ro)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        config = mem_config("http://127.0.0.1:4566", tmp_path, "x")
        config["agent"]["logfile"] = str(ro / "agent.log")
        path = tmp_path / "agent.json"
        path.write_text(json.dumps(config))

        def run(mode: str = "--check-config", **extra: str) -> subprocess.CompletedProcess[str]:
            env = clean_env(**not_ec2_env(tmp_path))
            env.pop("INVOCATION_ID", None)
            env.update(extra)
            return subprocess.run(
                [str(stratus_bin()), "agent", mode, str(path)],
                capture_output=True,
                text=True,
                timeout=30,
                env=env,
            )

        cp = run(INVOCATION_ID="0123456789abcdef0123456789abcdef")
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert f"agent.logfile {ro / 'agent.log'}:" in cp.stderr, cp.stderr
        assert "Read-only file system" in cp.stderr, cp.stderr
        assert f"ReadWritePaths={ro}" in cp.stderr, cp.stderr
        # Started without the check, the agent says the same.
        cp = run("--config", INVOCATION_ID="0123456789abcdef0123456789abcdef")
        assert cp.returncode == 1, cp.stdout + cp.stderr
        assert f"ReadWritePaths={ro}" in cp.stderr, cp.stderr
        # Outside systemd the error stands without the unit advice.
        cp = run()
        assert cp.returncode == 1 and "Read-only file system" in cp.stderr, cp.stderr
        assert "ReadWritePaths" not in cp.stderr, cp.stderr
    finally:
        subprocess.run(["umount", "-l", str(ro)], capture_output=True)
