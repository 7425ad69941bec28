"""The server config file: per-resolution retention reaches storage, [server] settings apply
(flags override them), and a bad file stops start-up with a message naming the key."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from conftest import StratusServer, clean_env, free_port, stratus_bin, terminate_process, wait_for
from expect import floor_to, utc


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_metrics_retention_from_config_file_rolls_old_minutes_into_hours(make_server, tmp_path, ns):
    # One-minute data kept one day and 5-minute data one day: three-day-old minutes end up
    # as hourly rows. The [server] listen is overridden by the --listen flag the harness passes.
    config = write_config(
        tmp_path / "server.toml",
        '[server]\nlisten = "127.0.0.1:1"\n\n'
        '[retention]\nraw = "1h"\none_minute = "1d"\nfive_minutes = "1d"\none_hour = "455d"\n',
    )
    srv = make_server(env={"STRATUS_CONFIG": str(config)})
    cw = srv.client("cloudwatch")
    start = floor_to(int(time.time()) - 3 * 86_400, 3600)
    data = [
        {"MetricName": "old", "Timestamp": utc(start + 60 * i), "Value": float(i), "Unit": "Count"}
        for i in range(180)
    ]
    for i in range(0, len(data), 60):
        cw.put_metric_data(Namespace=ns, MetricData=data[i : i + 60])

    def minutes():
        return cw.get_metric_statistics(
            Namespace=ns,
            MetricName="old",
            StartTime=utc(start),
            EndTime=utc(start + 3 * 3600),
            Period=60,
            Statistics=["SampleCount", "Sum"],
        )["Datapoints"]

    assert len(minutes()) == 180, "before the restart the head holds every minute"
    # Stopping seals the head into blocks; the compaction that runs at start applies retention.
    srv.restart()
    def rolled_up():
        got = minutes()
        return got if len(got) == 3 else None

    hourly = wait_for(rolled_up, 60, what="hourly rows")
    hourly.sort(key=lambda d: d["Timestamp"])
    assert [d["SampleCount"] for d in hourly] == [60.0, 60.0, 60.0]
    assert [d["Sum"] for d in hourly] == [float(sum(range(h * 60, h * 60 + 60))) for h in range(3)]
    assert [int(d["Timestamp"].timestamp()) for d in hourly] == [start, start + 3600, start + 7200]


def test_metrics_server_settings_come_from_the_config_file(tmp_path):
    port = free_port()
    data_dir = tmp_path / "from-config"
    config = write_config(
        tmp_path / "server.toml", f'[server]\nlisten = "127.0.0.1:{port}"\ndata_dir = "{data_dir}"\n'
    )
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(stratus_bin()), "server", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=clean_env(),
        )
    try:

        def ready():
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return (data_dir / "credentials").exists()
            except OSError:
                return False

        wait_for(ready, 30, what="server on the configured port and data dir")
        # A real client, with the admin key written to the configured data dir, on the configured port.
        cw = StratusServer(data_dir, port=port).client("cloudwatch")
        cw.put_metric_data(Namespace="Cfg", MetricData=[{"MetricName": "m", "Value": 1.0}])
        assert [m["MetricName"] for m in cw.list_metrics(Namespace="Cfg")["Metrics"]] == ["m"]
    finally:
        terminate_process(proc, 30, "server", lambda: log.read_text(errors="replace"))


BROKEN = [
    ('[retention]\nraw = "30m"\n', "retention.raw", "shorter than 1h"),
    ('[retention]\nraw = "3h"\none_minte = "15d"\n', "retention.one_minte", "unknown key"),
    ('[retention]\none_hour = "10d"\n', "retention.one_hour", "shorter than retention.five_minutes (63d)"),
    ('[retention]\nfive_minutes = "two months"\n', "retention.five_minutes", "not a duration"),
    ('[server]\nlisten = "everywhere"\n', "server.listen", "not an address"),
    ("[retention\n", "not valid TOML", ""),
]


def test_metrics_bad_config_file_stops_startup_naming_the_key(tmp_path):
    for n, (text, key, message) in enumerate(BROKEN):
        config = write_config(tmp_path / f"bad{n}.toml", text)
        data_dir = tmp_path / f"data{n}"
        done = subprocess.run(
            [
                str(stratus_bin()),
                "server",
                "--config",
                str(config),
                "--data-dir",
                str(data_dir),
                "--listen",
                f"127.0.0.1:{free_port()}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env=clean_env(),
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode != 0, text
        assert f"config file {config}: {key}" in done.stderr, done.stderr
        assert message in done.stderr, done.stderr
        assert not data_dir.exists(), "a refused config must not create the data directory"
