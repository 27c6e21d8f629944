"""A read-mostly Kubernetes API per sandbox cluster, served under `/kube/<cluster_id>/`.

Objects are rendered from the cluster's world model (state.py) as the kubernetes 37.x client's
strict models require them. Addon DaemonSets come from the addon instances and their pods; the
audit agent is ready only on nodes it supports (`addons.audit_node_problem`), so partial coverage
shows in the DaemonSet status. Callers authenticate with a bearer token registered in
`cluster["users"]`; a user marked `"read_only": true` may read but not exec. Pod exec is in
`kube_exec`.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ackaudit.sandbox import ack_tasks, addons
from ackaudit.sandbox.http import Request, Response
from ackaudit.sandbox.state import SandboxState

_BUILTIN_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


class KubeError(Exception):
    """Answered as a `Status` object, like the apiserver's errors."""

    def __init__(self, code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


def status_body(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def not_found(kind: str, name: str) -> KubeError:
    return KubeError(404, "NotFound", f'{kind} "{name}" not found', {"name": name, "kind": kind})


def handle(state: SandboxState, cluster_id: str, subpath: str, req: Request) -> Response:
    # Kubernetes requests also see addon tasks that came due (the server advances before ACK/SLS).
    with state.lock:
        if ack_tasks.advance(state):
            state.save()
    path = "/" + subpath.strip("/")
    try:
        with state.lock:
            cluster = state.clusters.get(cluster_id)
            if cluster is None:
                raise KubeError(404, "NotFound", f"cluster {cluster_id} not found")
            user = authenticate(cluster, req)
            if path.endswith("/exec"):
                from ackaudit.sandbox import kube_exec

                match = re.fullmatch(r"/api/v1/namespaces/([^/]+)/pods/([^/]+)/exec", path)
                if match is None or req.method not in ("GET", "POST"):
                    raise KubeError(404, "NotFound", "the server could not find the requested resource")
                return kube_exec.start(state, cluster, user, req, *match.groups())
            if req.method != "GET":
                raise KubeError(405, "MethodNotAllowed", f"the server does not allow this method ({req.method})")
            for pattern, fn in _ROUTES:
                match = pattern.fullmatch(path)
                if match:
                    return Response.json(fn(cluster, req, *match.groups()))
            raise KubeError(404, "NotFound", "the server could not find the requested resource")
    except KubeError as err:
        return Response.json(status_body(err.code, err.reason, err.message, err.details), status=err.code)


def authenticate(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    """The user the bearer token belongs to; 401 for a missing, unknown or expired token."""
    scheme, _, token = req.headers.get("authorization", "").partition(" ")
    user = cluster.get("users", {}).get(token.strip()) if scheme.lower() == "bearer" else None
    if user is None or user.get("expires", float("inf")) < time.time():
        raise KubeError(401, "Unauthorized", "Unauthorized")
    return user


# -- discovery ------------------------------------------------------------------------------------
def _version(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    version = cluster["current_version"]
    major, minor = addons.version_tuple(version)[:2]
    return {"major": str(major), "minor": str(minor), "gitVersion": "v" + version,
            "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.22.8", "compiler": "gc",
            "platform": "linux/amd64"}


def _api_versions(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}


def _api_groups(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    apps = {"groupVersion": "apps/v1", "version": "v1"}
    return {"kind": "APIGroupList", "apiVersion": "v1",
            "groups": [{"name": "apps", "versions": [apps], "preferredVersion": apps}]}


def _resource(name: str, kind: str, namespaced: bool, verbs: tuple[str, ...] = ("get", "list")) -> dict:
    return {"name": name, "singularName": "" if "/" in name else kind.lower(), "namespaced": namespaced,
            "kind": kind, "verbs": list(verbs)}


def _core_resources(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        _resource("nodes", "Node", False), _resource("namespaces", "Namespace", False),
        _resource("pods", "Pod", True), _resource("pods/exec", "PodExecOptions", True, ("create", "get")),
        _resource("configmaps", "ConfigMap", True)]}


def _apps_resources(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    return {"kind": "APIResourceList", "groupVersion": "apps/v1",
            "resources": [_resource("daemonsets", "DaemonSet", True)]}


# -- selectors ------------------------------------------------------------------------------------
_SET_REQUIREMENT = re.compile(r"^([A-Za-z0-9_./-]+)\s+(in|notin)\s+\(([^)]*)\)$")
_EQUALITY_REQUIREMENT = re.compile(r"^([A-Za-z0-9_./-]+)\s*(==|!=|=)\s*([A-Za-z0-9_.-]*)$")
_EXISTS_REQUIREMENT = re.compile(r"^(!?)([A-Za-z0-9_./-]+)$")


def label_matcher(selector: str | None) -> Callable[[dict[str, str]], bool]:
    """A predicate over labels for the labelSelector syntax (equality, set and existence forms)."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for part in re.split(r",(?![^(]*\))", selector or ""):
        part = part.strip()
        if not part:
            continue
        if m := _SET_REQUIREMENT.match(part):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            tests.append(lambda labels, k=key, vs=values, neg=op == "notin": (labels.get(k) in vs) != neg)
        elif m := _EQUALITY_REQUIREMENT.match(part):
            key, op, value = m.groups()
            tests.append(lambda labels, k=key, v=value, neg=op == "!=": (labels.get(k) == v) != neg)
        elif m := _EXISTS_REQUIREMENT.match(part):
            tests.append(lambda labels, k=m.group(2), neg=m.group(1) == "!": (k in labels) != neg)
        else:
            raise KubeError(400, "BadRequest", f"unable to parse requirement: {part!r}")
    return lambda labels: all(t(labels) for t in tests)


def field_matcher(selector: str | None, supported: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    """A predicate over a rendered object for fieldSelector (`=`, `==`, `!=` on `supported` paths)."""
    tests: list[Callable[[dict[str, Any]], bool]] = []
    for part in (selector or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"([A-Za-z.]+)\s*(==|!=|=)\s*(.*)", part)
        if m is None:
            raise KubeError(400, "BadRequest", f"invalid selector: {part!r}")
        path, op, value = m.groups()
        if path not in supported:
            raise KubeError(400, "BadRequest", f'field label not supported: "{path}"')
        tests.append(lambda obj, p=path, v=value, neg=op == "!=": (_field(obj, p) == v) != neg)
    return lambda obj: all(t(obj) for t in tests)


def _field(obj: dict[str, Any], path: str) -> str:
    for key in path.split("."):
        obj = obj.get(key, {}) if isinstance(obj, dict) else {}
    return "" if obj == {} else str(obj).lower() if isinstance(obj, bool) else str(obj)


def _select(items: list[dict[str, Any]], req: Request, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    labels_ok = label_matcher(req.q("labelSelector"))
    fields_ok = field_matcher(req.q("fieldSelector"), ("metadata.name", "metadata.namespace", *fields))
    return [o for o in items if labels_ok(o["metadata"].get("labels", {})) and fields_ok(o)]


def _list(kind: str, api_version: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"kind": kind, "apiVersion": api_version, "metadata": {"resourceVersion": "1"}, "items": items}


def _one(items: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = next((o for o in items if o["metadata"]["name"] == name), None)
    if found is None:
        raise not_found(kind, name)
    return found


def _in_namespace(items: list[dict[str, Any]], namespace: str | None) -> list[dict[str, Any]]:
    return [o for o in items if namespace is None or o["metadata"].get("namespace") == namespace]


# -- rendering the world --------------------------------------------------------------------------
def _k8s_time(cluster: dict[str, Any]) -> str:
    created = cluster.get("created")
    try:
        moment = (datetime.fromtimestamp(created, timezone.utc) if isinstance(created, (int, float))
                  else datetime.fromisoformat(created))
    except (TypeError, ValueError):
        moment = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _uid(cluster: dict[str, Any], *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join((cluster["cluster_id"], *parts))))


def _meta(cluster: dict[str, Any], kind: str, name: str, namespace: str | None = None,
          labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta = {"name": name, "uid": _uid(cluster, kind, namespace or "", name), "resourceVersion": "1",
            "creationTimestamp": _k8s_time(cluster), "labels": dict(labels or {})}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def render_node(cluster: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    linux = addons.runs_linux(node)
    arch = node.get("architecture", "amd64")
    labels = {"kubernetes.io/hostname": node["node_name"], "kubernetes.io/os": "linux" if linux else "windows",
              "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux" if linux else "windows",
              "beta.kubernetes.io/arch": arch, "topology.kubernetes.io/region": cluster["region_id"],
              "topology.kubernetes.io/zone": cluster.get("zone_id", ""),
              "node.kubernetes.io/instance-type": node.get("instance_type", "ecs.g7.xlarge"),
              "alibabacloud.com/nodepool-id": node.get("nodepool_id", "")}
    ready = node.get("ready", True)
    heartbeat = _k8s_time(cluster)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": _meta(cluster, "node", node["node_name"], labels=labels),
        "spec": {"providerID": f"{cluster['region_id']}.{node['instance_id']}", "podCIDR": "10.0.0.0/24"},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "Unknown",
                            "reason": "KubeletReady" if ready else "NodeStatusUnknown",
                            "message": "kubelet is posting ready status" if ready
                            else "Kubelet stopped posting node status.",
                            "lastHeartbeatTime": heartbeat, "lastTransitionTime": heartbeat}],
            "addresses": [{"type": "InternalIP", "address": node["ip"]},
                          {"type": "Hostname", "address": node["node_name"]}],
            "nodeInfo": {
                "architecture": arch, "bootID": _uid(cluster, "boot", node["node_name"]),
                "containerRuntimeVersion": node.get("container_runtime_version", ""),
                "kernelVersion": node.get("kernel_version", ""),
                "kubeProxyVersion": node.get("kubelet_version", ""),
                "kubeletVersion": node.get("kubelet_version", ""),
                "machineID": _uid(cluster, "machine", node["node_name"]).replace("-", ""),
                "operatingSystem": "linux" if linux else "windows",
                "osImage": node.get("os_image", ""),
                "systemUUID": _uid(cluster, "system", node["node_name"]).upper(),
            },
            "capacity": {"cpu": "4", "memory": "15896988Ki", "pods": "64"},
            "allocatable": {"cpu": "3900m", "memory": "12995932Ki", "pods": "64"},
        },
    }


def _nodes_by_name(cluster: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n["node_name"]: n for n in cluster.get("nodes", [])}


def _daemonset_of(cluster: dict[str, Any], pod: dict[str, Any]) -> str | None:
    """The addon that owns `pod` when it belongs to an installed addon's DaemonSet."""
    if pod["namespace"] != "kube-system":
        return None
    app = pod.get("labels", {}).get("app")
    return next((name for name, spec in addons.CATALOG.items()
                 if spec.get("workload") and spec["workload"][0] == app), None)


def pod_problem(cluster: dict[str, Any], pod: dict[str, Any]) -> str | None:
    """Why the pod's containers are not ready, or None when they are."""
    node = _nodes_by_name(cluster).get(pod.get("node_name", ""))
    if node is None or not node.get("ready", True):
        return "node is not ready"
    if _daemonset_of(cluster, pod) == addons.AUDIT_ADDON:
        return addons.audit_node_problem(node, cluster["current_version"])
    return None


def render_pod(cluster: dict[str, Any], pod: dict[str, Any]) -> dict[str, Any]:
    node = _nodes_by_name(cluster).get(pod.get("node_name", ""), {})
    problem = pod_problem(cluster, pod)
    started = _k8s_time(cluster)
    ready = "True" if problem is None else "False"
    statuses = []
    for c in pod["containers"]:
        state = ({"running": {"startedAt": started}} if problem is None else
                 {"waiting": {"reason": "CrashLoopBackOff", "message": problem}})
        statuses.append({"name": c["name"], "image": c["image"], "imageID": "", "ready": problem is None,
                         "restartCount": 0 if problem is None else 17, "started": problem is None,
                         "state": state})
    owner = _daemonset_of(cluster, pod)
    meta = _meta(cluster, "pod", pod["name"], pod["namespace"], pod.get("labels"))
    if owner is not None:
        ds_name = addons.CATALOG[owner]["workload"][0]
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": ds_name,
                                    "uid": _uid(cluster, "daemonset", "kube-system", ds_name),
                                    "controller": True, "blockOwnerDeletion": True}]
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": pod.get("node_name", ""), "restartPolicy": "Always",
                 "serviceAccountName": "default", "hostNetwork": owner is not None,
                 "containers": [{"name": c["name"], "image": c["image"]} for c in pod["containers"]]},
        "status": {"phase": "Running", "podIP": pod.get("ip", ""), "hostIP": node.get("ip", ""),
                   "startTime": started, "qosClass": "BestEffort",
                   "conditions": [{"type": "Ready", "status": ready}, {"type": "ContainersReady", "status": ready}],
                   "containerStatuses": statuses},
    }


def render_daemonsets(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    """The DaemonSets of installed addons, with status counted from their pods and nodes."""
    out = []
    for name, instance in cluster.get("addons", {}).items():
        workload = addons.CATALOG.get(name, {}).get("workload")
        if workload is None or instance.get("state") not in ("active", "deleting"):
            continue
        ds_name, container = workload
        pods = [p for p in cluster.get("pods", []) if _daemonset_of(cluster, p) == name]
        ready = sum(1 for p in pods if pod_problem(cluster, p) is None)
        desired = sum(1 for n in cluster.get("nodes", []) if addons.runs_linux(n))
        image = pods[0]["containers"][0]["image"] if pods else addons.image(name, instance["version"])
        selector = {"app": ds_name}
        out.append({
            "apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {**_meta(cluster, "daemonset", ds_name, "kube-system", selector), "generation": 1},
            "spec": {"selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": selector},
                                  "spec": {"nodeSelector": {"kubernetes.io/os": "linux"}, "hostNetwork": True,
                                           "containers": [{"name": container, "image": image}]}},
                     "updateStrategy": {"type": "RollingUpdate"}},
            "status": {"currentNumberScheduled": len(pods), "desiredNumberScheduled": desired,
                       "numberMisscheduled": 0, "numberReady": ready, "numberAvailable": ready,
                       "numberUnavailable": desired - ready, "updatedNumberScheduled": len(pods),
                       "observedGeneration": 1},
        })
    return out


