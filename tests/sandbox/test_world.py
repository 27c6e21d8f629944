"""The seeded world: its clusters, the audit logstore and seven days of realistic history."""

import json
import re
import time
from collections import Counter, defaultdict
from datetime import datetime
from importlib import resources

import pytest

from ackaudit.audit.fields import flatten_event
from ackaudit.sandbox.generate import generate_events
from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID, SandboxState
from ackaudit.sandbox.world import (
    AUDITED_CLUSTER_ID,
    CI_DEPLOYER,
    ELIGIBLE_CLUSTER_ID,
    INELIGIBLE_CLUSTER_ID,
    INTRUDER,
    SERVERLESS_CLUSTER_ID,
    SRE_ADMIN,
    audit_index,
    build_world,
)
from ackaudit.sandbox.world_clusters import CHINA_STANDARD_TIME, audited_cluster, eligible_cluster
from ackaudit.sandbox.world_history import IDENTITIES, MYSQL_PASSWORD, REDIS_PASSWORD, history_rows

NOW = 1750000000.0          # a Sunday evening in Hangzhou
DAY = 86400
PROJECT = f"k8s-log-{AUDITED_CLUSTER_ID}"
LOGSTORE = f"advaudit-{AUDITED_CLUSTER_ID}"
RISKY = {p["name"] for p in json.loads(
    resources.files("ackaudit.data").joinpath("risky-programs.json").read_text())["programs"]}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("-")[0].lstrip("v").split(".")[:2])


