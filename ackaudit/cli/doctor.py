"""`ackaudit doctor`: read-only preflight."""

import typer

from ackaudit.cli import _output
from ackaudit.cli._context import cloud
from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt, ContextOpt, KubeconfigOpt
from ackaudit.errors import ExitCode

MARKS = {"pass": "[green]✓[/green]", "warn": "[yellow]![/yellow]", "fail": "[red]✗[/red]"}


def register(app: typer.Typer) -> None:
    @command(app, "doctor", examples=["ackaudit doctor --cluster ca8f76e5f6f08086c69e95897faba0ff7",
                                      "ackaudit doctor --cluster ca8f76e5f6f08086c69e95897faba0ff7 --kubeconfig ~/.kube/config -o json"])
    def doctor(cluster: ClusterOpt, kubeconfig: KubeconfigOpt = None, context: ContextOpt = None) -> None:
        """Check whether a cluster can be audited, and whether auditing is healthy (read-only).

        Exit code 0 when the cluster is eligible (and, if audit is on, healthy), 5 when it is not
        eligible, 1 when audit is on but unhealthy.
        """
        from ackaudit.services.cluster import ClusterContext
        from ackaudit.services.doctor import run_doctor

        report = run_doctor(ClusterContext(cloud(), cluster, kubeconfig=kubeconfig, context=context))
        _output.emit(report.to_json(), human=lambda console: _render(console, report))
        if not report.eligible:
            raise typer.Exit(ExitCode.PRECONDITION)
        if not report.healthy:
            raise typer.Exit(ExitCode.FAILED)


def _render(console, report) -> None:
    from rich.markup import escape

    console.print(f"[bold]{escape(report.name)}[/bold] ({report.cluster_id})")
    for check in report.checks:
        console.print(f"  {MARKS[check.status]} {escape(check.name)}: {escape(check.summary)}")
        for line in check.evidence:
            console.print(f"      [dim]{escape(line)}[/dim]")
    verdict = "eligible for container operation audit" if report.eligible else "NOT eligible"
    console.print(f"\n{verdict}" + ("" if report.healthy else "; audit is enabled but unhealthy"))

