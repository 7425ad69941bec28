"""SNS errors as real AWS answered them, step by step, against `tests/aws-recorded/`.

Each case names a LocalStack test (its id in `test_sns.snapshot.json` or
`test_sns_filter_policy.snapshot.json`) and one recorded step, sends the request that
LocalStack's test sent at that step (read from localstack/tests/aws/services/sns/), and
compares the error code, HTTP status and message with the recording. The expectation is
always read from the recording, never written here.

Deviations from LocalStack's requests, all about the subscriber only:
- LocalStack's filter-policy tests subscribe an `sms` endpoint (`+123123123`) and its
  subscription-attribute tests an SQS queue; these cases subscribe an http endpoint with the
  same filter policy / attribute (written before Stratus had SMS; Stratus has no SQS). What
  AWS validates at these steps is the policy or attribute, not the endpoint.
- The SMS cases' values not visible in the recordings (test_set_invalid_sms_attributes'
  DefaultSendID values, test_opt_in_invalid_number's number) are ours; the attribute
  name, resp. a number that is not E.164, is what AWS refused.

Recorded error steps NOT covered here, with the reason, are in NOT_APPLICABLE at the end.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from xml.etree import ElementTree
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

RECORDED = Path(__file__).resolve().parents[1] / "aws-recorded"
SNS_FILE = "test_sns.snapshot.json"
FILTER_FILE = "test_sns_filter_policy.snapshot.json"
SNS_PREFIX = "tests/aws/services/sns/test_sns.py::"
FILTER_PREFIX = "tests/aws/services/sns/test_sns_filter_policy.py::"


def _load(name: str) -> dict:
    return json.loads((RECORDED / name).read_text())


_SNAPSHOTS = {SNS_FILE: _load(SNS_FILE), FILTER_FILE: _load(FILTER_FILE)}


def recorded(file: str, test_id: str, step: str) -> tuple[str, int, str]:
    """The (code, status, message) AWS answered at `step` of `test_id`."""
    prefix = SNS_PREFIX if file == SNS_FILE else FILTER_PREFIX
    entry = _SNAPSHOTS[file][prefix + test_id]["recorded-content"][step]
    return (
        entry["Error"]["Code"],
        entry["ResponseMetadata"]["HTTPStatusCode"],
        entry["Error"]["Message"],
    )


def uniq(prefix: str = "aws-rec") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def sns(server):
    return server.client("sns")


@pytest.fixture(scope="module")
def sns_unvalidated(server):
    """A client without botocore's own parameter validation (LocalStack's
    `Config(parameter_validation=False)`), so missing parameters reach the server."""
    return server.client("sns", parameter_validation=False)


class Listener:
    """An HTTP endpoint on 127.0.0.1 answering 200 to every POST (the confirmation
    requests of the http subscriptions made here); nothing leaves the machine."""

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def hook():
    h = Listener()
    yield h
    h.close()


def check(call, file: str, test_id: str, step: str) -> None:
    """Runs `call`, which must fail, and compares its error with the recording."""
    code, status, message = recorded(file, test_id, step)
    try:
        call()
    except botocore.exceptions.ClientError as e:
        got = e.response
    else:
        pytest.fail(f"{test_id} / {step}: accepted, AWS answered {code}: {message}")
    assert (
        got["Error"]["Code"],
        got["ResponseMetadata"]["HTTPStatusCode"],
        got["Error"]["Message"],
    ) == (code, status, message), f"{test_id} / {step}"


def client_in_region(server, region: str):
    """An SNS client signing for `region` (conftest's clients sign for us-east-1)."""
    key, secret = server.admin_keys()
    return boto3.session.Session().client(
        "sns", endpoint_url=server.endpoint, region_name=region,
        aws_access_key_id=key, aws_secret_access_key=secret,
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))


def topic(sns, **kw) -> str:
    return sns.create_topic(Name=uniq(), **kw)["TopicArn"]


def http_subscription(sns, hook, topic_arn: str) -> str:
    return sns.subscribe(
        TopicArn=topic_arn,
        Protocol="http",
        Endpoint=hook.url(f"/{uniq('sub')}"),
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]


# ---- topics -------------------------------------------------------------------------


def test_create_topic_with_attributes_errors(sns):
    # LocalStack's topic is FIFO; the steps only need an ARN of a topic that does not
    # exist and a malformed one.
    arn = topic(sns)
    t = "TestSNSTopicCrud::test_create_topic_with_attributes"
    check(lambda: sns.get_topic_attributes(TopicArn=f"{arn}{uuid.uuid4().hex[:8]}x"),
          SNS_FILE, t, "get-attrs-nonexistent-topic")
    check(lambda: sns.get_topic_attributes(TopicArn="test-topic"),
          SNS_FILE, t, "get-attrs-malformed-topic")


def test_tags_duplicate_key(sns):
    arn = topic(sns)
    check(lambda: sns.tag_resource(ResourceArn=arn, Tags=[
        {"Key": "k1", "Value": "v1"}, {"Key": "k2", "Value": "v2"}, {"Key": "k2", "Value": "v2"}]),
        SNS_FILE, "TestSNSTopicCrud::test_tags", "duplicate-key-error")


def test_create_duplicate_topic_with_more_tags(sns):
    name = uniq()
    sns.create_topic(Name=name)
    check(lambda: sns.create_topic(Name=name, Tags=[{"Key": "key1", "Value": "value1"}]),
          SNS_FILE, "TestSNSTopicCrud::test_create_duplicate_topic_with_more_tags",
          "exception-duplicate")


