"""The issue's story alarm through the AWS CLI (v1, awsJson1_0):
`aws cloudwatch put-metric-alarm --alarm-name disk-root-50 ... --alarm-actions <topic-arn>`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import clean_env

TOPIC = "arn:aws:sns:us-east-1:123456789012:alerts"

AWS = Path(sys.executable).parent / "aws"


def aws(server, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(AWS_SHARED_CREDENTIALS_FILE=str(server.credentials_file),
                    AWS_CONFIG_FILE=str(server.config_file), AWS_MAX_ATTEMPTS="1")
    cmd = [str(AWS), "--endpoint-url", server.endpoint, "--profile", "stratus", "cloudwatch", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_aws_cli_story_alarm(server):
    cp = aws(server, "put-metric-alarm", "--alarm-name", "disk-root-50",
             "--alarm-description", "root volume over 50%",
             "--metric-name", "disk_used_percent", "--namespace", "CWAgent", "--statistic", "Average",
             "--dimensions", "Name=path,Value=/", "Name=InstanceId,Value=i-0123456789abcdef0",
             "--period", "3600", "--evaluation-periods", "1", "--threshold", "50",
             "--comparison-operator", "GreaterThanOrEqualToThreshold", "--alarm-actions", TOPIC,
             "--ok-actions", TOPIC)
    assert cp.returncode == 0, cp.stderr
    cp = aws(server, "describe-alarms", "--alarm-names", "disk-root-50")
    assert cp.returncode == 0, cp.stderr
    [a] = json.loads(cp.stdout)["MetricAlarms"]
    assert a["AlarmName"] == "disk-root-50" and a["StateValue"] == "INSUFFICIENT_DATA"
    assert a["AlarmActions"] == [TOPIC] and a["OKActions"] == [TOPIC]
    assert a["Threshold"] == 50.0 and a["Period"] == 3600
    cp = aws(server, "put-metric-alarm", "--alarm-name", "disk-root-50", "--metric-name", "m", "--namespace", "CWAgent",
             "--statistic", "Average", "--period", "45", "--evaluation-periods", "1", "--threshold", "50",
             "--comparison-operator", "GreaterThanOrEqualToThreshold")
    assert cp.returncode != 0 and "InvalidParameterValue" in cp.stderr, cp.stderr
    cp = aws(server, "delete-alarms", "--alarm-names", "disk-root-50")
    assert cp.returncode == 0, cp.stderr
