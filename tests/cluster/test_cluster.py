"""Cluster mode end to end (issue 13): any node answers any call; the story (alarm →
confirmed email subscription → exactly one ALARM email) with a node killed; exactly-once
ingest across a gateway kill, an ingester kill and a NATS server kill with client retries;
a cold node answering from object storage alone; a paused owner fenced; query results
identical to the single-node engine on the same data."""

from __future__ import annotations

import datetime as dt
import random
import signal
import threading
import time
import uuid

import botocore.exceptions
import pytest

from conftest import Cluster, fnv_shard, wait_for

NS = "ClusterTest"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def stats(cw, name: str, dims, start, end, period=60):
    r = cw.get_metric_statistics(Namespace=NS, MetricName=name, Dimensions=dims, StartTime=start,
                                 EndTime=end, Period=period, Statistics=["SampleCount", "Sum"])
    return sorted((p["Timestamp"], p["SampleCount"], p["Sum"]) for p in r["Datapoints"])


def totals(cw, name, dims, start, end):
    pts = stats(cw, name, dims, start, end, period=3600)
    return sum(p[1] for p in pts), sum(p[2] for p in pts)


def test_any_node_answers_any_call(cluster: Cluster):
    n1, n2, n3 = (cluster.client("cloudwatch", n) for n in ("n1", "n2", "n3"))
    host = uuid.uuid4().hex[:8]
    dims = [{"Name": "host", "Value": host}]
    t = now()
    n1.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "cpu", "Dimensions": dims, "Value": 7.0, "Timestamp": t}])
    # Every node serves the write (after its replica has followed the log).
    for c in (n1, n2, n3):
        wait_for(lambda c=c: stats(c, "cpu", dims, t - dt.timedelta(minutes=5), t + dt.timedelta(minutes=5)),
                 30, what="the datapoint on every node")
        listed = c.list_metrics(Namespace=NS, MetricName="cpu", Dimensions=dims)["Metrics"]
        assert listed == [{"Namespace": NS, "MetricName": "cpu", "Dimensions": dims}]
    # Metadata written on one node is read on the others.
    name = f"alarm-{host}"
    n2.put_metric_alarm(AlarmName=name, Namespace=NS, MetricName="cpu", Dimensions=dims,
                        Statistic="Average", Period=60, EvaluationPeriods=1, Threshold=50,
                        ComparisonOperator="GreaterThanThreshold")
    assert [a["AlarmName"] for a in n3.describe_alarms(AlarmNames=[name])["MetricAlarms"]] == [name]
    sns1, sns3 = cluster.client("sns", "n1"), cluster.client("sns", "n3")
    arn = sns1.create_topic(Name=f"t-{host}")["TopicArn"]
    assert arn in [t["TopicArn"] for t in sns3.list_topics()["Topics"]]
    # The status command sees three live nodes and every partition owned. "Ready" means every
    # partition has a caught-up replica; a lease handed to its preferred owner as the last node
    # joins is briefly held by nobody, so ownership is waited for (a lease TTL at most).
    st = cluster.status("n2")
    assert sorted(n["id"] for n in st["nodes"] if n["live"]) == ["n1", "n2", "n3"]
    owned = wait_for(lambda: (s := cluster.status("n2")) and all(p["owner"] for p in s["partitions"]) and s,
                     30, what="every partition owned")
    assert {p["owner"] for p in owned["partitions"]} <= {"n1", "n2", "n3"}, owned["partitions"]
    n2.delete_alarms(AlarmNames=[name])
    # Each node publishes its own figures in the Stratus namespace (at start, then every minute).
    figures = wait_for(lambda: (lambda m: m if {d["Value"] for x in m for d in x["Dimensions"]} >= {"n1", "n2", "n3"}
                                else None)(n3.list_metrics(Namespace="Stratus", MetricName="LogLag")["Metrics"]),
                       60, what="LogLag of every node")
    assert all(x["Dimensions"][0]["Name"] == "NodeId" for x in figures)
    names = {x["MetricName"] for x in n3.list_metrics(Namespace="Stratus")["Metrics"]}
    assert {"LogLag", "PartitionsOwned", "PartitionLeaseChanges", "BlocksCommitted", "OutboxDepth"} <= names


