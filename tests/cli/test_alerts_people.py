"""--email and --sms: SLS users and user groups, fired by the action policies, sent by the sandbox's
alert engine; checked before anything is written, idempotent, and removed again."""

import pytest
from alert_state import jobs, records, setup
from conftest import AUDITED_CLUSTER_ID

from ackaudit.sandbox import alert_engine
from ackaudit.sandbox.events import SessionRecorder

PROJECT, LOGSTORE = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"
EXEC, RISKY = f"ackaudit-{AUDITED_CLUSTER_ID}-exec", f"ackaudit-{AUDITED_CLUSTER_ID}-risky"
USERS, GROUPS, POLICIES = "sls.common.user", "sls.common.user_group", "sls.alert.action_policy"
EMAIL_GROUP, SMS_GROUP = f"ackaudit-{AUDITED_CLUSTER_ID}-email", f"ackaudit-{AUDITED_CLUSTER_ID}-sms"
ENTER = "ack-container-operation-audit-alert-enter"
PEOPLE = ["--email", "Oncall@Ops.Example.ORG", "--email", "sec@ops.example.org", "--sms", "+86 138-0013-8000"]


def test_email_and_sms_become_sls_users_and_groups_the_policies_fire(cli, sandbox):
    result = setup(cli, *PEOPLE)
    assert [c["type"] + " " + c["address"] for c in result["channels"]] == [
        "email Oncall@ops.example.org", "email sec@ops.example.org", "sms +86 13800138000"]
    users = records(sandbox, USERS)
    by_address = {(u["email"] or [u["phone"]])[0]: u for u in users.values()}
    assert set(by_address) == {"Oncall@ops.example.org", "sec@ops.example.org", "13800138000"}
    sms = by_address["13800138000"]
    assert (sms["country_code"], sms["sms_enabled"], sms["email"], sms["enabled"]) == ("86", True, [], True)
    assert by_address["sec@ops.example.org"]["sms_enabled"] is False
    assert all(user_id.startswith("ackaudit-") and u["user_id"] == user_id for user_id, u in users.items())
    groups = records(sandbox, GROUPS)
    assert set(groups) == {EMAIL_GROUP, SMS_GROUP}
    assert sorted(groups[EMAIL_GROUP]["members"]) == sorted(
        by_address[a]["user_id"] for a in ("Oncall@ops.example.org", "sec@ops.example.org"))
    assert groups[SMS_GROUP]["members"] == [sms["user_id"]]
    script = records(sandbox, POLICIES)[EXEC]["primary_policy_script"]
    assert script.splitlines() == [
        f'fire(type="email", groups=["{EMAIL_GROUP}"], template_id="{ENTER}", period="any")',
        f'fire(type="sms", groups=["{SMS_GROUP}"], template_id="{ENTER}", period="any")']
    assert set(jobs(sandbox)) == {EXEC, RISKY}

    again = setup(cli, *PEOPLE)
    assert not again["changed"] and {o["action"] for o in again["objects"]} == {"unchanged"}
    kept = setup(cli)            # no channel option: the recipients configured are kept
    assert not kept["changed"] and len(kept["channels"]) == 3
    status = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 0 and status.json()["ok"], status.stdout
    assert {o["kind"] for o in status.json()["objects"]} >= {"user", "user_group"}


def test_a_firing_is_sent_to_the_addresses_and_recorded_as_notified(cli, sandbox):
    setup(cli, *PEOPLE)
    sandbox.state.settings.update(alert_schedule=False, alert_ingest_delay=0)
    cluster = sandbox.state.clusters[AUDITED_CLUSTER_ID]
    pod = cluster["pods"][0]
    created = jobs(sandbox)[EXEC]["createTime"]
    recorder = SessionRecorder(cluster, pod, pod["containers"][0]["name"], {"username": "mallory", "aliuid": ""},
                               ["bash"], created + 1)
    recorder.command(["rm", "a.txt"], cwd="/tmp", pid=10, parent_pid=9, parent_name="bash", when=created + 2)
    sandbox.state.events.append(PROJECT, LOGSTORE, recorder.rows())
    rows = {r["AlertName"]: r for r in alert_engine.evaluate_now(sandbox.state, now=created + 30)}
    assert rows[EXEC]["NotifyStatus"] == "Success" and rows[RISKY]["NotifyStatus"] == "Success", rows[EXEC]["Reason"]
    sent = {(n["alert"], n["type"]): n for n in sandbox.state.alert_notifications}
    email = sent[(EXEC, "email")]
    assert sorted(email["recipients"]) == ["Oncall@ops.example.org", "sec@ops.example.org"]
    assert email["subject"] == "Kubernetes容器内部操作审计告警"
    assert "- 操作账号:mallory\n" in email["content"] and f"- Pod:{pod['name']}\n" in email["content"]
    sms = sent[(RISKY, "sms")]
    assert sms["recipients"] == ["+86 13800138000"]
    assert sms["content"] == (f"Kubernetes容器内部操作审计告警:Kubernetes进入容器后执行风险程序告警,集群 "
                              f"{AUDITED_CLUSTER_ID},操作次数 1 次。")


