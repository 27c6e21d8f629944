"""`ackaudit status`."""

from __future__ import annotations

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import ClusterOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "status", examples=["ackaudit status --cluster c1234567890abcdef",
                                      "ackaudit status --cluster c1234 -o json"])
    def status(cluster: ClusterOpt) -> None:
        """Show the addon, the logstore and its retention, node coverage, alerts and the newest event."""
        not_yet("status")
