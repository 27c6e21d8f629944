"""The sandbox's alert engine: schedule, trigger condition, templates, routing and history."""

from __future__ import annotations

import json
import time

import pytest
from aliyun.log.resource_params import ResourceRecord

from ackaudit.engine.alert_templates import render
from ackaudit.sandbox import alert_engine
from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID
from ackaudit.sandbox.webhooks import register_robot
from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID
from ackaudit.services.alert_definitions import load_definitions

PROJECT, LOGSTORE = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"
HISTORY = (f"sls-alert-{SANDBOX_ACCOUNT_ID}-cn-hangzhou", "internal-alert-history")
EXEC_QUERY, RISKY_QUERY = (r.query for r in load_definitions().rules)
TEMPLATE = "- who: {{ alert.results[0].fire_result['k8s.user.username'] }}, {{ alert.fire_results_count }} rows"


@pytest.fixture
def state(sandbox):
    # No background scheduling: each test drives the clock itself.
    sandbox.state.settings.update(alert_schedule=False, alert_ingest_delay=0)
    return sandbox.state


def rule(name="r1", query=EXEC_QUERY, *, severity=2, condition="", count_condition="", threshold=1,
         policy="p1", created=1_000_000, **schedule):
    return {"name": name, "displayName": f"rule {name}", "type": "Alert", "status": "ENABLED",
            "createTime": created, "schedule": {"type": "FixedRate", "interval": "1m", **schedule},
            "configuration": {
                "queryList": [{"project": PROJECT, "store": LOGSTORE, "query": query, "start": "-1m", "end": "now"}],
                "severityConfigurations": [{"severity": severity, "evalCondition": {
                    "condition": condition, "countCondition": count_condition}}],
                "threshold": threshold,
                "policyConfiguration": {"alertPolicyId": "sls.builtin.dynamic", "actionPolicyId": policy,
                                        "repeatInterval": "1m"}}}


def add_rule(state, job):
    state.projects[PROJECT].setdefault("jobs", {})[job["name"]] = job
    return job


def exec_session(state, when, *, user="alice", commands=(("rm", "a.txt"),)):
    cluster = state.clusters[AUDITED_CLUSTER_ID]
    pod = cluster["pods"][0]
    recorder = SessionRecorder(cluster, pod, pod["containers"][0]["name"], {"username": user, "aliuid": ""},
                               ["bash"], when)
    for i, argv in enumerate(commands):
        recorder.command(list(argv), cwd="/tmp", pid=100 + i, parent_pid=99, parent_name="bash", when=when)
    state.events.append(PROJECT, LOGSTORE, recorder.rows())
    return recorder.trace_id


def put_record(sls_client, resource, record_id, value):
    sls_client.upsert_resource_record(resource, [ResourceRecord(record_id=record_id, tag=record_id, value=value)])


@pytest.fixture
def routed(sandbox, sls_client):
    """A signed DingTalk robot behind webhook `w1`, template `t1` and action policy `p1`."""
    register_robot(sandbox.state, "dingtalk", "tok", secret="SECsecret")
    put_record(sls_client, "sls.alert.action_webhook", "w1", {
        "id": "w1", "name": "w1", "type": "dingtalk", "method": "POST", "headers": [], "secret": "SECsecret",
        "url": "https://oapi.dingtalk.com/robot/send?access_token=tok"})
    put_record(sls_client, "sls.alert.content_template", "t1", {
        "template_id": "t1", "templates": {"dingtalk": {"locale": "en-US", "title": "Kubernetes alert",
                                                        "content": TEMPLATE}}})
    put_record(sls_client, "sls.alert.action_policy", "p1", {
        "action_policy_id": "p1", "primary_policy_script":
            'fire(type="webhook_integration", integration_type="dingtalk", webhook_id="w1", template_id="t1", '
            'period="any")'})


# -- schedule -------------------------------------------------------------------------------------

