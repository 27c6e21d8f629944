"""Alert jobs, dashboards, resources and resource records through the SDK's own parsers."""

from __future__ import annotations

import pytest
from aliyun.log import LogException
from aliyun.log.resource_params import Resource, ResourceRecord

PROJECT = "k8s-log-test"
ALERT = {"name": "ack-audit-podexec", "displayName": "Enter container", "type": "Alert", "state": "Enabled",
         "configuration": {"version": "2.0", "queryList": [{"query": "kind: Kubernetes", "store": "audit"}]},
         "schedule": {"type": "FixedRate", "interval": "1m"}}


def _code(call) -> tuple[str, int]:
    with pytest.raises(LogException) as err:
        call()
    return err.value.get_error_code(), err.value.resp_status


@pytest.fixture
def project(sls_client):
    sls_client.create_project(PROJECT, "")
    return PROJECT


def test_alert_lifecycle(sls_client, project):
    sls_client.create_alert(project, ALERT)
    assert _code(lambda: sls_client.create_alert(project, ALERT)) == ("JobAlreadyExist", 400)
    assert sls_client.get_alert(project, ALERT["name"]).get_entity()["displayName"] == "Enter container"
    listed = sls_client.list_alert(project)
    assert [a["name"] for a in listed.get_alerts()] == [ALERT["name"]] and listed.get_total() == 1
    sls_client.disable_alert(project, ALERT["name"])
    assert sls_client.get_alert(project, ALERT["name"]).get_entity()["status"] == "DISABLED"
    sls_client.enable_alert(project, ALERT["name"])
    sls_client.update_alert(project, {**ALERT, "displayName": "Entered"})
    got = sls_client.get_alert(project, ALERT["name"]).get_entity()
    assert (got["displayName"], got["status"]) == ("Entered", "ENABLED")
    sls_client.delete_alert(project, ALERT["name"])
    assert _code(lambda: sls_client.get_alert(project, ALERT["name"])) == ("JobNotExist", 404)


@pytest.mark.parametrize("broken", [{"type": "ETL"}, {"name": ""}, {"schedule": None}])
def test_alert_validation(sls_client, project, broken):
    assert _code(lambda: sls_client.create_alert(project, {**ALERT, **broken})) == ("ParameterInvalid", 400)


def test_dashboard_lifecycle(sls_client, project):
    board = {"dashboardName": "ack-audit", "displayName": "Audit", "charts": []}
    sls_client.create_dashboard(project, board)
    assert _code(lambda: sls_client.create_dashboard(project, board)) == ("DashboardAlreadyExist", 400)
    assert sls_client.list_dashboard(project).get_dashboards() == ["ack-audit"]
    sls_client.update_dashboard(project, {**board, "displayName": "Audit 2"})
    assert sls_client.get_dashboard(project, "ack-audit").get_entity()["displayName"] == "Audit 2"
    sls_client.delete_dashboard(project, "ack-audit")
    assert _code(lambda: sls_client.get_dashboard(project, "ack-audit")) == ("DashboardNotExist", 404)


def test_builtin_resources_exist_under_both_webhook_names(sls_client):
    names = {r.get_resource_name() for r in sls_client.list_resources(size=100).get_resources()}
    assert {"sls.alert.action_webhook", "sls.alert.webhook_application", "sls.alert.action_policy",
            "sls.alert.content_template", "sls.common.user"} <= names
    assert sls_client.get_resource("sls.alert.action_policy").get_resource().get_resource_type() == "system"


def test_resource_records(sls_client, sandbox):
    webhook = {"id": "dingtalk", "name": "DingTalk", "type": "dingtalk", "method": "POST", "headers": [],
               "url": "https://oapi.dingtalk.com/robot/send?access_token=x"}
    name = "sls.alert.action_webhook"
    sls_client.create_resource_record(name, ResourceRecord(record_id="dingtalk", tag="DingTalk", value=webhook))
    assert _code(lambda: sls_client.create_resource_record(
        name, ResourceRecord(record_id="dingtalk", tag="x", value=webhook))) == ("ResourceRecordAlreadyExist", 400)
    sls_client.upsert_resource_record(name, [ResourceRecord(record_id="dingtalk", tag="Ding", value=webhook),
                                             ResourceRecord(record_id="slack", tag="Slack", value={"id": "slack"})])
    got = sls_client.get_resource_record(name, "dingtalk").get_record()
    assert (got.get_tag(), got.get_value()) == ("Ding", webhook)
    listed = sls_client.list_resource_records(name, tag="Slack")
    assert [r.get_record_id() for r in listed.get_records()] == ["slack"] and listed.get_total() == 1
    sls_client.update_resource_record(name, ResourceRecord(record_id="slack", value={"id": "slack", "x": 1}))
    assert sls_client.get_resource_record(name, "slack").get_record().get_tag() == "Slack"
    sls_client.delete_resource_record(name, ["slack", "dingtalk"])
    assert sls_client.list_resource_records(name).get_total() == 0
    assert _code(lambda: sls_client.get_resource_record(name, "slack")) == ("ResourceRecordNotExist", 404)
    # Resource records are account-level: they went to the bare endpoint, without a project.
    assert {r["project"] for r in sandbox.recent_requests() if r["path"].startswith("/resources")} == {None}


@pytest.mark.parametrize("resource, record_id, value, says", [
    ("sls.common.user", "alex", {"user_id": "bob", "user_name": "Alex"}, "user_id must be the record id"),
    ("sls.common.user", "alex", {"user_id": "alex", "email": "alex@example.org"}, "email must be a list"),
    ("sls.common.user", "alex", {"user_id": "alex", "email": [""]}, "list of non-empty strings"),
    ("sls.common.user", "alex", {"user_id": "alex", "sms_enabled": "yes"}, "sms_enabled must be a bool"),
    ("sls.common.user_group", "ops", {"user_group_id": "ops", "members": "alex"}, "members must be a list"),
    ("sls.common.user_group", "ops", {"user_group_name": "Ops"}, "user_group_id must be the record id"),
])
def test_users_and_groups_have_the_documented_shape(sls_client, resource, record_id, value, says):
    with pytest.raises(LogException) as refused:
        sls_client.upsert_resource_record(resource, [ResourceRecord(record_id=record_id, tag=record_id, value=value)])
    assert refused.value.get_error_code() == "ParameterInvalid" and says in refused.value.get_error_message()
    user = {"user_id": "alex", "user_name": "Alex", "email": ["alex@example.org"], "country_code": "86",
            "phone": "13300000000", "enabled": True, "sms_enabled": True, "voice_enabled": False}
    sls_client.create_resource_record("sls.common.user", ResourceRecord(record_id="alex", tag="Alex", value=user))
    assert sls_client.get_resource_record("sls.common.user", "alex").get_record().get_value() == user


def test_custom_resources(sls_client):
    custom = Resource(resource_name="ackaudit.test", resource_type="userdefine", description="d")
    sls_client.create_resource(custom)
    assert _code(lambda: sls_client.create_resource(custom)) == ("ResourceAlreadyExist", 400)
    sls_client.update_resource(Resource(resource_name="ackaudit.test", description="changed"))
    assert sls_client.get_resource("ackaudit.test").get_resource().get_description() == "changed"
    sls_client.delete_resource("ackaudit.test")
    assert _code(lambda: sls_client.get_resource("ackaudit.test")) == ("ResourceNotExist", 404)
    assert _code(lambda: sls_client.delete_resource("sls.common.user"))[1] == 400
