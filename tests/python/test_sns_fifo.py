"""SNS FIFO topics through boto3: the name and attribute rules, MessageGroupId and
MessageDeduplicationId on Publish/PublishBatch, the 5-minute deduplication window (by id
and by content, surviving a kill -9), SequenceNumber, and in-order delivery per message
group to a local http receiver — under concurrent publishers and across a failed attempt.

Stratus delivers FIFO topics to http/https subscriptions (AWS: SQS only); other
protocols are refused at Subscribe.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import botocore.exceptions
import pytest

from conftest import wait_for
from notify_support import http_get, verify_signature

WAIT_S = 60


def uniq(prefix: str = "fifo") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class Receiver:
    """An http endpoint on 127.0.0.1 that records notifications in arrival order,
    confirms subscriptions by visiting their SubscribeURL, and can answer 500 to the
    first attempt of chosen messages (by Message text)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.notifications: list[dict] = []  # accepted (2xx) notifications, in order
        self.refused: list[str] = []  # Message texts answered 500
        self.fail_once: set[str] = set()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                kind = self.headers.get("x-amz-sns-message-type")
                doc = json.loads(body)
                status = 200
                if kind == "SubscriptionConfirmation":
                    # Confirm from another thread: the server waits for this answer.
                    threading.Thread(target=http_get, args=(doc["SubscribeURL"],), daemon=True).start()
                elif kind == "Notification":
                    with outer.lock:
                        if doc["Message"] in outer.fail_once:
                            outer.fail_once.discard(doc["Message"])
                            outer.refused.append(doc["Message"])
                            status = 500
                        else:
                            outer.notifications.append(doc)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def messages(self, topic_arn: str) -> list[dict]:
        with self.lock:
            return [n for n in self.notifications if n["TopicArn"] == topic_arn]

    def wait_messages(self, topic_arn: str, count: int) -> list[dict]:
        def enough():
            got = self.messages(topic_arn)
            return got if len(got) >= count else None

        return wait_for(enough, WAIT_S, what=f"{count} notifications of {topic_arn}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def sns(server):
    return server.client("sns")


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.close()


def error_of(call) -> tuple[str, int, str]:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def fifo_topic(sns, content_based: bool = False) -> str:
    attrs = {"FifoTopic": "true"}
    if content_based:
        attrs["ContentBasedDeduplication"] = "true"
    return sns.create_topic(Name=uniq() + ".fifo", Attributes=attrs)["TopicArn"]


def subscribe(sns, receiver: Receiver, topic_arn: str, **attrs) -> str:
    arn = sns.subscribe(TopicArn=topic_arn, Protocol="http", Endpoint=receiver.url(f"/{uniq('sub')}"),
                        Attributes=attrs, ReturnSubscriptionArn=True)["SubscriptionArn"]

    def confirmed():
        a = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        return a["PendingConfirmation"] == "false"

    wait_for(confirmed, WAIT_S, what="subscription confirmed")
    return arn


TOPIC_NAME = ("InvalidParameter", 400, "Invalid parameter: Topic Name")


# ---- topics ---------------------------------------------------------------------------


def test_create_fifo_topic_and_its_attributes(sns):
    name = uniq() + ".fifo"
    arn = sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"]
    assert arn.endswith(":" + name)
    a = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert (a["FifoTopic"], a["ContentBasedDeduplication"]) == ("true", "false")
    # Idempotent with the same attributes; different ones are refused.
    assert sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})["TopicArn"] == arn
    assert error_of(lambda: sns.create_topic(
        Name=name, Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "true"})) == (
        "InvalidParameter", 400,
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="ContentBasedDeduplication", AttributeValue="true")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["ContentBasedDeduplication"] == "true"
    # FifoTopic is fixed at creation.
    assert error_of(lambda: sns.set_topic_attributes(
        TopicArn=arn, AttributeName="FifoTopic", AttributeValue="false")) == (
        "InvalidParameter", 400, "Invalid parameter: AttributeName")
    # A standard topic lists neither attribute.
    std = sns.create_topic(Name=uniq(), Attributes={"FifoTopic": "false"})["TopicArn"]
    a = sns.get_topic_attributes(TopicArn=std)["Attributes"]
    assert "FifoTopic" not in a and "ContentBasedDeduplication" not in a


