"""Cluster mode with split roles (issue 13, the tests "as written"): four nodes — `g1`,
`g2` play gateway, query and evaluator; `i1`, `i2` play ingester, compactor and notifier —
over eight partitions.

- exactly once: ~20,000 PutMetricData from several client threads through both gateways,
  some deliberately sent twice, across a kill -9 of the ingester holding half the
  partitions, of a NATS server and of a gateway;
- an alarm fires exactly once while its evaluator is SIGSTOPped, and still once after it
  resumes;
- a notifier killed between the SMTP server's acceptance and marking the record: the
  message is re-sent once, with the same Message-ID; everything else exactly once;
- a zombie owner's uploads (a fenced commit) are collected by the garbage collector, and
  the data is whole afterwards, also on a node started with an empty disk."""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import shutil
import signal
import subprocess
import threading
import time
import tomllib
import uuid
from collections import Counter
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

from conftest import CLUSTER_UP, Cluster, cluster_env, fnv_shard, running_cluster, wait_for

NS = "ClusterRoles"
GATEWAYS = ["g1", "g2"]
INGESTERS = ["i1", "i2"]
ROLES = {"g1": "gateway,query,evaluator", "g2": "gateway,query,evaluator",
         "i1": "ingester,compactor,notifier", "i2": "ingester,compactor,notifier"}
PARTITIONS = 8
LEASE_TTL_S = 6  # scripts/cluster-up's default
# Unreferenced objects are collected once this old, looked for this often (test 3). The
# grace outlasts the zombie's pause (5 s fault pause + 23 s SIGSTOP) so its uploads are
# seen before they go.
GC_GRACE_S = 45
GC_EVERY_S = 5


@pytest.fixture(scope="module")
def split(tmp_path_factory, relay):
    env = cluster_env(STRATUS_SMTP_URL=relay.url, STRATUS_CLUSTER_NODES=" ".join(ROLES),
                      STRATUS_CLUSTER_PARTITIONS=str(PARTITIONS),
                      STRATUS_CLUSTER_GC_GRACE_SECS=str(GC_GRACE_S),
                      STRATUS_CLUSTER_GC_EVERY_SECS=str(GC_EVERY_S),
                      **{f"STRATUS_CLUSTER_ROLES_{n}": r for n, r in ROLES.items()})
    with running_cluster(tmp_path_factory.mktemp("split"), env) as c:
        yield c


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def totals(cw, name: str, dims, start, end) -> tuple[float, float]:
    r = cw.get_metric_statistics(Namespace=NS, MetricName=name, Dimensions=dims, StartTime=start,
                                 EndTime=end, Period=3600, Statistics=["SampleCount", "Sum"])
    return (sum(p["SampleCount"] for p in r["Datapoints"]), sum(p["Sum"] for p in r["Datapoints"]))


def partition_owners(cluster: Cluster, via: str) -> Counter:
    return Counter(p["owner"] for p in cluster.status(via)["partitions"])


def shard_owner(cluster: Cluster, via: str, shard: int) -> str | None:
    held = [lease["owner"] for lease in cluster.status(via)["leases"]
            if lease["kind"] == "alarm-shard" and lease["id"] == shard and lease["expires_in_ms"] > 0]
    return held[0] if held else None


