"""--voice and --notification-center: voice calls through SLS users and a per-cluster user group,
the Notification Center fired alone; checked before anything is written, idempotent, planned,
removed, and sent by the sandbox's alert engine with the rendered templates."""

import copy
import time

import pytest
from alert_state import jobs, records, setup
from aliyun.log.resource_params import ResourceRecord
from conftest import AUDITED_CLUSTER_ID

from ackaudit.sandbox import alert_engine
from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID

PROJECT, LOGSTORE = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"
EXEC, RISKY = f"ackaudit-{AUDITED_CLUSTER_ID}-exec", f"ackaudit-{AUDITED_CLUSTER_ID}-risky"
USERS, GROUPS, POLICIES = "sls.common.user", "sls.common.user_group", "sls.alert.action_policy"
TEMPLATES = "sls.alert.content_template"
VOICE_GROUP, SMS_GROUP = f"ackaudit-{AUDITED_CLUSTER_ID}-voice", f"ackaudit-{AUDITED_CLUSTER_ID}-sms"
ENTER, DANGER = "ack-container-operation-audit-alert-enter", "ack-container-operation-audit-alert-run-danger-cmd"
CALLS = ["--voice", "+86 138-0013-8000, +44 7911 123456", "--notification-center"]


def fires(template):
    return [f'fire(type="voice", groups=["{VOICE_GROUP}"], template_id="{template}", period="any")',
            f'fire(type="message_center", template_id="{template}", period="any")']


def test_voice_calls_and_the_notification_center_are_set_up_once(cli, sandbox):
    result = setup(cli, *CALLS)
    assert [(c["type"], c["address"]) for c in result["channels"]] == [
        ("voice", "+86 13800138000"), ("voice", "+44 7911123456"),
        ("message_center", "the account's Notification Center contacts")]
    users = records(sandbox, USERS)
    assert sorted((u["country_code"], u["phone"], u["voice_enabled"], u["sms_enabled"], u["email"])
                  for u in users.values()) == [("44", "7911123456", True, False, []),
                                               ("86", "13800138000", True, False, [])]
    assert all(user_id.startswith("ackaudit-voice-") for user_id in users)
    groups = records(sandbox, GROUPS)
    assert set(groups) == {VOICE_GROUP} and groups[VOICE_GROUP]["members"] == sorted(users)
    policies = records(sandbox, POLICIES)
    for policy, template in ((EXEC, ENTER), (RISKY, DANGER)):
        assert policies[policy]["primary_policy_script"].splitlines() == fires(template)
        assert policies[policy]["secondary_policy_script"] == policies[policy]["primary_policy_script"]
    parts = records(sandbox, TEMPLATES)[ENTER]["templates"]
    assert parts["voice"]["locale"] == "zh-CN" and parts["voice"]["content"].startswith("容器内部操作审计告警:")
    assert parts["message_center"]["title"] == "Kubernetes容器内部操作审计告警"
    assert set(jobs(sandbox)) == {EXEC, RISKY}

    before = copy.deepcopy((jobs(sandbox), sandbox.state.resources))
    again = setup(cli, *CALLS)
    assert not again["changed"] and {o["action"] for o in again["objects"]} == {"unchanged"}
    kept = setup(cli)                        # no channel option: the ones configured are kept
    assert not kept["changed"] and sorted(map(str, kept["channels"])) == sorted(map(str, result["channels"]))
    assert (jobs(sandbox), sandbox.state.resources) == before
    table = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *CALLS)
    assert table.exit_code == 0 and "unchanged" in table.stderr
    assert ("channels: voice +86 13800138000, voice +44 7911123456, Notification Center (the account's contacts)"
            in table.stderr)
    status = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 0 and status.json()["ok"], status.stdout
    assert [c["type"] for c in status.json()["channels"]] == ["voice", "voice", "message_center"]
    shown = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID)
    assert VOICE_GROUP in shown.stdout and "Notification Center" in shown.stderr


