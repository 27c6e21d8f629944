"""Every answer is complete or says it is not; errors keep their class; the same condition gets the
same exit code in every command. Driven through the CLI against the sandbox with injected faults."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import (
    AUDITED_CLUSTER_ID,
    ELIGIBLE_CLUSTER_ID,
    INELIGIBLE_CLUSTER_ID,
    SERVERLESS_CLUSTER_ID,
    logstore_of,
)

AUDITED_PROJECT = f"k8s-log-{AUDITED_CLUSTER_ID}"
AUDITED_LOGSTORE = f"advaudit-{AUDITED_CLUSTER_ID}"
CONFIGMAP = "ConfigMap kube-system/alibaba-log-configuration"
METADATA = "cluster meta_data AuditProjectName"


@pytest.fixture(autouse=True)
def _fast(monkeypatch, no_sdk_sleep):
    """No waiting on the SLS SDK's own retries, and no extra attempts on incomplete answers."""
    monkeypatch.setenv("ACKAUDIT_INCOMPLETE_RETRIES", "0")


def fault(sandbox, kind, service, route, count=-1, **extra):
    sandbox.faults.add({"kind": kind, "service": service, "route": route, "count": count, **extra})


def warnings_of(run):
    return [line for line in run.stderr.splitlines() if line.startswith("warning:")]


def errors_of(run):
    return [line for line in run.stderr.splitlines() if line.startswith("error:")]


# -- clusters -------------------------------------------------------------------------------------
def test_a_failed_node_pool_read_is_unknown_not_disabled(cli, sandbox):
    fault(sandbox, "5xx", "ack", f"{ELIGIBLE_CLUSTER_ID}/nodepools$")
    run = cli("clusters", "-o", "json")
    row = next(r for r in run.json() if r["cluster_id"] == ELIGIBLE_CLUSTER_ID)
    assert (row["audit_status"], row["complete"]) == ("unknown", False)
    assert "cannot read the node pools" in row["reason"]
    assert run.exit_code == 1
    assert any(f"cluster {ELIGIBLE_CLUSTER_ID}: cannot read its node pools" in w for w in warnings_of(run))
    allowed = cli("clusters", "--allow-partial")
    assert allowed.exit_code == 0 and "unknown" in allowed.stdout
    assert any("node pools" in w for w in warnings_of(allowed))


def test_a_refused_node_pool_read_exits_4(cli, sandbox):
    fault(sandbox, "deny", "ack", f"{ELIGIBLE_CLUSTER_ID}/nodepools$")
    run = cli("clusters")
    assert run.exit_code == 4
    assert any("Forbidden.RAM" in w for w in warnings_of(run))