def test_a_fixed_rate_rule_runs_one_interval_after_creation_then_every_interval(state, routed):
    job = add_rule(state, rule(created=int(time.time()) - 600))
    start = job["createTime"]
    assert alert_engine.tick(state, now=start + 59) == []
    [first] = alert_engine.tick(state, now=start + 60)
    assert alert_engine.tick(state, now=start + 61) == []
    [second] = alert_engine.tick(state, now=start + 120)
    windows = [json.loads(r["Results"])[0] for r in (first, second)]
    assert [(w["StartTimeTs"], w["EndTimeTs"]) for w in windows] == [(start, start + 60), (start + 60, start + 120)]


def test_an_accelerated_clock_runs_rules_often_without_overlapping_windows(state, routed):
    state.settings["alert_clock_speed"] = 60
    job = add_rule(state, rule(created=int(time.time()) - 600))
    start = job["createTime"]
    rows = [r for t in range(1, 6) for r in alert_engine.tick(state, now=start + t)]
    windows = [(json.loads(r["Results"])[0]["StartTimeTs"], json.loads(r["Results"])[0]["EndTimeTs"]) for r in rows]
    assert windows == [(start + t - 1, start + t) for t in range(1, 6)]


def test_a_disabled_rule_never_runs(state, routed):
    job = add_rule(state, {**rule(created=int(time.time()) - 600), "status": "DISABLED"})
    assert alert_engine.tick(state, now=job["createTime"] + 3600) == []
    assert alert_engine.evaluate_now(state) == []


# -- condition --------------------------------------------------------------------------------------

def test_no_data_does_not_fire_and_data_does(state, routed):
    now = int(time.time())
    add_rule(state, rule(created=now - 120))
    [quiet] = alert_engine.evaluate_now(state, now=now - 60)
    assert (quiet["Fired"], quiet["AlertStatus"], quiet["NotifyStatus"]) == ("false", "inactive", "NotNotified")
    trace = exec_session(state, now - 30)
    [loud] = alert_engine.evaluate_now(state, now=now)
    assert (loud["Fired"], loud["AlertStatus"], loud["NotifyStatus"], loud["Severity"]) == ("true", "firing",
                                                                                         "Success", "2")
    [result] = json.loads(loud["Results"])
    assert result["RawResultCount"] == 1 and trace in result["RawResults"][0].values()


def test_count_conditions_and_the_consecutive_threshold(state, routed):
    now = int(time.time())
    add_rule(state, rule(query=RISKY_QUERY, count_condition="__count__ > 2", created=now - 300, threshold=2))
    exec_session(state, now - 250, commands=[("rm", "x"), ("curl", "y")])
    [two] = alert_engine.evaluate_now(state, now=now - 200)
    assert two["Fired"] == "false" and json.loads(two["Results"])[0]["RawResultCount"] == 2
    exec_session(state, now - 150, commands=[("rm", "x"), ("curl", "y"), ("wget", "z"), ("ls", "-l")])
    [pending] = alert_engine.evaluate_now(state, now=now - 100)
    assert (pending["AlertStatus"], pending["NotifyStatus"]) == ("pending", "NotNotified")
    exec_session(state, now - 50, commands=[("rm", "1"), ("rm", "2"), ("rm", "3")])
    [firing] = alert_engine.evaluate_now(state, now=now)
    assert (firing["AlertStatus"], firing["FireCount"]) == ("firing", "2")


def test_a_condition_the_sandbox_cannot_read_is_an_error_not_a_silence(state, routed):
    now = int(time.time())
    add_rule(state, rule(condition="__count__ > 1 and x == 'y'", created=now - 120))
    [row] = alert_engine.evaluate_now(state, now=now)
    assert (row["Status"], row["AlertStatus"]) == ("Failed", "error") and "conditions" in row["Reason"]


# -- templates ----------------------------------------------------------------------------------

