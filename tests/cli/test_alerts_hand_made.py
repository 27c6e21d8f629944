"""Objects made by hand with the guide's ids: setup and remove never take them over or delete them
without saying so (--adopt). The hand-made objects are created through the real SDK first, as a
user following the guide in the console would have them."""

import pytest
from alert_state import jobs, records
from aliyun.log.resource_params import ResourceRecord
from conftest import AUDITED_CLUSTER_ID

from ackaudit.sandbox.webhooks import register_robot

TOKEN = "h4ndMadeT0ken"
SECRET = "SECh4ndMadeSecret"
PROJECT = f"k8s-log-{AUDITED_CLUSTER_ID}"
EXEC, RISKY = f"ackaudit-{AUDITED_CLUSTER_ID}-exec", f"ackaudit-{AUDITED_CLUSTER_ID}-risky"
WEBHOOK_ID = "ack-container-operation-audit-alert"
ENTER, DANGER = "ack-container-operation-audit-alert-enter", "ack-container-operation-audit-alert-run-danger-cmd"
HOOKS, TEMPLATES, POLICIES = "sls.alert.action_webhook", "sls.alert.content_template", "sls.alert.action_policy"


@pytest.fixture
def dingtalk(sandbox):
    register_robot(sandbox.state, "dingtalk", TOKEN, secret=SECRET)
    return ["--dingtalk-url", f"{sandbox.url}/robot/send?access_token={TOKEN}", "--dingtalk-secret", SECRET,
            "--allow-any-url"]


@pytest.fixture
def slack(sandbox):
    return ["--slack-url", f"{sandbox.url}/services/T0/B0/{TOKEN}", "--allow-any-url"]


def by_hand(sls_client, resource, record_id, value, tag=None):
    sls_client.upsert_resource_record(resource, [ResourceRecord(record_id=record_id, tag=tag or record_id,
                                                                value=value)])


def guide_webhook(sls_client, url="https://oapi.dingtalk.com/robot/send?access_token=theirs0wn"):
    by_hand(sls_client, HOOKS, WEBHOOK_ID, {"id": WEBHOOK_ID, "name": "Kubernetes容器内部操作审计告警",
                                            "type": "dingtalk", "url": url, "method": "POST", "headers": []})


def guide_template(sls_client, template_id=ENTER):
    by_hand(sls_client, TEMPLATES, template_id, {"template_id": template_id, "template_name": "Kubernetes进入容器告警",
                                                 "templates": {"dingtalk": {"locale": "zh-CN", "title": "mine",
                                                                            "content": "my own words"}}})


def test_setup_refuses_the_guides_objects_made_by_hand_and_adopts_them_when_told(cli, sandbox, sls_client, dingtalk):
    guide_webhook(sls_client)
    guide_template(sls_client)
    before = (records(sandbox, HOOKS), records(sandbox, TEMPLATES))

    plan = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    shown = {o["id"]: o for o in plan.json()["objects"]}
    for object_id in (WEBHOOK_ID, ENTER):
        assert shown[object_id]["action"] == "adopt"
        assert shown[object_id]["note"] == "hand-made: would be adopted with --adopt"
    assert shown[DANGER]["action"] == "create" and shown[EXEC]["action"] == "create"
    table = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, *dingtalk)
    assert "hand-made: would be adopted with --adopt" in table.stderr
    assert "2 objects were not made by ackaudit" in table.stderr

    refused = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk)
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[0] == (
        f"error: not made by ackaudit, and in the way: webhook {WEBHOOK_ID}, template {ENTER}; setup takes them "
        "over only with --adopt")
    assert "Traceback" not in refused.stderr and SECRET not in refused.stderr + refused.stdout
    # Nothing was written: not the rules, not the policies, not the other template.
    assert jobs(sandbox) == {} and records(sandbox, POLICIES) == {}
    assert (records(sandbox, HOOKS), records(sandbox, TEMPLATES)) == before

    adopted = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "--adopt", "-o", "json")
    assert adopted.exit_code == 0, adopted.stderr
    states = {o["id"]: o for o in adopted.json()["objects"]}
    assert states[WEBHOOK_ID]["action"] == "adopt" and states[WEBHOOK_ID]["note"] == "hand-made: adopted"
    assert "url" in states[WEBHOOK_ID]["changes"] and "templates.dingtalk.content" in states[ENTER]["changes"]
    assert records(sandbox, HOOKS)[WEBHOOK_ID]["url"] == f"{sandbox.url}/robot/send?access_token={TOKEN}"
    assert "有账号通过 kubectl exec" in records(sandbox, TEMPLATES)[ENTER]["templates"]["dingtalk"]["content"]
    assert set(jobs(sandbox)) == {EXEC, RISKY}
    # ackaudit's mark: the rules' tag and the policies' label (the webhook and templates are
    # ackaudit's now because its policies use them).
    assert all(jobs(sandbox)[n]["configuration"]["tags"] == ["ackaudit"] for n in (EXEC, RISKY))
    assert all(records(sandbox, POLICIES)[n]["labels"] == {"managed_by": "ackaudit"} for n in (EXEC, RISKY))

    again = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert again.exit_code == 0 and not again.json()["changed"], again.stderr
    human = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "--adopt")
    assert human.exit_code == 0 and "unchanged" in human.stderr


