"""query, session, event: end to end against the seeded sandbox."""

import json
import os
import subprocess
import sys
import time

import pytest
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID
from lines import lines_within

from ackaudit.sandbox.world import INTRUDER, PAYMENTS_DEV, SEEDED_SECRETS

C = AUDITED_CLUSTER_ID
PROJECT, LOGSTORE = f"k8s-log-{C}", f"advaudit-{C}"
HOSTILE = ['x" or *', "* or kind: Command", "a | select count(1)", "payments:", "名字", "\\", '"', "*",
           "x\\\" or \\\"*", "and", "nginx-1 or 1=1"]


@pytest.fixture
def window():
    now = int(time.time())
    return now - 8 * 86400, now + 60


def engine_count(sandbox, search, window):
    rows = sandbox.state.events.query(PROJECT, LOGSTORE, f"{search} | select count(1) as n", *window).rows
    return int(rows[0]["n"])


# What `query` means by "every event", in the guide's words: each command, and each exec.
EVERY_AUDIT_EVENT = "kind: Command or (kind: Kubernetes and kubeObject.operation.kind: PodExec)"


def q(cli, window, *args):
    return cli("query", "--cluster", C, "--from", str(window[0]), "--to", str(window[1]), *args)


def test_everything_with_no_limit_matches_the_engine_count(cli, sandbox, window):
    run = q(cli, window, "--limit", "0", "-o", "json")
    assert run.exit_code == 0, run.stderr
    events = run.json()
    assert len(events) > 100
    assert len(events) == engine_count(sandbox, EVERY_AUDIT_EVENT, window)
    assert len({e["eventId"] for e in events}) == len(events)
    times = [e["time"] for e in events]
    assert times == sorted(times, reverse=True)  # newest first


def test_the_default_limit_says_how_many_more_exist(cli, window):
    run = q(cli, window, "-o", "json")
    assert run.exit_code == 0
    assert len(run.json()) == 100
    assert "showing 100 of" in run.stderr and "--limit 0" in run.stderr


def test_an_answer_that_fits_one_page_takes_one_request(cli, window):
    """The count is asked of SLS only when the first page is full: a short page holds every match."""
    few = cli("-v", "query", "--cluster", C, "--from", str(window[0]), "--to", str(window[1]),
              "--process", "rm", "--limit", "100", "-o", "json")
    assert few.exit_code == 0, few.stderr
    assert 0 < len(few.json()) < 100
    assert few.stderr.count("SLS GetLogs ") == 1 and "showing" not in few.stderr
    many = cli("-v", "query", "--cluster", C, "--from", str(window[0]), "--to", str(window[1]), "-o", "json")
    assert many.stderr.count("SLS GetLogs ") == 2 and "showing 100 of" in many.stderr


def test_pod_filter(cli, window):
    some = q(cli, window, "--limit", "0", "--kind", "command", "-o", "json").json()
    ns, pod = some[0]["k8s.pod.namespace"], some[0]["k8s.pod.name"]
    run = q(cli, window, "--pod", f"{ns}/{pod}", "--limit", "0", "-o", "json")
    assert run.exit_code == 0
    rows = run.json()
    assert rows and all(r["k8s.pod.namespace"] == ns and r["k8s.pod.name"] == pod for r in rows)
    same = q(cli, window, "--namespace", ns, "--pod", pod, "--limit", "0", "-o", "json").json()
    assert [r["eventId"] for r in same] == [r["eventId"] for r in rows]


def test_process_filter(cli, window):
    rows = q(cli, window, "--process", "rm", "--limit", "0", "-o", "json").json()
    assert rows and all(r["process.name"] == "rm" for r in rows)
    both = q(cli, window, "--process", "rm", "--process", "curl", "--limit", "0", "-o", "json").json()
    assert {r["process.name"] for r in both} == {"rm", "curl"}


def test_user_filter_takes_username_or_uid(cli, window):
    rows = q(cli, window, "--user", PAYMENTS_DEV["username"], "--limit", "0", "-o", "json").json()
    assert rows and all(r["k8s.user.username"] == PAYMENTS_DEV["username"] for r in rows)
    ci = q(cli, window, "--user", "system:serviceaccount:ci:deployer", "--limit", "0", "-o", "json").json()
    assert ci and all(r["k8s.user.username"] == "system:serviceaccount:ci:deployer" for r in ci)


