"""statsd through a running agent: UDP packets → the agent's listener → aggregated
Values/Counts datums → a real `stratus server` → boto3 statistics, checked against the
values sent (computed here, not by the agent's code)."""

from __future__ import annotations

import datetime as dt
import socket
import time

from conftest import closed_port_endpoint, create_agent_key, free_port, wait_for
from expect import weighted_nearest_rank


def statsd_config(endpoint: str, workdir, port: int) -> dict:
    return {
        "agent": {
            "metrics_collection_interval": 1,
            "omit_hostname": True,
            "logfile": str(workdir / "agent.log"),
            "spool_dir": str(workdir / "spool"),
        },
        "metrics": {
            "namespace": "StatsdApp",
            "endpoint_override": endpoint,
            "force_flush_interval": 1,
            "metrics_collected": {
                "statsd": {
                    "service_address": f"127.0.0.1:{port}",
                    "metrics_collection_interval": 1,
                    "metrics_aggregation_interval": 2,
                }
            },
        },
    }


def find_metric(cw, name: str):
    found = cw.list_metrics(Namespace="StatsdApp", MetricName=name)["Metrics"]
    return found[0] if found else None


def stats(cw, metric, stats_, ext=None):
    now = dt.datetime.now(dt.timezone.utc)
    kw = dict(
        Namespace="StatsdApp",
        MetricName=metric["MetricName"],
        Dimensions=metric["Dimensions"],
        StartTime=now - dt.timedelta(minutes=10),
        EndTime=now + dt.timedelta(minutes=5),
        Period=900,
        Statistics=stats_,
    )
    if ext:
        kw["ExtendedStatistics"] = ext
    return cw.get_metric_statistics(**kw)["Datapoints"]


def test_statsd_timers_counters_gauges_arrive_aggregated(server, cw, make_agent, tmp_path):
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="statsd-host")
    port = free_port()
    agent = make_agent(
        statsd_config(server.endpoint, tmp_path / "agent-statsd", port),
        credentials_file=creds,
        env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()},
        name="agent-statsd",
    ).start()
    wait_for(lambda: "statsd listening" in agent.log_text(), timeout=20, what="statsd listener")

    timer_values = [12.0, 7.0, 7.0, 30.5, 1.25, 99.0, 7.0, 42.0]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Several metrics per packet, DogStatsD tags, plus garbage the listener must survive.
    packets = [
        "\n".join(f"latency:{v}|ms|#route:/checkout" for v in timer_values[:4]),
        "jobs:3|c|#queue:default\nnot a statsd line\nqueue_depth:5|g",
        "\n".join(f"latency:{v}|ms|#route:/checkout" for v in timer_values[4:]),
        "jobs:4|c|#queue:default\nqueue_depth:7|g\n:|x|garbage",
    ]
    for p in packets:
        sock.sendto(p.encode(), ("127.0.0.1", port))
        time.sleep(0.05)
    sock.close()

    latency = wait_for(lambda: find_metric(cw, "latency"), timeout=30, what="latency metric listed")
    assert {"Name": "route", "Value": "/checkout"} in latency["Dimensions"], latency

    def all_timer_samples():
        dps = stats(cw, latency, ["SampleCount"])
        return dps and sum(d["SampleCount"] for d in dps) == len(timer_values)

    wait_for(all_timer_samples, timeout=30, what="every timer value stored")
    dps = stats(cw, latency, ["SampleCount", "Sum", "Minimum", "Maximum"], ["p50", "p90"])
    assert len(dps) == 1, dps
    d = dps[0]
    assert d["SampleCount"] == len(timer_values)
    assert abs(d["Sum"] - sum(timer_values)) < 1e-9
    assert d["Minimum"] == min(timer_values)
    assert d["Maximum"] == max(timer_values)
    assert d["ExtendedStatistics"]["p50"] == weighted_nearest_rank([(v, 1) for v in timer_values], 50)
    assert d["ExtendedStatistics"]["p90"] == weighted_nearest_rank([(v, 1) for v in timer_values], 90)

    jobs = wait_for(lambda: find_metric(cw, "jobs"), timeout=30, what="jobs metric listed")
    wait_for(lambda: sum(x["Sum"] for x in stats(cw, jobs, ["Sum"])) == 7.0, timeout=30,
             what="counter increments summed to 7")

    depth = wait_for(lambda: find_metric(cw, "queue_depth"), timeout=30, what="gauge listed")
    wait_for(lambda: any(x["Maximum"] == 7.0 for x in stats(cw, depth, ["Maximum"])), timeout=30,
             what="gauge's last value 7")
    agent.assert_running()
    assert agent.stop() == 0, agent.log_tail()
