"""CloudWatch Logs API, every action through boto3 (and the issue's commands through the AWS
CLI), against a real `stratus server`.

Expected values come from AWS's documentation: the CloudWatch Logs API reference and
botocore's service model for `logs` (2014-03-28) — shapes, limits, which exception each
action raises. Where the documentation gives an error's wording and real AWS is well known
to use it ("The specified log group does not exist."), the message is asserted too."""

from __future__ import annotations

import re

import botocore.exceptions
import pytest

from logs_support import (
    EVENT_OVERHEAD_BYTES,
    MAX_BATCH_BYTES,
    MAX_BATCH_EVENTS,
    RETENTION_DAYS,
    aws_logs_json,
    error_of,
    filter_all,
    make_stream,
    messages,
    now_ms,
    put,
    rows_of,
    run_query,
    uniq,
    wait_query,
)
from conftest import wait_for

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
GROUP_NAME_RE = re.compile(r"[\.\-_/#A-Za-z0-9]+")


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


@pytest.fixture(scope="module")
def raw(server):
    """A client that does not check parameters itself (botocore enforces `min` lengths), so
    the server's own validation is what answers."""
    return server.client("logs", parameter_validation=False)


def describe_group(logs, name: str) -> dict:
    groups = [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] if g["logGroupName"] == name]
    assert len(groups) == 1, groups
    return groups[0]


def account_of(logs, group: str) -> str:
    arn = describe_group(logs, group)["arn"]
    m = re.fullmatch(r"arn:aws:logs:us-east-1:(\d{12}):log-group:" + re.escape(group) + r":\*", arn)
    assert m, arn
    return m.group(1)


# ---- log groups ------------------------------------------------------------------------------


def test_create_log_group_and_the_fields_describe_returns(logs):
    name = uniq("/app/svc")
    before = now_ms()
    logs.create_log_group(logGroupName=name)
    after = now_ms()
    g = describe_group(logs, name)
    assert g["logGroupName"] == name
    assert before - 1000 <= g["creationTime"] <= after + 1000
    # arn carries a trailing :* (for IAM policies); logGroupArn does not.
    assert re.fullmatch(r"arn:aws:logs:us-east-1:\d{12}:log-group:" + re.escape(name) + r":\*", g["arn"]), g["arn"]
    assert g["logGroupArn"] == g["arn"][: -len(":*")]
    assert g["storedBytes"] == 0
    assert g["metricFilterCount"] == 0
    # The default class is STANDARD.
    assert g["logGroupClass"] == "STANDARD"
    # No retention policy: events never expire, and retentionInDays is absent.
    assert "retentionInDays" not in g


def test_create_log_group_with_class_and_tags(logs):
    name = uniq("classy")
    logs.create_log_group(logGroupName=name, logGroupClass="INFREQUENT_ACCESS", tags={"team": "core", "env": "dev"})
    assert describe_group(logs, name)["logGroupClass"] == "INFREQUENT_ACCESS"
    assert logs.list_tags_log_group(logGroupName=name)["tags"] == {"team": "core", "env": "dev"}


def test_create_existing_log_group_is_resource_already_exists(logs):
    name = uniq("dup")
    logs.create_log_group(logGroupName=name)
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException) as e:
        logs.create_log_group(logGroupName=name)
    code, msg, status = error_of(e)
    assert code == "ResourceAlreadyExistsException" and status == 400
    assert msg == "The specified log group already exists"


@pytest.mark.parametrize("name", ["a", "A.b-c_d/e#f", "/aws/lambda/my-function", "x" * 512])
def test_valid_log_group_names(logs, name):
    if len(name) > 100:
        name = uniq("long")[:15] + name[15:]
    elif len(name) < 8:
        name = name + uniq("")
    logs.create_log_group(logGroupName=name)
    assert describe_group(logs, name)["logGroupName"] == name
    logs.delete_log_group(logGroupName=name)


@pytest.mark.parametrize("name", ["bad:name", "has space", "star*", "ümlaut", "q?", "x" * 513])
def test_invalid_log_group_names(logs, name):
    assert not (GROUP_NAME_RE.fullmatch(name) and len(name) <= 512)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.create_log_group(logGroupName=name)


def test_empty_log_group_name_is_invalid(raw):
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.create_log_group(logGroupName="")


def test_delete_log_group_removes_it_and_its_streams(logs):
    name = uniq("del")
    make_stream(logs, name, "s")
    put(logs, name, "s", [(now_ms(), "hello")])
    logs.delete_log_group(logGroupName=name)
    assert [g for g in logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.delete_log_group(logGroupName=name)
    assert error_of(e)[1] == "The specified log group does not exist."
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=name)
    # A group created again under the name starts empty.
    logs.create_log_group(logGroupName=name)
    assert logs.describe_log_streams(logGroupName=name)["logStreams"] == []


