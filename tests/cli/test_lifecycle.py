"""clusters, doctor, enable, status, retention, disable: end to end against the sandbox."""

from conftest import (
    AUDITED_CLUSTER_ID,
    ELIGIBLE_CLUSTER_ID,
    INELIGIBLE_CLUSTER_ID,
    SERVERLESS_CLUSTER_ID,
    logstore_of,
)


def test_clusters_shows_every_kind_with_its_audit_status(cli):
    run = cli("clusters", "-o", "json")
    assert run.exit_code == 0, run.stderr
    status = {row["cluster_id"]: row["audit_status"] for row in run.json()}
    assert status == {AUDITED_CLUSTER_ID: "enabled", ELIGIBLE_CLUSTER_ID: "disabled",
                      INELIGIBLE_CLUSTER_ID: "ineligible", SERVERLESS_CLUSTER_ID: "ineligible"}
    row = next(r for r in run.json() if r["cluster_id"] == AUDITED_CLUSTER_ID)
    assert {"cluster_id", "name", "region_id", "cluster_type", "version", "audit_status"} <= set(row)
    table = cli("clusters")
    assert "prod-hangzhou" in table.stdout and "ineligible" in table.stdout


def test_clusters_survive_one_cluster_failing(cli, sandbox):
    sandbox.faults.add({"kind": "5xx", "service": "ack", "route": f"{AUDITED_CLUSTER_ID}/addon_instances$",
                        "count": -1})
    run = cli("clusters", "-o", "json")
    assert run.exit_code == 1                 # the list is incomplete: it says so
    assert f"warning: cluster {AUDITED_CLUSTER_ID}: cannot read its addons" in run.stderr
    assert "--allow-partial" in run.stderr
    rows = {row["cluster_id"]: row for row in run.json()}
    assert rows[AUDITED_CLUSTER_ID]["audit_status"] == "unknown"
    assert rows[AUDITED_CLUSTER_ID]["complete"] is False
    assert "InternalError" in rows[AUDITED_CLUSTER_ID]["reason"]
    assert rows[ELIGIBLE_CLUSTER_ID]["audit_status"] == "disabled"
    assert rows[ELIGIBLE_CLUSTER_ID]["complete"] is True
    allowed = cli("clusters", "-o", "json", "--allow-partial")
    assert allowed.exit_code == 0 and allowed.json() == run.json()
    assert "cannot read its addons" in allowed.stderr


def test_doctor_eligible_and_not(cli):
    ok = cli("doctor", "--cluster", ELIGIBLE_CLUSTER_ID, "-o", "json")
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    assert ok.json()["eligible"] is True
    bad = cli("doctor", "--cluster", INELIGIBLE_CLUSTER_ID)
    assert bad.exit_code == 5
    assert "Ubuntu needs cluster version >= 1.30" in bad.stdout
    assert "CentOS" in bad.stdout and "NOT eligible" in bad.stdout
    serverless = cli("doctor", "--cluster", SERVERLESS_CLUSTER_ID, "-o", "json")
    assert serverless.exit_code == 5
    failing = [c["name"] for c in serverless.json()["checks"] if c["status"] == "fail"]
    assert "cluster type" in failing


def test_enable_then_again_then_status(cli, sandbox):
    assert logstore_of(sandbox, ELIGIBLE_CLUSTER_ID) is None
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "-o", "json")
    assert run.exit_code == 0, run.stderr
    result = run.json()
    assert result["changed"] is True and result["state"] == "enabled"
    assert result["logstore"] == f"advaudit-{ELIGIBLE_CLUSTER_ID}" and result["ttl"] == 180
    assert logstore_of(sandbox, ELIGIBLE_CLUSTER_ID)["ttl"] == 180
    assert "installing: task" in run.stderr  # the wait showed the task's progress

    again = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert again.exit_code == 0
    assert "already enabled" in again.stderr and "nothing changed" in again.stderr
    again_json = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "-o", "json").json()
    assert again_json["changed"] is False and again_json["already_enabled"] is True

    status = cli("status", "--cluster", ELIGIBLE_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 0
    coverage = status.json()["coverage"]
    assert coverage["total"] > 0 and coverage["covered"] == coverage["total"] and coverage["uncovered"] == {}


def test_enable_creates_a_missing_index(cli, sandbox):
    sandbox.state.settings["install_creates_index"] = False
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["index"] == "created"
    index = sandbox.state.projects[f"k8s-log-{ELIGIBLE_CLUSTER_ID}"]["indexes"][f"advaudit-{ELIGIBLE_CLUSTER_ID}"]
    assert "process" in index["keys"] and "k8s" in index["keys"]


def test_enable_dry_run_changes_nothing(cli, sandbox):
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "--dry-run", "-o", "json")
    assert run.exit_code == 0
    assert run.json()["dry_run"] is True and any("ack-advanced-audit" in s for s in run.json()["plan"])
    assert logstore_of(sandbox, ELIGIBLE_CLUSTER_ID) is None
    assert "ack-advanced-audit" not in sandbox.state.clusters[ELIGIBLE_CLUSTER_ID]["addons"]


