"""Addon install/uninstall tasks: their clock-derived progress and their effects on the world.

A task is `running` until `created + delay`, then `success` or `fail` (its `outcome`, fixed when it
is created). The outcome's effects are applied once, by `advance()`, which the server calls before
every ACK or SLS request, so every process sharing a state directory sees the same progress.

Effects (cloud-apis §2.1, §2.3):
- an addon with a DaemonSet (`addons.CATALOG[...]["workload"]`) gets one kube-system pod per Linux
  node when installed, and loses them when uninstalled;
- installing the log component (`logtail-ds` or `loongcollector`) creates the SLS project
  (`sls_project_name` from its config, else `k8s-log-<cluster_id>`) when missing and the
  `kube-system/alibaba-log-configuration` ConfigMap (removed again with the last log component);
- installing `ack-advanced-audit` creates `advaudit-<cluster_id>` (ttl 180 days) in the ConfigMap's
  project, with the bundled index unless `settings["install_creates_index"] is False`;
- uninstalling removes the addon instance; the audit logstore is kept, as on the real service.
A failed install installs none of the task's addons (the sandbox's simplification).
"""

from __future__ import annotations

import json
import random
import time
import uuid
from importlib import resources
from typing import Any

from ackaudit.sandbox import addons
from ackaudit.sandbox.ack_protocol import iso_time, stage_time
from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID, SandboxState

LOG_CONFIGMAP = "kube-system/alibaba-log-configuration"
AUDIT_TTL_DAYS = 180
INSTALL = "cluster_addon_install"
UNINSTALL = "cluster_addon_uninstall"
_POD_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # Kubernetes' generated-name alphabet
_STAGES = {INSTALL: ["CheckAddonDependencies", "InstallAddons", "WaitAddonsReady"],
           UNINSTALL: ["UninstallAddons", "WaitAddonsRemoved"]}


def audit_logstore(cluster_id: str) -> str:
    return f"advaudit-{cluster_id}"


def default_log_project(cluster_id: str) -> str:
    return f"k8s-log-{cluster_id}"


def create(state: SandboxState, cluster: dict[str, Any], task_type: str, names: list[str],
           error: dict[str, str] | None = None, failed_stage: int = 0) -> dict[str, Any]:
    """Record a new task over the addons `names`; it fails with `error` at stage `failed_stage`."""
    task_id = "T-" + uuid.uuid4().hex[:24]
    task = {"task_id": task_id, "cluster_id": cluster["cluster_id"], "task_type": task_type,
            "created": time.time(), "delay": float(state.settings.get("task_delay", 3.0)),
            "outcome": "fail" if error else "success", "error": error,
            "stages": [{"name": n} for n in _STAGES[task_type][: failed_stage + 1 if error else None]],
            "addons": list(names)}
    state.tasks[task_id] = task
    return task


def state_at(task: dict[str, Any], at: float) -> str:
    return "running" if at < task["created"] + task["delay"] else task["outcome"]


def describe(task: dict[str, Any], at: float) -> dict[str, Any]:
    """The DescribeTaskInfo body for `task` as of time `at`."""
    created, delay, stages = task["created"], task["delay"], task["stages"]
    # Stages share the delay evenly; a failing task's last stage is the one that failed.
    width = delay / len(stages)
    shown, events = [], []
    for i, stage in enumerate(stages):
        start, end = created + i * width, created + (i + 1) * width
        if at < start:
            break
        done = at >= end
        failed = done and task["outcome"] == "fail" and i == len(stages) - 1
        shown.append({"state": "running" if not done else "fail" if failed else "success",
                      "start_time": stage_time(start), "end_time": stage_time(end) if done else "",
                      "message": task["error"]["message"] if failed else "", "outputs": {}})
        events.append(_event(stage["name"], "Started", f"stage {stage['name']} started", start))
        if done:
            verb = "Failed" if failed else "Succeeded"
            events.append(_event(stage["name"], verb, f"stage {stage['name']} {verb.lower()}", end))
    task_state = state_at(task, at)
    result_status = {"running": "initial", "success": "success", "fail": "failed"}[task_state]
    body = {
        "task_id": task["task_id"], "cluster_id": task["cluster_id"], "task_type": task["task_type"],
        "state": task_state, "created": iso_time(created),
        "updated": iso_time(min(at, created + delay)),
        "current_stage": stages[len(shown) - 1]["name"] if shown else stages[0]["name"],
        "stages": shown, "events": events,
        "task_result": [{"data": name, "status": result_status} for name in task["addons"]],
        "target": {"id": task["cluster_id"], "type": "cluster"},
        "parameters": {"addons": task["addons"]},
    }
    if task_state == "fail":
        body["error"] = dict(task["error"])
    return body


def _event(reason: str, action: str, message: str, at: float) -> dict[str, Any]:
    return {"action": action, "level": "Warning" if action == "Failed" else "Normal",
            "message": message, "reason": reason, "source": "addon-manager",
            "timestamp": str(int(at * 1000))}


# -- effects --------------------------------------------------------------------------------------
def advance(state: SandboxState) -> bool:
    """Apply the effects of every task that came due since the last call; True if any did."""
    changed = False
    with state.lock:
        at = time.time()
        due = [t for t in state.tasks.values()
               if not t.get("applied") and at >= t["created"] + t["delay"]]
        for task in sorted(due, key=lambda t: t["created"]):
            cluster = state.clusters.get(task["cluster_id"])
            if cluster is not None:
                _apply(state, cluster, task)
            task["applied"] = True
            changed = True
    return changed