def test_describe_log_groups_prefix_pattern_sorting_and_paging(make_server):
    srv = make_server()
    logs = srv.client("logs")
    names = ["DataLogs", "aws/DataLogs", "GroupDataLogs", "datalogs", "Data/log/s", "Groupdata", "Zeta", "_under"]
    for n in names:
        logs.create_log_group(logGroupName=n)

    # All of them, ASCII-sorted by name.
    everything = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in everything] == sorted(names)

    # Prefix.
    got = [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="Group")["logGroups"]]
    assert got == ["GroupDataLogs", "Groupdata"]
    assert logs.describe_log_groups(logGroupNamePrefix="nothing-here")["logGroups"] == []

    # Pattern: a case-sensitive substring (the API reference's own example).
    resp = logs.describe_log_groups(logGroupNamePattern="DataLogs")
    assert [g["logGroupName"] for g in resp["logGroups"]] == ["DataLogs", "GroupDataLogs", "aws/DataLogs"]

    # Paging: limit + nextToken, every group once, in order; no token on the last page.
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        kw = {"limit": 3}
        if token:
            kw["nextToken"] = token
        resp = logs.describe_log_groups(**kw)
        pages += 1
        assert len(resp["logGroups"]) <= 3
        seen += [g["logGroupName"] for g in resp["logGroups"]]
        token = resp.get("nextToken")
        if not token:
            break
        assert pages < 10
    assert seen == sorted(names)
    assert pages == 3

    # Paging with a prefix stays within the prefix.
    first = logs.describe_log_groups(logGroupNamePrefix="Data", limit=1)
    assert [g["logGroupName"] for g in first["logGroups"]] == ["Data/log/s"]
    second = logs.describe_log_groups(logGroupNamePrefix="Data", limit=1, nextToken=first["nextToken"])
    assert [g["logGroupName"] for g in second["logGroups"]] == ["DataLogs"]
    assert "nextToken" not in second


def test_describe_log_groups_pattern_returns_only_arn_creation_time_and_name(logs):
    name = uniq("patternonly")
    logs.create_log_group(logGroupName=name)
    logs.put_retention_policy(logGroupName=name, retentionInDays=7)
    (g,) = logs.describe_log_groups(logGroupNamePattern=name)["logGroups"]
    # "If you specify logGroupNamePattern in your request, then only arn, creationTime,
    # and logGroupName are included in the response."
    assert g["logGroupName"] == name
    assert set(g) <= {"arn", "creationTime", "logGroupName"}, g
    assert {"arn", "creationTime", "logGroupName"} <= set(g)


def test_describe_log_groups_bad_parameters(logs, raw):
    # Prefix and pattern are mutually exclusive.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(logGroupNamePrefix="a", logGroupNamePattern="a")
    # limit is 1..50.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(limit=51)
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.describe_log_groups(limit=0)
    # A token that the server never issued.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_groups(nextToken="not-a-token")


# ---- log streams -----------------------------------------------------------------------------


def test_create_log_stream_and_its_fields(logs):
    group = uniq("streams")
    logs.create_log_group(logGroupName=group)
    account = account_of(logs, group)
    before = now_ms()
    logs.create_log_stream(logGroupName=group, logStreamName="2024/01/01/[$LATEST]abc")
    (s,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert s["logStreamName"] == "2024/01/01/[$LATEST]abc"
    assert before - 1000 <= s["creationTime"] <= now_ms() + 1000
    assert s["arn"] == f"arn:aws:logs:us-east-1:{account}:log-group:{group}:log-stream:2024/01/01/[$LATEST]abc"
    assert s["storedBytes"] == 0  # always zero for streams since 2019
    # No events yet: no event times.
    assert "firstEventTimestamp" not in s and "lastEventTimestamp" not in s

    t = now_ms()
    put(logs, group, "2024/01/01/[$LATEST]abc", [(t - 5000, "one"), (t - 1000, "two"), (t - 3000, "three")])

    def event_times():
        (s,) = logs.describe_log_streams(logGroupName=group)["logStreams"]
        return s if s.get("lastEventTimestamp") == t - 1000 else None

    s = wait_for(event_times, 15, what="the stream's event times")
    assert s["firstEventTimestamp"] == t - 5000
    assert s["lastEventTimestamp"] == t - 1000
    assert s["lastIngestionTime"] >= t - 1000


def test_create_log_stream_errors(logs):
    group = uniq("streamerr")
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert error_of(e)[1] == "The specified log group does not exist."
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    with pytest.raises(logs.exceptions.ResourceAlreadyExistsException) as e:
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    assert error_of(e)[1] == "The specified log stream already exists"
    for bad in ["a:b", "a*b", "x" * 513]:
        with pytest.raises(logs.exceptions.InvalidParameterException):
            logs.create_log_stream(logGroupName=group, logStreamName=bad)
    logs.create_log_stream(logGroupName=group, logStreamName="y" * 512)  # the longest allowed


def test_empty_log_stream_name_is_invalid(raw):
    group = uniq("emptystream")
    raw.create_log_group(logGroupName=group)
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.create_log_stream(logGroupName=group, logStreamName="")


def test_delete_log_stream(logs):
    group = uniq("delstream")
    make_stream(logs, group, "gone")
    logs.create_log_stream(logGroupName=group, logStreamName="kept")
    put(logs, group, "gone", [(now_ms(), "bye")])
    logs.delete_log_stream(logGroupName=group, logStreamName="gone")
    assert [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]] == ["kept"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        logs.delete_log_stream(logGroupName=group, logStreamName="gone")
    assert error_of(e)[1] == "The specified log stream does not exist."
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=group, logStreamName="gone")
    # Its events are gone from the group's searches too.
    assert filter_all(logs, group)[0] == []


