"""What ackaudit writes: hostile audit text escaped in every output, files and devices handled
safely, a closed or full stdout, Ctrl-C, the query table at several widths, contradictory options."""

import csv
import io
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID

from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.world import PAYMENTS_DEV

C = AUDITED_CLUSTER_ID
PROJECT, LOGSTORE = f"k8s-log-{C}", f"advaudit-{C}"
ESC, RLO = "\x1b", "\u202e"
HOSTILE_CMD = ["curl", "-c", f"=HYPERLINK(1) {ESC}]0;owned{ESC}\\ {ESC}[2J {RLO}txt.exe [link=http://x]a[/link] | <b>x</b>"]
HOSTILE_POD = f"@api-{RLO}evil{ESC}[31m"


def add_hostile_session(sandbox):
    cluster = sandbox.state.clusters[C]
    pod = dict(next(p for p in cluster["pods"] if p["namespace"] == "payments"), name=HOSTILE_POD)
    now = time.time() - 120
    recorder = SessionRecorder(cluster, pod, "api", PAYMENTS_DEV, ["sh"], now)
    recorder.command(["curl", "http://x.test/a"], cwd="/tmp", pid=300, parent_pid=1, parent_name="sh", when=now + 1)
    row = recorder.command(HOSTILE_CMD, cwd="=1+1", pid=301, parent_pid=300, parent_name="sh", when=now + 2)
    sandbox.state.events.append(PROJECT, LOGSTORE, recorder.rows())
    return recorder.trace_id, row["eventId"]


def assert_safe(text, where):
    assert ESC not in text and RLO not in text and "\x07" not in text, (where, text[:300])


def test_hostile_text_is_escaped_in_every_human_output(cli, sandbox, tmp_path):
    trace, event_id = add_hostile_session(sandbox)
    runs = {
        "query": cli("query", "--cluster", C, "--since", "1h"),
        "session": cli("session", trace, "--cluster", C),
        "session md": cli("session", trace, "--cluster", C, "--format", "markdown"),
        "event": cli("event", event_id, "--cluster", C),
        "report": cli("report", "--cluster", C, "--since", "1h"),
        "report md": cli("report", "--cluster", C, "--since", "1h", "--format", "markdown"),
        "report html": cli("report", "--cluster", C, "--since", "1h", "--format", "html"),
    }
    for name, run in runs.items():
        assert run.exit_code == 0, (name, run.stderr)
        assert_safe(run.stdout + run.stderr, name)
    assert "\\x1b]0;owned" in runs["query"].stdout and "\\u202e" in runs["query"].stdout
    assert "[link=http://x]" in runs["query"].stdout                 # shown as text, not rich markup
    html = runs["report html"].stdout
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    markdown = runs["report md"].stdout
    assert "<b>" not in re.sub(r"`+[^`]*`+", "", markdown)
    # An error that echoes an id escapes it too.
    missing = cli("session", f"nope{ESC}[2J{RLO}", "--cluster", C)
    assert missing.exit_code != 0
    assert_safe(missing.stderr, "error")


def test_json_stays_faithful_and_csv_neutralises_formulas(cli, sandbox, tmp_path):
    add_hostile_session(sandbox)
    run = cli("query", "--cluster", C, "--since", "1h", "-o", "json")
    assert_safe(run.stdout, "json")
    cmdlines = {e.get("process.cmdline") for e in run.json()}
    assert " ".join(HOSTILE_CMD) in cmdlines
    rows = list(csv.DictReader(io.StringIO(cli("query", "--cluster", C, "--since", "1h", "-o", "csv").stdout)))
    assert any(r["process.cwd"] == "'=1+1" for r in rows) and any(r["k8s.pod.name"].startswith("'@") for r in rows)
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    # An exported csv reads back to the recorded values.
    out = tmp_path / "a.csv"
    assert cli("export", "--cluster", C, "--since", "1h", "--out", str(out)).exit_code == 0
    back = cli("query", "--source", str(out), "-o", "json").json()
    assert {e.get("process.cmdline") for e in back} == cmdlines


@pytest.mark.parametrize("device", ["/dev/null", "/dev/full"])
def test_a_device_is_written_through_and_never_replaced(cli, device):
    for args in (("export", "--cluster", C, "--since", "1d", "--format", "jsonl"),
                 ("report", "--cluster", C, "--since", "1d", "--format", "markdown")):
        run = cli(*args, "--force", "--out", device)
        if device == "/dev/full":
            assert run.exit_code == 1 and f"cannot write {device}: No space left on device" in run.stderr
            assert "Traceback" not in run.stderr
        else:
            assert run.exit_code == 0, run.stderr
        assert stat.S_ISCHR(os.stat(device).st_mode)


def test_dash_is_stdout(cli):
    run = cli("export", "--cluster", C, "--since", "1d", "--format", "jsonl", "--out", "-")
    assert run.exit_code == 0 and all(json.loads(line)["eventId"] for line in run.stdout.splitlines())
    assert "written to stdout" in run.stderr and not os.path.exists("-")
    report = cli("report", "--cluster", C, "--since", "1d", "--format", "markdown", "--out", "-")
    assert report.exit_code == 0 and report.stdout.startswith("# Container operation audit report")