def test_create_topic_different_attrs(sns):
    t = "TestSNSTopicCrudV2::test_create_topic_different_attrs"
    name = uniq("test-idempotent")
    sns.create_topic(Name=name, Attributes={"DisplayName": "Value1"})
    sns.create_topic(Name=name)
    sns.create_topic(Name=name, Attributes={"DisplayName": "Value1"})
    check(lambda: sns.create_topic(Name=name, Attributes={"DisplayName": "Value2"}),
          SNS_FILE, t, "create-topic-diff-attrs")
    check(lambda: sns.create_topic(Name=name, Attributes={"SignatureVersion": "2"}),
          SNS_FILE, t, "create-topic-new-attrs")
    check(lambda: sns.create_topic(
        Name=name, Attributes={"SignatureVersion": "2", "DisplayName": "Value1"}),
        SNS_FILE, t, "create-topic-new-and-same-attrs")
    check(lambda: sns.create_topic(Name=name, Attributes={"FifoTopic": "true"}),
          SNS_FILE, t, "create-topic-new-attrs-fifo")


def test_create_topic_name_constraints(sns):
    t = "TestSNSTopicCrudV2::test_create_topic_name_constraints"
    check(lambda: sns.create_topic(Name=f"{uniq()}.fifo"), SNS_FILE, t, "name-contains-fifo")
    check(lambda: sns.create_topic(Name=uniq(), Attributes={"FifoTopic": "true"}), SNS_FILE, t,
          "fifo-name-not-contains-fifo")
    check(lambda: sns.create_topic(Name=""), SNS_FILE, t, "name-too-short")
    check(lambda: sns.create_topic(Name="a" * 257), SNS_FILE, t, "name-too-long")
    for index, c in enumerate([":", ";", "!", "@", "|", "^", "%", " "]):
        check(lambda: sns.create_topic(Name=f"bad{c}name"), SNS_FILE, t, f"name-invalid-char-{index}")


def test_create_topic_test_arn(sns):
    arn = topic(sns)
    sns.delete_topic(TopicArn=arn)
    check(lambda: sns.get_topic_attributes(TopicArn=arn), SNS_FILE,
          "TestSNSTopicCrud::test_create_topic_test_arn", "topic-not-exists")


def test_topic_get_attributes_with_fifo_false(sns):
    # LocalStack creates the topic with FifoTopic=false (FIFO topics are issue 16 item 2,
    # and a standard topic is what that creates).
    arn = topic(sns)
    check(lambda: sns.set_topic_attributes(
        TopicArn=arn, AttributeName="FifoTopic", AttributeValue="false"),
        SNS_FILE, "TestSNSTopicCrudV2::test_topic_get_attributes_with_fifo_false",
        "set-fifo-false-after-creation")


# ---- publish ------------------------------------------------------------------------


def test_publish_wrong_arn_format(sns):
    t = "TestSNSPublishCrud::test_publish_wrong_arn_format"
    msg = "Good news everyone!"
    check(lambda: sns.publish(Message=msg, TopicArn="randomstring"), SNS_FILE, t, "invalid-topic-arn")
    check(lambda: sns.publish(Message=msg, TopicArn="randomstring:1"), SNS_FILE, t,
          "invalid-topic-arn-1")
    check(lambda: sns.publish(Message=msg, TopicArn=""), SNS_FILE, t, "empty-topic")


def test_unknown_topic_publish(sns):
    arn = topic(sns)
    check(lambda: sns.publish(TopicArn=f"{arn}-unknown", Message="This is a SNS message"),
          SNS_FILE, "TestSNSPublishCrud::test_unknown_topic_publish", "error")


def test_publish_non_existent_target(sns):
    arn = topic(sns)
    account = arn.split(":")[4]
    check(lambda: sns.publish(
        TargetArn=f"arn:aws:sns:us-east-1:{account}:endpoint/APNS/abcdef/0f7d5971-aa8b-4bd5-b585-0826e9f93a66",
        Message="This is a push notification"),
        SNS_FILE, "TestSNSPublishCrud::test_publish_non_existent_target", "non-existent-endpoint")


def test_validations_for_fifo_on_a_standard_topic(sns):
    # The one step of test_validations_for_fifo about a standard topic.
    arn = topic(sns)
    check(lambda: sns.publish(TopicArn=arn, Message="test", MessageDeduplicationId=uuid.uuid4().hex[:8]),
          SNS_FILE, "TestSNSSubscriptionSQSFifo::test_validations_for_fifo", "no-msg-dedup-regular-topic")