def test_describe_log_streams_order_prefix_and_paging(logs):
    group = uniq("order")
    logs.create_log_group(logGroupName=group)
    t = now_ms()
    # name → the time of its newest event; names and times sort differently.
    last = {"b-stream": t - 1000, "a-stream": t - 3000, "c-stream": t - 2000, "a-other": t - 4000}
    for name, ts in last.items():
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        put(logs, group, name, [(ts - 10_000, f"{name} early"), (ts, f"{name} late")])

    by_name = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert by_name == ["a-other", "a-stream", "b-stream", "c-stream"]
    desc = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, descending=True)["logStreams"]]
    assert desc == ["c-stream", "b-stream", "a-stream", "a-other"]
    pref = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="a-")["logStreams"]]
    assert pref == ["a-other", "a-stream"]

    def by_time(descending: bool):
        resp = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=descending)
        return [s["logStreamName"] for s in resp["logStreams"]]

    expected = sorted(last, key=lambda n: last[n])
    wait_for(lambda: by_time(False) == expected, 15, what="streams ordered by last event time")
    assert by_time(True) == expected[::-1]

    # Paging: limit 3 then the rest, every stream once.
    p1 = logs.describe_log_streams(logGroupName=group, limit=3)
    assert [s["logStreamName"] for s in p1["logStreams"]] == ["a-other", "a-stream", "b-stream"]
    p2 = logs.describe_log_streams(logGroupName=group, limit=3, nextToken=p1["nextToken"])
    assert [s["logStreamName"] for s in p2["logStreams"]] == ["c-stream"]
    assert "nextToken" not in p2

    # "If you order the results by event time, you cannot specify the logStreamNamePrefix parameter."
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="a")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_log_streams(logGroupName=uniq("missing"))


# ---- PutLogEvents ----------------------------------------------------------------------------


def test_put_log_events_in_any_order_reads_back_in_time_order(logs):
    group, stream = uniq("order"), "s"
    make_stream(logs, group, stream)
    t = now_ms()
    batch = [(t - 2000, "second"), (t - 3000, "first"), (t - 1000, "third")]
    resp = put(logs, group, stream, batch)
    assert "rejectedLogEventsInfo" not in resp
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert [(e["timestamp"], e["message"]) for e in got] == sorted(batch)
    for e in got:
        assert e["ingestionTime"] >= t - 5000


def test_put_log_events_rejects_too_old_and_too_new_but_keeps_the_rest(logs):
    group, stream = uniq("reject"), "s"
    make_stream(logs, group, stream)
    t = now_ms()
    batch = [
        (t - 15 * DAY_MS, "too old 1"),
        (t - 14 * DAY_MS - HOUR_MS, "too old 2"),
        (t - 60_000, "kept 1"),
        (t - 30_000, "kept 2"),
        (t + 3 * HOUR_MS, "too new 1"),
        (t + 4 * HOUR_MS, "too new 2"),
    ]
    resp = put(logs, group, stream, batch)
    info = resp["rejectedLogEventsInfo"]
    # tooOldLogEventEndIndex: the end of the too-old run, exclusive; tooNewLogEventStartIndex:
    # the start of the too-new run, inclusive.
    assert info.get("tooOldLogEventEndIndex") == 2
    assert info.get("tooNewLogEventStartIndex") == 4
    assert "expiredLogEventEndIndex" not in info
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert messages(got) == ["kept 1", "kept 2"]


def test_put_log_events_rejects_events_older_than_the_retention_as_expired(logs):
    group, stream = uniq("expired"), "s"
    make_stream(logs, group, stream)
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    t = now_ms()
    resp = put(logs, group, stream, [(t - 2 * DAY_MS, "past retention"), (t - 1000, "fresh")])
    info = resp["rejectedLogEventsInfo"]
    assert info.get("expiredLogEventEndIndex") == 1
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert messages(got) == ["fresh"]


