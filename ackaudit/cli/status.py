"""`ackaudit status`."""

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, ContextOpt, KubeconfigOpt
from ackaudit.errors import ExitCode


def register(app: typer.Typer) -> None:
    @command(app, "status", examples=["ackaudit status --cluster cab2c17507494d8cdae1b9324d1d83793",
                                      "ackaudit status --cluster cab2c17507494d8cdae1b9324d1d83793 -o json"])
    def status(cluster: ClusterOpt, kubeconfig: KubeconfigOpt = None, context: ContextOpt = None) -> None:
        """Show the addon, the logstore and its retention, node coverage, alerts and the newest event.

        Exit code 5 when audit is not enabled (after printing what was found).
        """
        from ackaudit.services.cluster import ClusterContext
        from ackaudit.services.status import gather_status

        report = gather_status(ClusterContext(cloud(), cluster, kubeconfig=kubeconfig, context=context))
        _output.emit(report.to_json(), human=lambda _: _render(report))
        if report.audit_status != "enabled":
            raise typer.Exit(ExitCode.PRECONDITION)


def _addon(summary) -> str:
    if not summary:
        return "not installed"
    text = f"{summary['name']} {summary.get('version') or ''} ({summary.get('state')})"
    if summary.get("newer_version"):
        text += f"; {summary['newer_version']} available"
    return text


def _render(report) -> None:
    logstore = report.logstore or {}
    if logstore.get("exists"):
        store = f"{logstore['name']}: retention {'permanent' if logstore.get('permanent') else str(logstore.get('ttl')) + ' days'}"
        if logstore.get("hot_ttl"):
            store += f", hot storage {logstore['hot_ttl']} days"
    else:
        store = f"{logstore.get('name')}: does not exist"
    coverage = report.coverage
    cover = f"{coverage['covered']} of {coverage['total']} nodes" if coverage else "-"
    alerts = ", ".join(f"{a['name']} ({'on' if a['enabled'] else 'off'})" for a in report.alerts) or "none"
    _output.kv_block([
        ("audit", report.audit_status),
        ("addon", _addon(report.addon)),
        ("log component", _addon(report.log_component)),
        ("project", f"{report.project} (from {report.project_source})"),
        ("logstore", store),
        ("node coverage", cover),
        ("alert rules", alerts),
        ("newest event", report.newest_event or "none"),
    ], title=f"{report.name} ({report.cluster_id})")
    for node, reason in (coverage or {}).get("uncovered", {}).items():
        _output.warn(f"node {node} is not audited: {reason}")
    for problem in report.problems:
        if not problem.endswith("are not audited"):
            _output.warn(problem)
