"""The audit logstore's retention: read it, and change it without touching anything else."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ackaudit.errors import PreconditionError, UsageError, shown
from ackaudit.services.cluster import ClusterContext

PERMANENT = 3650          # SLS: a TTL of 3650 days means "keep forever"
MIN_HOT_DAYS = 7          # the older documented floor of the hot tier (cloud-apis §4.2: 7 or 30)


@dataclass
class Retention:
    project: str
    logstore: str
    ttl: int
    hot_ttl: int | None
    permanent: bool

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RetentionChange:
    before: Retention
    after: Retention
    changed: bool
    shortens: bool           # data older than the new TTL will be deleted

    def to_json(self) -> dict[str, Any]:
        return {"changed": self.changed, "shortens": self.shortens,
                "before": self.before.to_json(), "after": self.after.to_json()}


def parse_days(text: str) -> int:
    if text.strip().lower() in ("permanent", "forever"):
        return PERMANENT
    try:
        days = int(text)
    except ValueError:
        raise UsageError(f"--days {shown(text)} is not a number of days", hint="1-3650, or 'permanent'") from None
    if not 1 <= days <= PERMANENT:
        raise UsageError(f"--days {days} is out of range", hint="1-3650 days (3650 means permanent)")
    return days


def _config(ctx: ClusterContext) -> tuple[str, dict[str, Any]]:
    project, _ = ctx.project
    config = ctx.cloud.sls.get_logstore(project, ctx.logstore)
    if config is None:
        ctx.ensure_exists()      # an unknown cluster is "not found" (3), a cluster without audit 5
        raise ctx.audit_not_enabled(project)
    return project, config


def _retention(project: str, logstore: str, config: dict[str, Any]) -> Retention:
    ttl = int(config.get("ttl") or 0)
    hot = config.get("hot_ttl")
    hot_ttl = int(hot) if isinstance(hot, int) and hot > 0 else None
    return Retention(project, logstore, ttl, hot_ttl, ttl >= PERMANENT)


def show(ctx: ClusterContext) -> Retention:
    project, config = _config(ctx)
    return _retention(project, ctx.logstore, config)


def plan(ctx: ClusterContext, days: int | None, hot_days: int | None) -> tuple[RetentionChange, dict[str, Any]]:
    project, config = _config(ctx)
    before = _retention(project, ctx.logstore, config)
    ttl = days if days is not None else before.ttl
    hot = hot_days if hot_days is not None else before.hot_ttl
    if hot is not None:
        if hot < MIN_HOT_DAYS:
            raise UsageError(f"--hot-days {hot} is below the minimum of {MIN_HOT_DAYS}")
        if hot > ttl:
            raise UsageError(f"hot storage ({hot} days) cannot be longer than retention ({ttl} days)",
                             hint="lower --hot-days or raise --days")
    after = Retention(project, ctx.logstore, ttl, hot, ttl >= PERMANENT)
    changed = (after.ttl, after.hot_ttl) != (before.ttl, before.hot_ttl)
    return RetentionChange(before, after, changed, after.ttl < before.ttl), config


def apply(ctx: ClusterContext, change: RetentionChange, config: dict[str, Any]) -> None:
    if not change.changed:
        return
    if config.get("ttl") is None:
        raise PreconditionError("the logstore configuration has no ttl; refusing to guess")
    ctx.cloud.sls.set_retention(change.after.project, change.after.logstore, config,
                                ttl=change.after.ttl, hot_ttl=change.after.hot_ttl)
