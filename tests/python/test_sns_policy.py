"""SNS topic policies end to end with boto3 against a real `stratus server`:
AddPermission / RemovePermission write the statements AWS writes, the `Policy` attribute is
enforced together with the keys' own policies (a grant lets a key do what its policy does
not, an explicit Deny refuses even the admin key), data protection policies are stored and
survive a restart, and a subscription confirmed with AuthenticateOnUnsubscribe cannot be
removed by the unsigned links SNS hands out.

Second keys are real keys made with `stratus keys create` (built-in `agent` / `readonly`
policies). SNS speaks awsQuery in both venvs."""

from __future__ import annotations

import json
import urllib.parse
import uuid

import botocore.exceptions
import pytest

from notify_support import Webhook, http_get

ACCOUNT = "123456789012"


def uniq(prefix: str = "pol") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(excinfo) -> tuple[str, str, int]:
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def sns(server):
    return server.client("sns")


@pytest.fixture(scope="module")
def hook():
    h = Webhook()
    yield h
    h.close()


def make_key(server, policy: str):
    """A new key with a built-in policy: (its name, an SNS client signing with it)."""
    name = uniq(policy)
    out = server.stratus_cli("keys", "create", "--name", name, "--policy", policy, "--output", "json")
    k = json.loads(out.stdout)
    return name, server.client("sns", key=k["AccessKeyId"], secret=k["SecretAccessKey"])


def policy_of(sns, arn: str) -> dict:
    return json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])


def statement(sid: str, effect: str, principal, action, resource: str, condition=None) -> dict:
    s = {"Sid": sid, "Effect": effect, "Principal": principal, "Action": action, "Resource": resource}
    if condition:
        s["Condition"] = condition
    return s


def set_policy(sns, arn: str, *statements: dict) -> None:
    doc = {"Version": "2012-10-17", "Statement": list(statements)}
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=json.dumps(doc))


# ---- AddPermission / RemovePermission --------------------------------------------------------


