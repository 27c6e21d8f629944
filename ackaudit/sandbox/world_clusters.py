"""The sandbox's clusters and SLS projects: fixed topology, in the shapes of `state.py`.

Everything here is independent of the world's seed: cluster ids, nodes, pods and their names stay
the same from one sandbox to the next, so documentation can name them. Times are relative to
`now`. See `world.py` for what each cluster is for.
"""

from __future__ import annotations

import hashlib
import json
import random
from datetime import datetime, timedelta, timezone
from typing import Any

from ackaudit.sandbox.state import DEFAULT_REGION, SANDBOX_ACCOUNT_ID

AUDITED_CLUSTER_ID = "cab2c17507494d8cdae1b9324d1d83793"       # prod-hangzhou
ELIGIBLE_CLUSTER_ID = "ca8f76e5f6f08086c69e95897faba0ff7"      # staging-hangzhou
INELIGIBLE_CLUSTER_ID = "cf9472e4acbca5691b013b34de71b521d"    # legacy-ubuntu
SERVERLESS_CLUSTER_ID = "c7e0f4d613ed37d4cef2b12e32eea9987"    # serverless-batch

ADVANCED_AUDIT_ADDON = "ack-advanced-audit"
LOG_COMPONENT_ADDON = "logtail-ds"
AUDIT_LOGSTORE_TTL_DAYS = 180
AUDIT_LOGSTORE_HOT_TTL_DAYS = 30

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
DAY = 86400.0

# Operating systems as the kubelet reports them (node.status.nodeInfo).
ALINUX3 = ("Alibaba Cloud Linux 3.2104 U11 (OpenAnolis Edition)", "5.10.134-18.al8.x86_64")
CONTAINEROS3 = ("ContainerOS 3.5", "5.10.134-18.al8.x86_64")
UBUNTU_2204 = ("Ubuntu 22.04.4 LTS", "5.15.0-105-generic")
CENTOS7 = ("CentOS Linux 7 (Core)", "3.10.0-1160.119.1.el7.x86_64")

_REGISTRY = "registry-cn-hangzhou-vpc.ack.aliyuncs.com/acs"
_APP_REGISTRY = "acme-registry-vpc.cn-hangzhou.cr.aliyuncs.com"
_POD_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # what Kubernetes uses for generated name suffixes


def log_project_name(cluster_id: str) -> str:
    return f"k8s-log-{cluster_id}"


def audit_logstore_name(cluster_id: str) -> str:
    return f"advaudit-{cluster_id}"


def cst(when: float, sep: str = "T") -> str:
    """`when` in China Standard Time, as ACK (`T` and offset) or SLS (space, no offset) print it."""
    moment = datetime.fromtimestamp(when, CHINA_STANDARD_TIME)
    return moment.isoformat(sep=sep, timespec="seconds") if sep == "T" else moment.strftime("%Y-%m-%d %H:%M:%S")


def bearer_token(cluster_id: str, username: str) -> str:
    """A stable per-cluster, per-user bearer token for the sandbox's Kubernetes API."""
    return hashlib.sha256(f"{cluster_id}:{username}".encode()).hexdigest()[:48]


