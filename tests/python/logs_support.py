"""Shared helpers for the CloudWatch Logs tests (tests/python/test_logs_*.py).

Everything here is the client's side only: putting events, walking AWS's paging tokens,
polling an Insights query to its end, running the AWS CLI. The expected values live in the
tests and come from AWS's documentation, never from this module or the server."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

from conftest import clean_env

AWS = Path(sys.executable).parent / "aws"

# The documented PutLogEvents limits (API reference, PutLogEvents).
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
EVENT_OVERHEAD_BYTES = 26

# The documented retention values (botocore's `Days` shape).
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
                  2557, 2922, 3288, 3653]

QUERY_WAIT_S = 30.0


def uniq(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def error_of(excinfo) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError caught by pytest.raises."""
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"].get("Message", ""), e["ResponseMetadata"]["HTTPStatusCode"]


def make_stream(logs, group: str, stream: str) -> None:
    """Creates the group (if missing) and the stream."""
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs, group: str, stream: str, events: list[tuple[int, str]]) -> dict:
    """PutLogEvents of (timestamp ms, message) pairs, in the order given."""
    return logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in events],
    )


def filter_all(logs, group: str, page_limit: int | None = None, max_pages: int = 1000, **kwargs) -> tuple[list[dict], int]:
    """Every event FilterLogEvents returns, following nextToken until it is absent.
    Returns (events, pages)."""
    events: list[dict] = []
    token = None
    pages = 0
    while True:
        req = dict(kwargs, logGroupName=group)
        if page_limit is not None:
            req["limit"] = page_limit
        if token is not None:
            req["nextToken"] = token
        resp = logs.filter_log_events(**req)
        pages += 1
        if page_limit is not None:
            assert len(resp["events"]) <= page_limit, "a page holds at most `limit` events"
        events.extend(resp["events"])
        token = resp.get("nextToken")
        if not token:
            return events, pages
        assert pages < max_pages, "FilterLogEvents paging does not end"


def messages(events: list[dict]) -> list[str]:
    return [e["message"] for e in events]


def wait_query(logs, query_id: str, timeout: float = QUERY_WAIT_S) -> dict:
    """GetQueryResults until the status is final; returns the last response."""
    deadline = time.monotonic() + timeout
    while True:
        resp = logs.get_query_results(queryId=query_id)
        if resp["status"] not in ("Scheduled", "Running"):
            return resp
        assert time.monotonic() < deadline, f"query {query_id} still {resp['status']} after {timeout}s"
        time.sleep(0.2)


def rows_of(resp: dict) -> list[dict[str, str]]:
    """GetQueryResults rows as {field: value}, without the @ptr field AWS adds to each row."""
    return [{f["field"]: f["value"] for f in row if f["field"] != "@ptr"} for row in resp["results"]]


def run_query(logs, groups: list[str] | str, query: str, start_s: int, end_s: int, **kwargs) -> dict:
    """StartQuery (times in epoch seconds, both inclusive) and wait for its end."""
    if isinstance(groups, str):
        qid = logs.start_query(logGroupName=groups, queryString=query, startTime=start_s, endTime=end_s, **kwargs)["queryId"]
    else:
        qid = logs.start_query(logGroupNames=groups, queryString=query, startTime=start_s, endTime=end_s, **kwargs)["queryId"]
    return wait_query(logs, qid)


def aws_logs(server, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`aws logs ...` (the AWS CLI) against the server with its own credentials file."""
    env = clean_env(
        AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
        AWS_CONFIG_FILE=str(server.config_file),
        AWS_PROFILE="stratus",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_MAX_ATTEMPTS="1",
    )
    cmd = [str(AWS), "--endpoint-url", server.endpoint, "--output", "json", "logs", *args]
    cp = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if check and cp.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {cp.returncode}\nstdout:\n{cp.stdout}\nstderr:\n{cp.stderr}")
    return cp


def aws_logs_json(server, *args: str) -> dict:
    out = aws_logs(server, *args).stdout
    return json.loads(out) if out.strip() else {}


def read_all(logs, group: str, stream: str) -> list[str]:
    """Every message of a stream, oldest first, through GetLogEvents' forward tokens."""
    out, token = [], None
    while True:
        kw = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, **kw)
        out += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return out
        token = page["nextForwardToken"]


def wal_frames(data: bytes) -> list[tuple[int, int]]:
    """(offset, length) of each crc frame after an 8-byte segment header (the
    framing of the metric engine's and the log store's WALs: magic u32, len
    u32, crc u32, payload)."""
    out, pos = [], 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack_from("<I", data, pos + 4)
        out.append((pos, 12 + length))
        pos += 12 + length
    return out