def test_one_number_for_sms_and_voice_is_two_users_each_on_its_channel(cli, sandbox):
    setup(cli, "--sms", "13800138000", "--voice", "13800138000")
    users = sorted((u["sms_enabled"], u["voice_enabled"], u["phone"]) for u in records(sandbox, USERS).values())
    assert users == [(False, True, "13800138000"), (True, False, "13800138000")]
    assert set(records(sandbox, GROUPS)) == {SMS_GROUP, VOICE_GROUP}
    assert [line.split(",")[0] for line in records(sandbox, POLICIES)[EXEC]["primary_policy_script"].splitlines()] \
        == ['fire(type="sms"', 'fire(type="voice"']


def test_sms_voice_and_email_take_comma_separated_values(cli, sandbox):
    result = setup(cli, "--email", "a@ops.example.org, b@ops.example.org,", "--sms", "13800138000,+44 7911 123456",
                   "--voice", "13900139000")
    assert [(c["type"], c["address"]) for c in result["channels"]] == [
        ("email", "a@ops.example.org"), ("email", "b@ops.example.org"), ("sms", "+86 13800138000"),
        ("sms", "+44 7911123456"), ("voice", "+86 13900139000")]
    assert len(records(sandbox, USERS)) == 5


def test_plan_shows_what_changes_and_changes_nothing(cli, sandbox):
    setup(cli, "--sms", "13800138000")
    before = copy.deepcopy((jobs(sandbox), sandbox.state.resources))
    plan = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, "--voice", "13900139000", "--notification-center",
               "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    changed = [(o["kind"], o["action"], o["changes"]) for o in plan.json()["objects"] if o["action"] != "unchanged"]
    assert changed == [
        ("user", "create", []), ("user_group", "create", []),
        ("action_policy", "update", ["primary_policy_script", "secondary_policy_script"]),
        ("action_policy", "update", ["primary_policy_script", "secondary_policy_script"]),
        ("user_group", "delete", []), ("user", "delete", [])]
    assert [o["id"] for o in plan.json()["objects"] if o["kind"] == "user_group"] == [VOICE_GROUP, SMS_GROUP]
    assert (jobs(sandbox), sandbox.state.resources) == before
    human = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, "--voice", "13900139000", "--notification-center")
    assert "plan (nothing changed): 2 to create, 2 to update, 2 no longer used" in human.stderr
    assert "channels: voice +86 13900139000, Notification Center (the account's contacts)" in human.stderr


def test_switching_channels_and_removing_cleans_up_after_itself(cli, sandbox):
    setup(cli, *CALLS)
    only_center = setup(cli, "--notification-center")
    deleted = sorted(o["kind"] for o in only_center["objects"] if o["action"] == "delete")
    assert deleted == ["user", "user", "user_group"]
    assert records(sandbox, USERS) == {} and records(sandbox, GROUPS) == {}
    assert records(sandbox, POLICIES)[EXEC]["primary_policy_script"] == fires(ENTER)[1]
    test = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID)
    assert test.exit_code == 5 and "only the Notification Center is configured, and SLS sends those itself" in \
        test.stderr and "--e2e" in test.stderr
    setup(cli, *CALLS)
    dry = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--dry-run", "-o", "json")
    assert sorted(o["kind"] for o in dry.json()["objects"]) == sorted(
        ["alert_rule"] * 2 + ["action_policy"] * 2 + ["user_group"] + ["user"] * 2 + ["template"] * 2)
    removed = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes")
    assert removed.exit_code == 0, removed.stderr
    for resource in (USERS, GROUPS, POLICIES, TEMPLATES):
        assert records(sandbox, resource) == {}, resource
    assert jobs(sandbox) == {}


