"""With --source, the default window is the whole file, however old; --follow needs a cluster."""

import json
import time

from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.world_clusters import AUDITED_CLUSTER_ID
from ackaudit.sandbox.world_history import PAYMENTS_DEV


def old_session_file(sandbox, tmp_path):
    cluster = sandbox.state.clusters[AUDITED_CLUSTER_ID]
    pod = next(p for p in cluster["pods"] if p["namespace"] == "payments")
    when = time.time() - 90 * 86400
    recorder = SessionRecorder(cluster, pod, pod["containers"][0]["name"], PAYMENTS_DEV, ["sh"], when)
    recorder.command(["ls", "/"], cwd="/", pid=20, parent_pid=1, parent_name="sh", when=when + 5)
    path = tmp_path / "old.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in recorder.rows()))
    return path, recorder.trace_id


def test_old_exports_are_read_whole(cli, sandbox, tmp_path):
    path, trace = old_session_file(sandbox, tmp_path)
    session = cli("session", trace, "--source", str(path), "-o", "json")
    assert session.exit_code == 0, session.stderr
    assert session.json()["counts"]["commands"] == 1
    event_id = session.json()["commands"][0]["eventId"]
    assert cli("event", event_id, "--source", str(path)).exit_code == 0
    report = cli("report", "--source", str(path), "-o", "json")
    assert report.exit_code == 0, report.stderr
    assert report.json()["totals"]["sessions"] == 1
    assert cli("session", trace, "--source", str(path), "--since", "30d").exit_code == 3


def test_follow_needs_a_cluster(cli, sandbox, tmp_path):
    path, _ = old_session_file(sandbox, tmp_path)
    run = cli("query", "--source", str(path), "--follow")
    assert run.exit_code == 2 and "does not grow" in run.stderr
