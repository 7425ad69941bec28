"""The webhook egress policy end to end: a real server refuses http(s) subscriptions (and test
notifications) to loopback, link-local, metadata, unspecified, multicast and broadcast
addresses — however the host is spelled — with SNS's InvalidParameter, and refuses again at
delivery, after its own DNS lookup, before connecting.

Nothing here leaves 127.0.0.0/8: every refused address is refused before any connection (that
is what is tested), and the only receivers are listeners on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import clean_env, stratus_bin, wait_for
from notify_support import Webhook, http_get

# (endpoint, words the refusal must contain). Every host here is an IP literal or `localhost`
# (from /etc/hosts), so even the Subscribe-time check sends nothing anywhere.
FORBIDDEN = [
    ("http://127.0.0.1:{port}/hook", "127.0.0.1 is a loopback address"),
    ("http://127.0.0.2/hook", "127.0.0.2 is a loopback address"),
    ("http://[::1]:{port}/hook", "::1 is a loopback address"),
    ("http://localhost:{port}/hook", "localhost resolves to"),
    ("http://2130706433:{port}/hook", "127.0.0.1 is a loopback address"),
    ("http://0x7f000001:{port}/hook", "127.0.0.1 is a loopback address"),
    ("http://0177.0.0.1:{port}/hook", "127.0.0.1 is a loopback address"),
    ("http://127.1:{port}/hook", "127.0.0.1 is a loopback address"),
    ("http://[::ffff:127.0.0.1]:{port}/hook", "a loopback address"),
    ("http://0.0.0.0:{port}/hook", "0.0.0.0 is an unspecified address"),
    ("http://0/hook", "0.0.0.0 is an unspecified address"),
    ("http://[::]/hook", ":: is an unspecified address"),
    ("http://169.254.169.254/latest/meta-data/", "the cloud instance metadata address"),
    ("http://2852039166/latest/meta-data/", "the cloud instance metadata address"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "the cloud instance metadata address"),
    ("http://[::ffff:169.254.169.254]/", "the cloud instance metadata address"),
    ("http://169.254.10.1/hook", "a link-local address"),
    ("https://[fe80::1]/hook", "a link-local address"),
    ("http://224.0.0.1/hook", "a multicast address"),
    ("http://255.255.255.255/hook", "the broadcast address"),
]


@pytest.fixture
def hook():
    h = Webhook()
    yield h
    h.close()


def topic(sns) -> str:
    return sns.create_topic(Name=f"egress-{uuid.uuid4().hex[:10]}")["TopicArn"]


def refused(sns, arn: str, endpoint: str) -> str:
    protocol = endpoint.split(":", 1)[0]
    with pytest.raises(ClientError) as e:
        sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
    err = e.value.response["Error"]
    assert err["Code"] == "InvalidParameter", err
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return err["Message"]


def test_subscribe_refuses_every_forbidden_address_class(make_server, hook):
    server = make_server(webhook_allow=())  # the default policy
    sns = server.client("sns")
    arn = topic(sns)
    for template, words in FORBIDDEN:
        endpoint = template.format(port=hook.port)
        message = refused(sns, arn, endpoint)
        assert message.startswith("Invalid parameter: Endpoint Reason: "), (endpoint, message)
        assert words in message and "webhook deliveries may not reach" in message, (endpoint, message)
    # Nothing was stored, nothing was sent.
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []
    time.sleep(1)
    assert hook.requests == []


def test_allowed_loopback_still_refuses_the_server_itself_and_metadata(make_server):
    server = make_server(webhook_allow=("127.0.0.0/8", "169.254.0.0/16"))
    sns = server.client("sns")
    arn = topic(sns)
    message = refused(sns, arn, f"http://127.0.0.1:{server.port}/?Action=Unsubscribe")
    assert "127.0.0.1 is this server's own address" in message, message
    message = refused(sns, arn, "http://169.254.169.254/latest/meta-data/")
    assert "metadata" in message, message
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_deny_private_refuses_private_ranges(make_server, tmp_path):
    config = tmp_path / "deny-private.toml"
    config.write_text('[notify]\ndeny_private = true\nwebhook_allow = ["10.1.0.0/16"]\n')
    server = make_server(env={"STRATUS_CONFIG": str(config)})
    sns = server.client("sns")
    arn = topic(sns)
    for endpoint in ["http://10.0.0.1/hook", "http://172.16.5.4/hook", "http://192.168.1.1/hook",
                     "https://[fd12::1]/hook"]:
        assert "a private address" in refused(sns, arn, endpoint), endpoint
    assert sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"] == []


def test_test_notifications_are_refused_too(make_server):
    server = make_server(webhook_allow=())
    cp = server.stratus_cli("mail", "test", "--url", "http://169.254.169.254/latest/meta-data/", check=False)
    assert cp.returncode != 0
    assert "InvalidParameterValue" in cp.stderr and "the cloud instance metadata address" in cp.stderr, cp.stderr
    deliveries = json.loads(server.stratus_cli("mail", "deliveries", "--json").stdout)["Deliveries"]
    assert deliveries == []


def test_delivery_checks_again_after_its_own_lookup(make_server, hook, tmp_path):
    """A subscription accepted while its address was allowed: once the policy no longer allows
    what the name resolves to, the delivery is refused before connecting — recorded for the
    admin, not retried, and nothing reaches the receiver."""
    server = make_server()  # 127.0.0.1 allowed
    sns = server.client("sns")
    arn = topic(sns)
    endpoint = f"http://localhost:{hook.port}/rebind"
    sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=endpoint, ReturnSubscriptionArn=True)
    (_, _, body), = hook.wait_for("/rebind", "SubscriptionConfirmation")
    status, _, _ = http_get(json.loads(body)["SubscribeURL"])
    assert status == 200

    server.webhook_allow = ()  # the default policy from now on
    server.restart()
    sns = server.client("sns")
    message_id = sns.publish(TopicArn=arn, Message="after the policy changed")["MessageId"]

    def given_up():
        out = json.loads(server.stratus_cli("mail", "deliveries", "--json").stdout)["Deliveries"]
        return next((d for d in out if d["MessageId"] == message_id and d["Status"] == "GaveUp"), None)

    d = wait_for(given_up, 30, what="the refused delivery recorded")
    assert d["SubscriptionArn"] == sub["SubscriptionArn"]
    assert d["Attempts"] == 1, d
    assert "refused by the webhook egress policy" in d["LastError"], d
    assert "localhost resolves to" in d["LastError"] and "loopback" in d["LastError"], d
    assert "refused by the webhook egress policy" in server.log_tail(200)
    time.sleep(1)
    assert hook.at("/rebind", "Notification") == []
    # The error is the admin's: a non-admin key cannot read the outbox.
    out = server.stratus_cli("keys", "create", "--name", "ro", "--policy", "readonly", "--output", "json")
    key = json.loads(out.stdout)
    creds = tmp_path / "ro-credentials"
    creds.write_text(
        f"[stratus]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
    )
    cp = subprocess.run(
        [str(stratus_bin()), "mail", "deliveries", "--json", "--endpoint", server.endpoint,
         "--credentials-file", str(creds)],
        capture_output=True, text=True, timeout=30, env=clean_env(),
    )
    assert cp.returncode != 0 and "AccessDenied" in cp.stderr, cp.stderr
    assert "localhost" not in cp.stdout + cp.stderr
