"""gzip request bodies: boto3's automatic compression, a hand-made gzip awsQuery request
(signed over the compressed bytes, as the CloudWatch agent sends it), and bombs refused."""

from __future__ import annotations

import gzip
import io
import re
import time
import urllib.parse
import zlib

import pytest

import rawsig
from expect import floor_to, utc


def query_body(params: dict[str, str]) -> bytes:
    return urllib.parse.urlencode(params).encode()


def send_gzip_query(server, body: bytes, raw_gzip: bytes | None = None) -> rawsig.RawResponse:
    key, secret = server.admin_keys()
    signer = rawsig.Signer(key, secret)
    payload = raw_gzip if raw_gzip is not None else gzip.compress(body)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "Content-Encoding": "gzip",
    }
    return rawsig.signed_send(server.endpoint, signer, "/", headers, payload)


def test_boto3_compresses_large_put_and_server_inflates(cw, ns):
    sent = []

    def capture(request, **_):
        sent.append({k.lower(): v for k, v in request.headers.items()})

    cw.meta.events.register("before-send.cloudwatch", capture)
    t0 = floor_to(time.time(), 60) - 3600
    data = [
        {
            "MetricName": f"metric_{i % 40}",
            "Dimensions": [{"Name": "host", "Value": f"host-{i % 10}"}],
            "Timestamp": utc(t0 + i % 60),
            "Value": float(i),
        }
        for i in range(400)
    ]
    try:
        cw.put_metric_data(Namespace=ns, MetricData=data)
    finally:
        cw.meta.events.unregister("before-send.cloudwatch", capture)
    enc = sent[-1].get("content-encoding")
    enc = enc.decode() if isinstance(enc, bytes) else enc
    assert enc == "gzip", f"boto3 did not compress a large PutMetricData: {sent[-1]}"

    # Every datum arrived: 40 metrics x 10 hosts -> 40 distinct (name, host) pairs with 10 values each.
    metrics = []
    for page in cw.get_paginator("list_metrics").paginate(Namespace=ns):
        metrics += page["Metrics"]
    assert len(metrics) == 40
    dp = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="metric_0",
        Dimensions=[{"Name": "host", "Value": "host-0"}],
        StartTime=utc(t0),
        EndTime=utc(t0 + 60),
        Period=60,
        Statistics=["SampleCount", "Sum"],
    )["Datapoints"]
    assert len(dp) == 1
    assert dp[0]["SampleCount"] == 10 and dp[0]["Sum"] == sum(range(0, 400, 40))


def test_hand_made_gzip_query_request(server, cw, ns):
    t = floor_to(time.time(), 60) - 600
    body = query_body(
        {
            "Action": "PutMetricData",
            "Version": "2010-08-01",
            "Namespace": ns,
            "MetricData.member.1.MetricName": "disk_used_percent",
            "MetricData.member.1.Dimensions.member.1.Name": "path",
            "MetricData.member.1.Dimensions.member.1.Value": "/",
            "MetricData.member.1.Timestamp": utc(t).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "MetricData.member.1.Value": "51.5",
            "MetricData.member.1.Unit": "Percent",
            "MetricData.member.2.MetricName": "disk_used_percent",
            "MetricData.member.2.Dimensions.member.1.Name": "path",
            "MetricData.member.2.Dimensions.member.1.Value": "/",
            "MetricData.member.2.Timestamp": utc(t + 1).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "MetricData.member.2.Values.member.1": "10",
            "MetricData.member.2.Values.member.2": "20",
            "MetricData.member.2.Counts.member.1": "2",
            "MetricData.member.2.Counts.member.2": "1",
            "MetricData.member.2.Unit": "Percent",
        }
    )
    resp = send_gzip_query(server, body)
    assert resp.status == 200, resp
    assert "<PutMetricDataResponse" in resp.text and "<RequestId>" in resp.text, resp.text
    dp = cw.get_metric_statistics(
        Namespace=ns,
        MetricName="disk_used_percent",
        Dimensions=[{"Name": "path", "Value": "/"}],
        StartTime=utc(t),
        EndTime=utc(t + 60),
        Period=60,
        Statistics=["SampleCount", "Sum", "Maximum"],
    )["Datapoints"]
    assert len(dp) == 1
    assert (dp[0]["SampleCount"], dp[0]["Sum"], dp[0]["Maximum"]) == (4, 51.5 + 40, 51.5)


def test_empty_metric_data_from_the_agent(server):
    """The stock agent sometimes sends `MetricData=` with nothing in it: accepted, stores nothing."""
    resp = send_gzip_query(
        server, b"Action=PutMetricData&Version=2010-08-01&Namespace=CWAgent&MetricData="
    )
    assert resp.status == 200, resp