def test_enable_refuses_an_ineligible_cluster(cli, sandbox):
    run = cli("enable", "--cluster", INELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 5
    assert "cannot be audited" in run.stderr and "--force" in run.stderr
    assert "ack-advanced-audit" not in sandbox.state.clusters[INELIGIBLE_CLUSTER_ID]["addons"]


def test_enable_reports_a_failed_task(cli, sandbox):
    sandbox.state.settings["fail_install"] = ["ack-advanced-audit"]
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 1
    assert "installing failed: task T-" in run.stderr


def test_enable_timeout_says_how_to_check_later(cli, sandbox):
    sandbox.state.settings["task_delay"] = 30
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "--timeout", "1")
    assert run.exit_code == 1
    assert "after 1s" in run.stderr and f"ackaudit status --cluster {ELIGIBLE_CLUSTER_ID}" in run.stderr


def test_enable_no_wait_then_status_reports_installing(cli, sandbox):
    sandbox.state.settings["task_delay"] = 30
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "--no-wait", "-o", "json")
    assert run.exit_code == 0 and run.json()["state"] == "installing"
    status = cli("status", "--cluster", ELIGIBLE_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 5 and status.json()["audit_status"] == "installing"


def test_retries_throttling_and_5xx(cli, sandbox):
    sandbox.faults.add({"kind": "throttle", "service": "ack", "route": "GET /clusters/[^/]+$", "count": 1})
    sandbox.faults.add({"kind": "5xx", "service": "ack", "route": "addon_instances", "count": 2})
    run = cli("-v", "status", "--cluster", AUDITED_CLUSTER_ID)
    assert run.exit_code == 0, run.stderr
    assert "Throttling" in run.stderr and "attempt=2" in run.stderr


def test_retention_keeps_hot_ttl_and_is_idempotent(cli, sandbox):
    before = logstore_of(sandbox, AUDITED_CLUSTER_ID)
    assert before["ttl"] == 180 and before["hot_ttl"] == 30
    run = cli("retention", "--cluster", AUDITED_CLUSTER_ID, "--days", "60", "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["changed"] is True and run.json()["shortens"] is True
    after = logstore_of(sandbox, AUDITED_CLUSTER_ID)
    assert after["ttl"] == 60 and after["hot_ttl"] == 30
    assert after["shardCount"] == before["shardCount"]
    shown = cli("retention", "--cluster", AUDITED_CLUSTER_ID, "-o", "json").json()
    assert shown["ttl"] == 60 and shown["hot_ttl"] == 30
    same = cli("retention", "--cluster", AUDITED_CLUSTER_ID, "--days", "60")
    assert same.exit_code == 0 and "unchanged" in same.stderr


def test_retention_validation_and_confirmation(cli, sandbox):
    assert cli("retention", "--cluster", AUDITED_CLUSTER_ID, "--days", "0").exit_code == 2
    assert cli("retention", "--cluster", AUDITED_CLUSTER_ID, "--days", "soon").exit_code == 2
    too_hot = cli("retention", "--cluster", AUDITED_CLUSTER_ID, "--days", "200", "--hot-days", "300")
    assert too_hot.exit_code == 2 and "cannot be longer" in too_hot.stderr
    shorten = cli("retention", "--cluster", AUDITED_CLUSTER_ID, "--days", "30")
    assert shorten.exit_code == 2 and "--yes" in shorten.stderr
    assert logstore_of(sandbox, AUDITED_CLUSTER_ID)["ttl"] == 180
    longer = cli("retention", "--cluster", AUDITED_CLUSTER_ID, "--days", "permanent", "-o", "json")
    assert longer.exit_code == 0 and longer.json()["after"]["permanent"] is True
    assert logstore_of(sandbox, AUDITED_CLUSTER_ID)["ttl"] == 3650


def test_disable_keeps_the_logstore(cli, sandbox):
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID)
    assert run.exit_code == 0, run.stderr
    assert "still billed" in run.stderr
    assert "ack-advanced-audit" not in sandbox.state.clusters[AUDITED_CLUSTER_ID]["addons"]
    assert logstore_of(sandbox, AUDITED_CLUSTER_ID) is not None
    again = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "-o", "json")
    assert again.exit_code == 0 and again.json()["changed"] is False and again.json()["already_disabled"]
    assert cli("status", "--cluster", AUDITED_CLUSTER_ID).exit_code == 5