def test_results_identical_to_single_node(cluster: Cluster, make_single_node):
    """The same datums through a cluster and a single-node server: every statistic equal."""
    single = make_single_node()
    cw_single = single.client("cloudwatch")
    cw_cluster = cluster.client("cloudwatch", "n1")
    rnd = random.Random(13)
    host = uuid.uuid4().hex[:8]
    t0 = now() - dt.timedelta(minutes=30)
    series = [[{"Name": "host", "Value": f"{host}-{i}"}] for i in range(6)]
    for minute in range(30):
        data = []
        for dims in series:
            data.append({"MetricName": "lat", "Dimensions": dims, "Unit": "Milliseconds",
                         "Timestamp": t0 + dt.timedelta(minutes=minute, seconds=rnd.randrange(60)),
                         "Value": round(rnd.uniform(0, 500), 3)})
            data.append({"MetricName": "lat", "Dimensions": dims, "Unit": "Milliseconds",
                         "Timestamp": t0 + dt.timedelta(minutes=minute),
                         "StatisticValues": {"SampleCount": 3, "Sum": 30.5, "Minimum": 1, "Maximum": 20}})
        for c in (cw_single, cw_cluster):
            c.put_metric_data(Namespace=NS, MetricData=data)
    start, end = t0 - dt.timedelta(minutes=1), now() + dt.timedelta(minutes=1)
    for dims in series:
        q = dict(Namespace=NS, MetricName="lat", Dimensions=dims, StartTime=start, EndTime=end,
                 Period=300, Statistics=["SampleCount", "Sum", "Minimum", "Maximum", "Average"],
                 ExtendedStatistics=["p50", "p99"])
        want = single.client("cloudwatch").get_metric_statistics(**q)["Datapoints"]
        for node in ("n1", "n2", "n3"):
            c = cluster.client("cloudwatch", node)
            got = wait_for(lambda: (lambda d: d if len(d) == len(want) and sorted(
                x["SampleCount"] for x in d) == sorted(x["SampleCount"] for x in want) else None)(
                c.get_metric_statistics(**q)["Datapoints"]), 30, what=f"{node} caught up")
            key = lambda p: p["Timestamp"]  # noqa: E731
            assert sorted(got, key=key) == sorted(want, key=key)
    # GetMetricData with math, too.
    queries = [{"Id": f"m{i}", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "lat",
                "Dimensions": dims}, "Period": 60, "Stat": "Average"}, "ReturnData": False}
               for i, dims in enumerate(series)]
    queries.append({"Id": "total", "Expression": "SUM([" + ",".join(f"m{i}" for i in range(6)) + "])"})
    want = cw_single.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    got = cw_cluster.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end)
    assert got["MetricDataResults"] == want["MetricDataResults"]


class Sender:
    """Sends PutMetricData with known values, each request carrying its own batch id and
    retried (same id, any node) until a node acknowledges it — so every request is
    acknowledged exactly once from the client's view, whatever dies meanwhile. Some
    requests are deliberately sent twice after being acknowledged."""

    def __init__(self, cluster: Cluster, nodes: list[str], host: str):
        self.cluster = cluster
        self.nodes = nodes
        self.host = host
        self.acked_sum: dict[str, float] = {}
        self.acked_count: dict[str, int] = {}
        self.sent = 0
        self.retries = 0
        self.stop = threading.Event()
        self.errors: list[str] = []
        self.clients = {n: self._client(n) for n in nodes}

    def _client(self, node: str):
        c = self.cluster.client("cloudwatch", node)
        state = {}

        def add_batch_id(request, **_):
            request.headers["x-stratus-batch-id"] = state["id"]

        c.meta.events.register("before-sign.cloudwatch.PutMetricData", add_batch_id)
        c._batch_state = state  # noqa: SLF001
        return c

    def send_one(self, i: int, rnd: random.Random) -> None:
        series = f"s{i % 16}"
        value = float(rnd.randrange(1, 1000))
        data = [{"MetricName": "count", "Dimensions": [{"Name": "host", "Value": self.host},
                 {"Name": "series", "Value": series}], "Value": value, "Timestamp": now()}]
        batch = uuid.uuid4().hex
        order = self.nodes[i % len(self.nodes):] + self.nodes[:i % len(self.nodes)]
        deadline = time.time() + 120
        attempt = 0
        while True:
            node = order[attempt % len(order)]
            c = self.clients[node]
            c._batch_state["id"] = batch  # noqa: SLF001
            try:
                c.put_metric_data(Namespace=NS, MetricData=data)
                break
            except (botocore.exceptions.ClientError, botocore.exceptions.EndpointConnectionError,
                    botocore.exceptions.ConnectionClosedError, botocore.exceptions.ReadTimeoutError) as e:
                attempt += 1
                self.retries += 1
                if time.time() > deadline:
                    self.errors.append(f"request {i} never acknowledged: {e}")
                    return
                time.sleep(0.2)
        self.acked_sum[series] = self.acked_sum.get(series, 0.0) + value
        self.acked_count[series] = self.acked_count.get(series, 0) + 1
        self.sent += 1
        if i % 20 == 0:
            # A deliberate retry of an acknowledged request, on another node.
            other = self.clients[order[1]]
            other._batch_state["id"] = batch  # noqa: SLF001
            try:
                other.put_metric_data(Namespace=NS, MetricData=data)
            except Exception:  # noqa: BLE001 - a failed duplicate changes nothing either way
                pass