# -- status ---------------------------------------------------------------------------------------
def test_status_says_what_it_could_not_read(cli, sandbox):
    fault(sandbox, "5xx", "ack", r"GET /addons/")            # the newer-version check
    fault(sandbox, "5xx", "sls", r"GET /jobs$")               # the alert rules
    run = cli("status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert run.exit_code == 1
    data = run.json()
    assert data["complete"] is False
    assert any("cannot check for a newer ack-advanced-audit" in g for g in data["gaps"])
    assert any("cannot list alert rules" in g for g in data["gaps"])
    assert "--allow-partial" in run.stderr
    allowed = cli("status", "--cluster", AUDITED_CLUSTER_ID, "--allow-partial")
    assert allowed.exit_code == 0
    assert any("cannot list alert rules" in w for w in warnings_of(allowed))


def test_status_newest_event_counts_incomplete_answers(cli, sandbox):
    fault(sandbox, "incomplete", "sls", "/logs$")
    run = cli("status", "--cluster", AUDITED_CLUSTER_ID)
    assert run.exit_code == 1
    assert "newest event   unknown" in run.stdout
    assert any("newest event" in w and "incomplete" in w for w in warnings_of(run))


def test_status_on_a_cluster_without_audit_says_so_and_how_to_enable(cli):
    run = cli("status", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 5
    assert "audit          disabled" in run.stdout          # what it found, then why and what to do
    assert errors_of(run) == [f"error: audit is not enabled on {ELIGIBLE_CLUSTER_ID}"]
    assert f"ackaudit enable --cluster {ELIGIBLE_CLUSTER_ID}" in run.stderr
    ineligible = cli("status", "--cluster", INELIGIBLE_CLUSTER_ID)
    assert ineligible.exit_code == 5
    assert "cannot be audited" in ineligible.stderr
    assert f"ackaudit doctor --cluster {INELIGIBLE_CLUSTER_ID}" in ineligible.stderr
    assert "ackaudit enable" not in ineligible.stderr


# -- where the SLS project comes from -------------------------------------------------------------
def test_the_project_source_is_shown_in_verbose_and_status(cli):
    # The cluster's metadata names the project and the audit logstore is there: the ConfigMap,
    # which names the same project, is not read (services/cluster.py).
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 0, run.stderr
    assert f"· SLS project {AUDITED_PROJECT} (from the {METADATA})" in run.stderr
    status = cli("status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert (status.json()["project"], status.json()["project_source"]) == (AUDITED_PROJECT, METADATA)


def test_an_unreadable_configmap_is_a_warning_not_a_silent_fallback(cli, sandbox, monkeypatch):
    monkeypatch.setenv("ACKAUDIT_PROJECT_CACHE_TTL", "0")     # each run discovers the project
    fault(sandbox, "5xx", "kube", "/configmaps/alibaba-log-configuration$")
    # Not needed: the metadata's project holds the logstore.
    run = cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1", "-o", "json")
    assert run.exit_code == 0 and len(run.json()) == 1 and warnings_of(run) == []
    # Needed, because SLS would not say whether that project holds the logstore.
    fault(sandbox, "deny", "sls", r"GET /logstores/advaudit-[0-9a-f]+$", count=1)
    run = cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1", "-o", "json")
    assert run.exit_code == 0 and len(run.json()) == 1   # the fallback project holds the logstore
    assert any(f"cannot read {CONFIGMAP}" in w and "instead" in w for w in warnings_of(run))
    fault(sandbox, "deny", "sls", r"GET /logstores/advaudit-[0-9a-f]+$", count=1)
    status = cli("status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 1
    assert status.json()["project_source"] != CONFIGMAP
    assert any(f"cannot read {CONFIGMAP}" in g for g in status.json()["gaps"])


def test_an_unreadable_configmap_never_says_audit_is_not_enabled(cli, sandbox):
    assert cli("query", "--cluster", ELIGIBLE_CLUSTER_ID).exit_code == 5   # it is not, when we can tell
    fault(sandbox, "5xx", "kube", "/configmaps/")
    run = cli("query", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 1
    assert "cannot tell whether audit is enabled" in run.stderr and "not enabled:" not in run.stderr
    sandbox.faults.clear()
    fault(sandbox, "deny", "kube", "/configmaps/")
    assert cli("query", "--cluster", ELIGIBLE_CLUSTER_ID).exit_code == 4


# -- report ---------------------------------------------------------------------------------------
def _night_sessions(sandbox, count, start):
    """`count` exec sessions entered between 01:00 and 02:00 China time, from `start` (UTC)."""
    from ackaudit.sandbox.events import SessionRecorder
    from ackaudit.sandbox.world import PAYMENTS_DEV

    cluster = sandbox.state.clusters[AUDITED_CLUSTER_ID]
    pod = next(p for p in cluster["pods"] if p["namespace"] == "payments")
    rows = []
    for i in range(count):
        recorder = SessionRecorder(cluster, pod, pod["containers"][0]["name"], PAYMENTS_DEV, ["sh"],
                                   start + i * 3600 / count)
        rows += recorder.rows()
    sandbox.state.events.append(AUDITED_PROJECT, AUDITED_LOGSTORE, rows)


def test_report_ranks_every_session_entered_at_night(cli, sandbox):
    # A past night, 01:00 China time (17:00 UTC the day before), in a window of its own.
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    night = today - timedelta(days=3, hours=7)                        # 17:00 UTC, three days ago
    _night_sessions(sandbox, 1_200, night.timestamp())
    window = ("--from", (night - timedelta(minutes=1)).isoformat(), "--to", (night + timedelta(hours=1)).isoformat())
    # Every exec session of the window (all entered at night), counted by the sandbox's own store.
    rows = sandbox.state.events.query(AUDITED_PROJECT, AUDITED_LOGSTORE,
                                      "kind: Kubernetes | select count(distinct traceId) as n",
                                      int(night.timestamp()) - 60, int(night.timestamp()) + 3600).rows
    expected = int(rows[0]["n"])
    assert expected >= 1_200
    run = cli("report", "--cluster", AUDITED_CLUSTER_ID, *window, "-o", "json")
    assert run.exit_code == 0, run.stderr
    data = run.json()
    assert len(data["sessions_to_review"]) + data["sessions_to_review_more"] == expected


def test_an_incomplete_report_exits_1_unless_allowed(cli, sandbox, tmp_path):
    fault(sandbox, "incomplete", "sls", "/logs$")
    run = cli("report", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert run.exit_code == 1
    assert run.json()["complete"] is False
    assert "--allow-partial" in run.stderr
    out = tmp_path / "r.md"
    allowed = cli("report", "--cluster", AUDITED_CLUSTER_ID, "--out", str(out), "--allow-partial")
    assert allowed.exit_code == 0 and "incomplete" in out.read_text()


# -- disable --purge-logstore ---------------------------------------------------------------------
def test_purge_never_confirms_against_an_incomplete_count(cli, sandbox):

    fault(sandbox, "incomplete", "sls", "/logs$")
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--purge-logstore", "--yes")
    assert run.exit_code == 1
    assert "cannot count the events" in run.stderr
    assert logstore_of(sandbox, AUDITED_CLUSTER_ID) is not None          # nothing was deleted
    allowed = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--purge-logstore", "--yes", "--allow-partial")
    assert allowed.exit_code == 0, allowed.stderr
    assert "loses at least" in allowed.stderr
    assert logstore_of(sandbox, AUDITED_CLUSTER_ID) is None


# -- session and event ----------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["session", "event"])
def test_an_incomplete_search_is_not_not_found(cli, sandbox, command):
    assert cli(command, "0" * 32, "--cluster", AUDITED_CLUSTER_ID).exit_code == 3   # truly not there
    fault(sandbox, "incomplete", "sls", "/logs$")
    run = cli(command, "0" * 32, "--cluster", AUDITED_CLUSTER_ID)
    assert run.exit_code == 1
    assert "could not complete" in run.stderr and "no session" not in run.stderr and "no event" not in run.stderr


def test_session_allow_partial_shows_what_was_found(cli, sandbox):
    from ackaudit.sandbox.world import INTRUDER

    found = cli("query", "--cluster", AUDITED_CLUSTER_ID, "--user", INTRUDER["username"], "--since", "7d",
                "-o", "json")
    trace = found.json()[0]["traceId"]
    fault(sandbox, "incomplete", "sls", "/logs$")
    assert cli("session", trace, "--cluster", AUDITED_CLUSTER_ID).exit_code == 1
    allowed = cli("session", trace, "--cluster", AUDITED_CLUSTER_ID, "--allow-partial", "-o", "json")
    assert allowed.exit_code == 0
    assert allowed.json()["trace_id"] == trace
    assert any("incomplete" in w for w in warnings_of(allowed))


# -- errors keep their class ----------------------------------------------------------------------
def test_enable_keeps_an_sls_permission_error(cli, sandbox):
    fault(sandbox, "deny", "sls", f"GET /logstores/advaudit-{ELIGIBLE_CLUSTER_ID}$")
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "--timeout", "20")
    assert run.exit_code == 4, run.stderr
    assert "Unauthorized" in run.stderr and "does not exist" not in run.stderr


@pytest.mark.parametrize("kind, code", [("deny", 4), ("drop", 1), ("5xx", 1)])
def test_doctor_does_not_turn_a_failed_read_into_not_offered(cli, sandbox, kind, code):
    fault(sandbox, kind, "ack", r"GET /addons$")
    run = cli("doctor", "--cluster", ELIGIBLE_CLUSTER_ID, "-o", "json")
    assert run.exit_code == code, run.stderr
    checks = {c["name"]: c for c in run.json()["checks"]}
    assert checks["addon offered"]["status"] == "unknown"
    assert "not offered" not in checks["addon offered"]["summary"]
    assert run.json()["eligible"] is True and run.json()["complete"] is False
    enable = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert enable.exit_code == code
    assert "cannot check whether" in enable.stderr and "not offered" not in enable.stderr
    assert "ack-advanced-audit" not in sandbox.state.clusters[ELIGIBLE_CLUSTER_ID].get("addons", {})


def test_doctor_cannot_read_the_nodes_is_unknown_not_ineligible(cli, sandbox):
    fault(sandbox, "5xx", "kube", "/api/v1/nodes$")
    run = cli("doctor", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 1
    assert "? node OS and kernel: cannot read the nodes" in run.stdout
    assert "NOT eligible" not in run.stdout
    assert cli("doctor", "--cluster", ELIGIBLE_CLUSTER_ID, "--allow-partial").exit_code == 0


def test_sls_throttling_is_busy_not_forbidden(cli, sandbox):
    fault(sandbox, "throttle", "sls", "/logs$")
    run = cli("query", "--cluster", AUDITED_CLUSTER_ID)
    assert run.exit_code == 1
    assert "ReadQuotaExceed" in run.stderr and "RAM permissions" not in run.stderr


# -- timeouts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("service, route, args, endpoint", [
    ("sls", "/logs$", ("query", "--cluster", AUDITED_CLUSTER_ID), "SLS at http://127.0.0.1"),
    ("ack", "GET /api/v1/clusters$", ("clusters",), "ACK at http://127.0.0.1"),
    ("kube", "/api/v1/nodes$", ("doctor", "--cluster", ELIGIBLE_CLUSTER_ID), "Kubernetes at"),
])
def test_an_endpoint_that_never_answers_is_one_clear_error(cli, sandbox, monkeypatch, service, route, args,
                                                           endpoint):
    monkeypatch.setenv("ACKAUDIT_TIMEOUT", "0.5")
    fault(sandbox, "slow", service, route, delay=2.5)
    started = time.monotonic()
    run = cli("-v", *args)
    elapsed = time.monotonic() - started
    assert run.exit_code == 1, run.stderr
    assert elapsed < 6, elapsed                     # one timeout, not one per retry
    assert "timed out after 0.5 s" in run.stderr
    if service == "kube":
        assert "? node OS and kernel: cannot read the nodes" in run.stdout
    else:
        assert len(errors_of(run)) == 1 and endpoint in errors_of(run)[0]
        assert "ACKAUDIT_TIMEOUT" in run.stderr
    timed_out = [line for line in run.stderr.splitlines() if line.startswith("· ") and line.endswith("Timeout")]
    assert len(timed_out) == 1, run.stderr          # asked once


def test_a_bad_timeout_setting_is_a_usage_error(cli, monkeypatch):
    monkeypatch.setenv("ACKAUDIT_TIMEOUT", "soon")
    run = cli("clusters")
    assert run.exit_code == 2 and "ACKAUDIT_TIMEOUT" in run.stderr


# -- the same condition, the same code ------------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("retention",), ("query",), ("session", "0" * 32), ("event", "0" * 32), ("report",), ("status",),
    ("export", "--out", "OUT"),
])
def test_a_cluster_without_audit_is_exit_5_in_every_command(cli, tmp_path, args):
    args = tuple(str(tmp_path / "x.jsonl") if a == "OUT" else a for a in args)
    run = cli(*args, "--cluster", ELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 5, run.stderr
    assert f"ackaudit enable --cluster {ELIGIBLE_CLUSTER_ID}" in run.stderr


@pytest.mark.parametrize("cluster", [INELIGIBLE_CLUSTER_ID, SERVERLESS_CLUSTER_ID])
def test_query_on_an_ineligible_cluster_points_to_doctor(cli, cluster):
    run = cli("query", "--cluster", cluster)
    assert run.exit_code == 5
    assert "cannot be audited" in run.stderr and f"ackaudit doctor --cluster {cluster}" in run.stderr
    assert "enable it" not in run.stderr


def test_doctor_says_why_not_eligible_and_what_to_do(cli):
    run = cli("doctor", "--cluster", INELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 5
    assert errors_of(run)[0].startswith(f"error: cluster {INELIGIBLE_CLUSTER_ID} cannot be audited: node OS")
    assert "to fix node OS and kernel:" in run.stderr and "node pool" in run.stderr
    ok = cli("doctor", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert ok.exit_code == 0 and f"ackaudit enable --cluster {ELIGIBLE_CLUSTER_ID}" in ok.stdout
