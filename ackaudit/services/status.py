"""Everything about one cluster's audit in one look."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from ackaudit.errors import AckAuditError
from ackaudit.services.cluster import ClusterContext
from ackaudit.services.doctor import audit_coverage

ALERT_PREFIX = "ackaudit-"


def provisioned_alert_names(alerts: list[dict[str, Any]], cluster_id: str) -> list[str]:
    """The alert rules ackaudit created for this cluster (named `ackaudit-<cluster id>-...`)."""
    return [a["name"] for a in alerts if str(a.get("name", "")).startswith(f"{ALERT_PREFIX}{cluster_id}")]


@dataclass
class StatusReport:
    cluster_id: str
    name: str
    audit_status: str                       # enabled | installing | disabled
    addon: dict[str, Any] | None
    log_component: dict[str, Any] | None
    project: str | None
    project_source: str | None
    logstore: dict[str, Any] | None
    coverage: dict[str, Any] | None
    alerts: list[dict[str, Any]] = field(default_factory=list)
    newest_event: str | None = None
    problems: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _addon_summary(ctx: ClusterContext, instance: dict[str, Any] | None) -> dict[str, Any] | None:
    if instance is None:
        return None
    summary = {"name": instance.get("name"), "version": instance.get("version"), "state": instance.get("state"),
               "newer_version": None}
    try:
        offered = ctx.cloud.ack.describe_addon(ctx.cluster_id, instance.get("name"))
        if offered.get("version") and offered["version"] != instance.get("version"):
            summary["newer_version"] = offered["version"]
    except AckAuditError:
        pass
    return summary


def gather_status(ctx: ClusterContext) -> StatusReport:
    ctx.ensure_exists()
    audit = ctx.audit_addon
    state = "disabled" if audit is None else ("enabled" if str(audit.get("state")).lower() == "active"
                                              else "installing")
    report = StatusReport(ctx.cluster_id, ctx.name, state, _addon_summary(ctx, audit),
                          _addon_summary(ctx, ctx.log_addon), None, None, None, None)
    project, source = ctx.project
    report.project, report.project_source = project, source
    config = ctx.cloud.sls.get_logstore(project, ctx.logstore)
    if config is None:
        report.logstore = {"name": ctx.logstore, "exists": False}
        if audit is not None:
            report.problems.append(f"logstore {ctx.logstore} does not exist in project {project}")
    else:
        hot = config.get("hot_ttl")
        report.logstore = {"name": ctx.logstore, "exists": True, "ttl": config.get("ttl"),
                           "hot_ttl": hot if isinstance(hot, int) and hot > 0 else None,
                           "permanent": (config.get("ttl") or 0) >= 3650}
        report.newest_event = _newest_event(ctx, project, int(config.get("ttl") or 3650))
    if audit is not None:
        try:
            coverage = audit_coverage(ctx)
            report.coverage = {"covered": len(coverage.covered), "total": coverage.total,
                               "uncovered": coverage.uncovered}
            if coverage.uncovered:
                report.problems.append(f"{len(coverage.uncovered)} of {coverage.total} nodes are not audited")
        except AckAuditError as exc:
            report.problems.append(f"cannot read node coverage: {exc.message}")
    try:
        alerts = ctx.cloud.sls.list_alerts(project)
        names = set(provisioned_alert_names(alerts, ctx.cluster_id))
        report.alerts = [{"name": a["name"], "display_name": a.get("displayName"),
                          "enabled": str(a.get("state", a.get("status", ""))).lower() in ("enabled", "")}
                         for a in alerts if a.get("name") in names]
    except AckAuditError as exc:
        report.problems.append(f"cannot list alert rules: {exc.message}")
    return report


def _newest_event(ctx: ClusterContext, project: str, ttl_days: int) -> str | None:
    now = int(time.time())
    try:
        page = ctx.cloud.sls.get_logs(project, ctx.logstore, "* | select max(__time__) as newest",
                                      now - min(ttl_days, 3650) * 86400, now + 60)
    except AckAuditError:
        return None
    value = page.rows[0].get("newest") if page.rows else None
    if value in (None, "", "null"):
        return None
    return datetime.fromtimestamp(int(float(value)), tz=timezone.utc).isoformat().replace("+00:00", "Z")