def kernel_tuple(kernel: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", kernel).groups())


@pytest.fixture(scope="module")
def history():
    cluster = audited_cluster(NOW, list(IDENTITIES))
    return [flatten_event(r) for r in history_rows(cluster, seed=1, now=NOW)]


@pytest.fixture(scope="module")
def sessions(history):
    by_trace = defaultdict(list)
    for event in history:
        by_trace[event["traceId"]].append(event)
    return by_trace


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    state = SandboxState(tmp_path_factory.mktemp("world"))
    build_world(state, seed=1, now=NOW)
    yield state
    state.close()


# -- clusters -------------------------------------------------------------------------------------
def test_cluster_ids_are_fixed_ack_ids():
    ids = [AUDITED_CLUSTER_ID, ELIGIBLE_CLUSTER_ID, INELIGIBLE_CLUSTER_ID, SERVERLESS_CLUSTER_ID]
    assert all(re.fullmatch(r"c[0-9a-f]{32}", i) for i in ids) and len(set(ids)) == 4


def test_audited_cluster_is_ack_pro_with_audit_enabled(world):
    c = world.clusters[AUDITED_CLUSTER_ID]
    assert (c["name"], c["cluster_type"], c["profile"], c["cluster_spec"], c["state"], c["region_id"]) == (
        "prod-hangzhou", "ManagedKubernetes", "Default", "ack.pro.small", "running", "cn-hangzhou")
    assert re.fullmatch(r"1\.31\.\d+-aliyun\.1", c["current_version"])
    assert c["addons"]["ack-advanced-audit"]["version"] == "0.9.0"
    assert {"logtail-ds", "ack-advanced-audit", "coredns", "csi-plugin"} <= set(c["addons"])
    assert all(a["state"] == "active" for a in c["addons"].values())
    assert 3 <= len(c["nodes"]) <= 5
    pools = {p["nodepool_id"] for p in c["nodepools"]}
    for node in c["nodes"]:
        assert node["os_image"] == "Alibaba Cloud Linux 3.2104 U11 (OpenAnolis Edition)"
        assert node["kernel_version"] == "5.10.134-18.al8.x86_64"
        assert node["container_runtime_version"].startswith("containerd://")
        assert node["kubelet_version"] == "v" + c["current_version"] and node["nodepool_id"] in pools
    config = c["configmaps"]["kube-system/alibaba-log-configuration"]
    assert config["log-project"] == PROJECT and config["log-ali-uid"] == SANDBOX_ACCOUNT_ID
    assert config["log-endpoint"] == "cn-hangzhou-intranet.log.aliyuncs.com" and config["log-machine-group"]
    assert json.loads(c["addons"]["logtail-ds"]["config"])["sls_project_name"] == PROJECT


def test_audited_cluster_runs_labelled_workloads_in_several_namespaces(world):
    c = world.clusters[AUDITED_CLUSTER_ID]
    nodes = {n["node_name"] for n in c["nodes"]}
    assert {"payments", "web", "data", "ci", "default", "kube-system"} <= {p["namespace"] for p in c["pods"]}
    assert len({p["name"] for p in c["pods"]}) == len(c["pods"])
    for pod in c["pods"]:
        assert pod["node_name"] in nodes and pod["labels"]["app"] and pod["ip"].startswith("10.0.")
        assert pod["containers"] and all(":" in k["image"] for k in pod["containers"])


def test_audited_cluster_registers_every_seeded_identity(world):
    users = list(world.clusters[AUDITED_CLUSTER_ID]["users"].values())
    assert CI_DEPLOYER in users and SRE_ADMIN in users and INTRUDER in users
    assert "system:masters" in SRE_ADMIN["groups"] and CI_DEPLOYER["aliuid"] == ""
    assert all(u["username"] == u["aliuid"] and u["username"].isdigit() for u in users if u is not CI_DEPLOYER
               and not u["username"].startswith("system:"))


def test_audit_logstore_and_index(world):
    project = world.projects[PROJECT]
    store = project["logstores"][LOGSTORE]
    assert (store["ttl"], store["hot_ttl"], store["shardCount"]) == (180, 30, 2)
    for key in ("logstoreName", "enable_tracking", "appendMeta", "autoSplit", "maxSplitShard"):
        assert key in store
    assert project["indexes"][LOGSTORE] == audit_index()
    assert {"config-operation-log", "k8s-event"} <= set(project["logstores"])


def test_eligible_cluster_has_the_log_component_but_no_audit(world):
    c = world.clusters[ELIGIBLE_CLUSTER_ID]
    assert c["cluster_type"] == "ManagedKubernetes" and c["profile"] == "Default"
    assert version_tuple(c["current_version"]) >= (1, 24)
    assert "ack-advanced-audit" not in c["addons"] and "logtail-ds" in c["addons"]
    assert all(n["os_image"].startswith("ContainerOS 3") and kernel_tuple(n["kernel_version"]) > (4, 19)
               for n in c["nodes"])
    project = world.projects[c["configmaps"]["kube-system/alibaba-log-configuration"]["log-project"]]
    assert f"advaudit-{ELIGIBLE_CLUSTER_ID}" not in project["logstores"]


def test_ineligible_cluster_runs_ubuntu_too_old_for_its_version_and_a_centos_node(world):
    c = world.clusters[INELIGIBLE_CLUSTER_ID]
    assert version_tuple(c["current_version"]) < (1, 30)
    images = Counter(n["os_image"].split()[0] for n in c["nodes"])
    assert images["Ubuntu"] >= 1 and images["CentOS"] == 1
    centos = next(n for n in c["nodes"] if n["os_image"].startswith("CentOS"))
    assert kernel_tuple(centos["kernel_version"]) <= (4, 19)
    assert "ack-advanced-audit" not in c["addons"] and f"k8s-log-{INELIGIBLE_CLUSTER_ID}" not in world.projects


def test_serverless_cluster_has_an_unsupported_profile(world):
    c = world.clusters[SERVERLESS_CLUSTER_ID]
    assert (c["cluster_type"], c["profile"]) == ("ManagedKubernetes", "Serverless")


def test_meta_records_seed_and_now(world):
    assert world.meta["seed"] == 1 and world.meta["now"] == NOW


# -- history ---------------------------------------------------------------------------------------
def test_history_spans_seven_days_with_dozens_of_sessions(history, sessions):
    times = [e["__time__"] for e in history]
    assert NOW - 7 * DAY <= min(times) < NOW - 6 * DAY and NOW - 2 * DAY < max(times) < NOW
    assert times == sorted(times)
    assert 60 <= len(sessions) <= 150
    assert sum(e["kind"] == "Command" for e in history) > 100
    assert all(s[0]["kind"] == "Kubernetes" and s[0]["kubeObject.operation.kind"] == "PodExec"
               for s in sessions.values())


def test_history_has_several_users_including_the_service_account(history):
    users = Counter(e["k8s.user.username"] for e in history if e["kind"] == "Kubernetes")
    assert len(users) >= 4 and users[CI_DEPLOYER["username"]] >= 5
    assert {e["k8s.pod.namespace"] for e in history} >= {"payments", "web", "data", "default"}


def test_working_hours_dominate_and_ci_runs_at_fixed_times(sessions):
    human_hours, ci_starts = [], set()
    for events in sessions.values():
        start = datetime.fromtimestamp(events[0]["__time__"], CHINA_STANDARD_TIME)
        if events[0]["k8s.user.username"] == CI_DEPLOYER["username"]:
            ci_starts.add((start.hour, start.minute // 10))
            assert start.weekday() < 5
        else:
            human_hours.append(start.hour)
    assert ci_starts == {(10, 0), (16, 0)}
    assert sum(9 <= h < 20 for h in human_hours) / len(human_hours) > 0.8


def test_history_runs_risky_programs_and_puts_secrets_on_command_lines(history):
    names = Counter(e["process.name"] for e in history if e["kind"] == "Command")
    assert len(RISKY & set(names)) >= 8
    cmdlines = [e["process.cmdline"] for e in history if e["kind"] == "Command"]
    assert any(c.startswith("mysql ") and f"-p{MYSQL_PASSWORD}" in c for c in cmdlines)
    assert any(c.startswith("redis-cli ") and f"-a {REDIS_PASSWORD}" in c for c in cmdlines)
    assert any("Authorization: Bearer " in c for c in cmdlines)


def test_one_malicious_session_at_night(sessions):
    intruder = [s for s in sessions.values() if s[0]["k8s.user.username"] == INTRUDER["username"]]
    assert len(intruder) == 1
    events = intruder[0]
    start = datetime.fromtimestamp(events[0]["__time__"], CHINA_STANDARD_TIME)
    assert start.hour == 3 and events[0]["k8s.pod.name"].startswith("payments-api-")
    cmdlines = [e["process.cmdline"] for e in events[1:]]
    for expected in ("id", "cat /etc/shadow", "chmod +x /tmp/.x.sh", "nsenter -t 1 -m -u -i -n sh"):
        assert expected in cmdlines
    assert any(c.startswith("wget ") and "-O /tmp/.x" in c for c in cmdlines)
    assert any(c.startswith("base64 -d") for c in cmdlines)
    curl = next(e for e in events if e.get("process.name") == "curl" and "k.sh" in e["process.cmdline"])
    piped_sh = next(e for e in events if e.get("process.name") == "sh" and e["process.pid"] > curl["process.pid"])
    assert piped_sh["process.parentPid"] == curl["process.parentPid"]         # `curl ... | sh`


def test_process_trees_are_consistent(sessions):
    for events in sessions.values():
        commands = [e for e in events if e["kind"] == "Command"]
        assert commands[0]["process.parentName"] == "containerd-shim"
        assert commands[0]["process.cmdline"] == events[0]["kubeObject.operation.podExecOptions.commandStr"]
        latest_by_pid = {}
        for event in commands:
            pid = event["process.pid"]
            if pid in latest_by_pid:    # only an exec in place (nsenter) reuses a pid
                assert latest_by_pid[pid]["process.name"] == "nsenter"
            if event is not commands[0]:
                parent = latest_by_pid[event["process.parentPid"]]
                assert parent["process.name"] == event["process.parentName"]
                assert parent["time"] <= event["time"]
            latest_by_pid[pid] = event


def test_history_is_deterministic_per_seed():
    cluster = audited_cluster(NOW, list(IDENTITIES))
    assert history_rows(cluster, seed=5, now=NOW) == history_rows(cluster, seed=5, now=NOW)
    assert history_rows(cluster, seed=5, now=NOW) != history_rows(cluster, seed=6, now=NOW)


# -- the built world, through the query engine -------------------------------------------------------
def test_same_seed_and_now_build_the_same_world_and_other_seeds_keep_the_ids(tmp_path):
    def build(seed, name):
        state = SandboxState(tmp_path / name)
        started = time.perf_counter()
        build_world(state, seed=seed, now=NOW)
        elapsed = time.perf_counter() - started
        state.meta.pop("created")
        rows = state.events.query(PROJECT, LOGSTORE, "*", NOW - 8 * DAY, NOW, line=100).rows
        snapshot = json.dumps(state.to_dict(), sort_keys=True), rows
        state.close()
        return snapshot, elapsed

    (first, elapsed), (second, _), (other, _) = build(1, "a"), build(1, "b"), build(2, "c")
    assert first == second and elapsed < 2.0
    assert other[1] != first[1]
    assert json.loads(other[0])["clusters"].keys() == json.loads(first[0])["clusters"].keys()


SEED_ALERT_SELECT = (
    '"clusterid", "time", "traceId", "eventId", "k8s.user.aliuid", "k8s.user.username", '
    "json_extract(k8s, '$.user.groups') as \"k8s.user.groups\", \"host.hostip\", \"host.nodename\", "
    '"k8s.pod.namespace", "k8s.pod.name", json_extract(k8s, \'$.pod.labels\') as "k8s.pod.labels"')
ENTER_ALERT = (
    f"kind: Kubernetes and kubeObject.operation.kind: PodExec | select {SEED_ALERT_SELECT}, "
    '"kubeobject.operation.podexecoptions.container", json_extract(kubeobject, '
    "'$.operation.podExecOptions.command') as \"kubeobject.operation.podexecoptions.command\", "
    '"kubeobject.operation.podexecoptions.commandstr" from log')
RISKY_ALERT = (
    f"kind: Command | select {SEED_ALERT_SELECT}, \"k8s.container.name\", \"k8s.container.image\", "
    '"process.cwd", "process.name", "process.cmdline", json_extract(process, \'$.pid\') as "process.pid", '
    '"process.user.uid", json_extract(process, \'$.parentPid\') as "process.parentpid", "process.parentname" '
    "from log where \"process.name\" in ('rm', 'sudo', 'su', 'nsenter', 'curl', 'wget', 'yum', 'apt-get', "
    "'apt', 'apk', 'dpkg', 'nc', 'ncat', 'ssh', 'scp', 'nmap', 'docker', 'crictl', 'nerdctl', 'podman', "
    "'kubectl', 'helm', 'mysql', 'redis', 'psql', 'redis-cli', 'pip', 'npm', 'gem')")


def test_the_seed_alert_queries_fire_on_the_world(world):
    window = (int(NOW - 8 * DAY), int(NOW))
    entered = world.events.query(PROJECT, LOGSTORE, ENTER_ALERT + " limit 1000", *window).rows
    assert len(entered) > 60
    assert {r["kubeobject.operation.podexecoptions.container"] for r in entered} >= {"api", "storefront"}
    risky = world.events.query(PROJECT, LOGSTORE, RISKY_ALERT + " limit 1000", *window).rows
    assert {r["process.name"] for r in risky} >= {"rm", "curl", "wget", "nsenter", "mysql", "redis-cli", "pip"}
    nsenter = next(r for r in risky if r["process.name"] == "nsenter")
    assert nsenter["k8s.user.username"] == INTRUDER["username"] and int(nsenter["process.pid"]) > 0
    assert json.loads(nsenter["k8s.user.groups"]) == INTRUDER["groups"]


def test_documented_searches_find_the_pod_and_program(world):
    window = (int(NOW - 8 * DAY), int(NOW))
    rows = world.events.query(PROJECT, LOGSTORE, "* and process.name: nsenter", *window).rows
    assert len(rows) == 1
    pod = json.loads(rows[0]["k8s"])["pod"]
    query = f"* and k8s.pod.namespace: {pod['namespace']} and k8s.pod.name: {pod['name']}"
    assert INTRUDER["username"] in {flatten_event(r)["k8s.user.username"]
                                    for r in world.events.query(PROJECT, LOGSTORE, query, *window, line=100).rows}


# -- bulk generation -----------------------------------------------------------------------------------
def test_generate_events_yields_exactly_n_sessions_rows_in_the_window():
    start, end = NOW - 3600, NOW
    rows = list(generate_events(5000, seed=3, start=start, end=end))
    assert len(rows) == 5000 and all(start <= r["__time__"] < end for r in rows)
    assert rows == list(generate_events(5000, seed=3, start=start, end=end))
    assert rows != list(generate_events(5000, seed=4, start=start, end=end))
    first_of_trace = {}
    for row in rows:
        first_of_trace.setdefault(row["traceId"], row)
    assert all(r["kind"] == "Kubernetes" for r in first_of_trace.values()) and len(first_of_trace) > 500
    assert len({r["eventId"] for r in rows}) == 5000
    assert Counter(r["kind"] for r in rows)["Command"] > 3000


def test_generate_events_uses_the_given_cluster_and_is_fast():
    cluster = eligible_cluster(NOW, [])
    pods = {(p["namespace"], p["name"]) for p in cluster["pods"]}
    started = time.process_time()
    raw = list(generate_events(10_000, seed=1, start=NOW - 7 * DAY, end=NOW, cluster=cluster))
    assert time.process_time() - started < 2.0        # 1,000,000 rows take well under a minute
    rows = [flatten_event(r) for r in raw]
    assert {r["clusterid"] for r in rows} == {ELIGIBLE_CLUSTER_ID}
    assert {(r["k8s.pod.namespace"], r["k8s.pod.name"]) for r in rows} <= pods