def test_exactly_once_across_kills(cluster: Cluster):
    """Requests retried by the client across a gateway kill, an ingester kill and a NATS
    server kill are counted exactly once; deliberate retries of acknowledged requests too."""
    host = uuid.uuid4().hex[:8]
    start = now() - dt.timedelta(minutes=1)
    sender = Sender(cluster, ["n1", "n2", "n3"], host)
    total = 2400
    rnd = random.Random(42)
    owners = {}

    def chaos():
        # Let some traffic through, then: kill the node owning most partitions...
        while sender.sent < total * 0.2:
            time.sleep(0.1)
        st = wait_for(lambda: (s := cluster.status("n2")) and all(p["owner"] for p in s["partitions"]) and s,
                      30, what="every partition owned")
        for p in st["partitions"]:
            owners[p["owner"]] = owners.get(p["owner"], 0) + 1
        victim = max(owners, key=owners.get)
        cluster.kill(victim)
        while sender.sent < total * 0.45:
            time.sleep(0.1)
        # ...kill a NATS server and start it again...
        import os
        os.kill(cluster.service_pid("nats2"), signal.SIGKILL)
        time.sleep(3)
        import subprocess
        from conftest import CLUSTER_UP
        subprocess.run([str(CLUSTER_UP), "--restart-nats", str(cluster.root), "2"], check=True,
                       env=cluster.env, capture_output=True, timeout=120)
        while sender.sent < total * 0.7:
            time.sleep(0.1)
        # ...and bring the killed node back.
        cluster.restart(victim)
        sender.clients[victim] = sender._client(victim)  # noqa: SLF001

    t = threading.Thread(target=chaos, daemon=True)
    t.start()
    for i in range(total):
        sender.send_one(i, rnd)
    t.join(timeout=300)
    assert not sender.errors, sender.errors[:5]
    assert sender.retries > 0, "the failures were supposed to cost retries"
    end = now() + dt.timedelta(minutes=2)
    for node in ("n1", "n2", "n3"):
        cw = cluster.client("cloudwatch", node)
        for series, want_count in sender.acked_count.items():
            dims = [{"Name": "host", "Value": host}, {"Name": "series", "Value": series}]
            want = (want_count, sender.acked_sum[series])
            got = wait_for(lambda: (lambda g: g if g == want else None)(
                totals(cw, "count", dims, start, end)), 60,
                what=f"{node} {series}: SampleCount/Sum {want}")
            assert got == want


def test_cold_node_reads_sealed_data_from_object_storage(cluster: Cluster):
    """A node with an empty disk answers for data the log no longer holds."""
    cw = cluster.client("cloudwatch", "n1")
    host = uuid.uuid4().hex[:8]
    dims = [{"Name": "host", "Value": host}]
    t = now()
    for i in range(20):
        cw.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "cold", "Dimensions": dims, "Value": float(i), "Timestamp": t - dt.timedelta(seconds=i)}])
    # Wait until two commits passed our writes: the log is trimmed below the older one.
    marks = {p["partition"]: p["log_last_seq"] for p in cluster.status("n1")["partitions"]}

    def trimmed():
        st = cluster.status("n1")
        return all(p["log_first_seq"] is not None and p["log_first_seq"] > marks[p["partition"]]
                   for p in st["partitions"] if marks[p["partition"]]) or None

    wait_for(trimmed, 120, what="the log trimmed past the writes")
    cluster.kill("n3")
    import shutil
    shutil.rmtree(cluster.root / "n3" / "data" / "cluster")
    cluster.restart("n3")
    cw3 = cluster.client("cloudwatch", "n3")
    got = stats(cw3, "cold", dims, t - dt.timedelta(minutes=5), t + dt.timedelta(minutes=5), period=3600)
    assert sum(p[1] for p in got) == 20 and sum(p[2] for p in got) == sum(range(20))
    log = cluster.log("n3")
    assert "partition replica loaded" in log