def test_put_log_events_limits(logs, raw):
    group, stream = uniq("limits"), "s"
    make_stream(logs, group, stream)
    t = now_ms()

    # Count: 10,000 is allowed, 10,001 is not.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        put(logs, group, stream, [(t - 10_000 + i // 10, f"e{i}") for i in range(MAX_BATCH_EVENTS + 1)])
    put(logs, group, stream, [(t - 10_000 + i // 10, f"e{i}") for i in range(MAX_BATCH_EVENTS)])

    # Size: messages in UTF-8 + 26 bytes each, at most 1,048,576.
    per = MAX_BATCH_BYTES // 4 - EVENT_OVERHEAD_BYTES  # four events exactly at the limit
    assert 4 * (per + EVENT_OVERHEAD_BYTES) == MAX_BATCH_BYTES
    at_limit = [(t - 5000 + i, ("é" + "x" * (per - 2)) if i == 0 else "y" * per) for i in range(4)]
    assert sum(len(m.encode()) + EVENT_OVERHEAD_BYTES for _, m in at_limit) == MAX_BATCH_BYTES
    put(logs, group, stream, at_limit)
    over = at_limit[:3] + [(t - 5000 + 3, "y" * (per + 1))]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        put(logs, group, stream, over)

    # Span: more than 24 hours between the oldest and newest (valid) events fails the batch.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        put(logs, group, stream, [(t - 25 * HOUR_MS, "old"), (t, "new")])

    # An empty batch.
    with pytest.raises(raw.exceptions.InvalidParameterException):
        raw.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[])

    # Nothing of the failed batches was stored: 10,000 + 4 events.
    events, _ = filter_all(logs, group)
    assert len(events) == MAX_BATCH_EVENTS + 4
    assert "old" not in messages(events) and "new" not in messages(events)


def test_put_log_events_to_missing_group_or_stream(logs):
    group = uniq("nowhere")
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        put(logs, group, "s", [(now_ms(), "x")])
    assert error_of(e)[1] == "The specified log group does not exist."
    logs.create_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException) as e:
        put(logs, group, "s", [(now_ms(), "x")])
    assert error_of(e)[1] == "The specified log stream does not exist."


def test_put_log_events_ignores_the_sequence_token(logs):
    group, stream = uniq("seq"), "s"
    make_stream(logs, group, stream)
    t = now_ms()
    logs.put_log_events(logGroupName=group, logStreamName=stream, sequenceToken="whatever",
                        logEvents=[{"timestamp": t, "message": "a"}])
    logs.put_log_events(logGroupName=group, logStreamName=stream, sequenceToken="whatever",
                        logEvents=[{"timestamp": t, "message": "b"}])
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert sorted(messages(got)) == ["a", "b"]


def test_stored_bytes_counts_the_group(logs):
    group, stream = uniq("bytes"), "s"
    make_stream(logs, group, stream)
    put(logs, group, stream, [(now_ms(), "z" * 1000)])
    # storedBytes is the group's data size; AWS updates it eventually, so it is polled.
    def stored():
        g = describe_group(logs, group)
        return g if g["storedBytes"] > 0 else None

    wait_for(stored, 30, what="storedBytes > 0")


# ---- GetLogEvents ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ten_events(logs):
    group, stream = uniq("get"), "s"
    make_stream(logs, group, stream)
    t0 = now_ms() - 60_000
    events = [(t0 + i * 1000, f"event {i}") for i in range(10)]
    put(logs, group, stream, events)
    return group, stream, events


def test_get_log_events_from_head_and_tail(logs, ten_events):
    group, stream, events = ten_events
    all_msgs = [m for _, m in events]
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    assert messages(got["events"]) == all_msgs
    assert [e["timestamp"] for e in got["events"]] == [t for t, _ in events]
    head = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=3)
    assert messages(head["events"]) == all_msgs[:3]
    # From the tail (the default): the newest events, still oldest first within the page.
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=3)
    assert messages(tail["events"]) == all_msgs[-3:]
    tail_explicit = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=3)
    assert messages(tail_explicit["events"]) == all_msgs[-3:]


def test_get_log_events_forward_walk_covers_every_event_once(logs, ten_events):
    group, stream, events = ten_events
    resp = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=3)
    seen = messages(resp["events"])
    token = resp["nextForwardToken"]
    for _ in range(20):
        resp = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=3,
                                   nextToken=token)
        seen += messages(resp["events"])
        if resp["nextForwardToken"] == token:
            break  # the end: the same token comes back
        token = resp["nextForwardToken"]
    else:
        pytest.fail("the forward walk never returned the same token")
    assert seen == [m for _, m in events]
    assert resp["events"] == []
    # Still the end when asked again.
    again = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, nextToken=token)
    assert again["events"] == [] and again["nextForwardToken"] == token


def test_get_log_events_backward_walk_covers_every_event_once(logs, ten_events):
    group, stream, events = ten_events
    resp = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=4)
    pages = [messages(resp["events"])]
    token = resp["nextBackwardToken"]
    for _ in range(20):
        resp = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=4, nextToken=token)
        if resp["events"]:
            pages.append(messages(resp["events"]))
        if resp["nextBackwardToken"] == token:
            break
        token = resp["nextBackwardToken"]
    else:
        pytest.fail("the backward walk never returned the same token")
    seen = [m for page in reversed(pages) for m in page]
    assert seen == [m for _, m in events]


def test_get_log_events_time_range(logs, ten_events):
    group, stream, events = ten_events
    # startTime inclusive, endTime exclusive.
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True,
                              startTime=events[2][0], endTime=events[5][0])["events"]
    assert messages(got) == ["event 2", "event 3", "event 4"]
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True,
                              startTime=events[9][0] + 1)["events"]
    assert got == []


def test_get_log_events_errors(logs, ten_events):
    group, _, _ = ten_events
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=group, logStreamName="no-such-stream")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_events(logGroupName=uniq("no-such-group"), logStreamName="s")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.get_log_events(logGroupName=group, logStreamName="s", limit=10_001)


