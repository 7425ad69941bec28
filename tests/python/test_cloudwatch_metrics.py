"""CloudWatch metrics API through boto3: put, list, statistics, GetMetricData, validation.

Runs under two venvs: current botocore (awsJson1_0) and botocore 1.42.6 (awsQuery).
STRATUS_EXPECT_PROTOCOL says which one must be on the wire; `test_wire_protocol`
checks it, every other test is protocol-agnostic. Expected statistics come from
`expect.py`, never from the server.
"""

from __future__ import annotations

import json
import math
import random
import time
import uuid

import botocore
import botocore.exceptions
import pytest

import rawsig
from expect import Slot, StatSet, assert_stats, epoch, floor_to, utc

ALL_STATS = ["SampleCount", "Average", "Sum", "Minimum", "Maximum"]


# -- helpers ----------------------------------------------------------------------


def base_time() -> int:
    """An hour boundary 2 hours back: recent enough for 1 s and 60 s periods, never in the future."""
    return floor_to(time.time(), 3600) - 2 * 3600


def dims(**kv: str) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in kv.items()]


def datum(name: str, t: float | None = None, d: list | None = None, **fields) -> dict:
    out: dict = {"MetricName": name, **fields}
    if t is not None:
        out["Timestamp"] = utc(t)
    if d:
        out["Dimensions"] = d
    return out


def put(cw, ns: str, data: list[dict]) -> None:
    # Stay under the 1000-datum request limit.
    for i in range(0, len(data), 1000):
        cw.put_metric_data(Namespace=ns, MetricData=data[i : i + 1000])


def gms(cw, ns, name, start, end, period, d=None, stats=ALL_STATS, ext=None, unit=None) -> list[dict]:
    kw = dict(
        Namespace=ns,
        MetricName=name,
        Dimensions=d or [],
        StartTime=utc(start),
        EndTime=utc(end),
        Period=period,
    )
    if stats:
        kw["Statistics"] = stats
    if ext:
        kw["ExtendedStatistics"] = ext
    if unit:
        kw["Unit"] = unit
    resp = cw.get_metric_statistics(**kw)
    assert resp["Label"] == name
    return resp["Datapoints"]


def by_time(dps: list[dict]) -> dict[int, dict]:
    out: dict[int, dict] = {}
    for dp in dps:
        t = epoch(dp["Timestamp"])
        assert t not in out, f"two datapoints at {t}: {dps}"
        out[t] = dp
    return out


def metric_key(m: dict) -> tuple:
    return (
        m["Namespace"],
        m["MetricName"],
        frozenset((d["Name"], d["Value"]) for d in m.get("Dimensions", [])),
    )


def list_all(cw, **kw) -> list[dict]:
    out: list[dict] = []
    for page in cw.get_paginator("list_metrics").paginate(**kw):
        out.extend(page["Metrics"])
    return out


def series(res: dict) -> dict[int, float]:
    ts = [epoch(t) for t in res["Timestamps"]]
    assert len(ts) == len(res["Values"]), res
    assert len(set(ts)) == len(ts), f"duplicate timestamps in {res['Id']}: {ts}"
    return dict(zip(ts, res["Values"]))


def assert_series(got: dict[int, float], want: dict[int, float]) -> None:
    assert sorted(got) == sorted(want), f"timestamps differ: got {sorted(got)}, want {sorted(want)}"
    for t, v in want.items():
        assert math.isclose(got[t], v, rel_tol=1e-9, abs_tol=1e-9), f"at {t}: got {got[t]}, want {v}"


# -- protocol ---------------------------------------------------------------------


def test_wire_protocol(cw, protocol, ns):
    """The client really speaks the protocol this run is meant to test, and the server answers in it."""
    sent: list = []

    def capture(request, **_):
        sent.append(request)

    cw.meta.events.register("before-send.cloudwatch", capture)
    try:
        resp = cw.list_metrics(Namespace=ns)
    finally:
        cw.meta.events.unregister("before-send.cloudwatch", capture)
    assert len(sent) >= 1
    req = sent[-1]
    headers = {k.lower(): v for k, v in req.headers.items()}
    ctype = headers.get("content-type", "")
    ctype = ctype.decode() if isinstance(ctype, bytes) else ctype
    body = req.body if isinstance(req.body, bytes) else (req.body or "").encode()
    if protocol == "json":
        assert ctype == "application/x-amz-json-1.0", headers
        target = headers.get("x-amz-target")
        target = target.decode() if isinstance(target, bytes) else target
        assert target == "GraniteServiceVersion20100801.ListMetrics"
        assert json.loads(body) == {"Namespace": ns}
    else:
        assert ctype.startswith("application/x-www-form-urlencoded"), headers
        assert "x-amz-target" not in headers
        assert b"Action=ListMetrics" in body and b"Version=2010-08-01" in body
    assert "monitoring/aws4_request" in str(headers.get("authorization"))
    http_headers = resp["ResponseMetadata"]["HTTPHeaders"]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert http_headers.get("x-amzn-requestid"), http_headers
    assert resp["ResponseMetadata"].get("RequestId")
    want_ctype = "application/x-amz-json-1.0" if protocol == "json" else "text/xml"
    assert http_headers.get("content-type", "").startswith(want_ctype), http_headers
    assert resp["Metrics"] == []


