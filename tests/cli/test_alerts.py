"""alerts setup, plan, status, test and remove: end to end against the sandbox."""

import copy
import json

import pytest
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID
from test_alert_definitions import SEED_EXEC_QUERY, SEED_RISKY_QUERY

from ackaudit.sandbox.webhooks import register_robot

TOKEN = "t0k3nS3cretValue42"
SECRET = "SECs1gn1ngS3cretXYZ"
PROJECT = f"k8s-log-{AUDITED_CLUSTER_ID}"
EXEC, RISKY = f"ackaudit-{AUDITED_CLUSTER_ID}-exec", f"ackaudit-{AUDITED_CLUSTER_ID}-risky"
WEBHOOK_ID = "ack-container-operation-audit-alert"
ENTER, DANGER = "ack-container-operation-audit-alert-enter", "ack-container-operation-audit-alert-run-danger-cmd"


@pytest.fixture
def dingtalk(sandbox):
    """A DingTalk robot in the sandbox that signs with SECRET, and the options that configure it."""
    register_robot(sandbox.state, "dingtalk", TOKEN, secret=SECRET, keywords=["Kubernetes"])
    return ["--dingtalk-url", f"{sandbox.url}/robot/send?access_token={TOKEN}", "--dingtalk-secret", SECRET,
            "--allow-any-url"]


@pytest.fixture
def set_up(cli, dingtalk):
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "-o", "json")
    assert run.exit_code == 0, run.stderr
    return run


def jobs(sandbox):
    return sandbox.state.projects[PROJECT].get("jobs", {})


def records(sandbox, resource):
    return dict(sandbox.state.resources[resource]["records"])


def value(record):
    return json.loads(record["value"])


def assert_no_secret(*runs):
    for run in runs:
        for text in (run.stdout, run.stderr):
            assert TOKEN not in text and SECRET not in text


def test_setup_creates_the_guides_alerting(set_up, sandbox):
    result = set_up.json()
    assert [(o["kind"], o["id"], o["action"]) for o in result["objects"]] == [
        ("webhook", WEBHOOK_ID, "create"), ("template", ENTER, "create"), ("template", DANGER, "create"),
        ("action_policy", EXEC, "create"), ("action_policy", RISKY, "create"),
        ("alert_rule", EXEC, "create"), ("alert_rule", RISKY, "create")]
    assert result["changed"] and result["channels"][0]["signed"]

    assert set(jobs(sandbox)) == {EXEC, RISKY}
    for name, query, severity, template in ((EXEC, SEED_EXEC_QUERY, 2, ENTER), (RISKY, SEED_RISKY_QUERY, 6, DANGER)):
        job = jobs(sandbox)[name]
        config = job["configuration"]
        [q] = config["queryList"]
        assert q["query"] == query
        assert (q["project"], q["store"], q["start"], q["end"]) == (PROJECT, f"advaudit-{AUDITED_CLUSTER_ID}",
                                                                    "-1m", "now")
        assert job["schedule"]["type"] == "FixedRate" and job["schedule"]["interval"] == "1m"
        assert [s["severity"] for s in config["severityConfigurations"]] == [severity]
        assert config["policyConfiguration"]["alertPolicyId"] == "sls.builtin.dynamic"
        assert config["policyConfiguration"]["actionPolicyId"] == name
        assert config["sinkAlerthub"] == {"enabled": True} and job["status"] == "ENABLED"
        policy = value(records(sandbox, "sls.alert.action_policy")[name])
        assert policy["primary_policy_script"] == (
            f'fire(type="webhook_integration", integration_type="dingtalk", webhook_id="{WEBHOOK_ID}", '
            f'template_id="{template}", period="any")')
    assert jobs(sandbox)[EXEC]["displayName"] == "Kubernetes进入容器告警"

    hook = records(sandbox, "sls.alert.action_webhook")[WEBHOOK_ID]
    assert value(hook) == {"id": WEBHOOK_ID, "name": "Kubernetes容器内部操作审计告警", "type": "dingtalk",
                           "url": f"{sandbox.url}/robot/send?access_token={TOKEN}", "method": "POST",
                           "headers": [], "secret": SECRET}
    templates = records(sandbox, "sls.alert.content_template")
    assert value(templates[ENTER])["templates"]["dingtalk"]["title"] == "Kubernetes容器内部操作审计告警"
    assert "有账号通过 kubectl exec或终端功能进入了容器" in value(templates[ENTER])["templates"]["dingtalk"]["content"]
    assert_no_secret(set_up)


