"""`ackaudit report`."""

from __future__ import annotations

from typing import Annotated

import typer

from ackaudit.cli._globals import command
from ackaudit.cli._options import OptionalClusterOpt, SinceOpt, SourceOpt
from ackaudit.cli._pending import not_yet


def register(app: typer.Typer) -> None:
    @command(app, "report", examples=["ackaudit report --cluster c1234 --since 7d",
                                      "ackaudit report --cluster c1234 --format html --out audit.html"])
    def report(
        cluster: OptionalClusterOpt = None,
        since: SinceOpt = None,
        format_: Annotated[str | None, typer.Option("--format", help="markdown or html (with --out).",
                                                    show_default=False)] = None,
        out: Annotated[str | None, typer.Option("--out", help="Write the report to this file.",
                                                show_default=False)] = None,
        source: SourceOpt = None,
    ) -> None:
        """Summarise who entered which containers and what they ran: in the terminal or as a file."""
        not_yet("report")