def _namespaces(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    names = set(_BUILTIN_NAMESPACES) | {p["namespace"] for p in cluster.get("pods", [])}
    names |= {key.split("/", 1)[0] for key in cluster.get("configmaps", {})}
    return [{"apiVersion": "v1", "kind": "Namespace",
             "metadata": _meta(cluster, "namespace", n, labels={"kubernetes.io/metadata.name": n}),
             "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}} for n in sorted(names)]


def _configmaps(cluster: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, data in sorted(cluster.get("configmaps", {}).items()):
        namespace, name = key.split("/", 1)
        out.append({"apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": _meta(cluster, "configmap", name, namespace), "data": dict(data)})
    return out


# -- routes ---------------------------------------------------------------------------------------
def _nodes(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    items = [render_node(cluster, n) for n in cluster.get("nodes", [])]
    return _list("NodeList", "v1", _select(items, req, ("spec.unschedulable",)))


def _node(cluster: dict[str, Any], req: Request, name: str) -> dict[str, Any]:
    return _one([render_node(cluster, n) for n in cluster.get("nodes", [])], "nodes", name)


def _namespace_list(cluster: dict[str, Any], req: Request) -> dict[str, Any]:
    return _list("NamespaceList", "v1", _select(_namespaces(cluster), req, ("status.phase",)))


def _namespace(cluster: dict[str, Any], req: Request, name: str) -> dict[str, Any]:
    return _one(_namespaces(cluster), "namespaces", name)


_POD_FIELDS = ("spec.nodeName", "spec.restartPolicy", "spec.serviceAccountName", "status.phase", "status.podIP")


def _pods(cluster: dict[str, Any], req: Request, namespace: str | None = None) -> dict[str, Any]:
    items = [render_pod(cluster, p) for p in cluster.get("pods", [])]
    return _list("PodList", "v1", _select(_in_namespace(items, namespace), req, _POD_FIELDS))


def _pod(cluster: dict[str, Any], req: Request, namespace: str, name: str) -> dict[str, Any]:
    pod = find_pod(cluster, namespace, name)
    return render_pod(cluster, pod)


def find_pod(cluster: dict[str, Any], namespace: str, name: str) -> dict[str, Any]:
    pod = next((p for p in cluster.get("pods", []) if p["namespace"] == namespace and p["name"] == name), None)
    if pod is None:
        raise not_found("pods", name)
    return pod


def _daemonset_list(cluster: dict[str, Any], req: Request, namespace: str | None = None) -> dict[str, Any]:
    return _list("DaemonSetList", "apps/v1", _select(_in_namespace(render_daemonsets(cluster), namespace), req, ()))


def _daemonset(cluster: dict[str, Any], req: Request, namespace: str, name: str) -> dict[str, Any]:
    return _one(_in_namespace(render_daemonsets(cluster), namespace), "daemonsets.apps", name)


def _configmap_list(cluster: dict[str, Any], req: Request, namespace: str | None = None) -> dict[str, Any]:
    return _list("ConfigMapList", "v1", _select(_in_namespace(_configmaps(cluster), namespace), req, ()))


def _configmap(cluster: dict[str, Any], req: Request, namespace: str, name: str) -> dict[str, Any]:
    return _one(_in_namespace(_configmaps(cluster), namespace), "configmaps", name)


_NAME = "([^/]+)"
_ROUTES: list[tuple[re.Pattern[str], Callable[..., dict[str, Any]]]] = [
    (re.compile(p.replace("{}", _NAME)), fn) for p, fn in [
        ("/version", _version),
        ("/api", _api_versions),
        ("/apis", _api_groups),
        ("/api/v1", _core_resources),
        ("/apis/apps/v1", _apps_resources),
        ("/api/v1/nodes", _nodes),
        ("/api/v1/nodes/{}", _node),
        ("/api/v1/namespaces", _namespace_list),
        ("/api/v1/namespaces/{}", _namespace),
        ("/api/v1/pods", _pods),
        ("/api/v1/namespaces/{}/pods", _pods),
        ("/api/v1/namespaces/{}/pods/{}", _pod),
        ("/apis/apps/v1/daemonsets", _daemonset_list),
        ("/apis/apps/v1/namespaces/{}/daemonsets", _daemonset_list),
        ("/apis/apps/v1/namespaces/{}/daemonsets/{}", _daemonset),
        ("/api/v1/configmaps", _configmap_list),
        ("/api/v1/namespaces/{}/configmaps", _configmap_list),
        ("/api/v1/namespaces/{}/configmaps/{}", _configmap),
    ]
]