def test_changing_and_removing_recipients_cleans_up_after_itself(cli, sandbox):
    setup(cli, *PEOPLE)
    changed = setup(cli, "--email", "new@ops.example.org")
    deleted = {(o["kind"], o["note"]) for o in changed["objects"] if o["action"] == "delete"}
    assert deleted == {("user_group", "no longer used by any action policy"),
                       ("user", "no longer used by any action policy")}
    assert [u["email"] for u in records(sandbox, USERS).values()] == [["new@ops.example.org"]]
    assert set(records(sandbox, GROUPS)) == {EMAIL_GROUP}
    assert "sms" not in records(sandbox, POLICIES)[EXEC]["primary_policy_script"]
    removed = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes")
    assert removed.exit_code == 0, removed.stderr
    assert records(sandbox, USERS) == {} and records(sandbox, GROUPS) == {} and jobs(sandbox) == {}


@pytest.mark.parametrize("channel", [("--email", "shared@ops.example.org"), ("--voice", "13800138000")])
def test_a_user_another_group_uses_is_kept(cli, sandbox, sls_client, channel):
    from aliyun.log.resource_params import ResourceRecord

    setup(cli, *channel)
    [user_id] = records(sandbox, USERS)
    sls_client.upsert_resource_record(GROUPS, [ResourceRecord(record_id="team", tag="team", value={
        "user_group_id": "team", "user_group_name": "team", "enabled": True, "members": [user_id]})])
    run = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert {o["id"]: o["note"] for o in run.json()["objects"]}[user_id] == "used by user group team"
    assert set(records(sandbox, USERS)) == {user_id} and set(records(sandbox, GROUPS)) == {"team"}


@pytest.mark.parametrize("option, value, says", [
    ("--email", "not-an-address", "--email 'not-an-address' is not an email address"),
    ("--email", "a@b", "is not an email address"),
    ("--email", "two@@example.org", "is not an email address"),
    ("--email", "sp ace@example.org", "is not an email address"),
    ("--sms", "12345", "--sms '12345' is not a mainland China mobile number"),
    ("--sms", "+447911123456", "write the country code apart from the number"),
    ("--sms", "+44 79x1", "is not a phone number"),
    ("--sms", "+86 23800138000", "is not a mainland China mobile number"),
])
def test_addresses_and_numbers_are_checked_before_anything_is_written(cli, sandbox, option, value, says):
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--email", "ok@ops.example.org", option, value)
    assert run.exit_code == 2
    assert run.stderr.splitlines()[0].startswith("error: ") and says in run.stderr and "Traceback" not in run.stderr
    assert jobs(sandbox) == {} and records(sandbox, USERS) == {} and records(sandbox, GROUPS) == {}
    plan = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, option, value)
    assert plan.exit_code == 2 and says in plan.stderr


def test_international_numbers_keep_their_country_code(cli, sandbox):
    setup(cli, "--sms", "+44 7911 123456", "--sms", "13900139000")
    assert sorted((u["country_code"], u["phone"]) for u in records(sandbox, USERS).values()) == [
        ("44", "7911123456"), ("86", "13900139000")]


def test_alerts_test_points_email_and_sms_to_the_end_to_end_test(cli, sandbox):
    setup(cli, "--email", "ok@ops.example.org")
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID)
    assert run.exit_code == 5 and "SLS sends those itself" in run.stderr and "--e2e" in run.stderr