def run_story_agent(cluster: Cluster, tag: str) -> list[dict]:
    """Starts `stratus agent` with the story config against n1 (an agent-policy key made
    with `stratus keys create`); returns the dimensions of its disk_used_percent for /."""
    import json

    from conftest import StratusAgent, closed_port_endpoint
    work = cluster.root / f"agent-{tag}"
    work.mkdir()
    out = stratus_cli(cluster, "keys", "create", "--name", f"agent-{tag}", "--policy", "agent",
                      "--endpoint", cluster.nodes["n1"]["endpoint"], "--output", "json")
    k = json.loads(out)
    creds = work / "credentials"
    creds.write_text(f"[AmazonCloudWatchAgent]\naws_access_key_id = {k['AccessKeyId']}\n"
                     f"aws_secret_access_key = {k['SecretAccessKey']}\n")
    config = {"agent": {"metrics_collection_interval": 1, "instance_id": f"i-{tag}",
                        "logfile": str(work / "agent.log"), "spool_dir": str(work / "spool")},
              "metrics": {"append_dimensions": {"InstanceId": "${aws:InstanceId}"},
                          "endpoint_override": cluster.nodes["n1"]["endpoint"], "force_flush_interval": 1,
                          "metrics_collected": {"disk": {"measurement": ["used_percent"],
                                                         "metrics_collection_interval": 1,
                                                         "resources": ["/"]}}}}
    agent = StratusAgent(work, config, credentials_file=creds,
                         env={"STRATUS_IMDS_ENDPOINT": closed_port_endpoint()}).start()
    cw = cluster.client("cloudwatch", "n3")
    metrics = wait_for(lambda: cw.list_metrics(Namespace="CWAgent", MetricName="disk_used_percent",
                                               Dimensions=[{"Name": "InstanceId", "Value": f"i-{tag}"}])["Metrics"],
                       60, what="the agent's disk metric on another node")
    agent.assert_running()
    return metrics[0]["Dimensions"]