def alive(pid: int) -> bool:
    """Running (a zombie waiting for cluster-up's subshell to reap it counts as dead)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split()[2] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def restart_with(cluster: Cluster, node: str, **env: str) -> None:
    """Restarts `node` with extra environment (the others keep theirs)."""
    before = dict(cluster.env)
    cluster.env.update(env)
    try:
        cluster.restart(node)
    finally:
        cluster.env.clear()
        cluster.env.update(before)


def log_since(cluster: Cluster, node: str, offset: int) -> str:
    return cluster.log(node)[offset:]


# ---- 1. exactly once with split roles ---------------------------------------------------

RETRYABLE = (botocore.exceptions.BotoCoreError,)  # refused, reset, timed out


class Sender:
    """PutMetricData from several threads, each with its own boto3 client per gateway
    (clients are not thread-safe). Every request carries its own batch id
    (`x-stratus-batch-id`, as the agent sends) and is retried with that id — on the other
    gateway first — until a gateway acknowledges it, so each request is acknowledged once
    from the client's view whatever dies meanwhile; every 20th is deliberately sent again
    after its acknowledgement. Request i goes to gateway i % 2 first."""

    def __init__(self, cluster: Cluster, host: str, series: int, datums: int):
        self.cluster = cluster
        self.host = host
        self.series = series
        self.datums = datums
        self.lock = threading.Lock()
        self.acked_sum: Counter = Counter()
        self.acked_count: Counter = Counter()
        self.acked = 0
        self.retries = 0
        self.duplicates_sent = 0
        self.errors: list[str] = []

    def _client(self, node: str):
        c = self.cluster.client("cloudwatch", node)
        state: dict[str, str] = {}

        def add_batch_id(request, **_):
            request.headers["x-stratus-batch-id"] = state["id"]

        c.meta.events.register("before-sign.cloudwatch.PutMetricData", add_batch_id)
        return c, state

    def dims(self, series: str) -> list[dict]:
        return [{"Name": "host", "Value": self.host}, {"Name": "series", "Value": series}]

    def _put(self, clients, node: str, batch: str, data) -> None:
        c, state = clients[node]
        state["id"] = batch
        c.put_metric_data(Namespace=NS, MetricData=data)

    def send_one(self, i: int, rnd: random.Random, clients) -> None:
        stamp = now()
        datums = []
        for k in range(self.datums):
            series = f"s{(i * self.datums + k) % self.series}"
            datums.append((series, float(rnd.randrange(1, 1000))))
        data = [{"MetricName": "count", "Dimensions": self.dims(s), "Value": v, "Timestamp": stamp}
                for s, v in datums]
        batch = uuid.uuid4().hex
        order = GATEWAYS[i % 2:] + GATEWAYS[:i % 2]
        deadline = time.monotonic() + 120
        attempt = 0
        while True:
            try:
                self._put(clients, order[attempt % 2], batch, data)
                break
            except (botocore.exceptions.ClientError, *RETRYABLE) as e:
                if isinstance(e, botocore.exceptions.ClientError) and \
                        e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500:
                    with self.lock:
                        self.errors.append(f"request {i} refused: {e}")
                    return
                attempt += 1
                with self.lock:
                    self.retries += 1
                if time.monotonic() > deadline:
                    with self.lock:
                        self.errors.append(f"request {i} never acknowledged: {e}")
                    return
                if attempt % 2 == 0:  # both gateways failed this round
                    time.sleep(0.2)
        with self.lock:
            for s, v in datums:
                self.acked_sum[s] += v
                self.acked_count[s] += 1
            self.acked += 1
        if i % 20 == 0:
            # A deliberate retry of an acknowledged request, on the other gateway.
            try:
                self._put(clients, order[1], batch, data)
                with self.lock:
                    self.duplicates_sent += 1
            except (botocore.exceptions.ClientError, *RETRYABLE):
                pass  # a failed duplicate changes nothing either way

    def run(self, total: int, threads: int) -> float:
        """Sends requests 0..total; returns the seconds it took."""

        def worker(t: int) -> None:
            rnd = random.Random(t)
            clients = {n: self._client(n) for n in GATEWAYS}
            for i in range(t, total, threads):
                self.send_one(i, rnd, clients)

        started = time.monotonic()
        ts = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return time.monotonic() - started


def test_exactly_once_with_split_roles(split: Cluster):
    """~20,000 acknowledged requests (some sent twice on purpose) across a kill -9 of the
    ingester holding half the partitions, a kill -9 and restart of a NATS server and a
    kill -9 of a gateway, the killed nodes started again later: SampleCount and Sum of
    every series, through both gateways, are exactly what was acknowledged."""
    total, threads, series, datums = 20_000, 12, 32, 4
    wait_for(lambda: partition_owners(split, "g2") == Counter({"i1": 4, "i2": 4}) or None, 60,
             what="each ingester owning half the partitions")
    host = uuid.uuid4().hex[:8]
    start = now() - dt.timedelta(minutes=1)
    sender = Sender(split, host, series, datums)
    events: list[str] = []
    chaos_failed: list[BaseException] = []
    t0 = time.monotonic()

    sending_done = threading.Event()

    def at(fraction: float) -> None:
        while sender.acked < total * fraction:
            assert not sending_done.is_set(), f"sending ended at {sender.acked} acknowledged"
            time.sleep(0.05)

    def note(what: str) -> None:
        events.append(f"{time.monotonic() - t0:6.1f}s acked={sender.acked}: {what}")

    def chaos() -> None:
        try:
            at(0.15)
            owners = partition_owners(split, "g2")
            victim = max(INGESTERS, key=lambda n: owners[n])
            assert owners[victim] == PARTITIONS // 2, owners
            split.kill(victim)
            note(f"kill -9 {victim} (owned {owners[victim]} partitions)")
            at(0.30)
            os.kill(split.service_pid("nats2"), signal.SIGKILL)
            note("kill -9 nats2")
            # Two of three NATS servers keep every stream's quorum: writes go on (after
            # the streams nats2 led elect another leader).
            mark, down_until = sender.acked, time.monotonic() + 20
            while sender.acked < mark + 100 and time.monotonic() < down_until:
                time.sleep(0.05)
            note("writes going on without nats2" if sender.acked >= mark + 100
                 else "writes still stalled 20 s after nats2 died")
            subprocess.run([str(CLUSTER_UP), "--restart-nats", str(split.root), "2"], check=True,
                           env=split.env, capture_output=True, timeout=120)
            note("nats2 restarted")
            at(0.45)
            split.kill("g1")
            note("kill -9 g1")
            at(0.70)
            split.restart(victim)
            note(f"{victim} restarted")
            split.restart("g1")
            note("g1 restarted")
        except BaseException as e:  # noqa: BLE001 - reported by the test
            chaos_failed.append(e)

    ct = threading.Thread(target=chaos, daemon=True)
    ct.start()
    try:
        elapsed = sender.run(total, threads)
    finally:
        sending_done.set()
    ct.join(timeout=300)
    rate = total / elapsed
    print(f"\nexactly-once: {total} requests x {datums} datums, {threads} threads: {elapsed:.1f} s, "
          f"{rate:.0f} requests/s; {sender.retries} retries, {sender.duplicates_sent} deliberate "
          f"duplicates acknowledged\n  " + "\n  ".join(events))
    assert not chaos_failed, chaos_failed
    assert not ct.is_alive(), f"the failures did not all happen: {events}"
    assert not sender.errors, sender.errors[:5]
    assert sender.acked == total
    assert sender.retries > 0, "the failures were supposed to cost retries"
    assert sender.duplicates_sent > 0

    end = now() + dt.timedelta(minutes=2)
    want = {s: (sender.acked_count[s], sender.acked_sum[s]) for s in sender.acked_count}
    assert len(want) == series and sum(c for c, _ in want.values()) == total * datums

    for node in GATEWAYS:
        cw = split.client("cloudwatch", node, retries=3)

        def seen():
            return {s: totals(cw, "count", sender.dims(s), start, end) for s in want}

        try:
            wait_for(lambda: seen() == want or None, 120, interval=1, what=f"every series on {node}")
        except AssertionError:
            got = seen()
            diff = {s: (got[s], want[s]) for s in want if got[s] != want[s]}
            raise AssertionError(f"{node}: (seen, acknowledged) differ for {len(diff)} series: {diff}")


# ---- 2. alarm failover with two evaluators and two notifiers -----------------------------

def subscribe_email(split: Cluster, inbox, tag: str) -> tuple[str, str]:
    from notify_support import confirm_email

    address = f"ops-{tag}@example.com"
    sns = split.client("sns", "g1")
    topic = sns.create_topic(Name=f"roles-{tag}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=address)
    confirm_email(inbox, address)
    return topic, address


def put_alarm(cw, name: str, dims, topic: str, ok_too: bool = False) -> None:
    cw.put_metric_alarm(AlarmName=name, Namespace=NS, MetricName="temp", Dimensions=dims,
                        Statistic="Maximum", Period=10, EvaluationPeriods=1, Threshold=50,
                        ComparisonOperator="GreaterThanOrEqualToThreshold", AlarmActions=[topic],
                        OKActions=[topic] if ok_too else [])


def drive(split: Cluster, via: str, alarm: str, dims, value: float, want: str, timeout: float = 90):
    """Puts `value` every second through `via` until the alarm's state is `want`."""
    cw = split.client("cloudwatch", via, retries=3)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cw.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "temp", "Dimensions": dims, "Value": value, "Timestamp": now(),
             "StorageResolution": 1}])
        if cw.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]["StateValue"] == want:
            return
        time.sleep(1)
    raise AssertionError(f"{alarm} never reached {want}")