def test_validations_for_fifo_on_a_fifo_topic(sns):
    # The steps of test_validations_for_fifo about publishing to a FIFO topic without
    # ContentBasedDeduplication (the others subscribe SQS queues).
    t = "TestSNSSubscriptionSQSFifo::test_validations_for_fifo"
    arn = sns.create_topic(Name=f"{uniq()}.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    check(lambda: sns.publish(TopicArn=arn, Message="test"), SNS_FILE, t, "no-msg-group-id")
    check(lambda: sns.publish(TopicArn=arn, Message="test", MessageGroupId=uniq()), SNS_FILE, t,
          "no-dedup-policy")


def test_publish_with_empty_subject(sns):
    arn = topic(sns)
    check(lambda: sns.publish(TopicArn=arn, Subject="",
                              Message=json.dumps({"message": "test_publish"})),
          SNS_FILE, "TestSNSPublishCrud::test_publish_with_empty_subject",
          "response-with-empty-subject")


def test_empty_sns_message(sns):
    arn = topic(sns)
    check(lambda: sns.publish(Message="", TopicArn=arn), SNS_FILE,
          "TestSNSPublishCrud::test_empty_sns_message", "empty-msg-error")


def test_publish_too_long_message(sns):
    t = "TestSNSPublishCrud::test_publish_too_long_message"
    arn = topic(sns)
    check(lambda: sns.publish(TopicArn=arn, Message="This is a test message" * 12000),
          SNS_FILE, t, "error")
    attrs = {"attr1": {"DataType": "Number", "StringValue": "1"}}
    attrs_len = len("attr1") + len("Number") + len("1")
    body = (262144 - attrs_len + 1) * "a"
    check(lambda: sns.publish(TopicArn=arn, Message=body, MessageAttributes=attrs),
          SNS_FILE, t, "error-with-attrs")
    assert sns.publish(TopicArn=arn, Message=body[:-1], MessageAttributes=attrs)["MessageId"]


def test_message_structure_json_exc(sns):
    t = "TestSNSPublishCrud::test_message_structure_json_exc"
    arn = topic(sns)
    check(lambda: sns.publish(TopicArn=arn, Message=json.dumps({"sqs": "Test message"}),
                              MessageStructure="json"), SNS_FILE, t, "missing-default-key")
    check(lambda: sns.publish(TopicArn=arn, Message='{"default": "This is a default message"} }',
                              MessageStructure="json"), SNS_FILE, t, "invalid-json")
    check(lambda: sns.publish(TopicArn=arn, Message=json.dumps({"default": {"object": "test"}}),
                              MessageStructure="json"), SNS_FILE, t, "key-is-not-string")


def test_publish_batch_messages_without_topic(sns):
    arn = topic(sns)
    check(lambda: sns.publish_batch(TopicArn=f"{arn}-missing", PublishBatchRequestEntries=[
        {"Id": "1", "Message": "Test Message with two attributes", "Subject": "Subject",
         "MessageAttributes": {"attr1": {"DataType": "Number", "StringValue": "99.12"}}}]),
        SNS_FILE, "TestSNSSubscriptionSQS::test_publish_batch_messages_without_topic",
        "publish-batch-no-topic")


def test_publish_batch_exceptions(sns):
    # LocalStack's topic is FIFO, without ContentBasedDeduplication.
    t = "TestSNSSubscriptionSQS::test_publish_batch_exceptions"
    arn = sns.create_topic(Name=f"{uniq()}.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": f"Id_{i}", "Message": "Too many messages"} for i in range(11)]),
        SNS_FILE, t, "too-many-msg")
    check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "Messages with the same ID"} for _ in range(2)]),
        SNS_FILE, t, "same-msg-id")
    check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": json.dumps({"sqs": "test sqs"}), "MessageStructure": "json"}]),
        SNS_FILE, t, "no-default-key-json")
    check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "Test message without a group id"}]), SNS_FILE, t, "no-group-id")
    check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "Test message without a dedup id", "MessageGroupId": "msg1"}]),
        SNS_FILE, t, "no-dedup-id")


def test_publish_batch_too_long_message(sns):
    t = "TestSNSPublishCrud::test_publish_batch_too_long_message"
    arn = topic(sns)
    max_size = 262144
    check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "a" * (max_size // 2)},
        {"Id": "2", "Message": "b" * (1 + max_size // 2)}]), SNS_FILE, t, "error-no-attrs")
    attrs = {"attr1": {"DataType": "Number", "StringValue": "1"}}
    body = (max_size - len("attr1") - len("Number") - len("1")) * "a"
    check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": body, "MessageAttributes": attrs},
        {"Id": "2", "Message": "b"}]), SNS_FILE, t, "error-with-attrs")
    ok = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": body[:-1], "MessageAttributes": attrs},
        {"Id": "2", "Message": "b"}])
    assert len(ok["Successful"]) == 2


def test_publish_batch_invalid_entry_id(sns):
    t = "TestSNSPublishCrud::test_publish_batch_invalid_entry_id"
    arn = topic(sns)
    for step, entry_id in [
        ("invalid-char-dot", "message.id"),
        ("invalid-char-special", "msg@123#test"),
        ("id-too-long-81", "a" * 81),
        ("id-too-long-91", "myreally" + "really" * 12 + "longid"),
    ]:
        check(lambda: sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
            {"Id": entry_id, "Message": "test message"}]), SNS_FILE, t, step)
    ok = sns.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a" * 80, "Message": "test message"}])
    assert len(ok["Successful"]) == 1


