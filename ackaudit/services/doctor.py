"""Read-only preflight: can this cluster be audited, and is the audit healthy?"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ackaudit.audit.eligibility import cluster_type_name, cluster_type_problem, judge_node
from ackaudit.errors import AckAuditError, Gap, UsageError
from ackaudit.services.cluster import AUDIT_ADDON, LOG_ADDONS, ClusterContext

PASS, WARN, FAIL, UNKNOWN = "pass", "warn", "fail", "unknown"


@dataclass
class Check:
    name: str
    status: str              # pass | warn | fail | unknown (what it needs could not be read)
    summary: str
    evidence: list[str] = field(default_factory=list)
    eligibility: bool = True  # False: a health check, which does not decide eligibility
    fix: str | None = None    # for a failing check: what to do about it
    gap: Gap | None = field(default=None, repr=False)   # for an unknown check: what could not be read


def _unknown(name: str, what: str, exc: AckAuditError, *, eligibility: bool = True,
             evidence: list[str] | None = None) -> Check:
    gap = Gap.of(f"{name}: {what}", exc)
    return Check(name, UNKNOWN, f"{what}: {exc.message}", evidence or [], eligibility, gap=gap)


@dataclass
class DoctorReport:
    cluster_id: str
    name: str
    eligible: bool           # no eligibility check failed (see `complete` for the unknown ones)
    audit_enabled: bool
    healthy: bool
    checks: list[Check]

    @property
    def gaps(self) -> list[Gap]:
        return [c.gap for c in self.checks if c.gap is not None]

    @property
    def complete(self) -> bool:
        return not self.gaps

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for check in data["checks"]:
            check.pop("gap", None)
        data["complete"] = self.complete
        return data


@dataclass
class Coverage:
    total: int
    covered: list[str]
    uncovered: dict[str, str]    # node -> reason


def run_doctor(ctx: ClusterContext) -> DoctorReport:
    detail = ctx.detail
    checks = [_check_type(detail), _check_state(detail)]
    try:
        offered: dict[str, dict[str, Any]] | None = {a.get("name"): a for a in ctx.cloud.ack.list_addons(ctx.cluster_id)}
        offered_error = None
    except AckAuditError as exc:
        offered, offered_error = None, exc
    checks.append(_check_nodes(ctx))
    checks.append(_check_log_component(ctx, offered, offered_error))
    checks.append(_check_offered(offered, offered_error))
    audit = ctx.audit_addon
    if audit is not None:
        checks.append(_check_addon_health(audit, (offered or {}).get(AUDIT_ADDON)))
        checks.append(_check_coverage(ctx))
    eligible = not any(c.status == FAIL for c in checks if c.eligibility)
    healthy = not any(c.status == FAIL for c in checks if not c.eligibility)
    return DoctorReport(ctx.cluster_id, ctx.name, eligible, audit is not None, healthy, checks)


def _check_type(detail: dict[str, Any]) -> Check:
    evidence = [f"cluster_type={detail.get('cluster_type')} profile={detail.get('profile') or '-'} "
                f"spec={detail.get('cluster_spec') or '-'}"]
    problem = cluster_type_problem(detail)
    if problem:
        return Check("cluster type", FAIL, problem, evidence,
                     fix="container operation audit needs an ACK managed cluster (Pro or Basic) or an ACK "
                         "dedicated cluster; run the workloads to audit on one")
    return Check("cluster type", PASS, cluster_type_name(detail), evidence)


def _check_state(detail: dict[str, Any]) -> Check:
    state = detail.get("state") or "unknown"
    status = PASS if state == "running" else FAIL
    return Check("cluster state", status, f"{state}, Kubernetes {detail.get('current_version') or '?'}",
                 fix=None if status == PASS else "wait until the cluster is running (see the ACK console), "
                                                 "then run doctor again")


def _check_nodes(ctx: ClusterContext) -> Check:
    try:
        nodes = ctx.kube_reads.list_nodes()
    except UsageError:
        raise  # a bad --kubeconfig is the caller's to fix, not a fact about the cluster
    except AckAuditError as exc:
        return _unknown("node OS and kernel", "cannot read the nodes", exc,
                        evidence=["pass --kubeconfig if the API server is not reachable from here"])
    if not nodes:
        return Check("node OS and kernel", WARN, "the cluster has no nodes yet")
    verdicts = [judge_node(n.name, n.os_image, n.kernel_version, ctx.version) for n in nodes]
    bad = [v for v in verdicts if not v.ok]
    evidence = [f"{v.node}: {v.os_image}, kernel {v.kernel}" + (f": {v.reason}" if v.reason else "")
                for v in verdicts]
    if bad:
        return Check("node OS and kernel", FAIL, f"{len(bad)} of {len(nodes)} nodes cannot be audited: "
                     + ", ".join(v.node for v in bad), evidence,
                     fix="run the nodes on a supported OS and kernel (Alibaba Cloud Linux 3, ContainerOS, or "
                         "Ubuntu on clusters >= 1.30; kernel newer than 4.19): add such a node pool and move "
                         "the workloads, or upgrade the cluster; --force enables audit on the nodes that qualify")
    return Check("node OS and kernel", PASS, f"all {len(nodes)} nodes are supported", evidence)


def _check_log_component(ctx: ClusterContext, offered: dict[str, Any] | None,
                         offered_error: AckAuditError | None) -> Check:
    installed = ctx.log_addon
    if installed:
        return Check("log component", PASS, f"{installed.get('name')} {installed.get('version') or ''} "
                     f"({installed.get('state') or 'unknown'})".strip())
    if offered is None:
        assert offered_error is not None
        return _unknown("log component", "not installed, and the addons offered cannot be read", offered_error)
    installable = [n for n in LOG_ADDONS if n in offered]
    if installable:
        return Check("log component", WARN, f"not installed; enable will install {installable[0]}")
    return Check("log component", FAIL, "not installed, and no log component is offered for this cluster",
                 fix="install the cluster's log component (logtail-ds or loongcollector) from the ACK console, "
                     "then run doctor again")


def _check_offered(offered: dict[str, Any] | None, offered_error: AckAuditError | None) -> Check:
    if offered is None:
        assert offered_error is not None
        return _unknown("addon offered", "cannot read the addons offered for this cluster", offered_error)
    addon = offered.get(AUDIT_ADDON)
    if addon is None:
        return Check("addon offered", FAIL, f"{AUDIT_ADDON} is not offered for this cluster",
                     ["the feature may need an allow-list ticket for this account"],
                     fix=f"ask Alibaba Cloud support (a ticket) to make {AUDIT_ADDON} available to this account")
    return Check("addon offered", PASS, f"{AUDIT_ADDON} {addon.get('version')} is available")


def _check_addon_health(audit: dict[str, Any], offered: dict[str, Any] | None) -> Check:
    state = str(audit.get("state") or "unknown")
    version = audit.get("version") or "?"
    evidence = []
    if offered and offered.get("version") and offered["version"] != version:
        evidence.append(f"version {offered['version']} is offered")
    status = PASS if state == "active" else (WARN if state in ("updating", "upgrading") else FAIL)
    return Check("addon health", status, f"{AUDIT_ADDON} {version} is {state}", evidence, eligibility=False)


def audit_coverage(ctx: ClusterContext) -> Coverage:
    """Which nodes run a ready audit pod, and why the others do not."""
    nodes = ctx.kube_reads.list_nodes()
    daemonset = next((d for d in ctx.kube_reads.list_daemonsets("kube-system")
                      if AUDIT_ADDON in d.name or any(AUDIT_ADDON in i for i in d.images)), None)
    ready_nodes: set[str] = set()
    if daemonset is not None:
        pods = ctx.kube_reads.list_pods("kube-system")
        ready_nodes = {p.node_name for p in pods if p.ready and p.node_name and p.name.startswith(daemonset.name)}
    covered, uncovered = [], {}
    for node in nodes:
        if node.name in ready_nodes:
            covered.append(node.name)
            continue
        verdict = judge_node(node.name, node.os_image, node.kernel_version, ctx.version)
        if daemonset is None:
            uncovered[node.name] = "no audit DaemonSet in kube-system"
        elif not verdict.ok:
            uncovered[node.name] = verdict.reason or "not supported"
        elif not node.ready:
            uncovered[node.name] = "node is not Ready"
        else:
            uncovered[node.name] = "no ready audit pod on this node"
    return Coverage(len(nodes), covered, uncovered)


def _check_coverage(ctx: ClusterContext) -> Check:
    try:
        coverage = audit_coverage(ctx)
    except AckAuditError as exc:
        return _unknown("node coverage", "cannot read the audit DaemonSet", exc, eligibility=False)
    evidence = [f"{node}: {reason}" for node, reason in coverage.uncovered.items()]
    summary = f"{len(coverage.covered)} of {coverage.total} nodes run a ready audit pod"
    return Check("node coverage", PASS if not coverage.uncovered else FAIL, summary, evidence, eligibility=False)
