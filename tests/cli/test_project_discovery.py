"""Which SLS project holds the audit logstore: the cheap sources first, the log component's ConfigMap
when they do not find the logstore, and a few minutes' memory of the answer on disk. Asserted on what
the sandbox saw (its request journal) and on what the CLI says."""

from __future__ import annotations

import json
import time

import pytest
from conftest import AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID

from ackaudit.services import project_cache

AUDITED_PROJECT = f"k8s-log-{AUDITED_CLUSTER_ID}"
CONFIGMAP = "ConfigMap kube-system/alibaba-log-configuration"
METADATA = "cluster meta_data AuditProjectName"


@pytest.fixture(autouse=True)
def _fast(monkeypatch, no_sdk_sleep):
    monkeypatch.setenv("ACKAUDIT_INCOMPLETE_RETRIES", "0")


def fault(sandbox, kind, service, route, count=-1):
    sandbox.faults.add({"kind": kind, "service": service, "route": route, "count": count})


class Journal:
    """The requests the sandbox served since the last `mark()`."""

    def __init__(self, sandbox):
        self.sandbox, self.start = sandbox, 0

    def mark(self):
        self.start = len(self.sandbox.recent_requests())

    def entries(self):
        return self.sandbox.recent_requests()[self.start:]

    def kube(self):
        return [e for e in self.entries() if e["service"] == "kube"]

    def kubeconfigs(self):
        return [e for e in self.entries() if e["service"] == "ack" and e["path"].endswith("/user_config")]

    def addon_lists(self):
        return [e for e in self.entries() if e["service"] == "ack" and e["path"].endswith("/addon_instances")]


@pytest.fixture
def journal(sandbox):
    return Journal(sandbox)


def cache_files(tmp_path):
    folder = tmp_path / "home" / ".cache" / "ackaudit" / "projects"
    return sorted(folder.glob("*.json")) if folder.exists() else []


def _configmap_needed(sandbox):
    """The audited cluster's metadata names a project without the logstore: only the ConfigMap,
    which names the right one, finds it."""
    sandbox.state.clusters[AUDITED_CLUSTER_ID]["meta_data"]["AuditProjectName"] = "k8s-log-api-server-audit"


def _discovered(cli, cluster):
    run = cli("status", "--cluster", cluster, "-o", "json")
    data = run.json()
    return data["project"], data["project_source"]


# -- the rule ---------------------------------------------------------------------------------------
def test_the_audited_cluster_needs_no_configmap_read(cli, sandbox, journal):
    journal.mark()
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 0, run.stderr
    assert f"· SLS project {AUDITED_PROJECT} (from the {METADATA})" in run.stderr
    assert journal.kube() == [] and journal.kubeconfigs() == []


def test_every_cluster_gets_the_project_reading_the_configmap_first_gave(cli, sandbox):
    """The answer of the rule before (the ConfigMap, then the addon config, then AuditProjectName,
    then the convention), worked out from the world itself, for every cluster in it."""
    for cluster_id, cluster in sandbox.state.clusters.items():
        configmap = cluster.get("configmaps", {}).get("kube-system/alibaba-log-configuration") or {}
        addon = next((cluster["addons"][n] for n in ("loongcollector", "logtail-ds") if n in cluster["addons"]), {})
        config = json.loads(addon.get("config") or "{}")
        expected = (configmap.get("log-project") or config.get("sls_project_name")
                    or cluster["meta_data"].get("AuditProjectName") or f"k8s-log-{cluster_id}")
        assert _discovered(cli, cluster_id)[0] == expected, cluster_id


