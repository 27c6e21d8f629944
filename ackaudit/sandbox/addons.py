"""The sandbox's addon catalog: which ACK addons exist, their versions, and what they need.

ListAddons/DescribeAddon answer from here, InstallClusterAddons validates against it, and the
Kubernetes API derives each installed addon's DaemonSet from `workload`.

Choices where the real service is unconfirmed (cloud-apis §2, §9):
- Versions are the strings InstallClusterAddons accepts (`0.9.0` for ack-advanced-audit, not
  the image tag). An empty version means "the newest one this cluster can run".
- ListAddons lists every addon for every cluster, eligible or not, as the catalog does not
  know about the container-audit allow-list; installing an addon on a cluster type it does not
  support is rejected (`AddonNotSupported`). Clients must make their own eligibility checks.
- ack-advanced-audit's `config_schema` is plausible, not documented: resource limits only.
"""

from __future__ import annotations

import json
import re
from typing import Any

AUDIT_ADDON = "ack-advanced-audit"
LOG_COMPONENTS = ("logtail-ds", "loongcollector")
REGISTRY = "registry-cn-hangzhou-vpc.ack.aliyuncs.com/acs/"

# Cluster kinds that run the container-audit feature (cloud-apis §2.3): ACK managed Pro/Basic
# (profile Default) and ACK dedicated.
AUDIT_CLUSTER_TYPES = {("ManagedKubernetes", "Default"), ("Kubernetes", "Default")}

_RESOURCE_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "cpuLimit": {"type": "string", "default": "1", "description": "CPU limit of each agent pod"},
        "memoryLimit": {"type": "string", "default": "1Gi", "description": "Memory limit of each agent pod"},
    },
}
_LOG_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "type": "object",
    "properties": {
        "IngressDashboardEnabled": {"type": "string", "enum": ["true", "false"], "default": "true"},
        "sls_project_name": {"type": "string", "description": "Existing SLS project to ship logs to"},
    },
}


