"""CloudWatch Logs filter patterns, a table taken from AWS's documentation ("Filter pattern
syntax for metric filters, subscription filters, filter log events, and Live Tail", and its
pages on unstructured, JSON and space-delimited log events).

Each row is (filter pattern, messages, the messages that match). Each row's messages go into
their own log stream; FilterLogEvents with the pattern over that stream must return exactly
the matching messages, and TestMetricFilter over the same messages must agree. Where the
documentation shows the values a space-delimited pattern extracts, TestMetricFilter's
extractedValues are checked too."""

from __future__ import annotations

import json

import pytest

from logs_support import filter_all, now_ms, uniq

# -- unstructured log events (the documentation's own four lines, plus an INFO line) ----------

E400 = "[ERROR 400] BAD REQUEST"
E401 = "[ERROR 401] UNAUTHORIZED REQUEST"
E419 = "[ERROR 419] MISSING ARGUMENTS"
E420 = "[ERROR 420] INVALID ARGUMENTS"
I200 = "[INFO 200] OK"
TEXT = [E400, E401, E419, E420, I200]

# -- JSON log events ------------------------------------------------------------------------

J1 = json.dumps({
    "eventType": "UpdateTrail",
    "sourceIPAddress": "111.111.111.111",
    "arrayKey": ["value", "another value"],
    "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
    "SomeObject": None,
    "ThisFlag": True,
})
J2 = json.dumps({
    "eventType": "CreateTrail",
    "sourceIPAddress": "123.123.0.1",
    "arrayKey": ["other"],
    "objectList": [{"name": "c", "id": 3}],
    "SomeObject": {"k": 1},
    "SomeOtherObject": 1,
    "ThisFlag": False,
})
J3 = json.dumps({
    "user": {"id": 1, "email": "John.Stiles@example.com"},
    "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3, "email": "Jane.Doe@example.com"}],
    "actions": ["GET", "PUT", "DELETE"],
    "coordinates": [[0, 1], [2, 3]],
})
J4 = json.dumps({"level": "error", "latency": 250, "bandwidth": 100, "service": "api"})
J5 = json.dumps({"level": "info", "latency": 50.5, "bandwidth": -3, "service": "web"})
NOT_JSON = 'eventType UpdateTrail level = "error" latency 250'
TRAILS = [J1, J2]
NUMS = [J4, J5]

# -- space-delimited log events (Apache common log format, as in the documentation) -----------

A1 = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
A2 = '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324'
A3 = '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355'
A4 = '10.0.0.7 - alice [10/Oct/2000:14:01:02 -0700] "POST /login HTTP/1.1" 401 12'
APACHE = [A1, A2, A3, A4]
SEVEN = "[ip, user, username, timestamp, request, status_code, bytes]"