def test_fifo_name_and_attribute_must_agree(sns):
    name = uniq()
    assert error_of(lambda: sns.create_topic(Name=name + ".fifo")) == TOPIC_NAME
    assert error_of(lambda: sns.create_topic(Name=name + ".fifo", Attributes={"FifoTopic": "false"})) == TOPIC_NAME
    assert error_of(lambda: sns.create_topic(Name=name, Attributes={"FifoTopic": "true"})) == TOPIC_NAME
    assert error_of(lambda: sns.create_topic(Name=".fifo", Attributes={"FifoTopic": "true"})) == TOPIC_NAME
    assert error_of(lambda: sns.create_topic(Name="a b.fifo", Attributes={"FifoTopic": "true"})) == TOPIC_NAME
    # 256 characters in all, the suffix included.
    assert sns.create_topic(Name="a" * 251 + ".fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    assert error_of(lambda: sns.create_topic(
        Name="a" * 252 + ".fifo", Attributes={"FifoTopic": "true"})) == TOPIC_NAME
    # Nothing was created by the refusals.
    arns = set()
    for page in sns.get_paginator("list_topics").paginate():
        arns |= {t["TopicArn"] for t in page["Topics"]}
    assert not any(a.split(":")[-1] in (name, name + ".fifo") for a in arns)


def test_fifo_only_attributes_refused_on_standard_topics(sns):
    std = sns.create_topic(Name=uniq())["TopicArn"]
    code, status, _ = error_of(lambda: sns.set_topic_attributes(
        TopicArn=std, AttributeName="ContentBasedDeduplication", AttributeValue="true"))
    assert (code, status) == ("InvalidParameter", 400)
    code, status, _ = error_of(lambda: sns.create_topic(
        Name=uniq(), Attributes={"ContentBasedDeduplication": "true"}))
    assert (code, status) == ("InvalidParameter", 400)


def test_only_http_subscriptions_on_fifo_topics(sns, receiver):
    arn = fifo_topic(sns)
    code, status, msg = error_of(lambda: sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="ops@example.com"))
    assert (code, status) == ("InvalidParameter", 400) and "FIFO" in msg
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    subscribe(sns, receiver, arn)


# ---- publish --------------------------------------------------------------------------


def test_publish_needs_group_and_dedup_ids(sns):
    arn = fifo_topic(sns)
    assert error_of(lambda: sns.publish(TopicArn=arn, Message="m", MessageDeduplicationId="d")) == (
        "InvalidParameter", 400, "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    assert error_of(lambda: sns.publish(TopicArn=arn, Message="m", MessageGroupId="g")) == (
        "InvalidParameter", 400,
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly")
    assert error_of(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "m", "MessageGroupId": "g", "MessageDeduplicationId": "d1"},
        {"Id": "2", "Message": "m", "MessageDeduplicationId": "d2"}]))[2] == (
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics")
    # The refused batch published nothing: d1 is still new.
    first = sns.publish(TopicArn=arn, Message="m", MessageGroupId="g", MessageDeduplicationId="d1")
    assert first["SequenceNumber"] == str(int(first["SequenceNumber"]))
    # A standard topic refuses a deduplication id and answers no SequenceNumber.
    std = sns.create_topic(Name=uniq())["TopicArn"]
    r = sns.publish(TopicArn=std, Message="m", MessageGroupId="g")
    assert "SequenceNumber" not in r
    assert error_of(lambda: sns.publish(TopicArn=std, Message="m", MessageDeduplicationId="d")) == (
        "InvalidParameter", 400,
        "Invalid parameter: MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
        "parameter that is not valid for this topic type")


def test_sequence_numbers_increase(sns):
    arn = fifo_topic(sns)
    seqs = []
    for i in range(12):
        r = sns.publish(TopicArn=arn, Message=f"m{i}", MessageGroupId=f"g{i % 3}",
                        MessageDeduplicationId=f"d{i}")
        assert len(r["SequenceNumber"]) >= 20 and r["SequenceNumber"].isdigit()
        seqs.append(int(r["SequenceNumber"]))
    assert all(a < b for a, b in zip(seqs, seqs[1:])), seqs
    r = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": f"e{i}", "Message": f"b{i}", "MessageGroupId": "g", "MessageDeduplicationId": f"b{i}"}
        for i in range(5)])
    assert r["Failed"] == []
    batch = [int(s["SequenceNumber"]) for s in r["Successful"]]
    assert [s["Id"] for s in r["Successful"]] == [f"e{i}" for i in range(5)]
    assert batch == sorted(batch) and len(set(batch)) == 5 and batch[0] > seqs[-1]


