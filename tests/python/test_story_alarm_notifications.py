"""The story of DESIGN.md §1 steps 4–5, end to end with the AWS CLI, boto3, a real SMTP
server (aiosmtpd) and a real webhook: a topic, an email subscription confirmed through the
link in its email, an http subscription confirmed through its SubscribeURL, an alarm on a
disk metric with ALARM and OK actions; data over the threshold → one ALARM email with
AWS's subject and body layout and one signed JSON notification; data back under → one OK
email. (Period 10 s instead of the story's hour, so the test takes seconds.)"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import StratusServer, clean_env, wait_for
from notify_support import Relay, Webhook, body_of, confirm_email, http_get, verify_signature

AWS = Path(sys.executable).parent / "aws"
ALARM = "disk-root-50"
ADDRESS = "ops@example.com"
REGION_NAME = "US East (N. Virginia)"


@pytest.fixture
def story(tmp_path):
    from conftest import _RUNNING

    relay = Relay().start()
    hook = Webhook()
    server = StratusServer(tmp_path / "data", env={"STRATUS_SMTP_URL": relay.url})
    server.start()
    yield server, relay.inbox, hook
    server.stop()
    _RUNNING.remove(server)
    hook.close()
    relay.stop()


def aws(server: StratusServer, *args: str) -> dict:
    env = clean_env(AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
                    AWS_CONFIG_FILE=str(server.config_file), AWS_MAX_ATTEMPTS="1")
    cp = subprocess.run([str(AWS), "--endpoint-url", server.endpoint, "--profile", "stratus", *args],
                        capture_output=True, text=True, env=env, timeout=120)
    assert cp.returncode == 0, f"aws {' '.join(args)}: {cp.stderr}"
    return json.loads(cp.stdout) if cp.stdout.strip() else {}


def put_disk(cw, dims, value: float) -> None:
    cw.put_metric_data(Namespace="CWAgent", MetricData=[{
        "MetricName": "disk_used_percent", "Dimensions": dims, "Value": value, "Unit": "Percent",
        "Timestamp": dt.datetime.now(dt.timezone.utc), "StorageResolution": 1,
    }])


def test_alarm_emails_and_webhooks_the_confirmed_subscribers(story):
    server, inbox, hook = story
    cw = server.client("cloudwatch")
    sns = server.client("sns")
    instance = f"i-{uuid.uuid4().hex[:17]}"
    dims = [{"Name": "InstanceId", "Value": instance}, {"Name": "device", "Value": "nvme0n1p1"},
            {"Name": "fstype", "Value": "ext4"}, {"Name": "path", "Value": "/"}]

    # -- a topic with a confirmed email subscriber (through the CLI, as in the issue)...
    topic = aws(server, "sns", "create-topic", "--name", "ops-alerts")["TopicArn"]
    sub = aws(server, "sns", "subscribe", "--topic-arn", topic, "--protocol", "email",
              "--notification-endpoint", ADDRESS)
    assert sub["SubscriptionArn"] == "pending confirmation"
    confirm_email(inbox, ADDRESS)
    # ...and a confirmed webhook.
    http_sub = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=hook.url("/alarms"),
                             ReturnSubscriptionArn=True)["SubscriptionArn"]
    (_, _, body), = hook.wait_for("/alarms", "SubscriptionConfirmation")
    status, _, _ = http_get(json.loads(body)["SubscribeURL"])
    assert status == 200
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["Protocol"] for s in subs if s["SubscriptionArn"] != "PendingConfirmation") == ["email", "http"]

    # -- the alarm (CLI), with ALARM and OK actions.
    cli_dims = [f"Name={d['Name']},Value={d['Value']}" for d in dims]
    aws(server, "cloudwatch", "put-metric-alarm", "--alarm-name", ALARM,
        "--alarm-description", "root volume over 50%", "--namespace", "CWAgent",
        "--metric-name", "disk_used_percent", "--dimensions", *cli_dims, "--statistic", "Average",
        "--period", "10", "--evaluation-periods", "1", "--threshold", "50",
        "--comparison-operator", "GreaterThanOrEqualToThreshold",
        "--alarm-actions", topic, "--ok-actions", topic)
    [alarm] = cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"

    # -- the disk passes 50 %.
    deadline = time.time() + 60
    while time.time() < deadline and cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"] != "ALARM":
        put_disk(cw, dims, 55.5)  # exact in binary: any average of it prints 55.5
        time.sleep(1)
    [alarm] = cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"]
    assert alarm["StateValue"] == "ALARM", alarm
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 out of the last 1 datapoints [55.5 (")
    assert "was greater than or equal to the threshold (50.0)" in alarm["StateReason"]

    subject = f'ALARM: "{ALARM}" in {REGION_NAME}'
    (mail,) = inbox.wait_for(ADDRESS, subject)
    assert str(mail["Subject"]) == subject
    text = body_of(mail)
    assert f'your Amazon CloudWatch Alarm "{ALARM}" in the {REGION_NAME} region has entered the ALARM state' in text
    assert "- State Change:               INSUFFICIENT_DATA -> ALARM" in text
    assert "- Description:                root volume over 50%" in text
    assert "GreaterThanOrEqualToThreshold 50.0" in text
    assert "- MetricName:                          disk_used_percent" in text
    assert "[InstanceId = " + instance + "]" in text
    assert f"- ALARM: [{topic}]" in text
    console = re.search(r"(http://\S+/#/alarms/\S+)", text)
    assert console and console.group(1).endswith(f"/#/alarms/{ALARM}"), text
    assert "unsubscribe.html?SubscriptionArn=" in text, "every email carries an unsubscribe link"

    # The webhook gets the alarm's JSON document, signed.
    (_, headers, body), = hook.wait_for("/alarms", "Notification")
    doc = json.loads(body)
    verify_signature(doc)
    assert doc["Subject"] == subject and doc["TopicArn"] == topic
    assert headers["x-amz-sns-subscription-arn"] == http_sub
    message = json.loads(doc["Message"])
    assert message["AlarmName"] == ALARM and message["NewStateValue"] == "ALARM"
    assert message["OldStateValue"] == "INSUFFICIENT_DATA"
    assert message["Region"] == REGION_NAME
    assert message["Trigger"]["MetricName"] == "disk_used_percent"
    assert message["Trigger"]["Statistic"] == "AVERAGE"
    assert message["Trigger"]["Threshold"] == 50.0
    assert {"name": "InstanceId", "value": instance} in message["Trigger"]["Dimensions"]

    # -- back under 50 %: one OK email, and still exactly one ALARM email.
    deadline = time.time() + 60
    while time.time() < deadline and cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"] != "OK":
        put_disk(cw, dims, 40.5)
        time.sleep(1)
    (ok_mail,) = inbox.wait_for(ADDRESS, f'OK: "{ALARM}" in {REGION_NAME}')
    assert "- State Change:               ALARM -> OK" in body_of(ok_mail)
    hook.wait_for("/alarms", "Notification", count=2)
    time.sleep(2)
    assert len([m for m in inbox.to(ADDRESS) if str(m["Subject"]).startswith("ALARM:")]) == 1
    assert len(hook.at("/alarms", "Notification")) == 2

    # History records the transitions and the executed actions.
    items = cw.describe_alarm_history(AlarmName=ALARM, HistoryItemType="Action")["AlarmHistoryItems"]
    assert any(topic in i["HistorySummary"] and i["HistorySummary"].startswith("Successfully") for i in items), items
    states = cw.describe_alarm_history(AlarmName=ALARM, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    assert [s["HistorySummary"] for s in states][:2] == [
        "Alarm updated from ALARM to OK", "Alarm updated from INSUFFICIENT_DATA to ALARM"]


def test_alarm_email_survives_a_down_relay_and_a_server_kill(tmp_path):
    """The relay is down when the alarm fires; the server is SIGKILLed while the ALARM email
    waits in the outbox; both come back — the email arrives, exactly once."""
    from conftest import _RUNNING

    relay = Relay().start()
    server = StratusServer(tmp_path / "data", env={"STRATUS_SMTP_URL": relay.url})
    server.start()
    try:
        cw, sns = server.client("cloudwatch"), server.client("sns")
        topic = sns.create_topic(Name="ops-alerts")["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint=ADDRESS)
        confirm_email(relay.inbox, ADDRESS)
        relay.stop()  # the relay goes away; its port refuses connections

        dims = [{"Name": "InstanceId", "Value": "i-kill"}, {"Name": "path", "Value": "/"}]
        cw.put_metric_alarm(AlarmName=ALARM, Namespace="CWAgent", MetricName="disk_used_percent",
                            Dimensions=dims, Statistic="Average", Period=10, EvaluationPeriods=1,
                            Threshold=50.0, ComparisonOperator="GreaterThanOrEqualToThreshold",
                            AlarmActions=[topic])
        deadline = time.time() + 60
        while time.time() < deadline and cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"] != "ALARM":
            put_disk(cw, dims, 77.0)
            time.sleep(1)
        assert cw.describe_alarms(AlarmNames=[ALARM])["MetricAlarms"][0]["StateValue"] == "ALARM"

        # The ALARM email is in the outbox, failing against the dead relay.
        def pending_alarm_email():
            out = server.stratus_cli("mail", "deliveries", "--json").stdout
            return [d for d in json.loads(out)["Deliveries"] if (d["Subject"] or "").startswith("ALARM:")]
        pending = wait_for(pending_alarm_email, timeout=30, what="the ALARM email in the outbox")
        assert all(d["Status"] != "Delivered" for d in pending), pending

        server.kill()  # SIGKILL: no goodbye
        relay.start()  # the same port, the same inbox
        server.start()

        subject = f'ALARM: "{ALARM}" in {REGION_NAME}'
        (mail,) = relay.inbox.wait_for(ADDRESS, subject)
        assert "INSUFFICIENT_DATA -> ALARM" in body_of(mail)
        time.sleep(3)
        assert len([m for m in relay.inbox.to(ADDRESS) if str(m["Subject"]) == subject]) == 1
    finally:
        if server.running():
            server.kill()
        if server in _RUNNING:
            _RUNNING.remove(server)
        relay.stop()
