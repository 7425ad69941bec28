"""Anomaly detection end to end with boto3: Put/Describe/DeleteAnomalyDetector
(round trip, AWS's recorded describe shape, errors, persistence across kill -9)
and ANOMALY_DETECTION_BAND in GetMetricData on synthetic seasonal data, whose
band this test computes independently from the documented model
(ARCHITECTURE.md, `stratus_model::anomaly::band`):

- training: the metric's values at the query period from 14 days before the
  query's start to its end, minus the detector's ExcludedTimeRanges;
- cycle: daily (weekly only from 14 days of data), slot = time of day / period;
- baseline: median of the slot's values when it holds ≥ 2, else the global median;
- spread: 1.4826 × MAD of the residuals; band = baseline ± k × spread.
"""

from __future__ import annotations

import math
import re
import statistics
import time

import pytest
from botocore.exceptions import ClientError

PERIOD = 300
DAY = 86400
ACCOUNT = "123456789012"


def err(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"].get("Message", ""), e["ResponseMetadata"]["HTTPStatusCode"]


# ---- the data and the independent model ------------------------------------------------------


def seasonal_points(end: int, days: int = 3) -> list[tuple[int, float]]:
    """A daily sine (amplitude 20 around 50) with small deterministic noise in
    [-1.5, 1.5], one point per 5 minutes for `days` days ending before `end`."""
    start = end - days * DAY
    pts = []
    for i in range((end - start) // PERIOD):
        t = start + i * PERIOD
        noise = (((i * 37) % 11) - 5) * 0.3
        pts.append((t, 50 + 20 * math.sin(2 * math.pi * (t % DAY) / DAY) + noise))
    return pts


def expected_band(training: list[tuple[int, float]], at: list[int], k: float,
                  excluded: list[tuple[int, int]] = ()) -> dict[int, tuple[float, float]]:
    pts = [(t, v) for t, v in training if not any(s <= t < e for s, e in excluded)]
    span = max(t for t, _ in pts) - min(t for t, _ in pts) + PERIOD
    cycle = 7 * DAY if span >= 14 * DAY else DAY
    slot = lambda t: (t % cycle) // PERIOD  # noqa: E731 (UTC: no MetricTimezone here)
    slots: dict[int, list[float]] = {}
    for t, v in pts:
        slots.setdefault(slot(t), []).append(v)
    glob = statistics.median(v for _, v in pts)
    base = lambda t: statistics.median(slots[slot(t)]) if len(slots.get(slot(t), [])) >= 2 else glob  # noqa: E731
    resid = [v - base(t) for t, v in pts]
    c = statistics.median(resid)
    spread = 1.4826 * statistics.median(abs(r - c) for r in resid)
    return {t: (base(t) - k * spread, base(t) + k * spread) for t in at}


def put_points(cw, ns, name, dims, pts):
    for i in range(0, len(pts), 500):
        cw.put_metric_data(Namespace=ns, MetricData=[
            {"MetricName": name, "Dimensions": dims, "Timestamp": t, "Value": v}
            for t, v in pts[i:i + 500]])


def band_query(ns, name, dims, start, end, k, label="cpu (expected)"):
    return dict(
        MetricDataQueries=[
            {"Id": "m1", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": name, "Dimensions": dims},
                                         "Period": PERIOD, "Stat": "Average"}, "ReturnData": True},
            {"Id": "ad1", "Expression": f"ANOMALY_DETECTION_BAND(m1, {k})", "Label": label, "ReturnData": True},
        ],
        StartTime=start, EndTime=end, ScanBy="TimestampAscending",
    )


# ---- detectors --------------------------------------------------------------------------------


def test_detector_round_trip_matches_the_recorded_shape(cw, ns):
    dims = [{"Name": "DimensionName", "Value": "DimensionValue"}]
    cw.put_anomaly_detector(Namespace=ns, MetricName="MyMetric", Dimensions=dims, Stat="Sum")
    out = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    # As AWS answered in tests/aws-recorded (test_anomaly_detector_lifecycle).
    assert out == [{
        "Configuration": {"ExcludedTimeRanges": []},
        "Dimensions": dims, "MetricName": "MyMetric", "Namespace": ns,
        "SingleMetricAnomalyDetector": {"AccountId": ACCOUNT, "Dimensions": dims, "MetricName": "MyMetric",
                                        "Namespace": ns, "Stat": "Sum"},
        "Stat": "Sum", "StateValue": "PENDING_TRAINING",
    }]
    # The same detector named the new way replaces it (one per metric and stat).
    cw.put_anomaly_detector(SingleMetricAnomalyDetector={"Namespace": ns, "MetricName": "MyMetric",
                                                         "Dimensions": dims, "Stat": "Sum"},
                            Configuration={"MetricTimezone": "Europe/Paris", "ExcludedTimeRanges": [
                                {"StartTime": 1_700_000_000, "EndTime": 1_700_003_600}]})
    out = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert len(out) == 1
    cfg = out[0]["Configuration"]
    assert cfg["MetricTimezone"] == "Europe/Paris"
    assert [(r["StartTime"].timestamp(), r["EndTime"].timestamp()) for r in cfg["ExcludedTimeRanges"]] == [
        (1_700_000_000, 1_700_003_600)]
    # Filters.
    cw.put_anomaly_detector(Namespace=ns, MetricName="Other", Stat="p90")
    assert {d["MetricName"] for d in cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]} == {
        "MyMetric", "Other"}
    assert [d["MetricName"] for d in cw.describe_anomaly_detectors(
        Namespace=ns, MetricName="Other")["AnomalyDetectors"]] == ["Other"]
    assert [d["MetricName"] for d in cw.describe_anomaly_detectors(
        Namespace=ns, Dimensions=dims)["AnomalyDetectors"]] == ["MyMetric"]
    assert cw.describe_anomaly_detectors(Namespace=ns, AnomalyDetectorTypes=["METRIC_MATH"])[
        "AnomalyDetectors"] == []
    # Paging: one per page, in a stable order, every detector once.
    page1 = cw.describe_anomaly_detectors(Namespace=ns, MaxResults=1)
    page2 = cw.describe_anomaly_detectors(Namespace=ns, MaxResults=1, NextToken=page1["NextToken"])
    assert "NextToken" not in page2
    assert {page1["AnomalyDetectors"][0]["MetricName"], page2["AnomalyDetectors"][0]["MetricName"]} == {
        "MyMetric", "Other"}
    cw.delete_anomaly_detector(Namespace=ns, MetricName="MyMetric", Dimensions=dims, Stat="Sum")
    cw.delete_anomaly_detector(SingleMetricAnomalyDetector={"Namespace": ns, "MetricName": "Other", "Stat": "p90"})
    assert cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"] == []