def test_a_second_setup_is_unchanged(set_up, cli, sandbox, dingtalk):
    before = copy.deepcopy((jobs(sandbox), sandbox.state.resources))
    again = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk)
    assert again.exit_code == 0 and "unchanged" in again.stderr
    without_options = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert without_options.exit_code == 0 and not without_options.json()["changed"]
    assert {o["action"] for o in without_options.json()["objects"]} == {"unchanged"}
    assert (jobs(sandbox), sandbox.state.resources) == before
    assert_no_secret(again, without_options)


def test_plan_shows_a_drift_and_setup_repairs_it(set_up, cli, sandbox, sls_client):
    job = sls_client.get_alert(PROJECT, EXEC).get_entity()
    job["configuration"]["queryList"][0]["query"] = "kind: Kubernetes | select \"clusterid\" from log"
    job["schedule"]["interval"] = "5m"
    sls_client.update_alert(PROJECT, job)
    sls_client.disable_alert(PROJECT, RISKY)

    plan = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    drift = {o["id"]: o for o in plan.json()["objects"] if o["kind"] == "alert_rule"}
    assert drift[EXEC]["action"] == "update"
    assert drift[EXEC]["changes"] == ["schedule.interval", "configuration.queryList[0].query"]
    assert drift[RISKY]["action"] == "unchanged"   # disabled by someone: not a difference
    assert jobs(sandbox)[EXEC]["schedule"]["interval"] == "5m"    # plan changed nothing
    dry = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--dry-run")
    assert dry.exit_code == 0 and "plan (nothing changed)" in dry.stderr and "queryList[0].query" in dry.stdout

    status = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 0 and not status.json()["ok"]
    states = {o["id"]: o for o in status.json()["objects"] if o["kind"] == "alert_rule"}
    assert states[EXEC]["action"] == "drifted" and states[RISKY]["enabled"] is False

    repair = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID)
    assert repair.exit_code == 0, repair.stderr
    assert jobs(sandbox)[EXEC]["configuration"]["queryList"][0]["query"] == SEED_EXEC_QUERY
    assert jobs(sandbox)[EXEC]["schedule"]["interval"] == "1m"
    assert jobs(sandbox)[RISKY]["status"] == "DISABLED"


def test_english_templates(cli, dingtalk, sandbox):
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "--lang", "en", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["lang"] == "en"
    enter = value(records(sandbox, "sls.alert.content_template")[ENTER])
    assert enter["template_name"] == "Kubernetes: a container was entered"
    assert enter["templates"]["dingtalk"]["locale"] == "en-US"
    assert enter["templates"]["dingtalk"]["content"].startswith("- Alert rule: ${alert_name}\n")
    assert "Kubernetes" in enter["templates"]["dingtalk"]["title"]
    assert jobs(sandbox)[EXEC]["displayName"] == "Kubernetes: a container was entered"
    status = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json").json()
    assert status["lang"] == "en" and status["ok"]
    back = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, "--lang", "zh", "-o", "json").json()
    assert {o["id"] for o in back["objects"] if o["action"] == "update"} == {ENTER, DANGER, EXEC, RISKY}


