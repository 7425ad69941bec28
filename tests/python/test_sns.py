"""SNS end to end: boto3 and the AWS CLI against a real `stratus server`, a real SMTP
server (aiosmtpd) receiving the emails, and a real HTTP listener receiving the webhooks.

Confirmation links are taken from what was delivered (the email, the POSTed
SubscriptionConfirmation), exactly as a subscriber gets them; signatures are verified with
the certificate served at SigningCertURL (the `cryptography` package)."""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import botocore.exceptions
import pytest

from conftest import StratusServer, clean_env
from notify_support import (
    Inbox,
    Relay,
    Webhook,
    body_of,
    confirm_email,
    confirmed_http_subscription,
    http_get,
    verify_signature,
)



@pytest.fixture(scope="module")
def smtp():
    relay = Relay().start()
    yield relay
    relay.stop()


@pytest.fixture(scope="module")
def inbox(smtp) -> Inbox:
    return smtp.inbox


@pytest.fixture(scope="module")
def hook():
    h = Webhook()
    yield h
    h.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, smtp):
    from conftest import _RUNNING

    s = StratusServer(
        tmp_path_factory.mktemp("sns") / "data",
        env={"STRATUS_SMTP_URL": f"smtp://127.0.0.1:{smtp.port}"},
    )
    s.start()
    yield s
    s.stop()
    _RUNNING.remove(s)


@pytest.fixture(scope="module")
def sns(srv):
    return srv.client("sns")


def uniq(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


# ---- topics --------------------------------------------------------------------------------


def test_create_topic_is_idempotent_and_validates_names(sns):
    name = uniq()
    a = sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"})["TopicArn"]
    assert a == f"arn:aws:sns:us-east-1:123456789012:{name}"
    assert sns.create_topic(Name=name, Attributes={"DisplayName": "Ops"})["TopicArn"] == a
    assert sns.create_topic(Name=name)["TopicArn"] == a
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.create_topic(Name=name, Attributes={"DisplayName": "Other"})
    assert error_of(ei) == (
        "InvalidParameter", "Invalid parameter: Attributes Reason: Topic already exists with different attributes", 400)
    for bad in ["has space", "x" * 257, "dot.fifo", "é"]:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            sns.create_topic(Name=bad)
        assert error_of(ei) == ("InvalidParameter", "Invalid parameter: Topic Name", 400)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.create_topic(Name=uniq(), Attributes={"FifoTopic": "true"})
    assert error_of(ei)[0] == "InvalidParameter"


def test_list_topics_pages_by_100(sns):
    names = [uniq("page") for _ in range(130)]
    arns = {sns.create_topic(Name=n)["TopicArn"] for n in names}
    first = sns.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    seen, token, pages = [], None, 0
    while True:
        page = sns.list_topics(**({"NextToken": token} if token else {}))
        pages += 1
        seen += [t["TopicArn"] for t in page["Topics"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages >= 2
    assert len(seen) == len(set(seen))
    assert arns <= set(seen)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.list_topics(NextToken="%%%")
    assert error_of(ei) == ("InvalidParameter", "Invalid parameter: NextToken", 400)
    for a in arns:
        sns.delete_topic(TopicArn=a)


def test_topic_attributes_get_set_and_errors(sns):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["TopicArn"] == arn and attrs["Owner"] == "123456789012"
    assert attrs["SubscriptionsPending"] == "0" and attrs["SubscriptionsConfirmed"] == "0"
    assert attrs["SubscriptionsDeleted"] == "0" and attrs["DisplayName"] == ""
    assert json.loads(attrs["Policy"])["Statement"][0]["Resource"] == arn
    eff = json.loads(attrs["EffectiveDeliveryPolicy"])
    assert eff["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 3
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Disk alerts")
    policy = '{"http":{"defaultHealthyRetryPolicy":{"numRetries":5,"minDelayTarget":2,"maxDelayTarget":9}}}'
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue=policy)
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attrs["DisplayName"] == "Disk alerts"
    assert json.loads(attrs["EffectiveDeliveryPolicy"])["http"]["defaultHealthyRetryPolicy"]["numRetries"] == 5
    cases = [
        (dict(TopicArn=arn, AttributeName="Bogus", AttributeValue="x"), "Invalid parameter: AttributeName", 400),
        (dict(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="7"), "Invalid parameter: SignatureVersion", 400),
    ]
    for kwargs, msg, status in cases:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            sns.set_topic_attributes(**kwargs)
        assert error_of(ei) == ("InvalidParameter", msg, status)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.get_topic_attributes(TopicArn=arn + "-missing")
    assert error_of(ei) == ("NotFound", "Topic does not exist", 404)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.get_topic_attributes(TopicArn="nope")
    assert error_of(ei) == (
        "InvalidParameter", "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1", 400)
    # A refused change changed nothing.
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"].get("SignatureVersion") == "1"


def test_tags_on_topics(sns):
    arn = sns.create_topic(Name=uniq(), Tags=[{"Key": "team", "Value": "ops"}])["TopicArn"]
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}, {"Key": "team", "Value": "sre"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"env": "prod", "team": "sre"}
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "prod"}]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.tag_resource(ResourceArn=arn, Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])
    assert error_of(ei)[0] == "TagLimitExceeded"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.list_tags_for_resource(ResourceArn=arn + "-missing")
    assert error_of(ei) == ("ResourceNotFound", "Resource does not exist", 404)
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(botocore.exceptions.ClientError):
        sns.list_tags_for_resource(ResourceArn=arn)