def test_story_on_a_cluster_with_the_alarm_owner_killed(cluster: Cluster, relay):
    """Agent-style data → alarm → confirmed email subscription → exactly one ALARM email;
    then the node evaluating the alarm is killed and the OK transition still arrives,
    exactly once, from another node."""
    from notify_support import body_of, confirm_email

    inbox = relay.inbox
    tag = uuid.uuid4().hex[:8]
    address = f"ops-{tag}@example.com"
    alarm = f"disk-root-50-{tag}"
    sns = cluster.client("sns", "n2")
    cw = cluster.client("cloudwatch", "n3")
    topic = sns.create_topic(Name=f"ops-{tag}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    confirm_email(inbox, address)
    # The seed story's agent (DESIGN.md §1) on this host, reporting to n1: its disk
    # metric, with the dimensions it really has, is what the alarm watches.
    agent_dims = run_story_agent(cluster, tag)
    story_alarm = f"story-{tag}"
    cw.put_metric_alarm(AlarmName=story_alarm, Namespace="CWAgent", MetricName="disk_used_percent",
                        Dimensions=agent_dims, Statistic="Maximum", Period=10, EvaluationPeriods=1,
                        Threshold=0, ComparisonOperator="GreaterThanOrEqualToThreshold",
                        AlarmActions=[topic])
    story_subject = f'ALARM: "{story_alarm}" in US East (N. Virginia)'
    (mail,) = inbox.wait_for(address, story_subject)
    assert f"[InstanceId = i-{tag}]" in body_of(mail)
    cw.delete_alarms(AlarmNames=[story_alarm])

    # Then an alarm driven through other nodes, whose evaluator is killed mid-way.
    dims = [{"Name": "InstanceId", "Value": f"i-{tag}"}, {"Name": "path", "Value": "/x"}]
    cw.put_metric_alarm(AlarmName=alarm, Namespace="CWAgent", MetricName="disk_used_percent",
                        Dimensions=dims, Statistic="Average", Period=10, EvaluationPeriods=1,
                        Threshold=50, ComparisonOperator="GreaterThanOrEqualToThreshold",
                        AlarmActions=[topic], OKActions=[topic])

    def drive(value: float, want: str, via: str):
        c = cluster.client("cloudwatch", via)
        deadline = time.time() + 90
        while time.time() < deadline:
            c.put_metric_data(Namespace="CWAgent", MetricData=[
                {"MetricName": "disk_used_percent", "Dimensions": dims, "Value": value,
                 "Unit": "Percent", "Timestamp": now(), "StorageResolution": 1}])
            if c.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == want:
                return
            time.sleep(1)
        raise AssertionError(f"{alarm} never reached {want}")

    drive(55.5, "ALARM", "n1")
    subject = f'ALARM: "{alarm}" in US East (N. Virginia)'
    (mail,) = inbox.wait_for(address, subject)
    assert "INSUFFICIENT_DATA -> ALARM" in body_of(mail)

    # Kill the evaluator holding the alarm's shard (not the node we talk to).
    shard = fnv_shard(alarm)
    st = cluster.status("n3")
    [owner] = [lease["owner"] for lease in st["leases"]
               if lease["kind"] == "alarm-shard" and lease["id"] == shard and lease["expires_in_ms"] > 0]
    talk = next(n for n in ("n1", "n2", "n3") if n != owner)
    cluster.kill(owner)
    drive(40.5, "OK", talk)
    ok_subject = f'OK: "{alarm}" in US East (N. Virginia)'
    inbox.wait_for(address, ok_subject)
    time.sleep(15)  # anything duplicated would have arrived by now
    assert len([m for m in inbox.to(address) if str(m["Subject"]) == subject]) == 1
    assert len([m for m in inbox.to(address) if str(m["Subject"]) == ok_subject]) == 1
    new_owner = [lease["owner"] for lease in cluster.status(talk)["leases"]
                 if lease["kind"] == "alarm-shard" and lease["id"] == shard and lease["expires_in_ms"] > 0]
    assert new_owner and new_owner[0] != owner
    cluster.restart(owner)


def test_paused_owner_is_fenced(cluster: Cluster):
    """An owner paused (SIGSTOP: a GC pause, a frozen VM) after uploading and before
    committing loses its lease; another node takes the partition over and commits; when
    the first resumes (SIGCONT), its commit is refused. Every acknowledged datapoint is
    still served by every node. (A fault-injection delay holds the commit in that window
    for 5 s so the test can stop the process there.)"""
    env_before = dict(cluster.env)
    cluster.env["STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_COMMIT_MS"] = "5000"
    try:
        cluster.restart("n1")
    finally:
        cluster.env.clear()
        cluster.env.update(env_before)
    # n1 takes back its share of partitions; writes keep arriving, so its first commit
    # comes — and stalls.
    host = uuid.uuid4().hex[:8]
    cw = cluster.client("cloudwatch", "n2")
    t = now()
    sent = 0.0
    deadline = time.time() + 120
    i = 0
    while "fault injection: pausing before the commit" not in cluster.log("n1"):
        assert time.time() < deadline, "n1 never stalled in a commit"
        for k in range(8):
            dims = [{"Name": "host", "Value": f"{host}-{k}"}]
            cw.put_metric_data(Namespace=NS, MetricData=[
                {"MetricName": "zombie", "Dimensions": dims, "Value": float(i), "Timestamp": t}])
            sent += i
            i += 1
        time.sleep(0.5)
    # The whole process stops there, past its lease; another node takes over and commits.
    cluster.kill("n1", signal.SIGSTOP)
    try:
        time.sleep(3 * 6 + 5)
    finally:
        cluster.kill("n1", signal.SIGCONT)
    # More data (another node owns the partitions by now). Values no request above
    # had: a byte-identical request would be one write (docs/cluster.md).
    for k in range(8):
        dims = [{"Name": "host", "Value": f"{host}-{k}"}]
        cw.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "zombie", "Dimensions": dims, "Value": 0.5, "Timestamp": t}])
        sent += 0.5
    wait_for(lambda: "commit fenced" in cluster.log("n1") or None, 90, what="n1's commit fenced")
    # Whoever owns the partitions now, the data is whole on every node.
    def node_total(node):
        c = cluster.client("cloudwatch", node)
        total = 0.0
        for k in range(8):
            dims = [{"Name": "host", "Value": f"{host}-{k}"}]
            total += sum(p[2] for p in stats(c, "zombie", dims, t - dt.timedelta(minutes=2),
                                             t + dt.timedelta(minutes=2), period=3600))
        return total

    for node in ("n1", "n2", "n3"):
        try:
            wait_for(lambda node=node: node_total(node) == sent or None, 60,
                     what=f"every datapoint on {node}")
        except AssertionError as e:
            seen = {n: node_total(n) for n in ("n1", "n2", "n3")}
            parts = [(p["partition"], p["owner"], p["committed_seq"], p["applied_seq"],
                      p["log_first_seq"], p["log_last_seq"], p["error"])
                     for p in cluster.status(node)["partitions"]]
            raise AssertionError(f"{e}: sent {sent}, seen {seen}, {node}'s partitions {parts}") from e
    cluster.restart("n1")  # without the fault


