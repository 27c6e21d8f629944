"""`ackaudit report` end to end against the seeded sandbox: the numbers are those of the events stored."""

import json
import os
import re
import shutil
import subprocess
import time
from collections import Counter
from importlib import resources

import pytest
from conftest import AUDITED_CLUSTER_ID

from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.world import INTRUDER, PAYMENTS_DEV, SEEDED_SECRETS

C = AUDITED_CLUSTER_ID
PROJECT, LOGSTORE = f"k8s-log-{C}", f"advaudit-{C}"
TOP_LEVEL_KEYS = {"cluster_id", "source", "generated_at", "window", "redacted", "complete", "warnings", "totals",
                  "activity", "top_users", "top_namespaces", "top_pods", "top_programs", "risky_programs",
                  "risky_commands", "risky_commands_more", "sessions_to_review", "sessions_to_review_more"}
SECTIONS = ("Summary", "Containers entered per day", "Sessions worth a look", "Top users", "Top namespaces",
            "Top pods entered", "Top programs", "Risky programs", "Risky commands")


@pytest.fixture
def window():
    now = int(time.time())
    return now - 8 * 86400, now + 60


def report(cli, window, *args):
    return cli("report", "--cluster", C, "--from", str(window[0]), "--to", str(window[1]), *args)


def add_session(sandbox, user, argv_lines, when):
    """Record a session in the first payments-api pod; returns its traceId."""
    cluster = sandbox.state.clusters[C]
    pod = next(p for p in cluster["pods"] if p["labels"].get("app") == "payments-api")
    recorder = SessionRecorder(cluster, pod, "api", user, ["sh"], when)
    for offset, argv in enumerate(argv_lines, start=1):
        recorder.command(argv, cwd="/app", pid=100 + offset, parent_pid=100, parent_name="sh", when=when + offset)
    sandbox.state.events.append(PROJECT, LOGSTORE, recorder.rows())
    return recorder.trace_id


def stored_events(sandbox, window):
    """Every event of the window as the sandbox stored it: the raw row (the store keeps column names
    lower-cased) with its JSON columns decoded
    here, in plain Python (not by the query engine or ackaudit's field flattening)."""
    store = sandbox.state.events
    table = store._logstore(PROJECT, LOGSTORE).table
    cursor = store._db.cursor()
    cursor.execute(f'SELECT * FROM {table} WHERE "__time__" >= ? AND "__time__" < ?', list(window))
    names = [d[0] for d in cursor.description]
    events = []
    for values in cursor.fetchall():
        row = dict(zip(names, values, strict=True))
        events.append({key: json.loads(value) if key in ("k8s", "process", "kubeobject") and value else value
                       for key, value in row.items()})
    return events


# What the report calls risky, written out from the bundled catalogue and the guide's behaviours.
CATALOGUE = {p["name"] for p in json.loads(
    resources.files("ackaudit.data").joinpath("risky-programs.json").read_text())["programs"]}
CREDENTIAL_FILES = ("/var/run/secrets/kubernetes.io/serviceaccount/token", "/etc/shadow")


def risky_by_hand(name, cmdline):
    words = cmdline.split()
    return (name in CATALOGUE or name.startswith(".")
            or (name == "base64" and any(w in ("-d", "--decode") for w in words))
            or any(w in CREDENTIAL_FILES for w in words[1:]))