@pytest.mark.parametrize("kwargs, code, message", [
    ({"Namespace": "N", "MetricName": "M"}, "MissingParameter", "The parameter Stat is required."),
    ({"MetricName": "M", "Stat": "Sum"}, "MissingParameter", "The parameter Namespace is required."),
    ({"SingleMetricAnomalyDetector": {"Namespace": "N", "MetricName": "M"}}, "MissingParameter",
     "The parameter SingleMetricAnomalyDetector.Stat is required."),
    ({"Namespace": "N", "MetricName": "M", "Stat": "Sum",
      "SingleMetricAnomalyDetector": {"Namespace": "N", "MetricName": "M", "Stat": "Sum"}},
     "InvalidParameterCombination", None),
    ({"Namespace": "N", "MetricName": "M", "Stat": "Avg"}, "InvalidParameterValue", None),
    ({"Namespace": "N", "MetricName": "M", "Stat": "Sum",
      "Configuration": {"MetricTimezone": "Mars/Olympus"}}, "InvalidParameterValue", None),
    ({"Namespace": "N", "MetricName": "M", "Stat": "Sum",
      "Configuration": {"ExcludedTimeRanges": [{"StartTime": 1_700_003_600, "EndTime": 1_700_000_000}]}},
     "InvalidParameterValue", None),
    ({"MetricMathAnomalyDetector": {"MetricDataQueries": [{"Id": "e1", "Expression": "m1 * 2"}]}},
     "InvalidParameterValue", None),
])
def test_bad_detectors_are_refused_and_change_nothing(cw, kwargs, code, message):
    with pytest.raises(ClientError) as e:
        cw.put_anomaly_detector(**kwargs)
    got_code, got_message, status = err(e)
    assert (got_code, status) == (code, 400)
    if message:
        assert got_message == message
    assert cw.describe_anomaly_detectors(Namespace="N")["AnomalyDetectors"] == []