def test_botocore_version_matches_protocol(protocol):
    major, minor, patch = (int(x) for x in botocore.__version__.split(".")[:3])
    is_query_era = (major, minor, patch) <= (1, 42, 6)
    assert is_query_era == (protocol == "query"), (botocore.__version__, protocol)


# -- put + statistics -------------------------------------------------------------


def test_single_values_five_statistics(cw, ns):
    t0 = base_time()
    minutes = {0: [1, 2, 3, 4, 100], 1: [10.5, -3.25, 7], 2: [42]}
    data, slots = [], {}
    for m, vals in minutes.items():
        slot = slots.setdefault(t0 + 60 * m, Slot())
        for i, v in enumerate(vals):
            data.append(datum("latency", t0 + 60 * m + i, dims(host="a"), Value=v, Unit="Count"))
            slot.add_value(v)
    put(cw, ns, data)

    dps = by_time(gms(cw, ns, "latency", t0, t0 + 300, 60, d=dims(host="a")))
    assert sorted(dps) == sorted(slots)
    for t, slot in slots.items():
        assert_stats(dps[t], slot)
        assert set(dps[t]) >= set(ALL_STATS)
        assert dps[t]["Unit"] == "Count"

    # One 180 s period covers all three minutes.
    merged = Slot()
    for vals in minutes.values():
        for v in vals:
            merged.add_value(v)
    dps = by_time(gms(cw, ns, "latency", t0, t0 + 180, 180, d=dims(host="a")))
    assert list(dps) == [t0]
    assert_stats(dps[t0], merged)

    # Only the requested statistics come back.
    only = gms(cw, ns, "latency", t0, t0 + 60, 60, d=dims(host="a"), stats=["Maximum"])
    assert len(only) == 1 and only[0]["Maximum"] == 100
    assert not ({"Sum", "Minimum", "Average", "SampleCount"} & set(only[0]))

    # Dimensions must match exactly: the metric without dimensions has no data.
    assert gms(cw, ns, "latency", t0, t0 + 300, 60) == []


def test_values_counts_and_percentiles(cw, ns):
    rng = random.Random(20261125)
    t0 = base_time()
    slots: dict[int, Slot] = {}
    data = []
    for m in range(4):
        t = t0 + 60 * m
        slot = slots.setdefault(t, Slot())
        for k in range(3):
            vals = sorted(rng.sample(range(0, 10_000), rng.randint(20, 150)))
            vals = [v / 10 for v in vals]
            counts = [float(rng.randint(1, 5)) for _ in vals]
            data.append(datum("resp", t + k, Values=vals, Counts=counts, Unit="Milliseconds"))
            for v, c in zip(vals, counts):
                slot.add_value(v, c)
        for k in range(5):
            v = round(rng.uniform(0, 1000), 3)
            data.append(datum("resp", t + 10 + k, Value=v, Unit="Milliseconds"))
            slot.add_value(v)
    # Values without Counts: each value counts once.
    t_last = t0 + 60 * 4
    data.append(datum("resp", t_last, Values=[5.0, 1.0, 3.0], Unit="Milliseconds"))
    slots[t_last] = Slot()
    for v in (5.0, 1.0, 3.0):
        slots[t_last].add_value(v)
    rng.shuffle(data)
    put(cw, ns, data)

    pcts = ["p0", "p50", "p90", "p99", "p99.9", "p100"]
    dps = by_time(gms(cw, ns, "resp", t0, t0 + 300, 60, ext=pcts))
    assert sorted(dps) == sorted(slots)
    for t, slot in slots.items():
        dp = dps[t]
        assert_stats(dp, slot)
        assert dp["Unit"] == "Milliseconds"
        got = dp.get("ExtendedStatistics", {})
        for p in pcts:
            want = slot.percentile(p)
            assert p in got, f"{p} missing at {t}: {dp}"
            assert math.isclose(got[p], want, rel_tol=1e-9), f"{p} at {t}: server {got[p]}, expected {want}"

    # Only extended statistics requested: the datapoints still come, with the percentiles.
    only = by_time(gms(cw, ns, "resp", t0, t0 + 120, 60, stats=None, ext=["p50"]))
    assert sorted(only) == [t0, t0 + 60]
    for t, dp in only.items():
        assert math.isclose(dp["ExtendedStatistics"]["p50"], slots[t].percentile("p50"), rel_tol=1e-9)

    # A 5-minute period merges all slots; percentiles over the whole population.
    merged = Slot()
    for slot in slots.values():
        merged.values.extend(slot.values)
    dp = gms(cw, ns, "resp", t0, t0 + 300, 300, ext=["p50", "p90"])
    assert len(dp) == 1
    assert_stats(dp[0], merged)
    for p in ("p50", "p90"):
        assert math.isclose(dp[0]["ExtendedStatistics"][p], merged.percentile(p), rel_tol=1e-9)


