"""Cluster mode's capacity (issue 13): each partition is kept by `partition_replicas` (2) of
the three nodes, not by all of them, so the fleet's data grows with the nodes; a node reads
partitions it does not keep from a node that does (a signed peer read that nothing else
can make); a keeper killed leaves the other copy answering and another node takes its
place."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import time
import urllib.error
import urllib.request
import uuid

from conftest import Cluster, partition_of, wait_for

NS = "ClusterCapacity"
NODES = ("n1", "n2", "n3")


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def kept(cluster: Cluster, asked: str) -> dict[int, list[str]]:
    return {p["partition"]: p["holders"] for p in cluster.status(asked)["partitions"]}


def test_each_partition_is_kept_by_two_nodes_and_read_through_any(cluster: Cluster):
    # Every node agrees: each partition has two keepers, and no node keeps everything.
    def settled():
        views = [kept(cluster, n) for n in NODES]
        if any(v != views[0] for v in views):
            return None
        v = views[0]
        if any(len(set(h)) != 2 for h in v.values()):
            return None
        return v

    holders = wait_for(settled, 60, what="every node naming the same two keepers per partition")
    per_node = {n: sorted(p for p, h in holders.items() if n in h) for n in NODES}
    assert sum(len(ps) for ps in per_node.values()) == 16
    for n, ps in per_node.items():
        assert 0 < len(ps) < 8, f"{n} keeps {ps}: the data would not grow with the nodes"

    # On disk too: a node holds replicas of exactly the partitions it keeps (the ones it
    # loaded while the membership settled at start are dropped after the grace period).
    def on_disk(n):
        d = cluster.root / n / "data" / "cluster"
        return sorted(int(p.name[1:]) for p in d.glob("p*") if p.is_dir())

    for n in NODES:
        wait_for(lambda n=n: on_disk(n) == per_node[n] or None, 90,
                 what=f"{n}'s replica directories {per_node[n]} (has {on_disk(n)})")
        st = cluster.status(n)
        ready_here = sorted(p["partition"] for p in st["partitions"] if p["ready_here"])
        assert ready_here == per_node[n]

    # Series in every partition, written through n1; each node reads back every one of
    # them, including those in partitions it does not keep.
    tag = uuid.uuid4().hex[:8]
    t = now() - dt.timedelta(minutes=1)
    series = {}
    i = 0
    while len({partition_of(NS, "v", d) for d in series.values()}) < 8:
        dims = [{"Name": "host", "Value": f"{tag}-{i}"}]
        series[f"{tag}-{i}"] = dims
        i += 1
    cw1 = cluster.client("cloudwatch", "n1")
    for k, (host, dims) in enumerate(series.items()):
        cw1.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "v", "Dimensions": dims, "Value": float(k), "Timestamp": t},
            {"MetricName": "v", "Dimensions": dims, "Value": float(k) + 0.5, "Timestamp": t}])
    for n in NODES:
        cw = cluster.client("cloudwatch", n)
        remote = [h for h, d in series.items() if partition_of(NS, "v", d) not in per_node[n]]
        assert remote, f"{n} keeps every partition the test wrote to"
        for k, (host, dims) in enumerate(series.items()):
            def got(cw=cw, dims=dims):
                r = cw.get_metric_statistics(Namespace=NS, MetricName="v", Dimensions=dims,
                                             StartTime=t - dt.timedelta(minutes=5),
                                             EndTime=t + dt.timedelta(minutes=5), Period=600,
                                             Statistics=["SampleCount", "Sum", "Maximum"])
                pts = r["Datapoints"]
                return (pts[0]["SampleCount"], pts[0]["Sum"], pts[0]["Maximum"]) if pts else None
            want = (2.0, 2 * k + 0.5, k + 0.5)
            wait_for(lambda: got() == want or None, 30, what=f"{host} through {n}: {want}")
        # ListMetrics on every node sees every series, local or not.
        listed = set()
        for page in cw.get_paginator("list_metrics").paginate(Namespace=NS, MetricName="v"):
            listed |= {m["Dimensions"][0]["Value"] for m in page["Metrics"]
                       if m["Dimensions"][0]["Value"].startswith(tag)}
        assert listed == set(series), f"{n} lists {len(listed)} of {len(series)}"


def peer_post(url: str, body: bytes, auth: str | None) -> tuple[int, bytes]:
    req = urllib.request.Request(url + "/_stratus/cluster/read", data=body, method="POST")
    if auth is not None:
        req.add_header("x-stratus-cluster-auth", auth)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_peer_endpoint_answers_only_cluster_nodes(cluster: Cluster):
    """Reads between nodes bypass SigV4, so the endpoint must refuse anyone who does not
    hold the cluster's master key: no signature, a forged one, a stale one."""
    url = cluster.nodes["n2"]["endpoint"]
    master = (cluster.root / "n1" / "data" / "master.key").read_bytes()
    secret = hmac.new(master, b"stratus cluster peer reads v1", hashlib.sha256).digest()

    def sign(body: bytes, secs: int, key: bytes = secret) -> str:
        tag = hmac.new(key, f"{secs}\n".encode() + body, hashlib.sha256).hexdigest()
        return f"{secs}.{tag}"

    # A List request for partition 0, every series (tsdb::wire::ReadRequest).
    body = bytes([1, 2, 1, 0, 0, 0, 0, 0, 10])
    status, answer = peer_post(url, body, None)
    assert status == 401, (status, answer)
    status, _ = peer_post(url, body, sign(body, int(time.time()), key=b"x" * 32))
    assert status == 401, "signed with another key"
    status, _ = peer_post(url, body, sign(body, int(time.time()) - 3600))
    assert status == 401, "an hour old"
    status, _ = peer_post(url, body + b"\0", sign(body, int(time.time())))
    assert status == 401, "the body is signed"
    # Signed but malformed: a clear 400, nothing served.
    bad = b"\x01\x09"
    status, answer = peer_post(url, bad, sign(bad, int(time.time())))
    assert status == 400 and b"malformed" in answer, (status, answer)
    # Properly signed: an answer (or 503 when n2 does not keep partition 0).
    status, answer = peer_post(url, body, sign(body, int(time.time())))
    holders = kept(cluster, "n2")[0]
    assert status == (200 if "n2" in holders else 503), (status, answer, holders)


