"""Metrics Insights queries in GetMetricData, through boto3.

Runs under both venvs (JSON and, with STRATUS_EXPECT_PROTOCOL=query, the query
protocol). The data: 6 instances x 2 metrics in one namespace, plus a CPU metric
with a different dimension set and a second namespace; every expected value is
computed here from the datums the test put.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import botocore.exceptions
import pytest

PERIOD = 60
INSTANCES = [f"i-{k}" for k in range(6)]


def utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, tz=timezone.utc)


class Data:
    """The datums put, as (namespace, metric, dims, epoch seconds, value)."""

    def __init__(self, ns_a: str, ns_b: str, base: int):
        self.ns_a, self.ns_b, self.base = ns_a, ns_b, base
        self.rows: list[tuple[str, str, dict, int, float]] = []
        for k, iid in enumerate(INSTANCES):
            kind = "small" if k < 3 else "large"
            for minute in range(3):
                for sec, extra in ((0, 0.0), (30, 1.5)):
                    t = base + minute * 60 + sec
                    self.rows.append(
                        (ns_a, "CPU", {"InstanceId": iid, "Type": kind}, t, 10.0 * k + minute + extra)
                    )
                self.rows.append((ns_a, "Mem", {"InstanceId": iid}, base + minute * 60, 100.0 + k * 3 + minute))
                self.rows.append((ns_b, "CPU", {"InstanceId": iid}, base + minute * 60, 500.0 + k))
        # Same metric name, other dimension set: only a bare namespace or
        # SCHEMA(ns, InstanceId) sees it.
        for minute in range(2):
            self.rows.append((ns_a, "CPU", {"InstanceId": "i-0"}, base + minute * 60, 1000.0 + minute))

    def put(self, cw) -> None:
        by_ns: dict[str, list[dict]] = {}
        for ns, name, dims, t, v in self.rows:
            by_ns.setdefault(ns, []).append(
                {
                    "MetricName": name,
                    "Dimensions": [{"Name": n, "Value": val} for n, val in dims.items()],
                    "Timestamp": utc(t),
                    "Value": v,
                }
            )
        for ns, data in by_ns.items():
            for i in range(0, len(data), 500):
                cw.put_metric_data(Namespace=ns, MetricData=data[i : i + 500])

    def expect(self, func, ns, name, keep=lambda d: True, group_by=(), schema=None):
        """{label: [(t, value), ...]} as the query should answer, labels of groups
        being their values joined by spaces ("Other" for a missing key)."""
        groups: dict[str, dict[int, list[float]]] = {}
        for rns, rname, dims, t, v in self.rows:
            if rns != ns or rname != name or not keep(dims):
                continue
            if schema is not None and set(dims) != set(schema):
                continue
            label = " ".join(dims.get(k, "Other") for k in group_by)
            slot = t - (t - self.start) % PERIOD
            groups.setdefault(label, {}).setdefault(slot, []).append(v)
        return {label: [(t, agg(func, vs)) for t, vs in sorted(periods.items())] for label, periods in groups.items()}

    @property
    def start(self) -> int:
        return self.base - 120

    @property
    def end(self) -> int:
        return self.base + 600


def agg(func: str, vs: list[float]) -> float:
    return {
        "AVG": lambda: sum(vs) / len(vs),
        "SUM": lambda: sum(vs),
        "MAX": lambda: max(vs),
        "MIN": lambda: min(vs),
        "COUNT": lambda: float(len(vs)),
    }[func]()


def window_value(func: str, points_values: list[list[float]]) -> float:
    flat = [v for vs in points_values for v in vs]
    return agg(func, flat)


@pytest.fixture(scope="module")
def data(server):
    cw = server.client("cloudwatch")
    tag = uuid.uuid4().hex[:10]
    # A minute boundary 30 minutes back, inside AWS's 3-hour alarm window too.
    base = int(time.time()) // 60 * 60 - 1800
    d = Data(f"MI/A-{tag}", f"MI/B-{tag}", base)
    d.put(cw)
    return d


def run(cw, data: Data, query: str, label: str | None = None, period: int = PERIOD):
    q = {"Id": "q", "Expression": query, "Period": period}
    if label is not None:
        q["Label"] = label
    resp = cw.get_metric_data(
        MetricDataQueries=[q],
        StartTime=utc(data.start),
        EndTime=utc(data.end),
        ScanBy="TimestampAscending",
    )
    return resp["MetricDataResults"]


def as_series(results) -> dict[str, list[tuple[int, float]]]:
    out = {}
    for r in results:
        assert r["Id"] == "q"
        assert r["StatusCode"] == "Complete"
        assert r["Label"] not in out, r["Label"]
        out[r["Label"]] = [(int(t.timestamp()), v) for t, v in zip(r["Timestamps"], r["Values"])]
    return out


def assert_series(got, want):
    assert set(got) == set(want), (sorted(got), sorted(want))
    for label in want:
        g, w = got[label], want[label]
        assert [t for t, _ in g] == [t for t, _ in w], label
        for (_, gv), (_, wv) in zip(g, w):
            assert gv == pytest.approx(wv), (label, g, w)


# -- aggregates without GROUP BY --------------------------------------------------


@pytest.mark.parametrize("func", ["AVG", "SUM", "MAX", "MIN", "COUNT"])
def test_bare_namespace_aggregates_every_dimension_set(cw, data, func):
    got = as_series(run(cw, data, f'SELECT {func}(CPU) FROM "{data.ns_a}"'))
    want = data.expect(func, data.ns_a, "CPU")
    # Without GROUP BY there is one series, labelled like an expression (its Id).
    assert_series(got, {"q": want[""]})


def test_label_given_is_used(cw, data):
    got = as_series(run(cw, data, f'SELECT SUM(Mem) FROM "{data.ns_a}"', label="total mem"))
    assert_series(got, {"total mem": data.expect("SUM", data.ns_a, "Mem")[""]})


def test_namespaces_are_separate(cw, data):
    got = as_series(run(cw, data, f'select max(CPU) from "{data.ns_b}"'))
    assert_series(got, {"q": data.expect("MAX", data.ns_b, "CPU")[""]})
    assert max(v for _, v in got["q"]) == 505.0


# -- SCHEMA ------------------------------------------------------------------------


def test_schema_matches_exact_dimension_sets(cw, data):
    both = as_series(run(cw, data, f'SELECT AVG(CPU) FROM SCHEMA("{data.ns_a}", Type, InstanceId)'))
    assert_series(both, {"q": data.expect("AVG", data.ns_a, "CPU", schema=("InstanceId", "Type"))[""]})
    only_id = as_series(run(cw, data, f'SELECT MAX(CPU) FROM SCHEMA("{data.ns_a}", InstanceId)'))
    want = data.expect("MAX", data.ns_a, "CPU", schema=("InstanceId",))[""]
    assert_series(only_id, {"q": want})
    assert [v for _, v in want] == [1000.0, 1001.0]
    # No metric has no dimensions: an empty result, not an error.
    none = run(cw, data, f'SELECT AVG(CPU) FROM SCHEMA("{data.ns_a}")')
    assert len(none) == 1 and none[0]["Values"] == [] and none[0]["Label"] == "q"


# -- WHERE -------------------------------------------------------------------------


def test_where_equal_and_not_equal(cw, data):
    got = as_series(
        run(cw, data, f"SELECT COUNT(CPU) FROM \"{data.ns_a}\" WHERE Type = 'small' AND InstanceId != 'i-1'")
    )
    want = data.expect("COUNT", data.ns_a, "CPU", keep=lambda d: d.get("Type") == "small" and d["InstanceId"] != "i-1")
    assert_series(got, {"q": want[""]})
    assert got["q"][0][1] == 4.0  # two instances, two datums each


def test_where_or_with_parentheses(cw, data):
    got = as_series(
        run(
            cw,
            data,
            f"SELECT SUM(CPU) FROM SCHEMA(\"{data.ns_a}\", InstanceId, Type) "
            f"WHERE (InstanceId = 'i-0' OR InstanceId = 'i-5') AND Type != 'nope' GROUP BY InstanceId",
        )
    )
    want = data.expect(
        "SUM",
        data.ns_a,
        "CPU",
        keep=lambda d: d["InstanceId"] in ("i-0", "i-5"),
        group_by=("InstanceId",),
        schema=("InstanceId", "Type"),
    )
    assert_series(got, want)
    assert set(got) == {"i-0", "i-5"}


# -- GROUP BY, ORDER BY, LIMIT --------------------------------------------------------


def test_group_by_labels_with_values_and_other(cw, data):
    got = as_series(run(cw, data, f'SELECT AVG(CPU) FROM "{data.ns_a}" GROUP BY Type'))
    want = data.expect("AVG", data.ns_a, "CPU", group_by=("Type",))
    assert set(want) == {"small", "large", "Other"}
    assert_series(got, want)


def test_group_by_two_keys(cw, data):
    got = as_series(run(cw, data, f'SELECT MIN(CPU) FROM SCHEMA("{data.ns_a}", InstanceId, Type) GROUP BY Type, InstanceId'))
    want = data.expect("MIN", data.ns_a, "CPU", group_by=("Type", "InstanceId"), schema=("InstanceId", "Type"))
    assert len(want) == 6 and "small i-0" in want
    assert_series(got, want)


@pytest.mark.parametrize("direction", ["DESC", "ASC"])
def test_order_by_ranks_groups_over_the_window_and_limits(cw, data, direction):
    results = run(
        cw,
        data,
        f'SELECT AVG(Mem) FROM SCHEMA("{data.ns_a}", InstanceId) GROUP BY InstanceId ORDER BY SUM() {direction} LIMIT 3',
    )
    groups = data.expect("AVG", data.ns_a, "Mem", group_by=("InstanceId",))
    # Rank by SUM over the whole window of each group's raw values.
    raw: dict[str, list[float]] = {}
    for ns, name, dims, _t, v in data.rows:
        if ns == data.ns_a and name == "Mem":
            raw.setdefault(dims["InstanceId"], []).append(v)
    ranked = sorted(raw, key=lambda k: sum(raw[k]), reverse=direction == "DESC")[:3]
    assert [r["Label"] for r in results] == ranked
    assert_series(as_series(results), {k: groups[k] for k in ranked})


def test_order_by_function_differs_from_select(cw, data):
    results = run(
        cw,
        data,
        f'SELECT MIN(CPU) FROM "{data.ns_a}" GROUP BY InstanceId ORDER BY MAX() DESC LIMIT 1',
    )
    # i-0 owns the 1000-valued metric, so it has the largest MAX.
    assert [r["Label"] for r in results] == ["i-0"]
    want = data.expect("MIN", data.ns_a, "CPU", group_by=("InstanceId",))["i-0"]
    assert_series(as_series(results), {"i-0": want})


def test_period_from_the_query(cw, data):
    got = as_series(run(cw, data, f'SELECT SUM(CPU) FROM "{data.ns_b}"', period=300))
    vals = [v for ns, name, _d, _t, v in data.rows if ns == data.ns_b and name == "CPU"]
    # The window starts 120 s before the data: all three minutes land in one 5-minute
    # period or two; either way the sums add up to the total.
    assert sum(v for _, v in got["q"]) == pytest.approx(sum(vals))
    assert all((t - data.start) % 300 == 0 for t, _ in got["q"])


# -- errors -----------------------------------------------------------------------


def error_of(cw, data, queries):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.get_metric_data(MetricDataQueries=queries, StartTime=utc(data.start), EndTime=utc(data.end))
    err = e.value.response["Error"]
    return e.value.response["ResponseMetadata"]["HTTPStatusCode"], err["Code"], err["Message"]


@pytest.mark.parametrize(
    "query,needle",
    [
        ("SELECT AVG(CPU) FROM MI/A", "must be in double quotes"),
        ("SELECT MEDIAN(CPU) FROM ns", "Unknown function MEDIAN"),
        ("SELECT AVG(CPU) FROM ns LIMIT 501", "LIMIT 501"),
        ("SELECT AVG(CPU) FROM ns WHERE InstanceId = i1", "must be in single quotes"),
        ("SELECT AVG(CPU) FROM ns WHERE InstanceId = 'i1", "never closed"),
        ("SELECT AVG(CPU)", "expected FROM"),
        ("SELECT AVG(CPU) FROM ns GROUP BY", "expected a label key"),
        ("SELECT AVG(CPU) FROM ns ORDER BY AVG(CPU)", "take no argument"),
    ],
)
def test_bad_queries_are_refused(cw, data, query, needle):
    status, code, message = error_of(cw, data, [{"Id": "q", "Expression": query, "Period": 60}])
    assert (status, code) == (400, "ValidationError")
    assert message.startswith(
        "The parameter MetricDataQueries.member.1.Expression is not a valid Metrics Insights query."
    ), message
    assert needle in message, message


def test_only_one_query_per_request(cw, data):
    q = f'SELECT AVG(CPU) FROM "{data.ns_a}"'
    status, code, message = error_of(
        cw,
        data,
        [{"Id": "a", "Expression": q, "Period": 60}, {"Id": "b", "Expression": q, "Period": 60}],
    )
    assert (status, code) == (400, "ValidationError")
    assert "only one Metrics Insights query" in message, message


def test_math_can_use_a_query_result(cw, data):
    resp = cw.get_metric_data(
        MetricDataQueries=[
            {"Id": "q", "Expression": f'SELECT SUM(CPU) FROM "{data.ns_b}"', "Period": 60, "ReturnData": False},
            {"Id": "doubled", "Expression": "q * 2", "Period": 60},
        ],
        StartTime=utc(data.start),
        EndTime=utc(data.end),
        ScanBy="TimestampAscending",
    )
    (r,) = resp["MetricDataResults"]
    want = data.expect("SUM", data.ns_b, "CPU")[""]
    assert [int(t.timestamp()) for t in r["Timestamps"]] == [t for t, _ in want]
    assert r["Values"] == pytest.approx([2 * v for _, v in want])


# -- alarms -------------------------------------------------------------------------


def test_alarm_on_a_query(server):
    cw = server.client("cloudwatch")
    ns = f"MI/Alarm-{uuid.uuid4().hex[:10]}"
    now = int(time.time())
    # The last five minutes: 80 on one host, 20 on the other -> MAX 80, AVG 50 per minute.
    data = [
        {"MetricName": "cpu", "Dimensions": [{"Name": "host", "Value": h}], "Timestamp": utc(now - s), "Value": v}
        for s in range(0, 300, 20)
        for h, v in (("a", 80.0), ("b", 20.0))
    ]
    cw.put_metric_data(Namespace=ns, MetricData=data)

    def alarm(name, func, threshold):
        cw.put_metric_alarm(
            AlarmName=name,
            EvaluationPeriods=1,
            Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold",
            Metrics=[{"Id": "q", "Expression": f'SELECT {func}(cpu) FROM SCHEMA("{ns}", host)', "Period": 60}],
        )

    alarm(f"{ns}-max", "MAX", 60)  # 80 > 60
    alarm(f"{ns}-avg", "AVG", 60)  # 50 <= 60
    [a] = cw.describe_alarms(AlarmNames=[f"{ns}-max"])["MetricAlarms"]
    assert a["Metrics"][0]["Expression"].startswith("SELECT MAX(cpu)")

    def states():
        return {a["AlarmName"]: a["StateValue"] for a in cw.describe_alarms(AlarmNamePrefix=ns)["MetricAlarms"]}

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and states() != {f"{ns}-max": "ALARM", f"{ns}-avg": "OK"}:
        time.sleep(1)
    assert states() == {f"{ns}-max": "ALARM", f"{ns}-avg": "OK"}
    cw.delete_alarms(AlarmNames=[f"{ns}-max", f"{ns}-avg"])


def test_alarm_on_a_grouped_query_without_order_by_is_refused(cw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(
            AlarmName=f"grouped-{uuid.uuid4().hex[:8]}",
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            Metrics=[{"Id": "q", "Expression": 'SELECT MAX(cpu) FROM "x" GROUP BY host', "Period": 60}],
        )
    err = e.value.response["Error"]
    assert err["Code"] == "ValidationError"
    assert "Metrics.member.1.Expression" in err["Message"] and "ORDER BY" in err["Message"], err


def test_alarm_with_a_bad_query_is_refused(cw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        cw.put_metric_alarm(
            AlarmName=f"bad-{uuid.uuid4().hex[:8]}",
            EvaluationPeriods=1,
            Threshold=1,
            ComparisonOperator="GreaterThanThreshold",
            Metrics=[{"Id": "q", "Expression": "SELECT MAX(cpu) FROM a/b", "Period": 60}],
        )
    err = e.value.response["Error"]
    assert err["Code"] == "ValidationError"
    assert "Metrics.member.1.Expression is not a valid Metrics Insights query" in err["Message"], err
