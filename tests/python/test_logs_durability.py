"""Log events survive what metrics survive: an acknowledged PutLogEvents is
readable after `kill -9`; a batch id (`x-stratus-batch-id`, what the agent
sends on every retry) is stored once, also across a restart; EMF batches
(`x-amzn-logs-format: json/emf`) become metrics exactly once."""

import time
import uuid

from conftest import wait_for
from logs_support import read_all


def now_ms() -> int:
    return int(time.time() * 1000)


def with_headers(client, **headers):
    """Adds headers to every PutLogEvents the client signs from now on."""
    def add(request, **_):
        for k, v in headers.items():
            request.headers[k] = v
    client.meta.events.register("before-sign.logs.PutLogEvents", add)
    return client




def test_acknowledged_events_survive_kill_9(make_server):
    server = make_server()
    logs = server.client("logs")
    group = f"dur-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t0 = now_ms()
    sent = []
    for batch in range(20):
        events = [{"timestamp": t0 + batch * 100 + i, "message": f"line {batch:02d}-{i:03d}"} for i in range(100)]
        logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
        sent += [e["message"] for e in events]
    server.kill()
    server.start()
    logs = server.client("logs")
    assert read_all(logs, group, "s") == sent
    # The group's metadata came back too.
    (g,) = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert g["storedBytes"] > 0


def test_a_batch_id_is_stored_once_across_a_restart(make_server):
    server = make_server()
    group = f"idem-{uuid.uuid4().hex[:8]}"
    admin = server.client("logs")
    admin.create_log_group(logGroupName=group)
    admin.create_log_stream(logGroupName=group, logStreamName="s")
    batch_id = uuid.uuid4().hex
    logs = with_headers(server.client("logs"), **{"x-stratus-batch-id": batch_id})
    events = [{"timestamp": now_ms(), "message": "sent once, retried twice"}]
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)  # a retry
    server.kill()
    server.start()
    logs = with_headers(server.client("logs"), **{"x-stratus-batch-id": batch_id})
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)  # after the crash
    assert read_all(server.client("logs"), group, "s") == ["sent once, retried twice"]
    # A malformed batch id is refused, not ignored.
    bad = with_headers(server.client("logs"), **{"x-stratus-batch-id": "not-hex"})
    try:
        bad.put_log_events(logGroupName=group, logStreamName="s", logEvents=events)
        raise AssertionError("a malformed batch id was accepted")
    except bad.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidParameterException"


def test_emf_batches_become_metrics_exactly_once(make_server):
    server = make_server()
    ns = f"Emf{uuid.uuid4().hex[:8]}"
    group = f"emf-{uuid.uuid4().hex[:8]}"
    admin = server.client("logs")
    admin.create_log_group(logGroupName=group)
    admin.create_log_stream(logGroupName=group, logStreamName="s")
    emf = with_headers(server.client("logs"), **{"x-amzn-logs-format": "json/emf"})
    t = (now_ms() // 60000) * 60000 - 60000
    lines = []
    for i, latency in enumerate([10, 20, 30, 40]):
        lines.append({"timestamp": t + i, "message": (
            '{"_aws":{"Timestamp":%d,"CloudWatchMetrics":[{"Namespace":"%s","Dimensions":[["Service"]],'
            '"Metrics":[{"Name":"Latency","Unit":"Milliseconds"}]}]},"Service":"api","Latency":%d}'
            % (t + i, ns, latency))})
    # Plain lines in an EMF batch are stored and emit nothing.
    lines.append({"timestamp": t + 10, "message": "not json at all"})
    emf.put_log_events(logGroupName=group, logStreamName="s", logEvents=lines)
    # Without the header the same JSON is only a log line.
    admin.put_log_events(logGroupName=group, logStreamName="s", logEvents=[dict(lines[0], timestamp=t + 20)])
    server.kill()
    server.start()
    cw = server.client("cloudwatch")

    def stats():
        dp = cw.get_metric_statistics(
            Namespace=ns, MetricName="Latency", Dimensions=[{"Name": "Service", "Value": "api"}],
            StartTime=t / 1000 - 60, EndTime=t / 1000 + 120, Period=60,
            Statistics=["SampleCount", "Sum", "Maximum"])["Datapoints"]
        return dp or None

    (dp,) = wait_for(stats, timeout=20, what="EMF datapoints")
    assert (dp["SampleCount"], dp["Sum"], dp["Maximum"], dp["Unit"]) == (4.0, 100.0, 40.0, "Milliseconds")
    assert len(read_all(server.client("logs"), group, "s")) == 6