def test_statistic_sets_mixed_with_values(cw, ns):
    t0 = base_time()
    slots = {t0: Slot(), t0 + 60: Slot(), t0 + 120: Slot()}
    data = [
        # minute 0: a statistic set with Min != Max plus a value -> no percentiles.
        datum("q", t0, StatisticValues={"SampleCount": 4, "Sum": 10, "Minimum": 1, "Maximum": 4}),
        datum("q", t0 + 5, Value=7),
        # minute 1: a statistic set with Min == Max counts as 3 copies of 5.
        datum("q", t0 + 60, StatisticValues={"SampleCount": 3, "Sum": 15, "Minimum": 5, "Maximum": 5}),
        datum("q", t0 + 61, Values=[1, 9], Counts=[1, 1]),
        # minute 2: two statistic sets only.
        datum("q", t0 + 120, StatisticValues={"SampleCount": 2, "Sum": 30, "Minimum": 10, "Maximum": 20}),
        datum("q", t0 + 150, StatisticValues={"SampleCount": 1, "Sum": 2.5, "Minimum": 2.5, "Maximum": 2.5}),
    ]
    slots[t0].add_set(StatSet(4, 10, 1, 4))
    slots[t0].add_value(7)
    slots[t0 + 60].add_set(StatSet(3, 15, 5, 5))
    slots[t0 + 60].add_value(1)
    slots[t0 + 60].add_value(9)
    slots[t0 + 120].add_set(StatSet(2, 30, 10, 20))
    slots[t0 + 120].add_set(StatSet(1, 2.5, 2.5, 2.5))
    put(cw, ns, data)

    dps = by_time(gms(cw, ns, "q", t0, t0 + 180, 60, ext=["p50", "p90"]))
    assert sorted(dps) == sorted(slots)
    for t, slot in slots.items():
        assert_stats(dps[t], slot)
        got = dps[t].get("ExtendedStatistics") or {}
        for p in ("p50", "p90"):
            want = slot.percentile(p)
            if want is None:
                assert got.get(p) is None, f"{p} at {t} must be unavailable (statistic set), got {got}"
            else:
                assert p in got and math.isclose(got[p], want), f"{p} at {t}: {got} want {want}"
    assert slots[t0 + 60].percentile("p50") == 5 and slots[t0 + 60].percentile("p90") == 9


def test_units_filter_and_mixed_units(cw, ns):
    t0 = base_time()
    put(
        cw,
        ns,
        [
            datum("dur", t0 + 1, Value=1, Unit="Seconds"),
            datum("dur", t0 + 2, Value=2, Unit="Seconds"),
            datum("dur", t0 + 3, Value=1000, Unit="Milliseconds"),
            datum("dur", t0 + 4, Value=3000, Unit="Milliseconds"),
            datum("dur", t0 + 5, Value=6000, Unit="Milliseconds"),
            datum("plain", t0 + 1, Value=4),
        ],
    )
    secs = gms(cw, ns, "dur", t0, t0 + 60, 60, unit="Seconds")
    assert len(secs) == 1
    assert (secs[0]["SampleCount"], secs[0]["Sum"], secs[0]["Unit"]) == (2, 3, "Seconds")
    ms = gms(cw, ns, "dur", t0, t0 + 60, 60, unit="Milliseconds")
    assert len(ms) == 1
    assert (ms[0]["SampleCount"], ms[0]["Sum"], ms[0]["Maximum"], ms[0]["Unit"]) == (3, 10000, 6000, "Milliseconds")
    # No conversion between units, and a unit never used matches nothing.
    assert gms(cw, ns, "dur", t0, t0 + 60, 60, unit="Bytes") == []
    # Without a Unit filter each unit aggregates separately (one datapoint per unit).
    mixed = gms(cw, ns, "dur", t0, t0 + 60, 60)
    by_unit = {dp["Unit"]: dp for dp in mixed}
    assert sorted(by_unit) == ["Milliseconds", "Seconds"], mixed
    assert len(mixed) == 2
    assert by_unit["Seconds"]["Sum"] == 3 and by_unit["Milliseconds"]["Sum"] == 10000
    assert all(epoch(dp["Timestamp"]) == t0 for dp in mixed)
    # No Unit given on put means "None".
    plain = gms(cw, ns, "plain", t0, t0 + 60, 60)
    assert len(plain) == 1 and plain[0]["Unit"] == "None" and plain[0]["Sum"] == 4