def test_purge_needs_confirmation_without_a_terminal(cli, sandbox):
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--purge-logstore")
    assert run.exit_code == 2 and "--yes" in run.stderr
    assert "events" in run.stderr  # it said what would be lost
    assert logstore_of(sandbox, AUDITED_CLUSTER_ID) is not None
    assert "ack-advanced-audit" in sandbox.state.clusters[AUDITED_CLUSTER_ID]["addons"]


def test_purge_with_yes_deletes_the_logstore(cli, sandbox):
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--purge-logstore", "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["purged"] is True
    assert logstore_of(sandbox, AUDITED_CLUSTER_ID) is None


def test_unknown_cluster_is_exit_3(cli):
    for command in ("status", "doctor", "enable", "disable", "retention"):
        run = cli(command, "--cluster", "c0000000000000000000000000000dead")
        assert run.exit_code == 3, (command, run.stderr)
        assert "not found" in run.stderr


def test_enable_sets_retention_in_the_same_run(cli, sandbox):
    run = cli("enable", "--cluster", ELIGIBLE_CLUSTER_ID, "--retention", "90", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["ttl"] == 90 and run.json()["retention_changed"] is True
    assert logstore_of(sandbox, ELIGIBLE_CLUSTER_ID)["ttl"] == 90


def test_force_on_an_ineligible_cluster_then_status_lists_uncovered_nodes(cli, sandbox):
    run = cli("enable", "--cluster", INELIGIBLE_CLUSTER_ID, "--force", "-o", "json")
    assert run.exit_code == 0, run.stderr
    status = cli("status", "--cluster", INELIGIBLE_CLUSTER_ID, "-o", "json")
    assert status.exit_code == 0
    coverage = status.json()["coverage"]
    assert coverage["covered"] < coverage["total"]
    assert any("CentOS" in reason or "kernel" in reason for reason in coverage["uncovered"].values())
    table = cli("status", "--cluster", INELIGIBLE_CLUSTER_ID)
    assert "is not audited" in table.stderr
    doctor = cli("doctor", "--cluster", INELIGIBLE_CLUSTER_ID, "-o", "json")
    assert doctor.exit_code == 5
    assert any(c["name"] == "node coverage" and c["status"] == "fail" for c in doctor.json()["checks"])


def test_doctor_with_a_kubeconfig_file(cli, sandbox, tmp_path, acs_client):
    import json as _json

    from aliyunsdkcore.request import CommonRequest

    req = CommonRequest(domain=f"127.0.0.1:{sandbox.port}", version="2015-12-15",
                        uri_pattern=f"/k8s/{ELIGIBLE_CLUSTER_ID}/user_config")
    req.set_method("GET")
    config = _json.loads(acs_client.do_action_with_exception(req))["config"]
    path = tmp_path / "kubeconfig"
    path.write_text(config)
    run = cli("doctor", "--cluster", ELIGIBLE_CLUSTER_ID, "--kubeconfig", str(path), "-o", "json")
    assert run.exit_code == 0, run.stderr
    missing = cli("doctor", "--cluster", ELIGIBLE_CLUSTER_ID, "--kubeconfig", str(tmp_path / "nope"))
    assert missing.exit_code == 2 and "cannot read kubeconfig" in missing.stderr


def test_disable_remove_alerts(cli, sandbox, sls_client):
    project = f"k8s-log-{AUDITED_CLUSTER_ID}"
    exec_rule, risky_rule = f"ackaudit-{AUDITED_CLUSTER_ID}-exec", f"ackaudit-{AUDITED_CLUSTER_ID}-risky"
    # ackaudit's rule carries its tag; the one with ackaudit's name but without it was made by hand.
    for name, tags in ((exec_rule, ["ackaudit"]), (risky_rule, []), ("someone-elses-rule", [])):
        sls_client.create_alert(project, {"name": name, "displayName": name, "type": "Alert", "status": "ENABLED",
                                          "schedule": {"type": "FixedRate", "interval": "1m"},
                                          "configuration": {"version": "2.0", "type": "default", "queryList": [],
                                                            "tags": tags}})
    status = cli("status", "--cluster", AUDITED_CLUSTER_ID, "-o", "json").json()
    assert [a["name"] for a in status["alerts"]] == [exec_rule, risky_rule]
    refused = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--remove-alerts")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--remove-alerts", "--yes", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["alerts_removed"] == [exec_rule]
    assert f"keeping what ackaudit did not make: alert rule {risky_rule}" in run.stderr
    assert set(sandbox.state.projects[project]["jobs"]) == {risky_rule, "someone-elses-rule"}