def _apply(state: SandboxState, cluster: dict[str, Any], task: dict[str, Any]) -> None:
    instances = cluster.setdefault("addons", {})
    # Only instances this task still owns: a later task may have taken an addon over.
    owned = [n for n in task["addons"] if instances.get(n, {}).get("task_id") == task["task_id"]]
    if task["task_type"] == UNINSTALL:
        for name in owned:
            del instances[name]
            _stop_daemon_pods(cluster, name)
            if name in addons.LOG_COMPONENTS and not _active_log_component(cluster):
                cluster.get("configmaps", {}).pop(LOG_CONFIGMAP, None)
        return
    if task["outcome"] == "fail":
        for name in owned:
            del instances[name]
        return
    # Log components first: the audit addon writes to the project they configure.
    for name in sorted(owned, key=lambda n: n not in addons.LOG_COMPONENTS):
        instances[name]["state"] = "active"
        _start_daemon_pods(cluster, name, instances[name]["version"])
        if name in addons.LOG_COMPONENTS:
            _install_log_component(state, cluster, instances[name])
        elif name == addons.AUDIT_ADDON:
            _install_audit_logstore(state, cluster)


def _start_daemon_pods(cluster: dict[str, Any], name: str, version: str) -> None:
    """One pod of the addon's DaemonSet per Linux node (host network, so the node's IP)."""
    workload = addons.CATALOG[name].get("workload")
    if workload is None:
        return
    daemonset, container = workload
    pods = cluster.setdefault("pods", [])
    if any(_daemon_pod_of(p, daemonset) for p in pods):
        return
    rng = random.Random(f"{cluster['cluster_id']}:{daemonset}:{version}")
    for node in cluster.get("nodes", []):
        if addons.runs_linux(node):
            suffix = "".join(rng.choice(_POD_NAME_ALPHABET) for _ in range(5))
            pods.append({"namespace": "kube-system", "name": f"{daemonset}-{suffix}",
                         "node_name": node["node_name"], "ip": node["ip"], "labels": {"app": daemonset},
                         "containers": [{"name": container, "image": addons.image(name, version)}]})


def _stop_daemon_pods(cluster: dict[str, Any], name: str) -> None:
    workload = addons.CATALOG[name].get("workload")
    if workload is not None:
        cluster["pods"] = [p for p in cluster.get("pods", []) if not _daemon_pod_of(p, workload[0])]


def _daemon_pod_of(pod: dict[str, Any], daemonset: str) -> bool:
    return pod["namespace"] == "kube-system" and pod.get("labels", {}).get("app") == daemonset


def _active_log_component(cluster: dict[str, Any]) -> str | None:
    instances = cluster.get("addons", {})
    return next((n for n in addons.LOG_COMPONENTS if instances.get(n, {}).get("state") == "active"), None)


def _install_log_component(state: SandboxState, cluster: dict[str, Any], instance: dict[str, Any]) -> None:
    cid, region = cluster["cluster_id"], cluster["region_id"]
    try:
        config = json.loads(instance.get("config") or "{}")
    except ValueError:
        config = {}
    project = config.get("sls_project_name") or default_log_project(cid)
    ensure_project(state, project, region, f"k8s log project, created by the log component of {cid}")
    cluster.setdefault("configmaps", {}).setdefault(LOG_CONFIGMAP, {
        "log-project": project,
        "log-endpoint": f"{region}-intranet.log.aliyuncs.com",
        "log-machine-group": f"k8s-group-{cid}",
        "log-ali-uid": SANDBOX_ACCOUNT_ID,
        "log-config-path": f"/etc/ilogtail/conf/{region}_internal/ilogtail_config.json",
        "cpu-core-limit": "2",
        "mem-limit": "1024",
        "max-bytes-per-sec": "20971520",
        "send-requests-concurrency": "20",
    })


def log_project_of(cluster: dict[str, Any]) -> str:
    """The SLS project the cluster's log component ships to."""
    configmap = cluster.get("configmaps", {}).get(LOG_CONFIGMAP, {})
    return configmap.get("log-project") or default_log_project(cluster["cluster_id"])


def _install_audit_logstore(state: SandboxState, cluster: dict[str, Any]) -> None:
    project_name = log_project_of(cluster)
    project = ensure_project(state, project_name, cluster["region_id"],
                             f"k8s log project of {cluster['cluster_id']}")
    logstore = audit_logstore(cluster["cluster_id"])
    if logstore not in project["logstores"]:
        # A reinstall keeps the existing logstore and its (possibly changed) retention.
        now = int(time.time())
        project["logstores"][logstore] = {
            "logstoreName": logstore, "ttl": AUDIT_TTL_DAYS, "shardCount": 2, "enable_tracking": False,
            "autoSplit": True, "maxSplitShard": 64, "appendMeta": True, "telemetryType": "",
            "mode": "standard", "createTime": now, "lastModifyTime": now,
        }
    state.events.ensure_logstore(project_name, logstore)
    if state.settings.get("install_creates_index") is not False and logstore not in project["indexes"]:
        index = bundled_audit_index()
        project["indexes"][logstore] = index
        state.events.set_index(project_name, logstore, index)


def bundled_audit_index() -> dict[str, Any]:
    text = resources.files("ackaudit.data").joinpath("advaudit-index.json").read_text(encoding="utf-8")
    return json.loads(text)


def ensure_project(state: SandboxState, name: str, region: str, description: str) -> dict[str, Any]:
    if name not in state.projects:
        state.projects[name] = {
            "projectName": name, "region": region, "description": description,
            "createTime": time.strftime("%Y-%m-%d %H:%M:%S"),
            "logstores": {}, "indexes": {}, "jobs": {}, "dashboards": {},
        }
    return state.projects[name]
