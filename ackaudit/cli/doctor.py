"""`ackaudit doctor`: read-only preflight."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "doctor", examples=["ackaudit doctor --cluster c1234567890abcdef",
                                      "ackaudit doctor --cluster c1234 --kubeconfig ~/.kube/config -o json"])
    def doctor(
        cluster: ClusterOpt,
        kubeconfig: Annotated[str | None, typer.Option("--kubeconfig", help="Use this kubeconfig instead of "
                                                       "fetching one from ACK.", show_default=False)] = None,
        context: Annotated[str | None, typer.Option("--context", help="Context of --kubeconfig to use.",
                                                    show_default=False)] = None,
    ) -> None:
        """Check whether a cluster can be audited, and whether auditing is healthy (read-only)."""
        not_yet("doctor")
