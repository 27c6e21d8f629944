"""What the sandbox holds after `alerts` commands, for the alert tests: the alert resources' records
(decoded), the audit project's alert rules, and a `setup` that must succeed."""

import json

from conftest import AUDITED_CLUSTER_ID

PROJECT = f"k8s-log-{AUDITED_CLUSTER_ID}"


def records(sandbox, resource):
    """The records of an alert resource (`sls.alert.content_template`...), id -> decoded value."""
    return {i: json.loads(r["value"]) for i, r in sandbox.state.resources[resource]["records"].items()}


def jobs(sandbox):
    """The alert rules (SLS jobs) of the audited cluster's project, by name."""
    return sandbox.state.projects[PROJECT].get("jobs", {})


def setup(cli, *options):
    """`alerts setup` for the audited cluster with `options`; its JSON answer."""
    run = cli("alerts", "setup", "--cluster", AUDITED_CLUSTER_ID, *options, "-o", "json")
    assert run.exit_code == 0, run.stderr
    return run.json()