# ---- FilterLogEvents -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def filtered_group(logs):
    group = uniq("filter")
    t0 = now_ms() - 10 * 60_000
    layout = {
        "web-1": [(t0 + 1000, "INFO started"), (t0 + 4000, "ERROR disk full"), (t0 + 7000, "INFO ok")],
        "web-2": [(t0 + 2000, "ERROR timeout talking to db"), (t0 + 5000, "WARN slow")],
        "worker": [(t0 + 3000, "INFO job 1"), (t0 + 6000, "ERROR job 2 failed")],
    }
    for stream, evs in layout.items():
        make_stream(logs, group, stream)
        put(logs, group, stream, evs)
    return group, t0, layout


def test_filter_log_events_everything_interleaved_in_time_order(logs, filtered_group):
    group, t0, layout = filtered_group
    resp = logs.filter_log_events(logGroupName=group)
    expected = sorted((t, m, s) for s, evs in layout.items() for t, m in evs)
    assert [(e["timestamp"], e["message"], e["logStreamName"]) for e in resp["events"]] == expected
    for e in resp["events"]:
        assert e["eventId"] and isinstance(e["eventId"], str)
        assert e["ingestionTime"] >= t0
    assert len({e["eventId"] for e in resp["events"]}) == len(expected)
    # "As of May 15, 2020, this parameter is no longer supported. This parameter returns an empty list."
    assert resp.get("searchedLogStreams", []) == []
    assert "nextToken" not in resp


def test_filter_log_events_pattern_streams_and_prefix(logs, filtered_group):
    group, t0, _ = filtered_group
    errs = messages(logs.filter_log_events(logGroupName=group, filterPattern="ERROR")["events"])
    assert errs == ["ERROR timeout talking to db", "ERROR disk full", "ERROR job 2 failed"]
    only = logs.filter_log_events(logGroupName=group, filterPattern="ERROR", logStreamNames=["web-1", "worker"])
    assert messages(only["events"]) == ["ERROR disk full", "ERROR job 2 failed"]
    web = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="web-")
    assert messages(web["events"]) == ["INFO started", "ERROR timeout talking to db", "ERROR disk full",
                                       "WARN slow", "INFO ok"]
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, logStreamNames=["web-1"], logStreamNamePrefix="web-")


def test_filter_log_events_time_range(logs, filtered_group):
    group, t0, _ = filtered_group
    # startTime: earlier events are not returned; endTime: later events are not returned
    # (both bounds themselves are inside the range).
    got = logs.filter_log_events(logGroupName=group, startTime=t0 + 2000, endTime=t0 + 5000)["events"]
    assert messages(got) == ["ERROR timeout talking to db", "INFO job 1", "ERROR disk full", "WARN slow"]
    got = logs.filter_log_events(logGroupName=group, startTime=t0 + 2001, endTime=t0 + 4999)["events"]
    assert messages(got) == ["INFO job 1", "ERROR disk full"]


def test_filter_log_events_newest_first(logs, filtered_group):
    group, t0, layout = filtered_group
    got = logs.filter_log_events(logGroupName=group, startTime=t0, startFromHead=False)["events"]
    expected = [m for _, m in sorted((t, m) for evs in layout.values() for t, m in evs)][::-1]
    assert messages(got) == expected


def test_filter_log_events_paging_covers_every_event_once(logs):
    group = uniq("paging")
    t0 = now_ms() - 60 * 60_000
    for s in ("a", "b", "c"):
        make_stream(logs, group, s)
    expected = []
    for i in range(25):
        s = "abc"[i % 3]
        put(logs, group, s, [(t0 + i * 1000, f"msg {i:02d} {'ERROR' if i % 2 else 'INFO'}")])
        expected.append(f"msg {i:02d} {'ERROR' if i % 2 else 'INFO'}")
    events, pages = filter_all(logs, group, page_limit=4)
    assert messages(events) == expected
    assert pages >= 7  # 25 events, at most 4 a page
    assert len({e["eventId"] for e in events}) == 25
    errors, _ = filter_all(logs, group, page_limit=3, filterPattern="ERROR")
    assert messages(errors) == [m for m in expected if "ERROR" in m]


def test_filter_log_events_errors(logs, filtered_group):
    group, _, _ = filtered_group
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.filter_log_events(logGroupName=uniq("missing"))
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, limit=10_001)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, filterPattern='{ $.a = ')


# ---- retention -------------------------------------------------------------------------------


def test_retention_policy_valid_values(logs):
    group = uniq("retention")
    logs.create_log_group(logGroupName=group)
    for days in RETENTION_DAYS:
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        assert describe_group(logs, group)["retentionInDays"] == days
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in describe_group(logs, group)


@pytest.mark.parametrize("days", [0, 2, 4, 10, 13, 31, 364, 366, 3652, 3654, -1, 100000])
def test_retention_policy_invalid_values(logs, days):
    group = uniq("badret")
    logs.create_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_retention_policy(logGroupName=group, retentionInDays=days)
    assert "retentionInDays" not in describe_group(logs, group)


def test_retention_policy_on_missing_group(logs):
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_retention_policy(logGroupName=uniq("missing"), retentionInDays=7)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_retention_policy(logGroupName=uniq("missing"))


# ---- tags ------------------------------------------------------------------------------------


