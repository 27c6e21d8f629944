"""export, and query/session/event --source over what it wrote: end to end against the seeded sandbox."""

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID

from ackaudit.sandbox.world import INTRUDER, PAYMENTS_DEV, SEEDED_SECRETS

C = AUDITED_CLUSTER_ID
PROJECT, LOGSTORE = f"k8s-log-{C}", f"advaudit-{C}"
FORMATS = ("jsonl", "csv", "parquet")
DAY = 86400


@pytest.fixture
def window():
    now = int(time.time())
    return now - 8 * DAY, now + 60


@pytest.fixture
def out_dir(tmp_path):
    """A directory of its own, so a file left behind there is noticed."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def engine_count(sandbox, window):
    return sandbox.state.events.count(PROJECT, LOGSTORE, *window)


def export(cli, out, window, *args):
    return cli("export", "--cluster", C, "--from", str(window[0]), "--to", str(window[1]), "--out", str(out),
               *args)


def file_events(path):
    """What an export holds, read without ackaudit."""
    if path.suffix == ".parquet":
        with duckdb.connect() as db:
            return [dict(zip([d[0] for d in r.description], row, strict=True))
                    for r in [db.execute("SELECT * FROM read_parquet(?)", [str(path)])] for row in r.fetchall()]
    if path.suffix == ".csv":
        import csv

        with open(path, newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("fmt", FORMATS)
def test_export_writes_every_event_of_the_window(cli, sandbox, window, out_dir, fmt):
    out = out_dir / f"audit.{fmt}"
    run = export(cli, out, window, "-o", "json")
    assert run.exit_code == 0, run.stderr
    summary = run.json()
    expected = engine_count(sandbox, window)
    assert expected > 300
    assert summary["events"] == expected
    assert summary["format"] == fmt and summary["out"] == str(out) and summary["redacted"] is True
    assert summary["bytes"] == out.stat().st_size > 0
    assert summary["from"].endswith("Z") and summary["to"].endswith("Z")
    events = file_events(out)
    assert len(events) == expected
    assert len({e["eventId"] for e in events}) == expected
    assert os.listdir(out_dir) == [out.name]          # no temporary file left behind


def test_the_count_is_said_once(cli, sandbox, window, out_dir):
    run = export(cli, out_dir / "audit.jsonl", window)
    assert run.exit_code == 0, run.stderr
    assert run.stderr.count("events written") == 1
    assert f"{engine_count(sandbox, window):,} events written to {out_dir / 'audit.jsonl'}" in run.stderr


def test_a_partial_window_keeps_only_its_events(cli, sandbox, out_dir):
    now = int(time.time())
    window = now - 4 * DAY, now - 2 * DAY
    out = out_dir / "middle.jsonl"
    assert export(cli, out, window).exit_code == 0
    events = file_events(out)
    assert len(events) == engine_count(sandbox, window) > 0
    assert all(window[0] <= e["__time__"] < window[1] for e in events)


def test_parquet_columns_are_typed(cli, window, out_dir):
    out = out_dir / "audit.parquet"
    assert export(cli, out, window).exit_code == 0
    with duckdb.connect() as db:
        types = dict(db.execute("SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?))",
                                [str(out)]).fetchall())
    assert types["__time__"] == "BIGINT" and types["process.pid"] == "BIGINT"
    assert types["time"] == "TIMESTAMP WITH TIME ZONE"
    assert types["k8s.user.groups"] == "VARCHAR[]"
    assert types["k8s.pod.labels"] == "MAP(VARCHAR, VARCHAR)"
    assert types["kubeObject.operation.podExecOptions.tty"] == "BOOLEAN"
    assert types["risk"].startswith("STRUCT")


def test_csv_columns_start_like_query_csv(cli, window, out_dir):
    from ackaudit.cli._events import CSV_FIELDS

    out = out_dir / "audit.csv"
    assert export(cli, out, window).exit_code == 0
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:len(CSV_FIELDS)] == CSV_FIELDS
    assert {"__time__", "k8s.user.groups", "k8s.pod.labels"} <= set(header)
    row = file_events(out)[0]
    assert isinstance(json.loads(row["k8s.user.groups"]), list)


def test_secrets_are_masked_unless_no_redact(cli, window, out_dir):
    masked, clear = out_dir / "masked.jsonl", out_dir / "clear.jsonl"
    run = export(cli, masked, window)
    assert run.exit_code == 0
    text = masked.read_text(encoding="utf-8")
    assert not any(secret in text for secret in SEEDED_SECRETS)
    assert "******" in text
    run = export(cli, clear, window, "--no-redact")
    assert run.exit_code == 0
    assert "secrets" in run.stderr and "--no-redact" in run.stderr
    assert all(secret in clear.read_text(encoding="utf-8") for secret in SEEDED_SECRETS)


def test_an_existing_file_is_kept_without_force(cli, window, out_dir):
    out = out_dir / "audit.jsonl"
    out.write_text("precious\n")
    run = export(cli, out, window)
    assert run.exit_code == 2
    assert "already exists" in run.stderr and "--force" in run.stderr
    assert out.read_text() == "precious\n"
    assert os.listdir(out_dir) == [out.name]
    assert export(cli, out, window, "--force").exit_code == 0
    assert out.read_text() != "precious\n"


def test_format_comes_from_the_extension_or_format(cli, window, out_dir):
    run = export(cli, out_dir / "audit.txt", window)
    assert run.exit_code == 2 and "--format" in run.stderr
    out = out_dir / "audit.txt"
    assert export(cli, out, window, "--format", "csv").exit_code == 0
    assert out.read_text(encoding="utf-8").startswith("time,kind,")


def test_interrupted_export_leaves_no_file(sandbox, out_dir):
    # Every shard read hangs, so the export is caught mid-way with its temporary file open.
    sandbox.faults.add({"kind": "slow", "service": "sls", "route": "/shards/", "delay": 3, "count": -1})
    env = {**os.environ, **sandbox.client_env(), "ACKAUDIT_RETRY_BASE": "0.01"}
    proc = subprocess.Popen([sys.executable, "-m", "ackaudit", "export", "--cluster", C, "--since", "7d", "--out",
                             str(out_dir / "audit.parquet")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        deadline = time.time() + 30
        while not os.listdir(out_dir) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert os.listdir(out_dir), "the export never started writing"
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sandbox.faults.clear()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr
    assert os.listdir(out_dir) == []


def test_a_killed_export_leaves_files_that_the_next_one_removes(sandbox, out_dir, window):
    """SIGKILL gives no chance to clean up: the next export to the same file removes what it left."""
    sandbox.faults.add({"kind": "slow", "service": "sls", "route": "/shards/", "delay": 3, "count": -1})
    env = {**os.environ, **sandbox.client_env(), "ACKAUDIT_RETRY_BASE": "0.01"}
    target = out_dir / "audit.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "ackaudit", "export", "--cluster", C, "--since", "7d", "--out",
                             str(target)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    try:
        deadline = time.time() + 30
        while not os.listdir(out_dir) and time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        assert os.listdir(out_dir), "the export never started writing"
        os.killpg(proc.pid, signal.SIGKILL)          # the readers it forked too
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        sandbox.faults.clear()
    left = os.listdir(out_dir)
    assert left and all(name.startswith(".audit.jsonl.") and ".part" in name for name in left)
    mine = out_dir / f".audit.jsonl.{os.getpid()}-00000000-00000000.part"     # another machine's
    mine.write_text("theirs", encoding="utf-8")
    env = {**os.environ, **sandbox.client_env()}
    done = subprocess.run([sys.executable, "-m", "ackaudit", "export", "--cluster", C, "--from", str(window[0]),
                           "--to", str(window[1]), "--out", str(target)], capture_output=True, text=True, env=env,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert sorted(os.listdir(out_dir)) == [mine.name, "audit.jsonl"]


def test_a_failing_read_leaves_no_file_and_no_reader(cli, sandbox, window, out_dir, no_sdk_sleep):
    import threading

    sandbox.faults.add({"kind": "5xx", "service": "sls", "route": "/shards/0", "count": -1, "status": 503})
    run = export(cli, out_dir / "audit.jsonl", window)
    sandbox.faults.clear()
    assert run.exit_code == 1
    assert "error: SLS" in run.stderr
    assert os.listdir(out_dir) == []
    deadline = time.time() + 5
    while any(t.name == "ackaudit-export-reader" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.02)
    assert not any(t.name == "ackaudit-export-reader" for t in threading.enumerate())


def test_a_reader_stopped_early_stops_reading(sandbox):
    """Several PullLogs batches: the reader works ahead, and closing the rows stops it."""
    import threading

    from ackaudit.cloud.credentials import resolve_credentials
    from ackaudit.cloud.endpoints import sls_endpoint
    from ackaudit.cloud.sls import SlsClient
    from ackaudit.sandbox.generate import generate_events
    from ackaudit.services.archive import PULL_GROUPS, read_window

    now = time.time()
    sandbox.state.events.append(PROJECT, LOGSTORE, generate_events(4 * PULL_GROUPS, seed=2, start=now - 3600,
                                                                   end=now - 60))
    env = sandbox.client_env()
    region = env["ALIBABA_CLOUD_REGION_ID"]
    sls = SlsClient(region, sls_endpoint(region, env), resolve_credentials(None, env))
    rows = read_window(sls, PROJECT, LOGSTORE, int(now - 7200), int(now), now=now)
    assert int(next(rows)["__time__"]) >= now - 7200
    assert any(t.name == "ackaudit-export-reader" for t in threading.enumerate())
    rows.close()
    deadline = time.time() + 5
    while any(t.name == "ackaudit-export-reader" for t in threading.enumerate()) and time.time() < deadline:
        time.sleep(0.02)
    assert not any(t.name == "ackaudit-export-reader" for t in threading.enumerate())
    everything = list(read_window(sls, PROJECT, LOGSTORE, int(now - 7200), int(now), now=now))
    assert len(everything) == sandbox.state.events.count(PROJECT, LOGSTORE, int(now - 7200), int(now))
    assert len({r["eventId"] for r in everything}) == len(everything) >= 4 * PULL_GROUPS


def test_a_cluster_without_audit_has_nothing_to_export(cli, out_dir):
    run = cli("export", "--cluster", ELIGIBLE_CLUSTER_ID, "--since", "1d", "--out", str(out_dir / "a.jsonl"))
    assert run.exit_code == 5
    assert "audit is not enabled" in run.stderr and f"ackaudit enable --cluster {ELIGIBLE_CLUSTER_ID}" in run.stderr
    assert os.listdir(out_dir) == []


# -- --source: the same answers as the cluster ------------------------------------------------------

@pytest.fixture
def exports(cli, window, out_dir):
    files = {}
    for fmt in FORMATS:
        files[fmt] = out_dir / f"audit.{fmt}"
        assert export(cli, files[fmt], window).exit_code == 0
    return files


FILTERS = [
    (),
    ("--process", "rm"),
    ("--risky",),
    ("--user", PAYMENTS_DEV["username"]),
    ("--user", "system:serviceaccount:ci:deployer"),
    ("--kind", "exec"),
    ("--namespace", "payments", "--container", "api"),
    ("--where", 'process.cwd: "/tmp" or process.name: curl'),
]


def window_rows(sandbox, window):
    """Every raw row the logstore holds in the window, as GetLogs gives them (the JSON fields as text)."""
    rows, offset = [], 0
    while page := sandbox.state.events.query(PROJECT, LOGSTORE, "*", *window, offset=offset, line=100).rows:
        rows += page
        offset += 100
    return rows


@pytest.fixture
def raw_export(sandbox, window, tmp_path):
    """The console's JSON download of the window: a list of raw rows, the JSON fields as objects."""
    as_objects = [{k: json.loads(v) if k in ("k8s", "host", "process", "kubeObject") else v for k, v in r.items()}
                  for r in window_rows(sandbox, window)]
    path = tmp_path / "raw.json"
    path.write_text(json.dumps(as_objects), encoding="utf-8")
    return path


def assert_same_fields(offline, cluster, what):
    """Equal, and when not, the first field that differs, so a failure says where."""
    if isinstance(cluster, list):
        assert len(offline) == len(cluster), what
        for number, (got, want) in enumerate(zip(offline, cluster, strict=True)):
            assert_same_fields(got, want, (*what, number))
    elif isinstance(cluster, dict):
        assert sorted(offline) == sorted(cluster), what
        for key, want in cluster.items():
            assert_same_fields(offline[key], want, (*what, key))
    else:
        assert offline == cluster and type(offline) is type(cluster), what


def test_query_source_answers_like_the_cluster(cli, window, exports, raw_export):
    """Every format holds whole events; the filters run in the same engine whatever the format."""
    times = ("--from", str(window[0]), "--to", str(window[1]))
    sources = {**exports, "raw": raw_export}
    for filters in FILTERS:
        cluster = cli("query", "--cluster", C, *times, *filters, "--limit", "0", "-o", "json")
        assert cluster.exit_code == 0, cluster.stderr
        assert cluster.json(), filters
        for fmt, path in sources.items():
            offline = cli("query", "--source", str(path), *times, *filters, "--limit", "0", "-o", "json")
            assert offline.exit_code == 0, (fmt, filters, offline.stderr)
            assert_same_fields(offline.json(), cluster.json(), (fmt, *filters))


def test_query_source_sql_and_full_text_like_the_cluster(cli, window, exports):
    """Searches on leaf columns of every type, on words anywhere in an event, and the csv output."""
    times = ("--from", str(window[0]), "--to", str(window[1]))
    wheres = ['process.pid > 100 and process.user.uid: 0', "kubeObject.operation.podExecOptions.tty: true",
              "k8s.user.groups: system", "mysql", 'k8s.pod.labels.app: "payments-api"', "not kind: Command"]
    for where in wheres:
        cluster = cli("query", "--cluster", C, *times, "--where", where, "--limit", "0", "-o", "json")
        assert cluster.exit_code == 0, cluster.stderr
        for fmt, path in exports.items():
            offline = cli("query", "--source", str(path), *times, "--where", where, "--limit", "0", "-o", "json")
            assert offline.exit_code == 0, (fmt, where, offline.stderr)
            assert_same_fields(offline.json(), cluster.json(), (fmt, where))
    cluster = cli("query", "--cluster", C, *times, "--risky", "--limit", "0", "-o", "csv")
    for fmt, path in exports.items():
        assert cli("query", "--source", str(path), *times, "--risky", "--limit", "0", "-o", "csv").stdout \
            == cluster.stdout, fmt


def test_report_source_equals_the_cluster(cli, window, exports, raw_export):
    times = ("--from", str(window[0]), "--to", str(window[1]))
    cluster = cli("report", "--cluster", C, *times, "-o", "json")
    assert cluster.exit_code == 0, cluster.stderr
    want = {k: v for k, v in cluster.json().items() if k not in ("cluster_id", "source", "generated_at")}
    assert want["totals"]["sessions"] > 0 and want["risky_commands"]
    zone = ("--timezone", want["window"]["timezone"])        # a file knows no cluster's region
    for fmt, path in {**exports, "raw": raw_export}.items():
        offline = cli("report", "--source", str(path), *times, *zone, "-o", "json")
        assert offline.exit_code == 0, (fmt, offline.stderr)
        got = offline.json()
        assert got["source"] == str(path)
        # The commands it suggests name the file where the cluster's name the cluster.
        text = json.dumps(got)
        assert f"--source {path}" in text
        got = json.loads(text.replace(f"--source {path}", f"--cluster {C}"))
        assert_same_fields({k: v for k, v in got.items() if k not in ("cluster_id", "source", "generated_at")},
                           want, (fmt,))
    markdown = cli("report", "--cluster", C, *times, "--format", "markdown").stdout
    offline = cli("report", "--source", str(exports["jsonl"]), *times, *zone, "--format", "markdown").stdout
    offline = offline.replace(f"--source {exports['jsonl']}", f"--cluster {C}")
    assert offline[offline.index("\n## "):] == markdown[markdown.index("\n## "):]     # all but the heading


def test_query_source_pages_and_limits_like_the_cluster(cli, window, exports):
    times = ("--from", str(window[0]), "--to", str(window[1]))
    cluster = cli("query", "--cluster", C, *times, "--limit", "150", "--oldest-first", "-o", "json")
    offline = cli("query", "--source", str(exports["parquet"]), *times, "--limit", "150", "--oldest-first",
                  "-o", "json")
    assert [e["eventId"] for e in offline.json()] == [e["eventId"] for e in cluster.json()]
    assert "showing 150 of" in offline.stderr


def test_a_file_is_searched_whole_unless_a_window_is_given(cli, sandbox, window, exports):
    everything = cli("query", "--source", str(exports["jsonl"]), "--limit", "0", "-o", "json").json()
    assert len(everything) == engine_count(sandbox, window)
    last_day = cli("query", "--cluster", C, "--limit", "0", "-o", "json").json()   # the cluster default: 24h
    assert len(last_day) < len(everything)
    now = int(time.time())
    narrowed = cli("query", "--source", str(exports["jsonl"]), "--from", str(now - 2 * DAY), "--limit", "0",
                   "-o", "json").json()
    assert narrowed and len(narrowed) < len(everything)
    assert all(e["__time__"] >= now - 2 * DAY for e in narrowed)


def test_session_source_equals_the_cluster(cli, exports, raw_export):
    trace = cli("query", "--cluster", C, "--user", INTRUDER["username"], "--kind", "exec", "--since", "7d",
                "-o", "json").json()[0]["traceId"]
    cluster = cli("session", trace, "--cluster", C, "-o", "json")
    assert cluster.exit_code == 0, cluster.stderr
    assert cluster.json()["counts"]["risky"] > 0
    for fmt, path in {**exports, "raw": raw_export}.items():
        offline = cli("session", trace, "--source", str(path), "-o", "json")
        assert offline.exit_code == 0, (fmt, offline.stderr)
        assert_same_fields(offline.json(), cluster.json(), (fmt,))
    markdown = cli("session", trace, "--source", str(exports["csv"]), "--format", "markdown")
    assert markdown.stdout == cli("session", trace, "--cluster", C, "--format", "markdown").stdout


def test_event_source_shows_the_same_event(cli, window, exports, raw_export):
    for program in ("mysql", "bash"):
        some = cli("query", "--cluster", C, "--process", program, "--since", "7d", "-o", "json").json()[0]
        cluster = cli("event", some["eventId"], "--cluster", C, "-o", "json").json()
        for fmt, path in {**exports, "raw": raw_export}.items():
            offline = cli("event", some["eventId"], "--source", str(path), "-o", "json")
            assert offline.exit_code == 0, (fmt, offline.stderr)
            assert_same_fields(offline.json()["event"], cluster["event"], (fmt, program))
            assert offline.json()["risk"] == cluster["risk"], fmt


def test_a_raw_sls_export_is_read_too(cli, sandbox, window, tmp_path, raw_export):
    """The console's JSON download: a list of raw rows, the JSON fields as objects or as text."""
    listed, lines = raw_export, tmp_path / "raw.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in window_rows(sandbox, window)), encoding="utf-8")
    cluster = cli("query", "--cluster", C, "--process", "curl", "--from", str(window[0]), "--to", str(window[1]),
                  "--limit", "0", "-o", "json").json()
    for path in (listed, lines):
        offline = cli("query", "--source", str(path), "--process", "curl", "--limit", "0", "-o", "json")
        assert offline.exit_code == 0, offline.stderr
        assert offline.json() == cluster


