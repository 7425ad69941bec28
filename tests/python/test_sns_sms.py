"""SNS SMS end to end: boto3 against a real `stratus server`, with a real HTTP listener as
the SMS gateway (`--sms-gateway-url`) or the local mailbox (<data-dir>/mailbox) when none is
configured. Covers `sms` subscriptions, Publish with PhoneNumber, opt-out (set with
`stratus mail sms-opt-out`, as a STOP reply does on AWS), the SMS sandbox with its one-time
password read from the delivered SMS, SMS attributes, alarms to SMS subscribers, and a
gateway that is down, then up (retries, across a restart).

SNS speaks awsQuery in both venvs, so this file runs in both."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import uuid

import boto3
import botocore.exceptions
import pytest

from conftest import StratusServer, _RUNNING, clean_env, stratus_bin, wait_for
from notify_support import PostListener

WAIT_S = 30


class Gateway(PostListener):
    """An SMS gateway on 127.0.0.1 recording every JSON POST; answers `status`."""

    def __init__(self, port: int = 0):
        self.posts: list[dict] = []
        self.attempts = 0
        self.status = 200
        super().__init__(port)

    def on_post(self, path, headers, body):
        with self.lock:
            self.attempts += 1
            status = self.status
            if 200 <= status < 300:
                self.posts.append({"path": path, "ctype": headers.get("content-type"),
                                   **json.loads(body.decode("utf-8"))})
        return status, None, b""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms"

    def to(self, number: str) -> list[dict]:
        with self.lock:
            return [p for p in self.posts if p["phoneNumber"] == number]

    def wait_for(self, number: str, count: int = 1) -> list[dict]:
        def found():
            ps = self.to(number)
            return ps if len(ps) >= count else None

        return wait_for(found, WAIT_S, what=f"{count} SMS to {number}")


def number() -> str:
    """A fresh +1 555 01xx-style number per test."""
    return "+1555" + str(uuid.uuid4().int)[:7]


def uniq(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def gateway():
    g = Gateway()
    yield g
    g.close()


def start_server(path, *args: str) -> StratusServer:
    s = StratusServer(path)
    s.extra_args = list(args)
    return s.start()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, gateway):
    s = start_server(tmp_path_factory.mktemp("sms") / "data", "--sms-gateway-url", gateway.url)
    yield s
    s.stop()
    _RUNNING.remove(s)


@pytest.fixture(scope="module")
def sns(srv):
    return srv.client("sns")


def mailbox_sms(srv: StratusServer, num: str) -> list:
    box = srv.data_dir / "mailbox"
    out = []
    for f in sorted(box.glob("*.eml")) if box.is_dir() else []:
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        if msg["X-Stratus-Sms"] == num:
            out.append((f.name, msg))
    return out


def sms_text(msg) -> str:
    return msg.get_content().replace("\r\n", "\n")


# ---- validation -----------------------------------------------------------------------

@pytest.mark.parametrize("endpoint", ["invalid-number", "+15--551234567", "NAA+15551234567",
                                      "+15551234567.", "/+15551234567"])
def test_subscribe_refuses_non_e164_endpoints(sns, endpoint):
    topic = sns.create_topic(Name=uniq())["TopicArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=endpoint)
    assert error_of(e) == ("InvalidParameter", f"Invalid SMS endpoint: {endpoint}", 400)
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


@pytest.mark.parametrize("phone", ["+1a234", "NAA+15551234567", "+15551234567."])
def test_publish_refuses_non_e164_numbers(sns, gateway, phone):
    before = len(gateway.posts)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(PhoneNumber=phone, Message="hi")
    assert error_of(e) == (
        "InvalidParameter", f"Invalid parameter: PhoneNumber Reason: {phone} is not valid to publish to", 400)
    assert len(gateway.posts) == before


def test_publish_refuses_bad_sms_message_attributes_and_long_texts(sns):
    for name, value in [("AWS.SNS.SMS.SMSType", "Bulk"), ("AWS.SNS.SMS.SenderID", "123"),
                        ("AWS.SNS.SMS.SenderID", "WayTooLongSender"), ("AWS.SNS.SMS.MaxPrice", "cheap")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.publish(PhoneNumber=number(), Message="hi",
                        MessageAttributes={name: {"DataType": "String", "StringValue": value}})
        code, message, status = error_of(e)
        assert (code, status) == ("InvalidParameter", 400)
        assert name in message
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(PhoneNumber=number(), Message="x" * 1601)
    assert error_of(e)[0] == "InvalidParameter"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(PhoneNumber=number(), TopicArn=sns.create_topic(Name=uniq())["TopicArn"], Message="x")
    assert error_of(e)[0] == "InvalidParameter"


# ---- delivery -------------------------------------------------------------------------

def test_publish_to_a_phone_number_reaches_the_gateway(sns, gateway):
    num = number()
    mid = sns.publish(PhoneNumber=num, Message="Your code is 1234", MessageAttributes={
        "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Stratus1"},
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.SNS.SMS.MaxPrice": {"DataType": "Number", "StringValue": "0.5"},
    })["MessageId"]
    (p,) = gateway.wait_for(num)
    assert p["path"] == "/sms" and p["ctype"] == "application/json"
    assert p["message"] == "Your code is 1234"
    assert p["messageId"] == mid
    assert (p["senderId"], p["smsType"], p["maxPrice"]) == ("Stratus1", "Transactional", "0.5")


def test_message_structure_json_sends_the_sms_entry_else_default(sns, gateway):
    a, b = number(), number()
    sns.publish(PhoneNumber=a, MessageStructure="json",
                Message=json.dumps({"default": "long default", "sms": "short"}))
    sns.publish(PhoneNumber=b, MessageStructure="json", Message=json.dumps({"default": "only default"}))
    assert gateway.wait_for(a)[0]["message"] == "short"
    assert gateway.wait_for(b)[0]["message"] == "only default"


def test_sms_subscriptions_are_confirmed_at_once_and_filtered(sns, gateway):
    topic = sns.create_topic(Name=uniq())["TopicArn"]
    num, other = number(), number()
    arn = sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=num)["SubscriptionArn"]
    assert arn.startswith(topic + ":")
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=other,
                  Attributes={"FilterPolicy": json.dumps({"level": ["high"]})})
    attrs = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attrs["PendingConfirmation"] == "false"
    assert attrs["ConfirmationWasAuthenticated"] == "true"
    assert attrs["Protocol"] == "sms" and attrs["Endpoint"] == num
    listed = {s["Endpoint"]: s for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]}
    assert set(listed) == {num, other}
    assert listed[num]["SubscriptionArn"] == arn
    # Re-subscribing answers the same subscription.
    assert sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=num)["SubscriptionArn"] == arn

    sns.publish(TopicArn=topic, Message="low one",
                MessageAttributes={"level": {"DataType": "String", "StringValue": "low"}})
    sns.publish(TopicArn=topic, Message="high one",
                MessageAttributes={"level": {"DataType": "String", "StringValue": "high"}})
    assert sorted(p["message"] for p in gateway.wait_for(num, 2)) == ["high one", "low one"]
    (p,) = gateway.wait_for(other)
    assert p["message"] == "high one" and p["topicArn"] == topic
    # The default SMS type is Promotional (AWS's default).
    assert p["smsType"] == "Promotional"


def test_alarm_to_an_sms_subscriber_sends_the_short_text(srv, sns, gateway):
    cw = srv.client("cloudwatch")
    topic = sns.create_topic(Name=uniq())["TopicArn"]
    num = number()
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=num)
    name = uniq("disk")
    cw.put_metric_alarm(AlarmName=name, Namespace="Test/Sms", MetricName="M", Statistic="Average",
                        Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
                        AlarmActions=[topic])
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    (p,) = gateway.wait_for(num)
    assert p["message"] == f'ALARM: "{name}" in US East (N. Virginia)'


# ---- opt-out --------------------------------------------------------------------------

def test_opt_out_list_opt_in_and_opted_out_messages_are_recorded(srv, sns, gateway):
    num = number()
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=num)["isOptedOut"] is False
    srv.stratus_cli("mail", "sms-opt-out", num)
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=num)["isOptedOut"] is True
    assert num in sns.list_phone_numbers_opted_out()["phoneNumbers"]

    mid = sns.publish(PhoneNumber=num, Message="not for you")["MessageId"]
    topic = sns.create_topic(Name=uniq())["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=num)
    sns.publish(TopicArn=topic, Message="nor this")

    def recorded():
        out = srv.stratus_cli("mail", "deliveries", "--json").stdout
        ds = [d for d in json.loads(out)["Deliveries"] if d["Endpoint"] == num]
        return ds if len(ds) == 2 and all(d["Status"] != "Pending" for d in ds) else None

    ds = wait_for(recorded, WAIT_S, what="the opted-out deliveries recorded")
    assert mid in {d["MessageId"] for d in ds}
    for d in ds:
        assert d["Protocol"] == "sms"
        assert d["Status"] != "Delivered"
        assert "opted out" in d["LastError"]
    assert gateway.to(num) == []

    sns.opt_in_phone_number(phoneNumber=num)
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=num)["isOptedOut"] is False
    assert num not in sns.list_phone_numbers_opted_out()["phoneNumbers"]
    sns.publish(PhoneNumber=num, Message="welcome back")
    assert gateway.wait_for(num)[0]["message"] == "welcome back"
    # Opting in a number that never opted out succeeds (AWS, recorded).
    sns.opt_in_phone_number(phoneNumber=number())


def test_opt_out_numbers_are_checked_and_paged(srv, sns):
    for bad in ["NAA+15551234567", "+1a234"]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.opt_in_phone_number(phoneNumber=bad)
        assert error_of(e) == ("InvalidParameter", "Invalid parameter: PhoneNumber Reason: input incorrectly formatted", 400)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.check_if_phone_number_is_opted_out(phoneNumber=bad)
        assert error_of(e)[0] == "InvalidParameter"
    nums = {f"+1666{i:07d}" for i in range(105)}
    for n in nums:
        srv.stratus_cli("mail", "sms-opt-out", n)
    first = sns.list_phone_numbers_opted_out()
    assert len(first["phoneNumbers"]) == 100 and first["nextToken"]
    second = sns.list_phone_numbers_opted_out(nextToken=first["nextToken"])
    seen = set(first["phoneNumbers"]) | set(second["phoneNumbers"])
    assert nums <= seen
    assert not set(first["phoneNumbers"]) & set(second["phoneNumbers"])


# ---- SMS attributes -------------------------------------------------------------------

def test_sms_attributes_round_trip_and_validation(sns, gateway):
    assert sns.get_sms_attributes()["attributes"].get("MonthlySpendLimit") == "1"
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Transactional", "DefaultSenderID": "LSTest",
                                       "MonthlySpendLimit": "1", "DeliveryStatusSuccessSamplingRate": "100"})
    got = sns.get_sms_attributes()["attributes"]
    assert got == {"DefaultSMSType": "Transactional", "DefaultSenderID": "LSTest",
                   "DeliveryStatusSuccessSamplingRate": "100", "MonthlySpendLimit": "1"}
    assert sns.get_sms_attributes(attributes=["DefaultSMSType", "DefaultSenderID"])["attributes"] == {
        "DefaultSMSType": "Transactional", "DefaultSenderID": "LSTest"}
    for attrs, message in [({"InvalidAttribute": "x"}, "InvalidAttribute is not a valid attribute"),
                           ({"DefaultSendID": "123456789012"}, "DefaultSendID is not a valid attribute"),
                           ({"DefaultSMSType": "Invalid"}, "DefaultSMSType is invalid")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            sns.set_sms_attributes(attributes=attrs)
        assert error_of(e) == ("InvalidParameter", message, 400)
    assert sns.get_sms_attributes()["attributes"] == got
    # The defaults apply to messages without their own attributes.
    num = number()
    sns.publish(PhoneNumber=num, Message="defaults")
    (p,) = gateway.wait_for(num)
    assert (p["senderId"], p["smsType"]) == ("LSTest", "Transactional")
    sns.set_sms_attributes(attributes={"DefaultSMSType": "Promotional", "DefaultSenderID": ""})


def test_a_region_without_sms_attributes_has_only_the_spend_limit(srv):
    other = boto3.session.Session().client(
        "sns", endpoint_url=srv.endpoint, region_name="eu-west-1",
        aws_access_key_id=srv.admin_keys()[0], aws_secret_access_key=srv.admin_keys()[1])
    assert other.get_sms_attributes()["attributes"] == {"MonthlySpendLimit": "1"}


# ---- mailbox, sandbox, retries --------------------------------------------------------

def test_without_a_gateway_sms_land_in_the_mailbox(make_server):
    s = make_server()
    sns = s.client("sns")
    num = number()
    sns.publish(PhoneNumber=num, Message="to the mailbox",
                MessageAttributes={"AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "Shop"}})
    ((name, msg),) = wait_for(lambda: mailbox_sms(s, num) or None, WAIT_S, what="the SMS in the mailbox")
    assert name.endswith(".eml") and "sms-" in name
    assert msg["Subject"] == f"SMS to {num}"
    assert msg["To"] == f"{num}@sms.localhost"
    text = sms_text(msg)
    assert "to the mailbox" in text and "sender ID Shop" in text
    listed = subprocess.run([str(stratus_bin()), "mail", "list", "--json", "--data-dir", str(s.data_dir)],
                            capture_output=True, text=True, timeout=60, env=clean_env(), check=True).stdout
    assert any(m["subject"] == f"SMS to {num}" and m["to"] == f"{num}@sms.localhost"
               for m in json.loads(listed))
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is False


def test_sandbox_flow_with_the_one_time_password(make_server, tmp_path):
    s = make_server(start=False)
    s.extra_args = ["--sms-sandbox"]
    s.start()
    sns = s.client("sns")
    assert sns.get_sms_sandbox_account_status()["IsInSandbox"] is True
    num = number()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(PhoneNumber=num, Message="not yet")
    assert error_of(e)[0] == "AuthorizationError"
    sns.create_sms_sandbox_phone_number(PhoneNumber=num, LanguageCode="en-US")
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == [{"PhoneNumber": num, "Status": "Pending"}]
    ((_, msg),) = wait_for(lambda: mailbox_sms(s, num) or None, WAIT_S, what="the OTP SMS")
    otp = re.search(r"verification code is: (\d{6})", sms_text(msg)).group(1)
    wrong = "000000" if otp != "000000" else "111111"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.verify_sms_sandbox_phone_number(PhoneNumber=num, OneTimePassword=wrong)
    assert error_of(e)[0] == "VerificationException"
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"][0]["Status"] == "Pending"
    sns.verify_sms_sandbox_phone_number(PhoneNumber=num, OneTimePassword=otp)
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == [{"PhoneNumber": num, "Status": "Verified"}]
    sns.publish(PhoneNumber=num, Message="verified now")
    wait_for(lambda: len(mailbox_sms(s, num)) == 2 or None, WAIT_S, what="the second SMS")
    assert sns.list_origination_numbers()["PhoneNumbers"] == []
    # Through a topic: the verified number gets it, an unverified one is recorded as not sent.
    topic = sns.create_topic(Name=uniq())["TopicArn"]
    stranger = number()
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=num)
    sns.subscribe(TopicArn=topic, Protocol="sms", Endpoint=stranger)
    sns.publish(TopicArn=topic, Message="via the topic")
    wait_for(lambda: len(mailbox_sms(s, num)) == 3 or None, WAIT_S, what="the topic SMS")

    def stranger_recorded():
        out = s.stratus_cli("mail", "deliveries", "--json").stdout
        ds = [d for d in json.loads(out)["Deliveries"] if d["Endpoint"] == stranger and d["Status"] != "Pending"]
        return ds or None

    (d,) = wait_for(stranger_recorded, WAIT_S, what="the unverified number's delivery recorded")
    assert d["Status"] != "Delivered" and "not verified in the SMS sandbox" in d["LastError"]
    assert mailbox_sms(s, stranger) == []
    sns.delete_sms_sandbox_phone_number(PhoneNumber=num)
    assert sns.list_sms_sandbox_phone_numbers()["PhoneNumbers"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.delete_sms_sandbox_phone_number(PhoneNumber=num)
    assert error_of(e)[0] == "ResourceNotFound"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.publish(PhoneNumber=num, Message="removed again")
    assert error_of(e)[0] == "AuthorizationError"


def test_a_failing_gateway_gets_the_sms_after_retries_and_a_restart(make_server):
    g = Gateway()
    try:
        g.status = 503
        s = make_server(start=False)
        s.extra_args = ["--sms-gateway-url", g.url]
        s.start()
        sns = s.client("sns")
        num = number()
        mid = sns.publish(PhoneNumber=num, Message="eventually")["MessageId"]
        wait_for(lambda: g.attempts >= 2 or None, WAIT_S, what="two failed attempts")
        assert g.to(num) == []
        # Down across a restart: the outbox keeps the message.
        s.restart()
        g.status = 200
        (p,) = g.wait_for(num)
        assert p["messageId"] == mid and p["message"] == "eventually"
    finally:
        g.close()
