"""CloudWatch dashboards with boto3: put/get/list/delete, body validation,
name rules, all-or-nothing deletes and tags on dashboard ARNs."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

BODY = json.dumps({"widgets": [{"type": "metric", "x": 0, "y": 0, "width": 12, "height": 6,
                                "properties": {"metrics": [["CWAgent", "disk_used_percent"]], "period": 300,
                                               "region": "us-east-1"}}]})


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as ei:
        call(**kwargs)
    e = ei.value.response
    return e["Error"]["Code"], e["Error"].get("Message", ""), e["ResponseMetadata"]["HTTPStatusCode"]


def test_dashboard_lifecycle(cw, ns):
    name = f"dash-{ns[-8:]}"
    out = cw.put_dashboard(DashboardName=name, DashboardBody=BODY)
    assert out["DashboardValidationMessages"] == []
    got = cw.get_dashboard(DashboardName=name)
    assert got["DashboardBody"] == BODY and got["DashboardName"] == name
    assert got["DashboardArn"] == f"arn:aws:cloudwatch::123456789012:dashboard/{name}"
    entries = cw.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
    assert [(e["DashboardName"], e["Size"]) for e in entries] == [(name, len(BODY))]
    # Update replaces the body.
    body2 = json.dumps({"widgets": [{"type": "text", "properties": {"markdown": "# hi"}}]})
    cw.put_dashboard(DashboardName=name, DashboardBody=body2)
    assert cw.get_dashboard(DashboardName=name)["DashboardBody"] == body2
    # Tags on the dashboard ARN.
    arn = got["DashboardArn"]
    cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "team", "Value": "ops"}])
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "ops"}]
    # Delete is all or nothing.
    code, msg, status = error_of(cw.delete_dashboards, DashboardNames=[name, f"{name}-missing"])
    assert (code, status) == ("ResourceNotFound", 404) and f"{name}-missing" in msg
    assert cw.get_dashboard(DashboardName=name)["DashboardName"] == name
    cw.delete_dashboards(DashboardNames=[name])
    assert error_of(cw.get_dashboard, DashboardName=name)[:3:2] == ("ResourceNotFound", 404)
    assert cw.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"] == []
    assert cw.list_tags_for_resource(ResourceARN=arn)["Tags"] == []


@pytest.mark.parametrize("body", [
    "not json",
    "[]",
    "{}",
    '{"widgets": {}}',
    '{"widgets": [{"type": "pie", "properties": {}}]}',
    '{"widgets": [{"type": "metric"}]}',
    '{"widgets": [{"type": "metric", "properties": {}, "width": 25}]}',
])
def test_invalid_bodies(cw, ns, body):
    name = f"bad-{ns[-8:]}"
    code, msg, status = error_of(cw.put_dashboard, DashboardName=name, DashboardBody=body)
    assert (code, status) == ("InvalidParameterInput", 400), msg
    assert error_of(cw.get_dashboard, DashboardName=name)[0] == "ResourceNotFound"


def test_invalid_name(cw):
    code, msg, _ = error_of(cw.put_dashboard, DashboardName="has space", DashboardBody=BODY)
    assert code == "InvalidParameterValue"
    assert msg.startswith("The value for field DashboardName contains invalid characters. It can only contain "
                          "alphanumerics, dash (-) and underscore (_).")
