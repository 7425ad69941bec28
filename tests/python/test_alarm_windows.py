"""Alarm evaluation windows (issue 12): the product's core story on a 1-hour alarm — data
crossing 50 % in the *current* clock hour fires the alarm and its email within 2 minutes
(AWS's default sliding window), while a wall-clock alarm on the same data judges only
the complete hour; EvaluationWindow round-trips through boto3 and the AWS CLI; bad
windows and alarm names with CR/LF are refused with AWS's error codes — on awsQuery, awsJson1_0
and RPC v2 CBOR alike."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conftest import StratusServer, clean_env, wait_for
from notify_support import Relay, confirm_email

AWS = Path(sys.executable).parent / "aws"
ADDRESS = "ops@example.com"
HOUR = 3600


def knows_windows(client) -> bool:
    """botocore models before EvaluationWindow (the query run's 1.42) cannot send it."""
    shape = client.meta.service_model.operation_model("PutMetricAlarm").input_shape
    return "EvaluationWindow" in shape.members


def hourly(name: str, ns: str, **extra) -> dict:
    args = dict(AlarmName=name, Namespace=ns, MetricName="disk_used_percent",
                Dimensions=[{"Name": "path", "Value": "/"}], Statistic="Average", Period=HOUR,
                EvaluationPeriods=1, Threshold=50.0, ComparisonOperator="GreaterThanOrEqualToThreshold")
    args.update(extra)
    return args


def error_of(call, **kwargs) -> tuple[str, str]:
    with pytest.raises(ClientError) as ei:
        call(**kwargs)
    err = ei.value.response["Error"]
    return err["Code"], err.get("Message", "")


def alarm(cw, name: str) -> dict:
    (a,) = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    return a


@pytest.fixture
def mail_server(tmp_path):
    from conftest import _RUNNING

    relay = Relay().start()
    server = StratusServer(tmp_path / "data", env={"STRATUS_SMTP_URL": relay.url})
    server.start()
    yield server, relay.inbox
    server.stop()
    _RUNNING.remove(server)
    relay.stop()


def test_hourly_alarm_fires_within_minutes_of_crossing_and_wall_clock_waits(mail_server):
    server, inbox = mail_server
    cw = server.client("cloudwatch")
    sns = server.client("sns")
    ns = f"Story/{uuid.uuid4().hex[:8]}"
    # The wall-clock half needs the current hour to outlast the test (~3 minutes).
    into_hour = time.time() % HOUR
    if into_hour > HOUR - 240:
        time.sleep(HOUR - into_hour + 5)

    topic = sns.create_topic(Name="ops-alerts")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=ADDRESS)
    confirm_email(inbox, ADDRESS)

    cw.put_metric_alarm(**hourly("disk-sliding", ns, AlarmActions=[topic]))
    wall_args = hourly("disk-wall", ns, AlarmActions=[topic], OKActions=[topic])
    if knows_windows(cw):
        wall_args["EvaluationWindow"] = {"WallClockWindow": {}}

    # One call: 60 % now (the current, incomplete hour) and 10 % an hour and five
    # minutes ago (outside the sliding hour, inside a complete clock hour).
    now = time.time()
    put_at = dt.datetime.fromtimestamp(now, dt.timezone.utc)
    cw.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "disk_used_percent", "Dimensions": [{"Name": "path", "Value": "/"}],
         "Timestamp": put_at, "Value": 60.0, "Unit": "Percent"},
        {"MetricName": "disk_used_percent", "Dimensions": [{"Name": "path", "Value": "/"}],
         "Timestamp": put_at - dt.timedelta(minutes=65), "Value": 10.0, "Unit": "Percent"},
    ])
    if knows_windows(cw):
        cw.put_metric_alarm(**wall_args)

    # The sliding (default) alarm: ALARM, and the email, within 2 minutes of the data.
    wait_for(lambda: alarm(cw, "disk-sliding")["StateValue"] == "ALARM", 120, interval=1,
             what="the 1-hour alarm in ALARM")
    (mail,) = wait_for(lambda: inbox.to(ADDRESS) and [m for m in inbox.to(ADDRESS)
                                                       if 'ALARM: "disk-sliding"' in str(m["Subject"])],
                       max(1.0, now + 120 - time.time()), what="the ALARM email within 2 minutes")
    assert time.time() - now < 120
    a = alarm(cw, "disk-sliding")
    assert "EvaluationWindow" not in a, "not set, not echoed (sliding by default)"
    assert a["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [60.0 (")
    data = json.loads(a["StateReasonData"])
    (point,) = data["evaluatedDatapoints"]
    start = dt.datetime.strptime(point["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    query = dt.datetime.strptime(data["queryDate"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    # The judged hour ends at the evaluation minute and holds the 60 % put just now.
    assert start % 60 == 0 and start <= now < start + HOUR, data
    assert 0 <= query - (start + HOUR) < 60, data
    assert point["value"] == 60.0

    if not knows_windows(cw):
        return
    # The wall-clock alarm judged the last complete clock hour (10 %, or with nothing
    # there the older 10 %): OK, never ALARM while the hour with 60 % is incomplete.
    wait_for(lambda: alarm(cw, "disk-wall")["StateValue"] == "OK", 90, interval=1,
             what="the wall-clock alarm in OK")
    w = alarm(cw, "disk-wall")
    assert w["EvaluationWindow"] == {"WallClockWindow": {}}
    (wpoint,) = json.loads(w["StateReasonData"])["evaluatedDatapoints"]
    wstart = dt.datetime.strptime(wpoint["timestamp"], "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
    assert wstart % HOUR == 0 and wstart + HOUR <= now - now % HOUR, wpoint
    assert wpoint["value"] == 10.0
    assert time.time() // HOUR == now // HOUR, "the hour ended during the test"
    assert not [m for m in inbox.to(ADDRESS) if 'ALARM: "disk-wall"' in str(m["Subject"])]


def test_evaluation_window_round_trips(cw, ns):
    if not knows_windows(cw):
        pytest.skip("this botocore does not model EvaluationWindow")
    cases = {
        "w-sliding": {"SlidingWindow": {}},
        "w-utc": {"WallClockWindow": {}},
        "w-ist": {"WallClockWindow": {"Timezone": "UTC+05:30"}},
        "w-offset": {"WallClockWindow": {"Timezone": "-03:45"}},
        "w-nyc": {"WallClockWindow": {"Timezone": "America/New_York"}},
    }
    for name, window in cases.items():
        cw.put_metric_alarm(**hourly(name, ns, EvaluationWindow=window))
    cw.put_metric_alarm(**hourly("w-none", ns))
    got = {a["AlarmName"]: a.get("EvaluationWindow")
           for a in cw.describe_alarms(AlarmNamePrefix="w-")["MetricAlarms"] if a["Namespace"] == ns}
    assert got == {**cases, "w-none": None}
    for_metric = cw.describe_alarms_for_metric(Namespace=ns, MetricName="disk_used_percent",
                                               Dimensions=[{"Name": "path", "Value": "/"}])["MetricAlarms"]
    assert {a["AlarmName"]: a.get("EvaluationWindow") for a in for_metric} == {**cases, "w-none": None}
    # Replacing the alarm replaces the window (here: back to the default).
    cw.put_metric_alarm(**hourly("w-ist", ns))
    assert "EvaluationWindow" not in alarm(cw, "w-ist")
    cw.delete_alarms(AlarmNames=[*cases, "w-none"])


def test_evaluation_window_with_the_aws_cli(server, ns):
    env = clean_env(AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
                    AWS_CONFIG_FILE=str(server.config_file), AWS_MAX_ATTEMPTS="1")

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "--profile", "stratus",
                               "cloudwatch", *args], capture_output=True, text=True, env=env, timeout=120)

    base = ["put-metric-alarm", "--namespace", ns, "--metric-name", "disk_used_percent",
            "--statistic", "Average", "--period", "3600", "--evaluation-periods", "1", "--threshold", "50",
            "--comparison-operator", "GreaterThanOrEqualToThreshold"]
    cp = aws(*base, "--alarm-name", "cli-sliding", "--evaluation-window", '{"SlidingWindow":{}}')
    assert cp.returncode == 0, cp.stderr
    cp = aws(*base, "--alarm-name", "cli-berlin", "--evaluation-window",
             '{"WallClockWindow":{"Timezone":"Europe/Berlin"}}')
    assert cp.returncode == 0, cp.stderr
    cp = aws("describe-alarms", "--alarm-names", "cli-sliding", "cli-berlin")
    assert cp.returncode == 0, cp.stderr
    got = {a["AlarmName"]: a.get("EvaluationWindow") for a in json.loads(cp.stdout)["MetricAlarms"]}
    assert got == {"cli-sliding": {"SlidingWindow": {}},
                   "cli-berlin": {"WallClockWindow": {"Timezone": "Europe/Berlin"}}}
    cp = aws(*base, "--alarm-name", "cli-mars", "--evaluation-window",
             '{"WallClockWindow":{"Timezone":"Mars/Olympus_Mons"}}')
    assert cp.returncode != 0 and "InvalidParameterValue" in cp.stderr, cp.stderr


BAD_WINDOWS = [
    ({"SlidingWindow": {}, "WallClockWindow": {}}, {}, "InvalidParameterCombination",
     "EvaluationWindow.SlidingWindow and EvaluationWindow.WallClockWindow are mutually exclusive"),
    ({"WallClockWindow": {"Timezone": "Mars/Olympus_Mons"}}, {}, "InvalidParameterValue",
     "Mars/Olympus_Mons"),
    ({"WallClockWindow": {"Timezone": "+05:31"}}, {}, "InvalidParameterValue", "multiple of 5 minutes"),
    ({"WallClockWindow": {"Timezone": "UTC+15:00"}}, {}, "InvalidParameterValue", "out of range"),
    ({"WallClockWindow": {"Timezone": "x" * 51}}, {}, "ValidationError",
     "evaluationWindow.wallClockWindow.timezone"),
    ({"WallClockWindow": {}}, {"Period": 120}, "InvalidParameterValue", "Period"),
    ({"WallClockWindow": {}}, {"Period": 10}, "InvalidParameterValue", "Period"),
]


@pytest.mark.parametrize("window,extra,code,fragment", BAD_WINDOWS,
                         ids=[c + ":" + f[:24] for _, _, c, f in BAD_WINDOWS])
def test_bad_evaluation_windows_are_refused(server, cw, ns, window, extra, code, fragment):
    raw = server.client("cloudwatch", parameter_validation=False)
    if not knows_windows(raw):
        pytest.skip("this botocore does not model EvaluationWindow")
    got, msg = error_of(raw.put_metric_alarm, **hourly("bad-window", ns, EvaluationWindow=window, **extra))
    assert got == code, msg
    assert fragment in msg, msg
    assert cw.describe_alarms(AlarmNames=["bad-window"])["MetricAlarms"] == []


@pytest.mark.parametrize("name", ["disk\r\nBcc: evil@example.com", "disk\nroot", "tab\there", "del\x7f"])
def test_control_characters_in_alarm_names_are_refused(server, cw, ns, name):
    raw = server.client("cloudwatch", parameter_validation=False)
    got, msg = error_of(raw.put_metric_alarm, **hourly(name, ns))
    assert got == "ValidationError", msg
    assert "at 'alarmName' failed to satisfy constraint: Member must not contain ASCII control characters" in msg
    got, msg = error_of(raw.put_composite_alarm, AlarmName=name, AlarmRule="TRUE")
    assert got == "ValidationError", msg
    # Nothing was stored under the name or any part of it.
    listed = cw.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert not [a for a in listed["MetricAlarms"] + listed["CompositeAlarms"]
                if a["AlarmName"].startswith(name[:3])]
    got, _ = error_of(raw.put_dashboard, DashboardName=name, DashboardBody='{"widgets":[]}')
    assert got == "InvalidParameterValue"


def client_speaking(server: StratusServer, protocol: str, tmp_path: Path):
    """boto3 CloudWatch whose model offers only `protocol` (botocore would pick awsJson):
    the same current model, so EvaluationWindow is known on every protocol."""
    import boto3
    import botocore.config
    import botocore.loaders
    import botocore.session

    model = botocore.loaders.Loader().load_service_model("cloudwatch", "service-2")
    model["metadata"]["protocols"] = [protocol]
    model["metadata"]["protocol"] = protocol
    target = tmp_path / protocol / "cloudwatch" / model["metadata"]["apiVersion"]
    target.mkdir(parents=True)
    (target / "service-2.json").write_text(json.dumps(model))
    core = botocore.session.get_session()
    core.get_component("data_loader").search_paths.insert(0, str(tmp_path / protocol))
    key, secret = server.admin_keys()
    return boto3.session.Session(botocore_session=core).client(
        "cloudwatch", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id=key,
        aws_secret_access_key=secret, config=botocore.config.Config(retries={"max_attempts": 1}))


@pytest.mark.parametrize("protocol", ["query", "json", "smithy-rpc-v2-cbor"])
def test_evaluation_window_on_every_protocol(server, ns, tmp_path, protocol):
    cw = client_speaking(server, protocol, tmp_path)
    if not knows_windows(cw):
        pytest.skip("this botocore does not model EvaluationWindow")
    assert cw.meta.service_model.resolved_protocol == protocol
    name = f"proto-{protocol}"
    window = {"WallClockWindow": {"Timezone": "UTC+05:30"}}
    cw.put_metric_alarm(**hourly(name, ns, EvaluationWindow=window))
    assert alarm(cw, name)["EvaluationWindow"] == window
    # awsQuery has no way to send the member-less SlidingWindow (botocore writes
    # nothing for it), so it reads back as the default: absent.
    cw.put_metric_alarm(**hourly(name, ns, EvaluationWindow={"SlidingWindow": {}}))
    expected = None if protocol == "query" else {"SlidingWindow": {}}
    assert alarm(cw, name).get("EvaluationWindow") == expected
    got, msg = error_of(cw.put_metric_alarm, **hourly("bad\r\nname", ns))
    assert got == "ValidationError" and "\\r\\n" in msg, msg
    got, msg = error_of(cw.put_metric_alarm, **hourly(name, ns, EvaluationWindow={"WallClockWindow": {
        "Timezone": "Mars/Olympus_Mons"}}))
    assert got == "InvalidParameterValue", msg
    assert alarm(cw, name).get("EvaluationWindow") == expected, "a refused put changes nothing"
    cw.delete_alarms(AlarmNames=[name])