def test_test_delivers_a_signed_markdown_message(set_up, cli, sandbox):
    run = cli("-v", "alerts", "test", "--cluster", AUDITED_CLUSTER_ID)
    assert run.exit_code == 0, run.stderr
    assert "delivered" in run.stdout and "DingTalk send" in run.stderr
    [message] = sandbox.state.webhook_messages
    assert message["accepted"] and message["kind"] == "dingtalk" and message["token"] == TOKEN
    assert message["body"]["msgtype"] == "markdown"
    assert message["body"]["markdown"]["title"] == "Kubernetes容器内部操作审计告警"
    text = message["body"]["markdown"]["text"]
    assert "ackaudit" in text and f"- 集群ID:{AUDITED_CLUSTER_ID}" in text and "- 操作账号:ackaudit-test" in text
    assert_no_secret(run)


def test_a_wrong_secret_is_reported_with_the_robots_error(set_up, cli, sandbox):
    register_robot(sandbox.state, "dingtalk", TOKEN, secret="SECanotherSecret")
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert run.exit_code == 1
    [delivery] = run.json()["deliveries"]
    assert (delivery["ok"], delivery["code"], delivery["message"]) == (False, "310000", "sign not match")
    assert "310000: sign not match" in run.stderr and "--dingtalk-secret" in run.stderr
    assert not sandbox.state.webhook_messages[-1]["accepted"]
    assert_no_secret(run)


def test_an_unreachable_robot_is_reported_masked(cli, sandbox):
    url = f"http://127.0.0.1:9/robot/send?access_token={TOKEN}"
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--dingtalk-url", url, "--allow-any-url")
    assert run.exit_code == 1 and "cannot reach DingTalk" in run.stderr and "access_token=t0…42" in run.stderr
    assert_no_secret(run)


def test_remove_cleans_up_what_setup_created(set_up, cli, sandbox):
    refused = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID)
    assert refused.exit_code == 2 and "--yes" in refused.stderr and set(jobs(sandbox)) == {EXEC, RISKY}
    dry = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--dry-run", "-o", "json")
    assert dry.exit_code == 0 and len(dry.json()["objects"]) == 7 and set(jobs(sandbox)) == {EXEC, RISKY}
    run = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert [(o["kind"], o["action"]) for o in run.json()["objects"]][:2] == [("alert_rule", "delete")] * 2
    assert jobs(sandbox) == {}
    for resource in ("sls.alert.action_webhook", "sls.alert.content_template", "sls.alert.action_policy"):
        assert records(sandbox, resource) == {}, resource
    again = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes")
    assert again.exit_code == 0 and "nothing to remove" in again.stderr


def test_remove_keeps_what_another_policy_uses(set_up, cli, sandbox, sls_client):
    from aliyun.log.resource_params import ResourceRecord

    script = f'fire(type="webhook_integration", integration_type="dingtalk", webhook_id="{WEBHOOK_ID}", ' \
             f'template_id="sls.builtin.cn", period="any")'
    sls_client.upsert_resource_record("sls.alert.action_policy", [ResourceRecord(
        record_id="ops-team", tag="ops", value={"action_policy_id": "ops-team", "primary_policy_script": script})])
    run = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    kept = {o["id"]: o["note"] for o in run.json()["objects"] if o["action"] == "keep"}
    assert kept == {WEBHOOK_ID: "used by action policy ops-team"}
    assert set(records(sandbox, "sls.alert.action_webhook")) == {WEBHOOK_ID}
    assert set(records(sandbox, "sls.alert.action_policy")) == {"ops-team"}