def test_totals_are_what_the_stored_events_hold(cli, sandbox, window):
    run = report(cli, window, "-o", "json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    events = stored_events(sandbox, window)
    execs = [e for e in events if e["kind"] == "Kubernetes"
             and (e.get("kubeobject") or {}).get("operation", {}).get("kind") == "PodExec"]
    commands = [e for e in events if e["kind"] == "Command"]
    user = lambda e: e["k8s"]["user"]["username"]                          # noqa: E731
    program = lambda e: e["process"]["name"]                               # noqa: E731
    risky = [c for c in commands if risky_by_hand(program(c), c["process"]["cmdline"])]
    totals = data["totals"]
    assert totals["sessions"] == len(execs) > 50
    assert totals["pods"] == len({(e["k8s"]["pod"]["namespace"], e["k8s"]["pod"]["name"]) for e in execs})
    assert totals["users"] == len({user(e) for e in execs})
    assert totals["commands"] == len(commands)
    assert totals["programs"] == len({program(c) for c in commands})
    assert totals["risky_commands"] == len(risky) > 0
    assert sum(b["sessions"] for b in data["activity"]["buckets"]) == len(execs)
    by_user = Counter(user(e) for e in execs)
    assert {u["username"]: u["sessions"] for u in data["top_users"]} == dict(by_user)
    risky_by_user = Counter(user(c) for c in risky)
    assert {u["username"]: u["risky_commands"] for u in data["top_users"]} == {u: risky_by_user.get(u, 0)
                                                                                 for u in by_user}
    runs = Counter(program(c) for c in commands)
    assert [(p["program"], p["runs"]) for p in data["top_programs"]][:3] == \
        sorted(runs.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert sum(p["runs"] for p in data["risky_programs"]) == len(risky)
    assert len(data["risky_commands"]) + data["risky_commands_more"] == len(risky)
    assert data["complete"] is True and data["warnings"] == []


def test_the_intruders_session_is_the_first_worth_a_look(cli, window):
    data = report(cli, window, "-o", "json").json()
    first = data["sessions_to_review"][0]
    assert first["username"] == INTRUDER["username"]
    assert first["unusual_hour"] is True and first["local_start"].startswith("03:")
    assert first["risky_commands"] == max(s["risky_commands"] for s in data["sessions_to_review"])
    assert first["command"] == f"ackaudit session {first['trace_id']} --cluster {C}"
    opened = cli(*first["command"].split()[1:], "-o", "json")
    assert opened.exit_code == 0, opened.stderr
    assert opened.json()["username"] == INTRUDER["username"]
    assert opened.json()["counts"]["commands"] == first["commands"]


def test_json_keys_are_stable(cli, window):
    data = report(cli, window, "-o", "json").json()
    assert set(data) == TOP_LEVEL_KEYS
    assert set(data["totals"]) == {"sessions", "pods", "users", "commands", "programs", "risky_commands",
                                   "first_activity", "last_activity"}
    assert set(data["window"]) == {"from", "to", "timezone", "utc_offset"}
    assert data["window"]["timezone"] == "Asia/Shanghai" and data["window"]["utc_offset"] == "+08:00"
    assert set(data["top_users"][0]) == {"username", "aliuid", "service_account", "sessions", "commands",
                                         "risky_commands", "pods", "last_seen"}
    assert set(data["risky_commands"][0]) == {"time", "username", "aliuid", "namespace", "pod", "container",
                                              "program", "cmdline", "category", "reason", "traceId", "eventId", "command"}
    assert set(data["sessions_to_review"][0]) == {"trace_id", "username", "aliuid", "namespace", "pod", "started",
                                                  "ended", "commands", "risky_commands", "unusual_hour",
                                                  "local_start", "reasons", "command"}
    ci = next(u for u in data["top_users"] if u["username"].startswith("system:serviceaccount:"))
    assert ci["service_account"] is True and ci["aliuid"] == ""
    assert data["activity"]["unit"] == "day"


def test_short_windows_count_per_hour(cli):
    data = cli("report", "--cluster", C, "--since", "24h", "-o", "json").json()
    assert data["activity"]["unit"] == "hour"
    assert 24 <= len(data["activity"]["buckets"]) <= 25
    assert sum(b["sessions"] for b in data["activity"]["buckets"]) == data["totals"]["sessions"]


def test_markdown_and_html_have_every_section_and_no_secret(cli, window, tmp_path):
    for name in ("report.md", "report.html"):
        run = report(cli, window, "--out", str(tmp_path / name))
        assert run.exit_code == 0, run.stderr
        assert f"to {tmp_path / name}" in run.stderr
        text = (tmp_path / name).read_text(encoding="utf-8")
        for section in SECTIONS:
            assert section in text, (name, section)
        assert INTRUDER["username"] in text
        for secret in SEEDED_SECRETS:
            assert secret not in text, (name, secret)
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<svg" in html
    assert not re.search(r"<(script|link|img|iframe|object|embed)\b|\bsrc\s*=|\bhref\s*=\s*\"(?!#)|url\(|@import", html,
                         flags=re.IGNORECASE), "the HTML must be self-contained"


def test_no_redact_shows_the_secrets(cli, window):
    run = report(cli, window, "--format", "markdown", "--no-redact")
    assert run.exit_code == 0
    assert any(secret in run.stdout for secret in SEEDED_SECRETS)
    assert "secrets included" in run.stdout


def test_html_escapes_what_commands_contain(cli, sandbox, window):
    now = time.time()
    add_session(sandbox, PAYMENTS_DEV, [["curl", "http://x.test/?q=<script>alert(1)</script>", "-o", "a|b"]], now - 60)
    html = report(cli, (window[0], int(now) + 60), "--format", "html").stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    markdown = report(cli, (window[0], int(now) + 60), "--format", "markdown").stdout
    assert r"<script>alert(1)</script> -o a\|b`" in markdown


def test_an_existing_file_is_not_overwritten_without_force(cli, window, tmp_path):
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / "audit.html"
    target.write_text("keep me", encoding="utf-8")
    run = report(cli, window, "--out", str(target))
    assert run.exit_code == 2
    assert "already exists" in run.stderr and "--force" in run.stderr
    assert target.read_text(encoding="utf-8") == "keep me"
    forced = report(cli, window, "--out", str(target), "--force")
    assert forced.exit_code == 0, forced.stderr
    assert target.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in target.parent.iterdir()] == ["audit.html"]     # no temporary file left behind


def test_the_format_comes_from_the_file_name_or_is_asked_for(cli, window, tmp_path):
    run = report(cli, window, "--out", str(tmp_path / "audit.txt"))
    assert run.exit_code == 2 and ".md or .html" in run.stderr
    assert not (tmp_path / "audit.txt").exists()
    assert report(cli, window, "--format", "pdf").exit_code == 2


def test_an_empty_window_says_so(cli, tmp_path):
    empty = ("--from", "2020-01-01", "--to", "2020-01-02")
    run = cli("report", "--cluster", C, *empty)
    assert run.exit_code == 0
    assert "no container was entered" in run.stderr
    data = cli("report", "--cluster", C, *empty, "-o", "json").json()
    assert data["totals"]["sessions"] == data["totals"]["commands"] == 0
    assert data["sessions_to_review"] == [] and data["risky_commands"] == []
    assert all(b["sessions"] == 0 for b in data["activity"]["buckets"])
    markdown = cli("report", "--cluster", C, *empty, "--format", "markdown").stdout
    assert "No container was entered and no command was recorded in this window." in markdown


def test_the_terminal_report_shows_each_part(cli, window):
    run = report(cli, window)
    assert run.exit_code == 0, run.stderr
    for part in ("Containers entered per day", "Sessions worth a look", "Top users", "Risky programs",
                 "Risky commands, newest first", "(service account)", "█", f"--cluster {C}"):
        assert part in run.stdout, part
    for secret in SEEDED_SECRETS:
        assert secret not in run.stdout


def test_csv_lists_the_risky_commands(cli, window):
    run = report(cli, window, "-o", "csv")
    assert run.exit_code == 0
    header, *rows = run.stdout.splitlines()
    assert header.startswith("time,username,aliuid,namespace,pod,container,program,cmdline")
    assert 0 < len(rows) <= 50


def test_sessions_older_than_the_session_search_get_a_since(cli):
    data = cli("report", "--cluster", C, "--since", "45d", "-o", "json").json()
    assert data["sessions_to_review"]
    assert all(s["command"].endswith("--since 45d") for s in data["sessions_to_review"])


def test_a_time_zone_can_be_chosen(cli, window):
    data = report(cli, window, "--timezone", "UTC", "-o", "json").json()
    assert data["window"]["timezone"] == "UTC" and data["window"]["utc_offset"] == "+00:00"
    # 03:07 in Shanghai is 19:07 UTC: not a night-time entry there.
    first = data["sessions_to_review"][0]
    assert first["username"] == INTRUDER["username"] and first["unusual_hour"] is False
    assert report(cli, window, "--timezone", "Mars/Olympus").exit_code == 2


@pytest.mark.parametrize("zone", ["x" * 10_000, "Asia/" + "x" * 300, "../../etc/passwd", ""])
def test_an_impossible_time_zone_is_a_short_usage_error(cli, zone):
    run = cli("report", "--cluster", C, "--since", "1d", "--timezone", zone)
    assert run.exit_code == 2 and "unknown time zone" in run.stderr, run.stderr[:300]
    assert "this is a bug" not in run.stderr and len(run.stderr) < 600


CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_html_report_renders_in_a_browser(cli, window, tmp_path):
    """The page as a browser builds it shows the engine's numbers and the intruder's session."""
    page = tmp_path / "report.html"
    assert report(cli, window, "--out", str(page)).exit_code == 0
    data = report(cli, window, "-o", "json").json()
    dom = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         check=True, capture_output=True, text=True, timeout=120).stdout
    cards = dict((label, int(n)) for n, label in re.findall(
        r'<div class="n">(\d+)</div><div class="l">([^<]+)</div>', dom))
    totals = data["totals"]
    assert cards == {"Containers entered": totals["sessions"], "Pods entered": totals["pods"],
                     "Users": totals["users"], "Commands": totals["commands"], "Programs": totals["programs"],
                     "Risky commands": totals["risky_commands"]}
    assert data["sessions_to_review"][0]["trace_id"] in dom
    first_risky = data["risky_commands"][0]
    assert f'id="event-{first_risky["eventId"]}"' in dom and f"ackaudit event {first_risky['eventId']}" in dom