def test_storage_resolution(cw, ns):
    t = floor_to(time.time(), 60) - 600
    hi = [datum("hr", t + i, Value=float(i), StorageResolution=1) for i in range(10)]
    lo = [
        datum("sr", t + 5, Value=1.0, StorageResolution=60),
        datum("sr", t + 40, Value=3.0),  # default resolution is 60 s
    ]
    put(cw, ns, hi + lo)

    per_second = by_time(gms(cw, ns, "hr", t, t + 10, 1))
    assert sorted(per_second) == [t + i for i in range(10)]
    for i in range(10):
        assert per_second[t + i]["SampleCount"] == 1 and per_second[t + i]["Sum"] == i
    per_10 = gms(cw, ns, "hr", t, t + 10, 10)
    assert len(per_10) == 1 and per_10[0]["SampleCount"] == 10 and per_10[0]["Sum"] == 45
    per_5 = by_time(gms(cw, ns, "hr", t, t + 10, 5))
    assert {k: v["Sum"] for k, v in per_5.items()} == {t: 10, t + 5: 35}

    minute = gms(cw, ns, "sr", t, t + 60, 60)
    assert len(minute) == 1
    assert (minute[0]["SampleCount"], minute[0]["Sum"], epoch(minute[0]["Timestamp"])) == (2, 4, t)


def test_default_timestamp_is_now(cw, ns):
    before = time.time()
    put(cw, ns, [datum("now", Value=9.5)])
    start = floor_to(before, 60) - 60
    dps = gms(cw, ns, "now", start, start + 300, 60)
    assert len(dps) == 1
    assert dps[0]["SampleCount"] == 1 and dps[0]["Sum"] == 9.5
    assert abs(epoch(dps[0]["Timestamp"]) - floor_to(before, 60)) <= 60


def test_out_of_order_late_and_future_points(cw, ns):
    t0 = base_time()
    # Out of order within one request and across requests.
    put(cw, ns, [datum("ooo", t0 + 300, Value=5), datum("ooo", t0 + 60, Value=1), datum("ooo", t0 + 180, Value=3)])
    put(cw, ns, [datum("ooo", t0 + 120, Value=2), datum("ooo", t0, Value=0)])
    # A late point into a minute that already has data.
    put(cw, ns, [datum("ooo", t0 + 300 + 30, Value=50)])
    dps = by_time(gms(cw, ns, "ooo", t0, t0 + 360, 60))
    assert {t: dp["Sum"] for t, dp in dps.items()} == {
        t0: 0,
        t0 + 60: 1,
        t0 + 120: 2,
        t0 + 180: 3,
        t0 + 300: 55,
    }
    assert dps[t0 + 300]["SampleCount"] == 2 and dps[t0 + 300]["Maximum"] == 50

    # Points up to two weeks late are accepted (10 and 13 days back here)...
    now = time.time()
    late = {floor_to(now - 10 * 86400, 60): 10.0, floor_to(now - 13 * 86400, 60): 13.0}
    put(cw, ns, [datum("late", t, Value=v) for t, v in late.items()])
    for t, v in late.items():
        got = gms(cw, ns, "late", t - 600, t + 600, 60)
        assert [(epoch(dp["Timestamp"]), dp["Sum"]) for dp in got] == [(t, v)]

    # ...and so are points up to two hours ahead.
    future = floor_to(now + 3600, 60)
    put(cw, ns, [datum("future", future, Value=7)])
    got = gms(cw, ns, "future", future - 120, future + 120, 60)
    assert [(epoch(dp["Timestamp"]), dp["Sum"]) for dp in got] == [(future, 7)]


# -- ListMetrics ------------------------------------------------------------------