class _Topology:
    """Builds one cluster's nodes and pods from a random source seeded by the cluster id."""

    def __init__(self, cluster_id: str, version: str, runtime: str) -> None:
        self.cluster_id = cluster_id
        self.version = version
        self.runtime = runtime
        self.rng = random.Random(f"topology:{cluster_id}")
        self.nodes: list[dict[str, Any]] = []
        self.nodepools: list[dict[str, Any]] = []
        self.pods: list[dict[str, Any]] = []
        self._next_pod_ip = 20

    def hex(self, length: int) -> str:
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(length))

    def suffix(self, length: int) -> str:
        return "".join(self.rng.choice(_POD_NAME_ALPHABET) for _ in range(length))

    def nodepool(self, name: str, image_type: str, os: tuple[str, str], subnet: str, count: int) -> None:
        pool = {"nodepool_id": "np" + self.hex(32), "name": name, "image_type": image_type}
        self.nodepools.append(pool)
        for _ in range(count):
            ip = f"{subnet}.{self.rng.randint(10, 250)}"
            self.nodes.append({
                "node_name": f"{DEFAULT_REGION}.{ip}", "instance_id": "i-bp1" + self.suffix(17),
                "ip": ip, "os_image": os[0], "kernel_version": os[1],
                "container_runtime_version": self.runtime, "kubelet_version": "v" + self.version,
                "architecture": "amd64", "nodepool_id": pool["nodepool_id"], "ready": True,
            })

    def pod(self, namespace: str, name: str, labels: dict[str, str], containers: list[tuple[str, str]],
            node: dict[str, Any] | None = None) -> dict[str, Any]:
        node = node or self.rng.choice(self.nodes)
        self._next_pod_ip += self.rng.randint(1, 9)
        pod = {"namespace": namespace, "name": name, "node_name": node["node_name"],
               "ip": f"10.0.{64 + self._next_pod_ip // 250}.{self._next_pod_ip % 250}",
               "labels": labels, "containers": [{"name": n, "image": i} for n, i in containers]}
        self.pods.append(pod)
        return pod

    def deployment(self, namespace: str, app: str, replicas: int, containers: list[tuple[str, str]],
                   **labels: str) -> None:
        template_hash = self.suffix(10)
        for _ in range(replicas):
            self.pod(namespace, f"{app}-{template_hash}-{self.suffix(5)}",
                     {"app": app, **labels, "pod-template-hash": template_hash}, containers)

    def statefulset(self, namespace: str, app: str, replicas: int, containers: list[tuple[str, str]],
                    **labels: str) -> None:
        for ordinal in range(replicas):
            self.pod(namespace, f"{app}-{ordinal}", {"app": app, **labels,
                     "statefulset.kubernetes.io/pod-name": f"{app}-{ordinal}"}, containers)

    def daemonset(self, namespace: str, app: str, containers: list[tuple[str, str]]) -> None:
        for node in self.nodes:
            self.pod(namespace, f"{app}-{self.suffix(5)}", {"app": app}, containers, node)


def _addon(name: str, version: str, config: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name, "version": version, "state": "active",
            "config": json.dumps(config, separators=(",", ":")) if config else ""}


def _common_addons(version: str) -> dict[str, dict[str, Any]]:
    addons = [
        _addon("coredns", "v1.11.3.2-f57ea7ed6-aliyun"),
        _addon("csi-plugin", "v1.31.3-df937b8-aliyun"),
        _addon("csi-provisioner", "v1.31.3-df937b8-aliyun"),
        _addon("terway-eniip", "v1.11.3"),
        _addon("metrics-server", "v0.3.9.7-8d6a9b5-aliyun"),
        _addon("kube-proxy-worker", "v" + version),
    ]
    return {a["name"]: a for a in addons}


def _log_configuration(cluster_id: str) -> dict[str, str]:
    """The `kube-system/alibaba-log-configuration` ConfigMap the log component creates."""
    return {
        "log-project": log_project_name(cluster_id),
        "log-endpoint": f"{DEFAULT_REGION}-intranet.log.aliyuncs.com",
        "log-machine-group": f"k8s-group-{cluster_id}",
        "log-ali-uid": SANDBOX_ACCOUNT_ID,
        "log-config-path": f"/etc/ilogtail/conf/{DEFAULT_REGION}/ilogtail_config.json",
        "cpu-core-limit": "2",
        "mem-limit": "1024",
        "max-bytes-per-sec": "20971520",
        "send-requests-concurrency": "20",
    }


def _cluster(cluster_id: str, name: str, *, now: float, age_days: int, profile: str, spec: str,
             version: str, image_type: str, topology: _Topology, addons: dict[str, dict[str, Any]],
             configmaps: dict[str, dict[str, str]], users: list[dict[str, Any]]) -> dict[str, Any]:
    created = now - age_days * DAY - topology.rng.randint(0, 80000)
    meta_data = {
        "KubernetesVersion": version.split("-")[0], "Runtime": "containerd",
        "RuntimeVersion": topology.runtime.split("://")[-1], "OSType": "Linux",
        "ImageType": image_type, "IPStack": "ipv4", "ServiceCIDR": "192.168.0.0/16", "VpcCidr": "10.0.0.0/8",
        "SubClass": "default", "ResourceGroupId": "rg-acfm" + topology.suffix(11),
        "Capabilities": {"SLSProjectName": True},
    }
    if LOG_COMPONENT_ADDON in addons:
        meta_data["AuditProjectName"] = log_project_name(cluster_id)
    return {
        "cluster_id": cluster_id, "name": name, "region_id": DEFAULT_REGION,
        "cluster_type": "ManagedKubernetes", "profile": profile, "cluster_spec": spec,
        "current_version": version, "state": "running",
        "created": cst(created), "updated": cst(now - topology.rng.randint(3, 40) * DAY),
        "vpc_id": "vpc-bp1" + topology.suffix(18), "zone_id": f"{DEFAULT_REGION}-k",
        "meta_data": meta_data, "nodes": topology.nodes, "nodepools": topology.nodepools,
        "addons": addons, "pods": topology.pods, "configmaps": configmaps,
        "users": {bearer_token(cluster_id, u["username"]): u for u in users},
    }