# ---- subscriptions ---------------------------------------------------------------------------


def test_subscribe_validation(sns):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    cases = [
        (dict(Protocol="test-protocol", Endpoint="x"),
         "Invalid parameter: Amazon SNS does not support this protocol string: test-protocol"),
        (dict(Protocol="sqs", Endpoint="arn:aws:sqs:us-east-1:123456789012:q"),
         "Invalid parameter: Amazon SNS does not support this protocol string: sqs"),
        (dict(Protocol="email", Endpoint="not-an-address"), "Invalid parameter: Email address"),
        (dict(Protocol="http", Endpoint="https://example.com/x"),
         "Invalid parameter: Endpoint must match the specified protocol"),
        (dict(Protocol="email", Endpoint="a@example.com", Attributes={"RawMessageDelivery": "true"}),
         "Invalid parameter: Attributes Reason: Delivery protocol [email] does not support raw message delivery."),
        (dict(Protocol="email", Endpoint="a@example.com", Attributes={"FilterPolicy": "{\"a\": \"x\"}"}),
         None),
    ]
    for kwargs, msg in cases:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            sns.subscribe(TopicArn=arn, **kwargs)
        code, message, status = error_of(ei)
        assert (code, status) == ("InvalidParameter", 400), kwargs
        if msg:
            assert message == msg
        else:
            # AWS words a bad policy inside Subscribe's Attributes under "Attributes Reason:".
            assert message.startswith("Invalid parameter: Attributes Reason: FilterPolicy: ")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.subscribe(TopicArn=arn + "-missing", Protocol="email", Endpoint="a@example.com")
    assert error_of(ei) == ("NotFound", "Topic does not exist", 404)
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_email_subscription_confirmed_by_the_emailed_link(sns, inbox):
    arn = sns.create_topic(Name=uniq(), Attributes={"DisplayName": "Disk"})["TopicArn"]
    address = f"{uniq('ops')}@example.com"
    r = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=address)
    assert r["SubscriptionArn"] == "pending confirmation"
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sub == {"SubscriptionArn": "PendingConfirmation", "Owner": "123456789012", "Protocol": "email",
                   "Endpoint": address, "TopicArn": arn}
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsPending"] == "1"
    # Re-subscribing the same endpoint returns the same (pending) subscription.
    again = sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=address, ReturnSubscriptionArn=True)
    assert again["SubscriptionArn"].startswith(arn + ":")

    (msg,) = inbox.wait_for(address, "Subscription Confirmation", count=2)[:1]
    text = body_of(msg)
    assert f"You have chosen to subscribe to the topic: \n{arn}" in text
    link = re.search(r"(http://\S+/confirmation\.html\?\S+)", text).group(1)
    q = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)
    assert q["TopicArn"] == [arn] and q["Endpoint"] == [address] and len(q["Token"][0]) >= 64
    status, page, headers = http_get(link)
    assert status == 200 and "Subscription confirmed!" in page
    assert headers["content-type"].startswith("text/html")
    (sub,) = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sub["SubscriptionArn"] == again["SubscriptionArn"]
    assert sub["SubscriptionArn"] in page
    a = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
    assert a["PendingConfirmation"] == "false" and a["Protocol"] == "email" and a["TopicArn"] == arn
    # Visiting the link again is fine (already confirmed).
    assert http_get(link)[0] == 200

    # Publish reaches the confirmed address, with the unsubscribe link in the footer.
    mid = sns.publish(TopicArn=arn, Message="disk is at 91%", Subject="Disk alert")["MessageId"]
    assert re.fullmatch(r"[0-9a-f-]{36}", mid)
    (note,) = inbox.wait_for(address, "Disk alert")
    body = body_of(note)
    assert body.startswith("disk is at 91%")
    unsub = re.search(r"(http://\S+/unsubscribe\.html\?\S+)", body).group(1)
    status, page, _ = http_get(unsub)
    assert status == 200 and "Subscription removed" in page
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["SubscriptionsDeleted"] == "1"