def test_list_metrics_filters(cw, ns):
    t = base_time()
    unique = f"only_{uuid.uuid4().hex[:8]}"
    put(
        cw,
        ns,
        [
            datum("cpu", t, dims(host="a"), Value=1),
            datum("cpu", t, dims(host="b"), Value=1),
            datum("cpu", t, dims(host="a", core="0"), Value=1),
            datum("cpu", t + 1, dims(core="0", host="a"), Value=2),  # same metric, other order
            datum("mem", t, dims(host="a"), Value=1),
            datum("disk", t, Value=1),
            datum(unique, t, dims(host="z"), Value=1),
        ],
    )

    def keys(**kw):
        ms = list_all(cw, **kw)
        ks = [metric_key(m) for m in ms]
        assert len(ks) == len(set(ks)), f"duplicates in {ms}"
        return {(name, d) for _, name, d in ks}

    fs = frozenset
    a = fs({("host", "a")})
    b = fs({("host", "b")})
    a0 = fs({("host", "a"), ("core", "0")})
    z = fs({("host", "z")})
    assert keys(Namespace=ns) == {("cpu", a), ("cpu", b), ("cpu", a0), ("mem", a), ("disk", fs()), (unique, z)}
    assert keys(Namespace=ns, MetricName="cpu") == {("cpu", a), ("cpu", b), ("cpu", a0)}
    assert keys(Namespace=ns, Dimensions=[{"Name": "host", "Value": "a"}]) == {("cpu", a), ("cpu", a0), ("mem", a)}
    # A name-only dimension filter matches any value of that dimension.
    assert keys(Namespace=ns, Dimensions=[{"Name": "core"}]) == {("cpu", a0)}
    assert keys(Namespace=ns, Dimensions=[{"Name": "host"}]) == {
        ("cpu", a),
        ("cpu", b),
        ("cpu", a0),
        ("mem", a),
        (unique, z),
    }
    assert keys(Namespace=ns, MetricName="cpu", Dimensions=[{"Name": "host", "Value": "a"}]) == {("cpu", a), ("cpu", a0)}
    assert keys(Namespace=ns, Dimensions=[{"Name": "host", "Value": "a"}, {"Name": "core", "Value": "0"}]) == {("cpu", a0)}
    assert keys(Namespace=ns, Dimensions=[{"Name": "host", "Value": "nope"}]) == set()
    assert keys(Namespace=ns + "-missing") == set()
    # Metric name alone, across every namespace.
    found = list_all(cw, MetricName=unique)
    assert [metric_key(m) for m in found] == [(ns, unique, z)]


def test_list_metrics_paging(cw, ns):
    t = base_time()
    n = 523
    put(cw, ns, [datum(f"m{i:04d}", t, dims(k=str(i % 7)), Value=float(i)) for i in range(n)])
    first = cw.list_metrics(Namespace=ns)
    assert len(first["Metrics"]) == 500
    assert first.get("NextToken")
    second = cw.list_metrics(Namespace=ns, NextToken=first["NextToken"])
    assert len(second["Metrics"]) == n - 500
    assert not second.get("NextToken")
    names = [m["MetricName"] for m in first["Metrics"] + second["Metrics"]]
    assert sorted(names) == [f"m{i:04d}" for i in range(n)]
    # Same through the paginator, with a filter that still spans pages.
    assert len(list_all(cw, Namespace=ns)) == n
    assert {m["MetricName"] for m in list_all(cw, Namespace=ns, Dimensions=[{"Name": "k", "Value": "3"}])} == {
        f"m{i:04d}" for i in range(n) if i % 7 == 3
    }


# -- GetMetricData ----------------------------------------------------------------


def mstat(qid: str, ns: str, name: str, stat: str = "Average", period: int = 60, d=None, **extra) -> dict:
    return {
        "Id": qid,
        "MetricStat": {
            "Metric": {"Namespace": ns, "MetricName": name, "Dimensions": d or []},
            "Period": period,
            "Stat": stat,
        },
        **extra,
    }


def gmd(cw, queries, start, end, **kw) -> dict[str, dict]:
    resp = cw.get_metric_data(MetricDataQueries=queries, StartTime=utc(start), EndTime=utc(end), **kw)
    out = {r["Id"]: r for r in resp["MetricDataResults"]}
    assert len(out) == len(resp["MetricDataResults"])
    return out


def put_minutes(cw, ns, name, t0, values: dict[int, float], d=None) -> dict[int, float]:
    put(cw, ns, [datum(name, t0 + 60 * m, d, Value=v) for m, v in values.items()])
    return {t0 + 60 * m: v for m, v in values.items()}


def test_get_metric_data_metric_stat_and_labels(cw, ns):
    t0 = base_time()
    d = dims(host="a")
    put(cw, ns, [datum("cpu", t0 + 60 * m + s, d, Value=float(10 * m + s)) for m in range(5) for s in (0, 30)])
    res = gmd(cw, [mstat("m1", ns, "cpu", "Average", d=d)], t0, t0 + 300)
    r = res["m1"]
    assert r["Label"] == "cpu"
    assert r["StatusCode"] == "Complete"
    assert_series(series(r), {t0 + 60 * m: 10 * m + 15.0 for m in range(5)})
    # Default order is TimestampDescending.
    ts = [epoch(x) for x in r["Timestamps"]]
    assert ts == sorted(ts, reverse=True)

    # Different stats in one call: the stat joins the label; different periods: the period too.
    res = gmd(
        cw,
        [
            mstat("s", ns, "cpu", "Sum", d=d),
            mstat("mx", ns, "cpu", "Maximum", d=d),
            mstat("custom", ns, "cpu", "Minimum", d=d, Label="my label"),
        ],
        t0,
        t0 + 300,
    )
    assert res["s"]["Label"] == "cpu Sum"
    assert res["mx"]["Label"] == "cpu Maximum"
    assert res["custom"]["Label"] == "my label"
    assert_series(series(res["s"]), {t0 + 60 * m: 20 * m + 30.0 for m in range(5)})
    assert_series(series(res["mx"]), {t0 + 60 * m: 10 * m + 30.0 for m in range(5)})
    assert_series(series(res["custom"]), {t0 + 60 * m: 10.0 * m for m in range(5)})

    res = gmd(cw, [mstat("a", ns, "cpu", "Sum", 60, d=d), mstat("b", ns, "cpu", "Sum", 120, d=d)], t0, t0 + 240)
    assert res["a"]["Label"] == "cpu 60"
    assert res["b"]["Label"] == "cpu 120"
    assert_series(series(res["b"]), {t0: 30.0 + 50.0, t0 + 120: 70.0 + 90.0})

    # Percentile and SampleCount stats.
    res = gmd(cw, [mstat("p", ns, "cpu", "p50", d=d), mstat("n", ns, "cpu", "SampleCount", d=d)], t0, t0 + 120)
    assert_series(series(res["p"]), {t0: 0.0, t0 + 60: 10.0})
    assert_series(series(res["n"]), {t0: 2.0, t0 + 60: 2.0})

    # A metric without data still gets its entry.
    res = gmd(cw, [mstat("none", ns, "nothing_here")], t0, t0 + 300)
    assert res["none"]["Values"] == [] and res["none"]["Timestamps"] == []
    assert res["none"]["StatusCode"] == "Complete"