def test_the_guides_templates_render_with_real_results():
    content = next(t for t in load_definitions().templates if "enter" in t.id).content["zh"]
    alert = {"fire_results_count": 2, "results": [{"fire_result": {
        "clusterid": "c1", "time": "T", "k8s.user.aliuid": "", "k8s.user.username": "bob",
        "k8s.pod.namespace": "ns", "k8s.pod.name": "web-0",
        "kubeobject.operation.podexecoptions.container": "app",
        "kubeobject.operation.podexecoptions.commandstr": "bash"}}]}
    text = render(content, {"alert": alert}, {"alert_name": "R", "alert_time": "now", "severity": "报告",
                                             "query_url": "q", "alert_url": "a"})
    assert text.splitlines()[:4] == ["- 告警规则:R", "- 触发时间:now", "- 告警严重度:报告", "- 集群ID:c1"]
    assert "操作次数:2 次" in text and "- 操作账号:bob\n- 命名空间:ns\n- Pod:web-0\n- 容器:app\n- 命令:bash" in text
    assert "{" not in text and text.endswith("[[详情](q)] [[设置](a)]")


def test_template_constructs():
    scope = {"alert": {"fire_results": [{"a": "1"}, {"a": "2"}, {"a": "3"}], "labels": {"k": "v"}, "n": 7}}
    loop = "{% for r in alert.fire_results[:2] -%}\n- {{ r['a'] }}{% if loop.last %}.{% endif %}\n{% endfor -%}\nend"
    assert render(loop, scope, {}) == "- 1\n- 2.\nend"
    assert render("{{ alert.fire_results | length }} {{ alert.labels }} [{{ alert.missing }}]", scope, {}) == \
        '3 {"k": "v"} []'
    assert render("{% if alert.n > 5 %}big{% elif alert.n > 1 %}mid{% else %}small{% endif %}", scope, {}) == "big"
    assert render("${alert_name} ${unknown}", scope, {"alert_name": "x"}) == "x "
    assert render("{{ __import__('os') }}{{ alert.n.__class__ }}", scope, {}) == ""


# -- routing ------------------------------------------------------------------------------------

def test_a_firing_rule_reaches_the_robot_signed_in_its_envelope(state, routed):
    now = int(time.time())
    add_rule(state, rule(created=now - 120))
    exec_session(state, now - 30, user="carol")
    [row] = alert_engine.evaluate_now(state, now=now)
    assert row["NotifyStatus"] == "Success" and row["LastNotifiedAt"]
    [message] = state.webhook_messages
    assert message["accepted"] and message["signed"] and message["token"] == "tok"
    assert message["body"] == {"msgtype": "markdown", "at": {"isAtAll": False},
                               "markdown": {"title": "Kubernetes alert", "text": "- who: carol, 1 rows"}}


def test_routing_failures_are_recorded_with_their_reason(state, routed, sls_client):
    now = int(time.time())
    add_rule(state, rule(name="nopolicy", policy="missing", created=now - 120))
    register_robot(state, "dingtalk", "tok", secret="SECother")
    add_rule(state, rule(name="badsign", created=now - 120))
    exec_session(state, now - 30)
    rows = {r["AlertName"]: r for r in alert_engine.evaluate_now(state, now=now)}
    assert rows["nopolicy"]["NotifyStatus"] == "Failed" and "'missing' does not exist" in rows["nopolicy"]["Reason"]
    assert rows["badsign"]["NotifyStatus"] == "Failed" and "310000: sign not match" in rows["badsign"]["Reason"]