def test_a_cluster_without_the_logstore_reads_the_configmap_before_saying_not_enabled(cli, sandbox, journal,
                                                                                      tmp_path):
    journal.mark()
    run = cli("-v", "query", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 5
    assert f"(from the {CONFIGMAP})" in run.stderr
    assert [e["action"] for e in journal.kube()] == ["ReadConfigMap"]
    assert f"no logstore k8s-log-{ELIGIBLE_CLUSTER_ID}/advaudit-{ELIGIBLE_CLUSTER_ID}" in run.stderr
    assert cache_files(tmp_path) == []      # nothing found, nothing remembered


def test_the_configmap_decides_when_the_cheap_sources_miss(cli, sandbox, journal):
    _configmap_needed(sandbox)
    journal.mark()
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 0, run.stderr
    assert f"· SLS project {AUDITED_PROJECT} (from the {CONFIGMAP})" in run.stderr
    assert [e["action"] for e in journal.kube()] == ["ReadConfigMap"]


def test_an_unreadable_configmap_when_it_is_needed_is_a_warning_and_cannot_tell(cli, sandbox):
    _configmap_needed(sandbox)
    fault(sandbox, "5xx", "kube", "/configmaps/alibaba-log-configuration$")
    run = cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 1
    assert f"cannot read {CONFIGMAP}" in run.stderr
    assert "cannot tell whether audit is enabled" in run.stderr and "not enabled:" not in run.stderr


# -- the cache --------------------------------------------------------------------------------------
def test_a_remembered_project_skips_the_addons_and_the_configmap(cli, sandbox, journal, tmp_path):
    _configmap_needed(sandbox)
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1").exit_code == 0
    [entry] = cache_files(tmp_path)
    assert json.loads(entry.read_text())["project"] == AUDITED_PROJECT
    journal.mark()
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 0, run.stderr
    assert f"· SLS project {AUDITED_PROJECT} (from the {CONFIGMAP}, remembered" in run.stderr
    assert journal.kube() == [] and journal.kubeconfigs() == [] and journal.addon_lists() == []
    assert [e["action"] for e in journal.entries()][0] == "GetLogStore"   # checked before it is used
    assert not any(e["action"] == "DescribeClusterDetail" for e in journal.entries())


def test_an_expired_entry_is_discovered_again(cli, sandbox, journal, tmp_path):
    _configmap_needed(sandbox)
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1").exit_code == 0
    [entry] = cache_files(tmp_path)
    data = json.loads(entry.read_text())
    entry.write_text(json.dumps({**data, "saved_at": time.time() - 301}))
    journal.mark()
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 0 and "remembered" not in run.stderr
    assert [e["action"] for e in journal.kube()] == ["ReadConfigMap"]
    assert json.loads(entry.read_text())["saved_at"] > data["saved_at"]


def test_a_project_that_moved_is_discovered_again(cli, sandbox, journal, tmp_path):
    _configmap_needed(sandbox)
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1").exit_code == 0
    [entry] = cache_files(tmp_path)
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "project": "k8s-log-moved-away"}))
    journal.mark()
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1", "-o", "json")
    assert run.exit_code == 0, run.stderr
    assert len(run.json()) == 1
    assert f"· SLS project {AUDITED_PROJECT} (from the {CONFIGMAP})" in run.stderr
    assert json.loads(entry.read_text())["project"] == AUDITED_PROJECT


def test_a_stale_entry_never_makes_audit_look_disabled(cli, sandbox, tmp_path):
    """The remembered project could not be checked (SLS refused the look-up), and then the logstore
    is not there: the project is discovered again before anything is said about audit."""
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1").exit_code == 0
    [entry] = cache_files(tmp_path)
    elsewhere = f"k8s-log-{ELIGIBLE_CLUSTER_ID}"          # a project without this cluster's logstore
    entry.write_text(json.dumps({**json.loads(entry.read_text()), "project": elsewhere}))
    fault(sandbox, "deny", "sls", r"GET /logstores/advaudit-[0-9a-f]+$", count=1)   # the check only
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 1, run.stderr
    assert "not enabled" not in run.stderr
    assert f"is not in project {elsewhere} any more" in run.stderr and AUDITED_PROJECT in run.stderr
    again = cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1", "-o", "json")
    assert again.exit_code == 0 and len(again.json()) == 1