@pytest.mark.parametrize("value, says", [
    ("12345", "--voice '12345' is not a mainland China mobile number"),
    ("+447911123456", "--voice '+447911123456': write the country code apart from the number"),
    ("+44 79x1", "--voice '+44 79x1' is not a phone number"),
    ("+86 23800138000", "is not a mainland China mobile number"),
    ("13800138000, 123", "--voice '123' is not a mainland China mobile number"),
    (",", "--voice ',' is not a phone number"),
    ("", "--voice '' is not a phone number"),
])
def test_voice_numbers_are_checked_before_anything_is_written(cli, sandbox, value, says):
    for command in ("setup", "plan"):
        run = cli("alerts", command, "--cluster", AUDITED_CLUSTER_ID, "--notification-center", "--voice", value)
        assert run.exit_code == 2, (command, run.stderr)
        errors = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert errors == [run.stderr.splitlines()[0]] and says in errors[0], run.stderr
        assert "Traceback" not in run.stderr and run.stdout == ""
    assert jobs(sandbox) == {} and records(sandbox, USERS) == {} and records(sandbox, GROUPS) == {}
    assert records(sandbox, POLICIES) == {} and records(sandbox, TEMPLATES) == {}


def test_a_hand_made_template_in_the_way_is_adopted_only_when_told(cli, sandbox, sls_client):
    sls_client.upsert_resource_record(TEMPLATES, [ResourceRecord(record_id=ENTER, tag="mine", value={
        "template_id": ENTER, "template_name": "mine", "templates": {"voice": {"locale": "zh-CN", "content": "x"}}})])
    refused = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *CALLS)
    assert refused.exit_code == 2 and f"template {ENTER}" in refused.stderr and "--adopt" in refused.stderr
    assert records(sandbox, USERS) == {} and jobs(sandbox) == {}
    adopted = setup(cli, *CALLS, "--adopt")
    assert {o["id"]: o["action"] for o in adopted["objects"]}[ENTER] == "adopt"
    assert records(sandbox, TEMPLATES)[ENTER]["templates"]["voice"]["content"].startswith("容器内部操作审计告警")


def test_alerts_test_names_the_channels_sls_sends_itself(cli, sandbox):
    setup(cli, "--webhook-url", f"{sandbox.url}/webhook/voiceT0ken", "--allow-any-url", *CALLS)
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert [d["channel"] for d in run.json()["deliveries"]] == ["webhook"]
    assert [r["type"] for r in run.json()["sent_by_sls"]] == ["voice", "voice", "message_center"]
    human = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID)
    assert "voice calls and the Notification Center: sent by SLS itself" in human.stderr and "--e2e" in human.stderr
    assert sandbox.state.alert_notifications == []
    setup(cli, "--voice", "13800138000")
    alone = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID)
    assert alone.exit_code == 5 and "only voice calls are configured" in alone.stderr


def _fire_both_rules(sandbox, user="mallory"):
    """One exec with a risky program half a minute ago, both rules evaluated now (made a minute ago)."""
    sandbox.state.settings.update(alert_schedule=False, alert_ingest_delay=0)
    now = int(time.time())
    for job in jobs(sandbox).values():
        job["createTime"] = now - 60
    cluster = sandbox.state.clusters[AUDITED_CLUSTER_ID]
    pod = cluster["pods"][0]
    recorder = SessionRecorder(cluster, pod, pod["containers"][0]["name"], {"username": user, "aliuid": ""},
                               ["bash"], now - 31)
    recorder.command(["rm", "a.txt"], cwd="/srv", pid=10, parent_pid=9, parent_name="bash", when=now - 30)
    sandbox.state.events.append(PROJECT, LOGSTORE, recorder.rows())
    rows = {r["AlertName"]: r for r in alert_engine.evaluate_now(sandbox.state, now=now)}
    assert all(rows[n]["NotifyStatus"] == "Success" for n in (EXEC, RISKY)), rows[EXEC]["Reason"]
    return pod, {(n["alert"], n["type"]): n for n in sandbox.state.alert_notifications}


