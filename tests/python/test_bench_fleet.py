"""`stratus bench fleet` against a running server: a short run of 20 simulated agent
hosts prints figures that parse, finds the server's pid and data dir from its
endpoint, and the server then holds every host's metrics (boto3 list_metrics)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess

from conftest import clean_env, stratus_bin

HOSTS = 20


def run_fleet(server, *extra: str) -> str:
    proc = subprocess.run(
        [
            str(stratus_bin()),
            "bench",
            "fleet",
            "--hosts",
            str(HOSTS),
            "--interval",
            "2",
            "--duration",
            "6",
            "--report-every",
            "2",
            "--endpoint",
            server.endpoint,
            "--credentials-file",
            str(server.credentials_file),
            "--profile",
            "stratus",
            *extra,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def result_fields(out: str) -> dict[str, str]:
    lines = [l for l in out.splitlines() if l.startswith("fleet-result ")]
    assert len(lines) == 1, out
    return dict(kv.split("=", 1) for kv in lines[0].split()[1:])


def test_fleet_run_prints_figures_and_the_server_holds_every_host(make_server):
    server = make_server()
    out = run_fleet(server)

    r = result_fields(out)
    # 20 hosts every 2 s for 6 s: 3 sends each, 50 datapoints per send.
    assert (r["sent"], r["ok"], r["failed"]) == ("60", "60", "0"), out
    assert r["datapoints"] == str(60 * 50), out
    assert float(r["datapoints_per_s"]) > 0
    p50, p99, mx = (float(r[k]) for k in ("p50_ms", "p99_ms", "max_ms"))
    assert 0 < p50 <= p99 <= mx, out
    # The server was found from its port, with its data dir from its command line.
    assert f"server pid {server.proc.pid}" in out, out
    assert f"server data dir {server.data_dir}" in out, out
    assert float(r["server_rss_peak_mib"]) > 1, out
    assert float(r["server_cpu_s"]) >= 0, out
    assert float(r["disk_bytes_per_datapoint"]) > 0, out
    # A progress line per report, and the verdict on the targets.
    assert len(re.findall(r"^\[\s*\d+ s\] requests \d+ ok \d+ failed 0 ", out, re.M)) >= 2, out
    assert re.search(r"^targets .*p99 < 50 ms (met|NOT met).*RSS < 1 GiB (met|NOT met)", out, re.M), out

    cw = server.client("cloudwatch")
    pages = cw.get_paginator("list_metrics").paginate(Namespace="CWAgent")
    metrics = [m for page in pages for m in page["Metrics"]]
    hosts = {d["Value"] for m in metrics for d in m["Dimensions"] if d["Name"] == "host"}
    assert len(hosts) == HOSTS, sorted(hosts)
    assert all(re.fullmatch(r"ip-10-\d+-\d+-\d+\.ec2\.internal", h) for h in hosts), hosts
    assert len(metrics) == HOSTS * 50
    idle = [m for m in metrics if m["MetricName"] == "cpu_usage_idle"]
    assert len(idle) == HOSTS * 3  # cpu-total, cpu0, cpu1
    names = {d["Name"] for d in idle[0]["Dimensions"]}
    assert names == {"cpu", "host", "ImageId", "InstanceId", "InstanceType"}

    # Every send of one host's series is stored: 3 samples at real timestamps.
    now = dt.datetime.now(dt.timezone.utc)
    total = [m for m in idle if {"Name": "cpu", "Value": "cpu-total"} in m["Dimensions"]][0]
    stats = cw.get_metric_statistics(
        Namespace="CWAgent",
        MetricName="cpu_usage_idle",
        Dimensions=total["Dimensions"],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now + dt.timedelta(minutes=1),
        Period=3600,
        Statistics=["SampleCount", "Minimum", "Maximum"],
    )
    (point,) = stats["Datapoints"]
    assert point["SampleCount"] == 3
    assert 0 < point["Minimum"] <= point["Maximum"] <= 100
    assert point["Unit"] == "Percent"


def test_fleet_refuses_a_wrong_key(make_server, tmp_path):
    server = make_server()
    creds = tmp_path / "credentials"
    creds.write_text("[stratus]\naws_access_key_id = AKIANOTAKEY000000000\naws_secret_access_key = nope\n")
    proc = subprocess.run(
        [
            str(stratus_bin()),
            "bench",
            "fleet",
            "--hosts",
            "4",
            "--interval",
            "2",
            "--duration",
            "2",
            "--endpoint",
            server.endpoint,
            "--credentials-file",
            str(creds),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env(),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    r = result_fields(proc.stdout)
    assert (r["sent"], r["ok"], r["failed"]) == ("4", "0", "4"), proc.stdout
    assert "4 × InvalidClientTokenId" in proc.stdout, proc.stdout
    assert "p99 < 50 ms NOT met" in proc.stdout, proc.stdout
