"""The emulated ACK API (CS, ROA, version 2015-12-15): clusters, nodes, kubeconfigs, addons, tasks.

The server verifies signatures before calling `handle()`, and calls `advance()` before every ACK
or SLS request so that due addon tasks take effect (see `ack_tasks`). Paths and shapes follow
cloud-apis §1; addon routes and their error codes live in `ack_addons`.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from ackaudit.sandbox import ack_addons, ack_tasks
from ackaudit.sandbox.ack_protocol import (
    API_VERSION,
    AckError,
    bool_param,
    error_response,
    find_cluster,
    int_param,
    iso_time,
    new_request_id,
    ok,
)
from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.state import SANDBOX_ACCOUNT_ID, SandboxState

advance = ack_tasks.advance

# Kubeconfigs requested without TemporaryDurationMinutes stay valid this long (ACK: three years).
_DEFAULT_KUBECONFIG_MINUTES = 3 * 365 * 24 * 60

Handler = Callable[[SandboxState, Request, list[str]], Any]
_ROUTES: list[tuple[str, re.Pattern[str], Handler]] = []


def _route(method: str, pattern: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _ROUTES.append((method, re.compile("^" + pattern.replace("{}", "([^/]+)") + "/?$"), fn))
        return fn
    return register


def handle(state: SandboxState, req: Request) -> Response:
    request_id = new_request_id()
    try:
        version = req.headers.get("x-acs-version")
        if version is not None and version != API_VERSION:
            raise AckError(400, "InvalidVersion", f"API version {version} is not supported; use {API_VERSION}")
        for method, pattern, fn in _ROUTES:
            match = pattern.match(req.path)
            if match and method == req.method:
                with state.lock:
                    body = fn(state, req, [unquote(g) for g in match.groups()])
                if isinstance(body, dict) and "request_id" in body:   # the APIs that echo it in the body
                    body["request_id"] = request_id
                return ok(body, request_id)
        raise AckError(404, "InvalidAction.NotFound", f"no ACK API answers {req.method} {req.path}")
    except AckError as err:
        return error_response(err, request_id)


# -- clusters -------------------------------------------------------------------------------------
@_route("GET", "/api/v1/clusters")
def _describe_clusters_v1(state: SandboxState, req: Request, _: list[str]) -> dict[str, Any]:
    # The 4.8.1 typed request spells the filters `Name`/`ClusterType`; newer SDKs use snake case.
    name = req.q("name") or req.q("Name")
    filters = {"cluster_type": req.q("cluster_type") or req.q("ClusterType"), "profile": req.q("profile"),
               "cluster_spec": req.q("cluster_spec"), "region_id": req.q("region_id"),
               "cluster_id": req.q("cluster_id")}
    page_number = int_param(req, "page_number", 1, 1, 1_000_000)
    page_size = int_param(req, "page_size", 10, 1, 100)
    matching = [c for c in state.clusters.values()
                if (not name or name in c["name"])
                and all(not want or c.get(key) == want for key, want in filters.items())]
    start = (page_number - 1) * page_size
    return {"clusters": [_cluster_view(state, c) for c in matching[start:start + page_size]],
            "page_info": {"page_number": page_number, "page_size": page_size, "total_count": len(matching)}}


@_route("GET", "/clusters/{}")
def _describe_cluster_detail(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    return _cluster_view(state, find_cluster(state, args[0]))


def _cluster_view(state: SandboxState, cluster: dict[str, Any]) -> dict[str, Any]:
    endpoint = f"{state.server_url}/kube/{cluster['cluster_id']}"
    keys = ("cluster_id", "name", "region_id", "zone_id", "vpc_id", "cluster_type", "profile",
            "cluster_spec", "current_version", "state")
    return {
        **{k: cluster.get(k, "") for k in keys},
        "init_version": cluster.get("init_version", cluster.get("current_version", "")),
        "created": _timestamp(cluster.get("created")), "updated": _timestamp(cluster.get("updated")),
        "size": len(cluster.get("nodes", [])),
        "network_mode": "vpc", "vswitch_ids": cluster.get("vswitch_ids", []),
        "deletion_protection": bool(cluster.get("deletion_protection", False)),
        "resource_group_id": cluster.get("resource_group_id", ""), "tags": cluster.get("tags", []),
        "timezone": "Asia/Shanghai",
        # ACK serialises both as JSON strings inside the JSON body (cloud-apis §1.10).
        "meta_data": json.dumps(cluster.get("meta_data", {}), ensure_ascii=False),
        "master_url": json.dumps({"api_server_endpoint": endpoint, "intranet_api_server_endpoint": endpoint,
                                  "dashboard_endpoint": ""}),
    }


def _timestamp(value: Any) -> str:
    if isinstance(value, (int, float)):
        return iso_time(value)
    return value or ""


# -- nodes and node pools -------------------------------------------------------------------------
@_route("GET", "/clusters/{}/nodes")
def _describe_cluster_nodes(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    cluster = find_cluster(state, args[0])
    page_number = int_param(req, "pageNumber", 1, 1, 1_000_000)
    page_size = int_param(req, "pageSize", 10, 1, 100)
    wanted_state, pool = req.q("state") or "all", req.q("nodepool_id")
    if wanted_state not in ("all", "running", "removing", "initial", "failed"):
        raise AckError(400, "InvalidParameter", "state must be all, running, removing, initial or failed")
    nodes = [n for n in cluster.get("nodes", [])
             if (not pool or n.get("nodepool_id") == pool)
             and wanted_state in ("all", n.get("state", "running"))]
    start = (page_number - 1) * page_size
    return {"nodes": [_node_view(cluster, n) for n in nodes[start:start + page_size]],
            "page": {"page_number": page_number, "page_size": page_size, "total_count": len(nodes)}}


def _node_view(cluster: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    created = _timestamp(cluster.get("created"))
    return {
        "instance_id": node["instance_id"], "instance_name": node["node_name"],
        "node_name": node["node_name"], "host_name": node["node_name"], "ip_address": [node["ip"]],
        "image_id": node.get("image_id", ""), "instance_type": node.get("instance_type", "ecs.g7.xlarge"),
        "instance_type_family": node.get("instance_type", "ecs.g7.xlarge").rsplit(".", 1)[0],
        "instance_role": "Worker", "instance_status": "Running",
        "node_status": "Ready" if node.get("ready", True) else "NotReady",
        "state": node.get("state", "running"), "nodepool_id": node.get("nodepool_id", ""),
        "creation_time": created, "expired_time": "2099-12-31T15:59:00+08:00",
        "is_aliyun_node": True, "source": "ess_attach", "spot_strategy": "NoSpot",
        "instance_charge_type": "PostPaid", "error_message": "",
    }


@_route("GET", "/clusters/{}/nodepools")
def _describe_cluster_node_pools(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    cluster = find_cluster(state, args[0])
    return {"nodepools": [_nodepool_view(cluster, p, i == 0) for i, p in enumerate(cluster.get("nodepools", []))]}


def _nodepool_view(cluster: dict[str, Any], pool: dict[str, Any], first: bool) -> dict[str, Any]:
    nodes = [n for n in cluster.get("nodes", []) if n.get("nodepool_id") == pool["nodepool_id"]]
    healthy = sum(1 for n in nodes if n.get("ready", True))
    created = _timestamp(cluster.get("created"))
    runtime = nodes[0].get("container_runtime_version", "containerd://1.6.28") if nodes else "containerd://1.6.28"
    return {
        "nodepool_info": {"nodepool_id": pool["nodepool_id"], "name": pool["name"], "type": "ess",
                          "is_default": first, "region_id": cluster["region_id"],
                          "resource_group_id": cluster.get("resource_group_id", ""),
                          "created": created, "updated": created},
        "scaling_group": {"image_type": pool["image_type"], "image_id": pool.get("image_id", ""),
                          "instance_types": sorted({n.get("instance_type", "ecs.g7.xlarge") for n in nodes}),
                          "system_disk_category": "cloud_essd", "system_disk_size": 120,
                          "vswitch_ids": cluster.get("vswitch_ids", [])},
        "kubernetes_config": {"runtime": runtime.split("://")[0], "runtime_version": runtime.split("://")[-1],
                              "labels": [], "taints": [], "cpu_policy": "none"},
        "status": {"state": "active", "total_nodes": len(nodes), "healthy_nodes": healthy,
                   "serving_nodes": healthy, "offline_nodes": 0, "failed_nodes": 0,
                   "initial_nodes": 0, "removing_nodes": 0, "spot_nodes": 0},
    }


# -- kubeconfig -----------------------------------------------------------------------------------
@_route("GET", "/k8s/{}/user_config")
def _describe_cluster_user_kubeconfig(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    cluster = find_cluster(state, args[0])
    bool_param(req, "PrivateIpAddress")   # validated; the sandbox has one endpoint for both networks
    temporary = req.q("TemporaryDurationMinutes") not in (None, "")
    minutes = int_param(req, "TemporaryDurationMinutes", _DEFAULT_KUBECONFIG_MINUTES, 15, 4320)
    user = caller_identity()
    users = cluster.setdefault("users", {})
    now = time.time()
    for stale in [t for t, u in users.items() if u.get("expires", now) < now]:
        del users[stale]
    # Like ACK, a long-lived kubeconfig is the same each time; a temporary one is always new.
    token = None if temporary else next(
        (t for t, u in users.items() if u["username"] == user["username"] and u.get("temporary") is False), None)
    if token is None:
        token = secrets.token_urlsafe(24)
        users[token] = {**user, "expires": now + minutes * 60, "temporary": temporary}
    return {"config": _kubeconfig(state, cluster, user["username"], token),
            "expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(users[token]["expires"]))}


def caller_identity() -> dict[str, Any]:
    """Who signed the ACK request: the sandbox has one account and no RAM users, so its root."""
    return {"username": SANDBOX_ACCOUNT_ID, "aliuid": SANDBOX_ACCOUNT_ID,
            "groups": ["system:users", "system:authenticated"]}


def _kubeconfig(state: SandboxState, cluster: dict[str, Any], username: str, token: str) -> str:
    import yaml

    context = f"{username}-{cluster['cluster_id']}"
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "preferences": {}, "current-context": context,
        "clusters": [{"name": "kubernetes",
                      "cluster": {"server": f"{state.server_url}/kube/{cluster['cluster_id']}"}}],
        "contexts": [{"name": context, "context": {"cluster": "kubernetes", "user": username}}],
        "users": [{"name": username, "user": {"token": token}}],
    }, sort_keys=False)


# -- addons and tasks -----------------------------------------------------------------------------
@_route("GET", "/addons")
def _list_addons(state: SandboxState, req: Request, _: list[str]) -> dict[str, Any]:
    return ack_addons.list_addons(state, req)


@_route("GET", "/addons/{}")
def _describe_addon(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    return ack_addons.describe_addon(state, req, args[0])


@_route("GET", "/clusters/{}/addon_instances")
def _list_addon_instances(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    return ack_addons.list_instances(find_cluster(state, args[0]))


@_route("GET", "/clusters/{}/addon_instances/{}")
def _get_addon_instance(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    return ack_addons.get_instance(find_cluster(state, args[0]), args[1])


@_route("POST", "/clusters/{}/components/install")
def _install_addons(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    task = ack_addons.install(state, req, find_cluster(state, args[0]))
    return {"cluster_id": args[0], "task_id": task["task_id"], "request_id": ""}


@_route("POST", "/clusters/{}/components/uninstall")
def _uninstall_addons(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    task = ack_addons.uninstall(state, req, find_cluster(state, args[0]))
    return {"cluster_id": args[0], "task_id": task["task_id"], "request_id": ""}


@_route("GET", "/tasks/{}")
def _describe_task_info(state: SandboxState, req: Request, args: list[str]) -> dict[str, Any]:
    return ack_addons.describe_task(state, args[0])