def test_a_firing_calls_and_posts_to_the_notification_center_in_chinese(cli, sandbox):
    setup(cli, *CALLS)
    pod, sent = _fire_both_rules(sandbox)
    call = sent[(EXEC, "voice")]
    assert sorted(call["recipients"]) == ["+44 7911123456", "+86 13800138000"]
    assert call["content"] == (f"容器内部操作审计告警:Kubernetes进入容器告警,集群 {AUDITED_CLUSTER_ID},"
                               "操作次数 1 次,请及时查看。")
    assert sent[(RISKY, "voice")]["content"] == (f"容器内部操作审计告警:Kubernetes进入容器后执行风险程序告警,集群 "
                                                 f"{AUDITED_CLUSTER_ID},操作次数 1 次,请及时查看。")
    center = sent[(RISKY, "message_center")]
    assert center["recipients"] == [f"account {SANDBOX_ACCOUNT_ID}"]
    assert center["subject"] == "Kubernetes容器内部操作审计告警"
    lines = center["content"].splitlines()
    assert lines[:4] == ["告警规则:Kubernetes进入容器后执行风险程序告警", lines[1], "告警严重度:中",
                         f"集群ID:{AUDITED_CLUSTER_ID}"] and lines[1].startswith("触发时间:")
    assert "操作次数:1 次。" in lines and lines[-1].startswith("详情:https://sls.console.aliyun.com/")
    assert (f"账号 mallory,Pod {pod['namespace']}/{pod['name']},容器 {pod['containers'][0]['name']},目录 /srv,"
            "执行的程序命令 rm a.txt") in center["content"]
    assert "账号 mallory" in sent[(EXEC, "message_center")]["content"]

    history = cli("alerts", "history", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert history.exit_code == 0, history.stderr
    fired = [e for e in history.json()["evaluations"] if e["fired"]]
    assert sorted(e["rule"] for e in fired) == [EXEC, RISKY] and {e["notify_status"] for e in fired} == {"Success"}


def test_a_firing_calls_and_posts_in_english(cli, sandbox):
    setup(cli, *CALLS, "--lang", "en")
    pod, sent = _fire_both_rules(sandbox, user="trent")
    assert sent[(EXEC, "voice")]["content"] == (
        f"Container operation audit alert: Kubernetes: a container was entered, cluster {AUDITED_CLUSTER_ID}, "
        "1 operations. Please check.")
    center = sent[(EXEC, "message_center")]
    assert center["subject"] == "Kubernetes container operation audit alert"
    assert center["content"].startswith("Alert rule: Kubernetes: a container was entered\nFired at: ")
    assert "\nSeverity: Report\n" in center["content"] and "\nOperations: 1.\n" in center["content"]
    assert f"account trent, pod {pod['namespace']}/{pod['name']}, container " in center["content"]
    assert center["content"].splitlines()[-1].startswith("Details: https://")


@pytest.fixture
def fast_rules(sandbox):
    """Rules of `1m` run every two seconds; the query windows stay real time."""
    sandbox.state.settings["alert_clock_speed"] = 30


def test_the_end_to_end_test_proves_voice_and_the_notification_center(cli, sandbox, sls_client, fast_rules):
    setup(cli, *CALLS)
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--e2e", "--timeout", "60", "-o", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert all(s["ok"] for s in run.json()["steps"])
    sent = {(n["alert"], n["type"]) for n in sandbox.state.alert_notifications}
    assert sent == {(rule, kind) for rule in (EXEC, RISKY) for kind in ("voice", "message_center")}

    # A group deleted by hand: the voice calls fail, the Notification Center still gets the alert.
    sls_client.delete_resource_record(GROUPS, [VOICE_GROUP])
    broken = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--e2e", "--timeout", "60", "-o", "json")
    assert broken.exit_code == 1
    step = {s["name"]: s for s in broken.json()["steps"]}[f"{EXEC} notified"]
    assert not step["ok"] and "(PartialSuccess)" in step["detail"]
    assert f"voice: user group '{VOICE_GROUP}' does not exist" in step["detail"]
    assert f"error: {EXEC} notified: some of the rule's notifications were not sent" in broken.stderr
    history = cli("alerts", "history", "--cluster", AUDITED_CLUSTER_ID, "--since", "10m")
    assert history.exit_code == 0 and "PartialSuccess" in history.stdout