ROWS: list[tuple[str, list[str], list[str]]] = [
    # Terms: every term must appear; case-sensitive.
    ("ERROR", TEXT, [E400, E401, E419, E420]),
    ("ARGUMENTS", TEXT, [E419, E420]),
    ("ERROR ARGUMENTS", TEXT, [E419, E420]),
    ("INVALID ARGUMENTS", TEXT, [E420]),
    ("REQUEST", TEXT, [E400, E401]),
    ("error", TEXT, []),
    ("NOTHERE", TEXT, []),
    ("ERROR NOTHERE", TEXT, []),
    # Match everything.
    ("", TEXT, TEXT),
    ('" "', TEXT, TEXT),
    # Exact phrases.
    ('"INVALID ARGUMENTS"', TEXT, [E420]),
    ('"BAD REQUEST"', TEXT, [E400]),
    ('"ARGUMENTS INVALID"', TEXT, []),
    ('ERROR "MISSING ARGUMENTS"', TEXT, [E419]),
    # Any of the terms: ?
    ("?ERROR ?INFO", TEXT, TEXT),
    ("?ARGUMENTS ?UNAUTHORIZED", TEXT, [E401, E419, E420]),
    ("?NOTHERE ?OK", TEXT, [I200]),
    # Exclusion: -
    ("ERROR -ARGUMENTS", TEXT, [E400, E401]),
    ("ERROR -ARGUMENTS -BAD", TEXT, [E401]),
    ("REQUEST -UNAUTHORIZED", TEXT, [E400]),
    # Regular expressions, between % signs (no parentheses).
    ("%ARGUMENTS%", TEXT, [E419, E420]),
    ("%4[0-9]1%", TEXT, [E401]),
    ("%REQUEST$%", TEXT, [E400, E401]),
    (r"%^\[INFO%", TEXT, [I200]),
    ("%UNAUTHORIZED|MISSING%", TEXT, [E401, E419]),
    ("%42[0-9]%", TEXT, [E420]),
    ("%[a-z]%", TEXT, []),
    # JSON: strings.
    ('{ $.eventType = "UpdateTrail" }', [J1, J2, NOT_JSON], [J1]),
    ("{ $.eventType = UpdateTrail }", TRAILS, [J1]),
    ('{ $.eventType != "UpdateTrail" }', TRAILS, [J2]),
    ("{ $.eventType = Update* }", TRAILS, [J1]),
    ("{ $.eventType = *Trail }", TRAILS, [J1, J2]),
    ("{ $.sourceIPAddress != 123.123.* }", TRAILS, [J1]),
    ("{ $.sourceIPAddress = 123.123.* }", TRAILS, [J2]),
    ("{ $.eventType = %^Upd% }", TRAILS, [J1]),
    ('{ $.eventType = "updatetrail" }', TRAILS, []),
    # JSON: arrays and nested objects.
    ('{ $.arrayKey[0] = "value" }', TRAILS, [J1]),
    ('{ $.arrayKey[1] = "another value" }', TRAILS, [J1]),
    ("{ $.objectList[1].id = 2 }", TRAILS, [J1]),
    ('{ $.objectList[0].name = "c" }', TRAILS, [J2]),
    ('{ $.actions[2] = "DELETE" }', [J3, J1], [J3]),
    ("{ $.coordinates[1][0] = 2 }", [J3], [J3]),
    ("{ $.user.id = 1 }", [J3, J4], [J3]),
    # JSON: null, existence, booleans.
    ("{ $.SomeObject IS NULL }", TRAILS, [J1]),
    ("{ $.SomeOtherObject NOT EXISTS }", TRAILS, [J1]),
    ("{ $.ThisFlag IS TRUE }", TRAILS, [J1]),
    ("{ $.ThisFlag IS FALSE }", TRAILS, [J2]),
    # JSON: && binds tighter than ||; parentheses group (the documentation's four examples).
    ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', [J3], [J3]),
    ('{ ($.user.id = 2 && $.users[0].email = "nonmatch") || $.actions[2] = "GET" }', [J3], []),
    ('{ $.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch && $.actions[2] = nomatch }',
     [J3], [J3]),
    ('{ ($.user.email = "John.Stiles@example.com" || $.coordinates[0][1] = nonmatch) && $.actions[2] = nomatch }',
     [J3], []),
    # JSON: numbers.
    ("{ $.latency > 100 }", NUMS, [J4]),
    ("{ $.latency < 100 }", NUMS, [J5]),
    ("{ $.latency >= 250 }", NUMS, [J4]),
    ("{ $.latency <= 50.5 }", NUMS, [J5]),
    ("{ $.latency = 250 }", NUMS, [J4]),
    ("{ $.latency != 250 }", NUMS, [J5]),
    ("{ $.bandwidth < 0 }", NUMS, [J5]),
    ('{ $.latency > 40 && $.level = "error" }', NUMS, [J4]),
    ('{ $.level = "info" || $.latency > 200 }', NUMS, [J4, J5]),
    # JSON patterns never match text that is not JSON; a missing field does not match.
    ('{ $.level = "error" }', [J4, J5, NOT_JSON], [J4]),
    ('{ $.missing = "x" }', NUMS, []),
    # Space-delimited: one name per field; brackets and quotes enclose one field.
    (SEVEN, APACHE, APACHE),
    ("[ip, user, username, timestamp, request, status_code = 404, bytes]", APACHE, [A1]),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", APACHE, [A1, A4]),
    ("[ip, user, username, timestamp, request = *html*, status_code, bytes]", APACHE, [A1]),
    ("[ip, user, username, timestamp, request, status_code != 200, bytes]", APACHE, [A1, A2, A4]),
    ("[ip, user, username, timestamp, request, status_code >= 400, bytes < 2000]", APACHE, [A1, A4]),
    ('[ip, user, username, timestamp, request = "GET /index.html HTTP/1.0", status_code, bytes]', APACHE, [A1]),
    ("[ip, user, username, timestamp, request = %POST%, status_code, bytes]", APACHE, [A4]),
    ("[ip, user, username, timestamp, request, status_code = 404 || status_code = 500, bytes]", APACHE, [A1, A2]),
    # ... stands for any number of fields.
    ("[..., status_code, bytes > 5000]", APACHE, [A2]),
    ("[..., bytes = 12]", APACHE, [A4]),
    ("[ip = 10.0.0.7, ...]", APACHE, [A4]),
    ("[ip, user, username = frank, ...]", APACHE, [A1, A2, A3]),
    # The number of fields must agree.
    ("[ip, user, username, timestamp, request, status_code, bytes, extra]", APACHE, []),
    # Without an ellipsis the last field takes the rest of the line: AWS's own
    # example `[w1=ERROR, w2]` matches "ERROR 09/25/2014 12:00:02 Failed to process request".
    ("[a, b, c]", APACHE, APACHE),
    ("[w1=ERROR, w2]", ["ERROR 09/25/2014 12:00:02 Failed to process request",
                        "INFO 09/25/2014 12:00:03 GET /index.html 200"],
     ["ERROR 09/25/2014 12:00:02 Failed to process request"]),
]


