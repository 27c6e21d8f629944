"""Every cloud call site, under every fault the sandbox can inject, transient and persistent:
retried to the right answer, or reported (a non-zero exit and a message); never silently partial.

Each row of CALL_SITES is (command, service, action) and what the command needs around it. To cover
a new call site, add a row. Faults are aimed by action (the sandbox journal's names), so call sites
that share a path (SLS GetLogStore/GetLogs, GetCursor/PullLogs) are told apart.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import pytest
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID

A, E = AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID
SLOW = 0.05          # a transient slow answer: well within the timeout
TIMEOUT = "0.5"      # ACKAUDIT_TIMEOUT under a persistent slow fault, which stalls each answer longer
STALL = 0.8
READ_KINDS = ("5xx", "throttle", "drop", "slow", "deny")


@dataclass(frozen=True)
class Site:
    args: tuple[str, ...]
    service: str
    action: str
    writes: bool = False          # the command changes the world: one fresh world per fault
    tolerant: bool = False        # a persistent failure may leave the answer whole, with a warning
    queries: bool = False         # an SLS search: `incomplete` applies too
    check: object = None          # writes: how the world looks after a success (sandbox -> bool)
    before: tuple[str, ...] = ()  # a command to run first, without faults
    world: object = None          # how to change the world first (sandbox, monkeypatch -> None)
    # The first such call is the project discovery's look for the logstore, which asks the ConfigMap
    # when SLS will not say: one refusal there still gives the whole answer (services/cluster.py).
    discovery_first: bool = False

    @property
    def id(self) -> str:
        return f"{'-'.join(a for a in self.args if not a.startswith('-') and a not in (A, E))}:{self.action}"


def _installed(cluster_id):
    def check(sandbox):
        addon = sandbox.state.clusters[cluster_id].get("addons", {}).get("ack-advanced-audit") or {}
        return str(addon.get("state", "")).lower() == "active"
    return check


def _configmap_needed(sandbox, monkeypatch):
    """The metadata names a project without the logstore, so the ConfigMap is read, on every run."""
    sandbox.state.clusters[A]["meta_data"]["AuditProjectName"] = "k8s-log-api-server-audit"
    monkeypatch.setenv("ACKAUDIT_PROJECT_CACHE_TTL", "0")


def _uninstalled(sandbox):
    return "ack-advanced-audit" not in sandbox.state.clusters[A].get("addons", {})


def _alert_rules(sandbox):
    return f"ackaudit-{A}-exec" in sandbox.state.projects[f"k8s-log-{A}"].get("jobs", {})


TOKEN, SECRET = "t0k3nFaultTable42", "SECfaultTableSecret"
SETUP = ("alerts", "setup", "--cluster", A, "--dingtalk-url", f"ROBOT/robot/send?access_token={TOKEN}",
         "--dingtalk-secret", SECRET, "--allow-any-url", "-o", "json")


def _ttl_90(sandbox):
    return sandbox.state.projects[f"k8s-log-{A}"]["logstores"][f"advaudit-{A}"]["ttl"] == 90


CALL_SITES = [
    # clusters
    Site(("clusters", "-o", "json"), "ack", "DescribeClustersV1"),
    Site(("clusters", "-o", "json"), "ack", "ListClusterAddonInstances"),
    Site(("clusters", "-o", "json"), "ack", "DescribeClusterNodePools"),
    # doctor
    Site(("doctor", "--cluster", E, "-o", "json"), "ack", "DescribeClusterDetail"),
    Site(("doctor", "--cluster", E, "-o", "json"), "ack", "ListAddons"),
    Site(("doctor", "--cluster", E, "-o", "json"), "ack", "ListClusterAddonInstances"),
    Site(("doctor", "--cluster", E, "-o", "json"), "ack", "DescribeClusterUserKubeconfig"),
    Site(("doctor", "--cluster", E, "-o", "json"), "kube", "ListNodes"),
    Site(("doctor", "--cluster", A, "-o", "json"), "kube", "ListDaemonSets"),
    Site(("doctor", "--cluster", A, "-o", "json"), "kube", "ListPods"),
    # status
    Site(("status", "--cluster", A, "-o", "json"), "ack", "DescribeAddon"),
    Site(("status", "--cluster", A, "-o", "json"), "kube", "ReadConfigMap", world=_configmap_needed),
    Site(("status", "--cluster", A, "-o", "json"), "sls", "GetLogStore", discovery_first=True),
    Site(("status", "--cluster", A, "-o", "json"), "sls", "GetLogsV2", queries=True),
    Site(("status", "--cluster", A, "-o", "json"), "sls", "ListAlerts"),
    Site(("status", "--cluster", A, "-o", "json"), "kube", "ListNodes"),
    # investigation
    Site(("query", "--cluster", A, "--since", "7d", "--limit", "0", "-o", "json"), "sls", "GetLogsV2", queries=True),
    Site(("query", "--cluster", A, "-o", "json"), "kube", "ReadConfigMap", world=_configmap_needed),
    Site(("session", "TRACE", "--cluster", A, "-o", "json"), "sls", "GetLogsV2", queries=True),
    Site(("event", "EVENT", "--cluster", A, "-o", "json"), "sls", "GetLogsV2", queries=True),
    Site(("report", "--cluster", A, "-o", "json"), "sls", "GetLogsV2", queries=True),
    Site(("export", "--cluster", A, "--since", "7d", "--out", "OUT"), "sls", "GetLogStore", discovery_first=True),
    Site(("export", "--cluster", A, "--since", "7d", "--out", "OUT"), "sls", "ListShards"),
    Site(("export", "--cluster", A, "--since", "7d", "--out", "OUT"), "sls", "GetCursor"),
    Site(("export", "--cluster", A, "--since", "7d", "--out", "OUT"), "sls", "PullLogs"),
    # retention
    Site(("retention", "--cluster", A, "-o", "json"), "sls", "GetLogStore", discovery_first=True),
    Site(("retention", "--cluster", A, "--days", "90", "--yes", "-o", "json"), "sls", "UpdateLogStore",
         writes=True, check=_ttl_90),
    # lifecycle
    Site(("enable", "--cluster", E, "-o", "json"), "ack", "InstallClusterAddons", writes=True, check=_installed(E)),
    Site(("enable", "--cluster", E, "-o", "json"), "ack", "DescribeTaskInfo", writes=True, check=_installed(E)),
    Site(("enable", "--cluster", E, "-o", "json"), "ack", "GetClusterAddonInstance", writes=True,
         check=_installed(E)),
    Site(("enable", "--cluster", E, "-o", "json"), "sls", "GetIndex", writes=True, check=_installed(E)),
    Site(("disable", "--cluster", A, "-o", "json"), "ack", "UnInstallClusterAddons", writes=True, check=_uninstalled),
    # alerts
    Site(SETUP, "sls", "CreateAlert", writes=True, check=_alert_rules),
    Site(SETUP, "sls", "UpsertResourceRecord", writes=True, check=_alert_rules),
    Site(("alerts", "status", "--cluster", A, "-o", "json"), "sls", "GetAlert", before=SETUP),
    Site(("alerts", "status", "--cluster", A, "-o", "json"), "sls", "GetResourceRecord", before=SETUP),
]


def _cases():
    for site in CALL_SITES:
        kinds = READ_KINDS + (("incomplete",) if site.queries else ())
        if site.writes:
            for kind in kinds:
                for persistent in (False, True):
                    yield pytest.param(site, (kind,), persistent, id=f"{site.id}-{kind}-{'persistent' if persistent else 'once'}")
        else:
            yield pytest.param(site, kinds, None, id=site.id)


@pytest.fixture
def ids(cli):
    """A real session and event id from the seeded intrusion."""
    from ackaudit.sandbox.world import INTRUDER

    run = cli("query", "--cluster", A, "--user", INTRUDER["username"], "--since", "7d", "-o", "json")
    event = run.json()[0]
    return {"TRACE": event["traceId"], "EVENT": event["eventId"]}


def _answer(run, out_file):
    """What the user got: the data on stdout (minus the clock), or the exported file's events."""
    if out_file is not None:
        if not out_file.exists():
            return None
        return sorted(json.loads(line)["eventId"] for line in out_file.read_text().splitlines() if line.strip())
    try:
        data = json.loads(run.stdout)
    except ValueError:
        return run.stdout
    if isinstance(data, dict):
        for clock in ("generated_at", "window"):       # the report's: they follow the clock
            data.pop(clock, None)
    return data