def subject(state: str, alarm: str) -> str:
    return f'{state}: "{alarm}" in US East (N. Virginia)'


def test_alarm_fires_once_while_its_evaluator_is_paused(split: Cluster, relay):
    """The evaluator holding an alarm's shard is SIGSTOPped; the metric crosses the
    threshold; the other evaluator takes the shard after the lease TTL and the ALARM email
    arrives exactly once. The first resumes (SIGCONT) while the metric is still over the
    threshold: still exactly one email and one transition in the alarm's history."""
    inbox = relay.inbox
    tag = uuid.uuid4().hex[:8]
    topic, address = subscribe_email(split, inbox, tag)
    alarm = f"paused-{tag}"
    dims = [{"Name": "host", "Value": tag}]
    put_alarm(split.client("cloudwatch", "g2"), alarm, dims, topic)
    shard = fnv_shard(alarm)
    owner = wait_for(lambda: shard_owner(split, "g2", shard), 30, what=f"an owner of shard {shard}")
    assert owner in GATEWAYS, owner
    other = next(n for n in GATEWAYS if n != owner)
    log_offset = len(split.log(owner))
    split.kill(owner, signal.SIGSTOP)
    try:
        stopped_at = time.monotonic()
        drive(split, other, alarm, dims, 75.0, "ALARM")
        failover_s = time.monotonic() - stopped_at
        (mail,) = inbox.wait_for(address, subject("ALARM", alarm))
        assert shard_owner(split, other, shard) == other
    finally:
        split.kill(owner, signal.SIGCONT)
    # The resumed evaluator still believes it holds the shard until its lease thread
    # runs again; the metric stays over the threshold meanwhile.
    cw = split.client("cloudwatch", other)
    for _ in range(3 * LEASE_TTL_S):
        cw.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "temp", "Dimensions": dims, "Value": 80.0, "Timestamp": now(),
             "StorageResolution": 1}])
        time.sleep(1)
    wait_for(lambda: (lambda st: owner in [n["id"] for n in st["nodes"] if n["live"]] or None)(
        split.status(other)), 30, what=f"{owner} live again")
    alarms = [m for m in inbox.to(address) if str(m["Subject"]) == subject("ALARM", alarm)]
    assert len(alarms) == 1, [m["Message-ID"] for m in alarms]
    history = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]
    refused = "fenced" in log_since(split, owner, log_offset)
    print(f"\nalarm failover: ALARM {failover_s:.1f} s after SIGSTOP of {owner}; the resumed "
          f"evaluator's commit {'was' if refused else 'was not'} refused by the fence")
    cw.delete_alarms(AlarmNames=[alarm])


