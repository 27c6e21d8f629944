"""`ackaudit status`."""

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import AllowPartialOpt, ClusterOpt, ContextOpt, KubeconfigOpt
from ackaudit.errors import ExitCode


def register(app: typer.Typer) -> None:
    @command(app, "status", examples=["ackaudit status --cluster cab2c17507494d8cdae1b9324d1d83793",
                                      "ackaudit status --cluster cab2c17507494d8cdae1b9324d1d83793 -o json"])
    def status(cluster: ClusterOpt, kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
               allow_partial: AllowPartialOpt = False) -> None:
        """Show the addon, the logstore and its retention, node coverage, alerts and the newest event.

        Exit code 5 when audit is not enabled or still installing (after printing what was found);
        1 (4 if a read was refused) when some part could not be read, unless --allow-partial.
        """
        from ackaudit.services.cluster import ClusterContext
        from ackaudit.services.status import gather_status

        ctx = ClusterContext(cloud(), cluster, kubeconfig=kubeconfig, context=context)
        report = gather_status(ctx)
        _output.emit(report.to_json(), human=lambda _: _render(report))
        if report.audit_status == "disabled":
            for gap in report.gaps:
                _output.warn(gap.message)
            problem = ctx.eligibility_problem()
            if problem:
                _output.error(f"audit is not enabled on {cluster}, and this cluster cannot be audited: {problem}",
                              hint=f"see every check with `ackaudit doctor --cluster {cluster}`")
            else:
                _output.error(f"audit is not enabled on {cluster}",
                              hint=f"enable it with `ackaudit enable --cluster {cluster}` (check first with "
                                   f"`ackaudit doctor --cluster {cluster}`)")
            raise typer.Exit(ExitCode.PRECONDITION)
        if report.audit_status != "enabled":
            for gap in report.gaps:
                _output.warn(gap.message)
            state = (report.addon or {}).get("state") or report.audit_status
            _output.error(f"audit is not active yet on {cluster}: ack-advanced-audit is {state}",
                          hint=f"check again in a minute with `ackaudit status --cluster {cluster}`, or wait "
                               f"for it with `ackaudit enable --cluster {cluster}`")
            raise typer.Exit(ExitCode.PRECONDITION)
        _output.finish_partial(report.gaps, allow_partial, what=f"the status of {cluster}")


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
        ("newest event", report.newest_event or ("unknown" if any("newest event" in g.message for g in report.gaps)
                                                 else "none")),
    ], title=f"{report.name} ({report.cluster_id})")
    for node, reason in (coverage or {}).get("uncovered", {}).items():
        _output.warn(f"node {node} is not audited: {reason}")
    for problem in report.problems:
        if not problem.endswith("are not audited"):
            _output.warn(problem)
