"""The fleet view: every cluster of a region with its audit status."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from ackaudit.audit.eligibility import cluster_type_problem, nodepool_problem
from ackaudit.errors import AckAuditError, Gap

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
    complete: bool = True        # False: a read failed, so audit_status is "unknown"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Fleet:
    clusters: list[ClusterSummary]
    gaps: list[Gap]


def audit_status_of(ack: Any, cluster: dict[str, Any]) -> tuple[str, str | None, str | None, Gap | None]:
    """(status, addon version, reason, what could not be read) for one cluster; one cluster's
    failure makes its status "unknown" and is returned, not raised."""
    cid = cluster.get("cluster_id", "")
    try:
        addons = {a.get("name"): a for a in ack.list_addon_instances(cluster["cluster_id"])}
    except AckAuditError as exc:
        return "unknown", None, f"cannot read the addons: {exc.message}", Gap.of(f"cluster {cid}: cannot read "
                                                                                   "its addons", exc)
    audit = addons.get(AUDIT_ADDON)
    if audit is not None:
        state = str(audit.get("state") or "").lower()
        if state == "active":
            return "enabled", audit.get("version"), None, None
        if state in _IN_PROGRESS:
            return "installing", audit.get("version"), f"addon state {state}", None
        return "unknown", audit.get("version"), f"addon state {state or 'missing'}", None
    problem = cluster_type_problem(cluster)
    if problem:
        return "ineligible", None, problem, None
    try:
        problem = nodepools_problem(ack.list_nodepools(cluster["cluster_id"]), cluster)
    except AckAuditError as exc:
        # Without the node pools there is no verdict: "disabled" would claim it could be enabled.
        return "unknown", None, f"cannot read the node pools: {exc.message}", \
            Gap.of(f"cluster {cid}: cannot read its node pools", exc)
    if problem:
        return "ineligible", None, problem, None
    return "disabled", None, None, None


def nodepools_problem(pools: list[dict[str, Any]], cluster: dict[str, Any]) -> str | None:
    for pool in pools:
        image_type = (pool.get("scaling_group") or {}).get("image_type") or ""
        problem = nodepool_problem(image_type, cluster.get("current_version"))
        if problem:
            name = (pool.get("nodepool_info") or {}).get("name") or "a node pool"
            return f"{name}: {problem}"
    return None


def list_clusters(cloud: Any, *, workers: int = 8) -> Fleet:
    clusters = cloud.ack.list_clusters()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = list(pool.map(lambda c: audit_status_of(cloud.ack, c), clusters))
    rows, gaps = [], []
    for cluster, (status, version, reason, gap) in zip(clusters, statuses, strict=True):
        if gap is not None:
            gaps.append(gap)
        rows.append(ClusterSummary(
            cluster_id=cluster.get("cluster_id", ""), name=cluster.get("name", ""),
            region_id=cluster.get("region_id", ""), cluster_type=cluster.get("cluster_type", ""),
            profile=cluster.get("profile", ""), cluster_spec=cluster.get("cluster_spec", ""),
            version=cluster.get("current_version", ""), state=cluster.get("state", ""),
            audit_status=status, audit_version=version, reason=reason, complete=gap is None))
    return Fleet(sorted(rows, key=lambda r: (r.name, r.cluster_id)), gaps)