def _assert_reported(run, why):
    """A failure the user can see: non-zero, an error or warning line, no traceback, no 'bug'."""
    assert run.exit_code in (1, 4), (why, run.exit_code, run.stderr)
    assert "error:" in run.stderr or "warning:" in run.stderr, why
    assert "Traceback" not in run.stderr and "this is a bug" not in run.stderr, (why, run.stderr)


def _arm(sandbox, monkeypatch, kind, site, persistent):
    sandbox.faults.clear()
    sandbox.journal.clear()
    sandbox.faults.add(_fault(kind, site, persistent))
    # A short timeout only where an answer stalls; elsewhere a busy machine must not time out.
    monkeypatch.setenv("ACKAUDIT_TIMEOUT", TIMEOUT if kind == "slow" and persistent else "20")


def _fault(kind, site, persistent):
    fault = {"kind": kind, "service": site.service, "action": site.action, "count": -1 if persistent else 1}
    if kind == "slow":
        fault["delay"] = STALL if persistent else SLOW
    return fault


@pytest.mark.parametrize("site, kinds, persistent", list(_cases()))
def test_every_call_site_under_every_fault(cli, sandbox, monkeypatch, no_sdk_sleep, tmp_path, ids, site, kinds,
                                           persistent):
    monkeypatch.setenv("ACKAUDIT_INCOMPLETE_RETRIES", "1")
    counter = iter(range(1000))
    from ackaudit.sandbox.webhooks import register_robot

    register_robot(sandbox.state, "dingtalk", TOKEN, secret=SECRET, keywords=["Kubernetes"])

    def run_once(command=site.args):
        out_file = None
        args = []
        for a in command:
            a = a.replace("ROBOT", sandbox.url)
            if a == "OUT":
                out_file = tmp_path / f"export-{next(counter)}.jsonl"
                a = str(out_file)
            args.append(ids.get(a, a))
        run = cli(*args)
        return run, _answer(run, out_file)

    def fired():
        # A stalled request enters the journal once the sandbox answers it, after the client gave up.
        deadline = time.monotonic() + STALL + 1
        while not any(r.get("action") == site.action for r in sandbox.recent_requests()):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    if site.world is not None:
        site.world(sandbox, monkeypatch)
    if site.before:
        assert run_once(site.before)[0].exit_code == 0
        sandbox.journal.clear()
    if site.writes:
        (kind,) = kinds
        _arm(sandbox, monkeypatch, kind, site, persistent)
        run, _ = run_once()
        assert fired(), f"{site.id}: the command never made this call"
        if kind == "slow" and not persistent:
            assert run.exit_code == 0 and site.check(sandbox), run.stderr
        elif kind == "deny":
            assert run.exit_code == 4, run.stderr
        elif persistent or kind == "drop" and site.service == "ack" and site.action.startswith(("Install", "UnInstall")):
            # A write whose answer never came: reported, never claimed done.
            if run.exit_code == 0:
                assert site.check(sandbox), f"{kind}: claimed success without the change: {run.stderr}"
            else:
                _assert_reported(run, kind)
        else:
            assert run.exit_code == 0, (kind, run.stderr)
            assert site.check(sandbox), kind
        return

    baseline, expected = run_once()
    assert baseline.exit_code == 0, baseline.stderr
    for kind in kinds:
        for persistent in (False, True):
            why = f"{site.id} {kind} {'persistent' if persistent else 'once'}"
            _arm(sandbox, monkeypatch, kind, site, persistent)
            run, answer = run_once()
            assert fired(), f"{why}: the command never made this call"
            if kind == "deny":
                if site.discovery_first and not persistent:
                    assert run.exit_code == 0 and answer == expected, (why, run.stderr)
                elif site.tolerant:
                    assert run.exit_code == 0 and answer == expected and "warning:" in run.stderr, why
                else:
                    assert run.exit_code == 4, (why, run.stderr)
                continue
            if not persistent:
                # Retried (or waited for) to the same answer.
                assert run.exit_code == 0, (why, run.stderr)
                assert answer == expected, why
                continue
            if site.tolerant:
                assert run.exit_code == 0 and answer == expected and "warning:" in run.stderr, why
                continue
            _assert_reported(run, why)
    sandbox.faults.clear()