def test_status_reports_missing_objects_and_the_cluster_status_sees_the_rules(cli, dingtalk):
    missing = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert missing.exit_code == 5 and "missing" in missing.stderr and "alerts setup" in missing.stderr
    assert {o["action"] for o in missing.json()["objects"]} == {"missing"}
    assert cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk).exit_code == 0
    present = cli("-v", "alerts", "status", "--cluster", AUDITED_CLUSTER_ID)
    assert present.exit_code == 0 and "present" in present.stdout and "access_token=t0…42" in present.stderr
    rows = {o["id"]: o for o in cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json").json()["objects"]}
    assert rows[EXEC]["enabled"] is True and rows[EXEC]["last_modified"].endswith("Z")
    cluster = cli("status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json").json()
    assert [a["name"] for a in cluster["alerts"]] == [EXEC, RISKY]
    disabled = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--remove-alerts", "--yes", "-o", "json")
    assert disabled.exit_code == 0
    assert set(disabled.json()["alerts_removed"]) == {EXEC, RISKY, ENTER, DANGER, WEBHOOK_ID}
    assert_no_secret(missing, present)


def test_inputs_are_checked_before_anything_changes(cli, sandbox, dingtalk):
    not_enabled = cli("alerts", "setup", "--cluster", ELIGIBLE_CLUSTER_ID, *dingtalk)
    assert not_enabled.exit_code == 5 and f"ackaudit enable --cluster {ELIGIBLE_CLUSTER_ID}" in not_enabled.stderr
    nothing = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID)
    assert nothing.exit_code == 2 and "--dingtalk-url" in nothing.stderr
    elsewhere = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--dingtalk-url", dingtalk[1])
    assert elsewhere.exit_code == 2 and "--allow-any-url" in elsewhere.stderr
    lonely_secret = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--dingtalk-secret", SECRET)
    assert lonely_secret.exit_code == 2 and "needs --dingtalk-url" in lonely_secret.stderr
    bad_lang = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "--lang", "fr")
    assert bad_lang.exit_code == 2
    unknown = cli("alerts", "setup", "--cluster", "cdoesnotexist", *dingtalk)
    assert unknown.exit_code == 3
    assert jobs(sandbox) == {} and records(sandbox, "sls.alert.action_webhook") == {}
    assert_no_secret(not_enabled, nothing, elsewhere, lonely_secret, bad_lang, unknown)


def test_every_channel_type_end_to_end(cli, sandbox):
    options = ["--wecom-url", f"{sandbox.url}/cgi-bin/webhook/send?key={TOKEN}",
               "--lark-url", f"{sandbox.url}/open-apis/bot/v2/hook/{TOKEN}", "--lark-secret", SECRET,
               "--slack-url", f"{sandbox.url}/services/T0/B0/{TOKEN}",
               "--webhook-url", f"{sandbox.url}/webhook/{TOKEN}", "--allow-any-url"]
    register_robot(sandbox.state, "lark", TOKEN, secret=SECRET)
    setup = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *options, "--lang", "en", "-o", "json")
    assert setup.exit_code == 0, setup.stderr
    hooks = records(sandbox, "sls.alert.action_webhook")
    assert {i: value(r)["type"] for i, r in hooks.items()} == {
        f"{WEBHOOK_ID}-wecom": "wechat", f"{WEBHOOK_ID}-lark": "lark", f"{WEBHOOK_ID}-slack": "slack",
        f"{WEBHOOK_ID}-webhook": "custom"}
    script = value(records(sandbox, "sls.alert.action_policy")[EXEC])["primary_policy_script"]
    assert script.count("fire(") == 4 and 'integration_type="wechat"' in script
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--lang", "en", "-o", "json")
    assert run.exit_code == 0, run.stdout
    assert [d["channel"] for d in run.json()["deliveries"]] == ["wecom", "lark", "slack", "webhook"]
    assert [m["kind"] for m in sandbox.state.webhook_messages if m["accepted"]] == ["wecom", "lark", "slack", "webhook"]
    generic = sandbox.state.webhook_messages[-1]["body"]
    assert generic["title"] == "Kubernetes container operation audit alert" and "ackaudit" in generic["text"]
    assert_no_secret(setup, run)


def test_a_webhook_shown_starred_out_is_not_a_difference(set_up, cli, sandbox, dingtalk):
    # The SLS documentation shows stored webhooks as `access_token=**********` and `SEC**********`.
    hook = records(sandbox, "sls.alert.action_webhook")[WEBHOOK_ID]
    starred = {**value(hook), "url": f"{sandbox.url}/robot/send?access_token=**********", "secret": "SEC**********"}
    hook["value"] = json.dumps(starred)
    plan = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, *dingtalk, "-o", "json")
    assert plan.exit_code == 0 and not any(o["action"] != "unchanged" for o in plan.json()["objects"])
    other = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, *dingtalk[:2], "--allow-any-url", "-o", "json")
    assert [o["changes"] for o in other.json()["objects"] if o["kind"] == "webhook"] == [["secret"]]
    untestable = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID)
    assert untestable.exit_code == 5 and "--dingtalk-url URL" in untestable.stderr
    assert cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, *dingtalk).exit_code == 0
    assert_no_secret(plan, other, untestable)