def services(cluster: Cluster, call: str) -> None:
    import subprocess

    from conftest import REPO

    subprocess.run(["bash", "-c", f'source "{REPO}/scripts/lib/cluster-services.sh" && {call}'],
                   check=True, env=cluster.env, capture_output=True, timeout=180)


def test_postgres_restart_loses_nothing(cluster: Cluster):
    """PostgreSQL restarted with `pg_ctl restart -m immediate`: nodes reconnect by
    themselves; metadata and metrics written before and after are all there."""
    tag = uuid.uuid4().hex[:8]
    cw = cluster.client("cloudwatch", "n1", retries=8)
    dims = [{"Name": "host", "Value": tag}]
    t = now()
    cw.put_metric_alarm(AlarmName=f"before-{tag}", Namespace=NS, MetricName="pg", Dimensions=dims,
                        Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1e9,
                        ComparisonOperator="GreaterThanThreshold")
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "pg", "Dimensions": dims, "Value": 1.0, "Timestamp": t}])
    import subprocess

    from conftest import CLUSTER_UP
    subprocess.run([str(CLUSTER_UP), "--pg-restart", str(cluster.root)], check=True,
                   env=cluster.env, capture_output=True, timeout=180)

    def works():
        try:
            cluster.client("cloudwatch", "n2").put_metric_alarm(
                AlarmName=f"after-{tag}", Namespace=NS, MetricName="pg", Dimensions=dims,
                Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1e9,
                ComparisonOperator="GreaterThanThreshold")
            return True
        except botocore.exceptions.ClientError:
            return None

    wait_for(works, 60, what="metadata writes after the restart")
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "pg", "Dimensions": dims, "Value": 2.0, "Timestamp": t}])
    for node in ("n1", "n2", "n3"):
        c = cluster.client("cloudwatch", node, retries=8)
        names = [a["AlarmName"] for a in c.describe_alarms(AlarmNamePrefix=f"before-{tag}")["MetricAlarms"]]
        names += [a["AlarmName"] for a in c.describe_alarms(AlarmNamePrefix=f"after-{tag}")["MetricAlarms"]]
        assert sorted(names) == [f"after-{tag}", f"before-{tag}"]
        wait_for(lambda c=c: totals(c, "pg", dims, t - dt.timedelta(minutes=2), t + dt.timedelta(minutes=2)) == (2, 3.0) or None,
                 60, what=f"both datapoints on {node}")
    st = cluster.status("n3")
    assert sorted(n["id"] for n in st["nodes"] if n["live"]) == ["n1", "n2", "n3"]


def cluster_up(cluster: Cluster, *args: str) -> None:
    import subprocess

    from conftest import CLUSTER_UP
    cp = subprocess.run([str(CLUSTER_UP), *args], env=cluster.env, capture_output=True,
                        text=True, timeout=180)
    assert cp.returncode == 0, cp.stderr[-3000:]