def test_http_confirmation_document_is_signed_and_subscribe_url_confirms(sns, hook):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    path = f"/{uniq('conf')}"
    sub_arn = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url(path),
                            ReturnSubscriptionArn=True)["SubscriptionArn"]
    assert sub_arn.startswith(arn + ":")
    assert sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]["PendingConfirmation"] == "true"
    ((_, headers, body),) = hook.wait_for(path, "SubscriptionConfirmation")
    assert headers["content-type"] == "text/plain; charset=UTF-8"
    assert headers["user-agent"] == "Amazon Simple Notification Service Agent"
    assert headers["x-amz-sns-topic-arn"] == arn
    doc = json.loads(body)
    assert list(doc) == ["Type", "MessageId", "Token", "TopicArn", "Message", "SubscribeURL", "Timestamp",
                         "SignatureVersion", "Signature", "SigningCertURL"]
    assert doc["MessageId"] == headers["x-amz-sns-message-id"]
    assert doc["Message"] == (f"You have chosen to subscribe to the topic {arn}.\n"
                              "To confirm the subscription, visit the SubscribeURL included in this message.")
    assert re.search(r"/SimpleNotificationService-[0-9a-f]+\.pem$", doc["SigningCertURL"])
    verify_signature(doc)
    # A wrong token is refused and confirms nothing.
    bad = doc["SubscribeURL"].replace(doc["Token"], "ab" * 64)
    status, xml, _ = http_get(bad)
    assert status == 400 and "<Code>InvalidParameter</Code>" in xml and "Invalid parameter: Token" in xml
    assert sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]["PendingConfirmation"] == "true"
    status, xml, headers = http_get(doc["SubscribeURL"])
    assert status == 200
    assert xml.startswith('<ConfirmSubscriptionResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">')
    assert f"<SubscriptionArn>{sub_arn}</SubscriptionArn>" in xml
    assert sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]["PendingConfirmation"] == "false"
    # The API's ConfirmSubscription with the same token returns the ARN again.
    assert sns.confirm_subscription(TopicArn=arn, Token=doc["Token"])["SubscriptionArn"] == sub_arn
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.confirm_subscription(TopicArn=arn, Token="deadbeef")
    assert error_of(ei) == ("InvalidParameter", "Invalid parameter: Token", 400)