def test_a_keeper_killed_leaves_the_other_copy_answering(cluster: Cluster):
    holders = kept(cluster, "n1")
    # A partition kept by n2 and n3 but not n1: kill n2; n1 reads it from n3 at once, and
    # (after the lease TTL) n1 is chosen as its second keeper and loads it.
    target = next(p for p, h in holders.items() if "n1" not in h)
    victim = holders[target][0]
    survivor = holders[target][1]
    tag = uuid.uuid4().hex[:8]
    t = now() - dt.timedelta(minutes=1)
    i = 0
    while True:
        dims = [{"Name": "host", "Value": f"{tag}-{i}"}]
        if partition_of(NS, "k", dims) == target:
            break
        i += 1
    cw1 = cluster.client("cloudwatch", "n1")
    cw1.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "k", "Dimensions": dims, "Value": 41.0, "Timestamp": t}])

    def total():
        r = cw1.get_metric_statistics(Namespace=NS, MetricName="k", Dimensions=dims,
                                      StartTime=t - dt.timedelta(minutes=5),
                                      EndTime=t + dt.timedelta(minutes=5), Period=600,
                                      Statistics=["Sum"])
        return sum(p["Sum"] for p in r["Datapoints"])

    wait_for(lambda: total() == 41.0 or None, 30, what="the datum through n1")
    cluster.kill(victim)
    try:
        # The other copy answers meanwhile (a read may wait out one failed connection).
        started = time.time()
        assert total() == 41.0
        assert time.time() - started < 15
        cw1.put_metric_data(Namespace=NS, MetricData=[
            {"MetricName": "k", "Dimensions": dims, "Value": 1.0, "Timestamp": t}])
        wait_for(lambda: total() == 42.0 or None, 60, what="a write after the kill, read through n1")

        def replaced():
            st = cluster.status("n1")
            p = next(p for p in st["partitions"] if p["partition"] == target)
            return (p["holders"], p["ready_here"], p["owner"]) if victim not in p["holders"] \
                and p["ready_here"] and p["owner"] in p["holders"] else None

        new_holders, _, owner = wait_for(replaced, 90, what=f"partition {target} kept again by two live nodes")
        assert sorted(new_holders) == sorted(["n1", survivor])
        assert total() == 42.0
    finally:
        cluster.restart(victim)
    # Back: the restarted node is a keeper again and everything still reads the same.
    wait_for(lambda: victim in kept(cluster, "n1")[target] or None, 60, what=f"{victim} keeping {target} again")
    assert total() == 42.0