WRONG_MESSAGE_ATTRIBUTES = {
    "missing_string_attr": {"attr1": {"DataType": "String", "StringValue": ""}},
    "fully_missing_string_attr": {"attr1": {"DataType": "String"}},
    "fully_missing_data_type": {"attr1": {"StringValue": "value"}},
    "missing_binary_attr": {"attr1": {"DataType": "Binary", "BinaryValue": b""}},
    "str_attr_binary_value": {"attr1": {"DataType": "String", "BinaryValue": b"123"}},
    "int_attr_binary_value": {"attr1": {"DataType": "Number", "BinaryValue": b"123"}},
    "binary_attr_string_value": {"attr1": {"DataType": "Binary", "StringValue": "123"}},
    "invalid_attr_string_value": {"attr1": {"DataType": "InvalidType", "StringValue": "123"}},
    "too_long_name": {"a" * 257: {"DataType": "String", "StringValue": "123"}},
    "invalid_name": {"a^*?": {"DataType": "String", "StringValue": "123"}},
    "invalid_name_2": {".abc": {"DataType": "String", "StringValue": "123"}},
    "invalid_name_3": {"abc.": {"DataType": "String", "StringValue": "123"}},
    "invalid_name_4": {"a..bc": {"DataType": "String", "StringValue": "123"}},
}


@pytest.mark.parametrize("step", list(WRONG_MESSAGE_ATTRIBUTES))
def test_empty_or_wrong_message_attributes(sns_unvalidated, step):
    t = "TestSNSSubscriptionSQS::test_empty_or_wrong_message_attributes"
    c = sns_unvalidated
    arn = topic(c)
    attrs = WRONG_MESSAGE_ATTRIBUTES[step]
    check(lambda: c.publish(TopicArn=arn, Message="test message", MessageAttributes=attrs),
          SNS_FILE, t, step)
    check(lambda: c.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "test-batch", "MessageAttributes": attrs},
        {"Id": "3", "Message": "valid-batch"}]), SNS_FILE, t, f"batch-{step}")


def test_message_attributes_prefixes(sns):
    t = "TestSNSSubscriptionSQS::test_message_attributes_prefixes"
    arn = topic(sns)
    check(lambda: sns.publish(TopicArn=arn, Message="test message", MessageAttributes={
        "attr1": {"DataType": "String.", "StringValue": "prefixed-1"}}), SNS_FILE, t, "publish-error")
    check(lambda: sns.publish(TopicArn=arn, Message="test message", MessageAttributes={
        "attr1": {"DataType": "Stringprefixed", "StringValue": "prefixed-1"}}),
        SNS_FILE, t, "publish-error-2")
    assert sns.publish(TopicArn=arn, Message="test message", MessageAttributes={
        "attr1": {"DataType": "String.prefixed", "StringValue": "prefixed-1"}})["MessageId"]


def test_topic_publish_another_region(server, sns):
    t = "TestSNSPublishCrud::test_topic_publish_another_region"
    arn = topic(sns)
    other = client_in_region(server, "us-west-2")
    check(lambda: other.publish(TopicArn=arn, Message="This is a test message"), SNS_FILE, t, "error")
    check(lambda: other.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "This is a test message"}]), SNS_FILE, t, "error-batch")


def test_cross_region_access(server, sns):
    t = "TestSNSMultiRegions::test_cross_region_access"
    arn = topic(sns)
    other = client_in_region(server, "us-west-2")
    check(lambda: other.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName",
                                             AttributeValue="xenon"), SNS_FILE, t, "set-topic-attrs")
    check(lambda: other.get_topic_attributes(TopicArn=arn), SNS_FILE, t, "get-topic-attrs")
    check(lambda: other.publish(TopicArn=arn, Message="hello world"), SNS_FILE, t,
          "cross-region-publish-forbidden")
    check(lambda: other.subscribe(TopicArn=arn, Protocol="email", Endpoint="devil@hell.com"),
          SNS_FILE, t, "cross-region-subscribe")
    check(lambda: other.list_subscriptions_by_topic(TopicArn=arn), SNS_FILE, t, "list-subs")
    check(lambda: other.delete_topic(TopicArn=arn), SNS_FILE, t, "delete-topic")


# ---- subscriptions ------------------------------------------------------------------


def test_subscribe_with_invalid_protocol(sns):
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn, Protocol="test-protocol",
                                Endpoint="localstack@yopmail.com"),
          SNS_FILE, "TestSNSSubscriptionCrud::test_subscribe_with_invalid_protocol", "exception")


def test_subscribe_with_invalid_topic(sns):
    t = "TestSNSSubscriptionCrud::test_subscribe_with_invalid_topic"
    ep = {"Protocol": "email", "Endpoint": "localstack@yopmail.com"}
    check(lambda: sns.subscribe(TopicArn="randomstring", **ep), SNS_FILE, t, "invalid-subscribe-arn-1")
    check(lambda: sns.subscribe(TopicArn="arn:aws:sns:us-east-1:random", **ep), SNS_FILE, t,
          "invalid-subscribe-arn-2")
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn + "aaa", **ep), SNS_FILE, t, "non-existent-topic")


def test_unsubscribe_wrong_arn_format(sns_unvalidated):
    t = "TestSNSSubscriptionCrud::test_unsubscribe_wrong_arn_format"
    c = sns_unvalidated
    check(lambda: c.unsubscribe(SubscriptionArn="randomstring"), SNS_FILE, t,
          "invalid-unsubscribe-arn-1")
    check(lambda: c.unsubscribe(SubscriptionArn="arn:aws:sns:us-east-1:random"), SNS_FILE, t,
          "invalid-unsubscribe-arn-2")
    check(lambda: c.unsubscribe(SubscriptionArn="arn:aws:sns:us-east-1:111111111111:random"),
          SNS_FILE, t, "invalid-unsubscribe-arn-3")
    check(lambda: c.unsubscribe(), SNS_FILE, t, "invalid-unsubscribe-arn-4")


