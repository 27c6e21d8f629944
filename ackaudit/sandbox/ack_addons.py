"""ACK addon routes: the catalog (ListAddons, DescribeAddon), instances, install/uninstall, tasks.

Error codes (`AddonNotFound` is the service's; the others are the sandbox's documented choices,
since none is published, cloud-apis §9 item 2):
- 400 `InvalidParameter`: body not a JSON array sent as application/json, unknown addon or version,
  `config` not a JSON-object string;
- 400 `AddonAlreadyInstalled`: installing an addon that has an instance (in any state);
- 400 `AddonNotReady`: uninstalling an addon whose install or uninstall task is still running;
- 400 `AddonNotSupported`: the addon does not run on this kind of cluster;
- 400 `ErrorClusterState`: the cluster is not `running`;
- 404 `AddonNotFound`: no such instance (GetClusterAddonInstance, uninstall) or catalog entry;
- 404 `TaskNotFound`: DescribeTaskInfo of an unknown task.
Instance states: `installing` while the install task runs, then `active`; `deleting` while the
uninstall task runs, then the instance is gone.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ackaudit.sandbox import ack_tasks, addons
from ackaudit.sandbox.ack_protocol import AckError, find_cluster, json_array_body
from ackaudit.sandbox.http import Request
from ackaudit.sandbox.state import SandboxState

_CATALOG_QUERY = ("region_id", "cluster_type", "profile", "cluster_spec", "cluster_version")


def list_addons(state: SandboxState, req: Request) -> dict[str, Any]:
    cluster_id = req.q("cluster_id")
    if cluster_id:
        version = find_cluster(state, cluster_id)["current_version"]
    elif all(req.q(k) for k in _CATALOG_QUERY):
        version = req.q("cluster_version")
    else:
        raise AckError(400, "InvalidParameter",
                       "cluster_id, or all of " + ", ".join(_CATALOG_QUERY) + ", is required")
    return {"addons": [addons.summary(name, version) for name in addons.CATALOG]}


def describe_addon(state: SandboxState, req: Request, name: str) -> dict[str, Any]:
    if name not in addons.CATALOG:
        raise AckError(404, "AddonNotFound", f"addon {name} does not exist")
    cluster_id = req.q("cluster_id")
    if not cluster_id:
        raise AckError(400, "InvalidParameter", "cluster_id is required")
    cluster = find_cluster(state, cluster_id)
    installed = cluster.get("addons", {}).get(name, {}).get("version")
    body = addons.summary(name, cluster["current_version"])
    body["newer_versions"] = addons.newer_versions(name, cluster["current_version"],
                                                   req.q("version") or installed)
    return body


def list_instances(cluster: dict[str, Any]) -> dict[str, Any]:
    return {"addons": [{"name": i["name"], "version": i["version"], "state": i["state"]}
                       for i in cluster.get("addons", {}).values()]}


def get_instance(cluster: dict[str, Any], name: str) -> dict[str, Any]:
    instance = cluster.get("addons", {}).get(name)
    if instance is None:
        raise AckError(404, "AddonNotFound", f"addon {name} is not installed in cluster {cluster['cluster_id']}")
    return {"name": name, "version": instance["version"], "state": instance["state"],
            "config": instance.get("config") or "",
            "logging": {"capable": False, "enabled": False, "log_project": "", "logstore": ""}}


def install(state: SandboxState, req: Request, cluster: dict[str, Any]) -> dict[str, Any]:
    items = json_array_body(req)
    _require_running(cluster)
    instances = cluster.setdefault("addons", {})
    wanted: dict[str, dict[str, str]] = {}
    for item in items:
        name, version, config = _install_item(item, cluster)
        if name in wanted:
            raise AckError(400, "InvalidParameter", f"addon {name} is listed more than once")
        if name in instances:
            raise AckError(400, "AddonAlreadyInstalled",
                           f"addon {name} is already installed in cluster {cluster['cluster_id']}")
        wanted[name] = {"name": name, "version": version, "config": config}
    error, failed_stage = _predicted_failure(state, cluster, wanted)
    task = ack_tasks.create(state, cluster, ack_tasks.INSTALL, list(wanted), error, failed_stage)
    for name, instance in wanted.items():
        instances[name] = {**instance, "state": "installing", "task_id": task["task_id"]}
    return task


def uninstall(state: SandboxState, req: Request, cluster: dict[str, Any]) -> dict[str, Any]:
    items = json_array_body(req)
    _require_running(cluster)
    instances = cluster.get("addons", {})
    names = []
    for item in items:
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise AckError(400, "InvalidParameter", "each item needs a name")
        cleanup = item.get("cleanup_cloud_resources", False)
        if not isinstance(cleanup, bool):
            raise AckError(400, "InvalidParameter", "cleanup_cloud_resources must be a boolean")
        if name not in instances:
            raise AckError(404, "AddonNotFound",
                           f"addon {name} is not installed in cluster {cluster['cluster_id']}")
        if instances[name]["state"] != "active":
            raise AckError(400, "AddonNotReady", f"addon {name} is {instances[name]['state']}; "
                           "wait for its task to finish")
        names.append(name)
    task = ack_tasks.create(state, cluster, ack_tasks.UNINSTALL, names)
    for name in names:
        instances[name].update(state="deleting", task_id=task["task_id"])
    return task


def describe_task(state: SandboxState, task_id: str) -> dict[str, Any]:
    task = state.tasks.get(task_id)
    if task is None:
        raise AckError(404, "TaskNotFound", f"task {task_id} does not exist")
    return ack_tasks.describe(task, time.time())


def _require_running(cluster: dict[str, Any]) -> None:
    if cluster.get("state") != "running":
        raise AckError(400, "ErrorClusterState",
                       f"cluster {cluster['cluster_id']} is {cluster.get('state')}, not running")


def _install_item(item: dict[str, Any], cluster: dict[str, Any]) -> tuple[str, str, str]:
    """The validated (name, version, config) of one InstallClusterAddons item."""
    name, version, config = item.get("name"), item.get("version") or "", item.get("config") or ""
    if not isinstance(name, str) or name not in addons.CATALOG:
        raise AckError(400, "InvalidParameter", f"addon {name!r} does not exist")
    if not isinstance(version, str) or not isinstance(config, str):
        raise AckError(400, "InvalidParameter", f"version and config of {name} must be strings")
    if not addons.supports_cluster(name, cluster):
        raise AckError(400, "AddonNotSupported",
                       f"addon {name} is not supported on {cluster.get('cluster_type')} clusters "
                       f"with profile {cluster.get('profile')}")
    cluster_version = cluster["current_version"]
    if not version:
        version = addons.newest_version(name, cluster_version) or ""
    entry = next((e for e in addons.CATALOG[name]["versions"] if e["version"] == version), None)
    if entry is None:
        raise AckError(400, "InvalidParameter", f"addon {name} has no version {version!r}")
    if not addons.cluster_can_run(entry, cluster_version):
        raise AckError(400, "InvalidParameter",
                       f"{name} {version} needs cluster version {entry['minimum_cluster_version']} or later")
    if config:
        try:
            parsed = json.loads(config)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise AckError(400, "InvalidParameter", f"config of {name} must be a JSON object encoded as a string")
    return name, version, config


def _predicted_failure(state: SandboxState, cluster: dict[str, Any],
                       wanted: dict[str, Any]) -> tuple[dict[str, str] | None, int]:
    """(error, failing stage index) when this install is going to fail, else (None, 0)."""
    if addons.AUDIT_ADDON in wanted:
        present = [n for n in addons.LOG_COMPONENTS
                   if n in wanted or cluster.get("addons", {}).get(n, {}).get("state") in ("active", "installing")]
        if not present:
            return {"code": "AddonDependencyNotMet",
                    "message": f"{addons.AUDIT_ADDON} requires the log component (logtail-ds or "
                               "loongcollector); install it first or in the same request"}, 0
    failing = [n for n in wanted if n in state.settings.get("fail_install", [])]
    if failing:
        return {"code": "AddonInstallFailed",
                "message": f"install addon {failing[0]} failed: pods of {failing[0]} did not become ready "
                           "within the timeout"}, 1
    return None, 0
