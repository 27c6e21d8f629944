"""--lang en digests: a firing with many results, rendered by the sandbox's alert engine with the
real results and delivered to every kind of robot, each of which enforces its size limit."""

import json

import pytest
from conftest import AUDITED_CLUSTER_ID

from ackaudit.sandbox import alert_engine
from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.webhooks import register_robot

TOKEN = "d1gestT0ken"
SECRET = "SECd1gestS1gning"
PROJECT, LOGSTORE = f"k8s-log-{AUDITED_CLUSTER_ID}", f"advaudit-{AUDITED_CLUSTER_ID}"
EXEC, RISKY = f"ackaudit-{AUDITED_CLUSTER_ID}-exec", f"ackaudit-{AUDITED_CLUSTER_ID}-risky"


@pytest.fixture
def robots(sandbox):
    register_robot(sandbox.state, "dingtalk", TOKEN, secret=SECRET, keywords=["Kubernetes"])
    register_robot(sandbox.state, "lark", TOKEN, secret=SECRET)
    sandbox.state.settings.update(alert_schedule=False, alert_ingest_delay=0)
    return ["--dingtalk-url", f"{sandbox.url}/robot/send?access_token={TOKEN}", "--dingtalk-secret", SECRET,
            "--wecom-url", f"{sandbox.url}/cgi-bin/webhook/send?key={TOKEN}",
            "--lark-url", f"{sandbox.url}/open-apis/bot/v2/hook/{TOKEN}", "--lark-secret", SECRET,
            "--slack-url", f"{sandbox.url}/services/T0/B0/{TOKEN}",
            "--webhook-url", f"{sandbox.url}/webhook/{TOKEN}", "--allow-any-url"]


def sessions(state, start, count, *, user, command):
    """`count` exec sessions (one PodExec event and one `rm` each) from `start` on."""
    cluster = state.clusters[AUDITED_CLUSTER_ID]
    pod = cluster["pods"][0]
    rows = []
    for i in range(count):
        when = start + i * 0.1
        recorder = SessionRecorder(cluster, pod, pod["containers"][0]["name"], {"username": f"{user}{i}", "aliuid": ""},
                                   ["sh", "-c", command], when)
        recorder.command(["rm", "-rf", command], cwd=f"/tmp/{command}", pid=100, parent_pid=99, parent_name="sh",
                         when=when)
        rows += recorder.rows()
    state.events.append(PROJECT, LOGSTORE, rows)
    return pod


def fire(sandbox, cli, options, *, user, command, count=100):
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *options)
    assert run.exit_code == 0, run.stderr
    created = sandbox.state.projects[PROJECT]["jobs"][EXEC]["createTime"]
    pod = sessions(sandbox.state, created + 1, count, user=user, command=command)
    rows = {r["AlertName"]: r for r in alert_engine.evaluate_now(sandbox.state, now=created + 30)}
    assert {n: rows[n]["NotifyStatus"] for n in (EXEC, RISKY)} == {EXEC: "Success", RISKY: "Success"}, \
        [rows[n]["Reason"] for n in (EXEC, RISKY)]
    return pod


def received(sandbox):
    messages = {}
    for m in sandbox.state.webhook_messages:
        assert m["accepted"], m["answer"]
        messages.setdefault(m["kind"], []).append(m["body"])
    return messages


def text_of(kind, body):
    return {"dingtalk": lambda: body["markdown"]["text"], "wecom": lambda: body["markdown"]["content"],
            "lark": lambda: body["card"]["elements"][0]["text"]["content"],
            "slack": lambda: body["blocks"][0]["text"]["text"], "webhook": lambda: body["text"]}[kind]()


def test_a_firing_with_a_hundred_results_lists_the_first_ones_under_every_robots_limit(cli, sandbox, robots):
    # Hostile, long values: emoji in the user name, control characters and quotes in the command.
    command = "x\x01\"\U0001F600" * 100
    pod = fire(sandbox, cli, [*robots, "--lang", "en"], user="\U0001F600" * 50, command=command)
    messages = received(sandbox)
    assert {k: len(v) for k, v in messages.items()} == {"dingtalk": 2, "wecom": 2, "lark": 2, "slack": 2, "webhook": 2}
    # A value with quotes or control characters breaks the generic webhook's JSON body (the template
    # language has no JSON escaping), so only the robots' texts are read here.
    for kind, bodies in messages.items():
        if kind == "webhook":
            continue
        for body in bodies:
            text = text_of(kind, body)
            listed = 3 if kind in ("wecom", "slack") else 10
            assert f"Operations: 100, the first {listed} below (Details lists them all):\n" in text
            assert f"\n{listed}. " in text and f"\n{listed + 1}. " not in text
            assert f"{pod['namespace']}/{pod['name']}" in text
    # Each robot measures what it accepts differently (cloud-apis §5).
    for body in messages["dingtalk"]:
        assert len(json.dumps(body, ensure_ascii=False).encode()) <= 20000
    for body in messages["lark"]:
        assert len(json.dumps(body, ensure_ascii=False).encode()) <= 20 * 1024
    for body in messages["wecom"]:
        assert len(body["markdown"]["content"].encode()) <= 4096
    for body in messages["slack"]:
        assert len(body["blocks"][0]["text"]["text"]) <= 3000
    enter, risky = (text_of("dingtalk", b) for b in messages["dingtalk"])
    assert "container " in enter and ", command sh -c x\x01\"" in enter and "(traceId " in enter
    assert ", directory /tmp/x" in risky and ", ran rm -rf x" in risky


def test_the_chinese_default_is_the_guides_template_with_the_first_result(cli, sandbox, robots):
    pod = fire(sandbox, cli, robots, user="alice", command="date", count=12)
    enter, risky = (text_of("dingtalk", b) for b in received(sandbox)["dingtalk"])
    assert "操作次数:12 次,下面是其中一次操作的具体信息:\n- 操作时间:" in enter
    assert "- 操作账号:alice0\n" in enter and f"- Pod:{pod['name']}\n" in enter and "\n2. " not in enter
    assert "- 执行的程序命令:rm -rf date\n" in risky and "- 操作目录:/tmp/date\n" in risky