def test_risky_finds_the_malicious_session(cli, window):
    run = q(cli, window, "--risky", "--limit", "0", "-o", "json")
    rows = run.json()
    assert rows and all(r["risk"] for r in rows)
    intruder = [r for r in rows if r["k8s.user.username"] == INTRUDER["username"]]
    assert {"nsenter", "curl"} <= {r["process.name"] for r in intruder}
    table = q(cli, window, "--risky")
    assert any(line.startswith("!") and "nsenter" in line for line in table.stdout.splitlines())


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_match_nothing(cli, window, value):
    for option in ("--pod", "--process", "--user", "--container", "--node", "--trace"):
        arg = f"payments/{value}" if option == "--pod" else value
        run = q(cli, window, option, arg, "-o", "json")
        assert run.exit_code == 0, (option, value, run.stderr)
        assert run.json() == [], (option, value)


def test_where_is_anded_and_cannot_smuggle_sql(cli, window):
    rows = q(cli, window, "--where", 'process.cwd: "/opt/etl"', "--limit", "0", "-o", "json").json()
    assert rows and all(r["process.cwd"] == "/opt/etl" for r in rows)
    narrowed = q(cli, window, "--where", 'process.cwd: "/opt/etl"', "--process", "psql", "--limit", "0", "-o", "json")
    assert 0 < len(narrowed.json()) < len(rows)
    bad = q(cli, window, "--where", "* | select 1")
    assert bad.exit_code == 2 and "not allowed" in bad.stderr


def test_time_options_are_checked(cli):
    assert cli("query", "--cluster", C, "--since", "7 days").exit_code == 2
    assert cli("query", "--cluster", C, "--since", "1d", "--from", "2026-01-01").exit_code == 2
    assert cli("query", "--cluster", C, "--from", "2026-02-01", "--to", "2026-01-01").exit_code == 2
    assert cli("query", "--cluster", C, "--pod", "a/b/c").exit_code == 2


def test_session_shows_the_exec_and_every_command_with_a_tree(cli, window):
    rows = q(cli, window, "--risky", "--user", INTRUDER["username"], "--limit", "1", "-o", "json").json()
    trace = rows[0]["traceId"]
    everything = q(cli, window, "--trace", trace, "--limit", "0", "--oldest-first", "-o", "json").json()
    run = cli("session", trace, "--cluster", C, "-o", "json")
    assert run.exit_code == 0, run.stderr
    view = run.json()
    assert view["has_exec_event"] is True and view["username"] == INTRUDER["username"]
    commands = [e for e in everything if e["kind"] == "Command"]
    assert [c["eventId"] for c in view["commands"]] == [e["eventId"] for e in commands]
    assert view["counts"]["commands"] == len(commands)
    # the tree holds every command once, each under its real parent
    seen = []

    def walk(nodes, parent):
        for node in nodes:
            seen.append(node["pid"])
            command = next(c for c in view["commands"] if c["eventId"] == node["eventId"])
            if parent is not None:  # under its parent process, or under the program it replaced (exec)
                assert parent in (command["process.parentPid"], node["pid"])
            walk(node["children"], node["pid"])

    walk(view["tree"], None)
    assert sorted(seen) == sorted(c["process.pid"] for c in view["commands"])
    table = cli("session", trace, "--cluster", C)
    assert "Process tree" in table.stdout and "nsenter" in table.stdout
    markdown = cli("session", trace, "--cluster", C, "--format", "markdown")
    assert markdown.stdout.startswith("#") and "nsenter" in markdown.stdout


def test_unknown_session_and_event_are_exit_3(cli):
    run = cli("session", "0" * 32, "--cluster", C)
    assert run.exit_code == 3 and "30d" in run.stderr and "--since" in run.stderr
    assert cli("event", "0" * 32, "--cluster", C).exit_code == 3


