"""Everything about one cluster's audit in one look."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from ackaudit.errors import AckAuditError, Gap
from ackaudit.services.cluster import ClusterContext
from ackaudit.services.doctor import audit_coverage
from ackaudit.services.investigate import Fetcher, LogstoreSource

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
    complete: bool = True                   # False: some part could not be read (see `gaps`)
    gaps: list[Gap] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["gaps"] = [g.message for g in self.gaps]
        return data

    def missing(self, gap: Gap) -> None:
        """Record a part that could not be read: a problem, and a gap in the answer."""
        self.gaps.append(gap)
        self.problems.append(gap.message)
        self.complete = False


def _addon_summary(ctx: ClusterContext, instance: dict[str, Any] | None,
                   report: StatusReport) -> dict[str, Any] | None:
    if instance is None:
        return None
    summary = {"name": instance.get("name"), "version": instance.get("version"), "state": instance.get("state"),
               "newer_version": None}
    try:
        offered = ctx.cloud.ack.describe_addon(ctx.cluster_id, instance.get("name"))
        if offered.get("version") and offered["version"] != instance.get("version"):
            summary["newer_version"] = offered["version"]
    except AckAuditError as exc:
        report.missing(Gap.of(f"cannot check for a newer {instance.get('name')}", exc))
    return summary


def gather_status(ctx: ClusterContext) -> StatusReport:
    ctx.ensure_exists()
    audit = ctx.audit_addon
    state = "disabled" if audit is None else ("enabled" if str(audit.get("state")).lower() == "active"
                                              else "installing")
    report = StatusReport(ctx.cluster_id, ctx.name, state, None, None, None, None, None, None)
    report.addon = _addon_summary(ctx, audit, report)
    report.log_component = _addon_summary(ctx, ctx.log_addon, report)
    project, source = ctx.project
    report.project, report.project_source = project, source
    if ctx.discovery_gap is not None:
        report.missing(ctx.discovery_gap)
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
        try:
            report.newest_event, complete = _newest_event(ctx, project, int(config.get("ttl") or 3650))
            if not complete:
                report.missing(Gap(f"the newest event in {project}/{ctx.logstore} could not be found: SLS "
                                   "stayed incomplete after retrying"))
        except AckAuditError as exc:
            report.missing(Gap.of("cannot read the newest event", exc))
    if audit is not None:
        try:
            coverage = audit_coverage(ctx)
            report.coverage = {"covered": len(coverage.covered), "total": coverage.total,
                               "uncovered": coverage.uncovered}
            if coverage.uncovered:
                report.problems.append(f"{len(coverage.uncovered)} of {coverage.total} nodes are not audited")
        except AckAuditError as exc:
            report.missing(Gap.of("cannot read node coverage", exc))
    try:
        alerts = ctx.cloud.sls.list_alerts(project)
        names = set(provisioned_alert_names(alerts, ctx.cluster_id))
        report.alerts = [{"name": a["name"], "display_name": a.get("displayName"),
                          "enabled": str(a.get("state", a.get("status", ""))).lower() in ("enabled", "")}
                         for a in alerts if a.get("name") in names]
    except AckAuditError as exc:
        report.missing(Gap.of("cannot list alert rules", exc))
    return report


def _newest_event(ctx: ClusterContext, project: str, ttl_days: int) -> tuple[str | None, bool]:
    """(the newest event's time or None, whether SLS answered completely)."""
    now = int(time.time())
    fetcher = Fetcher(LogstoreSource(ctx.cloud.sls, project, ctx.logstore, ctx.cluster_id))
    page = fetcher.complete("* | select max(__time__) as newest", now - min(ttl_days, 3650) * 86400, now + 60)
    value = page.rows[0].get("newest") if page.rows else None
    if value in (None, "", "null"):
        return None, page.complete
    stamp = datetime.fromtimestamp(int(float(value)), tz=timezone.utc).isoformat().replace("+00:00", "Z")
    return stamp, page.complete