def row_id(row) -> str:
    return row[0] or "<empty>"


def test_the_table_is_big_enough():
    assert len(ROWS) >= 50
    assert len({r[0] for r in ROWS}) == len(ROWS), "duplicate patterns"
    for pattern, msgs, expected in ROWS:
        assert set(expected) <= set(msgs), pattern


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


@pytest.fixture(scope="module")
def group(logs):
    """One log group; each row's messages in their own stream."""
    name = uniq("patterns")
    logs.create_log_group(logGroupName=name)
    t0 = now_ms() - 60_000
    for i, (_, msgs, _) in enumerate(ROWS):
        stream = f"row-{i:03d}"
        logs.create_log_stream(logGroupName=name, logStreamName=stream)
        logs.put_log_events(
            logGroupName=name,
            logStreamName=stream,
            logEvents=[{"timestamp": t0 + j, "message": m} for j, m in enumerate(msgs)],
        )
    return name


@pytest.mark.parametrize("index", range(len(ROWS)), ids=[row_id(r) for r in ROWS])
def test_filter_log_events_matches(logs, group, index):
    pattern, msgs, expected = ROWS[index]
    events, _ = filter_all(logs, group, filterPattern=pattern, logStreamNames=[f"row-{index:03d}"])
    # Events come back in timestamp order, which is the order the messages were put in.
    assert [e["message"] for e in events] == [m for m in msgs if m in expected]


@pytest.mark.parametrize("index", range(len(ROWS)), ids=[row_id(r) for r in ROWS])
def test_test_metric_filter_matches(logs, index):
    pattern, msgs, expected = ROWS[index]
    resp = logs.test_metric_filter(filterPattern=pattern, logEventMessages=msgs)
    assert [m["eventMessage"] for m in resp["matches"]] == [m for m in msgs if m in expected]


def test_extracted_values_of_a_space_delimited_pattern(logs):
    """The API reference's TestMetricFilter example: each named field's value, keyed `$name`,
    with the brackets and quotes around a field removed."""
    pattern = "[ip, identity, user_id, timestamp, request, status_code, size]"
    resp = logs.test_metric_filter(filterPattern=pattern, logEventMessages=[A1, A2, "not seven fields"])
    assert [m["eventMessage"] for m in resp["matches"]] == [A1, A2]
    assert resp["matches"][0]["extractedValues"] == {
        "$ip": "127.0.0.1",
        "$identity": "-",
        "$user_id": "frank",
        "$timestamp": "10/Oct/2000:13:25:15 -0700",
        "$request": "GET /index.html HTTP/1.0",
        "$status_code": "404",
        "$size": "1534",
    }
    assert resp["matches"][1]["extractedValues"] == {
        "$ip": "127.0.0.1",
        "$identity": "-",
        "$user_id": "frank",
        "$timestamp": "10/Oct/2000:13:35:22 -0700",
        "$request": "GET /apache_pb.gif HTTP/1.0",
        "$status_code": "500",
        "$size": "5324",
    }


def test_extracted_values_with_an_ellipsis(logs):
    resp = logs.test_metric_filter(filterPattern="[..., status_code, bytes > 5000]", logEventMessages=APACHE)
    (m,) = resp["matches"]
    assert m["eventMessage"] == A2
    # Fields under the ellipsis are reported by position, as AWS's TestMetricFilter
    # example reports `[..., size]`'s status code as $6.
    assert m["extractedValues"] == {"$1": "127.0.0.1", "$2": "-", "$3": "frank",
                                    "$4": "10/Oct/2000:13:35:22 -0700",
                                    "$5": "GET /apache_pb.gif HTTP/1.0",
                                    "$status_code": "500", "$bytes": "5324"}


@pytest.mark.parametrize("pattern", [
    "{ $.level = ",
    "{ $.level = \"error\"",
    "[ip, user",
    '"unterminated',
    "{ $.a = 1 } trailing",
    "%bad(group)%",
])
def test_malformed_patterns_are_invalid_parameters(logs, group, pattern):
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.test_metric_filter(filterPattern=pattern, logEventMessages=["x"])
    with pytest.raises(logs.exceptions.InvalidParameterException):
        logs.filter_log_events(logGroupName=group, filterPattern=pattern)