def test_publish_signed_notification_to_confirmed_subscribers_only(sns, hook):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    pending_path, path = f"/{uniq('pending')}", f"/{uniq('conf')}"
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url(pending_path))
    sub_arn = confirmed_http_subscription(sns, hook, arn, path)
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (attrs["SubscriptionsPending"], attrs["SubscriptionsConfirmed"]) == ("1", "1")
    mid = sns.publish(
        TopicArn=arn, Message="hello\nworld", Subject="greeting",
        MessageAttributes={
            "n": {"DataType": "Number", "StringValue": "100.12"},
            "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
            "a": {"DataType": "String.Array", "StringValue": '["x","y"]'},
        },
    )["MessageId"]
    ((_, headers, body),) = hook.wait_for(path, "Notification")
    assert headers["x-amz-sns-message-id"] == mid
    assert headers["x-amz-sns-subscription-arn"] == sub_arn
    assert "x-amz-sns-rawdelivery" not in headers
    doc = json.loads(body)
    assert list(doc) == ["Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", "SignatureVersion",
                         "Signature", "SigningCertURL", "UnsubscribeURL", "MessageAttributes"]
    assert (doc["MessageId"], doc["Message"], doc["Subject"], doc["SignatureVersion"]) == (
        mid, "hello\nworld", "greeting", "1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", doc["Timestamp"])
    assert doc["MessageAttributes"] == {
        "a": {"Type": "String.Array", "Value": '["x","y"]'},
        "b": {"Type": "Binary", "Value": "AAE="},
        "n": {"Type": "Number", "Value": "100.12"},
    }
    verify_signature(doc)
    # SignatureVersion 2 signs with SHA256.
    sns.set_topic_attributes(TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="2")
    sns.publish(TopicArn=arn, Message="v2")
    notes = hook.wait_for(path, "Notification", count=2)
    doc2 = json.loads(notes[1][2])
    assert doc2["SignatureVersion"] == "2" and "Subject" not in doc2
    verify_signature(doc2)
    # The pending subscriber got its confirmation request and nothing else.
    time.sleep(1.0)
    assert [r[1]["x-amz-sns-message-type"] for r in hook.at(pending_path)] == ["SubscriptionConfirmation"]
    # The UnsubscribeURL works unsigned and an UnsubscribeConfirmation follows.
    status, xml, _ = http_get(doc["UnsubscribeURL"])
    assert status == 200 and "<UnsubscribeResponse" in xml
    ((_, _, ubody),) = hook.wait_for(path, "UnsubscribeConfirmation")
    udoc = json.loads(ubody)
    assert udoc["Message"].startswith(f"You have chosen to deactivate subscription {sub_arn}.")
    verify_signature(udoc)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.get_subscription_attributes(SubscriptionArn=sub_arn)
    assert error_of(ei) == ("NotFound", "Subscription does not exist", 404)
    # Its SubscribeURL restores the subscription.
    assert http_get(udoc["SubscribeURL"])[0] == 200
    assert sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]["PendingConfirmation"] == "false"