def test_get_metric_data_scan_by(cw, ns):
    t0 = base_time()
    want = put_minutes(cw, ns, "x", t0, {m: float(m) for m in range(6)})
    asc = gmd(cw, [mstat("m1", ns, "x", "Sum")], t0, t0 + 360, ScanBy="TimestampAscending")["m1"]
    desc = gmd(cw, [mstat("m1", ns, "x", "Sum")], t0, t0 + 360, ScanBy="TimestampDescending")["m1"]
    assert [epoch(t) for t in asc["Timestamps"]] == sorted(want)
    assert asc["Values"] == [want[t] for t in sorted(want)]
    assert [epoch(t) for t in desc["Timestamps"]] == sorted(want, reverse=True)
    assert desc["Values"] == [want[t] for t in sorted(want, reverse=True)]


def test_get_metric_data_max_datapoints_and_next_token(cw, ns):
    t0 = base_time()
    want = put_minutes(cw, ns, "pg", t0, {m: float(100 + m) for m in range(10)})
    kw = dict(
        MetricDataQueries=[mstat("m1", ns, "pg", "Sum")],
        StartTime=utc(t0),
        EndTime=utc(t0 + 600),
        MaxDatapoints=4,
        ScanBy="TimestampAscending",
    )
    pages, ts, vals = 0, [], []
    token = None
    while True:
        resp = cw.get_metric_data(**kw, **({"NextToken": token} if token else {}))
        pages += 1
        assert pages <= 10, "paging does not terminate"
        n = sum(len(r["Values"]) for r in resp["MetricDataResults"])
        assert n <= 4, f"page {pages} has {n} datapoints > MaxDatapoints"
        for r in resp["MetricDataResults"]:
            assert r["Id"] == "m1"
            ts += [epoch(t) for t in r["Timestamps"]]
            vals += r["Values"]
        token = resp.get("NextToken")
        if not token:
            break
    assert pages >= 3
    assert ts == sorted(want)
    assert vals == [want[t] for t in sorted(want)]


def test_get_metric_data_expressions(cw, ns):
    t0 = base_time()
    m1 = put_minutes(cw, ns, "a", t0, {0: 3, 1: 6, 2: 9, 3: 4, 4: 12, 5: 1})
    m2 = put_minutes(cw, ns, "b", t0, {0: 1, 1: 2, 2: 3, 3: 4, 4: 5, 5: 6})
    res = gmd(
        cw,
        [
            mstat("m1", ns, "a", "Sum", ReturnData=False),
            mstat("m2", ns, "b", "Sum", ReturnData=False),
            {"Id": "e1", "Expression": "m1*2", "Label": "double"},
            {"Id": "e2", "Expression": "m1+m2", "Label": "plus"},
            {"Id": "e3", "Expression": "SUM(METRICS())", "Label": "sum"},
            {"Id": "e4", "Expression": "IF(m1 > 5, m1, 0)", "Label": "if"},
            {"Id": "e5", "Expression": "RATE(m1)", "Label": "rate"},
            {"Id": "e6", "Expression": "(m1 - m2) / 2 + 1", "Label": "arith"},
        ],
        t0,
        t0 + 360,
    )
    assert sorted(res) == ["e1", "e2", "e3", "e4", "e5", "e6"], "ReturnData=False must hide m1 and m2"
    assert res["e1"]["Label"] == "double"
    assert_series(series(res["e1"]), {t: 2 * v for t, v in m1.items()})
    assert_series(series(res["e2"]), {t: m1[t] + m2[t] for t in m1})
    assert_series(series(res["e3"]), {t: m1[t] + m2[t] for t in m1})
    assert_series(series(res["e4"]), {t: (v if v > 5 else 0) for t, v in m1.items()})
    ts = sorted(m1)
    assert_series(series(res["e5"]), {ts[i]: (m1[ts[i]] - m1[ts[i - 1]]) / 60 for i in range(1, len(ts))})
    assert_series(series(res["e6"]), {t: (m1[t] - m2[t]) / 2 + 1 for t in m1})
    for r in res.values():
        assert r["StatusCode"] == "Complete"