def test_disable_remove_alerts_cleans_up_everything_setup_made(set_up, cli, sandbox):
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--remove-alerts", "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert set(run.json()["alerts_removed"]) == {EXEC, RISKY, ENTER, DANGER, WEBHOOK_ID}
    assert EXEC not in jobs(sandbox) and RISKY not in jobs(sandbox)
    assert not {EXEC, RISKY} & set(records(sandbox, "sls.alert.action_policy"))
    assert not {ENTER, DANGER} & set(records(sandbox, "sls.alert.content_template"))
    assert_no_secret(run)


def test_rules_carry_only_the_official_alert_models_fields(set_up, cli, sandbox, sls_client):
    for name in (EXEC, RISKY):
        job = sls_client.get_alert(PROJECT, name).get_entity()
        assert "state" not in job and job["status"] == "ENABLED"
        assert set(job["configuration"]["policyConfiguration"]) == {"actionPolicyId", "alertPolicyId",
                                                                   "repeatInterval"}
    sls_client.disable_alert(PROJECT, RISKY)
    assert "state" not in sls_client.get_alert(PROJECT, RISKY).get_entity()
    again = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert again.exit_code == 0 and not again.json()["changed"]
    assert jobs(sandbox)[RISKY]["status"] == "DISABLED"


def test_record_times_have_the_official_names_and_snake_case_is_read_too(set_up, cli, sandbox, sls_client):
    record = sls_client.get_resource_record("sls.alert.content_template", ENTER).get_body()
    assert isinstance(record["createTime"], int) and isinstance(record["lastModifyTime"], int)
    assert "create_time" not in record and "last_modify_time" not in record
    stored = records(sandbox, "sls.alert.content_template")[DANGER]
    stored["last_modify_time"] = stored.pop("lastModifyTime")
    stored["create_time"] = stored.pop("createTime")
    rows = {o["id"]: o for o in cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json").json()["objects"]}
    assert rows[DANGER]["last_modified"] and rows[ENTER]["last_modified"]


@pytest.mark.parametrize("option, url, says", [
    ("--dingtalk-url", "https://oapi.dingtalk.com:99999/robot/send?access_token=x", "not a valid URL"),
    ("--dingtalk-url", "https://oapi.dingtalk.com/robot/send?access_token=...", "placeholder"),
    ("--slack-url", "https://hooks.slack.com/services/...", "placeholder"),
    ("--webhook-url", "http://example.com/hooks/alerts", "must use https"),
    ("--dingtalk-url", "https://oapi.dingtalk.com/robot/send", "has no access_token"),
    ("--dingtalk-url", "http://[::1", "not a valid URL (Invalid IPv6 URL)"),
    ("--webhook-url", "https://[::1/hooks?sig=s3cr3t", "not a valid URL"),
])
def test_webhook_urls_follow_one_rule_set_before_anything_is_written(cli, sandbox, option, url, says):
    for command in ("setup", "plan", "test"):
        run = cli("alerts", command, "--cluster", AUDITED_CLUSTER_ID, option, url)
        assert run.exit_code == 2 and says in run.stderr, (command, run.stderr)
        assert "Traceback" not in run.stderr
    assert jobs(sandbox) == {} and records(sandbox, "sls.alert.action_webhook") == {}


def test_a_generic_webhooks_secret_path_is_masked_like_any_token(cli, sandbox):
    url = f"{sandbox.url}/webhook/{TOKEN.lower()}"
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--webhook-url", url, "--allow-any-url")
    assert run.exit_code == 0, run.stderr
    assert TOKEN.lower() not in run.stdout + run.stderr and "/webhook/t0…42" in run.stderr


def test_a_stored_malformed_webhook_does_not_crash_later_commands(set_up, cli, sandbox):
    hook = records(sandbox, "sls.alert.action_webhook")[WEBHOOK_ID]
    hook["value"] = json.dumps({**value(hook), "url": f"https://oapi.dingtalk.com:99999/robot/send?access_token={TOKEN}"})
    status = cli("alerts", "status", "--cluster", AUDITED_CLUSTER_ID)
    assert status.exit_code == 0 and "Traceback" not in status.stderr
    test = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID)
    assert test.exit_code == 1 and "the DingTalk robot refused" in test.stderr and "not a valid URL" in test.stderr
    setup = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID)
    assert setup.exit_code == 2 and "--dingtalk-url URL" in setup.stderr
    removed = cli("alerts", "remove", "--cluster", AUDITED_CLUSTER_ID, "--yes")
    assert removed.exit_code == 0, removed.stderr
    assert_no_secret(status, test, setup, removed)