def test_deleting_an_unknown_detector_is_not_found(cw, ns):
    with pytest.raises(ClientError) as e:
        cw.delete_anomaly_detector(Namespace=ns, MetricName="nope", Stat="Sum")
    assert err(e)[0] == "ResourceNotFoundException"
    assert err(e)[2] == 404


def test_detectors_survive_kill_9(make_server, ns):
    srv = make_server()
    cw = srv.client("cloudwatch")
    cw.put_anomaly_detector(Namespace=ns, MetricName="lat", Stat="p99",
                            Configuration={"MetricTimezone": "America/New_York"})
    srv.restart(kill=True)
    cw = srv.client("cloudwatch")
    [d] = cw.describe_anomaly_detectors(Namespace=ns)["AnomalyDetectors"]
    assert (d["MetricName"], d["Stat"], d["Configuration"]["MetricTimezone"]) == (
        "lat", "p99", "America/New_York")


# ---- the band ---------------------------------------------------------------------------------


def test_band_matches_the_documented_model(cw, ns):
    dims = [{"Name": "host", "Value": "web-1"}]
    end = int(time.time()) // PERIOD * PERIOD
    pts = seasonal_points(end)
    put_points(cw, ns, "cpu", dims, pts)
    start = end - 6 * 3600
    out = cw.get_metric_data(**band_query(ns, "cpu", dims, start, end, 2))["MetricDataResults"]
    metric = [r for r in out if r["Id"] == "m1"]
    band = [r for r in out if r["Id"] == "ad1"]
    assert len(metric) == 1 and len(band) == 2
    assert [r["Label"] for r in band] == ["cpu (expected) Low", "cpu (expected) High"]
    at = [int(t.timestamp()) for t in metric[0]["Timestamps"]]
    assert len(at) == 6 * 3600 // PERIOD
    want = expected_band(pts, at, 2)
    low, high = ({int(t.timestamp()): v for t, v in zip(r["Timestamps"], r["Values"])} for r in band)
    assert sorted(low) == at and sorted(high) == at
    # The same medians and MAD over the same doubles: only the last rounding
    # of ± k × spread can differ, far below 1e-9 of values around 50.
    for t in at:
        assert low[t] == pytest.approx(want[t][0], abs=1e-9)
        assert high[t] == pytest.approx(want[t][1], abs=1e-9)
    # The band follows the season: the metric stays inside it, and it is
    # narrow beside the daily swing (noise ±1.5 against amplitude 20).
    for t, v in zip(at, metric[0]["Values"]):
        assert low[t] <= v <= high[t]
    assert max(high[t] - low[t] for t in at) < 10

    # A wider k widens the band around the same baseline.
    out3 = cw.get_metric_data(**band_query(ns, "cpu", dims, start, end, 3))["MetricDataResults"]
    low3 = {int(t.timestamp()): v for r in out3 if r["Id"] == "ad1" and r["Label"].endswith("Low")
            for t, v in zip(r["Timestamps"], r["Values"])}
    want3 = expected_band(pts, at, 3)
    assert all(low3[t] == pytest.approx(want3[t][0], abs=1e-9) for t in at)

    # A detector's excluded range is left out of training.
    excluded = [(end - 2 * DAY, end - DAY)]
    cw.put_anomaly_detector(Namespace=ns, MetricName="cpu", Dimensions=dims, Stat="Average",
                            Configuration={"ExcludedTimeRanges": [
                                {"StartTime": s, "EndTime": e} for s, e in excluded]})
    outx = cw.get_metric_data(**band_query(ns, "cpu", dims, start, end, 2))["MetricDataResults"]
    wantx = expected_band(pts, at, 2, excluded)
    highx = {int(t.timestamp()): v for r in outx if r["Id"] == "ad1" and r["Label"].endswith("High")
             for t, v in zip(r["Timestamps"], r["Values"])}
    assert any(abs(wantx[t][1] - want[t][1]) > 1e-6 for t in at)  # the exclusion matters
    assert all(highx[t] == pytest.approx(wantx[t][1], abs=1e-9) for t in at)