def test_add_and_remove_permission_edit_the_policy_as_aws_does(sns):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    default = policy_of(sns, arn)
    assert [s["Sid"] for s in default["Statement"]] == ["__default_statement_ID"]
    # AWS's key order, as its recordings show the default policy.
    raw = sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"]
    assert raw.startswith('{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":'), raw

    sns.add_permission(TopicArn=arn, Label="one", AWSAccountId=["111111111111"], ActionName=["Publish"])
    doc = policy_of(sns, arn)
    assert doc["Statement"][0] == default["Statement"][0]
    assert doc["Statement"][1] == {
        "Sid": "one", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
        "Action": "SNS:Publish", "Resource": arn,
    }
    sns.add_permission(TopicArn=arn, Label="two", AWSAccountId=["111111111111", "222222222222"],
                       ActionName=["Publish", "Subscribe"])
    assert policy_of(sns, arn)["Statement"][2] == {
        "Sid": "two", "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::111111111111:root", "arn:aws:iam::222222222222:root"]},
        "Action": ["SNS:Publish", "SNS:Subscribe"], "Resource": arn,
    }

    before = policy_of(sns, arn)
    for kwargs, wanted in [
        (dict(TopicArn=arn, Label="one", AWSAccountId=["333333333333"], ActionName=["GetTopicAttributes"]),
         ("InvalidParameter", "Invalid parameter: Statement already exists", 400)),
        (dict(TopicArn=arn, Label="three", AWSAccountId=["333333333333"], ActionName=["NotAnAction"]),
         ("InvalidParameter", "Invalid parameter: Policy statement action out of service scope!", 400)),
        (dict(TopicArn=arn + "-nope", Label="three", AWSAccountId=["333333333333"], ActionName=["Publish"]),
         ("NotFound", "Topic does not exist", 404)),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            sns.add_permission(**kwargs)
        assert error_of(ei) == wanted, kwargs
    assert policy_of(sns, arn) == before

    # Removing a label nobody added succeeds and changes nothing (AWS).
    sns.remove_permission(TopicArn=arn, Label="never-added")
    assert policy_of(sns, arn) == before
    sns.remove_permission(TopicArn=arn, Label="one")
    assert [s["Sid"] for s in policy_of(sns, arn)["Statement"]] == ["__default_statement_ID", "two"]
    sns.remove_permission(TopicArn=arn, Label="two")
    assert policy_of(sns, arn) == default
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.remove_permission(TopicArn=arn + "-nope", Label="two")
    assert error_of(ei) == ("NotFound", "Topic does not exist", 404)


def test_add_permission_needs_its_parameters(server):
    sns = server.client("sns", parameter_validation=False)
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    for kwargs, missing in [
        (dict(TopicArn=arn, AWSAccountId=["111111111111"], ActionName=["Publish"]), "Label"),
        (dict(TopicArn=arn, Label="x", ActionName=["Publish"]), "AWSAccountId"),
        (dict(TopicArn=arn, Label="x", AWSAccountId=["111111111111"]), "ActionName"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            sns.add_permission(**kwargs)
        assert error_of(ei) == (
            "InvalidParameter", f"Invalid parameter: {missing} Reason: no value for required parameter", 400)
    assert len(policy_of(sns, arn)["Statement"]) == 1


# ---- enforcement -----------------------------------------------------------------------------


def test_topic_policy_grants_what_a_key_policy_does_not(server, sns):
    agent_name, agent = make_key(server, "agent")
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    other = sns.create_topic(Name=uniq())["TopicArn"]
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        agent.publish(TopicArn=arn, Message="m")
    code, message, status = error_of(ei)
    assert (code, status) == ("AuthorizationError", 403)
    assert message == (f"User: arn:aws:iam::{ACCOUNT}:user/{agent_name} is not authorized to perform: "
                       f"sns:Publish on resource: {arn} because no identity-based policy allows the "
                       "sns:Publish action")

    # A statement naming this key (case-insensitive action) lets it publish here only.
    set_policy(sns, arn, statement("agent-publishes", "Allow", {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{agent_name}"},
                                   "sns:publish", arn))
    assert agent.publish(TopicArn=arn, Message="m")["MessageId"]
    assert agent.publish_batch(TopicArn=arn, PublishBatchRequestEntries=[
        {"Id": "a", "Message": "m"}])["Successful"][0]["Id"] == "a"
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        agent.publish(TopicArn=other, Message="m")
    assert error_of(ei)[0] == "AuthorizationError"
    # ...and nothing else the statement does not name.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        agent.get_topic_attributes(TopicArn=arn)
    assert error_of(ei)[0] == "AuthorizationError"

    # AddPermission for the account names every key of it.
    ro_name, ro = make_key(server, "readonly")
    with pytest.raises(botocore.exceptions.ClientError):
        ro.publish(TopicArn=other, Message="m")
    sns.add_permission(TopicArn=other, Label="account", AWSAccountId=[ACCOUNT], ActionName=["Publish"])
    assert ro.publish(TopicArn=other, Message="m")["MessageId"]
    assert agent.publish(TopicArn=other, Message="m")["MessageId"]
    sns.remove_permission(TopicArn=other, Label="account")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ro.publish(TopicArn=other, Message="m")
    assert error_of(ei)[0] == "AuthorizationError"
    # Nor may a read-only key edit the policy that would let it in.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ro.add_permission(TopicArn=other, Label="me", AWSAccountId=[ACCOUNT], ActionName=["Publish"])
    assert error_of(ei)[0] == "AuthorizationError"
    assert len(policy_of(sns, other)["Statement"]) == 1


def test_explicit_deny_wins_over_every_allow(server, sns):
    ro_name, ro = make_key(server, "readonly")
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    set_policy(
        sns, arn,
        statement("allow-all", "Allow", "*", "sns:*", arn),
        statement("no-publish", "Deny", {"AWS": "*"}, "SNS:Publish", arn),
        statement("ro-cannot-read", "Deny", {"AWS": ACCOUNT}, "SNS:Get*", "*",
                  {"StringEquals": {"aws:username": ro_name}}),
    )
    # The admin key's own policy allows Publish; the topic's Deny refuses it.
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.publish(TopicArn=arn, Message="m")
    assert error_of(ei) == (
        "AuthorizationError",
        f"User: arn:aws:iam::{ACCOUNT}:user/admin is not authorized to perform: SNS:Publish on resource: "
        f"{arn} with an explicit deny in a resource-based policy", 403)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ro.get_topic_attributes(TopicArn=arn)
    code, message, _ = error_of(ei)
    assert code == "AuthorizationError" and f"user/{ro_name} " in message and "explicit deny" in message
    # The condition names only that key: the admin still reads; Allow sns:* lets the
    # read-only key do what its own policy does not (Subscribe).
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["TopicArn"] == arn
    assert ro.subscribe(TopicArn=arn, Protocol="email", Endpoint="ro@example.com")["SubscriptionArn"]
    # Resetting the policy (empty value) brings back the default: the admin publishes again.
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue="")
    assert policy_of(sns, arn)["Id"] == "__default_policy_ID"
    assert sns.publish(TopicArn=arn, Message="m")["MessageId"]
    with pytest.raises(botocore.exceptions.ClientError):
        ro.subscribe(TopicArn=arn, Protocol="email", Endpoint="ro2@example.com")


def test_policies_stratus_cannot_enforce_are_refused(sns):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    before = policy_of(sns, arn)
    cases = [
        (statement("ip", "Allow", "*", "sns:Publish", arn, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}),
         "Invalid parameter: Policy Error: Condition operator IpAddress is not supported by Stratus"),
        (statement("vpc", "Allow", "*", "sns:Publish", arn, {"StringEquals": {"aws:SourceVpc": "vpc-1"}}),
         "Invalid parameter: Policy Error: Condition key aws:SourceVpc is not supported by Stratus"),
        (statement("s3", "Allow", "*", "s3:GetObject", arn),
         "Invalid parameter: Policy statement action out of service scope!"),
        (statement("maybe", "Perhaps", "*", "sns:Publish", arn),
         "Invalid parameter: Policy Error: Invalid effect: Perhaps"),
    ]
    for st, wanted in cases:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            set_policy(sns, arn, st)
        assert error_of(ei) == ("InvalidParameter", wanted, 400), st
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue="{not json")
    assert error_of(ei)[0] == "InvalidParameter"
    assert policy_of(sns, arn) == before
    # The conditions Stratus does evaluate are accepted, at creation too.
    ok = {"Version": "2012-10-17", "Statement": [statement(
        "from-alarms", "Allow", {"Service": "cloudwatch.amazonaws.com"}, "sns:Publish", "*",
        {"ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:*"},
         "StringEquals": {"aws:SourceAccount": ACCOUNT}})]}
    name = uniq()
    created = sns.create_topic(Name=name, Attributes={"Policy": json.dumps(ok)})["TopicArn"]
    assert policy_of(sns, created) == ok
    bad = {"Statement": [cases[0][0]]}
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.create_topic(Name=uniq(), Attributes={"Policy": json.dumps(bad)})
    assert error_of(ei) == ("InvalidParameter", cases[0][1], 400)