def test_object_storage_outage(cluster: Cluster):
    """S3 stopped: writes are still acknowledged (they are in the log), reads still
    answered (replicas are local), commits fail and say so in the status; S3 back: every
    partition commits what it missed."""
    host = uuid.uuid4().hex[:8]
    cw = cluster.client("cloudwatch", "n2")
    t = now()
    cluster_up(cluster, "--s3-stop", str(cluster.root))
    try:
        for i in range(30):
            # Distinct bodies: byte-identical requests without a batch id are one write
            # in cluster mode (docs/cluster.md).
            dims = [{"Name": "host", "Value": f"{host}-{i % 8}"}]
            cw.put_metric_data(Namespace=NS, MetricData=[
                {"MetricName": "s3out", "Dimensions": dims, "Value": float(i), "Timestamp": t}])
            time.sleep(0.5)
        marks = {p["partition"]: p["log_last_seq"] for p in cluster.status("n1")["partitions"]}

        def commit_failing():
            st = cluster.status("n1")
            errs = [p["error"] for p in st["partitions"] if p["error"]]
            stale = [p for p in st["partitions"] if (p["committed_seq"] or 0) < marks[p["partition"]]]
            return (errs, stale) if stale else None

        wait_for(commit_failing, 30, what="commits held back while S3 is down")
        # Reads are answered meanwhile, by every node.
        for node in ("n1", "n2", "n3"):
            c = cluster.client("cloudwatch", node)
            def seen(c=c):
                return sum(totals(c, "s3out", [{"Name": "host", "Value": f"{host}-{k}"}],
                                  t - dt.timedelta(minutes=2), t + dt.timedelta(minutes=2))[0]
                           for k in range(8))

            wait_for(lambda: seen() == 30 or None, 30, what=f"reads on {node} (seen {seen()})")
    finally:
        cluster_up(cluster, "--s3-start", str(cluster.root))

    def caught_up():
        st = cluster.status("n1")
        return all((p["committed_seq"] or 0) >= marks[p["partition"]] for p in st["partitions"]) or None

    wait_for(caught_up, 120, what="every partition committed after S3 came back")


def stratus_cli(cluster: Cluster, *args: str) -> str:
    import subprocess

    from conftest import clean_env, stratus_bin
    key, secret = cluster.keys()
    cp = subprocess.run([str(stratus_bin()), *args], capture_output=True, text=True, timeout=300,
                        env=clean_env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret))
    assert cp.returncode == 0, cp.stderr[-3000:]
    return cp.stdout


def test_keys_created_and_deleted_on_one_node_apply_on_all(cluster: Cluster):
    import boto3

    out = stratus_cli(cluster, "keys", "create", "--name", "host-a", "--policy", "agent",
                      "--endpoint", cluster.nodes["n1"]["endpoint"], "--output", "json")
    import json
    k = json.loads(out)

    def client(node):
        return boto3.client("cloudwatch", endpoint_url=cluster.nodes[node]["endpoint"],
                            region_name="us-east-1", aws_access_key_id=k["AccessKeyId"],
                            aws_secret_access_key=k["SecretAccessKey"],
                            config=__import__("botocore.config").config.Config(retries={"max_attempts": 1}))

    def accepted(node):
        try:
            client(node).put_metric_data(Namespace=NS, MetricData=[{"MetricName": "k", "Value": 1.0}])
            return True
        except botocore.exceptions.ClientError as e:
            return e.response["Error"]["Code"]

    for node in ("n2", "n3"):
        wait_for(lambda node=node: accepted(node) is True or None, 10, what=f"the new key on {node}")
    stratus_cli(cluster, "keys", "delete", k["AccessKeyId"], "--endpoint", cluster.nodes["n1"]["endpoint"])
    for node in ("n2", "n3"):
        code = wait_for(lambda node=node: (lambda r: r if r is not True else None)(accepted(node)), 10,
                        what=f"the deleted key refused on {node}")
        assert code in ("InvalidClientTokenId", "UnrecognizedClientException"), code