def audited_cluster(now: float, users: list[dict[str, Any]]) -> dict[str, Any]:
    """prod-hangzhou: ACK Pro 1.31 on Alibaba Cloud Linux 3, container audit enabled."""
    version = "1.31.1-aliyun.1"
    t = _Topology(AUDITED_CLUSTER_ID, version, "containerd://1.6.36")
    t.nodepool("default-nodepool", "AliyunLinux3", ALINUX3, "10.0.1", 3)
    t.nodepool("data-nodepool", "AliyunLinux3", ALINUX3, "10.0.2", 1)
    t.deployment("payments", "payments-api", 3, [("api", f"{_APP_REGISTRY}/payments/payments-api:2.14.3")],
                 team="payments", tier="backend")
    t.deployment("payments", "payments-worker", 2,
                 [("worker", f"{_APP_REGISTRY}/payments/payments-api:2.14.3")], team="payments", tier="worker")
    t.statefulset("payments", "payments-redis", 1, [("redis", "docker.io/library/redis:7.2.5-alpine")],
                  team="payments", tier="cache")
    t.deployment("web", "storefront", 3, [("storefront", f"{_APP_REGISTRY}/web/storefront:5.8.1"),
                                          ("nginx", "docker.io/library/nginx:1.27.0-alpine")], team="web")
    t.deployment("data", "etl-worker", 2, [("etl", f"{_APP_REGISTRY}/data/etl-worker:2025.06.2")], team="data")
    t.statefulset("data", "postgres", 1, [("postgres", "docker.io/library/postgres:16.3")], team="data")
    t.deployment("ci", "deploy-runner", 1, [("runner", f"{_APP_REGISTRY}/ci/deploy-runner:1.9.0")], team="platform")
    t.deployment("default", "debug-toolbox", 1, [("toolbox", "docker.io/nicolaka/netshoot:v0.13")],
                 team="platform")
    t.deployment("kube-system", "coredns", 2, [("coredns", f"{_REGISTRY}/coredns:v1.11.3.2-f57ea7ed6-aliyun")],
                 **{"k8s-app": "kube-dns"})
    t.daemonset("kube-system", "logtail-ds", [("logtail", f"{_REGISTRY}/logtail:v2.1.1.0-aliyun")])
    t.daemonset("kube-system", "ack-advanced-audit", [("audit", f"{_REGISTRY}/ack-advanced-audit:0.9.0")])
    addons = _common_addons(version)
    addons[LOG_COMPONENT_ADDON] = _addon(LOG_COMPONENT_ADDON, "v1.8.7.0-aliyun", {
        "IngressDashboardEnabled": "true", "sls_project_name": log_project_name(AUDITED_CLUSTER_ID)})
    addons[ADVANCED_AUDIT_ADDON] = _addon(ADVANCED_AUDIT_ADDON, "0.9.0")
    return _cluster(AUDITED_CLUSTER_ID, "prod-hangzhou", now=now, age_days=412, profile="Default",
                    spec="ack.pro.small", version=version, image_type="AliyunLinux3", topology=t,
                    addons=addons,
                    configmaps={"kube-system/alibaba-log-configuration": _log_configuration(AUDITED_CLUSTER_ID)},
                    users=users)


def eligible_cluster(now: float, users: list[dict[str, Any]]) -> dict[str, Any]:
    """staging-hangzhou: ACK Pro 1.30 on ContainerOS 3.5; log component installed, audit not."""
    version = "1.30.7-aliyun.1"
    t = _Topology(ELIGIBLE_CLUSTER_ID, version, "containerd://1.6.36")
    t.nodepool("default-nodepool", "ContainerOS", CONTAINEROS3, "10.1.1", 3)
    t.deployment("payments", "payments-api", 2, [("api", f"{_APP_REGISTRY}/payments/payments-api:2.15.0-rc.1")],
                 team="payments", tier="backend")
    t.deployment("web", "storefront", 2, [("storefront", f"{_APP_REGISTRY}/web/storefront:5.9.0-rc.2")], team="web")
    t.deployment("kube-system", "coredns", 2, [("coredns", f"{_REGISTRY}/coredns:v1.11.3.2-f57ea7ed6-aliyun")],
                 **{"k8s-app": "kube-dns"})
    t.daemonset("kube-system", "logtail-ds", [("logtail", f"{_REGISTRY}/logtail:v2.1.1.0-aliyun")])
    addons = _common_addons(version)
    addons[LOG_COMPONENT_ADDON] = _addon(LOG_COMPONENT_ADDON, "v1.8.7.0-aliyun", {
        "IngressDashboardEnabled": "true", "sls_project_name": log_project_name(ELIGIBLE_CLUSTER_ID)})
    return _cluster(ELIGIBLE_CLUSTER_ID, "staging-hangzhou", now=now, age_days=203, profile="Default",
                    spec="ack.pro.small", version=version, image_type="ContainerOS", topology=t,
                    addons=addons,
                    configmaps={"kube-system/alibaba-log-configuration": _log_configuration(ELIGIBLE_CLUSTER_ID)},
                    users=users)