def test_event_shows_every_field(cli, window):
    one = q(cli, window, "--process", "rm", "--limit", "1", "-o", "json").json()[0]
    run = cli("event", one["eventId"], "--cluster", C, "-o", "json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert data["event"]["eventId"] == one["eventId"]
    assert isinstance(data["raw"]["process"], dict) and isinstance(data["raw"]["k8s"], dict)
    assert data["session"] == f"ackaudit session {one['traceId']} --cluster {C}"
    table = cli("event", one["eventId"], "--cluster", C)
    assert "process.cmdline" in table.stdout and "ackaudit session" in table.stderr


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv"])
def test_passwords_are_masked_in_every_format(cli, window, fmt):
    run = q(cli, window, "--process", "mysql", "--process", "redis-cli", "--process", "curl", "--process", "psql",
            "--limit", "0", "-o", fmt)
    assert run.exit_code == 0
    assert "******" in run.stdout
    for secret in SEEDED_SECRETS:
        assert secret not in run.stdout
    shown = q(cli, window, "--process", "mysql", "--limit", "0", "-o", fmt, "--no-redact")
    assert any(secret in shown.stdout for secret in SEEDED_SECRETS)


def test_incomplete_pages_are_retried(cli, sandbox, window, no_sdk_sleep):
    sandbox.faults.add({"kind": "incomplete", "service": "sls", "route": "/logs$", "count": 2})
    run = q(cli, window, "--process", "rm", "-o", "json")
    assert run.exit_code == 0 and run.json()
    assert "incomplete" not in run.stderr
    assert len(no_sdk_sleep) >= 2  # asked again, not accepted


def test_persistent_incomplete_warns_and_fails_unless_allowed(cli, sandbox, window, no_sdk_sleep, monkeypatch):
    monkeypatch.setenv("ACKAUDIT_INCOMPLETE_RETRIES", "0")
    sandbox.faults.add({"kind": "incomplete", "service": "sls", "route": "/logs$", "count": -1})
    run = q(cli, window, "--process", "rm")
    assert run.exit_code == 1
    assert "stayed incomplete" in run.stderr and "--allow-partial" in run.stderr
    allowed = q(cli, window, "--process", "rm", "--allow-partial")
    assert allowed.exit_code == 0 and "stayed incomplete" in allowed.stderr


def test_5xx_is_retried(cli, sandbox, window, no_sdk_sleep):
    sandbox.faults.add({"kind": "5xx", "service": "sls", "route": "/logs$", "count": 1})
    run = q(cli, window, "--process", "rm", "-o", "json")
    assert run.exit_code == 0 and run.json()


def test_follow_prints_a_new_event_once(sandbox):
    from ackaudit.sandbox.events import SessionRecorder

    env = {**os.environ, **sandbox.client_env(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ackaudit", "query", "--cluster", C, "--follow", "--since", "1m",
                             "-o", "jsonl"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        next(line for line in lines_within(proc.stderr, 60) if "following" in line)
        cluster = sandbox.state.clusters[C]
        pod = next(p for p in cluster["pods"] if p["namespace"] == "payments")
        recorder = SessionRecorder(cluster, pod, pod["containers"][0]["name"], PAYMENTS_DEV, ["sh"], time.time())
        recorder.command(["cat", "/etc/followed-marker"], cwd="/", pid=4242, parent_pid=1, parent_name="sh")
        sandbox.state.events.append(PROJECT, LOGSTORE, recorder.rows())
        got = []
        for line in lines_within(proc.stdout, 60):
            got.append(json.loads(line))
            if "followed-marker" in (got[-1].get("process.cmdline") or ""):
                break
        time.sleep(4.5)  # two more polls: nothing may come twice
    finally:
        proc.send_signal(2)
        out, _ = proc.communicate(timeout=30)
    got += [json.loads(line) for line in out.splitlines() if line.strip()]
    markers = [e for e in got if "followed-marker" in (e.get("process.cmdline") or "")]
    assert len(markers) == 1
    assert len({e["eventId"] for e in got}) == len(got)
    assert proc.returncode == 130


def test_a_cluster_without_audit_is_a_precondition(cli):
    for args in (("query",), ("session", "0" * 32), ("event", "0" * 32), ("report",)):
        run = cli(*args, "--cluster", ELIGIBLE_CLUSTER_ID)
        assert run.exit_code == 5, (args, run.stderr)
        assert f"ackaudit enable --cluster {ELIGIBLE_CLUSTER_ID}" in run.stderr
