"""CloudWatch metric streams end to end with boto3: Put/Get/List/Delete/Start/StopMetricStreams
(round trip, AWS's recorded Get shape, errors, tags), and delivery to a local Firehose HTTP
endpoint receiver (`--firehose NAME=URL`) in the JSON and OpenTelemetry 1.0 formats, whose
values this test computes from the datapoints it sends. The OTel records are decoded with the
`opentelemetry-proto` package. Receiver outages and a server kill -9 lose no minute.

Timing knobs keep this short: deliveries every 200 ms, a minute goes out 1 s after it
closes, and a new stream starts 5 minutes back (STRATUS_METRIC_STREAM_BACKFILL_MINUTES), so
data written into past minutes before the stream exists is delivered at once.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import _RUNNING, StratusServer, wait_for
from notify_support import PostListener

ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/streams"
DELIVERY_STREAMS = ["ds-crud", "ds-json", "ds-otel", "ds-excl", "ds-stop", "ds-outage", "ds-kill"]
KNOBS = {
    "STRATUS_METRIC_STREAM_TICK_MS": "200",
    "STRATUS_METRIC_STREAM_GRACE_MS": "1000",
    "STRATUS_METRIC_STREAM_MAX_BACKOFF_MS": "1000",
    "STRATUS_METRIC_STREAM_BACKFILL_MINUTES": "5",
}


def firehose_arn(name: str) -> str:
    return f"arn:aws:firehose:us-east-1:{ACCOUNT}:deliverystream/{name}"


def err(excinfo) -> tuple[str, str]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"].get("Message", "")


class FirehoseReceiver(PostListener):
    """A Firehose HTTP endpoint on 127.0.0.1: records every POST by path and answers with
    the status set for its path (200 unless told otherwise), echoing requestId as Firehose
    receivers do."""

    def __init__(self):
        self.requests: list[tuple[str, dict, dict]] = []
        self.failed: dict[str, int] = {}
        self.status: dict[str, int] = {}
        super().__init__()

    def on_post(self, path, headers, body):
        body = json.loads(body)
        path = path.lstrip("/")
        with self.lock:
            status = self.status.get(path, 200)
            if status == 200:
                self.requests.append((path, headers, body))
            else:
                self.failed[path] = self.failed.get(path, 0) + 1
        answer = json.dumps({"requestId": body.get("requestId"), "timestamp": int(time.time() * 1000)})
        return status, "application/json", answer.encode()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def accepted(self, path: str) -> list[tuple[dict, dict]]:
        with self.lock:
            return [(h, b) for p, h, b in self.requests if p == path]

    def records(self, path: str) -> list[bytes]:
        return [base64.b64decode(r["data"]) for _, b in self.accepted(path) for r in b["records"]]

    def json_lines(self, path: str) -> list[dict]:
        return [json.loads(line) for rec in self.records(path) for line in rec.decode().splitlines()]


def server_args(receiver: FirehoseReceiver) -> list[str]:
    args = []
    for ds in DELIVERY_STREAMS:
        args += ["--firehose", f"{ds}={receiver.url(ds)}"]
    return args


@pytest.fixture(scope="module")
def receiver():
    r = FirehoseReceiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def stream_server(tmp_path_factory, receiver):
    srv = StratusServer(tmp_path_factory.mktemp("streams") / "data", env=dict(KNOBS))
    srv.extra_args = server_args(receiver)
    srv.start()
    yield srv
    srv.stop()
    _RUNNING.remove(srv)


@pytest.fixture(scope="module")
def cw(stream_server):
    return stream_server.client("cloudwatch")


def minute_base() -> int:
    return int(time.time()) // 60 * 60


def put_past_minutes(cw, ns: str, metric: str, dims: list[dict], minutes: dict[int, list[float]],
                     unit: str = "Count") -> None:
    """Values into past minutes (epoch seconds of each minute start)."""
    data = []
    for m, values in minutes.items():
        for i, v in enumerate(values):
            data.append({"MetricName": metric, "Dimensions": dims, "Timestamp": m + 5 + i * 10,
                         "Value": v, "Unit": unit})
    cw.put_metric_data(Namespace=ns, MetricData=data)


def expected(values: list[float]) -> dict:
    return {"max": max(values), "min": min(values), "sum": sum(values), "count": float(len(values))}


def lines_for(receiver, path, ns):
    return [line for line in receiver.json_lines(path) if line["namespace"] == ns]


# ---- CRUD and errors -------------------------------------------------------------------------


def test_crud_round_trip_tags_and_paging(cw):
    name = f"crud-{uuid.uuid4().hex[:8]}"
    arn = cw.put_metric_stream(
        Name=name, FirehoseArn=firehose_arn("ds-crud"), RoleArn=ROLE, OutputFormat="json",
        IncludeFilters=[{"Namespace": "Crud/A", "MetricNames": ["m1", "m2"]}, {"Namespace": "Crud/B"}],
        Tags=[{"Key": "team", "Value": "obs"}],
    )["Arn"]
    assert arn == f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:metric-stream/{name}"
    got = cw.get_metric_stream(Name=name)
    assert got["Arn"] == arn and got["Name"] == name
    assert got["FirehoseArn"] == firehose_arn("ds-crud") and got["RoleArn"] == ROLE
    assert got["OutputFormat"] == "json" and got["State"] == "running"
    assert got["IncludeLinkedAccountsMetrics"] is False
    assert got["IncludeFilters"] == [{"Namespace": "Crud/A", "MetricNames": ["m1", "m2"]}, {"Namespace": "Crud/B"}]
    assert "ExcludeFilters" not in got
    assert got["CreationDate"] <= got["LastUpdateDate"]
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "obs"}]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "env", "Value": "test"}])
    tags = cw.list_tags_for_resource(ResourceARN=arn)["Tags"]
    assert {t["Key"]: t["Value"] for t in tags} == {"team": "obs", "env": "test"}

    # Update: same name, new configuration; creation date kept, format changed.
    cw.put_metric_stream(Name=name, FirehoseArn=firehose_arn("ds-crud"), RoleArn=ROLE,
                         OutputFormat="opentelemetry1.0", ExcludeFilters=[{"Namespace": "Crud/C"}])
    upd = cw.get_metric_stream(Name=name)
    assert upd["OutputFormat"] == "opentelemetry1.0" and upd["CreationDate"] == got["CreationDate"]
    assert upd["ExcludeFilters"] == [{"Namespace": "Crud/C"}] and "IncludeFilters" not in upd

    other = f"crud-{uuid.uuid4().hex[:8]}"
    cw.put_metric_stream(Name=other, FirehoseArn=firehose_arn("ds-crud"), RoleArn=ROLE, OutputFormat="json")
    names = []
    token = None
    while True:
        page = cw.list_metric_streams(MaxResults=1, **({"NextToken": token} if token else {}))
        assert len(page["Entries"]) <= 1
        names += [e["Name"] for e in page["Entries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert {name, other} <= set(names) and names == sorted(names)
    entry = next(e for e in cw.list_metric_streams()["Entries"] if e["Name"] == name)
    assert entry["Arn"] == arn and entry["State"] == "running" and entry["OutputFormat"] == "opentelemetry1.0"

    cw.stop_metric_streams(Names=[name, "no-such-stream"])
    assert cw.get_metric_stream(Name=name)["State"] == "stopped"
    assert cw.get_metric_stream(Name=other)["State"] == "running"
    cw.start_metric_streams(Names=[name])
    assert cw.get_metric_stream(Name=name)["State"] == "running"

    cw.delete_metric_stream(Name=name)
    with pytest.raises(ClientError) as e:
        cw.get_metric_stream(Name=name)
    assert err(e)[0] == "ResourceNotFoundException"
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == []
    with pytest.raises(ClientError) as e:
        cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert err(e)[0] == "ResourceNotFoundException"
    cw.delete_metric_stream(Name=name)  # deleting what is gone succeeds, as AWS
    cw.delete_metric_stream(Name=other)


def test_put_errors_change_nothing(cw):
    name = f"bad-{uuid.uuid4().hex[:8]}"
    ok = dict(Name=name, FirehoseArn=firehose_arn("ds-crud"), RoleArn=ROLE, OutputFormat="json")

    def refused(**changes):
        with pytest.raises(ClientError) as e:
            cw.put_metric_stream(**{**ok, **changes})
        return err(e)

    code, msg = refused(IncludeFilters=[{"Namespace": "A"}], ExcludeFilters=[{"Namespace": "B"}])
    assert code == "InvalidParameterCombination"
    assert msg == "You cannot include IncludeFilters and ExcludeFilters in the same operation."
    code, msg = refused(FirehoseArn=firehose_arn("not-configured"))
    assert code == "InvalidParameterValue"
    assert "not-configured" in msg and "[firehose]" in msg and "--firehose" in msg
    assert refused(FirehoseArn="arn:aws:s3:::bucket")[0] == "InvalidParameterValue"
    assert refused(Name="has space")[0] == "InvalidParameterValue"
    assert refused(OutputFormat="csv")[0] == "ValidationError"
    code, msg = refused(OutputFormat="opentelemetry0.7")
    assert code == "InvalidParameterValue" and "opentelemetry1.0" in msg
    code, _ = refused(StatisticsConfigurations=[{
        "IncludeMetrics": [{"Namespace": "A", "MetricName": "m"}], "AdditionalStatistics": ["tm99"]}])
    assert code == "InvalidParameterValue"
    with pytest.raises(ClientError) as e:
        cw.get_metric_stream(Name=name)
    assert err(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        cw.list_metric_streams(NextToken="garbage")
    assert err(e)[0] == "InvalidNextToken"


# ---- delivery --------------------------------------------------------------------------------


def test_json_delivery_values_filters_and_percentiles(cw, receiver, ns):
    base = minute_base()
    dims = [{"Name": "Host", "Value": "h1"}]
    minutes = {base - 240: [1.0, 2.0, 6.0], base - 180: [10.0], base - 120: [3.0, 4.0]}
    put_past_minutes(cw, ns, "Latency", dims, minutes)
    put_past_minutes(cw, ns, "Skipped", [], {base - 180: [99.0]})
    name = f"json-{uuid.uuid4().hex[:8]}"
    cw.put_metric_stream(
        Name=name, FirehoseArn=firehose_arn("ds-json"), RoleArn=ROLE, OutputFormat="json",
        IncludeFilters=[{"Namespace": ns, "MetricNames": ["Latency"]}],
        StatisticsConfigurations=[{"IncludeMetrics": [{"Namespace": ns, "MetricName": "Latency"}],
                                   "AdditionalStatistics": ["p99"]}],
    )
    got = wait_for(lambda: (lambda ls: ls if len({x["timestamp"] for x in ls}) >= 3 else None)(
        lines_for(receiver, "ds-json", ns)), 30, what="three minutes of JSON records")
    by_minute = {x["timestamp"]: x for x in got}
    assert set(by_minute) == {m * 1000 for m in minutes}
    for m, values in minutes.items():
        line = by_minute[m * 1000]
        assert list(line) == ["metric_stream_name", "account_id", "region", "namespace", "metric_name",
                              "dimensions", "timestamp", "value", "unit"]
        assert line["metric_stream_name"] == name and line["account_id"] == ACCOUNT
        assert line["region"] == "us-east-1" and line["metric_name"] == "Latency"
        assert line["dimensions"] == {"Host": "h1"} and line["unit"] == "Count"
        want = expected(values)
        assert {k: line["value"][k] for k in want} == want
        assert line["value"]["p99"] == max(values)
    assert not [x for x in got if x["metric_name"] == "Skipped"]
    headers, body = receiver.accepted("ds-json")[0]
    assert headers["x-amz-firehose-request-id"] == body["requestId"]
    assert headers["content-type"] == "application/json" and isinstance(body["timestamp"], int)
    cw.delete_metric_stream(Name=name)


def decode_delimited(data: bytes):
    from google.protobuf.internal.decoder import _DecodeVarint32
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    out, pos = [], 0
    while pos < len(data):
        size, pos = _DecodeVarint32(data, pos)
        msg = ExportMetricsServiceRequest()
        msg.ParseFromString(data[pos:pos + size])
        out.append(msg)
        pos += size
    assert pos == len(data)
    return out


def test_opentelemetry_1_0_delivery_decodes(cw, receiver, ns):
    base = minute_base()
    dims = [{"Name": "Table", "Value": "orders"}, {"Name": "Op", "Value": "read"}]
    minutes = {base - 180: [2.0, 8.0], base - 120: [5.0]}
    put_past_minutes(cw, ns, "Reads", dims, minutes, unit="Bytes/Second")
    name = f"otel-{uuid.uuid4().hex[:8]}"
    arn = cw.put_metric_stream(Name=name, FirehoseArn=firehose_arn("ds-otel"), RoleArn=ROLE,
                               OutputFormat="opentelemetry1.0", IncludeFilters=[{"Namespace": ns}])["Arn"]

    def points():
        found = []
        for rec in receiver.records("ds-otel"):
            for req in decode_delimited(rec):
                for rm in req.resource_metrics:
                    res = {a.key: a.value.string_value for a in rm.resource.attributes}
                    for sm in rm.scope_metrics:
                        for metric in sm.metrics:
                            for dp in metric.summary.data_points:
                                attrs = {a.key: a.value for a in dp.attributes}
                                if attrs["Namespace"].string_value == ns:
                                    found.append((res, metric, dp, attrs))
        return found if len(found) >= 2 else None

    found = wait_for(points, 30, what="two OTel summary points")
    seen = set()
    for res, metric, dp, attrs in found:
        assert res == {"cloud.provider": "aws", "cloud.account.id": ACCOUNT, "cloud.region": "us-east-1",
                       "aws.exporter.arn": arn}
        assert metric.name == f"amazonaws.com/{ns}/Reads" and metric.unit == "By/s"
        assert attrs["MetricName"].string_value == "Reads"
        assert {kv.key: kv.value.string_value for kv in attrs["Dimensions"].kvlist_value.values} == \
            {"Table": "orders", "Op": "read"}
        start = dp.start_time_unix_nano // 1_000_000_000
        assert dp.time_unix_nano - dp.start_time_unix_nano == 60 * 10**9
        values = minutes[start]
        assert dp.count == len(values) and dp.sum == sum(values)
        assert [(q.quantile, q.value) for q in dp.quantile_values] == [(0.0, min(values)), (1.0, max(values))]
        seen.add(start)
    assert seen == set(minutes)
    cw.delete_metric_stream(Name=name)


def test_exclude_filters(cw, receiver, ns):
    base = minute_base()
    kept, dropped = f"{ns}/kept", f"{ns}/dropped"
    put_past_minutes(cw, kept, "m", [], {base - 120: [1.0]})
    put_past_minutes(cw, dropped, "m", [], {base - 120: [2.0]})
    put_past_minutes(cw, kept, "quiet", [], {base - 120: [3.0]})
    name = f"excl-{uuid.uuid4().hex[:8]}"
    cw.put_metric_stream(Name=name, FirehoseArn=firehose_arn("ds-excl"), RoleArn=ROLE, OutputFormat="json",
                         ExcludeFilters=[{"Namespace": dropped}, {"Namespace": kept, "MetricNames": ["quiet"]}])
    wait_for(lambda: lines_for(receiver, "ds-excl", kept), 30, what="the kept namespace's record")
    time.sleep(1)
    assert [x["metric_name"] for x in lines_for(receiver, "ds-excl", kept)] == ["m"]
    assert lines_for(receiver, "ds-excl", dropped) == []
    cw.delete_metric_stream(Name=name)


def test_stopped_stream_sends_nothing_and_restarts_from_now(cw, receiver, ns):
    base = minute_base()
    put_past_minutes(cw, ns, "m", [], {base - 120: [1.0]})
    receiver.status["ds-stop"] = 500
    name = f"stop-{uuid.uuid4().hex[:8]}"
    cw.put_metric_stream(Name=name, FirehoseArn=firehose_arn("ds-stop"), RoleArn=ROLE, OutputFormat="json",
                         IncludeFilters=[{"Namespace": ns}])
    wait_for(lambda: receiver.failed.get("ds-stop", 0) >= 1, 30, what="a failed attempt")
    cw.stop_metric_streams(Names=[name])
    time.sleep(0.5)  # a pass under way when Stop committed may still post once
    attempts = receiver.failed.get("ds-stop", 0)
    receiver.status["ds-stop"] = 200
    time.sleep(3)
    assert receiver.failed.get("ds-stop", 0) == attempts and lines_for(receiver, "ds-stop", ns) == []
    # Started again: from the current minute on; the backlog of before is not sent.
    cw.start_metric_streams(Names=[name])
    now = time.time()
    put_past_minutes(cw, ns, "m", [], {int(now) // 60 * 60: [7.0]})
    line = wait_for(lambda: lines_for(receiver, "ds-stop", ns), 80, what="the current minute's record")
    assert [(x["timestamp"], x["value"]["sum"]) for x in line] == [(int(now) // 60 * 60 * 1000, 7.0)]
    cw.delete_metric_stream(Name=name)


def test_receiver_outage_loses_no_minute(cw, receiver, ns):
    base = minute_base()
    minutes = {base - 240: [1.0], base - 180: [2.0, 3.0], base - 120: [4.0]}
    put_past_minutes(cw, ns, "m", [], minutes)
    receiver.status["ds-outage"] = 503
    name = f"out-{uuid.uuid4().hex[:8]}"
    cw.put_metric_stream(Name=name, FirehoseArn=firehose_arn("ds-outage"), RoleArn=ROLE, OutputFormat="json",
                         IncludeFilters=[{"Namespace": ns}])
    wait_for(lambda: receiver.failed.get("ds-outage", 0) >= 3, 30, what="three failed attempts")
    assert lines_for(receiver, "ds-outage", ns) == []
    receiver.status["ds-outage"] = 200
    got = wait_for(lambda: (lambda ls: ls if len({x["timestamp"] for x in ls}) >= 3 else None)(
        lines_for(receiver, "ds-outage", ns)), 30, what="every minute after the outage")
    assert {x["timestamp"]: x["value"]["sum"] for x in got} == {m * 1000: sum(v) for m, v in minutes.items()}
    cw.delete_metric_stream(Name=name)


def test_kill_9_and_restart_loses_no_minute_and_resends_nothing_acknowledged(make_server, receiver, ns):
    srv = make_server(env=dict(KNOBS), start=False)
    srv.extra_args = server_args(receiver)
    srv.start()
    cw = srv.client("cloudwatch")
    base = minute_base()
    first = {base - 240: [1.0], base - 180: [5.0]}
    put_past_minutes(cw, ns, "m", [], first)
    name = f"kill-{uuid.uuid4().hex[:8]}"
    cw.put_metric_stream(Name=name, FirehoseArn=firehose_arn("ds-kill"), RoleArn=ROLE, OutputFormat="json",
                         IncludeFilters=[{"Namespace": ns}])
    wait_for(lambda: len(lines_for(receiver, "ds-kill", ns)) >= 2, 30, what="the first minutes")
    time.sleep(1)  # the checkpoint commits right after the 2xx
    # Then an outage with data waiting, and a kill -9 in the middle of it.
    receiver.status["ds-kill"] = 500
    now_min = minute_base()
    second = {now_min: [9.0]}
    put_past_minutes(cw, ns, "m", [], second)
    srv.kill()
    receiver.status["ds-kill"] = 200
    srv.start()
    cw = srv.client("cloudwatch")
    assert cw.get_metric_stream(Name=name)["State"] == "running"
    got = wait_for(lambda: (lambda ls: ls if any(x["timestamp"] == now_min * 1000 for x in ls) else None)(
        lines_for(receiver, "ds-kill", ns)), 90, what="the minute written before the kill")
    sums = {}
    for x in got:
        sums.setdefault(x["timestamp"], []).append(x["value"]["sum"])
    want = {m * 1000: [sum(v)] for m, v in {**first, **second}.items()}
    assert sums == want, "every minute exactly once: acknowledged minutes are not sent again"


def test_destination_refused_by_the_egress_policy_is_refused_at_put(make_server, receiver):
    srv = make_server(start=False, webhook_allow=())
    srv.extra_args = server_args(receiver)
    srv.start()
    cw = srv.client("cloudwatch")
    with pytest.raises(ClientError) as e:
        cw.put_metric_stream(Name="s", FirehoseArn=firehose_arn("ds-crud"), RoleArn=ROLE, OutputFormat="json")
    code, msg = err(e)
    assert code == "InvalidParameterValue" and "egress policy" in msg and "loopback" in msg
    assert cw.list_metric_streams()["Entries"] == []


def test_config_file_destination_sends_its_access_key(make_server, receiver, ns, tmp_path):
    config = tmp_path / "streams.toml"
    config.write_text(
        '[notify]\nwebhook_allow = ["127.0.0.1"]\n\n[firehose]\n'
        f'ds-key = {{ url = "{receiver.url("ds-key")}", access_key = "secret-k" }}\n'
    )
    srv = make_server(env={**KNOBS, "STRATUS_CONFIG": str(config)})
    cw = srv.client("cloudwatch")
    base = minute_base()
    put_past_minutes(cw, ns, "m", [], {base - 120: [3.0]})
    cw.put_metric_stream(Name="keyed", FirehoseArn=firehose_arn("ds-key"), RoleArn=ROLE, OutputFormat="json",
                         IncludeFilters=[{"Namespace": ns}])
    wait_for(lambda: lines_for(receiver, "ds-key", ns), 30, what="the keyed delivery")
    headers, body = receiver.accepted("ds-key")[0]
    assert headers["x-amz-firehose-access-key"] == "secret-k"
    assert headers["x-amz-firehose-request-id"] == body["requestId"]