def _versions(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    """(version, minimum cluster version) pairs, newest first."""
    return [{"version": v, "minimum_cluster_version": m} for v, m in pairs]


# name -> definition. `workload` is the kube-system DaemonSet the addon runs, as (DaemonSet name,
# container name); addons without one are not modelled in the Kubernetes API.
CATALOG: dict[str, dict[str, Any]] = {
    AUDIT_ADDON: {
        "category": "security",
        "config_schema": _RESOURCE_SCHEMA,
        "cluster_types": AUDIT_CLUSTER_TYPES,
        # Release history from the addon's release notes (cloud-apis §2.2); image tags differ.
        "versions": _versions(("0.9.0", "1.18.0"), ("0.8.2", "1.18.0"), ("0.8.1", "1.18.0"),
                              ("0.7.0", "1.18.0"), ("0.6.0", "1.18.0"), ("0.5.1", "1.18.0"),
                              ("0.5.0", "1.18.0"), ("0.4.0", "1.18.0"), ("0.3.0", "1.18.0"),
                              ("0.2.0", "1.18.0"), ("0.1.0", "1.18.0")),
        "image_tags": {"0.7.0": "v0.7.0.0-g2f5da32d-aliyun", "0.6.0": "v0.6.0.0-g05b523f-aliyun",
                       "0.5.1": "v0.5.1.0-ga51258d-aliyun", "0.5.0": "v0.5.0.0-g18d101a-aliyun",
                       "0.4.0": "v0.4.0.0-g9a46887-aliyun", "0.3.0": "v0.3.0.21-ge1fbf04-aliyun",
                       "0.2.0": "v0.2.0.0-g052ee2b-aliyun", "0.1.0": "v0.1.1.47-gcd1dd3d-aliyun"},
        "workload": ("ack-advanced-audit", "audit"),
    },
    "logtail-ds": {
        "category": "monitor",
        "config_schema": _LOG_SCHEMA,
        "versions": _versions(("v1.8.9.0-aliyun", "1.16.0"), ("v1.8.7.0-aliyun", "1.16.0"),
                              ("v1.7.1.0-aliyun", "1.16.0"), ("v1.6.14.0-aliyun", "1.14.0")),
        "workload": ("logtail-ds", "logtail"),
    },
    "loongcollector": {
        "category": "monitor",
        "config_schema": _LOG_SCHEMA,
        "versions": _versions(("v3.0.12.0-aliyun", "1.20.0"), ("v3.0.10.1-aliyun", "1.20.0")),
        "workload": ("loongcollector-ds", "loongcollector"),
    },
    "coredns": {
        "category": "core", "install_by_default": True,
        "versions": _versions(("v1.11.3.5-5f6e9c2-aliyun", "1.24.0"), ("v1.11.3.2-f57ea7ed6-aliyun", "1.24.0"),
                              ("v1.9.3.10-7dfca203-aliyun", "1.20.0")),
    },
    "csi-plugin": {
        "category": "storage", "install_by_default": True,
        "versions": _versions(("v1.32.1-aliyun", "1.22.0"), ("v1.31.3-df937b8-aliyun", "1.22.0"),
                              ("v1.30.4-aliyun", "1.20.0")),
    },
    "csi-provisioner": {
        "category": "storage", "install_by_default": True,
        "versions": _versions(("v1.32.1-aliyun", "1.22.0"), ("v1.31.3-df937b8-aliyun", "1.22.0"),
                              ("v1.30.4-aliyun", "1.20.0")),
    },
    "kube-proxy-worker": {
        "category": "core", "install_by_default": True,
        "versions": _versions(("v1.32.1-aliyun.1", "1.32.0"), ("v1.31.1-aliyun.1", "1.31.0"),
                              ("v1.30.1-aliyun.1", "1.30.0"), ("v1.28.9-aliyun.1", "1.28.0")),
    },
    "terway-eniip": {
        "category": "network",
        "versions": _versions(("v1.13.4", "1.24.0"), ("v1.11.3", "1.20.0"), ("v1.11.2", "1.20.0")),
    },
    "metrics-server": {
        "category": "core", "install_by_default": True,
        "versions": _versions(("v0.3.9.7-8d6a9b5-aliyun", "1.18.0")),
    },
    "ack-node-problem-detector": {
        "category": "monitor",
        "versions": _versions(("1.2.25", "1.20.0"), ("1.2.21", "1.18.0")),
    },
    "nginx-ingress-controller": {
        "category": "network",
        "versions": _versions(("v1.11.5-aliyun.1", "1.24.0"), ("v1.9.3-aliyun.1", "1.20.0")),
    },
}


def version_tuple(version: str) -> tuple[int, ...]:
    """Numeric parts of a Kubernetes or addon version: '1.30.1-aliyun.1' -> (1, 30, 1)."""
    head = re.split(r"[-+]", version.lstrip("v"), maxsplit=1)[0]
    return tuple(int(p) for p in re.findall(r"\d+", head)[:3])


def cluster_can_run(version_entry: dict[str, str], cluster_version: str) -> bool:
    return version_tuple(cluster_version) >= version_tuple(version_entry["minimum_cluster_version"])


def newest_version(name: str, cluster_version: str) -> str | None:
    """The newest version of `name` a cluster of `cluster_version` can run, or None."""
    for entry in CATALOG[name]["versions"]:
        if cluster_can_run(entry, cluster_version):
            return entry["version"]
    return None


def supports_cluster(name: str, cluster: dict[str, Any]) -> bool:
    kinds = CATALOG[name].get("cluster_types")
    return kinds is None or (cluster.get("cluster_type"), cluster.get("profile") or "Default") in kinds


def image(name: str, version: str) -> str:
    tag = CATALOG[name].get("image_tags", {}).get(version, version)
    return f"{REGISTRY}{name}:{tag}"


def summary(name: str, cluster_version: str) -> dict[str, Any]:
    """One addon as ListAddons/DescribeAddon show it for a cluster of `cluster_version`."""
    spec = CATALOG[name]
    schema = spec.get("config_schema")
    return {
        "name": name,
        "version": newest_version(name, cluster_version) or spec["versions"][0]["version"],
        "category": spec["category"],
        # ACK serialises the schema as a JSON string, like the addon config itself.
        "config_schema": json.dumps(schema) if schema else "",
        "install_by_default": spec.get("install_by_default", False),
        "managed": False,
        "supported_actions": ["Install", "Upgrade", "Modify", "Uninstall"],
        "architecture": ["amd64", "arm64"],
    }


def newer_versions(name: str, cluster_version: str, than: str | None) -> list[dict[str, Any]]:
    """Versions newer than `than` (all of them when None), newest first, with upgradability."""
    out = []
    for entry in CATALOG[name]["versions"]:
        if than is not None and version_tuple(entry["version"]) <= version_tuple(than):
            break
        out.append({"version": entry["version"], "upgradable": cluster_can_run(entry, cluster_version),
                    "minimum_cluster_version": entry["minimum_cluster_version"]})
    return out


def runs_linux(node: dict[str, Any]) -> bool:
    """DaemonSets of addons select Linux nodes only."""
    return not node.get("os_image", "").lower().startswith("windows")


# -- which nodes the audit agent can run on (cloud-apis §2.3) -------------------------------------
# Alibaba Cloud Linux, ContainerOS and Ubuntu only, kernel newer than 4.19 (read as major.minor
# > 4.19, so 4.19.x kernels are not covered), each from its own minimum cluster version.
_AUDIT_OS_MIN_CLUSTER = (("alibaba cloud linux", "1.18"), ("containeros", "1.24"), ("ubuntu", "1.30"))
_MIN_KERNEL = (4, 19)


def audit_node_problem(node: dict[str, Any], cluster_version: str) -> str | None:
    """Why the audit agent cannot run on `node`, or None when it can."""
    os_image = node.get("os_image", "").lower()
    minimum = next((m for prefix, m in _AUDIT_OS_MIN_CLUSTER if os_image.startswith(prefix)), None)
    if minimum is None:
        return f"unsupported operating system {node.get('os_image')!r}"
    if version_tuple(cluster_version) < version_tuple(minimum):
        return f"{node.get('os_image')} needs cluster version {minimum} or later"
    if version_tuple(node.get("kernel_version", "0"))[:2] <= _MIN_KERNEL:
        return f"kernel {node.get('kernel_version')} is not newer than 4.19"
    return None