def test_band_of_an_expression_is_refused(cw, ns):
    with pytest.raises(ClientError) as e:
        cw.get_metric_data(
            MetricDataQueries=[
                {"Id": "m1", "MetricStat": {"Metric": {"Namespace": ns, "MetricName": "x"},
                                             "Period": 60, "Stat": "Sum"}, "ReturnData": False},
                {"Id": "e1", "Expression": "m1 * 2", "ReturnData": False},
                {"Id": "ad1", "Expression": "ANOMALY_DETECTION_BAND(e1)"},
            ],
            StartTime=time.time() - 3600, EndTime=time.time())
    code, message, _ = err(e)
    assert code in ("ValidationError", "ValidationException") or "ANOMALY_DETECTION_BAND" in message
    assert "ANOMALY_DETECTION_BAND" in message


# ---- alarms on the band -----------------------------------------------------------------------


def band_metrics(ns, name, dims, k=2):
    return [
        {"Id": "m1", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": ns, "MetricName": name, "Dimensions": dims}, "Period": PERIOD, "Stat": "Average"}},
        {"Id": "ad1", "Expression": f"ANOMALY_DETECTION_BAND(m1, {k})", "Label": "cpu (expected)", "ReturnData": True},
    ]


def test_alarm_on_the_band_fires_on_a_spike_only(make_server, ns):
    from conftest import wait_for

    srv = make_server()
    cw = srv.client("cloudwatch")
    dims = [{"Name": "host", "Value": "web-1"}]
    end = int(time.time()) // PERIOD * PERIOD
    put_points(cw, ns, "cpu", dims, seasonal_points(end + PERIOD))  # through the current period

    def put_alarm(name, op):
        cw.put_metric_alarm(AlarmName=name, EvaluationPeriods=3, DatapointsToAlarm=1, ComparisonOperator=op,
                            ThresholdMetricId="ad1", Metrics=band_metrics(ns, "cpu", dims))

    def state(name):
        return cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]

    put_alarm("band", "LessThanLowerOrGreaterThanUpperThreshold")
    put_alarm("low-only", "LessThanLowerThreshold")
    for name in ("band", "low-only"):
        wait_for(lambda: state(name)["StateValue"] == "OK", timeout=30, what=f"{name} OK on normal data")
    a = state("band")
    assert a["ThresholdMetricId"] == "ad1" and "Threshold" not in a
    assert a["ComparisonOperator"] == "LessThanLowerOrGreaterThanUpperThreshold"

    # A spike far above the band in the newest periods (an extra sample of
    # 500 makes each period's average about 275, against a band around 30–70).
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "cpu", "Dimensions": dims, "Timestamp": t, "Value": 500.0} for t in (end - PERIOD, end)])
    # Re-putting an alarm evaluates it at once (no wait for the next minute).
    put_alarm("band", "LessThanLowerOrGreaterThanUpperThreshold")
    put_alarm("low-only", "LessThanLowerThreshold")
    wait_for(lambda: state("band")["StateValue"] == "ALARM", timeout=30, what="band ALARM on the spike")
    reason = state("band")["StateReason"]
    assert re.match(r"Thresholds Crossed: [12] out of the last 3 datapoints \[2\d\d\.\d+ ", reason), reason
    assert "greater than the upper thresholds" in reason
    # Only below the band counts for LessThanLowerThreshold: a spike up is normal.
    time.sleep(2)
    assert state("low-only")["StateValue"] == "OK"

    srv.restart(kill=True)
    cw = srv.client("cloudwatch")
    a = state("band")
    assert (a["StateValue"], a["ThresholdMetricId"]) == ("ALARM", "ad1")


@pytest.mark.parametrize("change, code", [
    ({"ThresholdMetricId": None}, "InvalidParameterValue"),
    ({"Threshold": 5.0}, "InvalidParameterCombination"),
    ({"ThresholdMetricId": "m1"}, "InvalidParameterValue"),
    ({"ComparisonOperator": "GreaterThanThreshold", "Threshold": 5.0}, "InvalidParameterValue"),
])
def test_bad_band_alarms_are_refused(cw, ns, change, code):
    kwargs = dict(AlarmName="bad-band", EvaluationPeriods=1, ComparisonOperator="GreaterThanUpperThreshold",
                  ThresholdMetricId="ad1", Metrics=band_metrics(ns, "cpu", []))
    kwargs.update(change)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    with pytest.raises(ClientError) as e:
        cw.put_metric_alarm(**kwargs)
    assert err(e)[0] == code and err(e)[2] == 400
    assert cw.describe_alarms(AlarmNames=["bad-band"])["MetricAlarms"] == []