def test_filter_policies_and_raw_delivery(sns, hook):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    paths = {k: f"/{uniq(k)}" for k in ("exact", "prefix", "numeric", "absent", "anything", "body", "raw")}
    subs = {
        "exact": {"FilterPolicy": '{"store": ["example_corp"]}'},
        "prefix": {"FilterPolicy": '{"store": [{"prefix": "exa"}]}'},
        "numeric": {"FilterPolicy": '{"price": [{"numeric": [">", 0, "<=", 100]}]}'},
        "absent": {"FilterPolicy": '{"store": [{"exists": false}]}'},
        "anything": {"FilterPolicy": '{"store": [{"anything-but": ["example_corp"]}]}'},
        "body": {"FilterPolicy": '{"kind": ["disk"]}', "FilterPolicyScope": "MessageBody"},
        "raw": {"RawMessageDelivery": "true"},
    }
    for k, attrs in subs.items():
        confirmed_http_subscription(sns, hook, arn, paths[k], **attrs)
    sns.publish(TopicArn=arn, Message="m1", MessageAttributes={
        "store": {"DataType": "String", "StringValue": "example_corp"},
        "price": {"DataType": "Number", "StringValue": "50"}})
    sns.publish(TopicArn=arn, Message="m2", MessageAttributes={
        "store": {"DataType": "String", "StringValue": "other"},
        "price": {"DataType": "Number", "StringValue": "500"}})
    sns.publish(TopicArn=arn, Message='{"kind": "disk"}')
    # The raw subscriber gets all three: once it has, every delivery was queued before.
    raws = hook.wait_for(paths["raw"], "Notification", count=3)
    # A standard topic promises no order, and deliveries run concurrently (up to 16
    # in flight): each message exactly once, in any order.
    assert sorted(r[2] for r in raws) == sorted(["m1", "m2", '{"kind": "disk"}'])
    assert all(r[1]["x-amz-sns-rawdelivery"] == "true" for r in raws)
    time.sleep(1.0)

    def got(k):
        return [json.loads(r[2])["Message"] for r in hook.at(paths[k], "Notification")]

    assert got("exact") == ["m1"]
    assert got("prefix") == ["m1"]
    assert got("numeric") == ["m1"]
    assert got("absent") == ['{"kind": "disk"}']
    assert got("anything") == ["m2"]
    assert got("body") == ['{"kind": "disk"}']
    # Policies can be changed and removed.
    exact_arn = [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
                 if s["Endpoint"] == hook.url(paths["exact"])][0]
    a = sns.get_subscription_attributes(SubscriptionArn=exact_arn)["Attributes"]
    assert a["FilterPolicyScope"] == "MessageAttributes" and a["RawMessageDelivery"] == "false"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.set_subscription_attributes(SubscriptionArn=exact_arn, AttributeName="RawMessageDelivery",
                                        AttributeValue="x")
    assert error_of(ei) == (
        "InvalidParameter", "Invalid parameter: RawMessageDelivery: Invalid value [x]. Must be true or false.", 400)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.set_subscription_attributes(SubscriptionArn=exact_arn, AttributeName="Nope", AttributeValue="x")
    assert error_of(ei) == ("InvalidParameter", "Invalid parameter: AttributeName", 400)
    sns.set_subscription_attributes(SubscriptionArn=exact_arn, AttributeName="FilterPolicy", AttributeValue="")
    assert "FilterPolicy" not in sns.get_subscription_attributes(SubscriptionArn=exact_arn)["Attributes"]
    sns.set_subscription_attributes(
        SubscriptionArn=exact_arn, AttributeName="DeliveryPolicy",
        AttributeValue='{"healthyRetryPolicy":{"numRetries":7,"minDelayTarget":1,"maxDelayTarget":5}}')
    eff = json.loads(sns.get_subscription_attributes(SubscriptionArn=exact_arn)["Attributes"]["EffectiveDeliveryPolicy"])
    assert eff["healthyRetryPolicy"]["numRetries"] == 7


def test_message_structure_json_and_email_json(sns, inbox, hook):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    plain, js = f"{uniq('p')}@example.com", f"{uniq('j')}@example.com"
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=plain)
    confirm_email(inbox, plain)
    sns.subscribe(TopicArn=arn, Protocol="email-json", Endpoint=js)
    (conf,) = inbox.wait_for(js, "Subscription Confirmation")
    cdoc = json.loads(body_of(conf))
    assert cdoc["Type"] == "SubscriptionConfirmation"
    verify_signature(cdoc)
    assert http_get(cdoc["SubscribeURL"])[0] == 200
    path = f"/{uniq('ms')}"
    confirmed_http_subscription(sns, hook, arn, path)
    sns.publish(TopicArn=arn, MessageStructure="json", Subject="structured",
                Message=json.dumps({"default": "for everyone", "email": "for email", "http": "for http"}))
    (e1,) = inbox.wait_for(plain, "structured")
    assert body_of(e1).startswith("for email")
    (e2,) = inbox.wait_for(js, "structured")
    d = json.loads(body_of(e2))
    assert d["Message"] == "for everyone" and d["Subject"] == "structured"
    verify_signature(d)
    ((_, _, body),) = hook.wait_for(path, "Notification")
    assert json.loads(body)["Message"] == "for http"