def test_unsubscribe_from_deleted_topic(sns, hook):
    # LocalStack subscribes http://example.com/; nothing may leave 127.0.0.1 here.
    arn = topic(sns)
    sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url("/deleted"))[
        "SubscriptionArn"]
    sns.delete_topic(TopicArn=arn)
    check(lambda: sns.unsubscribe(SubscriptionArn=sub), SNS_FILE,
          "TestSNSSubscriptionCrudV2::test_unsubscribe_from_deleted_topic",
          "unsubscribe-deleted-topic")


def test_subscribe_unknown_topic(sns, hook):
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn + "-unknown", Protocol="http",
                                Endpoint=hook.url("/unknown")),
          SNS_FILE, "TestSNSSubscriptionCrudV2::test_subscribe_unknown_topic",
          "subscribe-unknown-topic")


LONG_TOKEN = (
    "51b2ff3edb475b7d91550e0ab6edf0c1de2a34e6ebaf6c2262a001bcb7e051c43aa00022ceecce70bd2a67b2042da8d8eb47fef7a4e4e942d23e7fa56146b9ee35da040b4b8af564cc4184a7391c834cb75d75c22981f776ad1ce8805e9bab29da2329985337bb8095627907b46c8577c8440556b6f86582a954758026f41fc62041c4b3f67b0f5921232b5dae5aaca1"
)


def test_sns_confirm_subscription_wrong_token(sns):
    t = "TestSNSSubscriptionCrud::test_sns_confirm_subscription_wrong_token"
    arn = topic(sns)
    check(lambda: sns.confirm_subscription(TopicArn=arn[:-1] + "i", Token=LONG_TOKEN),
          SNS_FILE, t, "topic-not-exists")
    check(lambda: sns.confirm_subscription(TopicArn=arn, Token="randomtoken"),
          SNS_FILE, t, "invalid-token")
    check(lambda: sns.confirm_subscription(TopicArn=arn, Token=LONG_TOKEN),
          SNS_FILE, t, "token-not-exists")


def test_subscribe_external_http_endpoint_confirm_errors(server, sns, hook):
    """The unsigned GET of a hand-edited SubscribeURL (`/?Action=ConfirmSubscription`).
    AWS's recording keeps the ErrorResponse body only (no status), so code, type and
    message are compared."""
    arn = topic(sns)
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url("/confirm"))
    for param in ("True", "False"):  # LocalStack runs it with and without raw delivery
        t = f"TestSNSSubscriptionHttp::test_subscribe_external_http_endpoint[{param}]"
        for step, topic_arn, token in [
            ("broken-topic-arn-confirm", "not-an-arn", "ab" * 64),
            ("broken-token-confirm", arn, "abc123"),
        ]:
            want = _SNAPSHOTS[SNS_FILE][SNS_PREFIX + t]["recorded-content"][step]["ErrorResponse"]["Error"]
            q = urllib.parse.urlencode({"Action": "ConfirmSubscription", "TopicArn": topic_arn,
                                        "Token": token})
            try:
                urllib.request.urlopen(f"{server.endpoint}/?{q}", timeout=10)
                pytest.fail(f"{t} / {step}: accepted")
            except urllib.error.HTTPError as e:
                body = e.read().decode()
            err = ElementTree.fromstring(body).find("{*}Error")
            got = {k: err.findtext(f"{{*}}{k}") for k in ("Code", "Message", "Type")}
            assert got == want, f"{t} / {step}"


def test_create_subscriptions_with_attributes(sns, hook):
    t = "TestSNSSubscriptionCrud::test_create_subscriptions_with_attributes"
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url("/raw"),
                                Attributes={"RawMessageDelivery": "wrongvalue"},
                                ReturnSubscriptionArn=True),
          SNS_FILE, t, "subscribe-wrong-attr")
    sub = http_subscription(sns, hook, arn)
    sns.unsubscribe(SubscriptionArn=sub)
    check(lambda: sns.get_subscription_attributes(SubscriptionArn=sub), SNS_FILE, t,
          "get-attrs-nonexistent-sub")


def test_not_found_error_on_set_subscription_attributes(sns, hook):
    arn = topic(sns)
    sub = http_subscription(sns, hook, arn)
    sns.unsubscribe(SubscriptionArn=sub)
    check(lambda: sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="true"),
        SNS_FILE, "TestSNSSubscriptionCrud::test_not_found_error_on_set_subscription_attributes",
        "sub-not-found")


def test_get_subscription_attributes_error_not_exists(sns):
    arn = topic(sns)
    check(lambda: sns.get_subscription_attributes(
        SubscriptionArn=f"{arn}:{uuid.uuid4()}"),
        SNS_FILE, "TestSNSSubscriptionCrudV2::test_get_subscription_attributes_error_not_exists",
        "get-sub-attrs-nonexistent")


def test_validate_set_sub_attributes(sns, hook):
    t = "TestSNSSubscriptionCrud::test_validate_set_sub_attributes"
    sub = http_subscription(sns, hook, topic(sns))

    def set_attr(name, value):
        return lambda: sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName=name, AttributeValue=value)

    check(set_attr("FakeAttribute", "test-value"), SNS_FILE, t, "fake-attribute")
    check(set_attr("RawMessageDelivery", "test-ValUe"), SNS_FILE, t, "raw-message-wrong-value")
    check(set_attr("RawMessageDelivery", ""), SNS_FILE, t, "raw-message-empty-value")
    check(set_attr("FilterPolicy", "{invalidjson}"), SNS_FILE, t, "invalid-json-filter-policy")