def test_tags_with_the_log_group_actions(logs):
    group = uniq("tags")
    logs.create_log_group(logGroupName=group)
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {}
    logs.tag_log_group(logGroupName=group, tags={"team": "core", "env": "dev"})
    logs.tag_log_group(logGroupName=group, tags={"env": "prod", "cost": "42"})  # overwrites env
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"team": "core", "env": "prod", "cost": "42"}
    logs.untag_log_group(logGroupName=group, tags=["team", "not-there"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"env": "prod", "cost": "42"}
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.tag_log_group(logGroupName=uniq("missing"), tags={"a": "b"})
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_log_group(logGroupName=uniq("missing"))


def test_tags_with_the_resource_actions_and_the_group_arn(logs):
    group = uniq("arntags")
    logs.create_log_group(logGroupName=group, tags={"a": "1"})
    account = account_of(logs, group)
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:{group}"
    assert describe_group(logs, group)["logGroupArn"] == arn
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1"}
    logs.tag_resource(resourceArn=arn, tags={"b": "2", "c": "3"})
    # Both families see the same tags.
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"a": "1", "b": "2", "c": "3"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a", "c"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    missing = f"arn:aws:logs:us-east-1:{account}:log-group:{uniq('missing')}"
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.list_tags_for_resource(resourceArn=missing)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.tag_resource(resourceArn=missing, tags={"x": "y"})
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.list_tags_for_resource(resourceArn="not-an-arn")


# ---- metric filters --------------------------------------------------------------------------


def test_metric_filters_put_describe_delete(logs):
    group = uniq("mf")
    logs.create_log_group(logGroupName=group)
    ns = uniq("App")
    before = now_ms()
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern='{ $.level = "error" }',
        metricTransformations=[{"metricName": "AppErrors", "metricNamespace": ns, "metricValue": "1",
                                "defaultValue": 0.0}],
    )
    logs.put_metric_filter(
        logGroupName=group, filterName="latency", filterPattern="{ $.latency > 0 }",
        metricTransformations=[{"metricName": "Latency", "metricNamespace": ns, "metricValue": "$.latency",
                                "unit": "Milliseconds", "dimensions": {"Service": "$.service"}}],
    )
    logs.put_metric_filter(
        logGroupName=group, filterName="errors-by-word", filterPattern="ERROR",
        metricTransformations=[{"metricName": "ErrorWords", "metricNamespace": ns, "metricValue": "1"}],
    )
    assert describe_group(logs, group)["metricFilterCount"] == 3

    got = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in got] == ["errors", "errors-by-word", "latency"]
    errors = got[0]
    assert errors["filterPattern"] == '{ $.level = "error" }'
    assert errors["logGroupName"] == group
    assert before - 1000 <= errors["creationTime"] <= now_ms() + 1000
    (tr,) = errors["metricTransformations"]
    assert (tr["metricName"], tr["metricNamespace"], tr["metricValue"], tr["defaultValue"]) == ("AppErrors", ns, "1", 0.0)
    (tr,) = got[2]["metricTransformations"]
    assert tr["unit"] == "Milliseconds" and tr["dimensions"] == {"Service": "$.service"}
    assert tr["metricValue"] == "$.latency"

    pref = logs.describe_metric_filters(logGroupName=group, filterNamePrefix="errors")["metricFilters"]
    assert [f["filterName"] for f in pref] == ["errors", "errors-by-word"]
    by_metric = logs.describe_metric_filters(metricName="Latency", metricNamespace=ns)["metricFilters"]
    assert [(f["logGroupName"], f["filterName"]) for f in by_metric] == [(group, "latency")]
    # metricName needs metricNamespace and the other way round.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_metric_filters(metricName="Latency")
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.describe_metric_filters(metricNamespace=ns)

    # Paging.
    p1 = logs.describe_metric_filters(logGroupName=group, limit=2)
    assert [f["filterName"] for f in p1["metricFilters"]] == ["errors", "errors-by-word"]
    p2 = logs.describe_metric_filters(logGroupName=group, limit=2, nextToken=p1["nextToken"])
    assert [f["filterName"] for f in p2["metricFilters"]] == ["latency"]
    assert "nextToken" not in p2

    # Put under an existing name replaces the filter.
    logs.put_metric_filter(
        logGroupName=group, filterName="errors", filterPattern="FATAL",
        metricTransformations=[{"metricName": "AppErrors", "metricNamespace": ns, "metricValue": "2"}],
    )
    got = logs.describe_metric_filters(logGroupName=group, filterNamePrefix="errors")["metricFilters"]
    assert [(f["filterName"], f["filterPattern"]) for f in got] == [("errors", "FATAL"), ("errors-by-word", "ERROR")]
    assert got[0]["metricTransformations"][0]["metricValue"] == "2"
    assert "defaultValue" not in got[0]["metricTransformations"][0]
    assert describe_group(logs, group)["metricFilterCount"] == 3

    logs.delete_metric_filter(logGroupName=group, filterName="errors")
    assert [f["filterName"] for f in logs.describe_metric_filters(logGroupName=group)["metricFilters"]] == \
        ["errors-by-word", "latency"]
    assert describe_group(logs, group)["metricFilterCount"] == 2
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.delete_metric_filter(logGroupName=group, filterName="errors")