def test_paused_evaluators_transition_is_fenced(split: Cluster, relay):
    """The case the fence is for (a resumed evaluator re-reads the alarms first, so above it
    only finds the transition made): the owner is SIGSTOPped after evaluating a transition
    and before committing it (STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_ALARM_COMMIT_MS holds it
    there). The other evaluator takes the shard and commits the transition; when the first
    resumes, its commit is refused by the shard's epoch: one ALARM email, one transition."""
    inbox = relay.inbox
    tag = uuid.uuid4().hex[:8]
    topic, address = subscribe_email(split, inbox, tag)
    paused, other = "g1", "g2"
    log_offset = len(split.log(paused))
    restart_with(split, paused, STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_ALARM_COMMIT_MS="8000")

    def name_on_paused():
        leases = {lease["id"]: lease["owner"] for lease in split.status(other)["leases"]
                  if lease["kind"] == "alarm-shard" and lease["expires_in_ms"] > 0}
        for n in range(200):
            name = f"fenced-{tag}-{n}"
            if leases.get(fnv_shard(name)) == paused:
                return name
        return None

    alarm = wait_for(name_on_paused, 60, what=f"an alarm shard held by {paused} again")
    shard = fnv_shard(alarm)
    dims = [{"Name": "host", "Value": tag}]
    cw = split.client("cloudwatch", other, retries=3)
    put_alarm(cw, alarm, dims, topic)
    pausing = f'fault injection: pausing before the alarm commit shard={shard}'
    deadline = time.monotonic() + 90
    while not any(pausing in line and alarm in line
                  for line in log_since(split, paused, log_offset).splitlines()):
        assert time.monotonic() < deadline, f"{paused} never evaluated {alarm}"
        cw.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "temp", "Dimensions": dims, "Value": 75.0, "Timestamp": now(),
             "StorageResolution": 1}])
        time.sleep(0.25)
    split.kill(paused, signal.SIGSTOP)
    try:
        drive(split, other, alarm, dims, 75.0, "ALARM")
        inbox.wait_for(address, subject("ALARM", alarm))
        assert shard_owner(split, other, shard) == other
    finally:
        split.kill(paused, signal.SIGCONT)
    refused = re.compile(rf"cannot commit alarm state changes error=refused: lease alarm-shard/{shard} "
                         r"is no longer held")
    wait_for(lambda: refused.search(log_since(split, paused, log_offset)) or None, 30,
             what=f"{paused}'s transition refused")
    time.sleep(10)  # a duplicate would have arrived by now
    alarms = [m for m in inbox.to(address) if str(m["Subject"]) == subject("ALARM", alarm)]
    assert len(alarms) == 1, [m["Message-ID"] for m in alarms]
    history = cw.describe_alarm_history(AlarmName=alarm, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [h["HistorySummary"] for h in history] == ["Alarm updated from INSUFFICIENT_DATA to ALARM"]
    cw.delete_alarms(AlarmNames=[alarm])
    restart_with(split, paused)  # without the fault


def test_notifier_killed_between_send_and_mark(split: Cluster, relay):
    """A notifier that dies after the SMTP server accepted a message and before marking
    its record (STRATUS_FAULT_EXIT_AFTER_SEND) while the other notifier is SIGSTOPped:
    once resumed, the other re-sends it after the claim deadline, with the same
    Message-ID — at most two copies (docs/cluster.md); every other message exactly once."""
    inbox = relay.inbox
    tag = uuid.uuid4().hex[:8]
    topic, address = subscribe_email(split, inbox, tag)
    alarm = f"notifier-{tag}"
    dims = [{"Name": "host", "Value": tag}]
    put_alarm(split.client("cloudwatch", "g1"), alarm, dims, topic, ok_too=True)
    # One transition before any fault.
    drive(split, "g1", alarm, dims, 10.0, "OK")
    inbox.wait_for(address, subject("OK", alarm))
    time.sleep(2)  # its record marked: nothing pending for the faulted node to pick up

    faulted, paused = "i1", "i2"
    log_offset = len(split.log(faulted))
    restart_with(split, faulted, STRATUS_FAULT_EXIT_AFTER_SEND="1")
    faulted_pid = split.nodes[faulted]["pid"]
    split.kill(paused, signal.SIGSTOP)
    try:
        drive(split, "g2", alarm, dims, 90.0, "ALARM")
        (first,) = inbox.wait_for(address, subject("ALARM", alarm))
        message_id = first["Message-ID"]
        wait_for(lambda: not alive(faulted_pid) or None, 30, what=f"{faulted} exiting after the send")
        assert "fault injection: exiting after a send" in log_since(split, faulted, log_offset)
        sent_at = time.monotonic()
    finally:
        split.kill(paused, signal.SIGCONT)
    # The record is still pending under the dead node's claim: after the claim runs out
    # (60 s), the resumed notifier sends it again.
    wait_for(lambda: len([m for m in inbox.to(address) if str(m["Subject"]) == subject("ALARM", alarm)]) >= 2
             or None, 120, what="the ALARM email sent again after the claim ran out")
    resent_s = time.monotonic() - sent_at
    restart_with(split, faulted)  # without the fault
    # One more transition after the fault.
    drive(split, "g1", alarm, dims, 20.0, "OK")
    wait_for(lambda: len([m for m in inbox.to(address) if str(m["Subject"]) == subject("OK", alarm)]) >= 2
             or None, 30, what="the second OK email")
    time.sleep(10)  # anything duplicated would have arrived by now
    mails = inbox.to(address)
    copies = Counter(str(m["Message-ID"]) for m in mails)
    alarms = [m for m in mails if str(m["Subject"]) == subject("ALARM", alarm)]
    assert 1 <= len(alarms) <= 2, len(alarms)
    assert {str(m["Message-ID"]) for m in alarms} == {str(message_id)}
    others = {mid: n for mid, n in copies.items() if mid != str(message_id)}
    # The confirmation and two OK transitions, each exactly once.
    assert sorted(others.values()) == [1, 1, 1], copies
    subjects = Counter(str(m["Subject"]) for m in mails if str(m["Message-ID"]) != str(message_id))
    assert subjects == Counter({"AWS Notification - Subscription Confirmation": 1,
                                subject("OK", alarm): 2}), subjects
    print(f"\nnotifier crash: re-sent {resent_s:.1f} s after the faulted send; copies {len(alarms)}")
    split.client("cloudwatch", "g1").delete_alarms(AlarmNames=[alarm])


# ---- 3. a zombie owner's uploads collected ------------------------------------------------

def s3_client(split: Cluster):
    conf = tomllib.loads((split.root / "i1" / "cluster.toml").read_text())["cluster"]["s3"]
    client = boto3.client("s3", endpoint_url=conf["endpoint"], region_name=conf["region"],
                          aws_access_key_id=conf["access_key_id"],
                          aws_secret_access_key=conf["secret_access_key"],
                          config=botocore.config.Config(s3={"addressing_style": "path"}))
    return client, conf["bucket"]


def objects_under(s3, bucket: str, prefix: str) -> list[str]:
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


FENCED = re.compile(r"commit fenced: .* partition=(\d+) epoch=(\d+) seq=(\d+)")


def test_zombie_owners_uploads_are_collected(split: Cluster):
    """An ingester paused (SIGSTOP) after uploading a commit and before committing it is
    fenced when it resumes; the objects that commit uploaded (`p<P>/<epoch>-<seq>/…`) are
    in the bucket at first and deleted by the owner's garbage collection after the grace
    period. Every datapoint is still served by both gateways afterwards, and by a gateway
    started again with an empty disk (every object a manifest names is still there)."""
    zombie = "i1"
    log_offset = len(split.log(zombie))
    restart_with(split, zombie, STRATUS_CLUSTER_FAULT_PAUSE_BEFORE_COMMIT_MS="5000")
    host = uuid.uuid4().hex[:8]
    cw = split.client("cloudwatch", "g2", retries=3)
    t = now()
    sent: Counter = Counter()
    i = 0

    def put(k: int, value: float) -> None:
        cw.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "zombie", "Dimensions": [{"Name": "host", "Value": f"{host}-{k}"}],
             "Value": value, "Timestamp": t}])
        sent[k] += value

    deadline = time.monotonic() + 120
    while "fault injection: pausing before the commit" not in log_since(split, zombie, log_offset):
        assert time.monotonic() < deadline, f"{zombie} never stalled in a commit"
        for k in range(8):
            put(k, float(i))
            i += 1
        time.sleep(0.5)
    # Past its lease: the other ingester takes the partitions over and commits.
    split.kill(zombie, signal.SIGSTOP)
    try:
        time.sleep(3 * LEASE_TTL_S + 5)
    finally:
        split.kill(zombie, signal.SIGCONT)
    for k in range(8):
        put(k, 0.5)  # values no request above had: distinct bodies
    fenced = wait_for(lambda: FENCED.findall(log_since(split, zombie, log_offset)) or None, 60,
                      what=f"{zombie}'s commit fenced")
    s3, bucket = s3_client(split)
    prefixes = [f"p{p}/{int(epoch):010}-{int(seq):020}/" for p, epoch, seq in fenced]
    uploaded = {prefix: objects_under(s3, bucket, prefix) for prefix in prefixes}
    assert all(uploaded.values()), f"the fenced commits' uploads are not in the bucket: {uploaded}"
    fenced_at = time.monotonic()

    def data_on(node: str) -> dict[int, float]:
        c = split.client("cloudwatch", node, retries=3)
        return {k: totals(c, "zombie", [{"Name": "host", "Value": f"{host}-{k}"}],
                          t - dt.timedelta(minutes=2), t + dt.timedelta(minutes=2))[1] for k in range(8)}

    want = dict(sent)
    for node in GATEWAYS:
        wait_for(lambda node=node: data_on(node) == want or None, 60, what=f"every datapoint on {node}")
    # Collected once older than the grace period (the owner looks every few seconds).
    wait_for(lambda: all(not objects_under(s3, bucket, p) for p in prefixes) or None,
             GC_GRACE_S + 60, interval=1, what=f"the zombie's objects under {prefixes} collected")
    collected_s = time.monotonic() - fenced_at
    logs = "".join(split.log(n) for n in INGESTERS)
    assert "collected unreferenced objects" in logs
    for node in GATEWAYS:
        assert data_on(node) == want, node
    # A query node with an empty disk loads every partition from the newest commits.
    split.kill("g2")
    shutil.rmtree(split.root / "g2" / "data" / "cluster")
    split.restart("g2")
    assert data_on("g2") == want
    print(f"\nzombie: {len(fenced)} fenced commit(s) {prefixes}, {sum(map(len, uploaded.values()))} "
          f"object(s), collected {collected_s:.1f} s after the fence")
    restart_with(split, zombie)  # without the fault
