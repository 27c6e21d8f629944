"""Turning container operation audit on and off for one cluster."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ackaudit.audit.index import bundled_index, merged_with_bundled, missing_keys
from ackaudit.errors import AuthError, CloudError, ExitCode, PreconditionError
from ackaudit.services import retention as retention_svc
from ackaudit.services.cluster import AUDIT_ADDON, LOG_ADDONS, ClusterContext
from ackaudit.services.doctor import FAIL, DoctorReport, run_doctor
from ackaudit.services.waiting import Progress, WaitTimeout, wait_task, wait_until


@dataclass
class EnableResult:
    cluster_id: str
    changed: bool
    already_enabled: bool
    dry_run: bool
    state: str                       # enabled | installing | planned
    plan: list[str] = field(default_factory=list)
    installed: list[dict[str, str]] = field(default_factory=list)
    addon_version: str | None = None
    task_id: str | None = None
    project: str | None = None
    logstore: str | None = None
    ttl: int | None = None
    hot_ttl: int | None = None
    index: str | None = None         # present | created | extended
    retention_changed: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ineligible(report: DoctorReport) -> PreconditionError:
    failing = [c for c in report.checks if c.status == FAIL and c.eligibility]
    lines = "; ".join(f"{c.name}: {c.summary}" for c in failing)
    return PreconditionError(f"cluster {report.cluster_id} cannot be audited: {lines}",
                             hint=f"details: `ackaudit doctor --cluster {report.cluster_id}`; --force tries anyway")


def _install_plan(ctx: ClusterContext) -> list[dict[str, str]]:
    offered = {a.get("name"): a for a in ctx.cloud.ack.list_addons(ctx.cluster_id)}
    addons = []
    if ctx.log_addon is None:
        name = next((n for n in LOG_ADDONS if n in offered), None)
        if name is None:
            raise PreconditionError("no log component is installed or offered for this cluster")
        addons.append({"name": name, "version": offered[name].get("version") or "", "config": ""})
    if AUDIT_ADDON not in offered:
        raise PreconditionError(f"{AUDIT_ADDON} is not offered for this cluster",
                                hint="the feature may need an allow-list ticket for this account")
    addons.append({"name": AUDIT_ADDON, "version": offered[AUDIT_ADDON].get("version") or "", "config": ""})
    return addons


def enable(ctx: ClusterContext, *, retention_days: int | None = None, force: bool = False,
           dry_run: bool = False, wait: bool = True, timeout: float = 600,
           on_progress: Progress = lambda _: None) -> EnableResult:
    result = EnableResult(ctx.cluster_id, changed=False, already_enabled=False, dry_run=dry_run, state="planned")
    audit = ctx.audit_addon
    if audit is not None and str(audit.get("state")).lower() == "active":
        result.already_enabled, result.state, result.addon_version = True, "enabled", audit.get("version")
        _describe_logstore(ctx, result)
        if retention_days is not None and result.ttl != retention_days:
            result.plan.append(f"set retention of {ctx.logstore} to {retention_days} days")
            if not dry_run:
                _set_retention(ctx, retention_days, result)
        return result

    check_later = f"ackaudit status --cluster {ctx.cluster_id}"
    if audit is None:
        on_progress("running preflight checks")
        report = run_doctor(ctx)
        if not report.eligible and not force:
            raise _ineligible(report)
        if report.gaps and not force:
            gap = report.gaps[0]
            kind = AuthError if gap.exit_code == ExitCode.AUTH else CloudError
            raise kind(f"cannot check whether {ctx.cluster_id} can be audited: {gap.message}",
                       hint=f"retry, see `ackaudit doctor --cluster {ctx.cluster_id}`; --force tries anyway")
        addons = _install_plan(ctx)
        result.plan = [f"install {a['name']} {a['version']}".strip() for a in addons]
        result.plan += ["wait for the task and for the addon to become active",
                        f"verify logstore advaudit-{ctx.cluster_id} and its index"]
        if retention_days is not None:
            result.plan.append(f"set retention to {retention_days} days")
        if dry_run:
            return result
        result.task_id = ctx.cloud.ack.install_addons(ctx.cluster_id, addons)
        result.changed, result.installed, result.state = True, addons, "installing"
        if not wait:
            return result
        wait_task(ctx.cloud.ack, result.task_id, timeout=timeout, on_progress=on_progress,
                  what="installing", check_later=check_later)
    elif dry_run:
        result.plan = [f"wait for {AUDIT_ADDON} ({audit.get('state')}) to become active"]
        return result

    def addon_active() -> tuple[bool, str]:
        instance = ctx.cloud.ack.get_addon_instance(ctx.cluster_id, AUDIT_ADDON)
        state = str((instance or {}).get("state") or "not installed yet")
        return state.lower() == "active", f"{AUDIT_ADDON} {state}"

    wait_until(addon_active, timeout=timeout, on_progress=on_progress, what="waiting for the addon",
               check_later=check_later)
    audit = ctx.addons(fresh=True).get(AUDIT_ADDON) or {}
    result.state, result.addon_version = "enabled", audit.get("version")
    _reset_discovery(ctx)
    _verify_logstore(ctx, result, timeout=min(timeout, 120), on_progress=on_progress)
    if retention_days is not None and result.ttl != retention_days:
        _set_retention(ctx, retention_days, result)
    return result


def _reset_discovery(ctx: ClusterContext) -> None:
    # The log component may have just created the ConfigMap that names the project.
    ctx.forget_project()


def _describe_logstore(ctx: ClusterContext, result: EnableResult) -> dict[str, Any] | None:
    project, _ = ctx.project
    config = ctx.cloud.sls.get_logstore(project, ctx.logstore)
    result.project, result.logstore = project, ctx.logstore
    if config is not None:
        result.ttl = config.get("ttl")
        hot = config.get("hot_ttl")
        result.hot_ttl = hot if isinstance(hot, int) and hot > 0 else None
    return config


def _verify_logstore(ctx: ClusterContext, result: EnableResult, *, timeout: float, on_progress: Progress) -> None:
    project, _ = ctx.project

    def exists() -> tuple[bool, str]:
        return ctx.cloud.sls.get_logstore(project, ctx.logstore) is not None, f"logstore {project}/{ctx.logstore}"

    try:
        wait_until(exists, timeout=timeout, on_progress=on_progress, what="waiting for the logstore",
                   check_later=f"ackaudit status --cluster {ctx.cluster_id}")
    except WaitTimeout as exc:  # say plainly what is missing; any other error keeps its class
        raise CloudError(f"{AUDIT_ADDON} is active but logstore {ctx.logstore} does not exist in project "
                         f"{project}", hint="check the log component with `ackaudit doctor`") from exc
    _describe_logstore(ctx, result)
    index = ctx.cloud.sls.get_index(project, ctx.logstore)
    if index is None:
        on_progress(f"creating the index of {ctx.logstore}")
        ctx.cloud.sls.create_index(project, ctx.logstore, bundled_index())
        result.index, result.changed = "created", True
    elif missing_keys(index):
        on_progress(f"adding {len(missing_keys(index))} missing keys to the index of {ctx.logstore}")
        ctx.cloud.sls.update_index(project, ctx.logstore, merged_with_bundled(index))
        result.index, result.changed = "extended", True
    else:
        result.index = "present"


def _set_retention(ctx: ClusterContext, days: int, result: EnableResult) -> None:
    change, config = retention_svc.plan(ctx, days, None)
    retention_svc.apply(ctx, change, config)
    result.ttl, result.hot_ttl = change.after.ttl, change.after.hot_ttl
    result.retention_changed = change.changed
    result.changed = result.changed or change.changed


@dataclass
class PurgeImpact:
    project: str
    logstore: str
    exists: bool
    events: int
    oldest: int | None
    newest: int | None
    complete: bool = True    # False: SLS stayed incomplete, `events` is a lower bound


@dataclass
class DisableResult:
    cluster_id: str
    changed: bool
    already_disabled: bool
    dry_run: bool
    plan: list[str] = field(default_factory=list)
    task_id: str | None = None
    state: str = "disabled"
    logstore_kept: bool = True
    project: str | None = None
    logstore: str | None = None
    purged: bool = False
    alerts_removed: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def purge_impact(ctx: ClusterContext) -> PurgeImpact:
    """What deleting the logstore would lose: how many events, over which time span."""
    project, _ = ctx.project
    config = ctx.cloud.sls.get_logstore(project, ctx.logstore)
    if config is None:
        return PurgeImpact(project, ctx.logstore, False, 0, None, None)
    import time

    now = int(time.time())
    ttl_days = int(config.get("ttl") or 3650)
    from ackaudit.services.investigate import Fetcher, LogstoreSource

    fetcher = Fetcher(LogstoreSource(ctx.cloud.sls, project, ctx.logstore, ctx.cluster_id))
    page = fetcher.complete("* | select count(1) as events, min(__time__) as oldest, max(__time__) as newest",
                            now - ttl_days * 86400 - 86400, now + 60)
    row = page.rows[0] if page.rows else {}

    def num(key: str) -> int | None:
        value = row.get(key)
        return int(float(value)) if value not in (None, "", "null") else None

    return PurgeImpact(project, ctx.logstore, True, num("events") or 0, num("oldest"), num("newest"),
                       complete=page.complete)


def disable(ctx: ClusterContext, *, purge: bool = False, alerts: Any = None,
            dry_run: bool = False, wait: bool = True, timeout: float = 600,
            on_progress: Progress = lambda _: None) -> DisableResult:
    """Uninstall the audit addon only (the log component serves other features). `alerts`: what
    `alerting.plan_removal` found to remove (this cluster's rules and action policies, and the
    templates and webhooks no other cluster's policy uses), or None."""
    project, _ = ctx.project
    result = DisableResult(ctx.cluster_id, changed=False, already_disabled=False, dry_run=dry_run,
                           project=project, logstore=ctx.logstore)
    audit = ctx.audit_addon
    if audit is None:
        result.already_disabled = True
    else:
        result.plan.append(f"uninstall {AUDIT_ADDON} {audit.get('version') or ''}".strip())
    if purge:
        result.plan.append(f"delete logstore {project}/{ctx.logstore} and all its events")
    to_delete = alerts.to_delete if alerts is not None else []
    for state in to_delete:
        result.plan.append(f"delete {state.kind.replace('_', ' ')} {state.id}")
    if dry_run:
        return result

    if audit is not None:
        result.task_id = ctx.cloud.ack.uninstall_addons(ctx.cluster_id, [AUDIT_ADDON])
        result.changed, result.state = True, "uninstalling"
        if wait:
            check_later = f"ackaudit status --cluster {ctx.cluster_id}"
            wait_task(ctx.cloud.ack, result.task_id, timeout=timeout, on_progress=on_progress,
                      what="uninstalling", check_later=check_later)

            def gone() -> tuple[bool, str]:
                instance = ctx.cloud.ack.get_addon_instance(ctx.cluster_id, AUDIT_ADDON)
                return instance is None, f"{AUDIT_ADDON} {(instance or {}).get('state') or 'removed'}"

            wait_until(gone, timeout=timeout, on_progress=on_progress, what="waiting for removal",
                       check_later=check_later)
            result.state = "disabled"
    if to_delete:
        from ackaudit.services.alerting import remove as remove_alerting

        remove_alerting(ctx, alerts)
        result.alerts_removed = [state.id for state in to_delete]
        result.changed = True
    if purge and ctx.cloud.sls.get_logstore(project, ctx.logstore) is not None:
        ctx.cloud.sls.delete_logstore(project, ctx.logstore)
        ctx.forget_project()      # nothing to remember: the logstore is gone
        result.purged, result.logstore_kept, result.changed = True, False, True
    else:
        result.logstore_kept = ctx.cloud.sls.get_logstore(project, ctx.logstore) is not None
    return result