def test_metric_filter_errors(logs):
    group = uniq("mferr")
    mt = [{"metricName": "M", "metricNamespace": "N", "metricValue": "1"}]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.put_metric_filter(logGroupName=group, filterName="f", filterPattern="x", metricTransformations=mt)
    logs.create_log_group(logGroupName=group)
    # A pattern that does not parse.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(logGroupName=group, filterName="f", filterPattern='{ $.level = ', metricTransformations=mt)
    # Only one transformation.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(logGroupName=group, filterName="f", filterPattern="x", metricTransformations=mt * 2)
    # Filter names: no ':' or '*'.
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(logGroupName=group, filterName="a:b", filterPattern="x", metricTransformations=mt)
    # At most three dimensions.
    dims = {f"D{i}": f"$.d{i}" for i in range(4)}
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.put_metric_filter(logGroupName=group, filterName="f", filterPattern="{ $.d0 = * }",
                               metricTransformations=[dict(mt[0], dimensions=dims)])
    assert logs.describe_metric_filters(logGroupName=group)["metricFilters"] == []
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.describe_metric_filters(logGroupName=uniq("missing"))


def test_test_metric_filter(logs):
    resp = logs.test_metric_filter(filterPattern="ERROR",
                                   logEventMessages=["INFO fine", "ERROR bad", "ERROR worse", "error lower"])
    assert [m["eventMessage"] for m in resp["matches"]] == ["ERROR bad", "ERROR worse"]
    numbers = [m["eventNumber"] for m in resp["matches"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 2
    assert logs.test_metric_filter(filterPattern="NOPE", logEventMessages=["a", "b"])["matches"] == []
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.test_metric_filter(filterPattern="{ $.x = ", logEventMessages=["{}"])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.test_metric_filter(filterPattern="x", logEventMessages=["x"] * 51)


# ---- Insights --------------------------------------------------------------------------------


def test_start_query_get_results_and_describe_queries(logs):
    group, stream = uniq("insights"), "s"
    make_stream(logs, group, stream)
    t = now_ms() - 60_000
    put(logs, group, stream, [(t, "request timeout on /a"), (t + 1000, "ok /b"), (t + 2000, "request timeout on /c")])
    start_s, end_s = t // 1000 - 60, t // 1000 + 120
    query = "fields @timestamp, @message | filter @message like /timeout/ | sort @timestamp asc"
    qid = logs.start_query(logGroupName=group, queryString=query, startTime=start_s, endTime=end_s)["queryId"]
    assert qid
    resp = wait_query(logs, qid)
    assert resp["status"] == "Complete"
    rows = rows_of(resp)
    assert [r["@message"] for r in rows] == ["request timeout on /a", "request timeout on /c"]
    # Every row carries a @ptr too.
    assert all(any(f["field"] == "@ptr" for f in row) for row in resp["results"])
    assert resp["statistics"]["recordsMatched"] == 2.0
    assert resp["statistics"]["recordsScanned"] == 3.0

    described = logs.describe_queries(logGroupName=group)["queries"]
    mine = [q for q in described if q["queryId"] == qid]
    assert len(mine) == 1
    assert mine[0]["queryString"] == query and mine[0]["status"] == "Complete"
    assert mine[0]["logGroupName"] == group


def test_get_log_record_follows_a_rows_ptr(logs):
    """GetLogRecord (API reference): `logRecordPointer` is a row's @ptr; the answer's
    `logRecord` maps field names to values — @message, @logStream, @timestamp and
    @ingestionTime (epoch ms, as text), @log ("account-id:log-group-name") and the fields
    Insights discovers in a JSON message."""
    group = uniq("ptr")
    make_stream(logs, group, "api")
    make_stream(logs, group, "worker")
    t = now_ms() - 60_000
    json_line = '{"level":"error","request":{"status":500,"path":"/a"}}'
    put(logs, group, "api", [(t, json_line)])
    put(logs, group, "worker", [(t + 1000, "job 17 failed"), (t + 2000, "job 18 done")])
    qid = logs.start_query(logGroupName=group, queryString="fields @message | sort @timestamp asc",
                           startTime=t // 1000 - 60, endTime=t // 1000 + 120)["queryId"]
    resp = wait_query(logs, qid)
    assert resp["status"] == "Complete"
    rows = resp["results"]
    assert len(rows) == 3
    ptrs = [next(f["value"] for f in row if f["field"] == "@ptr") for row in rows]
    assert len(set(ptrs)) == 3
    account = account_of(logs, group)
    expected = [("api", t, json_line), ("worker", t + 1000, "job 17 failed"), ("worker", t + 2000, "job 18 done")]
    for ptr, row, (stream, ts, message) in zip(ptrs, rows_of(resp), expected):
        record = logs.get_log_record(logRecordPointer=ptr)["logRecord"]
        assert record["@message"] == row["@message"] == message
        assert record["@logStream"] == stream
        assert record["@timestamp"] == str(ts)
        # Ingested by this test, moments ago.
        assert now_ms() - 120_000 <= int(record["@ingestionTime"]) <= now_ms()
        assert record["@log"] == f"{account}:{group}"
    json_record = logs.get_log_record(logRecordPointer=ptrs[0], unmask=True)["logRecord"]
    assert json_record["level"] == "error"
    assert json_record["request.status"] == "500"
    assert json_record["request.path"] == "/a"
    # A plain line has only the built-in fields.
    plain = logs.get_log_record(logRecordPointer=ptrs[1])["logRecord"]
    assert set(plain) == {"@message", "@logStream", "@timestamp", "@ingestionTime", "@log"}

    for garbage in ["not-a-pointer", "AAAA", "%%%", ptrs[0] + "="]:
        with pytest.raises(logs.exceptions.InvalidParameterException):
            logs.get_log_record(logRecordPointer=garbage)

    # The events are gone with their stream, then with their group.
    logs.delete_log_stream(logGroupName=group, logStreamName="worker")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_record(logRecordPointer=ptrs[1])
    assert logs.get_log_record(logRecordPointer=ptrs[0])["logRecord"]["@logStream"] == "api"
    logs.delete_log_group(logGroupName=group)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_log_record(logRecordPointer=ptrs[0])


def test_insights_errors(logs):
    group, stream = uniq("qerr"), "s"
    make_stream(logs, group, stream)
    now_s = now_ms() // 1000
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.start_query(logGroupName=uniq("missing"), queryString="fields @message", startTime=now_s - 60, endTime=now_s)
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(logGroupName=group, queryString="fields @message | frobnicate", startTime=now_s - 60, endTime=now_s)
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.start_query(logGroupName=group, queryString="fields @message", startTime=now_s, endTime=now_s - 60)
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.get_query_results(queryId="00000000-0000-0000-0000-000000000000")
    # StopQuery on a query that has ended is an error ("the specified query is not running").
    qid = logs.start_query(logGroupName=group, queryString="fields @message", startTime=now_s - 60, endTime=now_s)["queryId"]
    assert wait_query(logs, qid)["status"] == "Complete"
    with pytest.raises(botocore.exceptions.ClientError):
        logs.stop_query(queryId=qid)


def test_stop_query_of_a_running_query_or_its_end(logs):
    """A query either finishes before StopQuery arrives (then StopQuery is an error) or is
    stopped (success true, status Cancelled). Either way the final status says which."""
    group, stream = uniq("stop"), "s"
    make_stream(logs, group, stream)
    t = now_ms() - 120_000
    put(logs, group, stream, [(t + i, f"line {i}") for i in range(5000)])
    now_s = now_ms() // 1000
    qid = logs.start_query(logGroupName=group, queryString="stats count(*) by @message",
                           startTime=now_s - 600, endTime=now_s)["queryId"]
    try:
        stopped = logs.stop_query(queryId=qid)["success"]
    except logs.exceptions.InvalidParameterException:
        stopped = False
    final = wait_query(logs, qid)["status"]
    assert final == ("Cancelled" if stopped else "Complete")


# ---- the issue's commands through the AWS CLI -----------------------------------------------


def test_the_issue_commands_with_the_aws_cli(server):
    logs = server.client("logs")
    app = uniq("app")
    make_stream(logs, app, "web")
    t = now_ms() - 120_000
    put(logs, app, "web", [
        (t, '{"level": "info", "msg": "started"}'),
        (t + 1000, "ERROR connection timeout to db"),
        (t + 2000, '{"level": "error", "msg": "timeout"}'),
        (t + 3000, "INFO fine"),
    ])

    groups = aws_logs_json(server, "describe-log-groups")["logGroups"]
    assert app in [g["logGroupName"] for g in groups]

    out = aws_logs_json(server, "filter-log-events", "--log-group-name", app, "--filter-pattern", "ERROR")
    assert messages(out["events"]) == ["ERROR connection timeout to db"]

    ns = uniq("App")
    aws_logs_json(server, "put-metric-filter", "--log-group-name", app, "--filter-name", "errors",
                  "--filter-pattern", '{ $.level = "error" }',
                  "--metric-transformations", f"metricName=AppErrors,metricNamespace={ns},metricValue=1")
    (mf,) = logs.describe_metric_filters(logGroupName=app)["metricFilters"]
    assert mf["filterPattern"] == '{ $.level = "error" }'
    assert mf["metricTransformations"][0]["metricName"] == "AppErrors"
    assert mf["metricTransformations"][0]["metricNamespace"] == ns
    assert mf["metricTransformations"][0]["metricValue"] == "1"

    start_s, end_s = t // 1000 - 600, t // 1000 + 600
    q = aws_logs_json(server, "start-query", "--log-group-name", app, "--query-string",
                      "fields @timestamp, @message | filter @message like /timeout/ | stats count(*) by bin(5m)",
                      "--start-time", str(start_s), "--end-time", str(end_s))
    resp = wait_query(logs, q["queryId"])
    assert resp["status"] == "Complete"
    rows = rows_of(resp)
    # Both timeout lines fall in the same 5-minute bin unless t straddles a bin edge.
    bins = {}
    for ts in (t + 1000, t + 2000):
        b = ts // 300_000 * 300
        bins[b] = bins.get(b, 0) + 1
    assert sorted(int(r["count(*)"]) for r in rows) == sorted(bins.values())
    assert all("bin(5m)" in r for r in rows)

    got = aws_logs_json(server, "get-query-results", "--query-id", q["queryId"])
    assert got["status"] == "Complete"
    assert len(got["results"]) == len(rows)
