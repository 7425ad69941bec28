"""Key policies over the Logs API: the built-in `agent` policy allows what
CloudWatchAgentServerPolicy allows for logs (create groups and streams, put
events, describe streams, set retention) and nothing that reads events; a
`readonly` key reads and cannot write; a signature for another service is
refused in Logs' own envelope."""

import time
import uuid

import pytest

from conftest import create_agent_key


def now_ms() -> int:
    return int(time.time() * 1000)


def denied(excinfo) -> tuple[str, int]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def agent_logs(server, tmp_path_factory):
    kid, secret = create_agent_key(server, tmp_path_factory.mktemp("agentkey") / "credentials", "logs-agent")
    return server.client("logs", key=kid, secret=secret)


def test_agent_key_writes_logs_but_reads_nothing(server, agent_logs):
    group, stream = f"agent-{uuid.uuid4().hex[:8]}", "host-1"
    agent_logs.create_log_group(logGroupName=group)
    agent_logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    agent_logs.create_log_stream(logGroupName=group, logStreamName=stream)
    names = [s["logStreamName"] for s in agent_logs.describe_log_streams(logGroupName=group)["logStreams"]]
    assert names == [stream]
    resp = agent_logs.put_log_events(logGroupName=group, logStreamName=stream,
                                     logEvents=[{"timestamp": now_ms(), "message": "hello from the agent"}])
    assert "rejectedLogEventsInfo" not in resp
    for call in (
        lambda: agent_logs.get_log_events(logGroupName=group, logStreamName=stream),
        lambda: agent_logs.filter_log_events(logGroupName=group),
        lambda: agent_logs.describe_log_groups(),
        lambda: agent_logs.delete_log_group(logGroupName=group),
        lambda: agent_logs.put_metric_filter(logGroupName=group, filterName="f", filterPattern="x",
                                             metricTransformations=[{"metricName": "m", "metricNamespace": "n",
                                                                     "metricValue": "1"}]),
        lambda: agent_logs.start_query(logGroupName=group, startTime=0, endTime=int(time.time()),
                                       queryString="fields @message"),
    ):
        with pytest.raises(agent_logs.exceptions.ClientError) as ei:
            call()
        assert denied(ei) == ("AccessDeniedException", 400), ei.value.response
    # The admin sees the agent's line: nothing was refused that should have been stored.
    admin = server.client("logs")
    events = admin.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["hello from the agent"]
    assert admin.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7


def test_readonly_key_reads_and_cannot_write(server):
    out = server.stratus_cli("keys", "create", "--name", "logs-reader", "--policy", "readonly", "--output", "json")
    import json
    key = json.loads(out.stdout)
    reader = server.client("logs", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    admin = server.client("logs")
    group = f"ro-{uuid.uuid4().hex[:8]}"
    admin.create_log_group(logGroupName=group)
    admin.create_log_stream(logGroupName=group, logStreamName="s")
    admin.put_log_events(logGroupName=group, logStreamName="s",
                         logEvents=[{"timestamp": now_ms(), "message": "ERROR readable"}])
    got = reader.filter_log_events(logGroupName=group, filterPattern="ERROR")["events"]
    assert [e["message"] for e in got] == ["ERROR readable"]
    with pytest.raises(reader.exceptions.ClientError) as ei:
        reader.put_log_events(logGroupName=group, logStreamName="s",
                              logEvents=[{"timestamp": now_ms(), "message": "nope"}])
    assert denied(ei) == ("AccessDeniedException", 400)
    with pytest.raises(reader.exceptions.ClientError) as ei:
        reader.create_log_group(logGroupName=group + "-x")
    assert denied(ei) == ("AccessDeniedException", 400)
    assert admin.describe_log_groups(logGroupNamePrefix=group + "-x")["logGroups"] == []


def test_bad_secret_and_wrong_scope_answer_in_logs_envelope(server):
    kid, _ = server.admin_keys()
    bad = server.client("logs", key=kid, secret="not-the-secret")
    with pytest.raises(bad.exceptions.ClientError) as ei:
        bad.describe_log_groups()
    assert denied(ei) == ("InvalidSignatureException", 403)
    unknown = server.client("logs", key="AKIAUNKNOWNKEY000000", secret="x")
    with pytest.raises(unknown.exceptions.ClientError) as ei:
        unknown.describe_log_groups()
    assert denied(ei) == ("UnrecognizedClientException", 403)