def test_the_panels_statements_run_at_the_same_time(cli, sandbox, window):
    """Every GetLogs answers 0.5 s late. One after another, no two statements would arrive at the
    sandbox within 0.5 s of each other; run concurrently, several arrive together, never more
    than the pool's four (a fifth can only start once one of the first has had its 0.5 s)."""

    baseline = json.loads(report(cli, window, "-o", "json").stdout)
    sandbox.faults.add({"kind": "slow", "service": "sls", "route": "/logs", "delay": 0.5, "count": -1})
    seen = len(sandbox.recent_requests())
    try:
        run = report(cli, window, "-o", "json")
    finally:
        sandbox.faults.clear()
    assert run.exit_code == 0, run.stderr
    slow = json.loads(run.stdout)
    for answer in (baseline, slow):
        answer.pop("generated_at", None)
    assert slow == baseline
    arrivals = sorted(entry["time"] for entry in sandbox.recent_requests()[seen:]
                      if entry["action"] in ("GetLogs", "GetLogsV2"))
    assert len(arrivals) >= 8, arrivals
    together = [sum(1 for other in arrivals if first <= other < first + 0.4) for first in arrivals]
    assert max(together) >= 2, "the statements reached the sandbox one after another"
    assert max(together) <= 4, f"{max(together)} statements in flight at once; the pool allows four"