def test_get_metric_data_fill(cw, ns):
    t0 = base_time()
    g = put_minutes(cw, ns, "gappy", t0, {0: 1, 1: 2, 3: 4, 5: 6})
    res = gmd(
        cw,
        [mstat("g", ns, "gappy", "Sum", ReturnData=False), {"Id": "f", "Expression": "FILL(g, 0)", "Label": "filled"}],
        t0,
        t0 + 360,
    )
    assert sorted(res) == ["f"]
    assert_series(series(res["f"]), {t0 + 60 * m: g.get(t0 + 60 * m, 0.0) for m in range(6)})


# -- bad inputs -------------------------------------------------------------------

NOW = time.time()


def _bad_put(**datum_fields):
    def run(cw, ns):
        ok = datum("good", NOW - 60, Value=1.0)
        cw.put_metric_data(Namespace=ns, MetricData=[ok, datum("bad", **datum_fields)])

    return run


def _too_many(cw, ns):
    cw.put_metric_data(Namespace=ns, MetricData=[datum(f"m{i}", NOW - 60, Value=1.0) for i in range(1001)])


def _too_many_dims(cw, ns):
    d = [{"Name": f"d{i}", "Value": "v"} for i in range(31)]
    cw.put_metric_data(Namespace=ns, MetricData=[datum("good", NOW - 60, Value=1.0), datum("bad", NOW - 60, d, Value=1.0)])


def _missing_namespace(cw, ns, server):
    raw = server.client("cloudwatch", parameter_validation=False)
    raw.put_metric_data(MetricData=[datum("good", NOW - 60, Value=1.0)])


def _missing_metric_name(cw, ns, server):
    raw = server.client("cloudwatch", parameter_validation=False)
    raw.put_metric_data(Namespace=ns, MetricData=[datum("good", NOW - 60, Value=1.0), {"Value": 2.0}])


def _start_after_end(cw, ns):
    t = base_time()
    gms(cw, ns, "good", t + 600, t, 60)


def _start_equals_end(cw, ns):
    t = base_time()
    gms(cw, ns, "good", t, t, 60)


def _too_many_datapoints(cw, ns):
    t = base_time()
    gms(cw, ns, "good", t - 86400 - 3600, t, 60)  # 1500 one-minute periods


def _bad_period(cw, ns):
    t = base_time()
    gms(cw, ns, "good", t, t + 3600, 45)


def _bad_list_token(cw, ns):
    cw.list_metrics(Namespace=ns, NextToken="not-a-token-%%%")


def _bad_gmd_token(cw, ns):
    t = base_time()
    cw.get_metric_data(
        MetricDataQueries=[mstat("m1", ns, "good")],
        StartTime=utc(t),
        EndTime=utc(t + 600),
        NextToken="garbage-token",
    )


