"""alerts test --e2e and alerts history: a canary exec becomes two signed DingTalk messages."""

import base64
import hashlib
import hmac

import pytest
from conftest import AUDITED_CLUSTER_ID

from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID
from ackaudit.sandbox.webhooks import register_robot

TOKEN = "e2eT0kenValue1234"
SECRET = "SECe2eSigningSecret99"
EXEC, RISKY = f"ackaudit-{AUDITED_CLUSTER_ID}-exec", f"ackaudit-{AUDITED_CLUSTER_ID}-risky"
PROJECT = f"k8s-log-{AUDITED_CLUSTER_ID}"
URL = f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}"


@pytest.fixture
def fast_rules(sandbox):
    """Rules of `1m` run every two seconds; the query windows stay real time."""
    sandbox.state.settings["alert_clock_speed"] = 30


@pytest.fixture
def set_up(cli, sandbox, fast_rules):
    # The robot checks the signature with its own copy of the secret.
    register_robot(sandbox.state, "dingtalk", TOKEN, secret=SECRET, keywords=["Kubernetes"])
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--dingtalk-url", URL, "--dingtalk-secret", SECRET)
    assert run.exit_code == 0, run.stderr
    return run


def delivered(sandbox):
    return [m for m in sandbox.state.webhook_messages if m["kind"] == "dingtalk" and m["accepted"]]


def signature_ok(message) -> bool:
    stamp, sign = message["query"]["timestamp"], message["query"]["sign"]
    digest = hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode() == sign


def test_the_canary_fires_both_rules_and_arrives_as_the_guides_messages(set_up, cli, sandbox):
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--e2e", "--timeout", "60", "-o", "json")
    assert run.exit_code == 0, run.stdout + run.stderr
    result = run.json()
    steps = {s["name"]: s for s in result["steps"]}
    assert list(steps) == ["exec", "audit event", f"{EXEC} fired", f"{EXEC} notified", f"{RISKY} fired",
                           f"{RISKY} notified"]
    assert all(s["ok"] and s["seconds"] is not None and s["seconds"] >= 0 for s in steps.values())
    namespace, pod = result["pod"].split("/")

    messages = delivered(sandbox)
    assert len(messages) == 2 and all(m["signed"] and signature_ok(m) for m in messages)
    enter, risky = (m["body"]["markdown"] for m in messages)
    assert enter["title"] == risky["title"] == "Kubernetes容器内部操作审计告警"
    for text in (enter["text"], risky["text"]):
        assert f"- Pod:{pod}" in text and f"- 命名空间:{namespace}" in text
        assert text.startswith("- 告警规则:Kubernetes")
    assert "- 告警严重度:报告" in enter["text"] and "- 告警严重度:中" in risky["text"]
    assert f"- 命令:sh -c mkdir -p /tmp/{result['marker']}" in enter["text"]
    # The canary runs rm twice: once for the file, once for its directory.
    assert "操作次数:1 次" in enter["text"] and "操作次数:2 次" in risky["text"]
    assert ("- 执行的程序命令:rm a.txt" in risky["text"]
            or f"- 执行的程序命令:rm -r /tmp/{result['marker']}" in risky["text"])
    # The CLI's kubeconfig (from ACK) is the account's own identity: the template shows its aliuid.
    assert f"- 操作账号:{SANDBOX_ACCOUNT_ID}\n" in enter["text"] and f"- 操作账号:{SANDBOX_ACCOUNT_ID}\n" in risky["text"]

    history = cli("alerts", "history", "--cluster", AUDITED_CLUSTER_ID, "--since", "10m", "-o", "json")
    assert history.exit_code == 0, history.stderr
    fired = [e for e in history.json()["evaluations"] if e["fired"]]
    assert sorted(e["rule"] for e in fired) == [EXEC, RISKY]
    assert all(e["delivered"] and e["notify_status"] == "Success" for e in fired)
    assert {e["rule"]: e["results"] for e in fired} == {EXEC: 1, RISKY: 2}
    table = cli("alerts", "history", "--cluster", AUDITED_CLUSTER_ID, "--since", "10m")
    assert EXEC in table.stdout and RISKY in table.stdout and "2 firings" in table.stderr
    assert TOKEN not in run.stdout + run.stderr + history.stdout + table.stdout + table.stderr


def test_excluding_the_canarys_user_is_reported_as_why_nothing_fired(set_up, cli, sandbox, tmp_path):
    exclude = tmp_path / "expected.yaml"
    exclude.write_text(f"users: ['{SANDBOX_ACCOUNT_ID}']\nnamespaces: [kube-system]\n")
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, "--exclude", str(exclude))
    assert run.exit_code == 0, run.stderr
    e2e = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--e2e", "--timeout", "12", "-o", "json")
    assert e2e.exit_code == 1
    steps = {s["name"]: s for s in e2e.json()["steps"]}
    assert steps["exec"]["ok"] and steps["audit event"]["ok"]
    for rule in (EXEC, RISKY):
        assert not steps[f"{rule} fired"]["ok"]
        assert "did not fire for it" in steps[f"{rule} fired"]["detail"]
        assert "excluded by the rule's exclusions (user" in steps[f"{rule} fired"]["detail"]
    assert "error:" in e2e.stderr and "excluded" in e2e.stderr
    assert delivered(sandbox) == []


def test_a_rule_disabled_by_hand_is_named_as_the_broken_link(set_up, cli, sandbox, sls_client):
    sls_client.disable_alert(PROJECT, RISKY)
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--e2e", "--timeout", "60", "-o", "json")
    assert run.exit_code == 1
    steps = {s["name"]: s for s in run.json()["steps"]}
    assert steps[f"{EXEC} fired"]["ok"] and steps[f"{EXEC} notified"]["ok"]
    assert not steps[f"{RISKY} fired"]["ok"] and "is disabled" in steps[f"{RISKY} fired"]["detail"]
    assert f"error: {RISKY} fired: the alert rule {RISKY} is disabled" in run.stderr
    assert len(delivered(sandbox)) == 1


def test_a_refused_notification_is_the_broken_link(set_up, cli, sandbox):
    register_robot(sandbox.state, "dingtalk", TOKEN, secret="SECsomethingElse")
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--e2e", "--timeout", "60", "-o", "json")
    assert run.exit_code == 1
    steps = {s["name"]: s for s in run.json()["steps"]}
    assert steps[f"{EXEC} fired"]["ok"] and not steps[f"{EXEC} notified"]["ok"]
    assert "310000" in steps[f"{EXEC} notified"]["detail"] and "sign not match" in steps[f"{EXEC} notified"]["detail"]


def test_no_audit_where_the_pod_is_not_covered(cli, sandbox, fast_rules):
    run = cli("alerts", "test", "--cluster", AUDITED_CLUSTER_ID, "--e2e", "--pod", "nowhere/none", "--timeout", "2")
    assert run.exit_code == 1 and "exec" in run.stderr and "nowhere/none" in run.stderr


def test_history_before_any_rule_ran(cli):
    run = cli("alerts", "history", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["evaluations"] == [] and "no alert rule has been evaluated yet" in run.json()["note"]