def test_import_a_single_node_data_directory(cluster: Cluster, tmp_path):
    """`stratus cluster import`: a single node's alarms, topics and metrics (and its
    admin key, sealed with the master key every node shares) are served by the cluster."""
    import shutil

    from conftest import StratusServer, _RUNNING
    data = tmp_path / "single"
    data.mkdir()
    shutil.copy(cluster.root / "master.key", data / "master.key")
    single = StratusServer(data)
    single.start()
    tag = uuid.uuid4().hex[:8]
    cw, sns = single.client("cloudwatch"), single.client("sns")
    t = now() - dt.timedelta(minutes=10)
    dims = [{"Name": "host", "Value": tag}]
    for i in range(50):
        cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "imported", "Dimensions": dims,
                           "Value": float(i), "Timestamp": t + dt.timedelta(seconds=i * 7)}])
    cw.put_metric_alarm(AlarmName=f"imported-{tag}", Namespace=NS, MetricName="imported",
                        Dimensions=dims, Statistic="Sum", Period=60, EvaluationPeriods=1,
                        Threshold=1e9, ComparisonOperator="GreaterThanThreshold")
    topic = sns.create_topic(Name=f"imported-{tag}")["TopicArn"]
    single_key = single.admin_keys()
    single.stop()
    _RUNNING.remove(single)
    out = stratus_cli(cluster, "cluster", "import", "--data-dir", str(data),
                      "--config", str(cluster.root / "n1" / "cluster.toml"))
    assert "and 1 series (50 statistic sets)" in out, out
    for node in ("n1", "n2", "n3"):
        c = cluster.client("cloudwatch", node)
        assert c.describe_alarms(AlarmNames=[f"imported-{tag}"])["MetricAlarms"]
        assert topic in [x["TopicArn"] for x in cluster.client("sns", node).list_topics()["Topics"]]
        wait_for(lambda c=c: totals(c, "imported", dims, t - dt.timedelta(minutes=1), now()) ==
                 (50, float(sum(range(50)))) or None, 60, what=f"imported metrics on {node}")
    # The single node's admin key works against the cluster.
    import boto3
    c = boto3.client("cloudwatch", endpoint_url=cluster.nodes["n2"]["endpoint"], region_name="us-east-1",
                     aws_access_key_id=single_key[0], aws_secret_access_key=single_key[1])
    def accepted():
        try:
            return c.list_metrics(Namespace=NS, MetricName="imported")["Metrics"] or None
        except botocore.exceptions.ClientError:
            return None  # keys reach every node within a second

    wait_for(accepted, 10, what="the imported admin key accepted")


def test_multi_time_series_alarm_on_a_cluster(cluster: Cluster):
    """An alarm on a grouped Metrics Insights query evaluated by the shard owner: its
    contributors in ALARM (stored in PostgreSQL) are listed by every node."""
    n1, n2, n3 = (cluster.client("cloudwatch", n) for n in ("n1", "n2", "n3"))
    ns = f"{NS}/MTS-{uuid.uuid4().hex[:8]}"
    t = time.time()
    values = {"a": 90.0, "b": 70.0, "c": 10.0}
    n1.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "cpu", "Dimensions": [{"Name": "host", "Value": h}], "Value": v,
         "Timestamp": dt.datetime.fromtimestamp(t - s, dt.timezone.utc)}
        for s in range(0, 300, 30) for h, v in values.items()])
    name = f"mts-{uuid.uuid4().hex[:8]}"
    n2.put_metric_alarm(
        AlarmName=name, EvaluationPeriods=1, Threshold=50, ComparisonOperator="GreaterThanThreshold",
        Metrics=[{"Id": "q", "Period": 60, "Expression":
                  f'SELECT AVG(cpu) FROM SCHEMA("{ns}", host) GROUP BY host ORDER BY AVG() DESC'}])

    def breaching(c):
        return sorted(x["ContributorAttributes"]["host"]
                      for x in c.describe_alarm_contributors(AlarmName=name)["AlarmContributors"])

    # The first evaluation may come before every replica has the data: wait for the verdict.
    wait_for(lambda: breaching(n3) == ["a", "b"], 90, what="contributors a and b in ALARM")
    for c in (n1, n2):
        assert breaching(c) == ["a", "b"]
    (a,) = n1.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert a["StateValue"] == "ALARM"
    items = n3.describe_alarm_history(AlarmName=name, HistoryItemType="AlarmContributorStateUpdate")
    assert sorted(i["AlarmContributorAttributes"]["host"] for i in items["AlarmHistoryItems"]) == ["a", "b"]
    n1.delete_alarms(AlarmNames=[name])
    assert n2.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []
