"""Audit data written by whoever can exec into a container: ids that are shell code, cells with a
bare carriage return, invisible characters. What ackaudit prints from them must stay what it was."""

import csv
import io
import shlex
import time

import pytest
from conftest import AUDITED_CLUSTER_ID

from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.world import PAYMENTS_DEV

C = AUDITED_CLUSTER_ID
PROJECT, LOGSTORE = f"k8s-log-{C}", f"advaudit-{C}"


def add_session(sandbox, trace_id=None, commands=(["rm", "-rf", "/var/lib/app"],), cwd="/tmp"):
    """One recorded session in the payments namespace; returns its rows as stored."""
    cluster = sandbox.state.clusters[C]
    pod = next(p for p in cluster["pods"] if p["namespace"] == "payments")
    now = time.time() - 120
    recorder = SessionRecorder(cluster, pod, "api", PAYMENTS_DEV, ["sh"], now)
    for i, argv in enumerate(commands):
        recorder.command(list(argv), cwd=cwd, pid=300 + i, parent_pid=1, parent_name="sh", when=now + 1 + i)
    rows = recorder.rows()
    if trace_id is not None:
        for row in rows:
            row["traceId"] = trace_id
    sandbox.state.events.append(PROJECT, LOGSTORE, rows)
    return rows


@pytest.mark.parametrize("trace_id", ["3f9a0c;touch /tmp/owned;#", "--source=/etc/passwd", "a b'c\"$(id)"])
def test_a_suggested_session_command_pastes_back_to_the_same_id(cli, sandbox, trace_id):
    rows = add_session(sandbox, trace_id)
    event = cli("event", rows[1]["eventId"], "--cluster", C, "-o", "json")
    assert event.exit_code == 0, event.stderr
    words = shlex.split(event.json()["session"])
    assert words[:2] == ["ackaudit", "session"] and trace_id in words
    assert words.index(trace_id) == (len(words) - 1 if trace_id.startswith("-") else 2)
    if trace_id.startswith("-"):
        assert words[-2] == "--"
    assert words[words.index("--cluster") + 1] == C
    # The table says the same command.
    table = cli("event", rows[1]["eventId"], "--cluster", C)
    line = next(x for x in table.stderr.splitlines() if "the whole session:" in x)
    assert shlex.split(line.split("the whole session:", 1)[1]) == words
    # The report's sessions to review hold the same quoted commands.
    report = cli("report", "--cluster", C, "--since", "1h", "-o", "json")
    assert report.exit_code == 0, report.stderr
    review = next(s for s in report.json()["sessions_to_review"] if s["trace_id"] == trace_id)
    words = shlex.split(review["command"])
    assert trace_id in words and words[words.index("--cluster") + 1] == C


def test_an_event_without_a_session_suggests_none(cli, sandbox):
    rows = add_session(sandbox, "")
    event = cli("event", rows[1]["eventId"], "--cluster", C, "-o", "json")
    assert event.exit_code == 0, event.stderr
    assert event.json()["session"] is None
    assert "the whole session" not in cli("event", rows[1]["eventId"], "--cluster", C).stderr


def test_a_carriage_return_keeps_a_csv_row_whole(cli, sandbox, tmp_path):
    add_session(sandbox, commands=[["echo", "a\r=HYPERLINK(\"http://x\")"], ["id"]], cwd="/tmp\rx")
    out = cli("query", "--cluster", C, "--since", "1h", "--namespace", "payments", "-o", "csv")
    assert out.exit_code == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout, newline="")))
    cmdlines = [r["process.cmdline"] for r in rows]
    assert 'echo a\r=HYPERLINK("http://x")' in cmdlines
    assert all(r["process.cwd"] in ("", "/tmp\rx") for r in rows if r["kind"] == "Command")
    assert '"echo a\r=HYPERLINK(""http://x"")"' in out.stdout         # quoted: no reader splits it
    exported = tmp_path / "a.csv"
    assert cli("export", "--cluster", C, "--since", "1h", "--out", str(exported)).exit_code == 0
    assert '"echo a\r=HYPERLINK(""http://x"")"' in exported.read_bytes().decode()
    back = cli("query", "--source", str(exported), "--process", "echo", "-o", "json")
    assert back.exit_code == 0, back.stderr
    assert 'echo a\r=HYPERLINK("http://x")' in {e["process.cmdline"] for e in back.json()}