def test_publish_errors_change_nothing(sns, hook):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    path = f"/{uniq('err')}"
    confirmed_http_subscription(sns, hook, arn, path)
    cases = [
        (dict(Message=""), "InvalidParameter", "Invalid parameter: Empty message"),
        (dict(Message="m", Subject="two\nlines"), "InvalidParameter", "Invalid parameter: Subject"),
        (dict(Message="m", Subject="s" * 100), "InvalidParameter", "Invalid parameter: Subject"),
        (dict(Message="x" * (256 * 1024 + 1)), "InvalidParameter", "Invalid parameter: Message too long"),
        (dict(Message='{"email": "x"}', MessageStructure="json"), "InvalidParameter",
         "Invalid parameter: Message Structure - No default entry in JSON message body"),
        (dict(Message="not json", MessageStructure="json"), "InvalidParameter",
         "Invalid parameter: Message Structure - JSON message body failed to parse"),
        (dict(Message="m", MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}}),
         "ParameterValueInvalid", "Could not cast message attribute 'n' value to number."),
        (dict(Message="m", MessageAttributes={"s": {"DataType": "String", "StringValue": ""}}),
         "ParameterValueInvalid",
         "The message attribute 's' must contain non-empty message attribute value for message attribute type 'String'."),
    ]
    for kwargs, code, msg in cases:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            sns.publish(TopicArn=arn, **kwargs)
        assert error_of(ei) == (code, msg, 400), kwargs
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.publish(TopicArn=arn + "-missing", Message="m")
    assert error_of(ei) == ("NotFound", "Topic does not exist", 404)
    # TargetArn is the same thing as TopicArn.
    sns.publish(TargetArn=arn, Message="via target")
    ((_, _, body),) = hook.wait_for(path, "Notification")
    assert json.loads(body)["Message"] == "via target"


def test_publish_batch(sns, hook):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    path = f"/{uniq('batch')}"
    confirmed_http_subscription(sns, hook, arn, path)
    r = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "one"},
        {"Id": "b", "Message": "two", "Subject": "bad\nsubject"},
        {"Id": "c", "Message": "three"},
    ])
    assert [s["Id"] for s in r["Successful"]] == ["a", "c"]
    assert r["Failed"] == [{"Id": "b", "Code": "InvalidParameter", "Message": "Invalid parameter: Subject",
                            "SenderFault": True}]
    notes = hook.wait_for(path, "Notification", count=2)
    assert sorted(json.loads(n[2])["Message"] for n in notes) == ["one", "three"]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[{"Id": "x", "Message": "m"}] * 2)
    assert error_of(ei)[0] == "BatchEntryIdsNotDistinct"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": f"i{i}", "Message": "m"} for i in range(11)])
    assert error_of(ei)[0] == "TooManyEntriesInBatchRequest"


def test_unsubscribe_list_and_delete_topic(sns, inbox):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    addrs = [f"{uniq('l')}@example.com" for _ in range(3)]
    arns = [sns.subscribe(TopicArn=arn, Protocol="email", Endpoint=a, ReturnSubscriptionArn=True)["SubscriptionArn"]
            for a in addrs]
    listed = [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == arn]
    assert len(listed) == 3 and all(s["SubscriptionArn"] == "PendingConfirmation" for s in listed)
    sns.unsubscribe(SubscriptionArn=arns[0])
    # Unknown but well-formed ARN: 200.
    sns.unsubscribe(SubscriptionArn=f"{arn}:{uuid.uuid4()}")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.unsubscribe(SubscriptionArn=f"{arn}:zz")
    assert error_of(ei) == ("InvalidParameter", "Invalid parameter: SubscriptionId", 400)
    assert len(sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]) == 2
    sns.delete_topic(TopicArn=arn)
    assert arn not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.get_subscription_attributes(SubscriptionArn=arns[1])
    assert error_of(ei)[0] == "NotFound"
    assert [s for s in sns.list_subscriptions()["Subscriptions"] if s["TopicArn"] == arn] == []
    # Deleting again succeeds (idempotent).
    sns.delete_topic(TopicArn=arn)