# (case, call, error code, exception class name or None for a plain ClientError, words the message must name)
BAD_INPUTS = [
    ("value_and_values", _bad_put(Timestamp=utc(NOW - 60), Value=1.0, Values=[1.0, 2.0]),
     "InvalidParameterCombination", "InvalidParameterCombinationException", ["Value"]),
    ("value_and_statistic_values",
     _bad_put(Timestamp=utc(NOW - 60), Value=1.0, StatisticValues={"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1}),
     "InvalidParameterCombination", "InvalidParameterCombinationException", ["StatisticValues"]),
    ("values_counts_length", _bad_put(Timestamp=utc(NOW - 60), Values=[1.0, 2.0, 3.0], Counts=[1.0, 2.0]),
     "InvalidParameterValue", "InvalidParameterValueException", ["Counts"]),
    ("timestamp_too_old", _bad_put(Timestamp=utc(NOW - 15 * 86400), Value=1.0),
     "InvalidParameterValue", "InvalidParameterValueException", ["Timestamp"]),
    ("timestamp_too_new", _bad_put(Timestamp=utc(NOW + 3 * 3600), Value=1.0),
     "InvalidParameterValue", "InvalidParameterValueException", ["Timestamp"]),
    ("bad_unit", _bad_put(Timestamp=utc(NOW - 60), Value=1.0, Unit="Furlongs"),
     "ValidationError", None, ["Unit"]),
    ("bad_storage_resolution", _bad_put(Timestamp=utc(NOW - 60), Value=1.0, StorageResolution=30),
     "InvalidParameterValue", "InvalidParameterValueException", ["StorageResolution"]),
    ("too_many_datums", _too_many, "InvalidParameterValue", "InvalidParameterValueException", ["MetricData"]),
    ("too_many_dimensions", _too_many_dims, "InvalidParameterValue", "InvalidParameterValueException", ["Dimensions"]),
    ("missing_namespace", _missing_namespace, "MissingParameter", "MissingRequiredParameterException", ["Namespace"]),
    ("missing_metric_name", _missing_metric_name, "MissingParameter", "MissingRequiredParameterException", ["MetricName"]),
    ("start_after_end", _start_after_end, "InvalidParameterValue", "InvalidParameterValueException", ["StartTime"]),
    ("start_equals_end", _start_equals_end, "InvalidParameterValue", "InvalidParameterValueException", ["StartTime"]),
    ("too_many_datapoints", _too_many_datapoints,
     "InvalidParameterCombination", "InvalidParameterCombinationException", ["1440"]),
    ("bad_period", _bad_period, "InvalidParameterValue", "InvalidParameterValueException", ["Period"]),
    ("bad_list_next_token", _bad_list_token, "InvalidParameterValue", "InvalidParameterValueException", []),
    ("bad_get_metric_data_next_token", _bad_gmd_token, "InvalidNextToken", "InvalidNextToken", []),
]


@pytest.mark.parametrize(
    "call,code,exc_name,words", [pytest.param(*c[1:], id=c[0]) for c in BAD_INPUTS]
)
def test_bad_input_raises_modeled_error(cw, ns, server, call, code, exc_name, words):
    import inspect

    args = (cw, ns, server) if len(inspect.signature(call).parameters) == 3 else (cw, ns)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        call(*args)
    err = ei.value.response["Error"]
    assert err["Code"] == code, ei.value.response
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if exc_name:
        # By name: a call may have used its own client, whose exception classes are distinct objects.
        assert type(ei.value).__name__ == exc_name, type(ei.value)
        assert exc_name in {c.__name__ for c in type(ei.value).__mro__}
    msg = err.get("Message", "")
    assert msg, "error without a message"
    for w in words:
        # AWS's schema errors name members in camelCase paths ('metricData.2.member.unit').
        assert w.lower() in msg.lower(), f"message {msg!r} should name {w!r}"
    # A rejected request changes nothing.
    assert cw.list_metrics(Namespace=ns)["Metrics"] == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_value_rejected(cw, ns, protocol, bad):
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        cw.put_metric_data(Namespace=ns, MetricData=[datum("good", NOW - 60, Value=1.0), datum("bad", NOW - 60, Value=bad)])
    code = ei.value.response["Error"]["Code"]
    assert ei.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    if protocol == "query":
        assert code == "InvalidParameterValue"
        assert isinstance(ei.value, cw.exceptions.InvalidParameterValueException)
    else:
        # botocore writes the bare tokens NaN / Infinity into the JSON body, which is not
        # valid JSON: refusing it as unparsable is as correct as refusing the value.
        assert code in ("InvalidParameterValue", "SerializationException", "ValidationError"), code
    assert cw.list_metrics(Namespace=ns)["Metrics"] == []


def test_unknown_action_is_invalid_action(server, protocol):
    key, secret = server.admin_keys()
    signer = rawsig.Signer(key, secret)
    if protocol == "json":
        path, headers = rawsig.json_request("NoSuchAction", b"{}")
        resp = rawsig.signed_send(server.endpoint, signer, path, headers, b"{}")
        assert resp.status == 400, resp
        assert "InvalidAction" in (resp.header("x-amzn-query-error") or "") + resp.text
    else:
        path, headers = rawsig.query_request()
        body = b"Action=NoSuchAction&Version=2010-08-01"
        resp = rawsig.signed_send(server.endpoint, signer, path, headers, body)
        assert resp.status == 400, resp
        assert "<Code>InvalidAction</Code>" in resp.text, resp.text
    assert resp.header("x-amzn-RequestId")


def test_rejected_batch_then_valid_batch(cw, ns):
    """After a refused request the server keeps working and stores the next one whole."""
    t = base_time()
    with pytest.raises(cw.exceptions.InvalidParameterCombinationException):
        cw.put_metric_data(
            Namespace=ns,
            MetricData=[datum("x", t, Value=1.0), datum("x", t + 1, Value=2.0, Values=[2.0])],
        )
    assert gms(cw, ns, "x", t, t + 60, 60) == []
    put(cw, ns, [datum("x", t, Value=1.0), datum("x", t + 1, Values=[2.0, 3.0], Counts=[2.0, 1.0])])
    dp = gms(cw, ns, "x", t, t + 60, 60)
    assert len(dp) == 1 and dp[0]["SampleCount"] == 4 and dp[0]["Sum"] == 1 + 4 + 3