def test_dedup_by_id_delivers_once_and_answers_the_first_ids(sns, receiver):
    arn = fifo_topic(sns)
    subscribe(sns, receiver, arn)
    first = sns.publish(TopicArn=arn, Message="once", MessageGroupId="g", MessageDeduplicationId="id-1")
    again = sns.publish(TopicArn=arn, Message="once, again", MessageGroupId="g", MessageDeduplicationId="id-1")
    assert (again["MessageId"], again["SequenceNumber"]) == (first["MessageId"], first["SequenceNumber"])
    # In a batch too, and a duplicate inside one batch.
    b = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "once", "MessageGroupId": "g", "MessageDeduplicationId": "id-1"},
        {"Id": "b", "Message": "two", "MessageGroupId": "g", "MessageDeduplicationId": "id-2"},
        {"Id": "c", "Message": "two", "MessageGroupId": "g", "MessageDeduplicationId": "id-2"}])["Successful"]
    assert b[0]["MessageId"] == first["MessageId"]
    assert (b[1]["MessageId"], b[1]["SequenceNumber"]) == (b[2]["MessageId"], b[2]["SequenceNumber"])
    # A later message of the same group arriving proves the earlier ones were sent
    # (the group is delivered in order).
    sns.publish(TopicArn=arn, Message="sentinel", MessageGroupId="g", MessageDeduplicationId="id-3")
    got = receiver.wait_messages(arn, 3)
    time.sleep(1)
    got = receiver.messages(arn)
    assert [n["Message"] for n in got] == ["once", "two", "sentinel"]
    assert got[0]["MessageId"] == first["MessageId"]
    assert got[0]["SequenceNumber"] == first["SequenceNumber"]
    assert list(got[0])[:4] == ["Type", "MessageId", "SequenceNumber", "TopicArn"]
    # The signature covers what AWS documents (SequenceNumber is not among them).
    verify_signature(got[0])


