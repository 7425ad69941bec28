#!/usr/bin/env python3
"""Generates botocore_fixtures.json: requests exactly as botocore signs and sends them.

Real botocore clients (CloudWatch over awsJson1_0 and over rpc-v2-cbor, SNS over awsQuery, and a
gzip-compressed PutMetricData) are pointed at a local endpoint with fixed credentials and a fixed
clock; a `before-send` hook captures the prepared request and aborts the call, so nothing goes on
the network. tests/botocore_fixtures.rs verifies each fixture with our verifier.

Run from anywhere:  python3 crates/sigv4/tests/data/gen_botocore.py
"""

import base64
import datetime
import json
import os
from urllib.parse import urlsplit

import botocore
import botocore.auth
import botocore.model
import botocore.session

ACCESS_KEY_ID = "AKIDSTRATUSEXAMPLE"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-3"
ENDPOINT = "http://127.0.0.1:4566"
NOW = datetime.datetime(2026, 11, 25, 12, 0, 0)

# Freeze the signing clock (SigV4Auth.add_auth calls botocore.auth.get_current_datetime).
botocore.auth.get_current_datetime = lambda: NOW


class Captured(Exception):
    def __init__(self, request):
        super().__init__("captured")
        self.request = request


def capture(request, **_kwargs):
    raise Captured(request)


def client(service, protocols=None):
    if protocols is not None:
        # Force the wire protocol botocore picks for a multi-protocol service model.
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = protocols
    session = botocore.session.get_session()
    c = session.create_client(
        service,
        region_name=REGION,
        endpoint_url=ENDPOINT,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
    )
    c.meta.events.register("before-send", capture)
    return c


def record(name, service, call):
    try:
        call()
    except Captured as captured:
        req = captured.request
    else:
        raise SystemExit(f"{name}: request was not captured")
    url = urlsplit(req.url)
    # botocore signs the Host its HTTP client will send (urllib3 adds it after signing).
    headers = [["Host", url.netloc]]
    for key, value in req.headers.items():
        headers.append([key, value.decode() if isinstance(value, bytes) else value])
    body = req.body or b""
    if isinstance(body, str):
        body = body.encode()
    return {
        "name": name,
        "botocore_version": botocore.__version__,
        "access_key_id": ACCESS_KEY_ID,
        "secret_access_key": SECRET_ACCESS_KEY,
        "region": REGION,
        "service": service,
        "now": NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "method": req.method,
        "path": url.path,
        "query": url.query,
        "headers": headers,
        "body_base64": base64.b64encode(body).decode(),
    }


def datum(i):
    return {
        "MetricName": f"Latency{i % 7}",
        "Dimensions": [{"Name": "Host", "Value": f"web-{i}"}],
        "Value": i * 1.5,
        "Unit": "Milliseconds",
    }


def main():
    fixtures = []
    cw_json = client("cloudwatch", ("json",))
    fixtures.append(
        record(
            "cloudwatch-json-put-metric-data",
            "monitoring",
            lambda: cw_json.put_metric_data(Namespace="App/Web", MetricData=[datum(1), datum(2)]),
        )
    )
    fixtures.append(
        record(
            "cloudwatch-json-put-metric-data-gzip",
            "monitoring",
            lambda: cw_json.put_metric_data(
                Namespace="App/Web", MetricData=[datum(i) for i in range(400)]
            ),
        )
    )
    cw_cbor = client("cloudwatch", ("smithy-rpc-v2-cbor",))
    fixtures.append(
        record(
            "cloudwatch-cbor-list-metrics",
            "monitoring",
            lambda: cw_cbor.list_metrics(Namespace="App/Web", MetricName="Latency1"),
        )
    )
    sns = client("sns", ("query",))
    fixtures.append(
        record(
            "sns-query-publish",
            "sns",
            lambda: sns.publish(
                TopicArn="arn:aws:sns:eu-west-3:123456789012:alerts",
                Subject="Alarm: high latency ~ 5% + more",
                Message="Latency > 250 ms for 3 datapoints (été)",
            ),
        )
    )
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "botocore_fixtures.json")
    with open(out, "w") as f:
        json.dump(fixtures, f, indent=2, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(fixtures)} fixtures to {out}")


if __name__ == "__main__":
    main()