def test_the_generic_webhooks_refusal_reads_well(cli, sandbox):
    url = f"{sandbox.url}/webhook/{TOKEN}"
    register_robot(sandbox.state, "webhook", TOKEN)
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--webhook-url", "http://127.0.0.1:9/webhook/x",
              "--allow-any-url")
    assert run.exit_code == 1 and "webhook webhook" not in run.stderr and url not in run.stderr


def test_risky_list_and_exclusions_compile_into_the_queries_safely_and_plan_shows_the_diff(
        set_up, cli, sandbox, tmp_path):
    risky = tmp_path / "risky.txt"
    risky.write_text("# ours\nterraform\nrm\n")
    exclude = tmp_path / "exclude.yaml"
    exclude.write_text('users: [ci-bot, \'x" or *\']\nnamespaces: [monitoring]\npods: [healthcheck-*]\n'
                       'programs: [curl]\n')
    plan = cli("alerts", "plan", "--cluster", AUDITED_CLUSTER_ID, "--risky-programs", str(risky), "--add-risky",
               "--exclude", str(exclude), "-o", "json")
    assert plan.exit_code == 0, plan.stderr
    notes = {o["id"]: o["note"] for o in plan.json()["objects"] if o["kind"] == "alert_rule"}
    assert "+ 'terraform'" in notes[RISKY] and '+ not (k8s.user.username: "ci-bot"' in notes[RISKY]
    assert jobs(sandbox)[RISKY]["configuration"]["queryList"][0]["query"] == SEED_RISKY_QUERY   # plan changed nothing
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--risky-programs", str(risky), "--add-risky",
              "--exclude", str(exclude))
    assert run.exit_code == 0, run.stderr
    exec_query = jobs(sandbox)[EXEC]["configuration"]["queryList"][0]["query"]
    risky_query = jobs(sandbox)[RISKY]["configuration"]["queryList"][0]["query"]
    assert exec_query.startswith('kind: Kubernetes and kubeObject.operation.kind: PodExec and not (')
    # The hostile user name goes through the engine's own quoting: one literal phrase.
    from ackaudit.audit.query import term
    from ackaudit.engine.search import parse_search

    assert term("k8s.user.username", 'x" or *') in exec_query and "k8s.pod.name: healthcheck-*" in exec_query
    assert "Wildcard" not in repr(parse_search(term("k8s.user.username", 'x" or *')))
    assert 'process.name: "curl"' in risky_query and 'process.name: "curl"' not in exec_query
    assert "'terraform'" in risky_query and "'gem'" in risky_query
    # Kept by a later setup without the options; a bad file is refused before anything changes.
    assert not cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "-o", "json").json()["changed"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("pods: ['web-* or *']\n")
    refused = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--exclude", str(bad))
    assert refused.exit_code == 2 and "not a pod name or prefix" in refused.stderr
    assert jobs(sandbox)[EXEC]["configuration"]["queryList"][0]["query"] == exec_query