@pytest.mark.parametrize(("name", "content", "where"), [
    ("bad.jsonl", '{"time": "2026-11-28T05:17:32.413Z", "kind": "Command"}\nnot json\n', "line 2"),
    ("notime.jsonl", '{"kind": "Command"}\n', "line 1"),
    ("list.json", '[{"time": "2026-11-28T05:17:32.413Z"}, 42]', "item 2"),
    ("short.csv", "time,kind\n2026-11-28T05:17:32.413Z,Command\n2026-11-28T05:17:33.000Z\n", "line 3"),
    ("other.csv", "name,age\nx,1\n", "line 1"),
    ("broken.parquet", "this is not parquet", "parquet"),
    ("latin1.jsonl", b'{"time": "2026-11-28T05:17:32.413Z"}\n\xff\xfe\n', "line 2"),
])
def test_garbled_files_exit_2_naming_the_place(cli, tmp_path, name, content, where):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    for command in (("query",), ("session", "abc"), ("event", "abc")):
        run = cli(*command, "--source", str(path))
        assert run.exit_code == 2, run.stderr
        lines = [line for line in run.stderr.splitlines() if line.startswith("error:")]
        assert len(lines) == 1 and str(path) in lines[0] and where in lines[0], run.stderr


def test_a_missing_file_exits_2(cli, tmp_path):
    run = cli("query", "--source", str(tmp_path / "nope.jsonl"))
    assert run.exit_code == 2
    assert "nope.jsonl" in run.stderr and "no such file" in run.stderr


def _pulled_events(sls_client, window):
    """The audit logstore's events as PullLogs hands them over, flattened here without ackaudit:
    JSON fields decoded and walked to dotted names (pod labels stay one object)."""
    def walk(prefix, value, out):
        if isinstance(value, dict) and prefix != "k8s.pod.labels":
            for key, sub in value.items():
                walk(f"{prefix}.{key}", sub, out)
        else:
            out[prefix] = value

    events = []
    shards = [s["shardID"] for s in sls_client.list_shards(PROJECT, LOGSTORE).get_shards_info()]
    for shard in shards:
        for resp in sls_client.pull_log(PROJECT, LOGSTORE, shard, "begin", "end"):
            for log in resp.get_flatten_logs_json():
                if not window[0] <= int(log["__time__"]) < window[1]:
                    continue
                event = {"__time__": int(log["__time__"])}
                for key, value in log.items():
                    if key in ("k8s", "host", "kubeObject", "process"):
                        walk(key, json.loads(value), event)
                    elif not key.startswith("__"):
                        event[key] = value
                events.append(event)
    return events