def agent_body(ns: str, t: int, extra: str = "") -> bytes:
    """Two datums exactly as the CloudWatch agent (and `stratus agent`) writes them: fields in
    its order, escaped ISO timestamps, an empty `Values=` list, the StrictEntityValidation
    suffix. The server reads this shape without its generic form tree."""
    ts = urllib.parse.quote(utc(t).strftime("%Y-%m-%dT%H:%M:%S.000Z"), safe="")
    m1, m2, m3 = ("&MetricData.member.1.", "&MetricData.member.2.", "&MetricData.member.3.")
    return (
        f"Action=PutMetricData&Version=2010-08-01&Namespace={ns}"
        f"{m1}MetricName=mem_used_percent{m1}Dimensions.member.1.Name=host"
        f"{m1}Dimensions.member.1.Value=ip-10-0-0-1{m1}Dimensions.member.2.Name=path"
        f"{m1}Dimensions.member.2.Value=%2Fvar{m1}Timestamp={ts}{m1}Value=97.49373433583960"
        f"{m1}Unit=Percent{m1}StorageResolution=60"
        f"{m2}MetricName=requests{m2}Timestamp={ts}{m2}Values.member.1=3.0"
        f"{m2}Counts.member.1=2.0{m2}Unit=Count{m2}StorageResolution=1"
        f"{m3}MetricName=gauge{m3}Timestamp={ts}{m3}Values={m3}Value=5{m3}Unit=None"
        f"{extra}&StrictEntityValidation=false"
    ).encode()


def test_agent_shaped_bodies_and_the_ones_left_to_the_general_decoder(server, cw, ns):
    t = floor_to(time.time(), 60) - 600

    def stats(name: str, dims: list[dict[str, str]]) -> tuple:
        dp = cw.get_metric_statistics(
            Namespace=ns, MetricName=name, Dimensions=dims, StartTime=utc(t), EndTime=utc(t + 60),
            Period=60, Statistics=["SampleCount", "Sum", "Maximum"],
        )["Datapoints"]
        assert len(dp) == 1, dp
        return dp[0]["SampleCount"], dp[0]["Sum"], dp[0]["Maximum"]

    resp = send_gzip_query(server, agent_body(ns, t))
    assert resp.status == 200, resp
    dims = [{"Name": "host", "Value": "ip-10-0-0-1"}, {"Name": "path", "Value": "/var"}]
    assert stats("mem_used_percent", dims) == (1, 97.4937343358396, 97.4937343358396)
    assert stats("requests", []) == (2, 6.0, 3.0)
    assert stats("gauge", []) == (1, 5.0, 5.0)

    # A repeated key is left to the general decoder, where the later value wins.
    resp = send_gzip_query(server, agent_body(ns, t + 1, "&MetricData.member.1.Value=1.5"))
    assert resp.status == 200, resp
    assert stats("mem_used_percent", dims) == (2, 97.4937343358396 + 1.5, 97.4937343358396)

    # Bad values still get the general path's AWS wording, and store nothing.
    resp = send_gzip_query(server, agent_body(ns, t + 2).replace(b"Value=97.49373433583960", b"Value=NaN"))
    assert resp.status == 400, resp
    assert "<Code>InvalidParameterValue</Code>" in resp.text, resp.text
    assert "The value NaN for parameter MetricData.member.1.Value is invalid." in resp.text, resp.text
    assert stats("requests", []) == (4, 12.0, 3.0)


def _bomb(size: int) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)  # gzip container
    out = io.BytesIO()
    chunk = b"\0" * (1 << 20)
    for _ in range(size >> 20):
        out.write(c.compress(chunk))
    out.write(c.flush())
    return out.getvalue()


@pytest.mark.parametrize("inflated_mib", [64, 1024])
def test_gzip_bomb_is_refused(server, cw, inflated_mib):
    bomb = _bomb(inflated_mib << 20)
    assert len(bomb) < 2 << 20
    start = time.monotonic()
    resp = send_gzip_query(server, b"", raw_gzip=bomb)
    assert 400 <= resp.status < 500, resp
    assert re.search(r"(?i)too large|size|limit|exceed|inflat|decompress|compress", resp.text), resp.text
    assert resp.header("x-amzn-RequestId")
    assert time.monotonic() - start < 30
    # The server is still there and answers normally.
    cw.list_metrics(Namespace="after-bomb")


def test_corrupt_gzip_is_a_client_error(server, cw):
    resp = send_gzip_query(server, b"", raw_gzip=b"\x1f\x8b\x08\x00not really gzip at all")
    assert 400 <= resp.status < 500, resp
    assert "<Code>" in resp.text, resp.text
    cw.list_metrics(Namespace="after-corrupt")
