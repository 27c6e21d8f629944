"""What the cluster's alert rules did: their evaluations in the SLS alert history.

SLS writes one row per evaluation of a rule to the logstore `internal-alert-history` of the
account's project `sls-alert-<account id>-<region>` (fields documented in "Fields in alert rule
evaluation logs": AlertName, Fired, NotifyStatus, Reason, Results...). The account id is the
`owner` of the cluster's log project. For a new-version rule the service documents NotifyStatus as
"handed to the alert management system", not as the final delivery (the sandbox reports the
delivery itself).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from ackaudit.audit.query import any_of, term
from ackaudit.audit.timeparse import iso
from ackaudit.errors import AckAuditError, ApiError
from ackaudit.services.alert_definitions import load_definitions
from ackaudit.services.alert_objects import rule_name
from ackaudit.services.cluster import ClusterContext

HISTORY_LOGSTORE = "internal-alert-history"
_PAGE = 100
_INCOMPLETE_RETRIES = 5


@dataclass
class Evaluation:
    time: str
    timestamp: int
    rule: str
    fired: bool
    status: str               # AlertStatus: firing, inactive, pending, error, paused
    results: int              # rows the query returned
    notify_status: str        # Success, Failed, PartialSuccess, NotNotified
    reason: str
    start: int | None = None  # the window the query covered
    end: int | None = None
    raw: list[dict[str, Any]] = field(default_factory=list, repr=False)   # the rows (not in the output)

    @property
    def delivered(self) -> bool:
        return self.notify_status in ("Success", "PartialSuccess")

    def to_json(self) -> dict[str, Any]:
        return {"time": self.time, "rule": self.rule, "fired": self.fired, "status": self.status,
                "results": self.results, "notify_status": self.notify_status, "delivered": self.delivered,
                "reason": self.reason, "window": [iso(self.start), iso(self.end)] if self.start and self.end else None}

    def mentions(self, value: str) -> bool:
        return any(value in row.values() for row in self.raw)


@dataclass
class HistoryResult:
    cluster_id: str
    project: str
    logstore: str
    since: int
    until: int
    evaluations: list[Evaluation]
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"cluster_id": self.cluster_id, "project": self.project, "logstore": self.logstore,
                "since": iso(self.since), "until": iso(self.until), "note": self.note,
                "fired": sum(e.fired for e in self.evaluations),
                "evaluations": [e.to_json() for e in self.evaluations]}


def history_project(ctx: ClusterContext) -> str:
    owner = ctx.cloud.sls.get_project(ctx.project[0]).get("owner")
    if not owner:
        raise AckAuditError(f"SLS does not say which account owns {ctx.project[0]}",
                            hint="the alert history lives in project sls-alert-<account id>-<region>")
    return f"sls-alert-{owner}-{ctx.cloud.region}"


def rule_names(cluster_id: str) -> list[str]:
    return [rule_name(cluster_id, r) for r in load_definitions().rules]


def _evaluation(row: dict[str, str]) -> Evaluation:
    try:
        results = json.loads(row.get("Results") or "[]")
    except ValueError:
        results = []
    first = results[0] if isinstance(results, list) and results and isinstance(results[0], dict) else {}
    raw = [r for r in first.get("RawResults") or [] if isinstance(r, dict)]
    stamp = int(row.get("__time__") or 0)
    count = first.get("RawResultCount", len(raw))
    return Evaluation(iso(stamp), stamp, row.get("AlertName", ""), row.get("Fired") == "true",
                      row.get("AlertStatus", ""), int(count) if str(count).isdigit() else len(raw),
                      row.get("NotifyStatus", ""), row.get("Reason", ""),
                      first.get("StartTimeTs"), first.get("EndTimeTs"), raw)


def read(ctx: ClusterContext, since: int, until: int, *, rules: list[str] | None = None) -> HistoryResult:
    """Every evaluation of this cluster's rules in [since, until), oldest first."""
    ctx.ensure_exists()
    project = history_project(ctx)
    names = rules or rule_names(ctx.cluster_id)
    query = any_of([term("AlertName", n) for n in names])
    rows: list[dict[str, str]] = []
    try:
        while True:
            page = _complete_page(ctx, project, query, since, until, len(rows))
            rows += page
            if len(page) < _PAGE:
                break
    except ApiError as exc:
        if exc.code in ("ProjectNotExist", "LogStoreNotExist"):
            return HistoryResult(ctx.cluster_id, project, HISTORY_LOGSTORE, since, until, [],
                                 note=f"no alert rule has been evaluated yet: {project}/{HISTORY_LOGSTORE} "
                                      "does not exist")
        raise
    evaluations = sorted((_evaluation(r) for r in rows if r.get("AlertName") in names), key=lambda e: e.timestamp)
    return HistoryResult(ctx.cluster_id, project, HISTORY_LOGSTORE, since, until, evaluations)


def _complete_page(ctx: ClusterContext, project: str, query: str, since: int, until: int,
                   offset: int) -> list[dict[str, str]]:
    for attempt in range(_INCOMPLETE_RETRIES):
        page = ctx.cloud.sls.get_logs(project, HISTORY_LOGSTORE, query, since, until, offset=offset, line=_PAGE)
        if page.complete:
            return page.rows
        time.sleep(0.5 * (attempt + 1))
    raise AckAuditError(f"SLS kept answering incompletely for {project}/{HISTORY_LOGSTORE}",
                        hint="retry in a moment, or narrow --since")