def test_confirmation_page_escapes_input_and_refuses_bad_tokens(srv, sns):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    q = urllib.parse.urlencode({"TopicArn": arn, "Token": "<script>alert(1)</script>", "Endpoint": "<b>x</b>"})
    status, page, _ = http_get(f"{srv.endpoint}/confirmation.html?{q}")
    assert status == 400
    # Not hex, so not a token at all: AWS answers "Invalid token".
    assert "<script>" not in page and "Invalid token" in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    q = urllib.parse.urlencode({"SubscriptionArn": "<img src=x onerror=alert(1)>"})
    status, page, _ = http_get(f"{srv.endpoint}/unsubscribe.html?{q}")
    assert status == 400 and "<img" not in page and "&lt;img" in page
    # Unsigned GETs of anything else still need a signature.
    status, xml, _ = http_get(f"{srv.endpoint}/?Action=ListTopics&Version=2010-03-31")
    assert status == 403 and "MissingAuthenticationToken" in xml
    assert http_get(f"{srv.endpoint}/SimpleNotificationService-0000.pem")[0] == 404


def test_key_policies_apply_to_sns(srv, sns):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    keys = {}
    for policy in ("readonly", "agent"):
        out = srv.stratus_cli("keys", "create", "--name", uniq(policy), "--policy", policy, "--output", "json")
        k = json.loads(out.stdout)
        keys[policy] = srv.client("sns", key=k["AccessKeyId"], secret=k["SecretAccessKey"])
    ro = keys["readonly"]
    assert arn in [t["TopicArn"] for t in ro.list_topics()["Topics"]]
    assert ro.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn
    for client in keys.values():
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            client.publish(TopicArn=arn, Message="m")
        code, message, status = error_of(ei)
        assert (code, status) == ("AuthorizationError", 403)
        assert "sns:Publish" in message
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        keys["agent"].list_topics()
    assert error_of(ei)[0] == "AuthorizationError"


def test_aws_cli_create_topic_and_subscribe(srv, sns):
    env = clean_env(AWS_SHARED_CREDENTIALS_FILE=str(srv.credentials_file), AWS_CONFIG_FILE=str(srv.config_file))
    venv_bin = __import__("sys").executable.rsplit("/", 1)[0]

    def aws(*args):
        cp = subprocess.run([f"{venv_bin}/aws", "--profile", "stratus", "--endpoint-url", srv.endpoint,
                             "--output", "json", "sns", *args], capture_output=True, text=True, env=env, timeout=60)
        assert cp.returncode == 0, cp.stderr
        return json.loads(cp.stdout)

    name = uniq("cli")
    arn = aws("create-topic", "--name", name)["TopicArn"]
    assert arn.endswith(":" + name)
    r = aws("subscribe", "--topic-arn", arn, "--protocol", "email", "--notification-endpoint", "cli@example.com")
    assert r["SubscriptionArn"] == "pending confirmation"
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0]["Endpoint"] == "cli@example.com"


def test_topics_and_subscriptions_survive_a_kill(make_server):
    s = make_server()
    c = s.client("sns")
    arn = c.create_topic(Name="durable", Attributes={"DisplayName": "D"})["TopicArn"]
    c.subscribe(TopicArn=arn, Protocol="email", Endpoint="d@example.com")
    cert_before = (s.data_dir / "sns-signing-cert.pem").read_text()
    assert oct((s.data_dir / "sns-signing-key.pem").stat().st_mode & 0o777) == "0o600"
    s.restart(kill=True)
    c = s.client("sns")
    assert c.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "D"
    assert c.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"][0]["Endpoint"] == "d@example.com"
    assert (s.data_dir / "sns-signing-cert.pem").read_text() == cert_before


def test_list_subscriptions_pages_by_100(make_server):
    s = make_server()  # no SMTP relay: confirmation emails land in the local mailbox
    c = s.client("sns")
    arn = c.create_topic(Name="paged")["TopicArn"]
    addresses = {f"user{i:03}@example.com" for i in range(105)}
    for a in addresses:
        c.subscribe(TopicArn=arn, Protocol="email", Endpoint=a)
    for op, kwargs in ((c.list_subscriptions, {}), (c.list_subscriptions_by_topic, {"TopicArn": arn})):
        first = op(**kwargs)
        assert len(first["Subscriptions"]) == 100
        second = op(NextToken=first["NextToken"], **kwargs)
        assert len(second["Subscriptions"]) == 5 and "NextToken" not in second
        assert {x["Endpoint"] for x in first["Subscriptions"] + second["Subscriptions"]} == addresses