def test_email_and_sms_go_to_sls_users_and_groups(state, routed, sls_client):
    put_record(sls_client, "sls.common.user", "alex", {"user_id": "alex", "user_name": "Alex",
                                                       "email": ["alex@example.com"], "phone": "13300000000",
                                                       "enabled": True, "sms_enabled": True})
    put_record(sls_client, "sls.common.user_group", "ops", {"user_group_id": "ops", "members": ["alex"]})
    put_record(sls_client, "sls.alert.content_template", "t2", {"template_id": "t2", "templates": {
        "email": {"locale": "en-US", "subject": "Kubernetes alert", "content": TEMPLATE},
        "sms": {"locale": "en-US", "content": TEMPLATE}}})
    put_record(sls_client, "sls.alert.action_policy", "p2", {"action_policy_id": "p2", "primary_policy_script":
        'fire(type="email", groups=["ops"], template_id="t2", period="any")\n'
        'fire(type="sms", users=["alex"], template_id="t2", period="any")'})
    now = int(time.time())
    add_rule(state, rule(policy="p2", created=now - 120))
    exec_session(state, now - 30, user="dave")
    [row] = alert_engine.evaluate_now(state, now=now)
    assert row["NotifyStatus"] == "Success", row["Reason"]
    sent = [(n["type"], n["recipients"], n["content"]) for n in state.alert_notifications]
    assert sent == [("email", ["alex@example.com"], "- who: dave, 1 rows"), ("sms", ["+86 13300000000"], "- who: dave, 1 rows")]


# -- history -------------------------------------------------------------------------------------

def test_every_evaluation_is_in_the_alert_history_logstore(state, routed, sls_client):
    now = int(time.time())
    add_rule(state, rule(name="exec", created=now - 120))
    add_rule(state, rule(name="risky", query=RISKY_QUERY, severity=6, created=now - 120))
    exec_session(state, now - 30, commands=[("rm", "a.txt"), ("ls",)])
    alert_engine.evaluate_now(state, now=now)
    resp = sls_client.get_log(*HISTORY, now - 60, now + 60, query="Fired: true")
    rows = {log.get_contents()["AlertName"]: log.get_contents() for log in resp.get_logs()}
    assert set(rows) == {"exec", "risky"}
    assert rows["risky"]["Severity"] == "6" and rows["exec"]["NotifyStatus"] == "Success"
    # The guide's two queries ran unchanged in the engine: one PodExec event, one risky program (rm, not ls).
    assert [json.loads(rows[n]["Results"])[0]["Query"] for n in ("exec", "risky")] == [EXEC_QUERY, RISKY_QUERY]
    assert json.loads(rows["risky"]["Results"])[0]["RawResults"][0]["process.name"] == "rm"
    assert json.loads(rows["risky"]["Results"])[0]["RawResultCount"] == 1


def test_voice_calls_and_the_notification_center_are_routed_and_recorded(state, routed, sls_client):
    put_record(sls_client, "sls.common.user", "alex", {"user_id": "alex", "user_name": "Alex", "email": [],
                                                       "phone": "7911123456", "country_code": "44",
                                                       "enabled": True, "sms_enabled": False, "voice_enabled": True})
    put_record(sls_client, "sls.common.user", "mute", {"user_id": "mute", "phone": "13300000000",
                                                       "voice_enabled": False})
    put_record(sls_client, "sls.common.user_group", "oncall", {"user_group_id": "oncall", "members": ["alex", "mute"]})
    put_record(sls_client, "sls.alert.content_template", "t3", {"template_id": "t3", "templates": {
        "voice": {"locale": "en-US", "content": "${alert_name}: {{ alert.fire_results_count }} rows"},
        "message_center": {"locale": "en-US", "title": "Kubernetes alert", "content": TEMPLATE}}})
    put_record(sls_client, "sls.alert.action_policy", "p3", {"action_policy_id": "p3", "primary_policy_script":
        'fire(type="voice", groups=["oncall"], template_id="t3", period="any")\n'
        'fire(type="message_center", template_id="t3", period="any")'})
    now = int(time.time())
    add_rule(state, rule(policy="p3", created=now - 120))
    exec_session(state, now - 30, user="erin")
    [row] = alert_engine.evaluate_now(state, now=now)
    assert row["NotifyStatus"] == "Success", row["Reason"]
    sent = [(n["type"], n["recipients"], n["subject"], n["content"]) for n in state.alert_notifications]
    # A user whose voice calls are off is not called; the Notification Center names no one: the
    # account's own contacts receive it.
    assert sent == [("voice", ["+44 7911123456"], "", "rule r1: 1 rows"),
                    ("message_center", [f"account {SANDBOX_ACCOUNT_ID}"], "Kubernetes alert", "- who: erin, 1 rows")]