def test_the_guides_objects_another_cluster_of_ackaudits_uses_are_not_hand_made(cli, sandbox, dingtalk):
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk).exit_code == 0
    # Another cluster's setup would see the same webhook and templates; here, status and a second
    # setup of this one see them as ackaudit's.
    status = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 0 and all(o["note"] is None for o in status.json()["objects"])


def test_status_names_objects_made_by_hand(cli, sandbox, sls_client, dingtalk):
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk).exit_code == 0
    job = sls_client.get_alert(PROJECT, RISKY).get_entity()
    sls_client.delete_alert(PROJECT, RISKY)
    job["configuration"]["tags"] = []     # recreated by hand, under ackaudit's name
    sls_client.create_alert(PROJECT, {k: v for k, v in job.items() if k not in ("createTime", "lastModifiedTime")})
    status = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID)
    assert status.exit_code == 0
    assert f"{RISKY}: hand-made (not made by ackaudit): `alerts setup --adopt` takes it over" in status.stderr
    refused = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID)
    assert refused.exit_code == 2 and f"alert rule {RISKY}" in refused.stderr


def test_remove_refuses_a_hand_made_object_and_deletes_it_with_adopt(cli, sandbox, sls_client, slack):
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *slack).exit_code == 0
    guide_webhook(sls_client)       # the guide's DingTalk webhook, made by hand, used by nothing
    dry = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--dry-run", "-o", "json")
    assert dry.exit_code == 0, dry.stderr
    shown = {o["id"]: o for o in dry.json()["objects"]}
    assert shown[WEBHOOK_ID]["action"] == "hand-made"
    assert shown[WEBHOOK_ID]["note"] == "hand-made (not made by ackaudit): kept; --adopt deletes it"
    assert shown[f"{WEBHOOK_ID}-slack"]["action"] == "delete"

    refused = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes")
    assert refused.exit_code == 2
    assert refused.stderr.splitlines()[0] == (f"error: not made by ackaudit: webhook {WEBHOOK_ID}; remove deletes "
                                              "them only with --adopt")
    assert set(jobs(sandbox)) == {EXEC, RISKY} and WEBHOOK_ID in records(sandbox, HOOKS)

    run = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes", "--adopt", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert {o["id"]: o["note"] for o in run.json()["objects"]}[WEBHOOK_ID] == "hand-made: deleted with --adopt"
    assert jobs(sandbox) == {} and records(sandbox, HOOKS) == {} and records(sandbox, TEMPLATES) == {}


def test_disable_keeps_objects_made_by_hand_and_says_so(cli, sandbox, sls_client, slack):
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *slack).exit_code == 0
    guide_webhook(sls_client)
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--remove-alerts", "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert f"keeping what ackaudit did not make: webhook {WEBHOOK_ID}" in run.stderr
    assert WEBHOOK_ID not in run.json()["alerts_removed"] and set(records(sandbox, HOOKS)) == {WEBHOOK_ID}


def test_a_webhook_a_setup_stops_using_is_deleted_so_it_never_looks_hand_made(cli, sandbox, dingtalk, slack):
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk).exit_code == 0
    switched = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *slack, "-o", "json")
    assert switched.exit_code == 0, switched.stderr
    dropped = [o for o in switched.json()["objects"] if o["action"] == "delete"]
    assert [(o["kind"], o["id"], o["note"]) for o in dropped] == [
        ("webhook", WEBHOOK_ID, "no longer used by any action policy")]
    assert set(records(sandbox, HOOKS)) == {f"{WEBHOOK_ID}-slack"}
    back = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "-o", "json")
    assert back.exit_code == 0, back.stderr
    assert {o["id"]: o["action"] for o in back.json()["objects"]}[WEBHOOK_ID] == "create"


def test_a_webhook_a_users_own_policy_uses_is_kept_when_a_setup_stops_using_it(cli, sandbox, sls_client, dingtalk,
                                                                               slack):
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk).exit_code == 0
    script = f'fire(type="webhook_integration", integration_type="dingtalk", webhook_id="{WEBHOOK_ID}", ' \
             'template_id="sls.builtin.cn", period="any")'
    by_hand(sls_client, POLICIES, "ops-team", {"action_policy_id": "ops-team", "primary_policy_script": script})
    switched = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *slack, "-o", "json")
    assert switched.exit_code == 0 and not [o for o in switched.json()["objects"] if o["action"] == "delete"]
    assert WEBHOOK_ID in records(sandbox, HOOKS)


def test_an_action_policy_ackaudit_made_before_it_labelled_them_is_its_own(cli, sandbox, sls_client, dingtalk):
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk).exit_code == 0
    policy = records(sandbox, POLICIES)[EXEC]
    by_hand(sls_client, POLICIES, EXEC, {**policy, "labels": {}}, tag=policy["action_policy_name"])
    plan = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert {o["id"]: (o["action"], o["changes"]) for o in plan.json()["objects"] if o["kind"] == "action_policy"} \
        == {EXEC: ("update", ["labels.managed_by"]), RISKY: ("unchanged", [])}