# ---- data protection policies ----------------------------------------------------------------

DPP = {
    "Name": "data_protection_policy",
    "Description": "Test Policy",
    "Version": "2021-06-01",
    "Statement": [{
        "Sid": "test-statement", "DataDirection": "Inbound", "Principal": ["*"],
        "DataIdentifier": ["arn:aws:dataprotection::aws:data-identifier/EmailAddress"],
        "Operation": {"Deny": {}},
    }],
}


def test_data_protection_policy_round_trip_and_restart(make_server):
    s = make_server()
    sns = s.client("sns")
    arn = sns.create_topic(Name="dpp")["TopicArn"]
    assert sns.get_data_protection_policy(ResourceArn=arn).get("DataProtectionPolicy", "") == ""
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy=json.dumps(DPP))
    assert json.loads(sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"]) == DPP
    # Not a topic attribute (AWS's GetTopicAttributes does not list it).
    assert "DataProtectionPolicy" not in sns.get_topic_attributes(TopicArn=arn)["Attributes"]

    for kwargs, code, status in [
        (dict(ResourceArn=arn, DataProtectionPolicy="{not json"), "InvalidParameter", 400),
        (dict(ResourceArn=arn, DataProtectionPolicy="[1]"), "InvalidParameter", 400),
        (dict(ResourceArn=arn + "-nope", DataProtectionPolicy=json.dumps(DPP)), "NotFound", 404),
        (dict(ResourceArn="not-an-arn", DataProtectionPolicy=json.dumps(DPP)), "InvalidParameter", 400),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as ei:
            sns.put_data_protection_policy(**kwargs)
        assert (error_of(ei)[0], error_of(ei)[2]) == (code, status), kwargs
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.get_data_protection_policy(ResourceArn=arn + "-nope")
    assert error_of(ei) == ("NotFound", "Topic does not exist", 404)
    assert json.loads(sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"]) == DPP

    # CreateTopic's DataProtectionPolicy is the same policy.
    created = sns.create_topic(Name="dpp-created", DataProtectionPolicy=json.dumps(DPP))["TopicArn"]
    assert json.loads(sns.get_data_protection_policy(ResourceArn=created)["DataProtectionPolicy"]) == DPP

    # A read-only key reads it and cannot change it.
    _, ro = make_key(s, "readonly")
    assert json.loads(ro.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"]) == DPP
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ro.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy="{}")
    assert error_of(ei)[0] == "AuthorizationError"

    s.restart(kill=True)
    sns = s.client("sns")
    assert json.loads(sns.get_data_protection_policy(ResourceArn=arn)["DataProtectionPolicy"]) == DPP
    assert json.loads(sns.get_data_protection_policy(ResourceArn=created)["DataProtectionPolicy"]) == DPP
    # An empty policy removes it.
    sns.put_data_protection_policy(ResourceArn=arn, DataProtectionPolicy="")
    assert sns.get_data_protection_policy(ResourceArn=arn).get("DataProtectionPolicy", "") == ""


# ---- AuthenticateOnUnsubscribe ---------------------------------------------------------------


def test_authenticate_on_unsubscribe_refuses_the_unsigned_links(server, sns, hook):
    arn = sns.create_topic(Name=uniq())["TopicArn"]
    path = f"/{uniq('auth')}"
    sub = sns.subscribe(TopicArn=arn, Protocol="http", Endpoint=hook.url(path),
                        ReturnSubscriptionArn=True)["SubscriptionArn"]
    ((_, _, body),) = hook.wait_for(path, "SubscriptionConfirmation")
    conf = json.loads(body)
    # The unsigned SubscribeURL cannot ask for AuthenticateOnUnsubscribe.
    status, xml, _ = http_get(conf["SubscribeURL"] + "&AuthenticateOnUnsubscribe=true")
    assert status == 403 and "<Code>AuthorizationError</Code>" in xml, xml
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["PendingConfirmation"] == "true"
    assert sns.confirm_subscription(TopicArn=arn, Token=conf["Token"],
                                    AuthenticateOnUnsubscribe="true")["SubscriptionArn"] == sub
    attrs = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert (attrs["PendingConfirmation"], attrs["ConfirmationWasAuthenticated"]) == ("false", "true")
    # Clicking the SubscribeURL again does not undo it.
    assert http_get(conf["SubscribeURL"])[0] == 200
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["ConfirmationWasAuthenticated"] == "true"

    sns.publish(TopicArn=arn, Message="hello")
    ((_, _, nbody),) = hook.wait_for(path, "Notification")
    unsubscribe_url = json.loads(nbody)["UnsubscribeURL"]
    status, xml, _ = http_get(unsubscribe_url)
    assert status == 403 and "<Code>AuthorizationError</Code>" in xml, xml
    q = urllib.parse.urlencode({"SubscriptionArn": sub})
    status, page, _ = http_get(f"{server.endpoint}/unsubscribe.html?{q}")
    assert status == 403 and "Subscription not removed" in page, page
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["SubscriptionArn"] == sub
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]] == [sub]

    # A signed Unsubscribe needs a key allowed to unsubscribe...
    _, ro = make_key(server, "readonly")
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        ro.unsubscribe(SubscriptionArn=sub)
    assert error_of(ei)[0] == "AuthorizationError"
    assert sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]["SubscriptionArn"] == sub
    # ...and then removes it.
    sns.unsubscribe(SubscriptionArn=sub)
    with pytest.raises(botocore.exceptions.ClientError) as ei:
        sns.get_subscription_attributes(SubscriptionArn=sub)
    assert error_of(ei) == ("NotFound", "Subscription does not exist", 404)