def test_a_channel_that_cannot_be_sent_fails_alone(state, routed, sls_client):
    put_record(sls_client, "sls.alert.action_policy", "p4", {"action_policy_id": "p4", "primary_policy_script":
        'fire(type="webhook_integration", integration_type="dingtalk", webhook_id="w1", template_id="t1", '
        'period="any")\n'
        'fire(type="voice", groups=["gone"], template_id="t1", period="any")\n'
        'fire(type="message_center", template_id="t1", period="any")'})
    now = int(time.time())
    add_rule(state, rule(policy="p4", created=now - 120))
    exec_session(state, now - 30)
    [row] = alert_engine.evaluate_now(state, now=now)
    assert row["NotifyStatus"] == "PartialSuccess"
    assert row["Reason"] == "voice: user group 'gone' does not exist; template 't1' has no message_center content"
    assert [m["accepted"] for m in state.webhook_messages] == [True] and state.alert_notifications == []


@pytest.mark.parametrize("script, says", [
    ('fire(type="pager", groups=["g"], template_id="t1", period="any")', "fire(type='pager') is not a channel type"),
    ('fire(type="voice", template_id="t1", period="any")', 'fire(type="voice") needs users, groups or oncall_groups'),
    ('fire(type="sms", groups=["g"], period="any")', 'fire(type="sms") needs template_id'),
    ('fire(type="email", groups=[], users=[], template_id="t1")', "needs users, groups or oncall_groups"),
    ('fire(type="message_center", period="any")', 'fire(type="message_center") needs template_id'),
    ('fire(type="message_center", template_id="t1", period="sometimes")', "period must be one of any, workday"),
    ('fire(type="webhook_integration", webhook_id="w1", template_id="t1")', "needs integration_type"),
    ("fire(type='voice', groups=['g'], template_id='t1')", "is not a string or a list of strings"),
    ('fire(type="voice", groups=["g"], template_id="t1"', "does not parse"),
    ('fire(type="voice", groups=[1], template_id="t1")', "must be lists of ids"),
])
def test_a_policy_script_the_engine_cannot_run_is_refused_when_written(sls_client, script, says):
    from aliyun.log import LogException

    with pytest.raises(LogException) as refused:
        put_record(sls_client, "sls.alert.action_policy", "bad", {"action_policy_id": "bad",
                                                                  "primary_policy_script": script})
    assert refused.value.get_error_code() == "ParameterInvalid" and says in refused.value.get_error_message()
    with pytest.raises(LogException) as empty:
        put_record(sls_client, "sls.alert.action_policy", "bad", {"action_policy_id": "bad",
                                                                  "primary_policy_script": " "})
    assert empty.value.get_error_code() == "ActionPolicyEmpty"


def test_the_branching_form_and_every_receiver_list_are_accepted(sls_client, sandbox):
    script = ('if alert.severity >= 8:\n'
              '    fire(type="sms", users=[], groups=["ops"], oncall_groups=[], template_id="t1", period="any")\n'
              '    fire(type="voice", users=[], groups=["ops"], oncall_groups=[], template_id="t1", period="worktime")\n'
              '    stop()\n'
              'fire(type="message_center", template_id="t1", period="any")')
    put_record(sls_client, "sls.alert.action_policy", "ok", {"action_policy_id": "ok", "primary_policy_script": script,
                                                             "secondary_policy_script": ""})
    assert "ok" in sandbox.state.resources["sls.alert.action_policy"]["records"]