def ineligible_cluster(now: float, users: list[dict[str, Any]]) -> dict[str, Any]:
    """legacy-ubuntu: ACK Basic 1.28 on Ubuntu 22.04 (needs 1.30) plus one CentOS 7 node (kernel 3.10)."""
    version = "1.28.9-aliyun.1"
    t = _Topology(INELIGIBLE_CLUSTER_ID, version, "containerd://1.6.28")
    t.nodepool("ubuntu-pool", "Ubuntu", UBUNTU_2204, "10.2.1", 2)
    t.nodepool("centos-legacy", "CentOS", CENTOS7, "10.2.2", 1)
    t.deployment("default", "legacy-billing", 2, [("billing", f"{_APP_REGISTRY}/legacy/billing:0.38.4")],
                 team="finance")
    t.deployment("kube-system", "coredns", 2, [("coredns", f"{_REGISTRY}/coredns:v1.10.1.3-76a9f6d3-aliyun")],
                 **{"k8s-app": "kube-dns"})
    return _cluster(INELIGIBLE_CLUSTER_ID, "legacy-ubuntu", now=now, age_days=866, profile="Default",
                    spec="ack.standard", version=version, image_type="Ubuntu", topology=t,
                    addons=_common_addons(version), configmaps={}, users=users)


def serverless_cluster(now: float, users: list[dict[str, Any]]) -> dict[str, Any]:
    """serverless-batch: ACK Serverless (profile Serverless), a cluster type the feature does not support."""
    version = "1.31.1-aliyun.1"
    t = _Topology(SERVERLESS_CLUSTER_ID, version, "")
    virtual_node = {"node_name": f"virtual-kubelet-{DEFAULT_REGION}-k", "instance_id": "", "ip": "10.3.0.10",
                    "os_image": "", "kernel_version": "", "container_runtime_version": "",
                    "kubelet_version": "v" + version, "architecture": "amd64", "nodepool_id": "", "ready": True}
    t.nodes.append(virtual_node)
    t.deployment("batch", "report-builder", 2, [("builder", f"{_APP_REGISTRY}/data/report-builder:3.2.0")],
                 team="data")
    addons = {a: v for a, v in _common_addons(version).items() if a in ("coredns", "metrics-server")}
    return _cluster(SERVERLESS_CLUSTER_ID, "serverless-batch", now=now, age_days=97, profile="Serverless",
                    spec="ack.pro.small", version=version, image_type="", topology=t, addons=addons,
                    configmaps={}, users=users)


def logstore(name: str, *, created: float, ttl: int, shard_count: int = 2,
             hot_ttl: int | None = None) -> dict[str, Any]:
    """A logstore's configuration as GetLogStore returns it."""
    config: dict[str, Any] = {
        "logstoreName": name, "ttl": ttl, "shardCount": shard_count, "enable_tracking": False,
        "autoSplit": True, "maxSplitShard": 64, "appendMeta": True, "mode": "standard",
        "telemetryType": "", "createTime": int(created), "lastModifyTime": int(created),
    }
    if hot_ttl is not None:
        config["hot_ttl"] = hot_ttl
    return config


def log_project(cluster: dict[str, Any], *, created: float) -> dict[str, Any]:
    """The log component's project with the logstores it creates (not the audit logstore)."""
    return {
        "projectName": log_project_name(cluster["cluster_id"]), "region": DEFAULT_REGION,
        "description": f"k8s log project, created by alibaba cloud container service ({cluster['name']})",
        "createTime": cst(created, sep=" "),
        "logstores": {
            "config-operation-log": logstore("config-operation-log", created=created, ttl=30, shard_count=1),
            "k8s-event": logstore("k8s-event", created=created, ttl=90),
        },
        "indexes": {}, "jobs": {}, "dashboards": {},
    }