def test_subscribe_invalid_filter_policy(sns):
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="test@example.com",
                                Attributes={"FilterPolicy": "invalid-json"}),
          SNS_FILE, "TestSNSSubscriptionCrudV2::test_subscribe_invalid_filter_policy",
          "subscribe-invalid-filter-policy")


def test_subscribe_idempotency(sns, hook):
    arn = topic(sns)
    endpoint = hook.url(f"/{uniq('idem')}")
    sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint,
                  Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)
    check(lambda: sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint,
                                Attributes={"RawMessageDelivery": "false"},
                                ReturnSubscriptionArn=True),
          SNS_FILE, "TestSNSSubscriptionCrud::test_subscribe_idempotency",
          "subscribe-diff-attributes")


# ---- filter policies ----------------------------------------------------------------

# (test id, step, policy) as LocalStack's TestSNSFilterPolicyConditions sends them at
# Subscribe time (json.dumps of the dict: the column in AWS's message counts in that text).
SUBSCRIBE_POLICY_CASES = [
    ("test_validate_policy", "error-condition-list", {"key": [["value"]]}),
    ("test_validate_policy", "error-condition-operator", {"key": [{"wrong-operator": True}]}),
    ("test_validate_policy", "error-condition-two-operators",
     {"key": [{"suffix": "value", "prefix": "value2"}]}),
    ("test_validate_policy_string_operators", "error-condition-empty-array", {"key": []}),
    ("test_validate_policy_string_operators", "error-condition-is-numeric", {"key": [{"suffix": 100}]}),
    ("test_validate_policy_string_operators", "error-condition-is-none", {"key": [{"suffix": None}]}),
    ("test_validate_policy_string_operators", "error-condition-is-not-list-and-operator",
     {"key": {"suffix": "value"}}),
    ("test_validate_policy_string_operators", "error-condition-empty-list", {"key": [{"suffix": []}]}),
    ("test_validate_policy_string_operators", "error-condition-list-wrong-type",
     {"key": [{"suffix": ["test", "test2"]}]}),
    ("test_validate_policy_string_operators", "error-condition-is-not-list-two-ops",
     {"key": {"suffix": "value", "prefix": "value"}}),
    ("test_validate_policy_string_operators", "error-condition-is-not-list-and-no-operator",
     {"key": {"not-an-operator": "value"}}),
    ("test_validate_policy_string_operators", "error-condition-bad-type",
     {"key": [{"cidr": ["bad-filter"]}]}),
    ("test_validate_policy_string_operators", "error-condition-bad-cidr-str",
     {"key": [{"cidr": "bad-filter"}]}),
    ("test_validate_policy_string_operators", "error-condition-bad-cidr-str-slash",
     {"key": [{"cidr": "bad-filter/64"}]}),
    ("test_validate_policy_string_operators", "error-condition-bad-cidr-str-slash-2",
     {"key": [{"cidr": "bad-/64filter"}]}),
    ("test_validate_policy_string_operators", "error-condition-bad-cidr-v4",
     {"key": [{"cidr": "xx.11.xx/8"}]}),
    ("test_validate_policy_string_operators", "error-condition-bad-cidr-v6",
     {"key": [{"cidr": "xxxx:db8:1234:1a00::/64"}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-empty", {"key": [{"numeric": []}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-wrong-operator",
     {"key": [{"numeric": ["operator"]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-operator-order",
     {"key": [{"numeric": [1, "<="]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-type", {"key": [{"numeric": ["=", "000"]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-missing-value", {"key": [{"numeric": [">="]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-wrong-range-order",
     {"key": [{"numeric": ["<", 100, ">", 10]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-wrong-range-operators",
     {"key": [{"numeric": [">=", 1, ">", 2]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-wrong-value-order",
     {"key": [{"numeric": [">", 3, "<", 1]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-missing-range-value",
     {"key": [{"numeric": [">", 20, "<="]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-missing-range-operator",
     {"key": [{"numeric": [">", 20, 30]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-wrong-second-range-operator",
     {"key": [{"numeric": [">", 20, "test"]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-wrong-range-value-1-type",
     {"key": [{"numeric": [">", "20", "<", "30"]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-wrong-range-value-2-type",
     {"key": [{"numeric": [">", 20, "<", "30"]}]}),
    ("test_validate_policy_numeric_operator", "error-numeric-too-many-range",
     {"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]}),
    ("test_validate_policy_exists_operator", "error-condition-none", {"key": [{"exists": None}]}),
    ("test_validate_policy_exists_operator", "error-condition-string", {"key": [{"exists": "no"}]}),
    ("test_validate_policy_nested_anything_but_operator", "error-condition-wrong-operator",
     {"key": [{"anything-but": {"wrong-operator": None}}]}),
    ("test_validate_policy_nested_anything_but_operator", "error-condition-anything-but-suffix",
     {"key": [{"anything-but": {"suffix": "test"}}]}),
    ("test_validate_policy_nested_anything_but_operator", "error-condition-anything-but-exists",
     {"key": [{"anything-but": {"exists": False}}]}),
    ("test_validate_policy_nested_anything_but_operator",
     "error-condition-anything-but-prefix-wrong-type",
     {"key": [{"anything-but": {"prefix": False}}]}),
    ("test_policy_complexity", "error-complexity-in-one-condition",
     {"key": [f"value{i}" for i in range(151)]}),
    ("test_policy_complexity", "error-complexity-in-two-conditions",
     {"key1": [f"value{i}" for i in range(100)], "key2": [f"value{i}" for i in range(51)]}),
    ("test_policy_complexity", "error-complexity-too-many-fields",
     {f"key{i}": [f"value{i}"] for i in range(1, 7)}),
]

# test_policy_complexity_with_or: (step, policy, FilterPolicyScope).
OR_COMPLEXITY_CASES = [
    ("error-complexity-or-flat", {
        "source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
            {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
             "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}]},
        ],
    }, "MessageAttributes"),
    ("error-complexity-or-nested", {
        "$or": [
            {"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]},
            {"namespace": ["AWS/EC2", "AWS/ES"]},
        ],
        "detail": {
            "scope": ["Service", "Test"],
            "$or": [
                {"source": ["aws.cloudwatch"]},
                {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]},
            ],
        },
    }, "MessageBody"),
]


@pytest.fixture(scope="module")
def policy_topic(sns) -> str:
    return topic(sns)


@pytest.mark.parametrize("test_id,step,policy", SUBSCRIBE_POLICY_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in SUBSCRIBE_POLICY_CASES])
def test_filter_policy_refused_at_subscribe(sns, hook, policy_topic, test_id, step, policy):
    check(lambda: sns.subscribe(
        TopicArn=policy_topic, Protocol="http", Endpoint=hook.url("/filter"),
        Attributes={"FilterPolicy": json.dumps(policy)}),
        FILTER_FILE, f"TestSNSFilterPolicyConditions::{test_id}", step)


@pytest.mark.parametrize("step,policy,scope", OR_COMPLEXITY_CASES, ids=[c[0] for c in OR_COMPLEXITY_CASES])
def test_policy_complexity_with_or(sns, hook, policy_topic, step, policy, scope):
    check(lambda: sns.subscribe(
        TopicArn=policy_topic, Protocol="http", Endpoint=hook.url("/filter"),
        Attributes={"FilterPolicy": json.dumps(policy), "FilterPolicyScope": scope}),
        FILTER_FILE, "TestSNSFilterPolicyConditions::test_policy_complexity_with_or", step)


def test_set_subscription_filter_policy_scope(sns, hook):
    sub = http_subscription(sns, hook, topic(sns))
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")
    check(lambda: sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="FilterPolicyScope", AttributeValue="RandomValue"),
        FILTER_FILE, "TestSNSFilterPolicyCrud::test_set_subscription_filter_policy_scope",
        "sub-attrs-filter-scope-error")


def test_sub_filter_policy_nested_property(sns, hook):
    sub = http_subscription(sns, hook, topic(sns))
    check(lambda: sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="FilterPolicy",
        AttributeValue=json.dumps({"object": {"key": [{"prefix": "auto-"}]}})),
        FILTER_FILE, "TestSNSFilterPolicyCrud::test_sub_filter_policy_nested_property",
        "sub-filter-policy-nested-error")


def test_sub_filter_policy_nested_property_constraints(sns, hook):
    t = "TestSNSFilterPolicyCrud::test_sub_filter_policy_nested_property_constraints"
    sub = http_subscription(sns, hook, topic(sns))
    sns.set_subscription_attributes(SubscriptionArn=sub, AttributeName="FilterPolicyScope",
                                    AttributeValue="MessageBody")

    def set_policy(policy):
        return lambda: sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=json.dumps(policy))

    check(set_policy({
        "key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
        "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
        "key_f": ["value_one", "value_two", "value_three"],
    }), FILTER_FILE, t, "sub-filter-policy-nested-error-too-many-combinations")
    check(set_policy({f"key_{c}": [f"value_{i}"] for i, c in enumerate("abcdef")}),
          FILTER_FILE, t, "sub-filter-policy-max-attr-keys")
    check(set_policy({"key_a": "value_one"}), FILTER_FILE, t, "sub-filter-policy-rule-no-list")


# ---- topic permissions --------------------------------------------------------------


def test_add_permission_errors(sns):
    t = "TestSNSTopicCrudV2::test_add_permission_errors"
    arn = topic(sns)
    sns.add_permission(TopicArn=arn, Label="test", AWSAccountId=["999999999999"], ActionName=["Publish"])
    check(lambda: sns.add_permission(TopicArn=arn, Label="test", AWSAccountId=["999999999999"],
                                     ActionName=["AddPermission"]), SNS_FILE, t, "duplicate-label")
    check(lambda: sns.add_permission(TopicArn=f"{arn}-not-existing", Label="test-2",
                                     AWSAccountId=["999999999999"], ActionName=["AddPermission"]),
          SNS_FILE, t, "topic-not-found")
    check(lambda: sns.add_permission(TopicArn=arn, Label="test-2", AWSAccountId=["999999999999"],
                                     ActionName=["NotExistingAction"]), SNS_FILE, t, "invalid-action")


def test_remove_permission_errors(sns):
    arn = topic(sns)
    sns.add_permission(TopicArn=arn, Label="test", AWSAccountId=["999999999999"], ActionName=["Publish"])
    check(lambda: sns.remove_permission(TopicArn=f"{arn}-not-existing", Label="test"),
          SNS_FILE, "TestSNSTopicCrudV2::test_remove_permission_errors", "topic-not-found")


# ---- SMS ---------------------------------------------------------------------------------

def test_publish_wrong_phone_format(sns):
    t = "TestSNSSMS::test_publish_wrong_phone_format"
    check(lambda: sns.publish(PhoneNumber="+1a234", Message="msg"), SNS_FILE, t, "invalid-number")
    check(lambda: sns.publish(PhoneNumber="NAA+15551234567", Message="msg"), SNS_FILE, t, "wrong-format")
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="NAA+15551234567"),
          SNS_FILE, t, "wrong-endpoint")


def test_subscribe_bad_sms(sns):
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="invalid-number"),
          SNS_FILE, "TestSNSSubscriptionCrudV2::test_subscribe_bad_sms", "subscribe-bad-sms")


@pytest.mark.parametrize("endpoint", ["+15--551234567", "NAA+15551234567", "+15551234567.", "/+15551234567"])
def test_subscribe_invalid_sms(sns, endpoint):
    arn = topic(sns)
    check(lambda: sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint=endpoint),
          SNS_FILE, "TestSNSSubscriptionCrudV2::test_subscribe_invalid_sms", f"subscribe-bad-sms-{endpoint}")


def test_subscribe_sms_endpoint(sns):
    """The recorded attributes of an sms subscription: confirmed at once, as authenticated."""
    arn = topic(sns)
    sub = sns.subscribe(TopicArn=arn, Protocol="sms", Endpoint="+123123123")["SubscriptionArn"]
    got = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    want = _SNAPSHOTS[SNS_FILE][SNS_PREFIX + "TestSNSSMS::test_subscribe_sms_endpoint"][
        "recorded-content"]["subscribe-sms-attrs"]["Attributes"]
    assert set(got) == set(want)
    for k in ["ConfirmationWasAuthenticated", "Endpoint", "PendingConfirmation", "Protocol",
              "RawMessageDelivery"]:
        assert got[k] == want[k], k


@pytest.mark.parametrize("case,attributes", [
    ("InvalidAttributeName", {"InvalidAttribute": "Foo"}),
    ("TooLongID", {"DefaultSendID": "AAAAAAAAAAAAAA"}),
    ("NoLetterID", {"DefaultSendID": "123456"}),
    ("InvalidSMSType", {"DefaultSMSType": "Invalid"}),
])
def test_set_invalid_sms_attributes(sns, case, attributes):
    check(lambda: sns.set_sms_attributes(attributes=attributes), SNS_FILE,
          f"TestSNSSMS::test_set_invalid_sms_attributes[{case}]", "invalid-attribute")


def test_opt_in_invalid_number(sns):
    check(lambda: sns.opt_in_phone_number(phoneNumber="+1a234"), SNS_FILE,
          "TestSNSSMS::test_opt_in_invalid_number", "opt-in-non-existing-number")


def test_list_opted_out_and_unmodified_region(server):
    """A fresh account: nobody opted out, and a region's SMS attributes hold only AWS's
    default spend limit (both recorded)."""
    other = client_in_region(server, "ap-southeast-2")
    got = other.list_phone_numbers_opted_out()
    want = _SNAPSHOTS[SNS_FILE][SNS_PREFIX + "TestSNSSubscriptionCrudV2::test_list_opted_out"][
        "recorded-content"]["list-opted-out"]
    assert got["phoneNumbers"] == want["phoneNumbers"]
    want = _SNAPSHOTS[SNS_FILE][SNS_PREFIX + "TestSNSSMS::test_get_sms_attributes_from_unmodified_region"][
        "recorded-content"]["get-sms-attributes_unmodified_region"]
    assert other.get_sms_attributes()["attributes"] == want["attributes"]


# ---- recorded error steps not covered, and why ----------------------------------------

NOT_APPLICABLE = {
    "platform applications and endpoints (mobile push: not in Stratus's scope)": [
        "every test_*platform_application* / *platform_endpoint* step (29)",
        "test_delete_endpoints_of_deleted_app",
    ],
    "SQS subscribers (Stratus has no SQS)": [
        "test_subscribe_to_sqs_with_queue_url", "test_subscribe_unknown_sqs_queue",
        "test_subscribe_sqs_queue_url", "test_cross_region_delivery_sqs",
        "test_validate_set_sub_attributes: fake-arn-redrive-policy, invalid-json-redrive-policy "
        "(RedrivePolicy names an SQS dead-letter queue)",
        "test_validations_for_fifo: not-fifo-topic, regular-queue-for-dlq-of-fifo-topic "
        "(FIFO SQS queues and their dead-letter queues)",
    ],
    "answered differently, by design": [
        "test_subscribe_external_http_endpoint: different-region-arn-confirm (x2): an unsigned "
        "GET names no region, and Stratus serves every region on one endpoint",
    ],
}


def test_not_applicable_list_names_recorded_tests():
    """Every test named in NOT_APPLICABLE exists in the recordings (no stale entries)."""
    ids = {k.split("::")[-1].split("[")[0] for k in _SNAPSHOTS[SNS_FILE]}
    for entries in NOT_APPLICABLE.values():
        for entry in entries:
            name = entry.split(":")[0].split(" ")[0]
            if name.startswith("test_") and "*" not in name:
                assert name in ids, name