@pytest.mark.parametrize("out", ["{tmp}", "{tmp}/missing/a.jsonl", "/proc/a.jsonl", "/proc/version"])
def test_unwritable_outputs_fail_before_fetching(cli, sandbox, tmp_path, out):
    out = out.format(tmp=tmp_path)
    sandbox.journal.clear()
    run = cli("export", "--cluster", C, "--since", "1d", "--format", "jsonl", "--force", "--out", out)
    assert run.exit_code == 1 and run.stderr.startswith(f"error: cannot write {out}"), run.stderr
    assert not any(e.get("service") == "sls" for e in sandbox.journal)


@pytest.mark.parametrize("args", [
    ("report", "--out", "-", "-o", "json"), ("report", "--format", "html", "--out", "x.pdf"),
    ("report", "--format", "markdown", "-o", "json"), ("export", "--format", "csv", "--out", "a.jsonl"),
    ("export", "--out", "-", "--format", "jsonl", "-o", "json")])
def test_contradictory_options_are_refused(cli, tmp_path, args):
    run = cli(*args, "--cluster", C)
    assert run.exit_code == 2, run.stderr
    assert run.stderr.startswith("error: ") and len(run.stderr.splitlines()) <= 2
    assert not (tmp_path / "x.pdf").exists() and not os.path.exists("a.jsonl")


def served(sandbox, *args, **kwargs):
    env = {**os.environ, **sandbox.client_env(), "ACKAUDIT_RETRY_BASE": "0.01", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "ackaudit", *args], env=env, stderr=subprocess.PIPE, text=True,
                            **kwargs)


def test_a_closed_stdout_ends_quietly(sandbox):
    for args in (("query", "--cluster", C, "--since", "7d", "--limit", "0"),
                 ("export", "--cluster", C, "--since", "7d", "--format", "jsonl", "--out", "-")):
        proc = served(sandbox, *args, stdout=subprocess.PIPE)
        proc.stdout.readline()
        proc.stdout.close()                    # like `| head -1`
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 141, stderr
        assert "error" not in stderr and "Traceback" not in stderr and "Broken pipe" not in stderr


@pytest.mark.parametrize("args", [("query", "--since", "7d"), ("query", "--since", "7d", "-o", "json"),
                                  ("report",), ("clusters",), ("status",)])
def test_a_full_stdout_is_one_error(sandbox, args):
    cluster = () if args == ("clusters",) else ("--cluster", C)
    with open("/dev/full", "w") as full:
        proc = served(sandbox, *args, *cluster, stdout=full)
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 1, stderr
    assert stderr.strip().endswith("error: cannot write to stdout: No space left on device"), stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr


def test_ctrl_c_during_enable_says_the_install_goes_on(sandbox):
    sandbox.state.settings["task_delay"] = 60
    proc = served(sandbox, "enable", "--cluster", ELIGIBLE_CLUSTER_ID, stdout=subprocess.PIPE)
    try:
        deadline = time.time() + 60
        line = ""
        while "installing" not in line and time.time() < deadline and proc.poll() is None:
            line = proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "goes on in ACK" in stderr and f"ackaudit status --cluster {ELIGIBLE_CLUSTER_ID}" in stderr
    assert "Traceback" not in stderr


@pytest.mark.parametrize("width", [60, 80, 200])
def test_the_query_table_fits_and_cuts_no_time_id_or_user(cli, monkeypatch, width):
    monkeypatch.setenv("COLUMNS", str(width))
    events = cli("query", "--cluster", C, "--since", "7d", "--limit", "30", "-o", "json").json()
    run = cli("query", "--cluster", C, "--since", "7d", "--limit", "30")
    lines = run.stdout.splitlines()
    assert max(len(line) for line in lines) <= width
    header, rows = lines[0], lines[2:]
    assert len(rows) == len(events)
    traces = {e["traceId"] for e in events}
    for line, event in zip(rows, events, strict=True):
        time_text = event["time"].replace("T", " ")[:19]
        assert time_text in line
        session = re.search(r"\b([0-9a-f]{8,32})\b", line.split(time_text, 1)[1]).group(1)
        assert event["traceId"].startswith(session)
        assert [t for t in traces if t.startswith(session)] == [event["traceId"]]   # unique among the rows
        if "USER" in header:
            assert f" {event['k8s.user.username']} " in line
    if width >= 200:
        assert "POD" in header and "CWD" in header
    if width < 200:
        assert "left out to fit" in run.stderr


def test_retention_changes_say_what_hot_storage_is(cli):
    run = cli("retention", "--cluster", C, "--days", "200", "--yes")
    assert run.exit_code == 0, run.stderr
    assert "- -> -" not in run.stderr and "hot storage" in run.stderr
