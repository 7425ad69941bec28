"""Never lose a datapoint: the server goes away for several flush intervals, the agent is
SIGKILLed once in the middle of the outage and restarted, the server comes back — and every
datapoint collected meanwhile is in the server exactly once.

How "exactly once" is checked without knowing the agent's internals: `mem_used_percent` is
collected every 3 s and stored at 1-second resolution (interval < 60 s ⇒ high resolution).
Collections sit on a start + k·3 s grid, so two of them can never share a 1-second slot:
any slot with SampleCount > 1 is a datapoint stored twice (a retried batch counted again).
And within one agent run consecutive datapoints are 3 s apart (2..4 s with scheduling
jitter), so a gap of 5 s or more inside a run is a lost datapoint.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

from conftest import closed_port_endpoint, create_agent_key, wait_for

INTERVAL_S = 3
# Longer than two intervals, so the kill catches collections that sit only in the batch
# being filled (never sealed, never spooled): the journal must bring them back.
FLUSH_S = 7
# Each outage phase (before and after the kill) spans more than a flush, so batches are
# also sealed into the spool while the server is away.
PHASE_S = 10
# The most a run's datapoints may be apart (interval + up to 1 s of slot rounding/jitter).
MAX_GAP_S = INTERVAL_S + 1


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, tz=dt.timezone.utc)


def test_outage_with_agent_kill_loses_nothing_and_duplicates_nothing(make_server, make_agent, tmp_path):
    server = make_server()
    cw = server.client("cloudwatch")
    creds = tmp_path / "credentials"
    create_agent_key(server, creds, name="outage")
    iid = f"outage-{uuid.uuid4().hex[:8]}"
    workdir = tmp_path / "agent-outage"
    config = {
        "agent": {
            "metrics_collection_interval": INTERVAL_S,
            "logfile": str(workdir / "agent.log"),
            "spool_dir": str(workdir / "spool"),
            "instance_id": iid,
        },
        "metrics": {
            "endpoint_override": server.endpoint,
            "force_flush_interval": FLUSH_S,
            "append_dimensions": {"InstanceId": "${aws:InstanceId}"},
            "metrics_collected": {"mem": {"measurement": ["mem_used_percent"]}},
        },
    }
    agent = make_agent(
        config, credentials_file=creds, env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()}, name="agent-outage"
    )
    t_start = time.time()
    agent.start()

    metrics = wait_for(
        lambda: cw.list_metrics(
            Namespace="CWAgent", MetricName="mem_used_percent", Dimensions=[{"Name": "InstanceId", "Value": iid}]
        )["Metrics"],
        timeout=30,
        what="mem_used_percent from the agent",
    )
    assert len(metrics) == 1, metrics
    dims = metrics[0]["Dimensions"]

    def datapoints(t0: float, t1: float) -> list[dict]:
        dps = cw.get_metric_statistics(
            Namespace="CWAgent",
            MetricName="mem_used_percent",
            Dimensions=dims,
            StartTime=utc(int(t0)),
            EndTime=utc(int(t1) + 1),
            Period=1,
            Statistics=["SampleCount", "Minimum", "Maximum"],
        )["Datapoints"]
        return sorted(dps, key=lambda d: d["Timestamp"])

    time.sleep(2 * INTERVAL_S)

    # -- the outage: server gone for a phase, then the agent is SIGKILLed and
    #    restarted, and the server stays gone another phase.
    assert server.stop() == 0
    t_down = time.time()
    time.sleep(PHASE_S)
    agent.kill()
    t_kill = time.time()
    # Down a moment, so the two runs' collections never share a 1-second slot.
    time.sleep(2)
    agent.start()
    t_restart = time.time()
    time.sleep(PHASE_S)
    agent.assert_running()
    server.start()  # same data dir, same port
    t_up = time.time()

    # -- drained: the server has the outage's datapoints and new ones keep coming.
    def caught_up():
        dps = datapoints(t_start, time.time())
        newest = dps[-1]["Timestamp"].timestamp() if dps else 0
        outage = [d for d in dps if t_down < d["Timestamp"].timestamp() < t_up]
        return newest > t_up + INTERVAL_S and len(outage) >= 4 and dps

    wait_for(caught_up, timeout=60, interval=1, what="the spool to drain after the server returned")
    time.sleep(2 * FLUSH_S)
    assert agent.stop() == 0, agent.log_tail()  # SIGTERM: the last collections are flushed
    t_end = time.time()

    dps = datapoints(t_start, t_end)
    stamps = [d["Timestamp"].timestamp() for d in dps]
    summary = "\n".join(
        f"{d['Timestamp'].isoformat()} n={d['SampleCount']:.0f} min={d['Minimum']:.4f} max={d['Maximum']:.4f}"
        for d in dps
    )
    timeline = (
        f"start={t_start:.1f} down={t_down:.1f} kill={t_kill:.1f} restart={t_restart:.1f} "
        f"up={t_up:.1f} end={t_end:.1f}\n{summary}"
    )

    # Exactly once: no 1-second slot holds two collections.
    dup = [d for d in dps if d["SampleCount"] != 1]
    assert not dup, f"datapoints stored more than once:\n{dup}\n{timeline}"

    run1 = [s for s in stamps if s < t_kill]
    run2 = [s for s in stamps if s >= t_kill]
    assert run1 and run2, timeline
    # Nothing is collected between the kill and the restart...
    assert all(s >= int(t_restart) for s in run2), timeline

    # ...and nothing collected is lost: no gap inside either run.
    for run in (run1, run2):
        gaps = [b - a for a, b in zip(run, run[1:])]
        assert all(g <= MAX_GAP_S for g in gaps), f"gaps {gaps} (> {MAX_GAP_S}s = lost datapoints)\n{timeline}"

    # Run 1 was collecting right up to the kill, and the kill took nothing: the last
    # collection before it (≤ one interval earlier, even though it sat in a batch that
    # was never sealed) reached the server through the journal.
    assert run1[-1] >= t_kill - (INTERVAL_S + 1), f"run 1 lost its last collections\n{timeline}"
    # Run 2 started promptly and lasted to the SIGTERM, whose flush delivered its tail.
    assert run2[0] <= t_restart + INTERVAL_S + 2, f"run 2 starts late\n{timeline}"
    assert run2[-1] >= t_end - MAX_GAP_S - 1, f"run 2's last collections were not flushed\n{timeline}"

    # Both runs collected during the outage, and all of it reached the server.
    assert len([s for s in run1 if s > t_down]) >= 2, timeline
    assert len([s for s in run2 if s < t_up]) >= 2, timeline