def test_dedup_by_content(sns, receiver):
    arn = fifo_topic(sns, content_based=True)
    subscribe(sns, receiver, arn)
    a = sns.publish(TopicArn=arn, Message="same body", MessageGroupId="g1")
    # The body decides, not the group or the attributes.
    b = sns.publish(TopicArn=arn, Message="same body", MessageGroupId="g2",
                    MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    assert (b["MessageId"], b["SequenceNumber"]) == (a["MessageId"], a["SequenceNumber"])
    # An explicit id overrides the content hash: the body's SHA-256 as an id is a duplicate.
    c = sns.publish(TopicArn=arn, Message="other body", MessageGroupId="g1",
                    MessageDeduplicationId=hashlib.sha256(b"same body").hexdigest())
    assert c["MessageId"] == a["MessageId"]
    d = sns.publish(TopicArn=arn, Message="Same body", MessageGroupId="g1")
    assert d["MessageId"] != a["MessageId"] and int(d["SequenceNumber"]) > int(a["SequenceNumber"])
    got = receiver.wait_messages(arn, 2)
    time.sleep(1)
    assert sorted(n["Message"] for n in receiver.messages(arn)) == ["Same body", "same body"]


def test_concurrent_publishers_keep_each_group_in_order(sns, receiver):
    arn = fifo_topic(sns)
    subscribe(sns, receiver, arn)
    groups = ["red", "blue"]
    published: dict[str, list[tuple[int, str]]] = defaultdict(list)
    lock = threading.Lock()
    errors = []

    def publisher(p: int):
        client = sns  # boto3 clients are thread-safe
        try:
            for i in range(50):
                for g in groups:
                    text = f"{g}-p{p}-{i}"
                    r = client.publish(TopicArn=arn, Message=text, MessageGroupId=g,
                                       MessageDeduplicationId=uuid.uuid4().hex)
                    with lock:
                        published[g].append((int(r["SequenceNumber"]), text))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=publisher, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    total = sum(len(v) for v in published.values())
    assert total == 400
    all_seqs = [s for v in published.values() for s, _ in v]
    assert len(set(all_seqs)) == total
    got = receiver.wait_messages(arn, total)
    time.sleep(1)
    got = receiver.messages(arn)
    assert len(got) == total, "each message delivered exactly once"
    for g in groups:
        expected = [text for _, text in sorted(published[g])]
        delivered = [n["Message"] for n in got if n["Message"].startswith(g + "-")]
        assert delivered == expected, f"group {g} out of publish order"
        # Each publisher's own messages of a group also keep their order.
        for p in range(4):
            mine = [m for m in delivered if f"-p{p}-" in m]
            assert mine == [f"{g}-p{p}-{i}" for i in range(50)]


def test_a_failed_delivery_holds_back_its_group(sns, receiver):
    arn = fifo_topic(sns)
    # Retry after 1 s instead of 20 s.
    policy = json.dumps({"healthyRetryPolicy": {"numRetries": 3, "minDelayTarget": 1, "maxDelayTarget": 1}})
    subscribe(sns, receiver, arn, DeliveryPolicy=policy)
    with receiver.lock:
        receiver.fail_once.add("a-2")
    for i in range(1, 6):
        sns.publish(TopicArn=arn, Message=f"a-{i}", MessageGroupId="a", MessageDeduplicationId=f"a{i}")
        sns.publish(TopicArn=arn, Message=f"b-{i}", MessageGroupId="b", MessageDeduplicationId=f"b{i}")
    receiver.wait_messages(arn, 10)
    got = [n["Message"] for n in receiver.messages(arn)]
    assert receiver.refused.count("a-2") == 1
    assert [m for m in got if m.startswith("a-")] == [f"a-{i}" for i in range(1, 6)]
    assert [m for m in got if m.startswith("b-")] == [f"b-{i}" for i in range(1, 6)]


def test_dedup_window_survives_kill_9(make_server, receiver):
    srv = make_server()
    sns = srv.client("sns")
    arn = fifo_topic(sns)
    subscribe(sns, receiver, arn)
    first = sns.publish(TopicArn=arn, Message="before the crash", MessageGroupId="g",
                        MessageDeduplicationId="crash-1")
    receiver.wait_messages(arn, 1)
    time.sleep(1)  # let the delivery be marked delivered (else it is resent once)
    srv.restart(kill=True)
    sns = srv.client("sns")
    again = sns.publish(TopicArn=arn, Message="before the crash", MessageGroupId="g",
                        MessageDeduplicationId="crash-1")
    assert (again["MessageId"], again["SequenceNumber"]) == (first["MessageId"], first["SequenceNumber"])
    later = sns.publish(TopicArn=arn, Message="after the crash", MessageGroupId="g",
                        MessageDeduplicationId="crash-2")
    assert int(later["SequenceNumber"]) > int(first["SequenceNumber"])
    receiver.wait_messages(arn, 2)
    time.sleep(1)
    assert [n["Message"] for n in receiver.messages(arn)] == ["before the crash", "after the crash"]
