"""CloudWatch Logs Insights queries over a fixed set of lines — nginx access logs, JSON app
logs, plain lines — with every expected row worked out by hand from the query syntax
documentation ("CloudWatch Logs Insights query syntax": fields, display, filter with
like/=~/comparisons/and/or/not, stats count/sum/avg/min/max/pct by field and by bin(),
sort, limit, parse with a glob or a regular expression with named groups).

Times: StartQuery's startTime/endTime are epoch seconds and both inclusive; result values
are strings; @timestamp and bin() values print as `YYYY-MM-DD HH:MM:SS.mmm` (UTC)."""

from __future__ import annotations

import datetime as dt
import json
import re
import time

import pytest

from logs_support import rows_of, run_query, uniq

BIN_S = 300


def stamp(epoch_s: float) -> str:
    return dt.datetime.fromtimestamp(epoch_s, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


# Base: a 5-minute boundary an hour ago, so the data fall in two known 5-minute bins.
BASE = (int(time.time()) - 3600) // BIN_S * BIN_S


def app_line(level, latency, service, user):
    return json.dumps({"level": level, "latency": latency, "service": service, "user": {"id": user},
                      "msg": f"{service} {level}"})


# (seconds after BASE, message)
APP = [
    (0, app_line("info", 10, "api", "u1")),
    (30, app_line("info", 20, "api", "u2")),
    (60, app_line("error", 30, "api", "u2")),
    (90, app_line("info", 40, "db", "u2")),
    (120, app_line("error", 50, "db", "u2")),
    (300, app_line("info", 60, "api", "u2")),
    (330, app_line("error", 70, "api", "u1")),
    (360, app_line("info", 80, "db", "u2")),
    (390, app_line("info", 90, "db", "u2")),
    (420, app_line("error", 100, "api", "u2")),
]


def nginx(ip, method, path, status, size, agent="curl/8.0"):
    return f'{ip} - - [01/Jan/2024:00:00:00 +0000] "{method} {path} HTTP/1.1" {status} {size} "-" "{agent}"'


WEB = [
    (10, nginx("10.0.0.1", "GET", "/api/users", 200, 512)),
    (20, nginx("10.0.0.2", "POST", "/api/login", 401, 128, "Mozilla/5.0")),
    (40, nginx("10.0.0.1", "GET", "/api/users", 200, 1024)),
    (310, nginx("10.0.0.3", "GET", "/health", 200, 2)),
    (320, nginx("10.0.0.2", "GET", "/api/orders", 500, 64)),
    (340, nginx("10.0.0.1", "DELETE", "/api/users/7", 503, 0)),
]

PLAIN = [
    (5, "user=alice action=login took=35ms"),
    (15, "user=bob action=login took=40ms"),
    (25, "user=alice action=logout took=5ms"),
    (305, "request timeout after 30s"),
    (315, "connection timeout to db"),
    (325, "all good"),
]

NGINX_RE = (r'parse @message /^(?<ip>\S+) \S+ \S+ \[[^\]]+\] "(?<method>\S+) (?<path>\S+) [^"]+" '
            r'(?<status>\d+) (?<bytes>\d+)/')

# (name, which group, query, expected rows, whether the order is part of the answer)
# Expected numbers are compared as numbers; everything else as text.
QUERIES: list[tuple[str, str, str, list[dict], bool]] = [
    ("count", "app", "stats count(*)", [{"count(*)": 10}], True),
    ("count-as", "app", "stats count(*) as n", [{"n": 10}], True),
    ("count-by-level", "app", "stats count(*) as n by level",
     [{"level": "error", "n": 4}, {"level": "info", "n": 6}], False),
    ("sum", "app", "stats sum(latency) as total", [{"total": 550}], True),
    ("avg", "app", "stats avg(latency) as mean", [{"mean": 55}], True),
    ("min-max", "app", "stats min(latency) as lo, max(latency) as hi", [{"lo": 10, "hi": 100}], True),
    ("avg-by-service", "app", "stats avg(latency) as mean by service",
     [{"service": "api", "mean": 290 / 6}, {"service": "db", "mean": 65}], False),
    ("pct", "app", "filter latency <= 50 | stats pct(latency, 50) as p50", [{"p50": 30}], True),
    ("by-bin", "app", "stats count(*) as n by bin(5m)",
     [{"bin(5m)": stamp(BASE), "n": 5}, {"bin(5m)": stamp(BASE + BIN_S), "n": 5}], False),
    ("by-bin-sorted", "app", "stats sum(latency) as s by bin(5m) as t | sort t desc",
     [{"t": stamp(BASE + BIN_S), "s": 400}, {"t": stamp(BASE), "s": 150}], True),
    ("filter-eq", "app", 'filter level = "error" | stats count(*) as n', [{"n": 4}], True),
    ("filter-gt", "app", "filter latency > 50 | stats count(*) as n", [{"n": 5}], True),
    ("filter-and", "app", 'filter latency >= 50 and service = "db" | stats count(*) as n', [{"n": 3}], True),
    ("filter-or", "app", 'filter level = "error" or latency < 20 | stats count(*) as n', [{"n": 5}], True),
    ("filter-ne", "app", 'filter level != "info" | stats count(*) as n', [{"n": 4}], True),
    ("filter-not", "app", 'filter not (level = "info") | stats count(*) as n', [{"n": 4}], True),
    ("filter-in", "app", 'filter latency in [10, 50, 90] | stats count(*) as n', [{"n": 3}], True),
    ("nested-field", "app", 'filter user.id = "u1" | stats count(*) as n', [{"n": 2}], True),
    ("fields-sort-desc", "app", 'fields latency, service | filter level = "error" | sort latency desc',
     [{"latency": 100, "service": "api"}, {"latency": 70, "service": "api"},
      {"latency": 50, "service": "db"}, {"latency": 30, "service": "api"}], True),
    ("sort-limit", "app", "fields latency | sort latency asc | limit 3",
     [{"latency": 10}, {"latency": 20}, {"latency": 30}], True),
    ("stats-sort", "app", "stats max(latency) as worst by level | sort worst desc",
     [{"level": "error", "worst": 100}, {"level": "info", "worst": 90}], True),
    ("display", "app", "fields latency, service, level | filter latency = 10 | display service",
     [{"service": "api"}], True),
    ("timestamp", "app", "fields @timestamp, latency | sort @timestamp asc | limit 2",
     [{"@timestamp": stamp(BASE), "latency": 10}, {"@timestamp": stamp(BASE + 30), "latency": 20}], True),
    ("regex-parse-by-status", "web", NGINX_RE + " | stats count(*) as n by status",
     [{"status": "200", "n": 3}, {"status": "401", "n": 1}, {"status": "500", "n": 1},
      {"status": "503", "n": 1}], False),
    ("regex-parse-sum", "web", NGINX_RE + " | stats sum(bytes) as total by ip",
     [{"ip": "10.0.0.1", "total": 1536}, {"ip": "10.0.0.2", "total": 192}, {"ip": "10.0.0.3", "total": 2}], False),
    ("regex-parse-like", "web", NGINX_RE + " | filter status like /^5/ | fields path | sort @timestamp asc",
     [{"path": "/api/orders"}, {"path": "/api/users/7"}], True),
    ("glob-parse-web", "web", "parse @message '\"* * HTTP/1.1\"' as method, path | stats count(*) as n by method",
     [{"method": "GET", "n": 4}, {"method": "POST", "n": 1}, {"method": "DELETE", "n": 1}], False),
    ("like-regex", "web", "filter @message like /Mozilla/ | stats count(*) as n", [{"n": 1}], True),
    ("like-timeout", "plain", "filter @message like /timeout/ | stats count(*) as n", [{"n": 2}], True),
    ("like-string", "plain", 'fields @message | filter @message like "timeout" | sort @timestamp asc',
     [{"@message": "request timeout after 30s"}, {"@message": "connection timeout to db"}], True),
    ("match-regex", "plain", "filter @message =~ /^user=a/ | stats count(*) as n", [{"n": 2}], True),
    ("not-like", "plain", "filter @message not like /user=/ | stats count(*) as n", [{"n": 3}], True),
    ("glob-parse-sum", "plain", 'parse @message "user=* action=* took=*ms" as who, action, took '
     "| stats sum(took) as total by who",
     [{"who": "alice", "total": 40}, {"who": "bob", "total": 40}], False),
    ("glob-parse-avg", "plain", 'parse @message "user=* action=* took=*ms" as who, action, took '
     '| filter action = "login" | stats avg(took) as mean', [{"mean": 37.5}], True),
    ("latest-first", "plain", "fields @message | sort @timestamp desc | limit 2",
     [{"@message": "all good"}, {"@message": "connection timeout to db"}], True),
    ("timeout-bins", "plain", "filter @message like /timeout/ | stats count(*) by bin(5m)",
     [{"bin(5m)": stamp(BASE + BIN_S), "count(*)": 2}], True),
]

MALFORMED = [
    "fields @message | frobnicate",
    "stats count(*) by",
    "filter",
    "| limit 5",
    "sort",
    "stats sum(latency",
    "filter @message like /unclosed",
    "limit many",
    "parse @message",
    "fields @message | stats nosuchfunction(latency)",
]


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


@pytest.fixture(scope="module")
def groups(logs):
    made = {}
    for key, lines in (("app", APP), ("web", WEB), ("plain", PLAIN)):
        name = uniq(f"insights-{key}")
        logs.create_log_group(logGroupName=name)
        logs.create_log_stream(logGroupName=name, logStreamName="s")
        logs.put_log_events(logGroupName=name, logStreamName="s",
                            logEvents=[{"timestamp": (BASE + off) * 1000, "message": m} for off, m in lines])
        made[key] = name
    return made


def normalise(row: dict, expected: dict) -> dict:
    """A result row restricted to the expected fields, numbers where a number is expected."""
    out = {}
    for k, v in row.items():
        want = expected.get(k)
        if isinstance(want, (int, float)) and not isinstance(want, bool):
            try:
                out[k] = float(v)
            except ValueError:
                out[k] = v
        else:
            out[k] = v
    return out


def same(got: dict, want: dict) -> bool:
    if set(got) != set(want):
        return False
    for k, w in want.items():
        g = got[k]
        if isinstance(w, (int, float)):
            if not isinstance(g, float) or abs(g - w) > 1e-6 * max(1.0, abs(w)):
                return False
        elif g != w:
            return False
    return True


def test_the_table_is_big_enough():
    assert len(QUERIES) >= 25
    assert len({q[0] for q in QUERIES}) == len(QUERIES)


@pytest.mark.parametrize("name,group,query,expected,ordered", QUERIES, ids=[q[0] for q in QUERIES])
def test_query(logs, groups, name, group, query, expected, ordered):
    resp = run_query(logs, groups[group], query, BASE - 60, BASE + 1200)
    assert resp["status"] == "Complete", resp
    rows = rows_of(resp)
    template = expected[0] if expected else {}
    got = [normalise(r, template) for r in rows]
    assert len(got) == len(expected), f"{query}\n got {rows}\nwant {expected}"
    if ordered:
        for g, w in zip(got, expected):
            assert same(g, w), f"{query}\n got {rows}\nwant {expected}"
    else:
        unmatched = list(got)
        for w in expected:
            hit = next((g for g in unmatched if same(g, w)), None)
            assert hit is not None, f"{query}\n got {rows}\nwant {expected}"
            unmatched.remove(hit)


def test_time_range_is_inclusive_in_seconds(logs, groups):
    # [BASE, BASE + 120] holds the first five app lines, the one at BASE + 120 included.
    resp = run_query(logs, groups["app"], "stats count(*) as n", BASE, BASE + 120)
    assert rows_of(resp) == [{"n": "5"}]
    resp = run_query(logs, groups["app"], "stats count(*) as n", BASE + 1, BASE + 119)
    assert rows_of(resp) == [{"n": "3"}]


def test_query_over_several_groups(logs, groups):
    resp = run_query(logs, [groups["app"], groups["plain"]], "stats count(*) as n", BASE - 60, BASE + 1200)
    assert rows_of(resp) == [{"n": "16"}]
    resp = run_query(logs, [groups["app"], groups["web"], groups["plain"]], "stats count(*) as n by @log",
                     BASE - 60, BASE + 1200)
    counts = {r["@log"]: int(r["n"]) for r in rows_of(resp)}
    # @log is "account-id:log-group-name".
    assert {k.split(":", 1)[1]: v for k, v in counts.items()} == {groups["app"]: 10, groups["web"]: 6, groups["plain"]: 6}
    assert all(re.fullmatch(r"\d{12}:.+", k) for k in counts)


def test_statistics_count_scanned_and_matched(logs, groups):
    resp = run_query(logs, groups["app"], 'filter level = "error"', BASE - 60, BASE + 1200)
    assert resp["statistics"]["recordsScanned"] == 10.0
    assert resp["statistics"]["recordsMatched"] == 4.0
    assert resp["statistics"]["bytesScanned"] > 0


def test_default_fields_and_limit(logs, groups):
    resp = run_query(logs, groups["plain"], "fields @timestamp, @message, @logStream | sort @timestamp asc | limit 1",
                     BASE - 60, BASE + 1200)
    (row,) = rows_of(resp)
    assert row == {"@timestamp": stamp(BASE + 5), "@message": PLAIN[0][1], "@logStream": "s"}
    # StartQuery's own limit caps the rows.
    resp = run_query(logs, groups["app"], "fields latency | sort latency desc", BASE - 60, BASE + 1200, limit=2)
    assert [r["latency"] for r in rows_of(resp)] == ["100", "90"]


@pytest.mark.parametrize("query", MALFORMED)
def test_malformed_queries(logs, groups, query):
    now_s = int(time.time())
    with pytest.raises(logs.exceptions.MalformedQueryException):
        logs.start_query(logGroupName=groups["app"], queryString=query, startTime=now_s - 3600, endTime=now_s)