def test_a_stale_entry_for_a_cluster_without_audit_still_says_not_enabled(cli, sandbox, tmp_path):
    from ackaudit.sandbox.state import DEFAULT_REGION, SANDBOX_ACCESS_KEY_ID

    key = ("account", SANDBOX_ACCESS_KEY_ID, DEFAULT_REGION, sandbox.url, sandbox.url, ELIGIBLE_CLUSTER_ID)
    env = {"XDG_CACHE_HOME": str(tmp_path / "home" / ".cache")}
    project_cache.store(key, AUDITED_PROJECT, METADATA, env=env)     # a project that holds another logstore
    assert len(cache_files(tmp_path)) == 1
    run = cli("query", "--cluster", ELIGIBLE_CLUSTER_ID)
    assert run.exit_code == 5
    assert f"no logstore k8s-log-{ELIGIBLE_CLUSTER_ID}/advaudit-{ELIGIBLE_CLUSTER_ID}" in run.stderr
    assert cache_files(tmp_path) == []


@pytest.mark.parametrize("garbage", [b"", b"{not json", b'{"format": 1, "project": 7}', b"\xff\xfe",
                                     b'{"format": 1, "project": "p", "source": "s", "saved_at": 1e300}'])
def test_a_corrupt_cache_file_is_ignored_and_replaced(cli, sandbox, journal, tmp_path, garbage):
    _configmap_needed(sandbox)
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1").exit_code == 0
    [entry] = cache_files(tmp_path)
    entry.write_bytes(garbage)
    journal.mark()
    run = cli("-v", "query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1")
    assert run.exit_code == 0, run.stderr
    assert "remembered" not in run.stderr and [e["action"] for e in journal.kube()] == ["ReadConfigMap"]
    assert json.loads(entry.read_text())["project"] == AUDITED_PROJECT


def test_an_unreadable_or_unwritable_cache_is_no_error(cli, sandbox, tmp_path):
    folder = tmp_path / "home" / ".cache" / "ackaudit"
    folder.parent.mkdir(parents=True, exist_ok=True)
    folder.write_text("a file where the folder should be")
    run = cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1", "-o", "json")
    assert run.exit_code == 0 and len(run.json()) == 1
    assert run.stderr.count("warning") == 0


def test_the_cache_can_be_turned_off(cli, sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("ACKAUDIT_PROJECT_CACHE_TTL", "0")
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1").exit_code == 0
    assert cache_files(tmp_path) == []
    monkeypatch.setenv("ACKAUDIT_PROJECT_CACHE_TTL", "soon")
    bad = cli("query", "--cluster", AUDITED_CLUSTER_ID)
    assert bad.exit_code == 2 and "ACKAUDIT_PROJECT_CACHE_TTL" in bad.stderr


def test_purging_the_logstore_forgets_the_project(cli, sandbox, tmp_path):
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID, "--limit", "1").exit_code == 0
    assert len(cache_files(tmp_path)) == 1
    run = cli("disable", "--cluster", AUDITED_CLUSTER_ID, "--purge-logstore", "--yes")
    assert run.exit_code == 0, run.stderr
    assert cache_files(tmp_path) == []
    assert cli("query", "--cluster", AUDITED_CLUSTER_ID).exit_code == 5


# -- the keys -----------------------------------------------------------------------------------------
def test_entries_are_keyed_by_account_region_endpoints_and_cluster(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    base = ("account", "LTAI-one", "cn-hangzhou", "https://cs.cn-hangzhou.aliyuncs.com",
            "https://cn-hangzhou.log.aliyuncs.com", "c1")
    variants = [base, ("account", "LTAI-two", *base[2:]), (*base[:2], "cn-beijing", *base[3:]),
                (*base[:3], "http://127.0.0.1:8080", *base[4:]), (*base[:5], "c2"),
                ("sandbox", "/home/u/.local/share/ackaudit/sandbox", "cn-hangzhou", "c1")]
    assert len({project_cache.entry_path(k, env) for k in variants}) == len(variants)
    project_cache.store(base, "p1", "src", env=env)
    assert project_cache.load(base, 300, env=env).project == "p1"
    assert all(project_cache.load(k, 300, env=env) is None for k in variants[1:])
    assert "LTAI" not in "".join(p.read_text() + p.name for p in tmp_path.rglob("*.json"))
    assert project_cache.load(base, 300, now=time.time() + 301, env=env) is None        # expired
    assert project_cache.load(base, 0, env=env) is None                                  # off