def _as_instant(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.parametrize("fmt", ("jsonl", "parquet"))
def test_export_holds_the_pulled_events_field_by_field(cli, sandbox, sls_client, window, out_dir, fmt):
    out = out_dir / f"audit.{fmt}"
    assert export(cli, out, window, "--no-redact").exit_code == 0
    expected = _pulled_events(sls_client, window)
    got = []
    for event in file_events(out):
        event = {k: v for k, v in event.items() if v is not None and k != "risk"}
        if fmt == "parquet":       # a TIMESTAMPTZ column; the others hold what JSON would
            event["time"] = event["time"].isoformat()
        got.append(event)
    assert len(got) == len(expected) > 0
    by_id = {e["eventId"]: e for e in expected}
    for event in got:
        want = dict(by_id[event["eventId"]])
        # `time` keeps its microseconds: the same instant, to the microsecond.
        assert _as_instant(event.pop("time")) == _as_instant(want.pop("time")), event["eventId"]
        assert event == want


# -- the export against the per-row reference (tests/export_reference.py) ----------------------------

def _reference_export(sandbox, window, path, fmt, *, redact):
    import export_reference

    from ackaudit.audit.risky import builtin_catalogue
    from ackaudit.cli._events import CSV_FIELDS
    from ackaudit.cloud.credentials import resolve_credentials
    from ackaudit.cloud.endpoints import sls_endpoint
    from ackaudit.cloud.sls import SlsClient

    env = sandbox.client_env()
    region = env["ALIBABA_CLOUD_REGION_ID"]
    sls = SlsClient(region, sls_endpoint(region, env), resolve_credentials(None, env))
    rows = export_reference.pulled_rows(sls, PROJECT, LOGSTORE, *window, now=time.time())
    events = export_reference.events(rows, redact=redact, catalogue=builtin_catalogue())
    return export_reference.write(events, path, fmt, CSV_FIELDS)


def _parquet_rows(path):
    with duckdb.connect() as db:
        db.execute("SET TimeZone = 'UTC'")
        result = db.execute("SELECT * FROM read_parquet(?)", [str(path)])
        columns = [(d[0], d[1]) for d in result.description]
        return columns, result.fetchall()


@pytest.mark.parametrize("redact", (True, False), ids=("redacted", "no-redact"))
@pytest.mark.parametrize("fmt", FORMATS)
def test_export_equals_the_per_row_reference_field_by_field(cli, sandbox, window, out_dir, tmp_path, fmt, redact):
    """The fast export (field plans, batch lines, shards read at once) holds exactly the events the
    per-row implementation writes: same order, same fields, same values, same types."""
    out, reference = out_dir / f"audit.{fmt}", tmp_path / f"reference.{fmt}"
    run = export(cli, out, window, *(() if redact else ("--no-redact",)))
    assert run.exit_code == 0, run.stderr
    count = _reference_export(sandbox, window, reference, fmt, redact=redact)
    assert count == engine_count(sandbox, window) > 300
    if fmt == "parquet":
        (columns, got), (want_columns, want) = _parquet_rows(out), _parquet_rows(reference)
        assert columns == want_columns
        names = [name for name, _ in columns]
    else:
        got, want = file_events(out), file_events(reference)
        names = None
    assert len(got) == len(want) == count
    for index, (new, old) in enumerate(zip(got, want, strict=True)):
        if names is not None:
            new, old = dict(zip(names, new, strict=True)), dict(zip(names, old, strict=True))
        assert list(new) == list(old), index
        for key in old:
            assert new[key] == old[key], (index, key)
    if fmt != "parquet":                   # and the text itself, byte for byte
        assert out.read_bytes() == reference.read_bytes()


@pytest.mark.parametrize("fmt", FORMATS)
def test_shards_read_by_threads_or_processes_give_the_same_file(sandbox, window, out_dir, monkeypatch, fmt):
    """Where there is no fork the shards are read by threads: the same file, byte for byte (parquet: row
    for row)."""
    from ackaudit.audit.risky import builtin_catalogue
    from ackaudit.cli._events import CSV_FIELDS
    from ackaudit.cloud.credentials import resolve_credentials
    from ackaudit.cloud.endpoints import sls_endpoint
    from ackaudit.cloud.sls import SlsClient
    from ackaudit.services import exporter
    from ackaudit.services.archive import export_logstore
    from ackaudit.services.files import output_target

    env = sandbox.client_env()
    region = env["ALIBABA_CLOUD_REGION_ID"]
    sls = SlsClient(region, sls_endpoint(region, env), resolve_credentials(None, env))
    assert len(sls.shard_ids(PROJECT, LOGSTORE)) > 1
    files = {}
    for fork in (True, False):
        monkeypatch.setattr(exporter, "_FORK", fork)
        files[fork] = out_dir / f"fork-{fork}.{fmt}"
        result = export_logstore(sls, PROJECT, LOGSTORE, *window, output_target(str(files[fork]), force=False), fmt,
                                 now=time.time(), redact=True, catalogue=builtin_catalogue(), csv_order=CSV_FIELDS)
        assert result.events == engine_count(sandbox, window)
    if fmt == "parquet":
        assert _parquet_rows(files[True]) == _parquet_rows(files[False])
    else:
        assert files[True].read_bytes() == files[False].read_bytes()
    assert sorted(os.listdir(out_dir)) == sorted(f.name for f in files.values())     # no part left behind
