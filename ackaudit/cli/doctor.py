"""`ackaudit doctor`: read-only preflight."""

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import AllowPartialOpt, ClusterOpt, ContextOpt, KubeconfigOpt
from ackaudit.errors import ExitCode

MARKS = {"pass": "[green]✓[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✗[/red]",
         "unknown": "[yellow]?[/yellow]"}


def register(app: typer.Typer) -> None:
    @command(app, "doctor", examples=["ackaudit doctor --cluster ca8f76e5f6f08086c69e95897faba0ff7",
                                      "ackaudit doctor --cluster ca8f76e5f6f08086c69e95897faba0ff7 --kubeconfig ~/.kube/config -o json"])
    def doctor(cluster: ClusterOpt, kubeconfig: KubeconfigOpt = None, context: ContextOpt = None,
               allow_partial: AllowPartialOpt = False) -> None:
        """Check whether a cluster can be audited, and whether auditing is healthy (read-only).

        Exit code 0 when the cluster is eligible (and, if audit is on, healthy), 5 when it is not
        eligible, 1 when audit is on but unhealthy. A check whose data cannot be read is unknown
        (?): exit 1, or 4 if the read was refused, unless --allow-partial.
        """
        from ackaudit.services.cluster import ClusterContext
        from ackaudit.services.doctor import run_doctor

        report = run_doctor(ClusterContext(cloud(), cluster, kubeconfig=kubeconfig, context=context))
        _output.emit(report.to_json(), human=lambda console: _render(console, report))
        if not report.eligible:
            _explain_ineligible(report)
            raise typer.Exit(ExitCode.PRECONDITION)
        _output.finish_partial(report.gaps, allow_partial, what=f"the check of {cluster}")
        if not report.healthy:
            raise typer.Exit(ExitCode.FAILED)


def _render(console, report) -> None:
    from rich.text import Text

    from ackaudit.cli._output import styled

    console.print(styled((report.name, "bold"), f" ({report.cluster_id})"))
    for check in report.checks:
        console.print(Text.assemble("  ", Text.from_markup(MARKS[check.status]),
                                    styled(f" {check.name}: {check.summary}")))
        for line in check.evidence:
            console.print(styled((f"      {line}", "dim")))
    if not report.eligible:
        verdict = "NOT eligible for container operation audit"
    elif not report.complete:
        verdict = "eligibility not fully checked: some checks could not be read (?)"
    else:
        verdict = "eligible for container operation audit"
    console.print(f"\n{verdict}" + ("" if report.healthy else "; audit is enabled but unhealthy"))
    if report.eligible and report.complete and not report.audit_enabled:
        console.print(f"next: `ackaudit enable --cluster {report.cluster_id}`")


def _explain_ineligible(report) -> None:
    """Why the cluster cannot be audited and what to do, on stderr (also with -o json)."""
    failing = [c for c in report.checks if c.status == "fail" and c.eligibility]
    _output.error(f"cluster {report.cluster_id} cannot be audited: "
                  + "; ".join(f"{c.name}: {c.summary}" for c in failing))
    for check in failing:
        if check.fix:
            _output.info(f"to fix {check.name}: {check.fix}")

