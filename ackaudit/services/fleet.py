"""The fleet view: every cluster of a region with its audit status."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ackaudit.audit.eligibility import cluster_type_problem, nodepool_problem
from ackaudit.errors import AckAuditError

AUDIT_ADDON = "ack-advanced-audit"
_IN_PROGRESS = {"initial", "installing", "updating", "upgrading", "deleting"}


@dataclass
class ClusterSummary:
    cluster_id: str
    name: str
    region_id: str
    cluster_type: str
    profile: str
    cluster_spec: str
    version: str
    state: str
    audit_status: str            # enabled | installing | disabled | ineligible | unknown
    audit_version: str | None
    reason: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def audit_status_of(ack: Any, cluster: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(status, addon version, reason) for one cluster; never raises for one cluster's failure."""
    try:
        addons = {a.get("name"): a for a in ack.list_addon_instances(cluster["cluster_id"])}
    except AckAuditError as exc:
        return "unknown", None, exc.message
    audit = addons.get(AUDIT_ADDON)
    if audit is not None:
        state = str(audit.get("state") or "").lower()
        if state == "active":
            return "enabled", audit.get("version"), None
        if state in _IN_PROGRESS:
            return "installing", audit.get("version"), f"addon state {state}"
        return "unknown", audit.get("version"), f"addon state {state or 'missing'}"
    problem = cluster_type_problem(cluster) or _nodepools_problem(ack, cluster)
    if problem:
        return "ineligible", None, problem
    return "disabled", None, None


def _nodepools_problem(ack: Any, cluster: dict[str, Any]) -> str | None:
    try:
        pools = ack.list_nodepools(cluster["cluster_id"])
    except AckAuditError:
        return None  # no verdict from here; `doctor` looks at the nodes themselves
    for pool in pools:
        image_type = (pool.get("scaling_group") or {}).get("image_type") or ""
        problem = nodepool_problem(image_type, cluster.get("current_version"))
        if problem:
            name = (pool.get("nodepool_info") or {}).get("name") or "a node pool"
            return f"{name}: {problem}"
    return None


def list_clusters(cloud: Any, *, workers: int = 8) -> list[ClusterSummary]:
    clusters = cloud.ack.list_clusters()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = list(pool.map(lambda c: audit_status_of(cloud.ack, c), clusters))
    rows = []
    for cluster, (status, version, reason) in zip(clusters, statuses, strict=True):
        rows.append(ClusterSummary(
            cluster_id=cluster.get("cluster_id", ""), name=cluster.get("name", ""),
            region_id=cluster.get("region_id", ""), cluster_type=cluster.get("cluster_type", ""),
            profile=cluster.get("profile", ""), cluster_spec=cluster.get("cluster_spec", ""),
            version=cluster.get("current_version", ""), state=cluster.get("state", ""),
            audit_status=status, audit_version=version, reason=reason))
    return sorted(rows, key=lambda r: (r.name, r.cluster_id))