def test_a_masked_secret_does_not_hide_a_risk(cli, sandbox):
    # `--password=VALUE` is masked; the value is what makes the command risky.
    rows = add_session(sandbox, commands=[["sed", "-n", "p", "password=/etc/shadow"], ["id"]])
    trace = rows[0]["traceId"]
    data = cli("session", trace, "--cluster", C, "-o", "json").json()
    assert [c["process.cmdline"] for c in data["risky"]] == ["sed -n p password=******"]
    assert data["risky"][0]["risk"]["category"] == "credential-access" and data["counts"]["risky"] == 1
    assert data["tree"][0]["cmdline"] == "sed -n p password=******" and data["tree"][0]["risk"]
    assert "/etc/shadow" not in cli("session", trace, "--cluster", C, "-o", "json").stdout
    table = cli("session", trace, "--cluster", C)
    assert "1 risky" in table.stdout and "! sed" in table.stdout and "/etc/shadow" not in table.stdout
    markdown = cli("session", trace, "--cluster", C, "--format", "markdown").stdout
    assert "credential-access" in markdown and "/etc/shadow" not in markdown
    shown = cli("session", trace, "--cluster", C, "--no-redact", "-o", "json").json()
    assert shown["risky"][0]["process.cmdline"] == "sed -n p password=/etc/shadow"


def test_a_lone_surrogate_in_a_file_is_read_as_a_replacement_character(cli, sandbox, tmp_path):
    import json

    add_session(sandbox, commands=[["echo", "x"]])
    exported = tmp_path / "a.jsonl"
    assert cli("export", "--cluster", C, "--since", "1h", "--format", "jsonl", "--out", str(exported)).exit_code == 0
    events = [json.loads(line) for line in exported.read_text().splitlines()]
    target = next(e for e in events if e.get("process.cmdline") == "echo x")
    target["process.cmdline"] = "echo \ud800 x \U0001f600"        # json.dumps writes "\ud800" for it
    hostile = tmp_path / "b.jsonl"
    hostile.write_text("".join(json.dumps(e) + "\n" for e in events))
    for fmt in ("table", "json", "csv"):
        run = cli("query", "--source", str(hostile), "--process", "echo", "-o", fmt)
        assert run.exit_code == 0, run.stderr
        assert "Traceback" not in run.stderr and "bug" not in run.stderr
    assert [e["process.cmdline"] for e in cli("query", "--source", str(hostile), "--process", "echo",
                                              "-o", "json").json()] == ["echo \ufffd x \U0001f600"]


def test_a_trailing_backslash_cannot_escape_the_markup_after_it(cli, sandbox):
    trace_id = "3f9a0c\\\\\\"                               # three backslashes, then the markup's `[/bold]`
    add_session(sandbox, trace_id, commands=[["rm", "-rf", "/x\\"], ["ls", "a\\\\"]])
    report = cli("report", "--cluster", C, "--since", "1h")
    assert report.exit_code == 0, report.stderr
    assert "[/" not in report.stdout and f"{trace_id}  " in report.stdout
    session = cli("session", trace_id, "--cluster", C)
    assert session.exit_code == 0, session.stderr
    assert "[/" not in session.stdout and f"session       {trace_id}\n" in session.stdout
    assert "rm -rf /x\\ (300)" in session.stdout and "ls a\\\\ (301)" in session.stdout


def test_query_csv_reads_back_with_its_exec_events(cli, sandbox, tmp_path):
    add_session(sandbox, commands=[["id"]])
    live = cli("query", "--cluster", C, "--since", "1h", "-o", "json").json()
    assert any(e["kind"] == "Kubernetes" for e in live)
    saved = tmp_path / "q.csv"
    saved.write_text(cli("query", "--cluster", C, "--since", "1h", "-o", "csv").stdout)
    back = cli("query", "--source", str(saved), "-o", "json")
    assert back.exit_code == 0, back.stderr
    assert sorted(e["eventId"] for e in back.json()) == sorted(e["eventId"] for e in live)
